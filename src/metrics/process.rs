//! The standard `process_*` values, and the memory figures of `/usage` and `/accept-traffic`.
//!
//! Sources (Linux): CPU from `getrusage(RUSAGE_SELF)` (µs resolution, all threads);
//! resident and virtual memory and the thread count from one read of `/proc/self/stat`
//! (parsed after the **last** `)`, because the command name may contain spaces and
//! parentheses); limits from `getrlimit`; open fds from the size of `/proc/self/fd`, which
//! Linux ≥ 6.2 reports as the fd count without opening anything (older kernels: the
//! directory is listed, minus the descriptor the listing itself holds). The start time is
//! computed once, at start-up, from `/proc/self/stat` starttime and `/proc/stat` btime.
//!
//! A snapshot costs a few syscalls and one small file read, whatever the number of
//! connections (on Linux ≥ 6.2). The libc calls live in [`crate::sys::process`].
//!
//! soketi's process families (`{prefix}process_*`, written with soketi 1.x names only, see
//! docs/compat.md, `soketi-process-metrics`) add the user / system CPU split (the same
//! `getrusage` call) and `process_heap_bytes`. Linux has no "heap size" of a process that is
//! not an allocator's own figure; prom-client, which soketi uses, reports `VmData` from
//! `/proc/self/status` (private writable mappings: the malloc heap and arenas, thread stacks,
//! other anonymous memory; address space, not resident memory), and so does fanoutd
//! ([`heap_bytes`]), so a soketi alert on it keeps its meaning. It is read only when those
//! families are written.
//!
//! `process_virtual_memory_max_bytes` is left out of the exposition when `RLIMIT_AS` is
//! unlimited ([`ProcessSnapshot::virtual_max_bytes`] is `None`): the client-library
//! guideline prefers a missing metric to a bogus value (client_golang would export
//! `1.8446744073709552e+19`).

use std::fs;
use std::io::{self, Read};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::sys::process as sys;

/// Process figures at one instant, as exported by the `process_*` families.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct ProcessSnapshot {
    /// User + system CPU time, seconds.
    pub cpu_seconds: f64,
    /// User CPU time, seconds.
    pub cpu_user_seconds: f64,
    /// System CPU time, seconds.
    pub cpu_system_seconds: f64,
    pub resident_bytes: u64,
    pub virtual_bytes: u64,
    /// Soft `RLIMIT_AS`; `None` when unlimited (the family is then left out).
    pub virtual_max_bytes: Option<u64>,
    pub open_fds: u64,
    /// Soft `RLIMIT_NOFILE`.
    pub max_fds: u64,
    /// Unix time, seconds (computed once by [`start_time_seconds`]).
    pub start_time_seconds: f64,
    pub threads: u64,
    /// `VmData` ([`heap_bytes`]); `None` when not read (only soketi's families need it) or
    /// unavailable, and then the family is left out.
    pub heap_bytes: Option<u64>,
}

/// The fields of `/proc/self/stat` this module uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StatFields {
    /// Field 20.
    pub num_threads: u64,
    /// Field 22, clock ticks since boot.
    pub starttime_ticks: u64,
    /// Field 23, bytes.
    pub vsize_bytes: u64,
    /// Field 24, pages.
    pub rss_pages: u64,
}

/// Parses a `/proc/<pid>/stat` line. The command name (field 2) is in parentheses and may
/// itself contain spaces and `)`, so fields are counted from after the **last** `)`.
pub fn parse_stat(line: &str) -> Option<StatFields> {
    let rest = &line[line.rfind(')')? + 1..];
    // rest[0] is field 3 (state); field N is rest[N - 3].
    let mut fields = rest.split_ascii_whitespace();
    let mut nth = |skip: usize| fields.nth(skip);
    let num_threads = nth(17)?.parse().ok()?; // field 20
    let starttime_ticks = nth(1)?.parse().ok()?; // field 22
    let vsize_bytes = nth(0)?.parse().ok()?; // field 23
                                             // rss is signed in the kernel's format; a negative value would be a kernel bug.
    let rss_pages = nth(0)?.parse::<i64>().ok()?.max(0) as u64; // field 24
    Some(StatFields {
        num_threads,
        starttime_ticks,
        vsize_bytes,
        rss_pages,
    })
}

