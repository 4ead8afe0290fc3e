//! libc calls about the process itself: CPU time, resource limits, page size, clock ticks.
//!
//! This file holds every `unsafe` block the metrics module needs (`unsafe` lives only in
//! `sys`); the `/proc` parsing that uses these values is safe code in `metrics::process`. Each
//! wrapper returns plain numbers or an `io::Error` built from `errno`.

use std::io;

/// A soft resource limit; `None` means unlimited (`RLIM_INFINITY`).
pub type SoftLimit = Option<u64>;

/// User + system CPU time of the whole process (all threads, including exited ones), in
/// microseconds, from `getrusage(RUSAGE_SELF)` (the resolution Node reports).
pub fn cpu_micros() -> io::Result<u64> {
    cpu_times_micros().map(|t| t.user + t.system)
}

/// CPU time of the whole process split into user and system time, in microseconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct CpuMicros {
    pub user: u64,
    pub system: u64,
}

/// [`CpuMicros`] from one `getrusage(RUSAGE_SELF)` call (all threads, exited ones too).
pub fn cpu_times_micros() -> io::Result<CpuMicros> {
    // SAFETY: `rusage` is a plain C struct for which all-zero bytes are a valid value.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `ru` is a valid, writable `rusage`; getrusage only writes into it.
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    let micros =
        |tv: libc::timeval| (tv.tv_sec.max(0) as u64) * 1_000_000 + tv.tv_usec.max(0) as u64;
    Ok(CpuMicros {
        user: micros(ru.ru_utime),
        system: micros(ru.ru_stime),
    })
}

#[derive(Clone, Copy)]
enum Resource {
    OpenFiles,
    AddressSpace,
}

fn rlimit(resource: Resource) -> io::Result<libc::rlimit> {
    // The constants' C type differs between libcs (glibc: unsigned, musl: int); let the
    // compiler infer it rather than naming it.
    let resource = match resource {
        Resource::OpenFiles => libc::RLIMIT_NOFILE,
        Resource::AddressSpace => libc::RLIMIT_AS,
    };
    let mut lim = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `lim` is a valid, writable `rlimit`; getrlimit only writes into it.
    let rc = unsafe { libc::getrlimit(resource, &mut lim) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(lim)
}

// `rlim_t` is `u64` on 64-bit Linux but not on every target: keep the casts.
#[allow(clippy::unnecessary_cast)]
fn soft(lim: libc::rlimit) -> SoftLimit {
    if lim.rlim_cur == libc::RLIM_INFINITY {
        None
    } else {
        Some(lim.rlim_cur as u64)
    }
}

/// Soft limit on open file descriptors (`RLIMIT_NOFILE`), what `ulimit -n` shows.
pub fn max_fds() -> io::Result<SoftLimit> {
    rlimit(Resource::OpenFiles).map(soft)
}

/// Soft limit on the address space in bytes (`RLIMIT_AS`); usually unlimited.
pub fn max_address_space() -> io::Result<SoftLimit> {
    rlimit(Resource::AddressSpace).map(soft)
}

/// Raises the soft `RLIMIT_NOFILE` towards `want` (never above the hard limit, never
/// lowering it) and returns the soft limit in force afterwards. A server calls this at
/// start-up so that one connection per fd is not capped at a distribution's default 1024.
#[allow(clippy::unnecessary_cast)]
pub fn raise_fd_limit(want: u64) -> io::Result<u64> {
    let mut lim = rlimit(Resource::OpenFiles)?;
    let cur = lim.rlim_cur as u64;
    let max = lim.rlim_max as u64;
    if lim.rlim_cur == libc::RLIM_INFINITY || cur >= want {
        return Ok(cur);
    }
    let target = if lim.rlim_max == libc::RLIM_INFINITY {
        want
    } else {
        want.min(max)
    };
    if target <= cur {
        return Ok(cur);
    }
    lim.rlim_cur = target as libc::rlim_t;
    // SAFETY: `lim` is a valid, initialised `rlimit`; setrlimit only reads it.
    let rc = unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &lim) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(target)
}

fn sysconf(name: libc::c_int) -> Option<u64> {
    // SAFETY: sysconf takes a plain integer and touches no memory of ours.
    let v = unsafe { libc::sysconf(name) };
    if v > 0 {
        Some(v as u64)
    } else {
        None
    }
}

/// Bytes per page (`sysconf(_SC_PAGESIZE)`), for the page counts in `/proc/self/stat`.
pub fn page_size() -> u64 {
    sysconf(libc::_SC_PAGESIZE).unwrap_or(4096)
}

/// Clock ticks per second (`sysconf(_SC_CLK_TCK)`), the unit of `/proc/self/stat` times.
pub fn clock_ticks_per_second() -> u64 {
    sysconf(libc::_SC_CLK_TCK).unwrap_or(100)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_and_constants_are_sane() {
        assert!(cpu_micros().is_ok());
        let t = cpu_times_micros().unwrap();
        assert!(t.user + t.system <= cpu_micros().unwrap());
        assert!(max_fds().unwrap().unwrap_or(u64::MAX) > 0);
        let _ = max_address_space().unwrap();
        assert!(page_size().is_power_of_two());
        assert!(clock_ticks_per_second() > 0);
        let cur = max_fds().unwrap().unwrap_or(u64::MAX);
        // Asking for less than the current limit never lowers it.
        assert_eq!(raise_fd_limit(1).unwrap(), cur);
    }
}
