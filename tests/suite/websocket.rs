//! WebSocket (RFC 6455) on `GET /app/{key}`: the opening handshake, masking, fragmentation,
//! control frames, the closing handshake, and every frame-level fault the server must answer
//! with a close code (1002 / 1007 / 1009) for that socket only.
//!
//! tungstenite refuses to send malformed frames, so these tests speak through [`RawWs`]: a
//! raw `TcpStream` with a hand-written handshake and frame encoder. The helpers are
//! `pub(crate)` so that the other suites of the core (fan-out, shutdown, the bad-input
//! table) can use them too.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::util::*;

/// A valid `Sec-WebSocket-Key` (RFC 6455's sample nonce).
pub(crate) const WS_KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";
/// Its `Sec-WebSocket-Accept`.
pub(crate) const WS_ACCEPT: &str = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=";
/// The masking key of every frame [`frame_with`] masks.
const MASK: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

pub(crate) const CONT: u8 = 0x0;
pub(crate) const TEXT: u8 = 0x1;
pub(crate) const BINARY: u8 = 0x2;
pub(crate) const CLOSE: u8 = 0x8;
pub(crate) const PING: u8 = 0x9;
pub(crate) const PONG: u8 = 0xA;
pub(crate) const FIN: u8 = 0x80;

/// A client frame. `first` is the whole first byte (FIN, RSV bits, opcode); the payload is
/// masked when `masked`. Lengths use the minimal encoding.
pub(crate) fn frame_with(first: u8, payload: &[u8], masked: bool) -> Vec<u8> {
    let mut out = vec![first];
    let m = if masked { 0x80 } else { 0 };
    let n = payload.len();
    if n < 126 {
        out.push(m | n as u8);
    } else if n <= 0xffff {
        out.push(m | 126);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(m | 127);
        out.extend_from_slice(&(n as u64).to_be_bytes());
    }
    if masked {
        out.extend_from_slice(&MASK);
        out.extend(payload.iter().enumerate().map(|(i, b)| b ^ MASK[i % 4]));
    } else {
        out.extend_from_slice(payload);
    }
    out
}

/// A masked client frame.
pub(crate) fn frame(fin: bool, opcode: u8, payload: &[u8]) -> Vec<u8> {
    frame_with(if fin { FIN } else { 0 } | opcode, payload, true)
}

/// A masked, final text frame.
pub(crate) fn text_frame(s: &str) -> Vec<u8> {
    frame(true, TEXT, s.as_bytes())
}

/// A masked close frame with a status code and reason.
pub(crate) fn close_frame(code: u16, reason: &str) -> Vec<u8> {
    let mut p = code.to_be_bytes().to_vec();
    p.extend_from_slice(reason.as_bytes());
    frame(true, CLOSE, &p)
}

/// A masked header announcing `len` payload bytes in the 64-bit form, with no payload.
pub(crate) fn header_64(first: u8, len: u64) -> Vec<u8> {
    let mut out = vec![first, 0x80 | 127];
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&MASK);
    out
}

