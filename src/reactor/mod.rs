//! A reactor: one thread, one `mio::Poll`, one `SO_REUSEPORT` listener, and the connections
//! the kernel hands that listener.
//!
//! The loop, once per iteration:
//!
//! 1. `poll` (timeout: the next sweep, or zero when work is left over);
//! 2. handle events: accept (budgeted), read (budgeted per event; input is processed in the
//!    reactor's scratch buffer and only an unfinished request or frame is kept per
//!    connection), writable sockets are marked dirty;
//! 3. finish budgeted work, drain the inbox (publishes and presence broadcasts from other
//!    reactors), run the once-a-second sweep (timeouts, pings);
//! 4. close slow consumers, flush every dirty socket with one `write()` each (WRITABLE is
//!    armed only after a short write), record publish-to-flush latencies;
//! 5. free the slots of connections that died during the iteration.
//!
//! Nothing here blocks. Delivery takes no lock; a publish takes, for each of its channels,
//! the directory's shard lock (held for one lookup, to learn which reactors hold
//! subscribers), and the inbox lock of each such reactor (held for one push).

mod api;
pub mod inbox;
mod socket;
pub mod token;

use std::collections::HashMap;
use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll};

use crate::app::{AppStore, Apps};
use crate::channels::Channels;
use crate::config::Config;
use crate::conn::{flags, Conn, Phase, ReadResult, SocketRef, Sub, Transport};
use crate::directory::{Directory, ReactorSet};
use crate::fanout::{self, BufPool, Outbox, Sink};
use crate::metrics::stats::{AppCounter, ReactorCounter, ReactorStats, Rejection, Stats};
use crate::pusher::channel::SERVER_TO_USER_PREFIX;
use crate::pusher::error::Close;
use crate::ws;
use inbox::{Command, Inbox};

/// State shared by all reactors (and the metrics thread). Immutable after start-up except
/// through interior mutability designed for it (directory locks, inboxes, atomics).
pub struct Shared {
    pub config: Config,
    pub apps: Apps,
    pub directory: Directory,
    pub inboxes: Arc<[Inbox]>,
    pub stats: Arc<Stats>,
    /// Set when the graceful shutdown starts: `/ready` answers 503, new sockets get 4200.
    pub closing: Arc<AtomicBool>,
    /// The zero of every reactor's coarse clock.
    pub started: Instant,
    /// This node's part of every socket id (see [`SocketRef`]).
    pub node_id: u32,
}

impl Shared {
    /// `true` once the graceful shutdown has begun.
    pub fn is_closing(&self) -> bool {
        self.closing.load(Ordering::Relaxed)
    }
}

/// A slab entry.
struct Slot {
    gen: u32,
    conn: Option<Conn>,
}

/// Bytes read per `read()` into the scratch buffer.
const READ_CHUNK: usize = 64 * 1024;
/// Bytes read per `read()` into a connection's spill.
const SPILL_CHUNK: usize = 16 * 1024;
/// Reads per readiness event before the connection waits for the next iteration.
const READ_BUDGET: usize = 8;
/// Accepts per iteration.
const ACCEPT_BUDGET: usize = 256;
/// A closing socket that has not finished within this many seconds is dropped.
const CLOSING_TIMEOUT_MS: u32 = 3000;
/// How long accepting pauses after running out of file descriptors.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);
/// Channels one connection may join.
const MAX_CHANNELS_PER_CONNECTION: usize = 1000;

