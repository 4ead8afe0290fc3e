//! Test harness: an in-process server on 127.0.0.1 ephemeral ports, a blocking WebSocket
//! client speaking the Pusher protocol, and a raw HTTP client that signs REST requests.
#![allow(dead_code)]

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use fanoutd::config::{AppConfig, Config};
use fanoutd::pusher::auth;
use fanoutd::server::Options;
use fanoutd::{Server, ServerHandle};
use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

/// How long a test waits for an expected message.
pub const WAIT: Duration = Duration::from_secs(5);

/// A configuration for tests: loopback, ephemeral ports, 2 reactors, metrics enabled.
#[allow(clippy::field_reassign_with_default)]
pub fn config() -> Config {
    let mut c = Config::default();
    c.host = "127.0.0.1".parse().unwrap();
    c.port = 0;
    c.metrics.host = "127.0.0.1".parse().unwrap();
    c.metrics.port = 0;
    c.metrics.enabled = true;
    c.reactors = 2;
    c.shutdown_grace_period_ms = 1000;
    c
}

/// The default app of [`config`], to tweak per test.
pub fn app(c: &mut Config) -> &mut AppConfig {
    &mut c.apps[0]
}

/// A second app added to `c`.
pub fn add_app<'a>(c: &'a mut Config, id: &str, key: &str, secret: &str) -> &'a mut AppConfig {
    let mut a = c.apps[0].clone();
    a.id = id.into();
    a.key = key.into();
    a.secret = secret.into();
    c.apps.push(a);
    c.apps.last_mut().unwrap()
}

/// A running server; shut down on drop.
pub struct TestServer {
    pub handle: Option<ServerHandle>,
    pub addr: SocketAddr,
    pub metrics_addr: SocketAddr,
}

impl TestServer {
    pub fn start(c: Config) -> TestServer {
        TestServer::start_with(c, Options::default())
    }

    /// A server with parts chosen by the test (an app store, a transition sink).
    pub fn start_with(c: Config, options: Options) -> TestServer {
        let handle = Server::start_with(c, options).expect("server starts");
        TestServer {
            addr: handle.addr(),
            metrics_addr: handle.metrics_addr(),
            handle: Some(handle),
        }
    }

    pub fn default() -> TestServer {
        TestServer::start(config())
    }

    /// A connected Pusher client for `app-key`.
    pub fn client(&self) -> Client {
        Client::connect(self.addr, "app-key")
    }

    /// Signed REST call for app `app-id` / `app-secret` (see [`rest`]).
    pub fn rest(&self, method: &str, path: &str, query: &[(&str, &str)], body: &str) -> Response {
        rest(
            self.addr,
            "app-id",
            "app-key",
            "app-secret",
            method,
            path,
            query,
            body,
        )
    }

    /// Publishes `data` (a JSON value, sent as its string form like the SDKs do).
    pub fn trigger(&self, channel: &str, event: &str, data: &Value) -> Response {
        let body = json!({"name": event, "channel": channel, "data": data.to_string()});
        self.rest("POST", "/events", &[], &body.to_string())
    }

    /// `GET /metrics` body.
    pub fn metrics(&self) -> String {
        let r = http(
            self.metrics_addr,
            "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".as_bytes(),
        );
        assert_eq!(r.status, 200, "{}", r.body);
        r.body
    }

    pub fn shutdown(&mut self) {
        if let Some(h) = self.handle.take() {
            h.shutdown().expect("clean shutdown");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(h) = self.handle.take() {
            let _ = h.shutdown();
        }
    }
}

/// A blocking Pusher WebSocket client.
pub struct Client {
    pub ws: WebSocket<MaybeTlsStream<TcpStream>>,
    pub socket_id: String,
}

impl Client {
    /// Connects and waits for `pusher:connection_established`.
    pub fn connect(addr: SocketAddr, key: &str) -> Client {
        let (mut c, first) = Client::connect_raw(addr, key);
        assert_eq!(first["event"], "pusher:connection_established", "{first}");
        let data: Value = serde_json::from_str(first["data"].as_str().unwrap()).unwrap();
        c.socket_id = data["socket_id"].as_str().unwrap().to_string();
        c
    }

