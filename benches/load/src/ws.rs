//! Many Pusher WebSocket client connections on one `mio::Poll` (one thread).
//!
//! A connection goes Connecting → Upgrading (request sent, waiting for the 101) → Open. In
//! Open it answers the server's `pusher:ping` with `pusher:pong` and WebSocket pings with
//! pongs, subscribes (per [`Plan`]) once `pusher:connection_established` gives it a socket
//! id, and counts itself ready at `pusher_internal:subscription_succeeded` (or at the 101 when
//! the peer is `fanoutd-floor`, which speaks no Pusher). Every text message carrying a stamp
//! (see `stamp`) is a delivery: its latency goes into [`WsClient::latency`].
//!
//! Memory per connection (the client shares the machine with the server it measures): the
//! slot below, about 80 bytes, plus two `Vec`s that stay unallocated unless a frame straddles
//! two reads or the socket refuses a write. Reads go through one shared scratch buffer.

use std::io::{self, ErrorKind, Read, Write};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::{Duration, Instant};

use fanoutd::parse::Status;
use fanoutd::pusher::auth::sign_socket_token;
use fanoutd::ws::frame::{parse_header, OpCode};
use mio::net::TcpStream;
use mio::{Events, Interest, Poll, Token};
use serde_json::Value;

use super::hist::Histogram;
use super::stamp;
use fanoutd::sys::net;

/// Largest upgrade response head accepted.
const MAX_HEAD_BYTES: usize = 8 * 1024;
/// Largest server frame accepted (well above any payload a run uses).
const MAX_FRAME_BYTES: u64 = 64 * 1024 * 1024;
/// The shared read buffer.
const SCRATCH_BYTES: usize = 256 * 1024;

/// What each connection subscribes to once connected.
#[derive(Clone, Debug)]
pub enum Plan {
    /// Nothing: ready at `pusher:connection_established` (or at the 101 with a floor peer).
    None,
    /// Connection `i` joins the public channel `<prefix><i % channels>`.
    Public { prefix: String, channels: usize },
    /// Connections `2p` and `2p + 1` join `private-pair-<p>`, signed with the app secret.
    PrivatePairs,
}

impl Plan {
    /// The channel of connection `i`, if any.
    pub fn channel(&self, i: usize) -> Option<String> {
        match self {
            Plan::None => None,
            Plan::Public { prefix, channels } => Some(format!("{prefix}{}", i % channels)),
            Plan::PrivatePairs => Some(format!("private-pair-{}", i / 2)),
        }
    }
}

pub struct WsConfig {
    pub remote: SocketAddr,
    pub app_key: String,
    pub secret: String,
    /// The peer is `fanoutd-floor`: a connection is ready at the 101; nothing is subscribed.
    pub floor: bool,
    /// Bind each socket to 127.0.0.(2 + i % 253) before connecting (IPv4 targets only).
    pub spread_sources: bool,
    pub plan: Plan,
}

/// Source address for client socket number `i`: 127.0.0.2 ..= 127.0.0.254, round robin.
pub fn source_addr(i: usize, remote: &SocketAddr, spread: bool) -> Option<IpAddr> {
    if !spread || !remote.is_ipv4() {
        return None;
    }
    Some(IpAddr::V4(Ipv4Addr::new(127, 0, 0, 2 + (i % 253) as u8)))
}

#[derive(Default, Debug)]
pub struct WsStats {
    pub opened: u64,
    pub connect_errors: u64,
    pub connected: u64,
    pub upgraded: u64,
    pub established: u64,
    pub subscribed: u64,
    pub subscription_errors: u64,
    pub pusher_errors: u64,
    /// Connections lost: closed by the peer, reset, or failed by a protocol error.
    pub closed: u64,
    /// Connections that failed before they were ready (a subset of the figures above).
    pub failed_before_ready: u64,
    pub protocol_errors: u64,
    pub pusher_pings_answered: u64,
    pub ws_pings_answered: u64,
    pub deliveries: u64,
    /// Delivered bytes (WebSocket payloads of deliveries).
    pub delivered_bytes: u64,
    pub other_messages: u64,
    /// Floor peers: rounds each connection should have seen (last - first + 1, summed) and
    /// rounds seen, over connections whose accounting is closed.
    pub seq_expected: u64,
    pub seq_received: u64,
    pub first_delivery_ns: u64,
    pub last_delivery_ns: u64,
    pub first_error: Option<String>,
}

