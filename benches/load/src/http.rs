//! The REST publisher: signed `POST /apps/{id}/events` over K keep-alive connections (or a
//! new connection per publish), paced at a total rate or as fast as responses come back.
//!
//! One request is in flight per connection at a time (no pipelining: the way Pusher server
//! SDKs use a keep-alive pool), so K is the cap on requests in flight. Each request body
//! carries a stamp (see `stamp`) taken just before the write; the stamp's sequence number is
//! the publish count. Every request is signed anew (`sign_rest_query`), as a real SDK does,
//! since the body differs each time.

use std::io::{self, ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fanoutd::pusher::auth::sign_rest_query;
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};

use super::hist::Histogram;
use super::stamp;
use super::ws::source_addr;
use fanoutd::sys::net;

/// How long to wait for the responses still in flight once the duration is over.
const TAIL_WAIT: Duration = Duration::from_secs(3);
const MAX_RESPONSE_BYTES: usize = 1024 * 1024;

#[derive(Clone)]
pub struct PubConfig {
    pub remote: SocketAddr,
    pub app_id: String,
    pub app_key: String,
    pub secret: String,
    /// Connections (= requests in flight at most).
    pub conns: usize,
    /// Publishes per second in total; 0 = as fast as responses come back.
    pub rate: f64,
    /// Bytes of the `data` string.
    pub payload: usize,
    pub duration: Duration,
    /// Channels, used round robin.
    pub channels: Vec<String>,
    pub event: String,
    /// A new TCP connection per publish (`Connection: close`).
    pub new_conn: bool,
    pub spread_sources: bool,
}

#[derive(Default)]
pub struct PubReport {
    /// Requests written.
    pub issued: u64,
    /// Responses 200 without an `"error"` in the body.
    pub ok: u64,
    /// Responses that were not ok.
    pub failed: u64,
    /// Requests without a response when the publisher stopped.
    pub unanswered: u64,
    pub ok_per_channel: Vec<u64>,
    /// Request write → response complete, ns.
    pub response_latency: Histogram,
    /// From the first request to the last response (or the end of the duration).
    pub elapsed: Duration,
    pub connections_opened: u64,
    pub connect_errors: u64,
    /// Times a keep-alive connection was lost and reopened.
    pub reconnects: u64,
    /// Largest number of publishes due but not yet sent (rate mode): > 0 means the target
    /// rate was not kept.
    pub max_backlog: u64,
    pub first_error: Option<String>,
}

impl PubReport {
    fn note_error(&mut self, what: impl FnOnce() -> String) {
        if self.first_error.is_none() {
            self.first_error = Some(what());
        }
    }
}

enum State {
    Connecting,
    Idle,
    Busy { sent_ns: u64, channel: usize },
}

struct HConn {
    stream: TcpStream,
    state: State,
    inbuf: Vec<u8>,
    out: Vec<u8>,
}

struct Publisher {
    cfg: PubConfig,
    poll: Poll,
    slots: Vec<Option<HConn>>,
    report: PubReport,
    opened: usize,
    next_channel: usize,
    scratch: Vec<u8>,
    path: String,
    host_header: String,
    /// When publishing stops.
    end: Instant,
}

/// Runs the publisher for `cfg.duration` (plus up to 3 s for the last responses).
pub fn run(cfg: PubConfig) -> io::Result<PubReport> {
    let host_header = match cfg.remote {
        SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
        SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
    };
    let mut p = Publisher {
        poll: Poll::new()?,
        slots: (0..cfg.conns.max(1)).map(|_| None).collect(),
        report: PubReport {
            ok_per_channel: vec![0; cfg.channels.len()],
            ..PubReport::default()
        },
        opened: 0,
        next_channel: 0,
        scratch: vec![0; 64 * 1024],
        path: format!("/apps/{}/events", cfg.app_id),
        host_header,
        end: Instant::now() + cfg.duration,
        cfg,
    };
    p.run()?;
    Ok(p.report)
}