/// Reads a small `/proc` file into `buf` without allocating.
fn read_small<'b>(path: &str, buf: &'b mut [u8]) -> io::Result<&'b str> {
    let mut f = fs::File::open(path)?;
    let mut len = 0;
    while len < buf.len() {
        match f.read(&mut buf[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    std::str::from_utf8(&buf[..len]).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn self_stat() -> Option<StatFields> {
    // The line is at most a few hundred bytes (52 numeric fields + a 15-byte name).
    let mut buf = [0u8; 2048];
    parse_stat(read_small("/proc/self/stat", &mut buf).ok()?)
}

/// Number of open file descriptors of this process, or `None` if `/proc` is unavailable.
pub fn open_fds() -> Option<u64> {
    fd_dir_size().or_else(count_fd_entries)
}

/// Linux >= 6.2: the size of `/proc/self/fd` is the fd count, and `stat` opens nothing.
/// Older kernels report 0 (`None` here).
fn fd_dir_size() -> Option<u64> {
    let len = fs::metadata("/proc/self/fd").ok()?.len();
    (len > 0).then_some(len)
}

/// Any kernel: list `/proc/self/fd`; the listing's own descriptor is one of the entries.
fn count_fd_entries() -> Option<u64> {
    let n = fs::read_dir("/proc/self/fd").ok()?.count() as u64;
    Some(n.saturating_sub(1))
}

/// Reads the process figures now. `start_time_seconds` is the value computed once at
/// start-up by [`start_time_seconds`]. Anything that cannot be read is 0.
pub fn snapshot(start_time_seconds: f64) -> ProcessSnapshot {
    let stat = self_stat().unwrap_or_default();
    let cpu = sys::cpu_times_micros().unwrap_or_default();
    // Whole microseconds, divided once, so a value prints as e.g. 0.116628.
    let seconds = |us: u64| us as f64 / 1e6;
    ProcessSnapshot {
        cpu_seconds: seconds(cpu.user + cpu.system),
        cpu_user_seconds: seconds(cpu.user),
        cpu_system_seconds: seconds(cpu.system),
        resident_bytes: stat.rss_pages.saturating_mul(sys::page_size()),
        virtual_bytes: stat.vsize_bytes,
        virtual_max_bytes: sys::max_address_space().ok().flatten(),
        open_fds: open_fds().unwrap_or(0),
        max_fds: sys::max_fds().ok().flatten().unwrap_or(u64::MAX),
        start_time_seconds,
        threads: stat.num_threads,
        heap_bytes: None,
    }
}

/// The `VmData:` line of `/proc/<pid>/status`, in bytes (the file says kB).
pub fn parse_vm_data(status: &str) -> Option<u64> {
    let v = status.lines().find_map(|l| l.strip_prefix("VmData:"))?;
    let kb: u64 = v.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb.saturating_mul(1024))
}

/// This process' `VmData` in bytes: what prom-client (and so soketi) exports as
/// `process_heap_bytes` on Linux. See the module doc for what it counts.
pub fn heap_bytes() -> Option<u64> {
    // /proc/self/status is about 1.5 kB.
    let mut buf = [0u8; 8192];
    parse_vm_data(read_small("/proc/self/status", &mut buf).ok()?)
}

/// The `btime` (boot time, unix seconds) line of `/proc/stat`.
pub fn parse_btime(proc_stat: &str) -> Option<u64> {
    proc_stat
        .lines()
        .find_map(|l| l.strip_prefix("btime "))
        .and_then(|v| v.trim().parse().ok())
}

/// When this process started, in unix seconds: boot time plus the process' start in clock
/// ticks since boot. Call once at start-up and keep the value (`btime` is derived from the
/// wall clock, so recomputing it later could move). Falls back to "now" without `/proc`.
pub fn start_time_seconds() -> f64 {
    let from_proc = || -> Option<f64> {
        let btime = parse_btime(&fs::read_to_string("/proc/stat").ok()?)?;
        let ticks = self_stat()?.starttime_ticks;
        Some(btime as f64 + ticks as f64 / sys::clock_ticks_per_second() as f64)
    };
    from_proc().unwrap_or_else(|| {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64())
    })
}

/// Memory figures of soketi's `/usage` and `/accept-traffic`, in bytes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct MemoryUsage {
    /// This process' resident memory.
    pub used: u64,
    /// The memory this process may use: the cgroup limit when there is one below the
    /// machine's memory, else `MemTotal`.
    pub total: u64,
    /// `total - used` (0 if over).
    pub free: u64,
    /// `used / total * 100` (0 when `total` is unknown).
    pub percent: f64,
}

