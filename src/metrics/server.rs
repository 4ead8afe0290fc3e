//! The private metrics listener (default port 9601): `/metrics`, `/`, `/ready`, `/usage`.
//!
//! It runs on its own thread with its own small `mio` loop (one `Poll`, the listener, a
//! `Waker` for [`MetricsServer::stop`], at most [`MAX_CONNS`] connections) and never touches
//! a reactor: a scrape only loads the reactors' counter cells (`Relaxed`) and reads `/proc`.
//!
//! Each connection keeps only its unfinished input (at most one request head) and any output
//! the socket would not take yet; complete requests are parsed from a scratch buffer shared
//! by all connections. Pipelined requests are answered in order, their responses written
//! together with one `write` when the socket takes them. A connection idle for
//! [`IDLE_TIMEOUT`] is closed, and one past the connection cap gets a 503 and is closed.
//!
//! Routes (soketi's metrics server, with real HTTP statuses, see docs/compat.md):
//! - `GET /metrics`: the text exposition, only when `config.enabled` (else 404), always with
//!   `Content-Type: text/plain; version=0.0.4; charset=utf-8` (Prometheus 3 refuses a scrape
//!   without it); the query string (soketi's `?json=1`) is ignored;
//! - `GET /`: `OK`; `GET /ready`: `OK`, or 503 with soketi's "server is closing" JSON while
//!   the server shuts down;
//! - `GET /usage`: `{"memory":{"free","used","total","percent"}}` (see
//!   [`memory_usage`]);
//! - `HEAD` is answered like `GET` without the body; other methods on these paths: 405;
//!   other paths: 404; a malformed request: 400 (or the parser's status), then close.

use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::net::{TcpListener, TcpStream};
use mio::{Events, Interest, Poll, Token, Waker};

use super::encode::{render, ScrapeContext, CONTENT_TYPE};
use super::process::{memory_usage, snapshot};
use super::stats::Stats;
use crate::config::MetricsConfig;
use crate::http::{parse_head, write_response, Limits, Method};
use crate::parse::Status;

/// Most metrics connections open at once; more are answered 503 and closed.
pub const MAX_CONNS: usize = 64;
/// A connection with no traffic for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a connection that we close drains the peer's unread input (see `linger`).
const LINGER: Duration = Duration::from_secs(2);
/// Most input drained while lingering before giving up.
const LINGER_MAX_BYTES: usize = 64 * 1024;
/// Largest request head; also the most unfinished input a connection keeps.
const MAX_HEAD_BYTES: usize = 8192;
/// Request bodies are not used by any route; bigger ones are refused (413).
const MAX_BODY_BYTES: u64 = 64 * 1024;
/// Pipelined requests stop being answered while this much response waits to be written.
const RESPONSE_SOFT_CAP: usize = 256 * 1024;
/// Pause before accepting again after an accept error such as EMFILE.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);
/// Connections accepted per listener event before other events get their turn.
const ACCEPT_BUDGET: usize = 256;

const LISTENER: Token = Token(usize::MAX - 1);
const WAKER: Token = Token(usize::MAX);

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";
/// soketi's readiness error while shutting down (with the real status, 503).
const CLOSING_BODY: &str =
    r#"{"error":"The server is closing. Choose another server. :)","code":503}"#;

/// What the metrics thread reads. Built once at start-up.
pub struct MetricsState {
    pub stats: Arc<Stats>,
    /// Configured app ids, index = app index in `stats`.
    pub app_ids: Vec<String>,
    /// The public port, for names and the `port` label.
    pub port: u16,
    pub config: MetricsConfig,
    /// Set when the server starts shutting down; `/ready` then answers 503.
    pub closing: Arc<AtomicBool>,
    /// From [`process::start_time_seconds`](super::process::start_time_seconds), at start-up.
    pub start_time_seconds: f64,
}

/// A running metrics listener thread. Dropping it stops it too.
pub struct MetricsServer {
    addr: SocketAddr,
    stop: Arc<AtomicBool>,
    waker: Arc<Waker>,
    thread: Option<JoinHandle<()>>,
}

/// Knobs the tests shrink.
#[derive(Clone, Copy)]
struct Tuning {
    max_conns: usize,
    idle_timeout: Duration,
}

impl MetricsServer {
    /// Serves `listener` (already bound, e.g. to `config.host:config.port`) on a new thread
    /// named `metrics`.
    pub fn spawn(
        listener: std::net::TcpListener,
        state: Arc<MetricsState>,
    ) -> io::Result<MetricsServer> {
        Self::spawn_tuned(
            listener,
            state,
            Tuning {
                max_conns: MAX_CONNS,
                idle_timeout: IDLE_TIMEOUT,
            },
        )
    }

