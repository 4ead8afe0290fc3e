//! The session layer: the Pusher protocol's decisions, over one reactor's state.
//!
//! A [`Context`] is everything a reactor's connections share that is not I/O: the slab of
//! connections, their pending output, the local channel registry, the signed-in users,
//! and the reactor's counters — plus the [`Shared`] state of the node. The reactor
//! ([`crate::reactor`]) reads sockets and hands the bytes to [`Context::process`]; what they
//! mean is decided here, in [`websocket`] (the handshake, subscribe, presence, sign-in, client
//! events), [`http1`] (request framing, keep-alive, responses) and [`rest`] (the routes and
//! the Pusher HTTP API). Output is appended to each connection's [`Outbox`] and marked dirty;
//! the reactor flushes it. Nothing here touches a socket, so the decisions are unit-tested
//! without one (`tests.rs`).

/// A debug line on stderr when `DEBUG` is on (docs/compat.md, `debug-log`): connections
/// opened and closed (with the close code), subscriptions, auth failures. Off, it costs one
/// `bool` test at the call site and formats nothing; the call sites are per connection or
/// per subscription, never per delivered message.
macro_rules! debug_log {
    ($ctx:expr, $($arg:tt)*) => {
        if $ctx.shared.config.debug {
            $crate::session::write_debug_line(format_args!($($arg)*));
        }
    };
}

/// Writes one debug line to stderr in a single write, so that lines from different reactors
/// do not interleave.
#[cold]
pub(crate) fn write_debug_line(args: std::fmt::Arguments<'_>) {
    use std::io::Write;
    let line = format!("fanoutd: debug: {args}\n");
    let _ = std::io::stderr().lock().write_all(line.as_bytes());
}

pub(crate) mod http1;
pub mod listing;
use http1::Req;
mod rest;
mod websocket;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::apps::{Answer, AppStore, Apps, Waiter};
use crate::channels::Channels;
use crate::config::Config;
use crate::conn::{flags, AppLookup, Conn, Phase, SocketRef, Sub};
use crate::directory::{Directory, ReactorSet};
use crate::fanout::{self, BufPool, Outbox, Sink};
use crate::metrics::stats::{AppCounter, ReactorCounter, ReactorStats, Stats};
use crate::pusher::channel::SERVER_TO_USER_PREFIX;
use crate::pusher::error::Close;
use crate::reactor::inbox::{self, Command, Inbox};
use crate::ws;

/// What a reactor's HTTP connections are for.
pub enum Service {
    /// The public port: WebSocket, the health routes, the Pusher HTTP API.
    Public,
    /// The private metrics port: `/metrics`, `/`, `/ready`, `/usage`; at most
    /// `max_connections` open at once (more are answered 503 and closed).
    Metrics {
        state: Arc<crate::metrics::listener::MetricsState>,
        max_connections: usize,
    },
}

/// State shared by all reactors (and the metrics thread). Immutable after start-up except
/// through interior mutability designed for it (directory locks, inboxes, atomics).
pub struct Shared {
    pub config: Config,
    /// Every app the node has seen, by dense index.
    pub apps: Arc<Apps>,
    /// Where apps are looked up (never blocking: see [`AppStore`]).
    pub store: Arc<dyn AppStore>,
    pub directory: Directory,
    pub inboxes: Arc<[Inbox]>,
    pub stats: Arc<Stats>,
    /// Set when the graceful shutdown starts: `/ready` answers 503, new sockets get 4200.
    pub closing: Arc<AtomicBool>,
    /// The zero of every reactor's coarse clock.
    pub started: Instant,
    /// This node's part of every socket id (see [`SocketRef`]).
    pub node_id: u32,
    /// What the reactors over this state serve.
    pub service: Service,
    /// Where channel listings are built, off the reactors (`None`: built in place).
    pub lister: Option<listing::Lister>,
    /// Bytes that unfinished request bodies hold now, all reactors together (capped by
    /// `config.http.max_pending_body_bytes`).
    pub pending_body_bytes: std::sync::atomic::AtomicU64,
    /// Where publishes go to the other nodes (`Local`: nowhere).
    pub adapter: Arc<dyn crate::adapter::Adapter>,
}