/// One reactor thread's state.
pub struct Reactor {
    id: u8,
    poll: Poll,
    listener: TcpListener,
    shared: Arc<Shared>,
    stats: Arc<Stats>,
    slots: Vec<Slot>,
    /// Output state per slot, parallel to `slots`.
    outs: Vec<Outbox>,
    free: Vec<u32>,
    channels: Channels,
    /// Per app: signed-in user id → local slots.
    users: Vec<HashMap<Box<str>, Vec<u32>>>,
    /// Read buffer. Invariant: `len() == READ_CHUNK` whenever it is in place (it is taken
    /// out while a read is processed).
    scratch: Vec<u8>,
    /// Scratch for encoding one message. Invariant: cleared before each use.
    msg: Vec<u8>,
    pool: BufPool,
    /// Slots with output to flush this iteration (each once; see `Outbox::dirty`).
    dirty: Vec<u32>,
    /// Slots that passed their output cap this iteration.
    over: Vec<u32>,
    /// Slots whose socket died this iteration; freed at its end.
    dead: Vec<u32>,
    /// Slots whose read budget ran out.
    read_pending: Vec<u32>,
    inbox_buf: Vec<Command>,
    /// Accept times of the publishes delivered this iteration.
    latencies: Vec<Instant>,
    rng: u64,
    /// The loop's clock: milliseconds since `shared.started`, read once per iteration.
    /// It wraps after 49 days, so times are compared with `wrapping_sub` (every timer a
    /// connection carries is refreshed far more often than that).
    now: u32,
    next_sweep: Instant,
    accept_more: bool,
    accept_paused_until: Option<Instant>,
    stop_requested: bool,
    stop_deadline: Option<Instant>,
    /// The request being handled is a HEAD request (respond without a body).
    head_only: bool,
    live: usize,
    /// Sweeps run so far.
    sweeps: u32,
}

impl Reactor {
    /// A reactor with id `id` (0-based, < 256) over `poll` and `listener`.
    pub fn new(id: u8, poll: Poll, mut listener: TcpListener, shared: Arc<Shared>) -> Reactor {
        poll.registry()
            .register(&mut listener, token::LISTENER, Interest::READABLE)
            .expect("registering a fresh listener");
        let apps = shared.apps.len();
        Reactor {
            id,
            poll,
            listener,
            stats: shared.stats.clone(),
            slots: Vec::new(),
            outs: Vec::new(),
            free: Vec::new(),
            channels: Channels::new(apps),
            users: (0..apps).map(|_| HashMap::new()).collect(),
            scratch: vec![0; READ_CHUNK],
            msg: Vec::with_capacity(1024),
            pool: BufPool::default(),
            dirty: Vec::new(),
            over: Vec::new(),
            dead: Vec::new(),
            read_pending: Vec::new(),
            inbox_buf: Vec::new(),
            latencies: Vec::new(),
            rng: crate::sys::random_seed() | 1,
            now: 0,
            next_sweep: Instant::now() + Duration::from_secs(1),
            accept_more: false,
            accept_paused_until: None,
            stop_requested: false,
            stop_deadline: None,
            head_only: false,
            live: 0,
            sweeps: 0,
            shared,
        }
    }

    fn my_stats(&self) -> &ReactorStats {
        self.stats.reactor(self.id as usize)
    }

