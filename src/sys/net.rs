//! libc calls for the measurement tools (`fanoutd-load`, `fanoutd-floor`): a non-blocking
//! connect from a chosen local address, a clock every process on the machine shares, and the
//! process's own CPU time.
//!
//! Kept apart from the server's calls (`sys/mod.rs`, `sys/process.rs`) because nothing in the
//! server path uses them. Self-contained on purpose (no `super::` items), so the tools can
//! also include this file by path while the `pub mod net;` line is not in `sys/mod.rs`.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::FromRawFd;

/// Starts a non-blocking TCP connect to `remote`, first binding the socket to `local` (port
/// chosen by the kernel) when given. Returns as soon as the connect is under way
/// (`EINPROGRESS`); the caller learns the outcome from the first writable event (mio:
/// `take_error` then `peer_addr`).
///
/// Why bind: one source address gives a client about 28k ephemeral ports towards one server
/// port; every address of 127.0.0.0/8 is local on Linux, so spreading sockets over
/// 127.0.0.2..=127.0.0.254 lifts that limit. `IP_BIND_ADDRESS_NO_PORT` (Linux >= 4.2) defers
/// the port choice to connect(2), so a port is reserved per 4-tuple rather than per bind;
/// where the option is unknown the bind still works, with a port reserved at bind time.
pub fn connect_nonblocking(remote: SocketAddr, local: Option<IpAddr>) -> io::Result<TcpStream> {
    let family = match remote {
        SocketAddr::V4(_) => libc::AF_INET,
        SocketAddr::V6(_) => libc::AF_INET6,
    };
    // SAFETY: plain socket(2) call; the result is checked before use.
    let fd = unsafe {
        libc::socket(
            family,
            libc::SOCK_STREAM | libc::SOCK_NONBLOCK | libc::SOCK_CLOEXEC,
            0,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: `fd` is a socket we just created and own; TcpStream takes ownership and closes
    // it on drop, including on the error paths below.
    let stream = unsafe { TcpStream::from_raw_fd(fd) };

    if let Some(ip) = local {
        if ip.is_ipv4() == remote.is_ipv4() {
            let one: libc::c_int = 1;
            // SAFETY: `one` outlives the call and its size is passed. A failure (old kernel)
            // is ignored on purpose: see the function doc.
            let _ = unsafe {
                libc::setsockopt(
                    fd,
                    libc::IPPROTO_IP,
                    libc::IP_BIND_ADDRESS_NO_PORT,
                    &one as *const libc::c_int as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            let (storage, len) = sockaddr(SocketAddr::new(ip, 0));
            // SAFETY: `storage` holds a valid sockaddr of length `len` for this family.
            let rc = unsafe { libc::bind(fd, &storage as *const _ as *const libc::sockaddr, len) };
            if rc != 0 {
                return Err(io::Error::last_os_error());
            }
        }
    }

    let (storage, len) = sockaddr(remote);
    // SAFETY: `storage` holds a valid sockaddr of length `len` for this family.
    let rc = unsafe { libc::connect(fd, &storage as *const _ as *const libc::sockaddr, len) };
    if rc != 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(err);
        }
    }
    Ok(stream)
}

fn sockaddr(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: sockaddr_storage is plain old data; all-zero is a valid value.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    match addr {
        SocketAddr::V4(a) => {
            let sin = libc::sockaddr_in {
                sin_family: libc::AF_INET as libc::sa_family_t,
                sin_port: a.port().to_be(),
                sin_addr: libc::in_addr {
                    s_addr: u32::from_ne_bytes(a.ip().octets()),
                },
                sin_zero: [0; 8],
            };
            // SAFETY: sockaddr_in fits in sockaddr_storage, which is suitably aligned.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in, sin) };
            (
                storage,
                std::mem::size_of::<libc::sockaddr_in>() as libc::socklen_t,
            )
        }
        SocketAddr::V6(a) => {
            let sin6 = libc::sockaddr_in6 {
                sin6_family: libc::AF_INET6 as libc::sa_family_t,
                sin6_port: a.port().to_be(),
                sin6_flowinfo: a.flowinfo(),
                sin6_addr: libc::in6_addr {
                    s6_addr: a.ip().octets(),
                },
                sin6_scope_id: a.scope_id(),
            };
            // SAFETY: sockaddr_in6 fits in sockaddr_storage, which is suitably aligned.
            unsafe { std::ptr::write(&mut storage as *mut _ as *mut libc::sockaddr_in6, sin6) };
            (
                storage,
                std::mem::size_of::<libc::sockaddr_in6>() as libc::socklen_t,
            )
        }
    }
}

/// `CLOCK_MONOTONIC` in nanoseconds: the clock `std::time::Instant` reads on Linux, but as a
/// number, so that a timestamp written by one process (the floor, a publisher thread) can be
/// compared with this clock read in another process on the same machine.
pub fn monotonic_ns() -> u64 {
    let mut ts = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `ts` is a valid out-pointer; CLOCK_MONOTONIC always exists on Linux.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_MONOTONIC, &mut ts) };
    if rc != 0 {
        return 0;
    }
    (ts.tv_sec.max(0) as u64) * 1_000_000_000 + ts.tv_nsec.max(0) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn monotonic_clock_moves_forward() {
        let a = monotonic_ns();
        let b = monotonic_ns();
        assert!(a > 0 && b >= a);
    }

    #[test]
    fn connect_from_a_loopback_address() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let remote = listener.local_addr().unwrap();
        let stream = connect_nonblocking(remote, Some("127.0.0.7".parse().unwrap())).unwrap();
        let (_, peer) = listener.accept().unwrap();
        assert_eq!(peer.ip(), "127.0.0.7".parse::<IpAddr>().unwrap());
        drop(stream);
    }
}