impl Shared {
    /// `true` once the graceful shutdown has begun.
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Relaxed)
    }
}

/// Hands a publish to the reactors that hold subscribers of its channels (every reactor for
/// a server-to-user channel: the user index is per reactor), except reactor `from`, which
/// delivered it itself. Used for local publishes and for those from other nodes.
pub(crate) fn route_publish(shared: &Shared, p: &Arc<inbox::Publish>, from: Option<u8>) {
    let reactors = shared.inboxes.len();
    let mut to = ReactorSet::default();
    for item in &p.items {
        if item.channel.starts_with(SERVER_TO_USER_PREFIX) {
            to = ReactorSet::all(reactors);
            break;
        }
        to.union(shared.directory.reactors(p.app as usize, &item.channel));
    }
    if let Some(id) = from {
        to.remove(id);
    }
    for r in to.iter() {
        shared.inboxes[r as usize].push(Command::Publish(p.clone()));
    }
}

/// A slab entry.
pub(crate) struct Slot {
    /// Bumped when the slot is freed, so a stale poller event for it is ignored.
    pub(crate) gen: u32,
    pub(crate) conn: Option<Conn>,
}

/// A closing socket that has not finished within this many milliseconds is dropped.
const CLOSING_TIMEOUT_MS: u32 = 3000;
/// Channels one connection may join.
const MAX_CHANNELS_PER_CONNECTION: usize = 1000;

/// One reactor's session state (see the module docs).
pub struct Context {
    pub(crate) id: u8,
    pub(crate) shared: Arc<Shared>,
    pub(crate) stats: Arc<Stats>,
    /// The connections, by slot.
    pub(crate) slots: Vec<Slot>,
    /// Output state per slot, parallel to `slots`.
    pub(crate) outs: Vec<Outbox>,
    free: Vec<u32>,
    /// Connections in the slab.
    pub(crate) live: usize,
    channels: Channels,
    /// Per app: signed-in user id → local slots.
    users: Vec<HashMap<Box<str>, Vec<u32>>>,
    /// Scratch for encoding one message. Invariant: cleared before each use.
    pub(crate) msg: Vec<u8>,
    pub(crate) pool: BufPool,
    /// Slots with output to flush this iteration (each once; see `Outbox::dirty`).
    pub(crate) dirty: Vec<u32>,
    /// Slots that passed their output cap this iteration.
    pub(crate) over: Vec<u32>,
    /// Slots whose socket died this iteration; freed at its end.
    dead: Vec<u32>,
    inbox_buf: Vec<Command>,
    /// Connections whose held input may go on (an app lookup was answered); the reactor
    /// resumes them.
    pub(crate) resumed: Vec<u32>,
    /// Accept times of the publishes delivered this iteration.
    pub(crate) latencies: Vec<Instant>,
    rng: u64,
    /// The loop's clock: milliseconds since `shared.started`, read once per iteration.
    /// It wraps after 49 days, so times are compared with `wrapping_sub` (every timer a
    /// connection carries is refreshed far more often than that).
    pub(crate) now: u32,
    /// A `Shutdown` command arrived.
    pub(crate) stop_requested: bool,
    /// Sweeps run so far.
    sweeps: u32,
}

impl Context {
    /// The session state of reactor `id`.
    pub fn new(id: u8, shared: Arc<Shared>) -> Context {
        let apps = shared.apps.len();
        Context {
            id,
            stats: shared.stats.clone(),
            slots: Vec::new(),
            outs: Vec::new(),
            free: Vec::new(),
            live: 0,
            channels: Channels::new(apps),
            users: (0..apps).map(|_| HashMap::new()).collect(),
            msg: Vec::with_capacity(1024),
            pool: BufPool::default(),
            dirty: Vec::new(),
            over: Vec::new(),
            dead: Vec::new(),
            inbox_buf: Vec::new(),
            resumed: Vec::new(),
            latencies: Vec::new(),
            rng: crate::sys::random_seed() | 1,
            now: 0,
            stop_requested: false,
            sweeps: 0,
            shared,
        }
    }