    /// Runs the loop until the graceful shutdown completes.
    pub fn run(mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(1024);
        loop {
            let timeout = self.poll_timeout();
            if let Err(e) = self.poll.poll(&mut events, Some(timeout)) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(e);
            }
            let busy_from = Instant::now();
            self.now = busy_from
                .saturating_duration_since(self.shared.started)
                .as_millis() as u32;
            for ev in events.iter() {
                match ev.token() {
                    token::LISTENER => self.accept(),
                    token::WAKER => {}
                    t => self.on_event(
                        t,
                        ev.is_readable() || ev.is_read_closed() || ev.is_error(),
                        ev.is_read_closed() || ev.is_error(),
                        ev.is_writable(),
                    ),
                }
            }
            self.end_iteration(busy_from);
            let busy = busy_from.elapsed().as_nanos() as u64;
            self.my_stats().add_reactor(ReactorCounter::BusyNanos, busy);
            if let Some(deadline) = self.stop_deadline {
                if self.live == 0 || Instant::now() >= deadline {
                    break;
                }
            }
        }
        self.finish();
        Ok(())
    }

    fn poll_timeout(&self) -> Duration {
        if self.accept_more || !self.read_pending.is_empty() {
            return Duration::ZERO;
        }
        let now = Instant::now();
        let mut until = self.next_sweep;
        if let Some(p) = self.accept_paused_until {
            until = until.min(p);
        }
        if let Some(d) = self.stop_deadline {
            until = until.min(d);
        }
        until.saturating_duration_since(now)
    }

    fn end_iteration(&mut self, now: Instant) {
        if let Some(p) = self.accept_paused_until {
            if now >= p {
                self.accept_paused_until = None;
                self.accept();
            }
        } else if self.accept_more {
            self.accept();
        }
        if !self.read_pending.is_empty() {
            let pending = std::mem::take(&mut self.read_pending);
            for &idx in &pending {
                if let Some(c) = self.live_mut(idx) {
                    c.clear(flags::READ_PENDING);
                    self.resume(idx);
                }
            }
        }
        self.drain_inbox();
        if self.stop_requested && self.stop_deadline.is_none() {
            self.begin_stop();
        }
        if now >= self.next_sweep {
            self.next_sweep = now + Duration::from_secs(1);
            self.sweep();
        }
        // Flushing can find slow consumers, and closing them queues close frames: repeat
        // until nothing is left to flush (sockets that are behind leave the dirty list).
        loop {
            if !self.over.is_empty() {
                self.close_slow_consumers();
            }
            if self.dirty.is_empty() {
                break;
            }
            self.flush_dirty();
        }
        if !self.latencies.is_empty() {
            let flushed = Instant::now();
            let stats = self.stats.reactor(self.id as usize);
            for t in self.latencies.drain(..) {
                stats.observe_latency_ns(flushed.saturating_duration_since(t).as_nanos() as u64);
            }
        }
        self.free_dead();
    }

    // ---------------------------------------------------------------- slab

    fn live_mut(&mut self, idx: u32) -> Option<&mut Conn> {
        self.slots
            .get_mut(idx as usize)?
            .conn
            .as_mut()
            .filter(|c| !c.has(flags::DEAD))
    }

    fn live(&self, idx: u32) -> Option<&Conn> {
        self.slots
            .get(idx as usize)?
            .conn
            .as_ref()
            .filter(|c| !c.has(flags::DEAD))
    }

    /// The connection in slot `idx`, which the caller knows is live.
    fn conn_mut(&mut self, idx: u32) -> &mut Conn {
        self.slots[idx as usize]
            .conn
            .as_mut()
            .expect("slot holds a connection")
    }

    fn conn(&self, idx: u32) -> &Conn {
        self.slots[idx as usize]
            .conn
            .as_ref()
            .expect("slot holds a connection")
    }

    fn socket_ref(&self, idx: u32) -> SocketRef {
        SocketRef {
            node: self.shared.node_id,
            reactor: self.id,
            slot: idx,
            rand: self.conn(idx).rand,
        }
    }

    /// The slot a socket reference names, if it is on this reactor and still the same socket.
    fn resolve(&self, r: Option<SocketRef>) -> Option<u32> {
        let r = r?;
        (r.node == self.shared.node_id
            && r.reactor == self.id
            && self.live(r.slot).is_some_and(|c| c.rand == r.rand))
        .then_some(r.slot)
    }

    fn next_rand(&mut self) -> u32 {
        // wyrand: fast, good enough to make socket ids unguessable in practice.
        self.rng = self.rng.wrapping_add(0xa076_1d64_78bd_642f);
        let t = (self.rng as u128).wrapping_mul((self.rng ^ 0xe703_7ed1_a0b4_28db) as u128);
        ((t >> 64) ^ t) as u32
    }

    // ---------------------------------------------------------------- accept

    fn accept(&mut self) {
        self.accept_more = false;
        for _ in 0..ACCEPT_BUDGET {
            match self.listener.accept() {
                Ok((sock, _)) => self.add_conn(sock),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e)
                    if matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE))
                        || e.kind() == io::ErrorKind::OutOfMemory =>
                {
                    // The pending connection stays in the backlog; try again shortly
                    // rather than spinning on an error the listener keeps reporting.
                    self.my_stats().reject(Rejection::NoFileDescriptors);
                    self.accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
                    return;
                }
                Err(_) => continue,
            }
        }
        self.accept_more = true;
    }

    fn add_conn(&mut self, mut sock: TcpStream) {
        let _ = sock.set_nodelay(true);
        let idx = match self.free.pop() {
            Some(i) => i,
            None => {
                self.slots.push(Slot { gen: 0, conn: None });
                self.outs.push(Outbox::default());
                (self.slots.len() - 1) as u32
            }
        };
        let gen = self.slots[idx as usize].gen;
        if self
            .poll
            .registry()
            .register(&mut sock, token::conn(idx, gen), Interest::READABLE)
            .is_err()
        {
            self.free.push(idx);
            return;
        }
        self.slots[idx as usize].conn = Some(Conn::new(Transport::Plain(sock), self.now));
        self.live += 1;
        self.my_stats()
            .add_reactor_gauge(ReactorCounter::Connections, 1);
    }

    // ---------------------------------------------------------------- events

    fn on_event(&mut self, t: mio::Token, readable: bool, closed: bool, writable: bool) {
        let (idx, gen) = token::split(t);
        match self.slots.get(idx as usize) {
            Some(s) if s.gen == gen && s.conn.as_ref().is_some_and(|c| !c.has(flags::DEAD)) => {}
            _ => return, // stale event for a freed or reused slot
        }
        if writable {
            let o = &mut self.outs[idx as usize];
            if o.buf.is_some() && !o.dirty {
                o.dirty = true;
                self.dirty.push(idx);
            }
        }
        if closed {
            self.conn_mut(idx).set(flags::HUP_REPORTED);
        }
        let c = self.conn(idx);
        if c.phase == Phase::Closing {
            // A closing socket is not read: whatever it still sends is dropped with it,
            // and a peer that keeps sending meets a full window rather than a sink. Its
            // hang-up (or the closing timeout) ends it.
            if closed {
                self.kill(idx);
            }
        } else if readable && !c.has(flags::READ_PENDING) {
            self.read_ready(idx);
        }
    }

    fn read_ready(&mut self, idx: u32) {
        for _ in 0..READ_BUDGET {
            let Some(conn) = self.live_mut(idx) else {
                return;
            };
            if conn.has(flags::READ_PAUSED) {
                return; // resumed by the flush that drains its output
            }
            if conn.phase == Phase::Closing {
                return;
            }
            let spill = conn.spill.take();
            let (result, full) = match spill {
                Some(mut sp) => {
                    let len = sp.len();
                    sp.resize(len + SPILL_CHUNK, 0);
                    let r = self.conn_mut(idx).transport.read(&mut sp[len..]);
                    match r {
                        ReadResult::Data(n) => {
                            sp.truncate(len + n);
                            self.note_rx(idx);
                            let used = self.process(idx, &mut sp);
                            self.keep_spill(idx, sp, used);
                            (ReadResult::Data(n), n == SPILL_CHUNK)
                        }
                        other => {
                            sp.truncate(len);
                            self.conn_mut(idx).spill = Some(sp);
                            (other, false)
                        }
                    }
                }
                None => {
                    let mut buf = std::mem::take(&mut self.scratch);
                    let r = self.conn_mut(idx).transport.read(&mut buf);
                    let full = matches!(r, ReadResult::Data(n) if n == buf.len());
                    if let ReadResult::Data(n) = r {
                        self.note_rx(idx);
                        let used = self.process(idx, &mut buf[..n]);
                        if used < n {
                            if let Some(c) = self.live_mut(idx) {
                                if c.phase != Phase::Closing {
                                    let mut v = Vec::with_capacity((n - used).max(256));
                                    v.extend_from_slice(&buf[used..n]);
                                    c.spill = Some(Box::new(v));
                                }
                            }
                        }
                    }
                    self.scratch = buf;
                    (r, full)
                }
            };
            // Edge-triggered: a read that did not fill the buffer drained the socket;
            // bytes that arrive later raise a new event, so no extra read is needed —
            // unless the hang-up was already reported (no event will tell of the EOF), or
            // the transport holds input it has not handed out yet (no event for that either).
            let read_on = self.live(idx).is_some_and(|c| {
                c.has(flags::HUP_REPORTED) || c.transport.has_buffered_plaintext()
            });
            match result {
                ReadResult::Data(_) if !full && !read_on => return,
                ReadResult::Data(_) => {}
                ReadResult::WouldBlock => return,
                ReadResult::Eof => return self.on_eof(idx),
                ReadResult::Failed => return self.kill(idx),
            }
        }
        if let Some(c) = self.live_mut(idx) {
            c.set(flags::READ_PENDING);
            self.read_pending.push(idx);
        }
    }

    /// Continues a connection whose input stopped early (read budget spent, or paused for
    /// back-pressure): first what it already holds, then the socket.
    fn resume(&mut self, idx: u32) {
        if let Some(sp) = self.live_mut(idx).and_then(|c| c.spill.take()) {
            let mut sp = sp;
            let used = self.process(idx, &mut sp);
            self.keep_spill(idx, sp, used);
        }
        if self.live(idx).is_some_and(|c| !c.has(flags::READ_PAUSED)) {
            self.read_ready(idx);
        }
    }

    fn note_rx(&mut self, idx: u32) {
        let now = self.now;
        let c = self.conn_mut(idx);
        c.last_rx = now;
        if c.has(flags::PING_SENT) {
            c.clear(flags::PING_SENT);
            c.mark = now;
        }
    }

    // The spill is boxed so that an idle connection pays 8 bytes for it, not 24.
    #[allow(clippy::box_collection)]
    fn keep_spill(&mut self, idx: u32, mut sp: Box<Vec<u8>>, used: usize) {
        let Some(c) = self.live_mut(idx) else {
            return;
        };
        if c.phase == Phase::Closing {
            return;
        }
        sp.drain(..used);
        if !sp.is_empty() {
            // Give back what a finished large message left behind.
            if sp.capacity() > 4 * SPILL_CHUNK && sp.len() < SPILL_CHUNK {
                sp.shrink_to(SPILL_CHUNK);
            }
            c.spill = Some(sp);
        }
    }

    /// Handles input according to the connection's phase; returns the bytes consumed.
    fn process(&mut self, idx: u32, buf: &mut [u8]) -> usize {
        match self.conn(idx).phase {
            Phase::Http => self.process_http(idx, buf),
            Phase::WebSocket => self.process_ws(idx, buf),
            Phase::Closing => buf.len(),
        }
    }

    fn on_eof(&mut self, idx: u32) {
        let c = self.conn(idx);
        let pending = self.outs[idx as usize].buf.is_some();
        if c.phase == Phase::Http && pending {
            // The client half-closed after its request: finish the response, then close.
            self.conn_mut(idx)
                .set(flags::CLOSE_AFTER_FLUSH | flags::PEER_CLOSED);
        } else {
            self.kill(idx);
        }
    }

    // ---------------------------------------------------------------- output

    /// The output buffer of slot `idx`, marking it dirty.
    fn output(&mut self, idx: u32) -> &mut Vec<u8> {
        let o = &mut self.outs[idx as usize];
        if !o.dirty {
            o.dirty = true;
            self.dirty.push(idx);
        }
        o.buf.get_or_insert_with(|| self.pool.get()).vec()
    }

    /// Sends one Pusher message (JSON text) to a WebSocket connection.
    fn send_json(&mut self, idx: u32, json: &[u8]) {
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
    fn send_with(&mut self, idx: u32, f: impl FnOnce(&mut Vec<u8>)) {
        let mut m = std::mem::take(&mut self.msg);
        m.clear();
        f(&mut m);
        self.send_json(idx, &m);
        self.msg = m;
    }

    fn flush_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.dirty);
        for &idx in &dirty {
            self.outs[idx as usize].dirty = false;
            self.flush(idx);
        }
        dirty.clear();
        // Flushing never marks slots dirty, so nothing was pushed while the list was out.
        debug_assert!(self.dirty.is_empty());
        self.dirty = dirty;
    }

    fn flush(&mut self, idx: u32) {
        let Some(slot) = self.slots.get_mut(idx as usize) else {
            return;
        };
        let Some(conn) = slot.conn.as_mut().filter(|c| !c.has(flags::DEAD)) else {
            return;
        };
        let o = &mut self.outs[idx as usize];
        if let Some(buf) = o.buf.as_mut() {
            while !buf.is_empty() {
                match conn.transport.write(buf.pending()) {
                    Ok(0) => return self.kill(idx),
                    Ok(n) => buf.consume(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        o.backlog = true;
                        if buf.len() > self.shared.config.ws_max_output_bytes
                            && !o.over
                            && conn.phase == Phase::WebSocket
                        {
                            o.over = true;
                            self.over.push(idx);
                        }
                        if !conn.has(flags::WRITABLE_ARMED) {
                            conn.set(flags::WRITABLE_ARMED);
                            let gen = slot.gen;
                            if let Some(sock) = conn.transport.source() {
                                let _ = self.poll.registry().reregister(
                                    sock,
                                    token::conn(idx, gen),
                                    Interest::READABLE | Interest::WRITABLE,
                                );
                            }
                        }
                        return;
                    }
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(_) => return self.kill(idx),
                }
            }
            o.backlog = false;
            if let Some(b) = o.buf.take() {
                self.pool.put(b);
            }
        }
        if conn.has(flags::READ_PAUSED) && !conn.has(flags::READ_PENDING) {
            conn.clear(flags::READ_PAUSED);
            conn.set(flags::READ_PENDING);
            self.read_pending.push(idx);
        }
        if conn.has(flags::CLOSE_AFTER_FLUSH) {
            if conn.has(flags::PEER_CLOSED) {
                return self.kill(idx);
            }
            conn.clear(flags::CLOSE_AFTER_FLUSH);
            // Half-close and wait for the peer's EOF (or the closing timeout): closing at
            // once could turn unread input into a reset that destroys what we just sent.
            conn.transport.shutdown_write();
            conn.phase = Phase::Closing;
            conn.mark = self.now;
        }
    }

    /// Stops the socket at once (peer gone, I/O error, timeout). The slot is freed at the
    /// end of the iteration.
    fn kill(&mut self, idx: u32) {
        if self.live(idx).is_none() {
            return;
        }
        self.leave_all(idx);
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

    fn free_dead(&mut self) {
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

    fn close_slow_consumers(&mut self) {
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

    // ---------------------------------------------------------------- closing

    /// Leaves every channel, drops the user index entry and uncounts the socket.
    fn leave_all(&mut self, idx: u32) {
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

    fn remove_user(&mut self, app: u32, user: &str, idx: u32) {
        let map = &mut self.users[app as usize];
        if let Some(v) = map.get_mut(user) {
            v.retain(|&i| i != idx);
            if v.is_empty() {
                map.remove(user);
            }
        }
    }

    /// Queues a close frame and lets the socket finish: the flush half-closes it.
    fn close_ws(&mut self, idx: u32, code: u16, reason: &str) {
        if self.live(idx).is_none_or(|c| c.phase != Phase::WebSocket) {
            return;
        }
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
    fn end(&mut self, idx: u32, why: Close) {
        let code = why.code().as_u16();
        if why.sends_error() {
            self.error_and_close(idx, code, why.message());
        } else {
            self.close_ws(idx, code, why.message());
        }
    }

    /// Sends `pusher:error` with `code` and closes with the same code.
    fn error_and_close(&mut self, idx: u32, code: u16, message: &str) {
        self.send_with(idx, |m| crate::pusher::event::error(m, code, message, None));
        self.close_ws(idx, code, message);
    }

    // ---------------------------------------------------------------- timers

    fn sweep(&mut self) {
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

    // ---------------------------------------------------------------- inbox

    fn drain_inbox(&mut self) {
        let mut cmds = std::mem::take(&mut self.inbox_buf);
        self.shared.inboxes[self.id as usize].take(&mut cmds);
        for cmd in cmds.drain(..) {
            match cmd {
                Command::Publish(p) => self.deliver_publish(&p),
                Command::Presence(p) => self.deliver_presence(&p),
                Command::Terminate { app, user_id } => self.terminate_user(app, &user_id),
                Command::Shutdown => self.stop_requested = true,
            }
        }
        self.inbox_buf = cmds;
    }

    /// Delivers a publish to this reactor's subscribers.
    fn deliver_publish(&mut self, p: &inbox::Publish) {
        let except = self.resolve(p.except);
        let app = p.app as usize;
        let mut sink = Sink {
            outs: &mut self.outs,
            dirty: &mut self.dirty,
            pool: &mut self.pool,
            max_output: self.shared.config.ws_max_output_bytes,
            over: &mut self.over,
        };
        let mut any = false;
        let stats = self.stats.reactor(self.id as usize);
        for item in &p.items {
            let n = if let Some(user) = item.channel.strip_prefix(SERVER_TO_USER_PREFIX) {
                // Server-to-user: every socket signed in as that user, subscribed or not.
                match self.users[app].get(user) {
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
    fn deliver_presence(&mut self, p: &inbox::Presence) {
        let Some(cid) = self.channels.lookup(p.app, &p.item.channel) else {
            return;
        };
        let except = self.resolve(p.except);
        let ch = self.channels.get_mut(cid);
        // Joiners whose list predates this change see it and every later one.
        ch.joiners.retain(|&(_, seq)| seq >= p.seq);
        let mut sink = Sink {
            outs: &mut self.outs,
            dirty: &mut self.dirty,
            pool: &mut self.pool,
            max_output: self.shared.config.ws_max_output_bytes,
            over: &mut self.over,
        };
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

    fn terminate_user(&mut self, app: u32, user: &str) {
        let Some(slots) = self.users[app as usize].get(user).cloned() else {
            return;
        };
        for idx in slots {
            self.end(idx, Close::Terminated);
        }
    }

    /// Publishes to every subscriber on every reactor: here now, elsewhere through the
    /// inboxes of the reactors that hold subscribers of its channels (the directory's
    /// [`ReactorSet`](crate::directory::ReactorSet)), so that the others are not woken.
    fn publish(&mut self, p: inbox::Publish) {
        // Earlier publishes from other reactors may wait in the inbox; deliver them first so
        // that per channel, local subscribers see publishes in the order they were accepted.
        self.drain_inbox();
        let p = Arc::new(p);
        self.deliver_publish(&p);
        let reactors = self.shared.inboxes.len();
        if reactors == 1 {
            return;
        }
        let mut to = ReactorSet::default();
        for item in &p.items {
            if item.channel.starts_with(SERVER_TO_USER_PREFIX) {
                // The user index is per reactor: any of them may hold that user's sockets.
                to = ReactorSet::all(reactors);
                break;
            }
            to.union(
                self.shared
                    .directory
                    .reactors(p.app as usize, &item.channel),
            );
        }
        to.remove(self.id);
        for r in to.iter() {
            self.shared.inboxes[r as usize].push(Command::Publish(p.clone()));
        }
    }

    // ---------------------------------------------------------------- shutdown

    fn begin_stop(&mut self) {
        let grace = Duration::from_millis(self.shared.config.shutdown_grace_period_ms);
        self.stop_deadline = Some(Instant::now() + grace);
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

    fn finish(&mut self) {
        for idx in 0..self.slots.len() as u32 {
            if self.live(idx).is_some() {
                self.kill(idx);
            }
        }
        self.free_dead();
    }

    // ---------------------------------------------------------------- channels

    /// Removes slot `idx` from the channel of `sub` (already taken out of `conn.subs`).
    fn leave_channel(&mut self, idx: u32, sub: Sub) {
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
        }
    }
}

/// A duration in milliseconds as the loop clock's unit, capped below half its range so
/// that wrapping comparisons stay meaningful.
fn ms_u32(ms: u64) -> u32 {
    ms.min(i32::MAX as u64) as u32
}

/// `true` once the loop clock `now` has reached `deadline` (both wrapping milliseconds).
fn reached(now: u32, deadline: u32) -> bool {
    (now.wrapping_sub(deadline) as i32) >= 0
}