/// The handshake request for `GET /app/{key}` with the Pusher query pusher-js sends.
pub(crate) fn handshake_request(key: &str) -> String {
    format!(
        "GET /app/{key}?protocol=7&client=js&version=8.4.0&flash=false HTTP/1.1\r\n\
         Host: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
         Sec-WebSocket-Key: {WS_KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n"
    )
}

/// One frame from the server.
#[derive(Debug, Clone)]
pub(crate) struct Frame {
    pub fin: bool,
    pub opcode: u8,
    pub payload: Vec<u8>,
}

impl Frame {
    /// The status code of a close frame.
    pub(crate) fn close_code(&self) -> Option<u16> {
        (self.opcode == CLOSE && self.payload.len() >= 2)
            .then(|| u16::from_be_bytes([self.payload[0], self.payload[1]]))
    }

    pub(crate) fn json(&self) -> Value {
        serde_json::from_slice(&self.payload).unwrap_or_else(|e| {
            panic!("not JSON ({e}): {}", String::from_utf8_lossy(&self.payload))
        })
    }
}

/// A raw WebSocket client: a blocking `TcpStream` plus the bytes read but not yet parsed.
pub(crate) struct RawWs {
    pub sock: TcpStream,
    buf: Vec<u8>,
}

impl RawWs {
    /// Opens a TCP connection, sends the handshake for `key` and checks the 101 answer.
    pub(crate) fn connect(addr: SocketAddr, key: &str) -> RawWs {
        let mut sock = TcpStream::connect(addr).expect("connect");
        sock.set_read_timeout(Some(WAIT)).unwrap();
        sock.set_nodelay(true).unwrap();
        sock.write_all(handshake_request(key).as_bytes()).unwrap();
        let mut ws = RawWs {
            sock,
            buf: Vec::new(),
        };
        let head = ws.read_head().expect("a handshake response");
        assert!(
            head.starts_with("HTTP/1.1 101 "),
            "handshake refused: {head}"
        );
        assert!(
            head.to_ascii_lowercase().contains(&format!(
                "sec-websocket-accept: {}",
                WS_ACCEPT.to_ascii_lowercase()
            )),
            "{head}"
        );
        ws
    }

    /// Connects to `app-key` and waits for `pusher:connection_established`; returns the
    /// client and its socket id.
    pub(crate) fn established(addr: SocketAddr) -> (RawWs, String) {
        let mut ws = RawWs::connect(addr, "app-key");
        let m = ws.recv_json();
        assert_eq!(m["event"], "pusher:connection_established", "{m}");
        let data: Value = serde_json::from_str(m["data"].as_str().unwrap()).unwrap();
        let id = data["socket_id"].as_str().unwrap().to_string();
        (ws, id)
    }

    /// Reads the HTTP head of the handshake response; bytes after it stay buffered.
    fn read_head(&mut self) -> Option<String> {
        loop {
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                let head = String::from_utf8_lossy(&self.buf[..p + 4]).to_string();
                self.buf.drain(..p + 4);
                return Some(head);
            }
            if !self.fill() {
                return None;
            }
        }
    }

    /// Reads more bytes; `false` on EOF, error or timeout.
    fn fill(&mut self) -> bool {
        let mut tmp = [0u8; 16 * 1024];
        match self.sock.read(&mut tmp) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&tmp[..n]);
                true
            }
        }
    }

    /// Writes raw bytes (errors are returned: the server may have closed already).
    pub(crate) fn send(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.sock.write_all(bytes)
    }

    /// Sends a Pusher message as one masked text frame.
    pub(crate) fn send_json(&mut self, v: Value) {
        self.send(&text_frame(&v.to_string())).expect("send");
    }

    /// The next frame from the server; `None` on EOF, error or timeout.
    pub(crate) fn read_frame(&mut self) -> Option<Frame> {
        loop {
            if let Some((f, n)) = parse_server_frame(&self.buf) {
                self.buf.drain(..n);
                return Some(f);
            }
            if !self.fill() {
                return None;
            }
        }
    }

    /// The next text message as JSON (panics on anything else).
    pub(crate) fn recv_json(&mut self) -> Value {
        let f = self.read_frame().expect("a frame before the timeout");
        assert_eq!(f.opcode, TEXT, "expected a text frame, got {f:?}");
        f.json()
    }

    /// Skips messages until one with `event`.
    pub(crate) fn recv_event(&mut self, event: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            assert!(Instant::now() < deadline, "no {event} in time");
            let m = self.recv_json();
            if m["event"] == event {
                return m;
            }
        }
    }

    /// Subscribes to a public channel and waits for the confirmation.
    pub(crate) fn subscribe(&mut self, channel: &str) {
        self.send_json(json!({"event": "pusher:subscribe", "data": {"channel": channel}}));
        let m = self.recv_event("pusher_internal:subscription_succeeded");
        assert_eq!(m["channel"], channel);
    }

    /// Reads until the server's close frame; returns its code and the text messages before
    /// it. Panics on EOF or timeout before a close frame.
    pub(crate) fn expect_close(&mut self) -> (u16, Vec<Value>) {
        let mut before = Vec::new();
        loop {
            let f = self
                .read_frame()
                .unwrap_or_else(|| panic!("no close frame (messages before: {before:?})"));
            match f.opcode {
                CLOSE => return (f.close_code().expect("a close code"), before),
                TEXT => before.push(f.json()),
                _ => {}
            }
        }
    }

    /// After the close frame: the server ends the TCP connection (EOF or reset) in time.
    pub(crate) fn expect_eof(&mut self) {
        let deadline = Instant::now() + WAIT;
        // Our half of the close: the server waits for it before dropping the socket.
        let _ = self.sock.shutdown(Shutdown::Write);
        let mut tmp = [0u8; 4096];
        loop {
            assert!(Instant::now() < deadline, "the server kept the connection");
            match self.sock.read(&mut tmp) {
                Ok(0) => return,
                Ok(_) => continue,
                Err(e)
                    if e.kind() == std::io::ErrorKind::WouldBlock
                        || e.kind() == std::io::ErrorKind::TimedOut =>
                {
                    panic!("the server kept the connection open")
                }
                Err(_) => return,
            }
        }
    }

    /// Asserts no frame arrives for `d`.
    pub(crate) fn expect_silence(&mut self, d: Duration) {
        self.sock.set_read_timeout(Some(d)).unwrap();
        let got = self.read_frame();
        self.sock.set_read_timeout(Some(WAIT)).unwrap();
        assert!(got.is_none(), "unexpected frame: {got:?}");
    }
}

