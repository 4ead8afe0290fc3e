//! Every call into libc lives here (and in `sys/process.rs`): the only `unsafe` in the crate.
//!
//! What is here: the `SO_REUSEPORT` listener each reactor owns, the per-port lock that keeps
//! a second process off that port ([`PortLock`]), the spare descriptor a reactor spends to
//! answer a connection at the open-files limit ([`SpareFd`]), the open-files limit, the
//! signal mask the main thread waits on, and a random seed from the kernel. Each `unsafe`
//! block says why it is sound (`// SAFETY:`).
#![allow(unsafe_code)]

pub mod net;
pub mod process;

use std::fs::File;
use std::io;
use std::net::{SocketAddr, TcpListener};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::os::linux::net::SocketAddrExt;
use std::os::unix::net::{SocketAddr as UnixAddr, UnixDatagram};

/// A claim on a public TCP port, held for as long as a server serves it: a Unix datagram
/// socket bound to the abstract name `fanoutd/port/<port>`.
///
/// Why: every reactor's listener sets `SO_REUSEPORT`, and the kernel lets any socket of the
/// same user join that group, so a second fanoutd on the same port would start and split the
/// new connections with the first. The claim is taken before the listeners are bound, and a
/// second claim on the same port fails with `AddrInUse`, in this process or any other.
///
/// Why an abstract socket rather than a lock file: binding the name is atomic, the name
/// vanishes with its socket (also when the process is killed: no stale lock), it needs no
/// writable directory, and its scope is the network namespace — exactly the scope of TCP
/// ports, so servers in separate containers never collide while two in one do. The claim
/// names the port only, not the address: the kernel would refuse a wildcard and a specific
/// address on one port without `SO_REUSEPORT` too, and one fanoutd per port per host (per
/// network namespace) is the rule operators expect. Nobody can connect to a datagram socket,
/// so the claim accepts nothing.
pub struct PortLock {
    _sock: UnixDatagram,
}

impl PortLock {
    /// Claims `port`; `Err` of kind `AddrInUse` when it is already claimed.
    pub fn claim(port: u16) -> io::Result<PortLock> {
        let name = format!("fanoutd/port/{port}");
        let addr = UnixAddr::from_abstract_name(name.as_bytes())?;
        Ok(PortLock {
            _sock: UnixDatagram::bind_addr(&addr)?,
        })
    }
}

/// Descriptors kept in reserve (`/dev/null`, read-only, close-on-exec), shared by the
/// reactors of one server, so that a reactor that meets `EMFILE` / `ENFILE` on `accept` can
/// release one, accept the pending connection into the freed slot, answer it and close it,
/// then take the spare back — instead of leaving the client in the backlog with no answer.
/// (The idea is libuv's `reserved fd`.)
///
/// Why shared rather than one per reactor: descriptors belong to the process, so between
/// the release and the `accept` another thread's `accept` (or any `open`) may take the freed
/// slot. The spare is then gone until some descriptor is closed, and a reactor whose only
/// spare was gone would leave its share of the connections waiting again. From a shared
/// pool any reactor may spend any spare, so only a pool emptied by such races leaves
/// connections waiting; and every reactor refills it ([`SparePool::refill`]) as soon as a
/// descriptor frees up.
pub struct SparePool {
    spares: parking_lot::Mutex<Vec<File>>,
    /// How many spares the pool keeps.
    want: usize,
    /// `want` minus the spares held, read without the lock by [`SparePool::refill`].
    short: std::sync::atomic::AtomicUsize,
}

impl SparePool {
    /// A pool of `want` spares (fewer if `/dev/null` cannot be opened that often).
    pub fn new(want: usize) -> SparePool {
        let pool = SparePool {
            spares: parking_lot::Mutex::new(Vec::with_capacity(want)),
            want,
            short: std::sync::atomic::AtomicUsize::new(want),
        };
        pool.refill();
        pool
    }

    /// Runs `use_slot` with one spare closed, so that it can use the freed slot, then takes
    /// the spare back. `None` (without running it) when no spare is held and none can be
    /// opened. The pool stays locked throughout, so reactors at the limit take turns and
    /// never take each other's freed slots.
    pub fn with_one_released<R>(&self, use_slot: impl FnOnce() -> R) -> Option<R> {
        use std::sync::atomic::Ordering::Relaxed;
        let mut spares = self.spares.lock();
        let spare = spares.pop().or_else(|| File::open("/dev/null").ok())?;
        drop(spare);
        let r = use_slot();
        if let Ok(f) = File::open("/dev/null") {
            spares.push(f);
        }
        self.short
            .store(self.want.saturating_sub(spares.len()), Relaxed);
        Some(r)
    }

    /// Opens the spares missing from the pool, if any (one atomic load when none is).
    pub fn refill(&self) {
        use std::sync::atomic::Ordering::Relaxed;
        if self.short.load(Relaxed) == 0 {
            return;
        }
        let mut spares = self.spares.lock();
        while spares.len() < self.want {
            match File::open("/dev/null") {
                Ok(f) => spares.push(f),
                Err(_) => break,
            }
        }
        self.short.store(self.want - spares.len(), Relaxed);
    }

    /// Spares held now.
    pub fn held(&self) -> usize {
        self.spares.lock().len()
    }
}

/// One descriptor kept in reserve by one owner (see [`SparePool`]): the metrics listener
/// lends it to one connection it then serves at the limit.
pub struct SpareFd(Option<File>);

