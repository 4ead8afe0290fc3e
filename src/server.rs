//! Start-up and shutdown: binds the listeners, starts one reactor per core and the metrics
//! thread, and stops them gracefully.
//!
//! One process per public port: the reactors' listeners share the port through
//! `SO_REUSEPORT`, which the kernel would also let a second fanoutd of the same user join —
//! splitting new connections between two servers that know nothing of each other's
//! subscribers. So a server first claims its port ([`PortLock`]); a second claim, from this
//! process or another, fails with an "address in use" error that names host and port. A
//! server on port 0 claims the port the kernel chose for it (the kernel never lets a bind to
//! port 0 join an existing `SO_REUSEPORT` group, so servers on port 0 never conflict).

use std::io;
use std::net::{SocketAddr, TcpListener as StdListener};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::Instant;

use mio::{Poll, Waker};

use crate::adapter::{Adapter, Local};
use crate::apps::{AppStore, Apps, StaticStore};
use crate::config::{AdapterDriver, Config};
use crate::directory::{Directory, Discard, TransitionSink};
use crate::metrics::listener::{MetricsServer, MetricsState};
use crate::metrics::stats::Stats;
use crate::reactor::inbox::{Command, Inbox};
use crate::reactor::{token, Reactor};
use crate::session::{Service, Shared};
use crate::sys::{PortLock, SparePool};

/// Listen backlog of each reactor's listener.
const BACKLOG: i32 = 4096;

/// Entry point of the library: `Server::start(config)`.
pub struct Server;

/// Makes an app store (see [`Options::store`]).
pub type StoreFactory = Box<dyn FnOnce(&Config, Arc<Apps>) -> Arc<dyn AppStore> + Send>;

/// Parts of a server that are not settings. Each `None` is the default.
#[derive(Default)]
pub struct Options {
    /// Makes the store apps are looked up in, given the configuration and the node's app
    /// registry (where the store registers every app it finds). Default: the static store
    /// built from `config.apps`.
    pub store: Option<StoreFactory>,
    /// Where the directory's transitions go; default: nowhere ([`Discard`]).
    pub transitions: Option<Arc<dyn TransitionSink>>,
}

/// A running server.
pub struct ServerHandle {
    addr: SocketAddr,
    metrics_addr: SocketAddr,
    shared: Arc<Shared>,
    reactors: Vec<JoinHandle<io::Result<()>>>,
    metrics: Option<MetricsServer>,
    /// Held until the server is dropped (after its listeners are closed).
    _port_lock: PortLock,
}

impl Server {
    /// Binds every listener and starts the reactors and the metrics thread.
    pub fn start(config: Config) -> io::Result<ServerHandle> {
        Server::start_with(config, Options::default())
    }