/// Parses one unmasked server frame at the start of `buf`: the frame and its length.
fn parse_server_frame(buf: &[u8]) -> Option<(Frame, usize)> {
    if buf.len() < 2 {
        return None;
    }
    assert_eq!(buf[1] & 0x80, 0, "server frames must not be masked");
    assert_eq!(buf[0] & 0x70, 0, "server frames must not set RSV bits");
    let (len, hl) = match buf[1] & 0x7f {
        126 => {
            if buf.len() < 4 {
                return None;
            }
            (u16::from_be_bytes([buf[2], buf[3]]) as usize, 4)
        }
        127 => {
            if buf.len() < 10 {
                return None;
            }
            (
                u64::from_be_bytes(buf[2..10].try_into().unwrap()) as usize,
                10,
            )
        }
        n => (n as usize, 2),
    };
    if buf.len() < hl + len {
        return None;
    }
    Some((
        Frame {
            fin: buf[0] & FIN != 0,
            opcode: buf[0] & 0x0f,
            payload: buf[hl..hl + len].to_vec(),
        },
        hl + len,
    ))
}

/// Sends a handshake request (raw) and returns the HTTP response.
fn handshake(addr: SocketAddr, request: &str) -> Response {
    http(addr, request.as_bytes())
}

/// A handshake request with `headers` (each a full `Name: value` line) for `path`.
fn request_with(method: &str, path: &str, headers: &[&str]) -> String {
    let mut r = format!("{method} {path} HTTP/1.1\r\nHost: localhost\r\n");
    for h in headers {
        r.push_str(h);
        r.push_str("\r\n");
    }
    r.push_str("\r\n");
    r
}

// ---------------------------------------------------------------------------------- handshake

#[test]
fn handshake_answers_101_with_the_accept_key_and_connection_established() {
    let srv = TestServer::default();
    let (mut ws, id) = RawWs::established(srv.addr);
    assert!(!id.is_empty());
    // The socket works: a ping message gets its pong.
    ws.send_json(json!({"event": "pusher:ping", "data": {}}));
    assert_eq!(ws.recv_json()["event"], "pusher:pong");
}