impl SpareFd {
    /// A spare, held if `/dev/null` could be opened.
    pub fn open() -> SpareFd {
        SpareFd(File::open("/dev/null").ok())
    }

    /// `true` while the descriptor is held.
    pub fn held(&self) -> bool {
        self.0.is_some()
    }

    /// Closes the descriptor; `true` if one was held (a slot is now free).
    pub fn release(&mut self) -> bool {
        self.0.take().is_some()
    }

    /// Takes the descriptor back if it is not held; `true` if it is held afterwards.
    pub fn restore(&mut self) -> bool {
        if self.0.is_none() {
            self.0 = File::open("/dev/null").ok();
        }
        self.0.is_some()
    }
}

/// Opens a non-blocking TCP listener on `addr` with `SO_REUSEADDR` and `SO_REUSEPORT`, so
/// that every reactor can own a listener on the same port and the kernel spreads incoming
/// connections over them.
pub fn reuseport_listener(addr: SocketAddr, backlog: i32) -> io::Result<TcpListener> {
    let fd = stream_socket(addr)?;
    let raw = fd.as_raw_fd();
    let one: libc::c_int = 1;
    for opt in [libc::SO_REUSEADDR, libc::SO_REUSEPORT] {
        // SAFETY: `one` outlives the call and its size is passed.
        let rc = unsafe {
            libc::setsockopt(
                raw,
                libc::SOL_SOCKET,
                opt,
                &one as *const libc::c_int as *const libc::c_void,
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            )
        };
        if rc != 0 {
            return Err(io::Error::last_os_error());
        }
    }
    bind(raw, addr)?;
    // SAFETY: listen(2) on our own socket.
    if unsafe { libc::listen(raw, backlog) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(TcpListener::from(fd))
}

/// A new non-blocking, close-on-exec TCP socket of `addr`'s family.
fn stream_socket(addr: SocketAddr) -> io::Result<OwnedFd> {
    let family = match addr {
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
    // SAFETY: `fd` is a socket we just created and own; OwnedFd closes it on drop, including
    // on the callers' error paths.
    Ok(unsafe { OwnedFd::from_raw_fd(fd) })
}

/// bind(2) of socket `fd` to `addr`.
fn bind(fd: RawFd, addr: SocketAddr) -> io::Result<()> {
    let (storage, len) = sockaddr_from(addr);
    // SAFETY: `storage` holds a valid sockaddr of length `len` for this family.
    let rc = unsafe { libc::bind(fd, &storage as *const _ as *const libc::sockaddr, len) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

fn sockaddr_from(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
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

/// Raises the soft open-files limit to the hard limit; returns the new soft limit.
pub fn raise_nofile_limit() -> io::Result<u64> {
    process::raise_fd_limit(u64::MAX)
}

/// The signals that stop the server gracefully.
const STOP_SIGNALS: [libc::c_int; 3] = [libc::SIGINT, libc::SIGTERM, libc::SIGHUP];

fn stop_sigset() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data; sigemptyset initialises it before use.
    let mut set: libc::sigset_t = unsafe { std::mem::zeroed() };
    // SAFETY: `set` is a valid sigset_t.
    unsafe {
        libc::sigemptyset(&mut set);
        for s in STOP_SIGNALS {
            libc::sigaddset(&mut set, s);
        }
    }
    set
}

/// Blocks SIGINT, SIGTERM and SIGHUP in the calling thread (and every thread it spawns
/// afterwards), so that [`wait_for_stop_signal`] can take them synchronously.
pub fn block_stop_signals() -> io::Result<()> {
    let set = stop_sigset();
    // SAFETY: `set` is initialised; a null old-set pointer is allowed.
    let rc = unsafe { libc::pthread_sigmask(libc::SIG_BLOCK, &set, std::ptr::null_mut()) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(())
}

/// Waits until SIGINT, SIGTERM or SIGHUP arrives; returns its number.
pub fn wait_for_stop_signal() -> io::Result<i32> {
    let set = stop_sigset();
    let mut sig: libc::c_int = 0;
    // SAFETY: `set` is initialised and `sig` is a valid out-pointer.
    let rc = unsafe { libc::sigwait(&set, &mut sig) };
    if rc != 0 {
        return Err(io::Error::from_raw_os_error(rc));
    }
    Ok(sig)
}

/// 64 random bits from the kernel (getrandom(2)); falls back to the clock and the address
/// of a stack variable if the call fails.
pub fn random_seed() -> u64 {
    let mut buf = [0u8; 8];
    // SAFETY: `buf` is valid for 8 bytes of writes.
    let n = unsafe { libc::getrandom(buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
    if n == 8 {
        return u64::from_ne_bytes(buf);
    }
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    t ^ (&buf as *const _ as u64)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_port_is_claimed_once_and_free_again_when_dropped() {
        // A port number no test server uses: claims are names, not sockets on the port.
        let first = PortLock::claim(1).unwrap();
        let second = PortLock::claim(1).err().expect("a second claim fails");
        assert_eq!(second.kind(), io::ErrorKind::AddrInUse);
        let other = PortLock::claim(2).unwrap();
        drop(first);
        let _again = PortLock::claim(1).unwrap();
        drop(other);
    }

    #[test]
    fn the_spare_pool_lends_a_slot_and_takes_the_spare_back() {
        let pool = SparePool::new(2);
        assert_eq!(pool.held(), 2);
        let inside = pool.with_one_released(|| File::open("/dev/null").unwrap());
        assert!(inside.is_some());
        assert_eq!(pool.held(), 2);
    }
}