    /// A free slot for a new connection: (index, generation).
    pub(crate) fn reserve(&mut self) -> (u32, u32) {
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot { gen: 0, conn: None });
                self.outs.push(Outbox::default());
                (self.slots.len() - 1) as u32
            }
        };
        (idx, self.slots[idx as usize].gen)
    }

    /// Gives back a slot from [`Context::reserve`] that was not used.
    pub(crate) fn unreserve(&mut self, idx: u32) {
        self.free.push(idx);
    }

    /// Where an app store sends a late answer for connection `idx`.
    fn waiter(&self, idx: u32) -> Waiter {
        let gen = self.slots[idx as usize].gen;
        Waiter::new(self.shared.inboxes.clone(), self.id, idx, gen)
    }

    /// The signed-in users of `app` on this reactor (the table grows for new apps).
    fn users_mut(&mut self, app: usize) -> &mut HashMap<Box<str>, Vec<u32>> {
        if self.users.len() <= app {
            self.users.resize_with(app + 1, HashMap::new);
        }
        &mut self.users[app]
    }

    /// Holds connection `idx`'s input until the app store answers for `asked` (a key or id).
    fn await_app(&mut self, idx: u32, asked: &str) {
        let now = self.now;
        let c = self.conn_mut(idx);
        c.set(flags::AWAITING);
        c.mark = now;
        c.extra_mut().app_lookup = Some(AppLookup::Waiting(asked.into()));
    }

    /// The app-store answer kept for the request now running again, if any.
    fn take_app_answer(&mut self, idx: u32) -> Option<Answer> {
        match self.conn_mut(idx).extra.as_mut()?.app_lookup.take()? {
            AppLookup::Answered(answer) => Some(answer),
            AppLookup::Waiting(_) => None,
        }
    }

    /// `true` when connection `slot` is still generation `gen` and waits for an answer from
    /// off the reactor (a late one for a connection gone or timed out is dropped).
    fn awaiting(&self, slot: u32, gen: u32) -> bool {
        self.slots.get(slot as usize).is_some_and(|s| {
            s.gen == gen
                && s.conn
                    .as_ref()
                    .is_some_and(|c| c.has(flags::AWAITING) && !c.has(flags::DEAD))
        })
    }

    /// A late app-store answer for the connection in `slot`: a WebSocket finishes opening
    /// with it; an HTTP request keeps it and runs again. Either way the held input resumes.
    fn app_answered(&mut self, slot: u32, gen: u32, answer: Answer) {
        if !self.awaiting(slot, gen) {
            return; // the connection is gone (or timed out waiting)
        }
        let c = self.conn_mut(slot);
        c.clear(flags::AWAITING);
        match c.phase {
            Phase::WebSocket => self.opened(slot, answer, None),
            Phase::Http => c.extra_mut().app_lookup = Some(AppLookup::Answered(answer)),
            Phase::Closing => return,
        }
        self.resumed.push(slot);
    }

    /// A listing built off the reactor: write it as the response its request waits for,
    /// then let the connection's held input go on.
    fn listed(&mut self, slot: u32, gen: u32, body: Vec<u8>) {
        let waiting = self.awaiting(slot, gen) && self.conn(slot).phase == Phase::Http;
        let deferred = waiting
            .then(|| self.conn_mut(slot).extra.as_mut()?.deferred.take())
            .flatten();
        let Some(d) = deferred else {
            return; // the connection is gone, or timed out waiting
        };
        self.conn_mut(slot).clear(flags::AWAITING);
        let s = self.stats.reactor(self.id as usize);
        let app = d.app as usize;
        s.add(app, AppCounter::HttpCallsReceived, 1);
        s.add(app, AppCounter::HttpReceivedBytes, d.request_bytes.max(2));
        s.add(app, AppCounter::HttpTransmittedBytes, body.len() as u64);
        let req = Req {
            idx: slot,
            keep_alive: d.keep_alive,
            head_only: d.head_only,
            http10: d.http10,
        };
        let headers: Vec<(&str, &str)> = d.headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        self.respond(req, 200, "application/json", &body, &headers);
        self.resumed.push(slot);
    }

    /// Puts a new connection in a reserved slot. Past the service's connection cap, the
    /// connection is answered 503 and closed.
    pub(crate) fn insert(&mut self, idx: u32, conn: Conn) {
        self.slots[idx as usize].conn = Some(conn);
        self.live += 1;
        self.my_stats()
            .add_reactor_gauge(ReactorCounter::Connections, 1);
        if let Service::Metrics {
            max_connections, ..
        } = self.shared.service
        {
            if self.live > max_connections {
                match self.eviction_candidate(idx) {
                    Some(victim) => self.kill(victim),
                    None => {
                        let body = br#"{"error":"Too many connections.","code":503}"#;
                        self.respond_json(Req::last(idx), 503, body);
                    }
                }
            }
        }
    }

    /// The connection to drop for a newcomer when the cap is reached (metrics port): the one
    /// whose unfinished request started first, else the one idle longest; never one with a
    /// response on its way. A dribbler can hold a slot only until someone needs it.
    fn eviction_candidate(&self, newcomer: u32) -> Option<u32> {
        let now = self.now;
        let mut best: Option<(bool, u32, u32)> = None; // (unfinished, age, slot)
        for (i, slot) in self.slots.iter().enumerate() {
            let i = i as u32;
            let Some(c) = slot.conn.as_ref() else {
                continue;
            };
            if i == newcomer
                || c.has(flags::DEAD)
                || c.phase != Phase::Http
                || self.outs[i as usize].buf.is_some()
            {
                continue;
            }
            let key = (c.has(flags::REQUEST_PARTIAL), now.wrapping_sub(c.mark), i);
            if best.is_none_or(|b| (key.0, key.1) > (b.0, b.1)) {
                best = Some(key);
            }
        }
        best.map(|b| b.2)
    }

    /// How often the sweep should run: once a second, or often enough for the shortest
    /// HTTP timer (half of it, at least every 50 ms).
    pub(crate) fn sweep_interval(&self) -> std::time::Duration {
        let http = &self.shared.config.http;
        let shortest = http.idle_timeout_ms.min(http.request_timeout_ms) / 2;
        std::time::Duration::from_millis(shortest.clamp(50, 1000))
    }

    pub(crate) fn my_stats(&self) -> &ReactorStats {
        self.stats.reactor(self.id as usize)
    }

    pub(crate) fn live_mut(&mut self, idx: u32) -> Option<&mut Conn> {
        self.slots
            .get_mut(idx as usize)?
            .conn
            .as_mut()
            .filter(|c| !c.has(flags::DEAD))
    }

    pub(crate) fn live(&self, idx: u32) -> Option<&Conn> {
        self.slots
            .get(idx as usize)?
            .conn
            .as_ref()
            .filter(|c| !c.has(flags::DEAD))
    }

    /// The connection in slot `idx`, which the caller knows is live.
    pub(crate) fn conn_mut(&mut self, idx: u32) -> &mut Conn {
        self.slots[idx as usize]
            .conn
            .as_mut()
            .expect("slot holds a connection")
    }

    pub(crate) fn conn(&self, idx: u32) -> &Conn {
        self.slots[idx as usize]
            .conn
            .as_ref()
            .expect("slot holds a connection")
    }

    pub(crate) fn socket_ref(&self, idx: u32) -> SocketRef {
        SocketRef {
            node: self.shared.node_id,
            reactor: self.id,
            slot: idx,
            rand: self.conn(idx).rand,
        }
    }

    /// The slot a socket reference names, if it is on this reactor and still the same socket.
    pub(crate) fn resolve(&self, r: Option<SocketRef>) -> Option<u32> {
        let r = r?;
        (r.node == self.shared.node_id
            && r.reactor == self.id
            && self.live(r.slot).is_some_and(|c| c.rand == r.rand))
        .then_some(r.slot)
    }

    pub(crate) fn next_rand(&mut self) -> u32 {
        // wyrand: fast, good enough to make socket ids unguessable in practice.
        self.rng = self.rng.wrapping_add(0xa076_1d64_78bd_642f);
        let t = (self.rng as u128).wrapping_mul((self.rng ^ 0xe703_7ed1_a0b4_28db) as u128);
        ((t >> 64) ^ t) as u32
    }

    /// Handles input according to the connection's phase; returns the bytes consumed.
    pub(crate) fn process(&mut self, idx: u32, buf: &mut [u8]) -> usize {
        match self.conn(idx).phase {
            Phase::Http => self.process_http(idx, buf),
            Phase::WebSocket => self.process_ws(idx, buf),
            Phase::Closing => buf.len(),
        }
    }

    /// The output buffer of slot `idx`, marking it dirty.
    pub(crate) fn output(&mut self, idx: u32) -> &mut Vec<u8> {
        let o = &mut self.outs[idx as usize];
        if !o.dirty {
            o.dirty = true;
            self.dirty.push(idx);
        }
        o.buf.get_or_insert_with(|| self.pool.get()).vec()
    }

    /// Sends one Pusher message (JSON text) to a WebSocket connection.
    pub(crate) fn send_json(&mut self, idx: u32, json: &[u8]) {
        let app = self.conn(idx).app;
        let out = self.output(idx);
        ws::frame::write_header(out, true, ws::OpCode::Text, json.len());
        out.extend_from_slice(json);
        if app != u32::MAX {
            let s = self.stats.reactor(self.id as usize);
            s.add(app as usize, AppCounter::WsMessagesSent, 1);
            s.add(
                app as usize,
                AppCounter::SocketTransmittedBytes,
                json.len() as u64,
            );
        }
    }

    /// Encodes a message with `f` into the scratch and sends it.
    pub(crate) fn send_with(&mut self, idx: u32, f: impl FnOnce(&mut Vec<u8>)) {
        let mut m = std::mem::take(&mut self.msg);
        m.clear();
        f(&mut m);
        self.send_json(idx, &m);
        self.msg = m;
    }

    /// Stops the socket at once (peer gone, I/O error, timeout). The slot is freed at the
    /// end of the iteration.
    pub(crate) fn kill(&mut self, idx: u32) {
        let Some(phase) = self.live(idx).map(|c| c.phase) else {
            return;
        };
        if phase == Phase::WebSocket {
            debug_log!(
                self,
                "socket {}: connection lost (no close frame)",
                self.socket_id_of(idx)
            );
        }
        self.leave_all(idx);
        self.release_body(idx);
        let c = self.conn_mut(idx);
        c.set(flags::DEAD);
        self.dead.push(idx);
        let o = &mut self.outs[idx as usize];
        o.over = false;
        o.backlog = false;
        if let Some(b) = o.buf.take() {
            self.pool.put(b);
        }
    }

    pub(crate) fn free_dead(&mut self) {
        for idx in std::mem::take(&mut self.dead) {
            let slot = &mut self.slots[idx as usize];
            // Dropping the stream closes the fd, which also removes it from epoll.
            slot.conn = None;
            slot.gen = slot.gen.wrapping_add(1);
            let o = &mut self.outs[idx as usize];
            o.dirty = false;
            o.over = false;
            o.backlog = false;
            if let Some(b) = o.buf.take() {
                self.pool.put(b);
            }
            self.free.push(idx);
            self.live -= 1;
            self.stats
                .reactor(self.id as usize)
                .add_reactor_gauge(ReactorCounter::Connections, -1);
        }
    }

    pub(crate) fn close_slow_consumers(&mut self) {
        for idx in std::mem::take(&mut self.over) {
            if self.live(idx).is_none_or(|c| c.phase != Phase::WebSocket) {
                continue;
            }
            self.my_stats()
                .add_reactor(ReactorCounter::SlowConsumerCloses, 1);
            // The backlog stays queued; the close frame follows it, and the closing timeout
            // drops the socket if it never drains.
            self.end(idx, Close::SlowConsumer);
        }
    }

    /// Leaves every channel, drops the user index entry and uncounts the socket.
    pub(crate) fn leave_all(&mut self, idx: u32) {
        let subs = std::mem::take(&mut self.conn_mut(idx).subs);
        for sub in subs.into_iter().rev() {
            self.leave_channel(idx, sub);
        }
        let c = self.conn_mut(idx);
        let app = c.app;
        let user = c.extra.as_mut().and_then(|e| e.user_id.take());
        if let Some(user) = user {
            self.remove_user(app, &user, idx);
        }
        let c = self.conn_mut(idx);
        if c.has(flags::COUNTED) {
            c.clear(flags::COUNTED);
            self.shared.apps.get(app as usize).close_connection();
            let s = self.stats.reactor(self.id as usize);
            s.add_gauge(app as usize, AppCounter::Connected, -1);
            s.add(app as usize, AppCounter::NewDisconnections, 1);
        }
    }

    pub(crate) fn remove_user(&mut self, app: u32, user: &str, idx: u32) {
        let Some(map) = self.users.get_mut(app as usize) else {
            return;
        };
        if let Some(v) = map.get_mut(user) {
            v.retain(|&i| i != idx);
            if v.is_empty() {
                map.remove(user);
            }
        }
    }

    /// The socket id of slot `idx`, for debug lines.
    pub(crate) fn socket_id_of(&self, idx: u32) -> String {
        let mut id = String::with_capacity(24);
        self.socket_ref(idx).socket_id(&mut id);
        id
    }

    /// Queues a close frame and lets the socket finish: the flush half-closes it.
    pub(crate) fn close_ws(&mut self, idx: u32, code: u16, reason: &str) {
        if self.live(idx).is_none_or(|c| c.phase != Phase::WebSocket) {
            return;
        }
        debug_log!(
            self,
            "socket {}: closed with code {code} {reason:?}",
            self.socket_id_of(idx)
        );
        self.leave_all(idx);
        let out = self.output(idx);
        ws::frame::write_close(out, code, reason);
        let now = self.now;
        let c = self.conn_mut(idx);
        c.phase = Phase::Closing;
        c.mark = now;
        c.spill = None;
        c.decoder.reset();
        c.set(flags::CLOSE_AFTER_FLUSH);
    }

    /// Ends a WebSocket connection for one of the fixed reasons.
    pub(crate) fn end(&mut self, idx: u32, why: Close) {
        let code = why.code().as_u16();
        if why.sends_error() {
            self.error_and_close(idx, code, why.message());
        } else {
            self.close_ws(idx, code, why.message());
        }
    }

    /// Sends `pusher:error` with `code` and closes with the same code.
    pub(crate) fn error_and_close(&mut self, idx: u32, code: u16, message: &str) {
        self.send_with(idx, |m| crate::pusher::event::error(m, code, message, None));
        self.close_ws(idx, code, message);
    }

    pub(crate) fn sweep(&mut self) {
        let now = self.now;
        let cfg = &self.shared.config;
        let activity = cfg.activity_timeout_secs.saturating_mul(1000);
        let pong = cfg.pong_timeout_secs.saturating_mul(1000);
        let request = ms_u32(cfg.http.request_timeout_ms);
        let idle = ms_u32(cfg.http.idle_timeout_ms);
        for idx in 0..self.slots.len() as u32 {
            let Some(c) = self.live(idx) else {
                continue;
            };
            let since_mark = now.wrapping_sub(c.mark);
            if c.has(flags::AWAITING) {
                // A store should answer "unavailable" itself when it cannot answer; this
                // bounds the wait should it not.
                if since_mark >= request {
                    let phase = c.phase;
                    let c = self.conn_mut(idx);
                    c.clear(flags::AWAITING);
                    let listing = c.extra.as_mut().and_then(|e| e.deferred.take()).is_some();
                    match phase {
                        Phase::WebSocket => self.opened(idx, Answer::Unavailable, None),
                        _ if listing => {
                            let body = br#"{"error":"The channel listing took too long. Try again shortly.","code":503}"#;
                            self.respond_json(Req::last(idx), 503, body);
                        }
                        _ => self.store_unavailable(Req::last(idx)),
                    }
                }
                continue;
            }
            match c.phase {
                Phase::Http => {
                    if c.has(flags::REQUEST_PARTIAL) {
                        if since_mark >= request {
                            self.http_timeout(idx);
                        }
                    } else if since_mark >= idle && self.outs[idx as usize].buf.is_none() {
                        self.kill(idx);
                    }
                }
                Phase::WebSocket => {
                    let deadline = c.extra.as_ref().and_then(|e| e.auth_deadline);
                    if deadline.is_some_and(|d| reached(now, d)) {
                        self.end(idx, Close::AuthTimeout);
                    } else if c.has(flags::PING_SENT) {
                        if since_mark >= pong {
                            self.end(idx, Close::PongTimeout);
                        }
                    } else if now.wrapping_sub(c.last_rx) >= activity {
                        self.send_json(idx, crate::pusher::event::PING);
                        let c = self.conn_mut(idx);
                        c.set(flags::PING_SENT);
                        c.mark = now;
                    }
                }
                Phase::Closing => {
                    if since_mark >= CLOSING_TIMEOUT_MS {
                        self.kill(idx);
                    }
                }
            }
        }
        // Expired cache entries are also dropped when read; this bounds what unread ones keep.
        self.sweeps = self.sweeps.wrapping_add(1);
        if self.id == 0 && self.sweeps % 60 == 0 {
            self.shared.directory.cache_sweep(Instant::now());
        }
    }

    pub(crate) fn drain_inbox(&mut self) {
        let mut cmds = std::mem::take(&mut self.inbox_buf);
        self.shared.inboxes[self.id as usize].take(&mut cmds);
        for cmd in cmds.drain(..) {
            match cmd {
                Command::Publish(p) => self.deliver_publish(&p),
                Command::Presence(p) => self.deliver_presence(&p),
                Command::Terminate { app, user_id } => self.terminate_user(app, &user_id),
                Command::AppAnswer { slot, gen, answer } => self.app_answered(slot, gen, answer),
                Command::Listed { slot, gen, body } => self.listed(slot, gen, body),
                Command::Shutdown => self.stop_requested = true,
            }
        }
        self.inbox_buf = cmds;
    }

    /// Delivers a publish to this reactor's subscribers.
    pub(crate) fn deliver_publish(&mut self, p: &inbox::Publish) {
        let except = self.resolve(p.except);
        let app = p.app as usize;
        let mut sink = sink!(self);
        let mut any = false;
        let stats = self.stats.reactor(self.id as usize);
        for item in &p.items {
            let n = if let Some(user) = item.channel.strip_prefix(SERVER_TO_USER_PREFIX) {
                // Server-to-user: every socket signed in as that user, subscribed or not.
                match self.users.get(app).and_then(|u| u.get(user)) {
                    Some(slots) => fanout::deliver(&item.frame, slots, None, &mut sink),
                    None => 0,
                }
            } else {
                match self.channels.lookup(p.app, &item.channel) {
                    Some(cid) => {
                        let ch = self.channels.get_mut(cid);
                        let skip: &[(u32, u64)] =
                            if item.cache_seq > 0 && !ch.cache_joiners.is_empty() {
                                // Joiners that read the cache at this event or later skip
                                // it; older ones get it and every later publish.
                                ch.cache_joiners.retain(|&(_, seq)| seq >= item.cache_seq);
                                &ch.cache_joiners
                            } else {
                                &[]
                            };
                        fanout::deliver_skipping(&item.frame, &ch.subs, except, skip, &mut sink)
                    }
                    None => 0,
                }
            };
            if n > 0 {
                any = true;
                stats.add(app, AppCounter::WsMessagesSent, n as u64);
                stats.add(
                    app,
                    AppCounter::SocketTransmittedBytes,
                    (n * item.payload_len) as u64,
                );
            }
        }
        if any {
            self.latencies.push(p.accepted_at);
        }
    }

    /// Delivers a membership broadcast, skipping joiners whose member list already has it.
    pub(crate) fn deliver_presence(&mut self, p: &inbox::Presence) {
        let Some(cid) = self.channels.lookup(p.app, &p.item.channel) else {
            return;
        };
        let except = self.resolve(p.except);
        let ch = self.channels.get_mut(cid);
        // Joiners whose list predates this change see it and every later one.
        ch.joiners.retain(|&(_, seq)| seq >= p.seq);
        let mut sink = sink!(self);
        let n = fanout::deliver_skipping(&p.item.frame, &ch.subs, except, &ch.joiners, &mut sink)
            as u64;
        let s = self.stats.reactor(self.id as usize);
        s.add(p.app as usize, AppCounter::WsMessagesSent, n);
        s.add(
            p.app as usize,
            AppCounter::SocketTransmittedBytes,
            n * p.item.payload_len as u64,
        );
    }

    pub(crate) fn terminate_user(&mut self, app: u32, user: &str) {
        let Some(slots) = self
            .users
            .get(app as usize)
            .and_then(|u| u.get(user))
            .cloned()
        else {
            return;
        };
        for idx in slots {
            self.end(idx, Close::Terminated);
        }
    }

    /// Publishes to every subscriber on every reactor: here now, elsewhere through the
    /// inboxes of the reactors that hold subscribers of its channels (the directory's
    /// [`ReactorSet`](crate::directory::ReactorSet)), so that the others are not woken.
    pub(crate) fn publish(&mut self, p: inbox::Publish) {
        // Earlier publishes from other reactors may wait in the inbox; deliver them first so
        // that per channel, local subscribers see publishes in the order they were accepted.
        self.drain_inbox();
        let p = Arc::new(p);
        self.deliver_publish(&p);
        if self.shared.inboxes.len() > 1 {
            route_publish(&self.shared, &p, Some(self.id));
        }
        let adapter = &self.shared.adapter;
        if adapter.enabled() {
            let mut except = String::new();
            if let Some(s) = p.except {
                s.socket_id(&mut except);
            }
            let except = p.except.map(|_| except.as_str());
            let app = self.shared.apps.get(p.app as usize);
            for item in &p.items {
                let json = &item.frame[item.frame.len() - item.payload_len..];
                adapter.broadcast(app.id(), &item.channel, json, except);
            }
        }
    }

    pub(crate) fn begin_stop(&mut self) {
        for idx in 0..self.slots.len() as u32 {
            let Some(c) = self.live(idx) else {
                continue;
            };
            match c.phase {
                Phase::WebSocket => self.end(idx, Close::Closing),
                Phase::Http
                    if !c.has(flags::REQUEST_PARTIAL) && self.outs[idx as usize].buf.is_none() =>
                {
                    self.kill(idx)
                }
                _ => {}
            }
        }
    }

    pub(crate) fn finish(&mut self) {
        for idx in 0..self.slots.len() as u32 {
            if self.live(idx).is_some() {
                self.kill(idx);
            }
        }
        self.free_dead();
    }

    /// Removes slot `idx` from the channel of `sub` (already taken out of `conn.subs`).
    pub(crate) fn leave_channel(&mut self, idx: u32, sub: Sub) {
        let app = self.conn(idx).app;
        let presence_user = self.conn_mut(idx).extra.as_mut().and_then(|e| {
            let i = e.presence.iter().position(|(c, _)| *c == sub.chan)?;
            Some(e.presence.swap_remove(i).1)
        });
        let transitions = {
            let ch = self.channels.get(sub.chan);
            let last_here = ch.subs.len() == 1;
            let dir = &self.shared.directory;
            match presence_user {
                Some(user) => {
                    let me = self.socket_ref(idx);
                    dir.presence_leave(app as usize, &ch.name, me, last_here, &user)
                }
                None => dir.unsubscribe(app as usize, &ch.name, self.id, last_here),
            }
        };
        let removed = self.channels.remove(sub.chan, sub.pos);
        if let Some((moved, pos)) = removed.moved {
            let m = self.conn_mut(moved);
            if let Some(i) = m.sub_index(sub.chan) {
                m.subs[i].pos = pos;
            }
        }
        let s = self.stats.reactor(self.id as usize);
        s.add_gauge(app as usize, AppCounter::Subscriptions, -1);
        if transitions.vacated() {
            s.add_gauge(app as usize, AppCounter::OccupiedChannels, -1);
            self.shared.apps.get(app as usize).count_channel(-1);
        }
    }
}

/// The delivery sink over a context's output state. A macro rather than a method: the fields
/// are borrowed one by one, so the channel registry stays usable beside it.
macro_rules! sink {
    ($cx:expr) => {
        Sink {
            outs: &mut $cx.outs,
            dirty: &mut $cx.dirty,
            pool: &mut $cx.pool,
            max_output: $cx.shared.config.ws_max_output_bytes,
            over: &mut $cx.over,
        }
    };
}
use sink;

/// A duration in milliseconds as the loop clock's unit, capped below half its range so
/// that wrapping comparisons stay meaningful.
fn ms_u32(ms: u64) -> u32 {
    ms.min(i32::MAX as u64) as u32
}

/// `true` once the loop clock `now` has reached `deadline` (both wrapping milliseconds).
fn reached(now: u32, deadline: u32) -> bool {
    (now.wrapping_sub(deadline) as i32) >= 0
}