#[test]
fn bad_handshakes_get_their_status() {
    let srv = TestServer::default();
    let key = format!("Sec-WebSocket-Key: {WS_KEY}");
    let path = "/app/app-key?protocol=7";
    // (what, request, status, a header that must be present)
    type Case<'a> = (&'a str, String, u16, Option<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        (
            "no Upgrade",
            request_with(
                "GET",
                path,
                &["Connection: Upgrade", &key, "Sec-WebSocket-Version: 13"],
            ),
            426,
            None,
        ),
        (
            "no Connection",
            request_with(
                "GET",
                path,
                &["Upgrade: websocket", &key, "Sec-WebSocket-Version: 13"],
            ),
            426,
            None,
        ),
        (
            "Connection without upgrade",
            request_with(
                "GET",
                path,
                &[
                    "Upgrade: websocket",
                    "Connection: keep-alive",
                    &key,
                    "Sec-WebSocket-Version: 13",
                ],
            ),
            426,
            None,
        ),
        (
            "version 8",
            request_with(
                "GET",
                path,
                &[
                    "Upgrade: websocket",
                    "Connection: Upgrade",
                    &key,
                    "Sec-WebSocket-Version: 8",
                ],
            ),
            426,
            Some(("Sec-WebSocket-Version", "13")),
        ),
        (
            "no version",
            request_with(
                "GET",
                path,
                &["Upgrade: websocket", "Connection: Upgrade", &key],
            ),
            426,
            Some(("Sec-WebSocket-Version", "13")),
        ),
        (
            "no key",
            request_with(
                "GET",
                path,
                &[
                    "Upgrade: websocket",
                    "Connection: Upgrade",
                    "Sec-WebSocket-Version: 13",
                ],
            ),
            400,
            None,
        ),
        (
            "key not 16 bytes of base64",
            request_with(
                "GET",
                path,
                &[
                    "Upgrade: websocket",
                    "Connection: Upgrade",
                    "Sec-WebSocket-Key: abc",
                    "Sec-WebSocket-Version: 13",
                ],
            ),
            400,
            None,
        ),
        (
            "key twice",
            request_with(
                "GET",
                path,
                &[
                    "Upgrade: websocket",
                    "Connection: Upgrade",
                    &key,
                    &key,
                    "Sec-WebSocket-Version: 13",
                ],
            ),
            400,
            None,
        ),
        (
            "POST",
            request_with(
                "POST",
                path,
                &[
                    "Upgrade: websocket",
                    "Connection: Upgrade",
                    &key,
                    "Sec-WebSocket-Version: 13",
                    "Content-Length: 0",
                ],
            ),
            405,
            Some(("Allow", "GET")),
        ),
    ];
    for (what, req, status, header) in cases {
        let r = handshake(srv.addr, &req);
        assert_eq!(r.status, status, "{what}: {r:?}");
        if let Some((name, value)) = header {
            assert_eq!(r.header(name), Some(value), "{what}: {r:?}");
        }
    }
    // The server is fine afterwards.
    let mut c = srv.client();
    c.subscribe("after-bad-handshakes");
}

#[test]
fn upgrade_and_connection_tokens_are_case_insensitive_lists() {
    let srv = TestServer::default();
    let req = request_with(
        "GET",
        "/app/app-key",
        &[
            "Upgrade: WebSocket",
            "Connection: keep-alive, Upgrade",
            &format!("Sec-WebSocket-Key: {WS_KEY}"),
            "Sec-WebSocket-Version: 13",
        ],
    );
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut ws = RawWs {
        sock: s,
        buf: Vec::new(),
    };
    let head = ws.read_head().unwrap();
    assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
    assert_eq!(ws.recv_json()["event"], "pusher:connection_established");
}

// ---------------------------------------------------------------------------------- frames