    fn spawn_tuned(
        listener: std::net::TcpListener,
        state: Arc<MetricsState>,
        tuning: Tuning,
    ) -> io::Result<MetricsServer> {
        // Slot indices live in the low 16 bits of a token.
        assert!(tuning.max_conns > 0 && tuning.max_conns <= 0xffff);
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let mut listener = TcpListener::from_std(listener);
        let poll = Poll::new()?;
        poll.registry()
            .register(&mut listener, LISTENER, Interest::READABLE)?;
        let waker = Arc::new(Waker::new(poll.registry(), WAKER)?);
        let stop = Arc::new(AtomicBool::new(false));
        let mut event_loop = Loop {
            poll,
            listener,
            slots: (0..tuning.max_conns)
                .map(|_| Slot {
                    generation: 0,
                    conn: None,
                })
                .collect(),
            scratch: vec![0; MAX_HEAD_BYTES],
            shared: Shared {
                state,
                body: Vec::new(),
                resp: Vec::new(),
            },
            stop: Arc::clone(&stop),
            tuning,
            accept_again_at: None,
        };
        let thread = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || event_loop.run())?;
        Ok(MetricsServer {
            addr,
            stop,
            waker,
            thread: Some(thread),
        })
    }

    /// The address the listener is bound to (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the thread (waking it through the `Waker`), closes every metrics connection
    /// and the listener, and waits for the thread to end.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        let _ = self.waker.wake();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// A connection slot; the token carries the generation so that a stale event for a reused
/// slot is ignored.
struct Slot {
    generation: u32,
    conn: Option<Conn>,
}

struct Conn {
    stream: TcpStream,
    /// Unfinished input only (part of a request head, at most `MAX_HEAD_BYTES`); empty, and
    /// without capacity, between requests.
    input: Vec<u8>,
    /// Response bytes the socket has not taken yet, from `written` on; empty while nothing
    /// waits. New requests are not read while it is non-empty.
    output: Vec<u8>,
    written: usize,
    /// Body bytes of the last request still to be discarded.
    skip: u64,
    /// Close once `output` is written (`Connection: close`, or an error response).
    close_after_flush: bool,
    /// Set once our side is shut down after the last response: unread input is drained
    /// until the peer closes or this deadline passes. Closing with unread input would send
    /// a RST, which can destroy the response before the client reads it.
    linger_until: Option<Instant>,
    last_active: Instant,
}

/// What every connection's handler reads and reuses.
struct Shared {
    state: Arc<MetricsState>,
    /// The exposition of the current scrape; its capacity is reused across scrapes.
    body: Vec<u8>,
    /// Responses being built for one connection, written with one `write`; reused.
    resp: Vec<u8>,
}

struct Loop {
    poll: Poll,
    listener: TcpListener,
    slots: Vec<Slot>,
    /// Where reads land when a connection has no unfinished input.
    scratch: Vec<u8>,
    shared: Shared,
    stop: Arc<AtomicBool>,
    tuning: Tuning,
    /// Set after an accept error (EMFILE…) or a spent accept budget: accepting resumes at
    /// this time.
    accept_again_at: Option<Instant>,
}

/// What to do with a connection after handling an event.
#[derive(PartialEq, Eq)]
enum Next {
    Keep,
    Close,
}

fn token(slot: usize, generation: u32) -> Token {
    Token(((generation as usize) << 16) | slot)
}

fn split_token(t: Token) -> (usize, u32) {
    (t.0 & 0xffff, (t.0 >> 16) as u32)
}

impl Loop {
    fn run(&mut self) {
        let mut events = Events::with_capacity(128);
        let sweep_every = (self.tuning.idle_timeout / 4).max(Duration::from_millis(10));
        let mut next_sweep = Instant::now() + sweep_every;
        loop {
            let now = Instant::now();
            let mut wait = next_sweep.saturating_duration_since(now);
            if let Some(at) = self.accept_again_at {
                wait = wait.min(at.saturating_duration_since(now));
            }
            match self.poll.poll(&mut events, Some(wait)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                // epoll_wait only fails on programming errors; nothing sensible remains.
                Err(_) => return,
            }
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            for event in events.iter() {
                match event.token() {
                    WAKER => {}
                    LISTENER => self.accept(),
                    t => self.on_conn_event(t),
                }
            }
            if self.stop.load(Ordering::Relaxed) {
                return;
            }
            let now = Instant::now();
            if self.accept_again_at.is_some_and(|at| now >= at) {
                self.accept_again_at = None;
                self.accept();
            }
            if now >= next_sweep {
                self.close_idle(now);
                next_sweep = now + sweep_every;
            }
        }
    }