impl MemoryUsage {
    /// Derives `free` and `percent` from `used` and `total`.
    pub fn new(used: u64, total: u64) -> MemoryUsage {
        let percent = if total == 0 {
            0.0
        } else {
            used as f64 / total as f64 * 100.0
        };
        MemoryUsage {
            used,
            total,
            free: total.saturating_sub(used),
            percent,
        }
    }
}

/// `MemTotal` of `/proc/meminfo`, in bytes.
pub fn parse_mem_total(meminfo: &str) -> Option<u64> {
    let v = meminfo.lines().find_map(|l| l.strip_prefix("MemTotal:"))?;
    let kb: u64 = v.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb.saturating_mul(1024))
}

/// A cgroup memory limit file's content: a number, or `max` (no limit, `None`).
pub fn parse_cgroup_limit(text: &str) -> Option<u64> {
    text.trim().parse().ok()
}

/// The cgroup v2 path of this process, from the `0::<path>` line of `/proc/self/cgroup`.
fn cgroup_v2_path(proc_self_cgroup: &str) -> Option<&str> {
    proc_self_cgroup
        .lines()
        .find_map(|l| l.strip_prefix("0::"))
        .map(str::trim)
        .filter(|p| p.starts_with('/') && *p != "/" && !p.contains(".."))
}

fn cgroup_memory_limit() -> Option<u64> {
    let mut candidates = Vec::with_capacity(3);
    if let Ok(own) = fs::read_to_string("/proc/self/cgroup") {
        if let Some(p) = cgroup_v2_path(&own) {
            candidates.push(format!("/sys/fs/cgroup{p}/memory.max"));
        }
    }
    // Inside a container with its own cgroup namespace the mount root is our cgroup.
    candidates.push("/sys/fs/cgroup/memory.max".to_owned());
    candidates.push("/sys/fs/cgroup/memory/memory.limit_in_bytes".to_owned());
    candidates
        .iter()
        .find_map(|p| parse_cgroup_limit(&fs::read_to_string(p).ok()?))
}

