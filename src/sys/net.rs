//! libc calls for the measurement tools (`fanoutd-load`, `fanoutd-floor`, the workspace member
//! in `benches/load/`, which has no `unsafe` of its own): a non-blocking connect from a chosen
//! local address, and a clock every process on the machine shares.
//!
//! Kept apart from the server's calls (`sys/mod.rs`, `sys/process.rs`) because nothing in the
//! server path uses them; socket creation and addresses are shared with `sys/mod.rs`.

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::os::fd::AsRawFd;

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
    let fd = super::stream_socket(remote)?;
    let raw = fd.as_raw_fd();
    if let Some(ip) = local {
        if ip.is_ipv4() == remote.is_ipv4() {
            let one: libc::c_int = 1;
            // SAFETY: `one` outlives the call and its size is passed. A failure (old kernel)
            // is ignored on purpose: see the function doc.
            let _ = unsafe {
                libc::setsockopt(
                    raw,
                    libc::IPPROTO_IP,
                    libc::IP_BIND_ADDRESS_NO_PORT,
                    &one as *const libc::c_int as *const libc::c_void,
                    std::mem::size_of::<libc::c_int>() as libc::socklen_t,
                )
            };
            super::bind(raw, SocketAddr::new(ip, 0))?;
        }
    }
    let (storage, len) = super::sockaddr_from(remote);
    // SAFETY: `storage` holds a valid sockaddr of length `len` for this family.
    let rc = unsafe { libc::connect(raw, &storage as *const _ as *const libc::sockaddr, len) };
    if rc != 0 {
        let err = io::Error::last_os_error();
        if err.raw_os_error() != Some(libc::EINPROGRESS) {
            return Err(err);
        }
    }
    Ok(TcpStream::from(fd))
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