#[test]
fn unmasked_frame_closes_with_1002() {
    let srv = TestServer::default();
    let (mut ws, _) = RawWs::established(srv.addr);
    let ping = json!({"event": "pusher:ping", "data": {}}).to_string();
    ws.send(&frame_with(FIN | TEXT, ping.as_bytes(), false))
        .unwrap();
    let (code, before) = ws.expect_close();
    assert_eq!(code, 1002);
    assert!(
        before.is_empty(),
        "the unmasked message was acted on: {before:?}"
    );
    ws.expect_eof();
}

#[test]
fn masked_text_and_binary_messages_are_understood() {
    let srv = TestServer::default();
    let (mut ws, _) = RawWs::established(srv.addr);
    let ping = json!({"event": "pusher:ping", "data": {}}).to_string();
    ws.send(&frame(true, TEXT, ping.as_bytes())).unwrap();
    assert_eq!(ws.recv_json()["event"], "pusher:pong");
    // soketi parses binary frames as JSON text too.
    ws.send(&frame(true, BINARY, ping.as_bytes())).unwrap();
    assert_eq!(ws.recv_json()["event"], "pusher:pong");
    // A 16-bit and a 64-bit length form.
    let sub = json!({"event": "pusher:subscribe", "data": {"channel": "x".repeat(150)}});
    let mut padded = sub.to_string();
    padded.push_str(&" ".repeat(70_000 - padded.len()));
    ws.send(&text_frame(&padded)).unwrap();
    let m = ws.recv_json();
    assert_eq!(m["event"], "pusher_internal:subscription_succeeded", "{m}");
}

#[test]
fn fragmented_text_with_a_ping_in_between() {
    let srv = TestServer::default();
    let (mut ws, _) = RawWs::established(srv.addr);
    let msg = json!({"event": "pusher:subscribe", "data": {"channel": "fragmented"}}).to_string();
    let (a, rest) = msg.split_at(10);
    let (b, c) = rest.split_at(15);
    let mut bytes = frame(false, TEXT, a.as_bytes());
    bytes.extend(frame(false, CONT, b.as_bytes()));
    bytes.extend(frame(true, PING, b"in-between"));
    bytes.extend(frame(true, CONT, c.as_bytes()));
    ws.send(&bytes).unwrap();
    // The pong for the ping in the middle comes first, then the subscription.
    let f = ws.read_frame().unwrap();
    assert_eq!(f.opcode, PONG, "{f:?}");
    assert_eq!(f.payload, b"in-between");
    let m = ws.recv_json();
    assert_eq!(m["event"], "pusher_internal:subscription_succeeded", "{m}");
    assert_eq!(m["channel"], "fragmented");
    // The reassembled subscription is real.
    let r = srv.trigger("fragmented", "e", &json!(1));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ws.recv_json()["event"], "e");
}

#[test]
fn fragments_sent_one_write_at_a_time_and_split_mid_frame() {
    let srv = TestServer::default();
    let (mut ws, _) = RawWs::established(srv.addr);
    let msg = json!({"event": "pusher:subscribe", "data": {"channel": "split"}}).to_string();
    let (a, b) = msg.split_at(20);
    let mut bytes = frame(false, TEXT, a.as_bytes());
    bytes.extend(frame(true, CONT, b.as_bytes()));
    // Byte by byte for the first 30 bytes (inside headers and payloads), then the rest.
    for chunk in bytes[..30].chunks(1) {
        ws.send(chunk).unwrap();
        std::thread::sleep(Duration::from_millis(2));
    }
    ws.send(&bytes[30..]).unwrap();
    let m = ws.recv_json();
    assert_eq!(m["event"], "pusher_internal:subscription_succeeded", "{m}");
}

#[test]
fn ping_gets_a_pong_with_the_same_payload() {
    let srv = TestServer::default();
    let (mut ws, _) = RawWs::established(srv.addr);
    for payload in [&b""[..], b"hello", &[0xffu8; 125][..]] {
        ws.send(&frame(true, PING, payload)).unwrap();
        let f = ws.read_frame().expect("a pong");
        assert_eq!(f.opcode, PONG);
        assert!(f.fin);
        assert_eq!(f.payload, payload);
    }
    // An unsolicited pong is ignored.
    ws.send(&frame(true, PONG, b"x")).unwrap();
    ws.expect_silence(Duration::from_millis(300));
}