    fn accept(&mut self) {
        if self.accept_again_at.is_some() {
            return;
        }
        for _ in 0..ACCEPT_BUDGET {
            match self.listener.accept() {
                Ok((stream, _)) => self.add(stream),
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => return,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                // The peer gave up before we accepted: that concerns it alone.
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => {}
                Err(_) => {
                    // EMFILE/ENFILE (out of descriptors) or worse: back off instead of
                    // spinning on a listener that stays readable.
                    self.accept_again_at = Some(Instant::now() + ACCEPT_BACKOFF);
                    return;
                }
            }
        }
        // Budget spent with connections still queued: edge-triggered, so come back soon.
        self.accept_again_at = Some(Instant::now());
    }

    fn add(&mut self, mut stream: TcpStream) {
        let _ = stream.set_nodelay(true);
        let Some(idx) = self.slots.iter().position(|s| s.conn.is_none()) else {
            // Over the cap: a best-effort 503, then close.
            let mut resp = Vec::with_capacity(160);
            let body = br#"{"error":"Too many metrics connections.","code":503}"#;
            write_response(&mut resp, 503, &[("Content-Type", JSON)], body, false);
            let _ = stream.write(&resp);
            return;
        };
        let slot = &mut self.slots[idx];
        let t = token(idx, slot.generation);
        let interest = Interest::READABLE | Interest::WRITABLE;
        if self
            .poll
            .registry()
            .register(&mut stream, t, interest)
            .is_err()
        {
            return;
        }
        slot.conn = Some(Conn {
            stream,
            input: Vec::new(),
            output: Vec::new(),
            written: 0,
            skip: 0,
            close_after_flush: false,
            linger_until: None,
            last_active: Instant::now(),
        });
        // Data may have arrived before registration; edge-triggered, so look now.
        self.on_conn_event(t);
    }

    fn on_conn_event(&mut self, t: Token) {
        let (idx, generation) = split_token(t);
        let Some(slot) = self.slots.get_mut(idx) else {
            return;
        };
        if slot.generation != generation {
            return;
        }
        let Some(conn) = slot.conn.as_mut() else {
            return;
        };
        if drive(conn, &mut self.scratch, &mut self.shared) == Next::Close {
            self.close(idx);
        }
    }

    fn close(&mut self, idx: usize) {
        let slot = &mut self.slots[idx];
        if let Some(mut conn) = slot.conn.take() {
            let _ = self.poll.registry().deregister(&mut conn.stream);
        }
        // 15 bits, so a token never reaches the listener's or waker's, even with a 32-bit usize.
        slot.generation = slot.generation.wrapping_add(1) & 0x7fff;
    }

    fn close_idle(&mut self, now: Instant) {
        for idx in 0..self.slots.len() {
            let idle = self.slots[idx]
                .conn
                .as_ref()
                .is_some_and(|c| match c.linger_until {
                    Some(deadline) => now >= deadline,
                    None => {
                        now.saturating_duration_since(c.last_active) >= self.tuning.idle_timeout
                    }
                });
            if idle {
                self.close(idx);
            }
        }
    }
}