impl Publisher {
    fn run(&mut self) -> io::Result<()> {
        let mut events = Events::with_capacity(256);
        let start = Instant::now();
        let end = start + self.cfg.duration;
        self.end = end;
        let mut last_response = start;
        loop {
            let now = Instant::now();
            let running = now < end;
            let busy = self
                .slots
                .iter()
                .flatten()
                .filter(|c| !matches!(c.state, State::Idle))
                .count();
            if !running && (busy == 0 || now >= end + TAIL_WAIT) {
                break;
            }
            let mut timeout = Duration::from_millis(20);
            if running {
                // Publishes due so far (the first at t = 0), minus those written or about to
                // be written by a connection still connecting.
                let connecting = self
                    .slots
                    .iter()
                    .flatten()
                    .filter(|c| matches!(c.state, State::Connecting))
                    .count() as u64;
                let mut due = if self.cfg.rate > 0.0 {
                    let target =
                        (now.duration_since(start).as_secs_f64() * self.cfg.rate) as u64 + 1;
                    target.saturating_sub(self.report.issued + connecting)
                } else {
                    u64::MAX
                };
                for s in 0..self.slots.len() {
                    if due == 0 {
                        break;
                    }
                    match &self.slots[s] {
                        None => {
                            if self.open(s) {
                                due -= 1;
                            }
                        }
                        Some(c) if matches!(c.state, State::Idle) => {
                            self.publish(s);
                            due -= 1;
                        }
                        Some(_) => {}
                    }
                }
                if self.cfg.rate > 0.0 {
                    self.report.max_backlog = self.report.max_backlog.max(due);
                    let next_at = (self.report.issued + connecting) as f64 / self.cfg.rate;
                    let wait = next_at - now.duration_since(start).as_secs_f64();
                    timeout = Duration::from_secs_f64(wait.clamp(0.0, 0.02));
                }
            }
            match self.poll.poll(&mut events, Some(timeout)) {
                Ok(()) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
            for ev in events.iter() {
                let s = ev.token().0;
                if self.on_event(s, ev.is_writable()) {
                    last_response = Instant::now();
                }
            }
        }
        self.report.unanswered = self
            .slots
            .iter()
            .flatten()
            .filter(|c| matches!(c.state, State::Busy { .. }))
            .count() as u64;
        self.report.elapsed = last_response.max(end.min(Instant::now())) - start;
        Ok(())
    }

    /// Opens a connection in slot `s`; `true` if it is under way.
    fn open(&mut self, s: usize) -> bool {
        let local = source_addr(self.opened, &self.cfg.remote, self.cfg.spread_sources);
        self.opened += 1;
        self.report.connections_opened += 1;
        let std_stream = match net::connect_nonblocking(self.cfg.remote, local) {
            Ok(st) => st,
            Err(e) => {
                self.report.connect_errors += 1;
                self.report.note_error(|| format!("connect: {e}"));
                return false;
            }
        };
        let _ = std_stream.set_nodelay(true);
        let mut stream = TcpStream::from_std(std_stream);
        if let Err(e) = self.poll.registry().register(
            &mut stream,
            Token(s),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            self.report.connect_errors += 1;
            self.report.note_error(|| format!("register: {e}"));
            return false;
        }
        self.slots[s] = Some(HConn {
            stream,
            state: State::Connecting,
            inbuf: Vec::new(),
            out: Vec::new(),
        });
        true
    }

    fn drop_slot(&mut self, s: usize, why: String) {
        if let Some(c) = self.slots[s].take() {
            if matches!(c.state, State::Busy { .. }) {
                self.report.failed += 1;
            }
            if !self.cfg.new_conn {
                self.report.reconnects += 1;
            }
        }
        self.report.note_error(|| why);
    }

    /// Builds, signs and writes one publish on slot `s` (which must be connected and idle).
    fn publish(&mut self, s: usize) {
        let channel = self.next_channel % self.cfg.channels.len();
        self.next_channel += 1;
        let seq = self.report.issued;
        let sent_ns = net::monotonic_ns();
        let mut data = Vec::with_capacity(self.cfg.payload + 64);
        stamp::write_payload(&mut data, sent_ns, seq, self.cfg.payload);
        // The payload is digits, letters and `=;`: a JSON string without escapes.
        let data = String::from_utf8(data).unwrap_or_default();
        let body = format!(
            r#"{{"name":"{}","channel":"{}","data":"{data}"}}"#,
            self.cfg.event, self.cfg.channels[channel]
        );
        let now_secs = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_secs() as i64)
            .unwrap_or(0);
        let query = sign_rest_query(
            "POST",
            &self.path,
            &[],
            body.as_bytes(),
            &self.cfg.app_key,
            &self.cfg.secret,
            now_secs,
        );
        let connection = if self.cfg.new_conn {
            "Connection: close\r\n"
        } else {
            ""
        };
        let request = format!(
            "POST {}?{query} HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\n{connection}Content-Length: {}\r\n\r\n{body}",
            self.path,
            self.host_header,
            body.len()
        );
        self.report.issued += 1;
        let Some(conn) = self.slots[s].as_mut() else {
            return;
        };
        conn.state = State::Busy { sent_ns, channel };
        conn.out.extend_from_slice(request.as_bytes());
        self.flush(s);
    }