#[test]
fn client_close_is_echoed() {
    let srv = TestServer::default();
    for code in [1000u16, 1001, 3000, 4000, 4999] {
        let (mut ws, _) = RawWs::established(srv.addr);
        ws.send(&close_frame(code, "bye")).unwrap();
        let (got, _) = ws.expect_close();
        assert_eq!(got, code);
        ws.expect_eof();
    }
    // An empty close frame is answered with 1000.
    let (mut ws, _) = RawWs::established(srv.addr);
    ws.send(&frame(true, CLOSE, b"")).unwrap();
    let f = ws.read_frame().expect("a close frame");
    assert_eq!(f.opcode, CLOSE);
    assert!(
        f.close_code().is_none_or(|c| c == 1000),
        "{:?}",
        f.close_code()
    );
    ws.expect_eof();
}

#[test]
fn tungstenite_close_handshake_completes() {
    let srv = TestServer::default();
    let mut c = srv.client();
    c.ws.close(Some(tungstenite::protocol::CloseFrame {
        code: tungstenite::protocol::frame::coding::CloseCode::Away,
        reason: "".into(),
    }))
    .unwrap();
    assert_eq!(c.expect_close(), Some(1001));
}

#[test]
fn subscription_is_released_when_the_socket_closes() {
    let srv = TestServer::default();
    let (mut ws, _) = RawWs::established(srv.addr);
    ws.subscribe("released");
    let count = || {
        srv.rest("GET", "/channels/released", &[], "").json()["subscription_count"]
            .as_u64()
            .unwrap()
    };
    assert_eq!(count(), 1);
    ws.send(&close_frame(1000, "")).unwrap();
    ws.expect_close();
    ws.expect_eof();
    let deadline = Instant::now() + WAIT;
    while count() != 0 {
        assert!(Instant::now() < deadline, "still counted after close");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Frame-level faults: each closes that socket with its code; another client is unharmed.
#[test]
fn protocol_faults_close_with_their_code() {
    let mut cfg = config();
    cfg.ws_max_message_bytes = 4096;
    let srv = TestServer::start(cfg);
    let mut healthy = srv.client();
    healthy.subscribe("healthy");
    let big = vec![b'a'; 5000];
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("unmasked", frame_with(FIN | TEXT, b"{}", false), 1002),
        ("RSV1", frame_with(FIN | 0x40 | TEXT, b"{}", true), 1002),
        ("RSV2", frame_with(FIN | 0x20 | TEXT, b"{}", true), 1002),
        ("RSV3", frame_with(FIN | 0x10 | TEXT, b"{}", true), 1002),
        ("opcode 3", frame_with(FIN | 0x3, b"{}", true), 1002),
        ("opcode 0xB", frame_with(FIN | 0xB, b"", true), 1002),
        ("2^63 length", header_64(FIN | TEXT, 1 << 63), 1002),
        ("u64::MAX length", header_64(FIN | TEXT, u64::MAX), 1002),
        ("continuation first", frame(true, CONT, b"{}"), 1002),
        ("fragmented ping", frame(false, PING, b""), 1002),
        ("ping of 126 bytes", frame(true, PING, &[0; 126]), 1002),
        (
            "non-minimal length",
            {
                let mut f = vec![FIN | TEXT, 0x80 | 126, 0, 5];
                f.extend_from_slice(&MASK);
                f.extend_from_slice(b"hello");
                f
            },
            1002,
        ),
        (
            "text inside a fragmented message",
            {
                let mut f = frame(false, TEXT, b"{");
                f.extend(frame(true, TEXT, b"}"));
                f
            },
            1002,
        ),
        (
            "close with a 1-byte payload",
            frame(true, CLOSE, &[3]),
            1002,
        ),
        ("close code 1005", close_frame(1005, ""), 1002),
        ("close code 999", close_frame(999, ""), 1002),
        ("close code 5000", close_frame(5000, ""), 1002),
        (
            "invalid UTF-8 text",
            frame(true, TEXT, &[0x7b, 0xff, 0xfe, 0x7d]),
            1007,
        ),
        (
            "invalid UTF-8 over fragments",
            {
                // A 3-byte sequence cut short by the end of the message.
                let mut f = frame(false, TEXT, &[b'"', 0xe2]);
                f.extend(frame(true, CONT, &[0x82]));
                f
            },
            1007,
        ),
        (
            "invalid UTF-8 close reason",
            {
                let mut p = 1000u16.to_be_bytes().to_vec();
                p.extend_from_slice(&[0xc3, 0x28]);
                frame(true, CLOSE, &p)
            },
            1007,
        ),
        ("oversized frame", frame(true, TEXT, &big), 1009),
        (
            "oversized after reassembly",
            {
                let mut f = frame(false, TEXT, &big[..3000]);
                f.extend(frame(true, CONT, &big[..3000]));
                f
            },
            1009,
        ),
        (
            "announced 2^63-1 bytes",
            header_64(FIN | BINARY, (1 << 63) - 1),
            1009,
        ),
    ];
    for (what, bytes, code) in cases {
        let (mut ws, _) = RawWs::established(srv.addr);
        ws.send(&bytes).unwrap();
        let (got, before) = ws.expect_close();
        assert_eq!(got, code, "{what}");
        assert!(before.is_empty(), "{what}: {before:?}");
        ws.expect_eof();
    }
    // The healthy client still receives publishes.
    let r = srv.trigger("healthy", "still-here", &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(healthy.recv_event("still-here")["channel"], "healthy");
}

#[test]
fn a_message_exactly_at_the_limit_is_accepted() {
    let mut cfg = config();
    cfg.ws_max_message_bytes = 4096;
    let srv = TestServer::start(cfg);
    let (mut ws, _) = RawWs::established(srv.addr);
    let msg = json!({"event": "pusher:ping", "data": {}}).to_string();
    let mut padded = msg.clone();
    padded.push_str(&" ".repeat(4096 - msg.len()));
    ws.send(&text_frame(&padded)).unwrap();
    assert_eq!(ws.recv_json()["event"], "pusher:pong");
    // One byte more: 1009.
    padded.push(' ');
    ws.send(&text_frame(&padded)).unwrap();
    assert_eq!(ws.expect_close().0, 1009);
}

#[test]
fn data_after_a_close_frame_is_ignored() {
    let srv = TestServer::default();
    let (mut ws, _) = RawWs::established(srv.addr);
    let mut bytes = close_frame(1000, "");
    bytes.extend(text_frame(
        &json!({"event": "pusher:ping", "data": {}}).to_string(),
    ));
    ws.send(&bytes).unwrap();
    let (code, before) = ws.expect_close();
    assert_eq!(code, 1000);
    assert!(before.is_empty());
    // Nothing follows the close frame.
    let _ = ws.sock.shutdown(Shutdown::Write);
    assert!(ws.read_frame().is_none());
}

#[test]
fn a_handshake_and_frames_in_one_write() {
    let srv = TestServer::default();
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut bytes = handshake_request("app-key").into_bytes();
    bytes.extend(text_frame(
        &json!({"event": "pusher:subscribe", "data": {"channel": "eager"}}).to_string(),
    ));
    s.write_all(&bytes).unwrap();
    let mut ws = RawWs {
        sock: s,
        buf: Vec::new(),
    };
    assert!(ws.read_head().unwrap().starts_with("HTTP/1.1 101 "));
    assert_eq!(ws.recv_json()["event"], "pusher:connection_established");
    assert_eq!(
        ws.recv_json()["event"],
        "pusher_internal:subscription_succeeded"
    );
}

#[test]
fn an_upgrade_after_a_keep_alive_request_on_the_same_connection() {
    let srv = TestServer::default();
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    let mut bytes = b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n".to_vec();
    bytes.extend_from_slice(handshake_request("app-key").as_bytes());
    s.write_all(&bytes).unwrap();
    let mut ws = RawWs {
        sock: s,
        buf: Vec::new(),
    };
    let first = ws.read_head().unwrap();
    assert!(first.starts_with("HTTP/1.1 200 "), "{first}");
    // The 200 has a 2-byte body ("OK") before the next response.
    while ws.buf.len() < 2 {
        assert!(ws.fill());
    }
    assert_eq!(&ws.buf[..2], b"OK");
    ws.buf.drain(..2);
    let second = ws.read_head().unwrap();
    assert!(second.starts_with("HTTP/1.1 101 "), "{second}");
    assert_eq!(ws.recv_json()["event"], "pusher:connection_established");
}

#[test]
fn thousands_of_messages_in_one_write_are_all_answered_in_order() {
    let srv = TestServer::default();
    let (mut ws, _) = RawWs::established(srv.addr);
    // Pusher pings.
    let one = text_frame(&json!({"event": "pusher:ping", "data": {}}).to_string());
    let bytes: Vec<u8> = one.iter().copied().cycle().take(one.len() * 3000).collect();
    ws.send(&bytes).unwrap();
    for i in 0..3000 {
        let m = ws.recv_json();
        assert_eq!(m["event"], "pusher:pong", "#{i}");
    }
    // WebSocket pings, each with its own payload.
    let mut bytes = Vec::new();
    for i in 0..3000u32 {
        bytes.extend(frame(true, PING, &i.to_be_bytes()));
    }
    ws.send(&bytes).unwrap();
    for i in 0..3000u32 {
        let f = ws.read_frame().expect("a pong");
        assert_eq!(
            (f.opcode, f.payload.as_slice()),
            (PONG, &i.to_be_bytes()[..])
        );
    }
}

#[test]
fn a_large_message_in_many_fragments_just_under_the_limit() {
    let srv = TestServer::default();
    let (mut ws, _) = RawWs::established(srv.addr);
    let msg = json!({"event": "pusher:subscribe", "data": {"channel": "large"}}).to_string();
    // 1 MiB (the default limit) exactly, in 64 fragments.
    let mut padded = msg.into_bytes();
    padded.resize(1024 * 1024, b' ');
    let parts: Vec<&[u8]> = padded.chunks(16 * 1024).collect();
    let mut bytes = Vec::new();
    for (i, p) in parts.iter().enumerate() {
        let op = if i == 0 { TEXT } else { CONT };
        bytes.extend(frame(i == parts.len() - 1, op, p));
    }
    ws.send(&bytes).unwrap();
    let m = ws.recv_json();
    assert_eq!(m["event"], "pusher_internal:subscription_succeeded", "{m}");
    // And again, to show the reassembly state was reset.
    ws.send(&bytes).unwrap();
    let m = ws.recv_json();
    assert_eq!(m["event"], "pusher_internal:subscription_succeeded", "{m}");
}

#[test]
fn a_utf8_sequence_split_across_fragments_is_valid() {
    let srv = TestServer::default();
    let (mut ws, _) = RawWs::established(srv.addr);
    // The channel name is refused for its non-ASCII letter: the answer names the channel
    // with that letter intact, so the message was reassembled and decoded whole.
    let msg = json!({"event": "pusher:subscribe", "data": {"channel": "caf\u{e9}"}}).to_string();
    let bytes = msg.as_bytes();
    let cut = bytes.iter().position(|&b| b == 0xc3).unwrap() + 1; // inside "é"
    let mut out = frame(false, TEXT, &bytes[..cut]);
    out.extend(frame(true, CONT, &bytes[cut..]));
    ws.send(&out).unwrap();
    let m = ws.recv_json();
    assert_eq!(m["event"], "pusher:subscription_error", "{m}");
    assert_eq!(m["channel"], "caf\u{e9}");
}
