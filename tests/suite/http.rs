//! HTTP/1.1 on the public port: keep-alive, pipelining, Content-Length bodies, the limits on
//! heads, header counts and bodies, the slow-loris timeout, malformed requests, and the
//! health routes.

use std::io::{Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use fanoutd::pusher::auth;
use serde_json::json;

use crate::util::*;

/// A client connection that keeps the bytes it read past one response, so pipelined
/// responses can be read one by one.
pub(crate) struct HttpConn {
    pub sock: TcpStream,
    buf: Vec<u8>,
}

impl HttpConn {
    pub(crate) fn open(addr: SocketAddr) -> HttpConn {
        let sock = TcpStream::connect(addr).unwrap();
        sock.set_read_timeout(Some(WAIT)).unwrap();
        sock.set_nodelay(true).unwrap();
        HttpConn {
            sock,
            buf: Vec::new(),
        }
    }

    pub(crate) fn send(&mut self, bytes: &[u8]) {
        self.sock.write_all(bytes).unwrap();
    }

    /// Reads one Content-Length framed response; `None` on EOF / timeout before it.
    pub(crate) fn response(&mut self) -> Option<Response> {
        let head_end = loop {
            if let Some(p) = self.buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break p + 4;
            }
            if !self.fill() {
                return None;
            }
        };
        let (status, headers) = parse_response_head(&self.buf[..head_end])?;
        let len = content_length(&headers).expect("every response has a Content-Length");
        while self.buf.len() < head_end + len {
            if !self.fill() {
                return None;
            }
        }
        let body = String::from_utf8_lossy(&self.buf[head_end..head_end + len]).to_string();
        self.buf.drain(..head_end + len);
        Some(Response {
            status,
            headers,
            body,
        })
    }

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

    /// The server closes the connection (EOF, or a reset) with nothing more sent.
    pub(crate) fn expect_closed(&mut self) {
        assert!(self.buf.is_empty(), "unread bytes: {:?}", self.buf);
        let mut tmp = [0u8; 1024];
        match self.sock.read(&mut tmp) {
            Ok(0) => {}
            Ok(n) => panic!(
                "more bytes after the last response: {}",
                String::from_utf8_lossy(&tmp[..n])
            ),
            Err(e)
                if e.kind() == std::io::ErrorKind::WouldBlock
                    || e.kind() == std::io::ErrorKind::TimedOut =>
            {
                panic!("the server kept the connection open")
            }
            Err(_) => {} // reset
        }
    }
}

/// `GET {path}` on a keep-alive connection.
fn get(path: &str) -> String {
    format!("GET {path} HTTP/1.1\r\nHost: x\r\n\r\n")
}

