//! A reactor: one thread, one `mio::Poll`, one `SO_REUSEPORT` listener, and the connections
//! the kernel hands that listener. I/O only: what the bytes mean is the session layer's
//! ([`crate::session`]).
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
//! At the open-files limit (`EMFILE` / `ENFILE` on `accept`) a pending connection is not
//! left waiting in the backlog: the reactor closes the descriptor it keeps in reserve
//! ([`SpareFd`]), accepts the connection into the freed slot, writes the session's 503 and
//! closes it, takes the spare back, and counts the socket once in
//! `rejected_connections_total{reason="no_file_descriptors"}` — for as long as the backlog
//! holds connections, within the accept budget. The spares are a pool shared by the
//! server's reactors ([`SparePool`]: why shared is said there). The metrics port's reactor
//! also keeps a spare of its own that it lends to one connection and *serves* (closing it
//! after one response), so an operator can still scrape and see why; a connection that
//! arrives while that one is open gets the 503. Only when no spare can be had (threads raced
//! for the freed slots) does accepting pause for [`ACCEPT_PAUSE`].
//!
//! Nothing here blocks. Delivery takes no lock; a publish takes, for each of its channels,
//! the directory's shard lock (held for one lookup, to learn which reactors hold
//! subscribers), and the inbox lock of each such reactor (held for one push).

pub mod inbox;
pub mod token;

use std::io::{self, Read, Write};
use std::sync::Arc;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll};

use crate::conn::{flags, Conn, Phase, ReadResult, Transport};
use crate::metrics::stats::{ReactorCounter, Rejection};
use crate::session::{Context, Service, Shared};
use crate::sys::{SpareFd, SparePool};

/// Bytes read per `read()` into the scratch buffer.
const READ_CHUNK: usize = 64 * 1024;
/// Bytes read per `read()` into a connection's spill.
const SPILL_CHUNK: usize = 16 * 1024;
/// Reads per readiness event before the connection waits for the next iteration.
const READ_BUDGET: usize = 8;
/// Accepts per iteration.
const ACCEPT_BUDGET: usize = 256;
/// How long accepting pauses after running out of file descriptors with no spare to spend.
const ACCEPT_PAUSE: Duration = Duration::from_millis(100);

/// What spending a spare descriptor on the backlog came to.
enum AtLimit {
    /// A pending connection was taken (refused with a 503, or served on the lent spare).
    Answered,
    /// The backlog is empty.
    Empty,
    /// No spare could be had.
    Stuck,
}

/// One reactor thread: the poller, the listener, the read scratch and the loop's timers,
/// around the session [`Context`] that owns the connections.
pub struct Reactor {
    poll: Poll,
    listener: TcpListener,
    /// Read buffer. Invariant: `len() == READ_CHUNK` whenever it is in place (it is taken
    /// out while a read is processed).
    scratch: Vec<u8>,
    /// Slots whose read budget ran out.
    read_pending: Vec<u32>,
    next_sweep: Instant,
    accept_more: bool,
    accept_paused_until: Option<Instant>,
    /// Spent to answer (503) and close a connection accepted at the open-files limit.
    spares: Arc<SparePool>,
    /// The metrics port only: spent to accept and serve one connection at the limit.
    lend: Option<SpareFd>,
    /// The 503 for a connection refused at the limit ([`Context::fd_limit_response`]).
    refusal: Vec<u8>,
    stop_deadline: Option<Instant>,
    cx: Context,
}