/// The process' memory use against its limit (cgroup limit, else physical memory).
pub fn memory_usage() -> MemoryUsage {
    let used = self_stat().map_or(0, |s| s.rss_pages.saturating_mul(sys::page_size()));
    let mem_total = fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|m| parse_mem_total(&m));
    // cgroup v1 reports "no limit" as a huge number: never claim more than the machine has.
    let total = match (cgroup_memory_limit(), mem_total) {
        (Some(c), Some(m)) => c.min(m),
        (Some(c), None) => c,
        (None, Some(m)) => m,
        (None, None) => 0,
    };
    MemoryUsage::new(used, total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stat_parses_after_the_last_paren() {
        // Observed format, with a command name holding spaces and parentheses.
        let line = "25328 (weird (name) x) R 25296 25296 2398 0 -1 4194304 118 0 0 0 7 3 0 0 \
                    20 0 5 0 48691 3026944 493 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 \
                    17 1 0 0 0 0 0\n";
        let s = parse_stat(line).unwrap();
        assert_eq!(
            s,
            StatFields {
                num_threads: 5,
                starttime_ticks: 48691,
                vsize_bytes: 3026944,
                rss_pages: 493,
            }
        );
        assert_eq!(parse_stat("1 (x) R 2 3"), None);
        assert_eq!(parse_stat("no paren at all"), None);
        assert_eq!(parse_stat(""), None);
    }

    #[test]
    fn proc_text_parsers() {
        assert_eq!(
            parse_btime("cpu  1 2 3\nbtime 1700000000\nprocesses 5\n"),
            Some(1700000000)
        );
        assert_eq!(parse_btime("cpu 1\n"), None);
        assert_eq!(
            parse_mem_total("MemTotal:       24684092 kB\nMemFree: 1 kB\n"),
            Some(24684092 * 1024)
        );
        assert_eq!(
            parse_vm_data("VmSize:\t  10 kB\nVmData:\t    2580 kB\nVmStk: 1 kB\n"),
            Some(2580 * 1024)
        );
        assert_eq!(parse_vm_data("VmSize: 10 kB\n"), None);
        assert_eq!(parse_cgroup_limit("max\n"), None);
        assert_eq!(parse_cgroup_limit("536870912\n"), Some(536870912));
        assert_eq!(
            cgroup_v2_path("0::/system.slice/x.service\n"),
            Some("/system.slice/x.service")
        );
        assert_eq!(cgroup_v2_path("0::/\n"), None);
        assert_eq!(cgroup_v2_path("4:memory:/a\n"), None);
        let m = MemoryUsage::new(25, 100);
        assert_eq!((m.free, m.percent), (75, 25.0));
        let m = MemoryUsage::new(200, 100);
        assert_eq!(m.free, 0);
        assert_eq!(MemoryUsage::new(1, 0).percent, 0.0);
    }

    #[test]
    fn snapshot_is_plausible() {
        let start = start_time_seconds();
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!(
            start <= now + 1.0 && start > now - 3600.0,
            "start {start}, now {now}"
        );
        let s = snapshot(start);
        assert!(
            s.resident_bytes > 1 << 20 && s.resident_bytes < 10 << 30,
            "rss {}",
            s.resident_bytes
        );
        assert!(s.virtual_bytes >= s.resident_bytes);
        assert!(s.max_fds > 0);
        assert!(s.open_fds >= 3 && s.open_fds <= s.max_fds, "{s:?}");
        assert!(s.threads >= 1);
        assert!(s.cpu_user_seconds + s.cpu_system_seconds <= s.cpu_seconds + 1e-6);
        assert!(s.cpu_user_seconds >= 0.0 && s.cpu_system_seconds >= 0.0);
        assert_eq!(s.heap_bytes, None);
        let heap = heap_bytes().unwrap();
        assert!(heap > 0 && heap <= s.virtual_bytes, "heap {heap}, {s:?}");
        assert!(s.cpu_seconds >= 0.0 && s.cpu_seconds.is_finite());
        assert_eq!(s.start_time_seconds, start);
        let later = snapshot(start);
        assert!(later.cpu_seconds >= s.cpu_seconds);

        let m = memory_usage();
        assert!(m.used > 1 << 20 && m.total >= m.used, "{m:?}");
        assert!(m.percent > 0.0 && m.percent <= 100.0);
        assert_eq!(m.free, m.total - m.used);
    }

    #[test]
    fn open_fds_counts_every_descriptor() {
        const EXTRA: u64 = 2000;
        let base = open_fds().unwrap();
        let limit = sys::raise_fd_limit(base + EXTRA + 256).unwrap();
        assert!(
            limit >= base + EXTRA + 64,
            "fd limit {limit} too low for the test"
        );
        // Other tests in this binary open and close sockets meanwhile: a round counts only
        // if it saw no such noise (the same count before and after); one must be exact.
        let mut last = String::new();
        for _ in 0..10 {
            let before = open_fds().unwrap();
            let files: Vec<fs::File> = (0..EXTRA)
                .map(|_| fs::File::open("/dev/null").unwrap())
                .collect();
            let during = open_fds().unwrap();
            let snap = snapshot(0.0).open_fds;
            let listed = count_fd_entries();
            drop(files);
            let after = open_fds().unwrap();
            last = format!(
                "before {before}, with {EXTRA} more {during} / {snap} / listed {listed:?}, \
                 after {after}"
            );
            let quiet = before == after && during == snap;
            // Both ways of counting agree (the listing is the pre-6.2 fallback).
            if quiet
                && during.checked_sub(before) == Some(EXTRA)
                && (listed.is_none() || listed == Some(during))
            {
                return;
            }
        }
        panic!("never a quiet round: {last}");
    }
}