    /// Connects and returns the first message, whatever it is.
    pub fn connect_raw(addr: SocketAddr, key: &str) -> (Client, Value) {
        let url = format!("ws://{addr}/app/{key}?protocol=7&client=js&version=8.4.0&flash=false");
        let (ws, _) = tungstenite::connect(url).expect("websocket handshake");
        let mut c = Client {
            ws,
            socket_id: String::new(),
        };
        c.set_timeout(WAIT);
        let first = c.recv();
        (c, first)
    }

    pub fn set_timeout(&mut self, d: Duration) {
        if let MaybeTlsStream::Plain(s) = self.ws.get_mut() {
            s.set_read_timeout(Some(d)).unwrap();
        }
    }

    pub fn send(&mut self, v: Value) {
        self.ws.send(Message::text(v.to_string())).expect("send");
    }

    pub fn send_text(&mut self, s: &str) {
        self.ws.send(Message::text(s)).expect("send");
    }

    /// The next Pusher message (panics on timeout or close).
    pub fn recv(&mut self) -> Value {
        loop {
            match self.ws.read().expect("a message before the timeout") {
                Message::Text(t) => return serde_json::from_str(&t).expect("JSON"),
                Message::Binary(b) => return serde_json::from_slice(&b).expect("JSON"),
                Message::Close(f) => panic!("closed: {f:?}"),
                _ => continue,
            }
        }
    }

    /// Skips messages until one with `event`, returning it.
    pub fn recv_event(&mut self, event: &str) -> Value {
        let deadline = Instant::now() + WAIT;
        loop {
            assert!(Instant::now() < deadline, "no {event} in time");
            let m = self.recv();
            if m["event"] == event {
                return m;
            }
        }
    }

    /// Asserts nothing (but pings/pongs) arrives for `d`.
    pub fn expect_silence(&mut self, d: Duration) {
        self.set_timeout(d);
        match self.ws.read() {
            Ok(Message::Text(t)) => panic!("unexpected message: {t}"),
            Ok(m) => panic!("unexpected frame: {m:?}"),
            Err(tungstenite::Error::Io(e))
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut => {}
            Err(e) => panic!("unexpected error: {e}"),
        }
        self.set_timeout(WAIT);
    }

    /// Reads until the server closes; returns the close code (None: no close frame).
    pub fn expect_close(&mut self) -> Option<u16> {
        let deadline = Instant::now() + WAIT;
        loop {
            assert!(Instant::now() < deadline, "no close in time");
            match self.ws.read() {
                Ok(Message::Close(f)) => return f.map(|f| u16::from(f.code)),
                Ok(_) => continue,
                Err(tungstenite::Error::ConnectionClosed)
                | Err(tungstenite::Error::AlreadyClosed) => return None,
                Err(tungstenite::Error::Io(e))
                    if e.kind() != std::io::ErrorKind::WouldBlock
                        && e.kind() != std::io::ErrorKind::TimedOut =>
                {
                    return None
                }
                Err(tungstenite::Error::Protocol(_)) => return None,
                Err(e) => panic!("while waiting for close: {e}"),
            }
        }
    }

    /// Subscribes to a public channel and waits for the confirmation.
    pub fn subscribe(&mut self, channel: &str) {
        self.send(json!({"event": "pusher:subscribe", "data": {"channel": channel}}));
        let m = self.recv_event("pusher_internal:subscription_succeeded");
        assert_eq!(m["channel"], channel);
    }

    /// The auth token for a private channel, signed with `app-key`/`app-secret`.
    pub fn private_auth(&self, channel: &str) -> String {
        auth::sign_socket_token(
            "app-key",
            "app-secret",
            &[self.socket_id.as_bytes(), b":", channel.as_bytes()],
        )
    }