    fn flush(&mut self, s: usize) {
        let Some(conn) = self.slots[s].as_mut() else {
            return;
        };
        let mut written = 0;
        while written < conn.out.len() {
            match conn.stream.write(&conn.out[written..]) {
                Ok(0) => break,
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.drop_slot(s, format!("write: {e}"));
                    return;
                }
            }
        }
        conn.out.drain(..written);
    }

    /// Handles an event on slot `s`; `true` if a response completed.
    fn on_event(&mut self, s: usize, writable: bool) -> bool {
        let Some(conn) = self.slots.get_mut(s).and_then(Option::as_mut) else {
            return false;
        };
        if matches!(conn.state, State::Connecting) {
            match conn.stream.take_error() {
                Ok(None) => {}
                Ok(Some(e)) | Err(e) => {
                    self.report.connect_errors += 1;
                    self.slots[s] = None;
                    self.report.note_error(|| format!("connect: {e}"));
                    return false;
                }
            }
            match conn.stream.peer_addr() {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::NotConnected => return false,
                Err(e) => {
                    self.report.connect_errors += 1;
                    self.slots[s] = None;
                    self.report.note_error(|| format!("connect: {e}"));
                    return false;
                }
            }
            conn.state = State::Idle;
            if self.cfg.new_conn && Instant::now() < self.end {
                // A new connection exists for exactly one publish.
                self.publish(s);
            }
            return false;
        }
        if writable && !conn.out.is_empty() {
            self.flush(s);
        }
        self.read(s)
    }

    fn read(&mut self, s: usize) -> bool {
        let mut completed = false;
        let mut scratch = std::mem::take(&mut self.scratch);
        while let Some(conn) = self.slots[s].as_mut() {
            match conn.stream.read(&mut scratch) {
                Ok(0) => {
                    self.drop_slot(s, "connection closed by server".into());
                    break;
                }
                Ok(n) => {
                    conn.inbuf.extend_from_slice(&scratch[..n]);
                    if conn.inbuf.len() > MAX_RESPONSE_BYTES {
                        self.drop_slot(s, "response too long".into());
                        break;
                    }
                }
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.drop_slot(s, format!("read: {e}"));
                    break;
                }
            }
            match self.take_response(s) {
                Ok(true) => completed = true,
                Ok(false) => {}
                Err(e) => {
                    self.drop_slot(s, e);
                    break;
                }
            }
        }
        self.scratch = scratch;
        completed
    }

    /// Takes a complete response off slot `s`'s input, if there is one.
    fn take_response(&mut self, s: usize) -> Result<bool, String> {
        let Some(conn) = self.slots[s].as_mut() else {
            return Ok(false);
        };
        let Some(resp) = parse_response(&conn.inbuf)? else {
            return Ok(false);
        };
        let State::Busy { sent_ns, channel } = conn.state else {
            return Err("response without a request".into());
        };
        let now = net::monotonic_ns();
        self.report
            .response_latency
            .record(now.saturating_sub(sent_ns));
        let body = &conn.inbuf[resp.body_start..resp.len];
        let ok = resp.status == 200 && memchr::memmem::find(body, b"\"error\"").is_none();
        if ok {
            self.report.ok += 1;
            self.report.ok_per_channel[channel] += 1;
        } else {
            self.report.failed += 1;
            if self.report.first_error.is_none() {
                self.report.first_error = Some(format!(
                    "HTTP {}: {}",
                    resp.status,
                    String::from_utf8_lossy(&body[..body.len().min(300)])
                ));
            }
        }
        conn.inbuf.drain(..resp.len);
        conn.state = State::Idle;
        if self.cfg.new_conn || resp.close {
            // Not a reconnect: the server asked to close, or this mode closes every time.
            self.slots[s] = None;
        }
        Ok(true)
    }
}

pub struct Response {
    pub status: u16,
    /// Bytes of the whole response (head + body).
    pub len: usize,
    pub body_start: usize,
    /// `Connection: close` was sent.
    pub close: bool,
}

/// Parses one HTTP/1.1 response from the start of `buf`: `Ok(None)` while incomplete. The
/// body is delimited by Content-Length, or by the last chunk of a chunked body.
pub fn parse_response(buf: &[u8]) -> Result<Option<Response>, String> {
    let mut headers = [httparse::EMPTY_HEADER; 32];
    let mut resp = httparse::Response::new(&mut headers);
    let head_len = match resp.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("bad response: {e}")),
    };
    let status = resp.code.unwrap_or(0);
    let mut content_length = None;
    let mut chunked = false;
    let mut close = false;
    for h in resp.headers.iter() {
        if h.name.eq_ignore_ascii_case("content-length") {
            content_length = std::str::from_utf8(h.value)
                .ok()
                .and_then(|v| v.trim().parse::<usize>().ok());
        } else if h.name.eq_ignore_ascii_case("transfer-encoding") {
            chunked = memchr::memmem::find(&h.value.to_ascii_lowercase(), b"chunked").is_some();
        } else if h.name.eq_ignore_ascii_case("connection") {
            close = h.value.eq_ignore_ascii_case(b"close");
        }
    }
    let len = if chunked {
        match memchr::memmem::find(&buf[head_len..], b"0\r\n\r\n") {
            Some(at) => head_len + at + 5,
            None => return Ok(None),
        }
    } else if let Some(n) = content_length {
        if buf.len() < head_len + n {
            return Ok(None);
        }
        head_len + n
    } else if status == 204 || status == 304 || (100..200).contains(&status) {
        head_len
    } else {
        return Err(format!("HTTP {status} response without a length"));
    };
    Ok(Some(Response {
        status,
        len,
        body_start: head_len,
        close,
    }))
}
