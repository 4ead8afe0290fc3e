//! Reads another process's figures from `/proc` (the server under test, or the floor):
//! resident memory, CPU time in clock ticks, and the same CPU time in nanoseconds from the
//! scheduler.
//!
//! - RSS: `VmRSS` of `/proc/<pid>/status` (kB), and its anonymous part `RssAnon`.
//! - CPU: utime + stime, fields 14 and 15 of `/proc/<pid>/stat` (counted after the last `)`,
//!   since the command name may hold spaces), in ticks of `sysconf(_SC_CLK_TCK)` — 10 ms at
//!   the usual 100 Hz, too coarse for a 5-second run at a few hundred deliveries per second.
//! - CPU, fine: the first field of `/proc/<pid>/task/<tid>/schedstat` (ns on CPU), summed
//!   over the threads alive at the time of reading. Threads that exited are missed, which is
//!   fine for a server whose threads live as long as it does.

use std::fs;
use std::io;

#[derive(Clone, Copy, Debug, Default)]
pub struct ProcSample {
    pub rss_bytes: u64,
    /// The anonymous part of the RSS (heap, stacks): RSS less the code and file pages a
    /// process faults in once, whatever its number of connections.
    pub rss_anon_bytes: u64,
    pub cpu_ticks: u64,
    /// Sum of the threads' schedstat run times; `None` without schedstats in the kernel.
    pub sched_ns: Option<u64>,
    pub threads: u64,
}

impl ProcSample {
    /// utime + stime in microseconds.
    pub fn cpu_us(&self) -> u64 {
        self.cpu_ticks * 1_000_000 / fanoutd::sys::process::clock_ticks_per_second()
    }
}

/// CPU spent between two samples, microseconds: from schedstat when both samples have it
/// (ns resolution), from the tick counts otherwise. The second value says which.
pub fn cpu_delta_us(a: &ProcSample, b: &ProcSample) -> (f64, &'static str) {
    match (a.sched_ns, b.sched_ns) {
        (Some(x), Some(y)) if y >= x => ((y - x) as f64 / 1000.0, "schedstat"),
        _ => (b.cpu_us().saturating_sub(a.cpu_us()) as f64, "utime+stime"),
    }
}

pub fn sample(pid: u32) -> io::Result<ProcSample> {
    let stat = fs::read_to_string(format!("/proc/{pid}/stat"))?;
    let rest = stat
        .rfind(')')
        .map(|i| &stat[i + 1..])
        .ok_or_else(|| io::Error::other("malformed stat"))?;
    // rest's first field is field 3 (state); field N is index N - 3.
    let fields: Vec<&str> = rest.split_ascii_whitespace().collect();
    let field = |n: usize| -> u64 { fields.get(n - 3).and_then(|f| f.parse().ok()).unwrap_or(0) };
    let cpu_ticks = field(14) + field(15);
    let threads = field(20);
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    // A zombie (exited, not yet reaped) still has a stat file but no VmRSS: not a sample.
    let rss_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_ascii_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .ok_or_else(|| io::Error::other(format!("process {pid} has exited")))?;
    let anon_kb = status
        .lines()
        .find_map(|l| l.strip_prefix("RssAnon:"))
        .and_then(|v| v.split_ascii_whitespace().next())
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(0);
    Ok(ProcSample {
        rss_bytes: rss_kb * 1024,
        rss_anon_bytes: anon_kb * 1024,
        cpu_ticks,
        sched_ns: sched_ns(pid),
        threads,
    })
}

fn sched_ns(pid: u32) -> Option<u64> {
    let mut total = 0u64;
    for entry in fs::read_dir(format!("/proc/{pid}/task")).ok()? {
        let path = entry.ok()?.path().join("schedstat");
        let text = fs::read_to_string(path).ok()?;
        total += text.split_ascii_whitespace().next()?.parse::<u64>().ok()?;
    }
    Some(total)
}

/// This process's resident memory, bytes.
pub fn self_rss_bytes() -> u64 {
    self_sample().rss_bytes
}

/// A sample of this process (zeros if `/proc` cannot be read).
pub fn self_sample() -> ProcSample {
    sample(std::process::id()).unwrap_or_default()
}

/// Kernel slab memory of the whole machine (`Slab:` of `/proc/meminfo`), bytes: socket,
/// epoll and file structures live there, for both ends of a loopback connection.
pub fn kernel_slab_bytes() -> Option<u64> {
    let text = fs::read_to_string("/proc/meminfo").ok()?;
    let kb = text
        .lines()
        .find_map(|l| l.strip_prefix("Slab:"))?
        .split_ascii_whitespace()
        .next()?
        .parse::<u64>()
        .ok()?;
    Some(kb * 1024)
}