/// Writes pending output, answers complete requests, reads more; until the socket would
/// block (edge-triggered: every readiness is used up before returning `Keep`).
fn drive(conn: &mut Conn, scratch: &mut [u8], shared: &mut Shared) -> Next {
    if conn.linger_until.is_some() {
        return linger(conn, scratch);
    }
    if !conn.output.is_empty() {
        match flush_output(conn) {
            Ok(true) => {}
            Ok(false) => return Next::Keep,
            Err(_) => return Next::Close,
        }
    }
    if conn.close_after_flush {
        return linger(conn, scratch);
    }
    loop {
        // Invariant here: no pending output. Answer what is already buffered.
        let mut more = false;
        if !conn.input.is_empty() {
            let input = std::mem::take(&mut conn.input);
            let (used, at_cap) = handle_requests(conn, &input, shared);
            more = at_cap;
            conn.input = input;
            conn.input.drain(..used);
            if conn.input.is_empty() {
                conn.input = Vec::new();
            }
        }
        if !shared.resp.is_empty() {
            match send(conn, shared) {
                Ok(true) => {}
                Ok(false) => return Next::Keep,
                Err(_) => return Next::Close,
            }
        }
        if conn.close_after_flush {
            return linger(conn, scratch);
        }
        if more {
            // Stopped at the response cap with requests still buffered; they come first.
            continue;
        }
        // Read: into the scratch buffer when nothing is pending, else after the leftover.
        let read = if conn.input.is_empty() {
            conn.stream.read(scratch)
        } else {
            // `handle_requests` turns a full buffer without a complete head into a 431.
            let start = conn.input.len();
            conn.input.resize(MAX_HEAD_BYTES, 0);
            let r = conn.stream.read(&mut conn.input[start..]);
            conn.input.truncate(start + *r.as_ref().unwrap_or(&0));
            r
        };
        match read {
            Ok(0) => return Next::Close,
            Ok(n) => {
                conn.last_active = Instant::now();
                if conn.input.is_empty() {
                    // The common case: whole requests straight from the scratch buffer;
                    // only an unfinished remainder is kept by the connection.
                    let (used, _) = handle_requests(conn, &scratch[..n], shared);
                    conn.input.extend_from_slice(&scratch[used..n]);
                }
                // Anything left in `input` is answered at the top of the loop, together
                // with these responses (one write for a pipelined batch).
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Keep,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Next::Close,
        }
    }
}

/// The staged close of RFC 9112 §9.6: once the last response is written, shut down our
/// sending side, then read and discard until the peer closes (or `LINGER` passes, or too
/// much arrives), so that the kernel does not answer unread input with a RST.
fn linger(conn: &mut Conn, scratch: &mut [u8]) -> Next {
    if conn.linger_until.is_none() {
        if conn.stream.shutdown(std::net::Shutdown::Write).is_err() {
            return Next::Close;
        }
        conn.linger_until = Some(Instant::now() + LINGER);
        conn.input = Vec::new();
        conn.skip = 0;
    }
    let mut drained = 0;
    loop {
        match conn.stream.read(scratch) {
            Ok(0) => return Next::Close,
            Ok(n) => {
                drained += n;
                if drained > LINGER_MAX_BYTES {
                    return Next::Close;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Next::Keep,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return Next::Close,
        }
    }
}

/// Writes `conn.output` from `written`; `Ok(true)` when all of it is gone.
fn flush_output(conn: &mut Conn) -> io::Result<bool> {
    while conn.written < conn.output.len() {
        match conn.stream.write(&conn.output[conn.written..]) {
            Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                conn.written += n;
                conn.last_active = Instant::now();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => return Ok(false),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    // Release a large buffer (a scrape) rather than keep it per connection.
    conn.output = Vec::new();
    conn.written = 0;
    Ok(true)
}

/// Writes `shared.resp` (usually with a single `write`); what the socket does not take
/// moves to `conn.output`. `Ok(true)` when all of it was written.
fn send(conn: &mut Conn, shared: &mut Shared) -> io::Result<bool> {
    let mut done = 0;
    let result = loop {
        if done == shared.resp.len() {
            break Ok(true);
        }
        match conn.stream.write(&shared.resp[done..]) {
            Ok(0) => break Err(io::ErrorKind::WriteZero.into()),
            Ok(n) => {
                done += n;
                conn.last_active = Instant::now();
            }
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => {
                conn.output.extend_from_slice(&shared.resp[done..]);
                conn.written = 0;
                break Ok(false);
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => break Err(e),
        }
    };
    shared.resp.clear();
    result
}

/// Answers every complete request at the start of `data` (appending to `shared.resp`) and
/// returns how many bytes were used, and whether it stopped only because enough response
/// is waiting (`true`: call again once that is written). It also stops at an incomplete
/// head, and at an error (the connection is then closed after the response).
fn handle_requests(conn: &mut Conn, data: &[u8], shared: &mut Shared) -> (usize, bool) {
    let limits = Limits {
        max_head_bytes: MAX_HEAD_BYTES,
        max_headers: 32,
        max_body_bytes: MAX_BODY_BYTES,
    };
    let mut pos = 0;
    loop {
        if conn.close_after_flush {
            return (pos, false);
        }
        if conn.skip > 0 {
            let n = conn.skip.min((data.len() - pos) as u64);
            pos += n as usize;
            conn.skip -= n;
            if conn.skip > 0 {
                break;
            }
        }
        if pos == data.len() {
            break;
        }
        if shared.resp.len() >= RESPONSE_SOFT_CAP {
            return (pos, true);
        }
        match parse_head(&data[pos..], &limits) {
            Ok(Status::Partial) => {
                if data.len() - pos >= MAX_HEAD_BYTES {
                    error_response(&mut shared.resp, 431, "Request header too large.");
                    conn.close_after_flush = true;
                }
                break;
            }
            Err(e) => {
                error_response(&mut shared.resp, e.status(), e.message());
                conn.close_after_flush = true;
                break;
            }
            Ok(Status::Complete(head)) => {
                pos += head.head_len;
                conn.skip = head.content_length;
                let keep_alive = head.keep_alive;
                let http10_keep_alive = keep_alive && head.minor_version == 0;
                let head_only = matches!(head.method, Method::Head);
                let route = route(&head.method, head.path);
                respond(shared, route, keep_alive, http10_keep_alive, head_only);
                if !keep_alive {
                    conn.close_after_flush = true;
                }
            }
        }
    }
    (pos, false)
}

/// Where a request goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Route {
    Metrics,
    Root,
    Ready,
    Usage,
    NotFound,
    MethodNotAllowed,
}

fn route(method: &Method, path: &str) -> Route {
    let route = match path {
        "/metrics" => Route::Metrics,
        "/" => Route::Root,
        "/ready" => Route::Ready,
        "/usage" => Route::Usage,
        _ => return Route::NotFound,
    };
    if matches!(method, Method::Get | Method::Head) {
        route
    } else {
        Route::MethodNotAllowed
    }
}

fn respond(shared: &mut Shared, route: Route, keep_alive: bool, http10: bool, head_only: bool) {
    let state = &*shared.state;
    let keep: &[(&str, &str)] = if http10 {
        &[("Connection", "keep-alive")]
    } else {
        &[]
    };
    let out = &mut shared.resp;
    let start = out.len();
    let body_len;
    match route {
        Route::Metrics if state.config.enabled => {
            let process = snapshot(state.start_time_seconds);
            shared.body.clear();
            render(
                &mut shared.body,
                &ScrapeContext {
                    stats: &state.stats,
                    app_ids: &state.app_ids,
                    port: state.port,
                    prefix: &state.config.prefix,
                    port_in_name: state.config.port_in_name,
                    process: Some(&process),
                },
            );
            body_len = shared.body.len();
            let headers = [("Content-Type", CONTENT_TYPE)];
            write_with(out, 200, &headers, keep, &shared.body, keep_alive);
        }
        Route::Root => {
            body_len = 2;
            write_with(out, 200, &[("Content-Type", TEXT)], keep, b"OK", keep_alive);
        }
        Route::Ready if !state.closing.load(Ordering::Relaxed) => {
            body_len = 2;
            write_with(out, 200, &[("Content-Type", TEXT)], keep, b"OK", keep_alive);
        }
        Route::Ready => {
            body_len = CLOSING_BODY.len();
            let h = [("Content-Type", JSON)];
            write_with(out, 503, &h, keep, CLOSING_BODY.as_bytes(), keep_alive);
        }
        Route::Usage => {
            let m = memory_usage();
            // soketi's key order; `percent` is finite by construction.
            let body = format!(
                r#"{{"memory":{{"free":{},"used":{},"total":{},"percent":{}}}}}"#,
                m.free,
                m.used,
                m.total,
                serde_json::Number::from_f64(m.percent).map_or("0".into(), |n| n.to_string()),
            );
            body_len = body.len();
            let h = [("Content-Type", JSON)];
            write_with(out, 200, &h, keep, body.as_bytes(), keep_alive);
        }
        Route::MethodNotAllowed => {
            let body = error_body("Method not allowed.", 405);
            body_len = body.len();
            let h = [("Content-Type", JSON), ("Allow", "GET, HEAD")];
            write_with(out, 405, &h, keep, body.as_bytes(), keep_alive);
        }
        Route::Metrics | Route::NotFound => {
            let body = error_body("Not found.", 404);
            body_len = body.len();
            write_with(
                out,
                404,
                &[("Content-Type", JSON)],
                keep,
                body.as_bytes(),
                keep_alive,
            );
        }
    }
    if head_only {
        // HEAD: same head (Content-Length included), no body. The body is written last.
        let end = out.len();
        debug_assert!(end - start >= body_len);
        out.truncate(end - body_len);
    }
}

fn write_with(
    out: &mut Vec<u8>,
    status: u16,
    headers: &[(&str, &str)],
    extra: &[(&str, &str)],
    body: &[u8],
    keep_alive: bool,
) {
    if extra.is_empty() {
        write_response(out, status, headers, body, keep_alive);
    } else {
        let mut all: Vec<(&str, &str)> = headers.to_vec();
        all.extend_from_slice(extra);
        write_response(out, status, &all, body, keep_alive);
    }
}

/// soketi's error JSON, `{"error":"…","code":N}`, in its key order.
fn error_body(message: &str, code: u16) -> String {
    let message = serde_json::Value::from(message).to_string();
    format!(r#"{{"error":{message},"code":{code}}}"#)
}

fn error_response(out: &mut Vec<u8>, status: u16, message: &str) {
    let body = error_body(message, status);
    write_response(
        out,
        status,
        &[("Content-Type", JSON)],
        body.as_bytes(),
        false,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::encode::tests::{app_ids, check_exposition, fixture};
    use std::net::{IpAddr, Ipv4Addr, TcpStream as StdStream};

    fn config(enabled: bool) -> MetricsConfig {
        MetricsConfig {
            enabled,
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            prefix: "soketi_".to_owned(),
            port_in_name: true,
        }
    }

    fn start(enabled: bool, tuning: Option<Tuning>) -> (MetricsServer, Arc<MetricsState>) {
        start_with(fixture(), app_ids(), enabled, tuning)
    }

    fn start_with(
        stats: Stats,
        app_ids: Vec<String>,
        enabled: bool,
        tuning: Option<Tuning>,
    ) -> (MetricsServer, Arc<MetricsState>) {
        let state = Arc::new(MetricsState {
            stats: Arc::new(stats),
            app_ids,
            port: 6001,
            config: config(enabled),
            closing: Arc::new(AtomicBool::new(false)),
            start_time_seconds: crate::metrics::process::start_time_seconds(),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tuning = tuning.unwrap_or(Tuning {
            max_conns: MAX_CONNS,
            idle_timeout: IDLE_TIMEOUT,
        });
        let server = MetricsServer::spawn_tuned(listener, Arc::clone(&state), tuning).unwrap();
        (server, state)
    }

    fn connect(server: &MetricsServer) -> StdStream {
        let s = StdStream::connect(server.local_addr()).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        s
    }

    struct Response {
        status: u16,
        headers: Vec<(String, String)>,
        body: Vec<u8>,
    }

    impl Response {
        fn header(&self, name: &str) -> Option<&str> {
            self.headers
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| v.as_str())
        }
        fn text(&self) -> &str {
            std::str::from_utf8(&self.body).unwrap()
        }
    }

    /// Reads one response (framed by Content-Length) from `s`, keeping any extra bytes in
    /// `buf` for the next call. `head_only`: a response to HEAD has no body.
    fn read_response(s: &mut StdStream, buf: &mut Vec<u8>, head_only: bool) -> Response {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut resp = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(n) = resp.parse(buf).unwrap() {
                let headers: Vec<(String, String)> = resp
                    .headers
                    .iter()
                    .map(|h| {
                        (
                            h.name.to_owned(),
                            String::from_utf8(h.value.to_vec()).unwrap(),
                        )
                    })
                    .collect();
                let status = resp.code.unwrap();
                let len: usize = headers
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                    .map(|(_, v)| v.parse().unwrap())
                    .unwrap();
                let len = if head_only { 0 } else { len };
                while buf.len() < n + len {
                    read_more(s, buf);
                }
                let body = buf[n..n + len].to_vec();
                buf.drain(..n + len);
                return Response {
                    status,
                    headers,
                    body,
                };
            }
            read_more(s, buf);
        }
    }

    fn read_more(s: &mut StdStream, buf: &mut Vec<u8>) {
        let mut chunk = [0u8; 65536];
        let n = s.read(&mut chunk).unwrap();
        assert!(n > 0, "connection closed early");
        buf.extend_from_slice(&chunk[..n]);
    }

    fn get(server: &MetricsServer, path: &str) -> Response {
        let mut s = connect(server);
        write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        read_response(&mut s, &mut Vec::new(), false)
    }

    /// The server closed the connection cleanly (FIN after everything it sent).
    fn assert_closed(s: &mut StdStream) {
        let mut b = [0u8; 16];
        assert_eq!(s.read(&mut b).unwrap(), 0, "connection should be closed");
    }

    #[test]
    fn metrics_route_serves_the_exposition() {
        let (server, state) = start(true, None);
        let r = get(&server, "/metrics");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Type"), Some(CONTENT_TYPE));
        let samples = check_exposition(r.text());
        assert!(r.text().starts_with(
            "# HELP soketi_6001_connected The number of currently connected sockets.\n\
             # TYPE soketi_6001_connected gauge\n\
             soketi_6001_connected{app_id=\"app-1\",port=\"6001\"} 3\n"
        ));
        let rss = samples
            .iter()
            .find(|s| s.0 == "process_resident_memory_bytes")
            .unwrap()
            .2;
        assert!(rss > 1e6 && rss < 1e10, "{rss}");
        // Counters move between scrapes; the query string is ignored.
        state
            .stats
            .reactor(1)
            .add(0, crate::metrics::AppCounter::NewConnections, 1000);
        let r = get(&server, "/metrics?json=1");
        assert!(r
            .text()
            .contains("soketi_6001_new_connections_total{app_id=\"app-1\",port=\"6001\"} 1023\n"));
        server.stop();
    }

    #[test]
    fn metrics_route_is_404_when_disabled() {
        let (server, _) = start(false, None);
        let r = get(&server, "/metrics");
        assert_eq!(r.status, 404);
        assert_eq!(r.header("Content-Type"), Some(JSON));
        // The other routes work regardless.
        assert_eq!(get(&server, "/").status, 200);
        server.stop();
    }

    #[test]
    fn health_ready_usage_and_errors() {
        let (server, state) = start(true, None);
        let r = get(&server, "/");
        assert_eq!((r.status, r.text()), (200, "OK"));
        let r = get(&server, "/ready");
        assert_eq!((r.status, r.text()), (200, "OK"));
        state.closing.store(true, Ordering::Relaxed);
        let r = get(&server, "/ready");
        assert_eq!(r.status, 503);
        assert_eq!(r.text(), CLOSING_BODY);
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        assert_eq!(v["code"], 503);

        let r = get(&server, "/usage");
        assert_eq!(r.status, 200);
        assert_eq!(r.header("Content-Type"), Some(JSON));
        assert!(
            r.text().starts_with(r#"{"memory":{"free":"#),
            "{}",
            r.text()
        );
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let m = &v["memory"];
        let (used, total, free) = (
            m["used"].as_u64().unwrap(),
            m["total"].as_u64().unwrap(),
            m["free"].as_u64().unwrap(),
        );
        assert!(
            used > 1 << 20 && total >= used && free == total - used,
            "{v}"
        );
        let percent = m["percent"].as_f64().unwrap();
        assert!(percent > 0.0 && percent <= 100.0);

        assert_eq!(get(&server, "/nope").status, 404);
        assert_eq!(get(&server, "/metrics/").status, 404);

        let mut s = connect(&server);
        s.write_all(b"POST /metrics HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc")
            .unwrap();
        let r = read_response(&mut s, &mut Vec::new(), false);
        assert_eq!(r.status, 405);
        assert_eq!(r.header("Allow"), Some("GET, HEAD"));
        assert_eq!(r.text(), r#"{"error":"Method not allowed.","code":405}"#);

        // Garbage: 400, then the connection is closed.
        let mut s = connect(&server);
        s.write_all(b"\x01\x02garbage \xff\r\n\r\n").unwrap();
        let r = read_response(&mut s, &mut Vec::new(), false);
        assert_eq!(r.status, 400);
        assert_eq!(r.header("Connection"), Some("close"));
        assert_closed(&mut s);

        // A head that never ends: refused once the input cap is reached.
        let mut s = connect(&server);
        let mut long = b"GET / HTTP/1.1\r\nX: ".to_vec();
        long.resize(MAX_HEAD_BYTES + 100, b'a');
        s.write_all(&long).unwrap();
        let r = read_response(&mut s, &mut Vec::new(), false);
        assert!(r.status == 431 || r.status == 400, "{}", r.status);
        assert_closed(&mut s);
        server.stop();
    }

    #[test]
    fn keep_alive_pipelining_split_heads_and_head_requests() {
        let (server, _) = start(true, None);
        let mut s = connect(&server);
        let mut buf = Vec::new();
        // Two pipelined requests in one write.
        s.write_all(
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /ready HTTP/1.1\r\nHost: x\r\n\r\n",
        )
        .unwrap();
        let a = read_response(&mut s, &mut buf, false);
        let b = read_response(&mut s, &mut buf, false);
        assert_eq!(a.status, 200);
        check_exposition(a.text());
        assert_eq!((b.status, b.text()), (200, "OK"));
        assert!(a.header("Connection").is_none() && b.header("Connection").is_none());

        // Same connection: a head split over several writes, with a body to skip.
        for part in [
            &b"GET / HT"[..],
            b"TP/1.1\r\nContent-Length: 4\r\n",
            b"\r\nab",
            b"cd",
        ] {
            s.write_all(part).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        let r = read_response(&mut s, &mut buf, false);
        assert_eq!((r.status, r.text()), (200, "OK"));

        // HEAD: the same Content-Length, no body.
        s.write_all(b"HEAD /metrics HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n")
            .unwrap();
        let h = read_response(&mut s, &mut buf, true);
        assert_eq!(h.status, 200);
        let len: usize = h.header("Content-Length").unwrap().parse().unwrap();
        // The process values (cpu, fds) may change the length by a few bytes between scrapes.
        assert!(len.abs_diff(a.body.len()) < 64, "{len} vs {}", a.body.len());
        let r = read_response(&mut s, &mut buf, false);
        assert_eq!(r.text(), "OK");

        // Many pipelined scrapes at once: answered in order, nothing lost.
        let n = 40;
        let mut batch = Vec::new();
        for _ in 0..n {
            batch.extend_from_slice(b"GET /metrics HTTP/1.1\r\n\r\n");
        }
        batch.extend_from_slice(b"GET /ready HTTP/1.1\r\nConnection: close\r\n\r\n");
        s.write_all(&batch).unwrap();
        for _ in 0..n {
            let r = read_response(&mut s, &mut buf, false);
            assert_eq!(r.status, 200);
            assert!(r.text().starts_with("# HELP soketi_6001_connected "));
            assert!(r.text().contains("\nprocess_threads "));
        }
        let last = read_response(&mut s, &mut buf, false);
        assert_eq!(
            (last.text(), last.header("Connection")),
            ("OK", Some("close"))
        );
        assert!(buf.is_empty());
        assert_closed(&mut s);

        // HTTP/1.0: closed after the response unless keep-alive is asked for.
        let mut s = connect(&server);
        s.write_all(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\nGET / HTTP/1.0\r\n\r\n")
            .unwrap();
        let mut buf = Vec::new();
        let r = read_response(&mut s, &mut buf, false);
        assert_eq!(r.header("Connection"), Some("keep-alive"));
        let r = read_response(&mut s, &mut buf, false);
        assert_eq!(r.header("Connection"), Some("close"));
        assert_closed(&mut s);
        server.stop();
    }

    #[test]
    fn large_pipelined_scrapes_to_a_slow_reader() {
        // ~1.4 MB per scrape: far more than a socket buffer takes at once.
        let apps = 2000;
        let stats = Stats::new(2, apps);
        for a in 0..apps {
            stats
                .reactor(a % 2)
                .add(a, crate::metrics::AppCounter::WsMessagesSent, a as u64);
        }
        let ids = (0..apps).map(|i| format!("app-{i}")).collect();
        let (server, _) = start_with(stats, ids, true, None);
        let mut s = connect(&server);
        s.write_all(
            b"GET /metrics HTTP/1.1\r\n\r\nGET /metrics HTTP/1.1\r\n\r\nGET / HTTP/1.1\r\n\r\n",
        )
        .unwrap();
        // Let the server hit a full socket buffer before anything is read.
        std::thread::sleep(Duration::from_millis(200));
        let mut buf = Vec::new();
        for _ in 0..2 {
            let r = read_response(&mut s, &mut buf, false);
            assert_eq!(r.status, 200);
            assert!(r.body.len() > 1_000_000, "{}", r.body.len());
            let samples = check_exposition(r.text());
            assert!(samples.len() > 12 * apps);
        }
        assert_eq!(read_response(&mut s, &mut buf, false).text(), "OK");
        // Still usable afterwards.
        s.write_all(b"GET /ready HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(read_response(&mut s, &mut buf, false).text(), "OK");
        server.stop();
    }

    #[test]
    fn connection_cap_and_idle_timeout() {
        let tuning = Tuning {
            max_conns: 2,
            idle_timeout: Duration::from_millis(300),
        };
        let (server, _) = start(true, Some(tuning));
        let mut a = connect(&server);
        let mut b = connect(&server);
        let mut buf = Vec::new();
        for s in [&mut a, &mut b] {
            s.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
            assert_eq!(read_response(s, &mut buf, false).status, 200);
        }
        // A third connection is over the cap.
        let mut c = connect(&server);
        let r = read_response(&mut c, &mut Vec::new(), false);
        assert_eq!(r.status, 503);
        assert_closed(&mut c);
        // Idle ones are closed after the timeout, which frees the slots.
        std::thread::sleep(Duration::from_millis(700));
        assert_closed(&mut a);
        assert_closed(&mut b);
        assert_eq!(get(&server, "/").status, 200);
        server.stop();
    }

    #[test]
    fn stop_returns_promptly_and_closes_connections() {
        let (server, _) = start(true, None);
        let addr = server.local_addr();
        let mut idle = connect(&server);
        idle.write_all(b"GET / HTTP/1.1\r\n\r\n").unwrap();
        assert_eq!(read_response(&mut idle, &mut Vec::new(), false).status, 200);
        let t = Instant::now();
        server.stop();
        assert!(t.elapsed() < Duration::from_secs(2));
        assert_closed(&mut idle);
        assert!(StdStream::connect(addr).is_err());
    }
}