/// A signed REST request without `Connection: close`, for keep-alive and pipelining.
fn signed(method: &str, path: &str, query: &[(&str, &str)], body: &str) -> String {
    let full = format!("/apps/app-id{path}");
    let q = auth::sign_rest_query(
        method,
        &full,
        query,
        body.as_bytes(),
        "app-key",
        "app-secret",
        unix_now(),
    );
    format!(
        "{method} {full}?{q} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
}

/// A config with a 1 s request timeout (slow-loris tests).
fn quick_config() -> fanoutd::Config {
    let mut c = config();
    c.http.request_timeout_ms = 1000;
    c
}

// ------------------------------------------------------------------------------ routes

#[test]
fn health_routes() {
    let mut cfg = config();
    // /accept-traffic compares the machine's memory use with this threshold.
    cfg.http.accept_traffic_memory_threshold = 100.0;
    let srv = TestServer::start(cfg);
    let r = http(srv.addr, get("/").as_bytes());
    assert_eq!((r.status, r.body.as_str()), (200, "OK"));
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"));
    let r = http(srv.addr, get("/ready").as_bytes());
    assert_eq!((r.status, r.body.as_str()), (200, "OK"));
    let r = http(srv.addr, get("/accept-traffic").as_bytes());
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r
        .header("Content-Type")
        .unwrap()
        .starts_with("application/json"));
    let v = r.json();
    assert!(v["memory"].is_object(), "{v}");
    for k in ["usedSize", "totalSize", "percentUsage"] {
        assert!(v["memory"][k].is_number(), "{k}: {v}");
    }
    // HEAD: the same status and headers, no body.
    let mut c = HttpConn::open(srv.addr);
    c.send(b"HEAD / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let mut all = Vec::new();
    let _ = c.sock.read_to_end(&mut all);
    let text = String::from_utf8_lossy(&all);
    assert!(text.starts_with("HTTP/1.1 200 "), "{text}");
    assert!(text.ends_with("\r\n\r\n"), "HEAD sent a body: {text:?}");
}

#[test]
fn unknown_routes_are_404_and_metrics_is_not_served_on_the_public_port() {
    let srv = TestServer::default();
    for path in [
        "/metrics",
        "/usage",
        "/nope",
        "/favicon.ico",
        "/app",
        "/app/",
        "/apps",
        "/apps/app-id",
        "/apps/app-id/nope",
        "/apps/app-id/channels/a/b/c",
    ] {
        let r = http(srv.addr, get(path).as_bytes());
        assert_eq!(r.status, 404, "{path}: {r:?}");
        let v = r.json();
        assert_eq!(v["code"], 404, "{path}");
        assert!(v["error"].is_string(), "{path}");
    }
}

#[test]
fn wrong_methods_are_405() {
    let srv = TestServer::default();
    let cases = [
        ("POST", "/", "GET, HEAD"),
        ("POST", "/ready", "GET, HEAD"),
        ("DELETE", "/accept-traffic", "GET, HEAD"),
        ("GET", "/apps/app-id/events", "POST"),
        ("GET", "/apps/app-id/batch_events", "POST"),
        ("PUT", "/apps/app-id/events", "POST"),
        ("POST", "/apps/app-id/channels", "GET"),
        ("DELETE", "/apps/app-id/channels/x", "GET"),
    ];
    for (method, path, allow) in cases {
        let req = format!("{method} {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\n\r\n");
        let r = http(srv.addr, req.as_bytes());
        assert_eq!(r.status, 405, "{method} {path}: {r:?}");
        assert_eq!(r.header("Allow"), Some(allow), "{method} {path}");
        assert_eq!(r.json()["code"], 405);
    }
}

// ------------------------------------------------------------------------------ framing

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let srv = TestServer::default();
    let mut ws = srv.client();
    ws.subscribe("ka");
    let mut c = HttpConn::open(srv.addr);
    for i in 0..3 {
        c.send(get("/").as_bytes());
        let r = c.response().expect("a response");
        assert_eq!((r.status, r.body.as_str()), (200, "OK"), "request {i}");
        assert_eq!(r.header("Connection"), None, "keep-alive is the default");
    }
    // REST calls on the same connection, each with its own body.
    for i in 0..3 {
        let body = json!({"name": "e", "channel": "ka", "data": i.to_string()}).to_string();
        c.send(signed("POST", "/events", &[], &body).as_bytes());
        let r = c.response().expect("a response");
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(ws.recv_event("e")["data"], i.to_string());
    }
    // An error answer keeps the connection too.
    c.send(get("/nope").as_bytes());
    assert_eq!(c.response().unwrap().status, 404);
    c.send(get("/").as_bytes());
    assert_eq!(c.response().unwrap().status, 200);
    // `Connection: close` is honoured: the answer says so and the connection ends.
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let r = c.response().unwrap();
    assert_eq!(r.header("Connection"), Some("close"));
    c.expect_closed();
}