impl WsStats {
    fn note_error(&mut self, what: impl FnOnce() -> String) {
        if self.first_error.is_none() {
            self.first_error = Some(what());
        }
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Phase {
    Connecting,
    Upgrading,
    Open,
}

struct Conn {
    stream: TcpStream,
    phase: Phase,
    ready: bool,
    /// Unparsed input: a partial upgrade head or a partial frame. Empty (and unallocated)
    /// whenever the last read ended on a frame boundary.
    inbuf: Vec<u8>,
    /// Output the socket has not taken yet. Empty unless a write came up short.
    out: Vec<u8>,
    /// Floor peers: first and last sequence number seen, and how many were seen.
    seq_first: u32,
    seq_last: u32,
    seq_count: u32,
}

pub struct WsClient {
    poll: Poll,
    events: Option<Events>,
    conns: Vec<Option<Conn>>,
    cfg: WsConfig,
    scratch: Vec<u8>,
    /// Reused to build each outgoing frame.
    frame: Vec<u8>,
    rng: u64,
    host_header: String,
    path: String,
    pub stats: WsStats,
    pub latency: Histogram,
    ready: usize,
    /// Opened connections neither ready nor failed.
    pending: usize,
}

impl WsClient {
    pub fn new(cfg: WsConfig) -> io::Result<WsClient> {
        let host_header = match cfg.remote {
            SocketAddr::V4(a) => format!("{}:{}", a.ip(), a.port()),
            SocketAddr::V6(a) => format!("[{}]:{}", a.ip(), a.port()),
        };
        let path = format!(
            "/app/{}?protocol=7&client=fanoutd-load&version=0.1.0&flash=false",
            cfg.app_key
        );
        Ok(WsClient {
            poll: Poll::new()?,
            events: Some(Events::with_capacity(1024)),
            conns: Vec::new(),
            scratch: vec![0; SCRATCH_BYTES],
            frame: Vec::with_capacity(4096),
            rng: fanoutd::sys::random_seed() | 1,
            host_header,
            path,
            stats: WsStats::default(),
            latency: Histogram::default(),
            ready: 0,
            pending: 0,
            cfg,
        })
    }

    /// Connections ready now.
    pub fn ready(&self) -> usize {
        self.ready
    }

    /// Connections still open.
    pub fn live(&self) -> usize {
        self.conns.iter().filter(|c| c.is_some()).count()
    }

    pub fn is_ready(&self, i: usize) -> bool {
        matches!(self.conns.get(i), Some(Some(c)) if c.ready)
    }

    /// Ready connections per channel index (for [`Plan::Public`]).
    pub fn ready_per_channel(&self, channels: usize) -> Vec<u64> {
        let mut v = vec![0; channels.max(1)];
        for (i, c) in self.conns.iter().enumerate() {
            if matches!(c, Some(c) if c.ready) {
                v[i % channels.max(1)] += 1;
            }
        }
        v
    }

    fn next_rand(&mut self) -> u64 {
        // xorshift64: plenty for masking keys and handshake nonces.
        self.rng ^= self.rng << 13;
        self.rng ^= self.rng >> 7;
        self.rng ^= self.rng << 17;
        self.rng
    }

    /// Starts one more connection.
    pub fn open_one(&mut self) {
        let i = self.conns.len();
        self.stats.opened += 1;
        let local = source_addr(i, &self.cfg.remote, self.cfg.spread_sources);
        let std_stream = match net::connect_nonblocking(self.cfg.remote, local) {
            Ok(s) => s,
            Err(e) => {
                self.stats.connect_errors += 1;
                self.stats.failed_before_ready += 1;
                self.stats.note_error(|| format!("connect: {e}"));
                self.conns.push(None);
                return;
            }
        };
        let _ = std_stream.set_nodelay(true);
        let mut stream = TcpStream::from_std(std_stream);
        if let Err(e) = self.poll.registry().register(
            &mut stream,
            Token(i),
            Interest::READABLE | Interest::WRITABLE,
        ) {
            self.stats.connect_errors += 1;
            self.stats.failed_before_ready += 1;
            self.stats.note_error(|| format!("register: {e}"));
            self.conns.push(None);
            return;
        }
        self.pending += 1;
        self.conns.push(Some(Conn {
            stream,
            phase: Phase::Connecting,
            ready: false,
            inbuf: Vec::new(),
            out: Vec::new(),
            seq_first: 0,
            seq_last: 0,
            seq_count: 0,
        }));
    }

    /// Opens `total` connections at most `rate` per second with at most `max_pending`
    /// unfinished at a time, and polls until each is ready or failed, or `deadline`.
    pub fn connect_all(
        &mut self,
        total: usize,
        rate: f64,
        max_pending: usize,
        deadline: Instant,
    ) -> io::Result<()> {
        let start = Instant::now();
        let mut last_report = start;
        while Instant::now() < deadline {
            let allowed = ((start.elapsed().as_secs_f64() * rate) as usize + 1).min(total);
            while self.conns.len() < allowed && self.pending < max_pending {
                self.open_one();
            }
            if self.conns.len() == total && self.pending == 0 {
                break;
            }
            self.poll(Duration::from_millis(5))?;
            if last_report.elapsed() >= Duration::from_secs(5) {
                last_report = Instant::now();
                eprintln!(
                    "  connecting: opened {} ready {} pending {} failed {}",
                    self.conns.len(),
                    self.ready,
                    self.pending,
                    self.stats.failed_before_ready
                );
            }
        }
        Ok(())
    }

    /// Waits up to `timeout` for events and handles them.
    pub fn poll(&mut self, timeout: Duration) -> io::Result<()> {
        let mut events = self
            .events
            .take()
            .unwrap_or_else(|| Events::with_capacity(1024));
        let res = self.poll.poll(&mut events, Some(timeout));
        if let Err(e) = res {
            self.events = Some(events);
            if e.kind() == ErrorKind::Interrupted {
                return Ok(());
            }
            return Err(e);
        }
        for ev in events.iter() {
            let i = ev.token().0;
            let readable = ev.is_readable() || ev.is_read_closed() || ev.is_error();
            self.on_event(i, readable, ev.is_writable());
        }
        self.events = Some(events);
        Ok(())
    }

    fn on_event(&mut self, i: usize, readable: bool, writable: bool) {
        let Some(Some(conn)) = self.conns.get_mut(i) else {
            return;
        };
        if conn.phase == Phase::Connecting {
            match conn.stream.take_error() {
                Ok(None) => {}
                Ok(Some(e)) | Err(e) => {
                    self.stats.connect_errors += 1;
                    self.fail(i, format!("connect: {e}"));
                    return;
                }
            }
            match conn.stream.peer_addr() {
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::NotConnected => return,
                Err(e) => {
                    self.stats.connect_errors += 1;
                    self.fail(i, format!("connect: {e}"));
                    return;
                }
            }
            conn.phase = Phase::Upgrading;
            self.stats.connected += 1;
            let request = self.upgrade_request();
            self.send_raw(i, &request);
        } else if writable {
            self.flush(i);
        }
        if readable {
            self.read_all(i);
        }
    }

    fn upgrade_request(&mut self) -> Vec<u8> {
        let nonce = [
            self.next_rand().to_le_bytes(),
            self.next_rand().to_le_bytes(),
        ]
        .concat();
        let key = base64_16(&nonce);
        format!(
            "GET {} HTTP/1.1\r\nHost: {}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n\r\n",
            self.path, self.host_header
        )
        .into_bytes()
    }

    /// A connection failed or was lost: drop it and count it.
    fn fail(&mut self, i: usize, why: String) {
        let Some(conn) = self.conns.get_mut(i).and_then(Option::take) else {
            return;
        };
        if conn.ready {
            self.ready -= 1;
        } else {
            self.pending -= 1;
            self.stats.failed_before_ready += 1;
        }
        self.stats.closed += 1;
        self.close_seq_accounting(&conn);
        self.stats.note_error(|| why);
        // Dropping the stream closes the socket (and removes it from epoll).
    }

    fn close_seq_accounting(&mut self, conn: &Conn) {
        if conn.seq_count > 0 {
            self.stats.seq_expected += u64::from(conn.seq_last.wrapping_sub(conn.seq_first)) + 1;
            self.stats.seq_received += u64::from(conn.seq_count);
        }
    }

    /// Floor peers: folds the sequence accounting of the connections still open into the
    /// stats (call once, at the end).
    pub fn finish_seq_accounting(&mut self) {
        let mut expected = 0;
        let mut received = 0;
        for c in self.conns.iter_mut().flatten() {
            if c.seq_count > 0 {
                expected += u64::from(c.seq_last.wrapping_sub(c.seq_first)) + 1;
                received += u64::from(c.seq_count);
                c.seq_count = 0;
            }
        }
        self.stats.seq_expected += expected;
        self.stats.seq_received += received;
    }

    fn mark_ready(&mut self, i: usize) {
        if let Some(Some(c)) = self.conns.get_mut(i) {
            if !c.ready {
                c.ready = true;
                self.ready += 1;
                self.pending -= 1;
            }
        }
    }

    fn read_all(&mut self, i: usize) {
        let mut scratch = std::mem::take(&mut self.scratch);
        while let Some(Some(conn)) = self.conns.get_mut(i) {
            let n = match conn.stream.read(&mut scratch) {
                Ok(0) => {
                    self.fail(i, "closed by peer".into());
                    break;
                }
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => {
                    self.fail(i, format!("read: {e}"));
                    break;
                }
            };
            self.on_bytes(i, &scratch[..n]);
            // A short read drained the socket: with edge-triggered polling, bytes arriving
            // after this read raise a new event, so one more read() would only say WouldBlock.
            if n < scratch.len() {
                break;
            }
        }
        self.scratch = scratch;
    }

    fn on_bytes(&mut self, i: usize, data: &[u8]) {
        let Some(Some(conn)) = self.conns.get_mut(i) else {
            return;
        };
        if conn.inbuf.is_empty() {
            let used = self.consume(i, data);
            if let (Some(used), Some(Some(conn))) = (used, self.conns.get_mut(i)) {
                if used < data.len() {
                    conn.inbuf.extend_from_slice(&data[used..]);
                }
            }
        } else {
            let mut buf = std::mem::take(&mut conn.inbuf);
            buf.extend_from_slice(data);
            let used = self.consume(i, &buf);
            if let (Some(used), Some(Some(conn))) = (used, self.conns.get_mut(i)) {
                if used < buf.len() {
                    buf.drain(..used);
                    conn.inbuf = buf;
                }
            }
        }
    }

    /// Consumes what it can of `buf`; returns the bytes used, or `None` if the connection was
    /// dropped.
    fn consume(&mut self, i: usize, buf: &[u8]) -> Option<usize> {
        let mut pos = 0;
        let phase = self.conns.get(i)?.as_ref()?.phase;
        if phase == Phase::Upgrading {
            let Some(end) = memchr::memmem::find(buf, b"\r\n\r\n") else {
                if buf.len() > MAX_HEAD_BYTES {
                    self.stats.protocol_errors += 1;
                    self.fail(i, "upgrade response head too long".into());
                    return None;
                }
                return Some(0);
            };
            let head = &buf[..end];
            if !(head.starts_with(b"HTTP/1.1 101") || head.starts_with(b"HTTP/1.0 101")) {
                let line = head.split(|&b| b == b'\r').next().unwrap_or_default();
                let line = String::from_utf8_lossy(line).into_owned();
                self.stats.protocol_errors += 1;
                self.fail(i, format!("upgrade refused: {line}"));
                return None;
            }
            self.stats.upgraded += 1;
            if let Some(Some(c)) = self.conns.get_mut(i) {
                c.phase = Phase::Open;
            }
            if self.cfg.floor {
                self.mark_ready(i);
            }
            pos = end + 4;
        }
        loop {
            let rest = &buf[pos..];
            let header = match parse_header(rest) {
                Ok(Status::Complete(h)) => h,
                Ok(Status::Partial) => return Some(pos),
                Err(e) => {
                    self.stats.protocol_errors += 1;
                    self.fail(i, format!("bad frame from server: {e}"));
                    return None;
                }
            };
            if header.payload_len > MAX_FRAME_BYTES || header.mask.is_some() {
                self.stats.protocol_errors += 1;
                self.fail(i, "server frame too long or masked".into());
                return None;
            }
            let total = header.header_len + header.payload_len as usize;
            if rest.len() < total {
                return Some(pos);
            }
            let payload = &rest[header.header_len..total];
            pos += total;
            match header.opcode {
                OpCode::Text | OpCode::Binary if header.fin => self.on_message(i, payload),
                OpCode::Text | OpCode::Binary | OpCode::Continuation => {
                    // Pusher servers do not fragment; count it and skip the piece.
                    self.stats.other_messages += 1;
                }
                OpCode::Ping => {
                    self.stats.ws_pings_answered += 1;
                    self.send_frame(i, OpCode::Pong, payload);
                }
                OpCode::Pong => {}
                OpCode::Close => {
                    let code = payload
                        .get(..2)
                        .map(|c| u16::from_be_bytes([c[0], c[1]]))
                        .unwrap_or(1005);
                    let reason =
                        String::from_utf8_lossy(payload.get(2..).unwrap_or_default()).into_owned();
                    self.send_frame(i, OpCode::Close, payload.get(..2).unwrap_or_default());
                    self.fail(i, format!("server closed: {code} {reason}"));
                    return None;
                }
            }
            // A handler may have dropped the connection.
            self.conns.get(i)?.as_ref()?;
        }
    }

    fn on_message(&mut self, i: usize, msg: &[u8]) {
        if let Some((ts, seq)) = stamp::find(msg) {
            let now = net::monotonic_ns();
            self.latency.record(now.saturating_sub(ts));
            self.stats.deliveries += 1;
            self.stats.delivered_bytes += msg.len() as u64;
            if self.stats.first_delivery_ns == 0 {
                self.stats.first_delivery_ns = now;
            }
            self.stats.last_delivery_ns = now;
            if self.cfg.floor {
                if let Some(Some(c)) = self.conns.get_mut(i) {
                    let seq = seq as u32;
                    if c.seq_count == 0 {
                        c.seq_first = seq;
                    }
                    c.seq_last = seq;
                    c.seq_count += 1;
                }
            }
            return;
        }
        let Ok(v) = serde_json::from_slice::<Value>(msg) else {
            self.stats.other_messages += 1;
            return;
        };
        match v.get("event").and_then(Value::as_str).unwrap_or("") {
            "pusher:connection_established" => {
                self.stats.established += 1;
                let socket_id = v
                    .get("data")
                    .and_then(Value::as_str)
                    .and_then(|d| serde_json::from_str::<Value>(d).ok())
                    .and_then(|d| d.get("socket_id").and_then(Value::as_str).map(String::from))
                    .unwrap_or_default();
                self.subscribe(i, &socket_id);
            }
            "pusher_internal:subscription_succeeded" => {
                self.stats.subscribed += 1;
                self.mark_ready(i);
            }
            "pusher:ping" => {
                self.stats.pusher_pings_answered += 1;
                self.send_text(i, br#"{"event":"pusher:pong","data":{}}"#);
            }
            "pusher:pong" => {}
            "pusher:error" => {
                self.stats.pusher_errors += 1;
                self.stats
                    .note_error(|| format!("pusher:error {}", v.get("data").unwrap_or(&v)));
            }
            "pusher:subscription_error" => {
                self.stats.subscription_errors += 1;
                self.stats
                    .note_error(|| format!("subscription_error {}", v.get("data").unwrap_or(&v)));
                self.fail(i, "subscription refused".into());
            }
            _ => self.stats.other_messages += 1,
        }
    }

    fn subscribe(&mut self, i: usize, socket_id: &str) {
        let Some(channel) = self.cfg.plan.channel(i) else {
            self.mark_ready(i);
            return;
        };
        let msg = if channel.starts_with("private-") || channel.starts_with("presence-") {
            let auth = sign_socket_token(
                &self.cfg.app_key,
                &self.cfg.secret,
                &[socket_id.as_bytes(), b":", channel.as_bytes()],
            );
            format!(
                r#"{{"event":"pusher:subscribe","data":{{"channel":"{channel}","auth":"{auth}"}}}}"#
            )
        } else {
            format!(r#"{{"event":"pusher:subscribe","data":{{"channel":"{channel}"}}}}"#)
        };
        self.send_text(i, msg.as_bytes());
    }

    /// Sends a text frame (masked, as a client must). `false` if the connection is gone.
    pub fn send_text(&mut self, i: usize, payload: &[u8]) -> bool {
        self.send_frame(i, OpCode::Text, payload)
    }

    fn send_frame(&mut self, i: usize, opcode: OpCode, payload: &[u8]) -> bool {
        let mut frame = std::mem::take(&mut self.frame);
        frame.clear();
        let key = (self.next_rand() as u32).to_ne_bytes();
        write_client_frame(&mut frame, opcode, payload, key);
        let ok = self.send_raw(i, &frame);
        self.frame = frame;
        ok
    }

    fn send_raw(&mut self, i: usize, bytes: &[u8]) -> bool {
        let Some(Some(conn)) = self.conns.get_mut(i) else {
            return false;
        };
        if !conn.out.is_empty() {
            conn.out.extend_from_slice(bytes);
            return true;
        }
        let mut written = 0;
        while written < bytes.len() {
            match conn.stream.write(&bytes[written..]) {
                Ok(0) => break,
                Ok(n) => written += n,
                Err(e) if e.kind() == ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.fail(i, format!("write: {e}"));
                    return false;
                }
            }
        }
        if written < bytes.len() {
            conn.out.extend_from_slice(&bytes[written..]);
        }
        true
    }

    fn flush(&mut self, i: usize) {
        let Some(Some(conn)) = self.conns.get_mut(i) else {
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
                    self.fail(i, format!("write: {e}"));
                    return;
                }
            }
        }
        conn.out.drain(..written);
        if conn.out.is_empty() {
            conn.out = Vec::new();
        }
    }
}

/// Appends a masked client frame (RFC 6455 §5.3: "The client MUST mask all frames that it
/// sends to the server").
pub fn write_client_frame(out: &mut Vec<u8>, opcode: OpCode, payload: &[u8], key: [u8; 4]) {
    let first = 0x80 | opcode.as_u8();
    let len = payload.len();
    if len < 126 {
        out.extend_from_slice(&[first, 0x80 | len as u8]);
    } else if len <= usize::from(u16::MAX) {
        out.extend_from_slice(&[first, 0x80 | 126]);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.extend_from_slice(&[first, 0x80 | 127]);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
    out.extend_from_slice(&key);
    let at = out.len();
    out.extend_from_slice(payload);
    // Masking and unmasking are the same XOR.
    fanoutd::ws::mask::unmask(&mut out[at..], key);
}

/// Base64 of 16 bytes (a `Sec-WebSocket-Key`): 24 characters ending in `==`.
fn base64_16(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut s = String::with_capacity(24);
    for chunk in bytes[..16].chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..=chunk.len() {
            s.push(char::from(ALPHABET[(n >> (18 - 6 * k)) as usize & 63]));
        }
    }
    s.push_str("==");
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_is_valid() {
        for seed in 0..100u8 {
            let bytes: Vec<u8> = (0..16)
                .map(|k| seed.wrapping_mul(31).wrapping_add(k))
                .collect();
            assert!(fanoutd::http::valid_ws_key(&base64_16(&bytes)));
        }
    }

    #[test]
    fn client_frame_round_trips() {
        for len in [0usize, 5, 125, 126, 65535, 65536] {
            let payload: Vec<u8> = (0..len).map(|i| i as u8).collect();
            let mut out = Vec::new();
            write_client_frame(&mut out, OpCode::Text, &payload, [1, 2, 3, 4]);
            let Ok(Status::Complete(h)) = parse_header(&out) else {
                panic!("{len}");
            };
            assert_eq!(h.payload_len as usize, len);
            let mut body = out[h.header_len..].to_vec();
            fanoutd::ws::mask::unmask(&mut body, h.mask.unwrap());
            assert_eq!(body, payload);
        }
    }
}