    /// The auth token for a presence channel.
    pub fn presence_auth(&self, channel: &str, channel_data: &str) -> String {
        auth::sign_socket_token(
            "app-key",
            "app-secret",
            &[
                self.socket_id.as_bytes(),
                b":",
                channel.as_bytes(),
                b":",
                channel_data.as_bytes(),
            ],
        )
    }

    /// Subscribes to a private (or encrypted) channel with a valid signature.
    pub fn subscribe_private(&mut self, channel: &str) {
        let a = self.private_auth(channel);
        self.send(json!({"event": "pusher:subscribe", "data": {"channel": channel, "auth": a}}));
        let m = self.recv_event("pusher_internal:subscription_succeeded");
        assert_eq!(m["channel"], channel);
    }

    /// Joins a presence channel; returns the `presence` object of the confirmation.
    pub fn subscribe_presence(&mut self, channel: &str, user_id: Value, info: Value) -> Value {
        let cd = json!({"user_id": user_id, "user_info": info}).to_string();
        let a = self.presence_auth(channel, &cd);
        self.send(json!({"event": "pusher:subscribe", "data": {"channel": channel, "auth": a, "channel_data": cd}}));
        let m = self.recv_event("pusher_internal:subscription_succeeded");
        let data: Value = serde_json::from_str(m["data"].as_str().unwrap()).unwrap();
        data["presence"].clone()
    }
}

/// A parsed HTTP response.
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("not JSON ({e}): {}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// Sends raw bytes, reads one response (Content-Length framed, or until close).
pub fn http(addr: SocketAddr, request: &[u8]) -> Response {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.write_all(request).unwrap();
    read_response(&mut s).expect("a response")
}

/// The status and headers of a response head (through its blank line).
pub fn parse_response_head(head: &[u8]) -> Option<(u16, Vec<(String, String)>)> {
    let head = String::from_utf8_lossy(head);
    let mut lines = head.split("\r\n");
    let status: u16 = lines.next()?.split(' ').nth(1)?.parse().ok()?;
    let headers = lines
        .filter(|l| !l.is_empty())
        .filter_map(|l| {
            l.split_once(':')
                .map(|(a, b)| (a.trim().to_string(), b.trim().to_string()))
        })
        .collect();
    Some((status, headers))
}

/// The `Content-Length` among `headers`, if any.
pub fn content_length(headers: &[(String, String)]) -> Option<usize> {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        .map(|(_, v)| v.parse().unwrap())
}

/// Reads one HTTP response from `s`.
pub fn read_response(s: &mut TcpStream) -> Option<Response> {
    let mut buf = Vec::new();
    let mut tmp = [0u8; 4096];
    let head_end = loop {
        if let Some(p) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break p + 4;
        }
        let n = s.read(&mut tmp).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&tmp[..n]);
    };
    let (status, headers) = parse_response_head(&buf[..head_end])?;
    let len = content_length(&headers).unwrap_or(0);
    while buf.len() < head_end + len {
        let n = s.read(&mut tmp).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&tmp[..n]);
    }
    let body = String::from_utf8_lossy(&buf[head_end..(head_end + len).min(buf.len())]).to_string();
    Some(Response {
        status,
        headers,
        body,
    })
}

pub fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// A signed REST request to `/apps/{app_id}{path}`, signed the way the Pusher SDKs sign.
#[allow(clippy::too_many_arguments)]
pub fn rest(
    addr: SocketAddr,
    app_id: &str,
    key: &str,
    secret: &str,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    body: &str,
) -> Response {
    let full = format!("/apps/{app_id}{path}");
    let q = auth::sign_rest_query(
        method,
        &full,
        query,
        body.as_bytes(),
        key,
        secret,
        unix_now(),
    );
    let req = format!(
        "{method} {full}?{q} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    http(addr, req.as_bytes())
}