#[test]
fn http_1_0_closes_unless_keep_alive() {
    let srv = TestServer::default();
    let mut c = HttpConn::open(srv.addr);
    c.send(b"GET / HTTP/1.0\r\n\r\n");
    assert_eq!(c.response().unwrap().status, 200);
    c.expect_closed();
    let mut c = HttpConn::open(srv.addr);
    c.send(b"GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(c.response().unwrap().status, 200);
    c.send(b"GET /ready HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
    assert_eq!(c.response().unwrap().status, 200);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let srv = TestServer::default();
    let mut ws = srv.client();
    ws.subscribe("pipe");
    let mut c = HttpConn::open(srv.addr);
    // Two requests in one write.
    let mut bytes = get("/").into_bytes();
    bytes.extend_from_slice(get("/nope").as_bytes());
    c.send(&bytes);
    assert_eq!(c.response().unwrap().status, 200);
    assert_eq!(c.response().unwrap().status, 404);
    // Bodies between pipelined requests, and a final one cut mid-body, completed later.
    let b1 = json!({"name": "first", "channel": "pipe", "data": "1"}).to_string();
    let b2 = json!({"name": "second", "channel": "pipe", "data": "2"}).to_string();
    let mut bytes = signed("POST", "/events", &[], &b1).into_bytes();
    bytes.extend_from_slice(get("/ready").as_bytes());
    bytes.extend_from_slice(signed("POST", "/events", &[], &b2).as_bytes());
    let cut = bytes.len() - 5;
    c.send(&bytes[..cut]);
    assert_eq!(c.response().unwrap().status, 200);
    assert_eq!(c.response().unwrap().status, 200);
    std::thread::sleep(Duration::from_millis(50));
    c.send(&bytes[cut..]);
    let r = c.response().unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ws.recv_event("first")["data"], "1");
    assert_eq!(ws.recv_event("second")["data"], "2");
    // Many in one write.
    let many: String = (0..50).map(|_| get("/")).collect();
    c.send(many.as_bytes());
    for i in 0..50 {
        assert_eq!(c.response().expect("a response").status, 200, "#{i}");
    }
}

#[test]
fn content_length_bodies_arriving_in_pieces() {
    let srv = TestServer::default();
    let mut ws = srv.client();
    ws.subscribe("pieces");
    let body = json!({"name": "e", "channel": "pieces", "data": "x".repeat(50_000)}).to_string();
    let req = signed("POST", "/events", &[], &body);
    let mut c = HttpConn::open(srv.addr);
    for chunk in req.as_bytes().chunks(7_000) {
        c.send(chunk);
        std::thread::sleep(Duration::from_millis(5));
    }
    let r = c.response().unwrap();
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(ws.recv_event("e")["data"].as_str().unwrap().len(), 50_000);
}

// ------------------------------------------------------------------------------ limits

#[test]
fn head_size_limit_is_431() {
    let mut cfg = config();
    cfg.http.max_head_bytes = 2048;
    let srv = TestServer::start(cfg);
    // Just under the limit: fine.
    let pad = "a".repeat(1800);
    let r = http(
        srv.addr,
        format!("GET / HTTP/1.1\r\nHost: x\r\nX-Pad: {pad}\r\n\r\n").as_bytes(),
    );
    assert_eq!(r.status, 200);
    for pad_len in [2100, 100_000] {
        let pad = "a".repeat(pad_len);
        let mut c = HttpConn::open(srv.addr);
        // The head may be refused before it is all sent: ignore write errors.
        let _ = c
            .sock
            .write_all(format!("GET / HTTP/1.1\r\nHost: x\r\nX-Pad: {pad}\r\n\r\n").as_bytes());
        let r = c.response().expect("a 431");
        assert_eq!(r.status, 431, "{pad_len}");
        assert_eq!(r.json()["code"], 431);
        assert_eq!(r.header("Connection"), Some("close"));
    }
    // A head that never ends is refused once it passes the limit, without waiting.
    let mut c = HttpConn::open(srv.addr);
    let _ = c
        .sock
        .write_all(format!("GET /{} HTTP/1.1\r\n", "a".repeat(3000)).as_bytes());
    assert_eq!(c.response().expect("a 431").status, 431);
}

#[test]
fn default_head_limit_is_16_kib() {
    let srv = TestServer::default();
    let pad = "a".repeat(20_000);
    let mut c = HttpConn::open(srv.addr);
    let _ = c
        .sock
        .write_all(format!("GET / HTTP/1.1\r\nHost: x\r\nX-Pad: {pad}\r\n\r\n").as_bytes());
    assert_eq!(c.response().expect("a 431").status, 431);
}

#[test]
fn header_count_limit_is_431() {
    let mut cfg = config();
    cfg.http.max_headers = 8;
    let srv = TestServer::start(cfg);
    // `n` header lines: Host and n - 1 others.
    let with = |n: usize| {
        let mut r = "GET / HTTP/1.1\r\nHost: x\r\n".to_string();
        for i in 1..n {
            r.push_str(&format!("X-H{i}: v\r\n"));
        }
        r.push_str("\r\n");
        r
    };
    assert_eq!(http(srv.addr, with(8).as_bytes()).status, 200);
    let r = http(srv.addr, with(9).as_bytes());
    assert_eq!(r.status, 431, "{r:?}");
    assert_eq!(r.json()["code"], 431);
    // The default is 64.
    let srv = TestServer::default();
    assert_eq!(http(srv.addr, with(64).as_bytes()).status, 200);
    assert_eq!(http(srv.addr, with(65).as_bytes()).status, 431);
}

#[test]
fn body_size_limit_is_413() {
    let mut cfg = config();
    cfg.http.max_body_bytes = 1024;
    let srv = TestServer::start(cfg);
    let body = "x".repeat(1024);
    let r = http(
        srv.addr,
        format!(
            "POST /apps/app-id/events HTTP/1.1\r\nHost: x\r\nContent-Length: 1024\r\n\r\n{body}"
        )
        .as_bytes(),
    );
    assert_ne!(r.status, 413, "at the limit: {r:?}");
    // Refused from the head alone: the body is never sent.
    for len in ["1025", "10485760", "18446744073709551615"] {
        let r = http(
            srv.addr,
            format!(
                "POST /apps/app-id/events HTTP/1.1\r\nHost: x\r\nContent-Length: {len}\r\n\r\n"
            )
            .as_bytes(),
        );
        assert_eq!(r.status, 413, "{len}: {r:?}");
        assert_eq!(
            r.json(),
            json!({"error": "The payload size is too big.", "code": 413})
        );
    }
}

#[test]
fn slow_loris_head_gets_408_and_the_connection_closes() {
    let srv = TestServer::start(quick_config());
    let mut c = HttpConn::open(srv.addr);
    c.send(b"GET / HTTP/1.1\r\nHost: x\r\n");
    let r = c.response().expect("a 408");
    assert_eq!(r.status, 408, "{r:?}");
    assert_eq!(r.json()["code"], 408);
    assert_eq!(r.header("Connection"), Some("close"));
    c.expect_closed();
}

/// A request that completes 400 ms after it started is within a 1000 ms request timeout.
/// Eight tries give the request every position relative to the server's once-a-second sweep.
#[test]
fn request_timeout_counts_from_the_start_of_the_request() {
    let srv = TestServer::start(quick_config());
    for i in 0..8 {
        let mut c = HttpConn::open(srv.addr);
        c.send(b"GET / HTTP/1.1\r\nHost: x\r\n");
        std::thread::sleep(Duration::from_millis(400));
        c.send(b"\r\n");
        let r = c.response().expect("a response");
        assert_eq!(r.status, 200, "try {i}: a 400 ms request got {r:?}");
    }
}

#[test]
fn trickling_bytes_does_not_extend_the_request_timeout() {
    let srv = TestServer::start(quick_config());
    let mut c = HttpConn::open(srv.addr);
    c.sock
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let started = Instant::now();
    // One header byte every 100 ms: the whole request would take far longer than 1 s.
    let head = format!("GET / HTTP/1.1\r\nX-Slow: {}\r\n\r\n", "a".repeat(200));
    let mut got = None;
    for b in head.as_bytes() {
        if c.sock.write_all(&[*b]).is_err() {
            break;
        }
        if let Some(r) = c.response() {
            got = Some(r);
            break;
        }
        assert!(started.elapsed() < WAIT * 2, "no 408 while trickling");
    }
    c.sock.set_read_timeout(Some(WAIT)).unwrap();
    let r = got.or_else(|| c.response()).expect("a 408");
    assert_eq!(r.status, 408);
}

#[test]
fn body_shorter_than_its_content_length_gets_408() {
    let srv = TestServer::start(quick_config());
    let mut c = HttpConn::open(srv.addr);
    // The query passes what can be checked before the body (key, timestamp).
    let req = format!(
        "POST /apps/app-id/events?auth_key=app-key&auth_timestamp={}&auth_signature=x HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{{\"name\":",
        unix_now()
    );
    c.send(req.as_bytes());
    let r = c.response().expect("a 408");
    assert_eq!(r.status, 408, "{r:?}");
    c.expect_closed();
}

#[test]
fn idle_keep_alive_connection_is_closed_without_a_response() {
    let mut cfg = quick_config();
    cfg.http.idle_timeout_ms = 1000;
    let srv = TestServer::start(cfg);
    let mut c = HttpConn::open(srv.addr);
    c.send(get("/").as_bytes());
    assert_eq!(c.response().unwrap().status, 200);
    // Idle (no partial request): closed silently, not answered with 408.
    c.expect_closed();
}

/// A keep-alive connection that sends its next request 400 ms after the last response is
/// not idle for `idle_timeout_ms` (1000 ms).
#[test]
fn idle_timeout_counts_from_the_last_request() {
    let mut cfg = quick_config();
    cfg.http.idle_timeout_ms = 1000;
    let srv = TestServer::start(cfg);
    let mut c = HttpConn::open(srv.addr);
    for i in 0..8 {
        c.send(get("/").as_bytes());
        let r = c.response();
        assert_eq!(
            r.map(|r| r.status),
            Some(200),
            "request {i} 400 ms after the last"
        );
        std::thread::sleep(Duration::from_millis(400));
    }
}

#[test]
fn malformed_requests_get_400_or_their_status() {
    let srv = TestServer::default();
    let cases: Vec<(&str, Vec<u8>, u16)> = vec![
        ("garbage line", b"GARBAGE\r\n\r\n".to_vec(), 400),
        (
            "binary garbage",
            (0u8..=255).cycle().take(600).collect(),
            400,
        ),
        (
            "TLS client hello",
            vec![
                0x16, 0x03, 0x01, 0x02, 0x00, 0x01, 0x00, 0x01, 0xfc, 0x03, 0x03,
            ],
            400,
        ),
        (
            "HTTP/2 preface",
            b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n".to_vec(),
            400,
        ),
        (
            "absolute-form target",
            b"GET http://x/ HTTP/1.1\r\nHost: x\r\n\r\n".to_vec(),
            400,
        ),
        ("no version", b"GET /\r\n\r\n".to_vec(), 400),
        (
            "space in header name",
            b"GET / HTTP/1.1\r\nBad Header: x\r\n\r\n".to_vec(),
            400,
        ),
        (
            "bad Content-Length",
            b"POST / HTTP/1.1\r\nContent-Length: abc\r\n\r\n".to_vec(),
            400,
        ),
        (
            "negative Content-Length",
            b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n".to_vec(),
            400,
        ),
        (
            "disagreeing Content-Lengths",
            b"POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab".to_vec(),
            400,
        ),
        (
            "Transfer-Encoding with Content-Length",
            b"POST /apps/app-id/events HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
                .to_vec(),
            400,
        ),
        (
            "a transfer coding other than chunked",
            b"POST /apps/app-id/events HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
                .to_vec(),
            501,
        ),
        (
            "HTTP/1.1 without Host",
            b"GET / HTTP/1.1\r\n\r\n".to_vec(),
            400,
        ),
        (
            "two Host headers",
            b"GET / HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n".to_vec(),
            400,
        ),
    ];
    for (what, bytes, status) in cases {
        let mut c = HttpConn::open(srv.addr);
        c.send(&bytes);
        let r = c
            .response()
            .unwrap_or_else(|| panic!("{what}: no response"));
        assert_eq!(r.status, status, "{what}: {r:?}");
        assert_eq!(r.json()["code"], status, "{what}");
        // The connection is not reused after a framing error.
        assert_eq!(r.header("Connection"), Some("close"), "{what}");
        c.expect_closed();
    }
    assert_eq!(http(srv.addr, get("/").as_bytes()).status, 200);
}

#[test]
fn client_half_close_after_a_request_still_gets_the_answer() {
    let srv = TestServer::default();
    let mut c = HttpConn::open(srv.addr);
    c.send(get("/ready").as_bytes());
    c.sock.shutdown(Shutdown::Write).unwrap();
    assert_eq!(c.response().expect("a response").status, 200);
}

#[test]
fn cors_preflight_on_the_api() {
    let srv = TestServer::default();
    let r = http(
        srv.addr,
        b"OPTIONS /apps/app-id/events HTTP/1.1\r\nHost: x\r\nOrigin: http://a\r\n\r\n",
    );
    assert_eq!(r.status, 204, "{r:?}");
    assert_eq!(r.header("Access-Control-Allow-Origin"), Some("*"));
    assert!(r
        .header("Access-Control-Allow-Methods")
        .unwrap()
        .contains("POST"));
}

#[test]
fn requests_pipelined_after_connection_close_are_not_served() {
    let srv = TestServer::default();
    let mut c = HttpConn::open(srv.addr);
    let mut bytes = b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".to_vec();
    bytes.extend_from_slice(get("/ready").as_bytes());
    c.send(&bytes);
    assert_eq!(c.response().unwrap().status, 200);
    c.expect_closed();
}

/// Resident memory of a process, in bytes.
fn rss_bytes(pid: u32) -> u64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let kb: u64 = s
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
        .unwrap();
    kb * 1024
}