impl Reactor {
    /// A reactor with id `id` (0-based, < 256) over `poll` and `listener`, spending
    /// `spares` at the open-files limit.
    pub fn new(
        id: u8,
        poll: Poll,
        mut listener: TcpListener,
        shared: Arc<Shared>,
        spares: Arc<SparePool>,
    ) -> Reactor {
        poll.registry()
            .register(&mut listener, token::LISTENER, Interest::READABLE)
            .expect("registering a fresh listener");
        let cx = Context::new(id, shared);
        let lend = matches!(cx.shared.service, Service::Metrics { .. }).then(SpareFd::open);
        Reactor {
            poll,
            listener,
            scratch: vec![0; READ_CHUNK],
            read_pending: Vec::new(),
            next_sweep: Instant::now() + Duration::from_secs(1),
            // (the first sweep may come early; later ones follow `Context::sweep_interval`)
            accept_more: false,
            accept_paused_until: None,
            spares,
            lend,
            refusal: cx.fd_limit_response(),
            stop_deadline: None,
            cx,
        }
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
            self.cx.now = busy_from
                .saturating_duration_since(self.cx.shared.started)
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
            self.cx
                .my_stats()
                .add_reactor(ReactorCounter::BusyNanos, busy);
            if let Some(deadline) = self.stop_deadline {
                if self.cx.live == 0 || Instant::now() >= deadline {
                    break;
                }
            }
        }
        self.cx.finish();
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
                if let Some(c) = self.cx.live_mut(idx) {
                    c.clear(flags::READ_PENDING);
                    self.resume(idx);
                }
            }
        }
        self.cx.drain_inbox();
        // Connections whose app lookup was answered go on with their held input next
        // iteration (the poll does not wait while any are pending).
        for idx in std::mem::take(&mut self.cx.resumed) {
            if let Some(c) = self.cx.live_mut(idx) {
                if !c.has(flags::READ_PENDING) {
                    c.set(flags::READ_PENDING);
                    self.read_pending.push(idx);
                }
            }
        }
        if self.cx.stop_requested && self.stop_deadline.is_none() {
            let grace = Duration::from_millis(self.cx.shared.config.shutdown_grace_period_ms);
            self.stop_deadline = Some(Instant::now() + grace);
            self.cx.begin_stop();
        }
        if now >= self.next_sweep {
            self.next_sweep = now + self.cx.sweep_interval();
            self.cx.sweep();
        }
        // Flushing can find slow consumers, and closing them queues close frames: repeat
        // until nothing is left to flush (sockets that are behind leave the dirty list).
        loop {
            if !self.cx.over.is_empty() {
                self.cx.close_slow_consumers();
            }
            if self.cx.dirty.is_empty() {
                break;
            }
            self.flush_dirty();
        }
        if !self.cx.latencies.is_empty() {
            let flushed = Instant::now();
            let stats = self.cx.stats.reactor(self.cx.id as usize);
            for t in self.cx.latencies.drain(..) {
                stats.observe_latency_ns(flushed.saturating_duration_since(t).as_nanos() as u64);
            }
        }
        self.cx.free_dead();
        self.restore_spares();
    }

    /// Takes back spares that are not held: the one lent to a metrics connection that has
    /// closed since, or ones whose freed slot another thread took. An `open()` per
    /// iteration while a spare is missing, an atomic load otherwise.
    fn restore_spares(&mut self) {
        self.spares.refill();
        if let Some(lend) = self.lend.as_mut() {
            if !lend.held() {
                lend.restore();
            }
        }
    }

    fn accept(&mut self) {
        self.accept_more = false;
        // A free slot goes to a missing spare before it goes to a new connection: the spare
        // is what lets the next connection at the limit be answered.
        self.restore_spares();
        for _ in 0..ACCEPT_BUDGET {
            match self.listener.accept() {
                Ok((sock, _)) => {
                    self.add_conn(sock);
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if matches!(e.raw_os_error(), Some(libc::EMFILE) | Some(libc::ENFILE)) => {
                    match self.at_fd_limit() {
                        AtLimit::Answered => {}
                        AtLimit::Empty => return,
                        AtLimit::Stuck => {
                            // No spare to spend: the pending connection stays in the
                            // backlog; try again shortly rather than spin.
                            self.accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
                            return;
                        }
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::OutOfMemory => {
                    self.accept_paused_until = Some(Instant::now() + ACCEPT_PAUSE);
                    return;
                }
                Err(_) => continue,
            }
        }
        self.accept_more = true;
    }

    /// `accept` failed for want of a descriptor: spend a spare on the pending connection
    /// (see the module doc).
    fn at_fd_limit(&mut self) -> AtLimit {
        if let Some(lend) = self.lend.as_mut() {
            if lend.release() {
                match self.listener.accept() {
                    Ok((sock, _)) => {
                        if let Some(idx) = self.add_conn(sock) {
                            self.cx.conn_mut(idx).set(flags::NO_KEEP_ALIVE);
                        }
                        return AtLimit::Answered;
                    }
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        lend.restore();
                        return AtLimit::Empty;
                    }
                    // Another thread took the freed slot: try the other spare.
                    Err(_) => {
                        lend.restore();
                    }
                }
            }
        }
        let spares = self.spares.clone();
        let outcome = spares.with_one_released(|| match self.listener.accept() {
            Ok((sock, _)) => {
                self.refuse(sock);
                self.cx.my_stats().reject(Rejection::NoFileDescriptors);
                AtLimit::Answered
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => AtLimit::Empty,
            Err(_) => AtLimit::Stuck,
        });
        outcome.unwrap_or(AtLimit::Stuck)
    }

    /// Answers a connection accepted at the open-files limit with the 503 and closes it.
    fn refuse(&mut self, sock: TcpStream) {
        // A new socket's send buffer is empty: the few hundred bytes go out whole.
        let _ = (&sock).write(&self.refusal);
        let _ = sock.shutdown(std::net::Shutdown::Write);
        // Take in what the client has sent already (its request, most likely): closing a
        // socket with unread input sends a reset, which can destroy the answer in flight.
        for _ in 0..4 {
            match (&sock).read(&mut self.scratch) {
                Ok(n) if n > 0 => {}
                _ => break,
            }
        }
    }

    fn add_conn(&mut self, mut sock: TcpStream) -> Option<u32> {
        let _ = sock.set_nodelay(true);
        let (idx, gen) = self.cx.reserve();
        if self
            .poll
            .registry()
            .register(&mut sock, token::conn(idx, gen), Interest::READABLE)
            .is_err()
        {
            self.cx.unreserve(idx);
            return None;
        }
        let conn = Conn::new(Transport::Plain(sock), self.cx.now);
        self.cx.insert(idx, conn);
        Some(idx)
    }

    fn on_event(&mut self, t: mio::Token, readable: bool, closed: bool, writable: bool) {
        let (idx, gen) = token::split(t);
        match self.cx.slots.get(idx as usize) {
            Some(s) if s.gen == gen && s.conn.as_ref().is_some_and(|c| !c.has(flags::DEAD)) => {}
            _ => return, // stale event for a freed or reused slot
        }
        if writable {
            let o = &mut self.cx.outs[idx as usize];
            if o.buf.is_some() && !o.dirty {
                o.dirty = true;
                self.cx.dirty.push(idx);
            }
        }
        if closed {
            self.cx.conn_mut(idx).set(flags::HUP_REPORTED);
        }
        let c = self.cx.conn(idx);
        if c.phase == Phase::Closing {
            // A closing socket is not read: whatever it still sends is dropped with it,
            // and a peer that keeps sending meets a full window rather than a sink. Its
            // hang-up (or the closing timeout) ends it.
            if closed {
                self.cx.kill(idx);
            }
        } else if readable && !c.has(flags::READ_PENDING) {
            self.read_ready(idx);
        }
    }

    fn read_ready(&mut self, idx: u32) {
        for _ in 0..READ_BUDGET {
            let Some(conn) = self.cx.live_mut(idx) else {
                return;
            };
            if conn.has(flags::READ_PAUSED | flags::AWAITING) {
                // Resumed by the flush that drains its output, or by the app store's answer.
                return;
            }
            if conn.phase == Phase::Closing {
                return;
            }
            let spill = conn.spill.take();
            let (result, full) = match spill {
                Some(mut sp) => {
                    let len = sp.len();
                    sp.resize(len + SPILL_CHUNK, 0);
                    let r = self.cx.conn_mut(idx).transport.read(&mut sp[len..]);
                    match r {
                        ReadResult::Data(n) => {
                            sp.truncate(len + n);
                            self.note_rx(idx);
                            let used = self.cx.process(idx, &mut sp);
                            self.keep_spill(idx, sp, used);
                            (ReadResult::Data(n), n == SPILL_CHUNK)
                        }
                        other => {
                            sp.truncate(len);
                            self.cx.conn_mut(idx).spill = Some(sp);
                            (other, false)
                        }
                    }
                }
                None => {
                    let mut buf = std::mem::take(&mut self.scratch);
                    let r = self.cx.conn_mut(idx).transport.read(&mut buf);
                    let full = matches!(r, ReadResult::Data(n) if n == buf.len());
                    if let ReadResult::Data(n) = r {
                        self.note_rx(idx);
                        let used = self.cx.process(idx, &mut buf[..n]);
                        if used < n {
                            if let Some(c) = self.cx.live_mut(idx) {
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
            let read_on = self.cx.live(idx).is_some_and(|c| {
                c.has(flags::HUP_REPORTED) || c.transport.has_buffered_plaintext()
            });
            match result {
                ReadResult::Data(_) if !full && !read_on => return,
                ReadResult::Data(_) => {}
                ReadResult::WouldBlock => return,
                ReadResult::Eof => return self.on_eof(idx),
                ReadResult::Failed => return self.cx.kill(idx),
            }
        }
        if let Some(c) = self.cx.live_mut(idx) {
            c.set(flags::READ_PENDING);
            self.read_pending.push(idx);
        }
    }

    /// Continues a connection whose input stopped early (read budget spent, or paused for
    /// back-pressure): first what it already holds, then the socket.
    fn resume(&mut self, idx: u32) {
        if let Some(sp) = self.cx.live_mut(idx).and_then(|c| c.spill.take()) {
            let mut sp = sp;
            let used = self.cx.process(idx, &mut sp);
            self.keep_spill(idx, sp, used);
        }
        if self
            .cx
            .live(idx)
            .is_some_and(|c| !c.has(flags::READ_PAUSED))
        {
            self.read_ready(idx);
        }
    }

    fn note_rx(&mut self, idx: u32) {
        let now = self.cx.now;
        let c = self.cx.conn_mut(idx);
        c.last_rx = now;
        if c.has(flags::PING_SENT) {
            c.clear(flags::PING_SENT);
            c.mark = now;
        }
    }

    // The spill is boxed so that an idle connection pays 8 bytes for it, not 24.
    #[allow(clippy::box_collection)]
    fn keep_spill(&mut self, idx: u32, mut sp: Box<Vec<u8>>, used: usize) {
        let Some(c) = self.cx.live_mut(idx) else {
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

    fn on_eof(&mut self, idx: u32) {
        let c = self.cx.conn(idx);
        let pending = self.cx.outs[idx as usize].buf.is_some();
        if c.phase == Phase::Http && pending {
            // The client half-closed after its request: finish the response, then close.
            self.cx
                .conn_mut(idx)
                .set(flags::CLOSE_AFTER_FLUSH | flags::PEER_CLOSED);
        } else {
            self.cx.kill(idx);
        }
    }

    fn flush_dirty(&mut self) {
        let mut dirty = std::mem::take(&mut self.cx.dirty);
        for &idx in &dirty {
            self.cx.outs[idx as usize].dirty = false;
            self.flush(idx);
        }
        dirty.clear();
        // Flushing never marks slots dirty, so nothing was pushed while the list was out.
        debug_assert!(self.cx.dirty.is_empty());
        self.cx.dirty = dirty;
    }

    fn flush(&mut self, idx: u32) {
        let Some(slot) = self.cx.slots.get_mut(idx as usize) else {
            return;
        };
        let Some(conn) = slot.conn.as_mut().filter(|c| !c.has(flags::DEAD)) else {
            return;
        };
        let o = &mut self.cx.outs[idx as usize];
        if let Some(buf) = o.buf.as_mut() {
            while !buf.is_empty() {
                match conn.transport.write(buf.pending()) {
                    Ok(0) => return self.cx.kill(idx),
                    Ok(n) => buf.consume(n),
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                        o.backlog = true;
                        if buf.len() > self.cx.shared.config.ws_max_output_bytes
                            && !o.over
                            && conn.phase == Phase::WebSocket
                        {
                            o.over = true;
                            self.cx.over.push(idx);
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
                    Err(_) => return self.cx.kill(idx),
                }
            }
            o.backlog = false;
            if let Some(b) = o.buf.take() {
                self.cx.pool.put(b);
            }
        }
        if conn.has(flags::READ_PAUSED) && !conn.has(flags::READ_PENDING) {
            conn.clear(flags::READ_PAUSED);
            conn.set(flags::READ_PENDING);
            self.read_pending.push(idx);
        }
        if conn.has(flags::CLOSE_AFTER_FLUSH) {
            if conn.has(flags::PEER_CLOSED) {
                return self.cx.kill(idx);
            }
            conn.clear(flags::CLOSE_AFTER_FLUSH);
            // Half-close and wait for the peer's EOF (or the closing timeout): closing at
            // once could turn unread input into a reset that destroys what we just sent.
            conn.transport.shutdown_write();
            conn.phase = Phase::Closing;
            conn.mark = self.cx.now;
        }
    }
}