    /// [`Server::start`] with parts chosen by the caller (see [`Options`]).
    pub fn start_with(config: Config, mut options: Options) -> io::Result<ServerHandle> {
        let n = config.reactors.clamp(1, 256);
        let apps = Arc::new(Apps::new());
        let store: Arc<dyn AppStore> = match options.store.take() {
            Some(make) => make(&config, apps.clone()),
            None => Arc::new(StaticStore::new(&config.apps, &apps)),
        };
        let stats = Arc::new(Stats::new(n, apps.len()));
        let wanted = SocketAddr::new(config.host, config.port);
        let early_lock = match config.port {
            0 => None,
            port => Some(claim_port(wanted, port)?),
        };
        // The first listener fixes the port (which may have been 0); the others share it.
        let first = crate::sys::reuseport_listener(wanted, BACKLOG)?;
        let addr = first.local_addr()?;
        let port_lock = match early_lock {
            Some(lock) => lock,
            None => claim_port(addr, addr.port())?,
        };
        let mut listeners = vec![first];
        for _ in 1..n {
            listeners.push(crate::sys::reuseport_listener(addr, BACKLOG)?);
        }
        let metrics_listener =
            StdListener::bind(SocketAddr::new(config.metrics.host, config.metrics.port))?;
        let metrics_addr = metrics_listener.local_addr()?;
        let mut polls = Vec::with_capacity(n);
        let mut inboxes = Vec::with_capacity(n);
        for _ in 0..n {
            let poll = Poll::new()?;
            let waker = Waker::new(poll.registry(), token::WAKER)?;
            inboxes.push(Inbox::new(waker));
            polls.push(poll);
        }
        let inboxes: Arc<[Inbox]> = inboxes.into();
        let (lister, list_jobs) = crate::session::listing::channel();
        // One spare descriptor per reactor and one for the metrics listener, shared by all.
        let spares = Arc::new(SparePool::new(n + 1));
        let closing = Arc::new(AtomicBool::new(false));
        let public_port = addr.port();
        let (adapter, subscriber): (Arc<dyn Adapter>, _) = match config.adapter.driver {
            AdapterDriver::Local => (Arc::new(Local), None),
            AdapterDriver::Redis => {
                let (redis, subscriber) =
                    crate::adapter::redis::Redis::start(&config.adapter, stats.clone())?;
                (Arc::new(redis), Some(subscriber))
            }
        };
        let shared = Arc::new(Shared {
            directory: Directory::new(
                inboxes.clone(),
                options
                    .transitions
                    .take()
                    .unwrap_or_else(|| Arc::new(Discard)),
            ),
            apps,
            store,
            inboxes,
            stats: stats.clone(),
            closing: closing.clone(),
            started: Instant::now(),
            node_id: crate::conn::new_node_id(crate::sys::random_seed()),
            service: Service::Public,
            pending_body_bytes: Default::default(),
            lister: Some(lister),
            adapter,
            config,
        });
        if let Some(subscriber) = subscriber {
            subscriber.spawn(Arc::downgrade(&shared))?;
        }
        crate::session::listing::spawn(list_jobs, Arc::downgrade(&shared))?;
        // Everything the server holds is open before the reactors start taking connections
        // (which, in a storm, may use every descriptor left).
        let state = Arc::new(MetricsState {
            stats,
            apps: shared.apps.clone(),
            port: if shared.config.port == 0 {
                public_port
            } else {
                shared.config.port
            },
            config: shared.config.metrics.clone(),
            request_timeout_ms: shared.config.http.request_timeout_ms,
            closing,
            start_time_seconds: crate::metrics::process::start_time_seconds(),
        });
        let metrics = MetricsServer::spawn(metrics_listener, state, spares.clone())?;
        let mut reactors = Vec::with_capacity(n);
        for (i, (poll, listener)) in polls.into_iter().zip(listeners).enumerate() {
            listener.set_nonblocking(true)?;
            let listener = mio::net::TcpListener::from_std(listener);
            let shared = shared.clone();
            let spares = spares.clone();
            let handle = std::thread::Builder::new()
                .name(format!("fanoutd-reactor-{i}"))
                .spawn(move || Reactor::new(i as u8, poll, listener, shared, spares).run())?;
            reactors.push(handle);
        }
        Ok(ServerHandle {
            addr,
            metrics_addr,
            shared,
            reactors,
            metrics: Some(metrics),
            _port_lock: port_lock,
        })
    }
}

/// Claims `port` for this server; an "address in use" error naming `addr` when another
/// server (in this process or another) already holds it.
fn claim_port(addr: SocketAddr, port: u16) -> io::Result<PortLock> {
    PortLock::claim(port).map_err(|e| {
        if e.kind() == io::ErrorKind::AddrInUse {
            io::Error::new(
                io::ErrorKind::AddrInUse,
                format!(
                    "address in use: {addr} — another fanoutd already serves port {port} on \
                     this host; a second one would split the connections with it"
                ),
            )
        } else {
            io::Error::new(e.kind(), format!("claiming port {port} ({addr}): {e}"))
        }
    })
}

impl ServerHandle {
    /// The public address (WebSocket + HTTP API).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The metrics listener's address.
    pub fn metrics_addr(&self) -> SocketAddr {
        self.metrics_addr
    }

    /// Starts the graceful shutdown without waiting: `/ready` turns 503, every socket gets
    /// `pusher:error` 4200 and a close, new sockets are refused with 4200.
    pub fn begin_shutdown(&self) {
        if !self.shared.closing.swap(true, Ordering::SeqCst) {
            for inbox in self.shared.inboxes.iter() {
                inbox.push(Command::Shutdown);
            }
        }
    }

    /// Shuts down gracefully and waits: the reactors exit once their sockets are closed, or
    /// when the grace period ends.
    pub fn shutdown(mut self) -> io::Result<()> {
        self.begin_shutdown();
        let mut result = Ok(());
        for r in self.reactors.drain(..) {
            match r.join() {
                Ok(Ok(())) => {}
                Ok(Err(e)) => result = Err(e),
                Err(_) => result = Err(io::Error::other("a reactor thread panicked")),
            }
        }
        if let Some(m) = self.metrics.take() {
            m.stop();
        }
        result
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if !self.reactors.is_empty() {
            self.begin_shutdown();
            for r in self.reactors.drain(..) {
                let _ = r.join();
            }
        }
        if let Some(m) = self.metrics.take() {
            m.stop();
        }
    }
}