/// A client that pipelines requests and never reads the responses must not make the server
/// buffer them without bound: each 27-byte `GET /` costs a ~300-byte response, so 32 MB of
/// requests would be ~370 MB of output. The server should stop reading (back-pressure) or
/// close the connection; either way its memory stays small. Measured on the binary, so that
/// no other test's memory is counted.
#[test]
fn pipelined_requests_that_are_never_read_do_not_grow_memory_without_bound() {
    let bin = crate::config::start_bin(&[], &[]);
    let before = rss_bytes(bin.child.id());
    let mut s = TcpStream::connect(bin.addr).unwrap();
    s.set_write_timeout(Some(Duration::from_secs(2))).unwrap();
    let req = get("/");
    let chunk: Vec<u8> = req.repeat(40_000).into_bytes();
    let mut sent = 0;
    while sent < 32 * 1024 * 1024 {
        // A write that blocks for 2 s means the server applies back-pressure: good.
        if s.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
    }
    std::thread::sleep(Duration::from_millis(300));
    let grown = rss_bytes(bin.child.id()).saturating_sub(before);
    assert!(
        grown < 64 * 1024 * 1024,
        "the server grew by {} MB for {} MB of unread pipelined requests",
        grown / (1024 * 1024),
        sent / (1024 * 1024)
    );
    // Others are still served.
    let r = http(
        bin.addr,
        b"GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 200);
}

/// A client that sends a whole oversized body before reading still finds the 413 (its
/// write may fail once the server gives up on the connection: that is fine).
#[test]
fn an_oversized_body_sent_in_full_still_gets_its_413() {
    let mut cfg = config();
    cfg.http.max_body_bytes = 1024;
    let srv = TestServer::start(cfg);
    let n = 20 * 1024 * 1024;
    let mut req =
        format!("POST /apps/app-id/events HTTP/1.1\r\nHost: x\r\nContent-Length: {n}\r\n\r\n")
            .into_bytes();
    req.resize(req.len() + n, b'a');
    let mut s = TcpStream::connect(srv.addr).unwrap();
    s.set_read_timeout(Some(WAIT)).unwrap();
    s.set_write_timeout(Some(WAIT * 2)).unwrap();
    let _ = s.write_all(&req);
    let r = read_response(&mut s).expect("the 413");
    assert_eq!(r.status, 413, "{r:?}");
}

/// A client half-closes while the server has stopped reading it (its responses back up):
/// the hang-up is reported while input is paused, and when the responses drain the server
/// must read on to the EOF after the last short read, answer everything and close.
#[test]
fn half_close_while_paused_is_seen() {
    let srv = TestServer::default();
    let mut c = HttpConn::open(srv.addr);
    let req = get("/");
    // ~100 KB of requests, ~1.2 MB of responses: more than the socket buffers of a client
    // that reads nothing take, so input pauses, while the unread requests (and then the
    // tail and the FIN) still fit in the receive window.
    let first = 4_000;
    let tail = 10;
    let mut w = c.sock.try_clone().unwrap();
    std::thread::scope(|s| {
        s.spawn(move || {
            w.write_all(req.repeat(first).as_bytes()).unwrap();
            std::thread::sleep(Duration::from_millis(300));
            w.write_all(req.repeat(tail).as_bytes()).unwrap();
            w.shutdown(Shutdown::Write).unwrap();
        });
        // Read nothing until the tail and the FIN have arrived.
        std::thread::sleep(Duration::from_millis(600));
        for i in 0..first + tail {
            let r = c.response().unwrap_or_else(|| panic!("no response #{i}"));
            assert_eq!(r.status, 200, "#{i}");
        }
    });
    c.expect_closed();
}

/// Back-pressure must not stall the connection: once the client reads, every pipelined
/// request is answered.
#[test]
fn pipelining_resumes_after_back_pressure() {
    let srv = TestServer::default();
    let mut c = HttpConn::open(srv.addr);
    let req = get("/");
    let n = 200_000; // ~5 MB of requests, ~60 MB of responses
    let all = req.repeat(n).into_bytes();
    let mut w = c.sock.try_clone().unwrap();
    std::thread::scope(|s| {
        s.spawn(move || {
            w.write_all(&all).unwrap();
            w.shutdown(Shutdown::Write).unwrap();
        });
        // Let the output back up before reading anything.
        std::thread::sleep(Duration::from_millis(500));
        for i in 0..n {
            let r = c.response().unwrap_or_else(|| panic!("no response #{i}"));
            assert_eq!(r.status, 200, "#{i}");
        }
    });
    // After the client's half-close and the last answer, the server closes.
    c.expect_closed();
}
