//! The process's limits, from outside (issue 14, points 3 and 4).
//!
//! - At the open-files limit a new connection is answered at once — a 503 and a close —
//!   rather than left in the backlog, each refused socket is counted once, the metrics port
//!   still answers, and the server takes connections again once descriptors free up. The
//!   limit is lowered for the server only: it runs as a child process under `ulimit -n`
//!   (the test process, shared by every test, keeps its own limit).
//! - A second server on a port already served refuses to start with "address in use",
//!   in-process and as a second process; servers on port 0 never conflict.

use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use fanoutd::Server;

use crate::config::{free_port, refused, start_bin, start_bin_limited};
use crate::util::*;

/// The open-files limit the server runs under: room for its own descriptors (about 20 with
/// two reactors) and a few dozen connections.
const NOFILE: u32 = 64;

/// Reads until EOF (at most `d`); `None` if the socket is still open after `d`.
fn read_to_close(s: &mut TcpStream, d: Duration) -> Option<Vec<u8>> {
    s.set_nonblocking(false).unwrap();
    s.set_read_timeout(Some(d)).unwrap();
    let deadline = Instant::now() + d;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) => return Some(out),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            // A reset after the answer is still a close; what came before it counts.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return Some(out),
            Err(_) => return None,
        }
        if Instant::now() >= deadline {
            return None;
        }
    }
}

/// Asserts that `bytes` are the fd-limit refusal: a 503 with the JSON error, closing.
fn assert_refusal(bytes: &[u8]) {
    let text = String::from_utf8_lossy(bytes);
    assert!(text.starts_with("HTTP/1.1 503 "), "not a 503: {text:?}");
    assert!(text.contains("Connection: close\r\n"), "{text:?}");
    assert!(
        text.contains("Content-Type: application/json\r\n"),
        "{text:?}"
    );
    assert!(text.ends_with(r#""code":503}"#), "{text:?}");
}

/// `rejected_connections_total{reason="no_file_descriptors"}` from a scrape.
fn no_fd_rejections(metrics: &str) -> u64 {
    metrics
        .lines()
        .find(|l| {
            !l.starts_with('#')
                && l.contains("rejected_connections_total{")
                && l.contains(r#"reason="no_file_descriptors""#)
        })
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no no_file_descriptors counter in:\n{metrics}"))
}

/// Scrapes `/metrics` on `addr` within 2 s; the status and the body.
fn scrape(addr: std::net::SocketAddr) -> (u16, String) {
    let started = Instant::now();
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
    s.write_all(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        .unwrap();
    let r = read_response(&mut s).expect("the metrics port answers at the fd limit");
    assert!(started.elapsed() < Duration::from_secs(2));
    (r.status, r.body)
}

/// Scrapes until served (200). A scrape is refused (503) when the metrics port's own spare
/// is still lent to the previous scrape, or was taken meanwhile by another thread (a slot
/// freed by one thread may be taken by any): then one of the `held` connections is closed,
/// as one would at the limit, and the scrape tried again.
fn scrape_ok(addr: std::net::SocketAddr, held: &mut Vec<TcpStream>) -> String {
    for _ in 0..10 {
        let (status, body) = scrape(addr);
        if status == 200 {
            return body;
        }
        assert_eq!(status, 503, "{body}");
        assert!(body.contains("file descriptors"), "{body}");
        held.pop();
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("no scrape served");
}

/// Opens requests to the public port until one is refused, keeping those that were served
/// (they hold descriptors) in `held`. Returns the refusals (1).
fn saturate(addr: std::net::SocketAddr, held: &mut Vec<TcpStream>) -> u64 {
    for _ in 0..20 {
        let mut c = TcpStream::connect(addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let r = read_response(&mut c).expect("an answer");
        if r.status == 503 {
            return 1;
        }
        held.push(c);
    }
    panic!("the public port never refused");
}

/// Takes out of `held` the connections refused since they were classified as held (a
/// reactor that found no spare refuses its backlog after a pause); returns how many.
fn late_refusals(held: &mut Vec<TcpStream>) -> u64 {
    let before = held.len();
    held.retain(|c| {
        c.set_nonblocking(true).unwrap();
        let mut b = [0u8; 12];
        let keep = match c.peek(&mut b) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => true,
            Ok(12) if &b == b"HTTP/1.1 503" => false,
            other => panic!("a held connection was answered: {other:?}"),
        };
        c.set_nonblocking(false).unwrap();
        keep
    });
    (before - held.len()) as u64
}

#[test]
fn at_the_fd_limit_a_new_connection_gets_a_503_at_once_and_is_counted_once() {
    let bin = start_bin_limited(
        &[
            ("FANOUTD_REACTORS", "2"),
            ("SOKETI_METRICS_ENABLED", "true"),
        ],
        &[],
        Some(NOFILE),
    );

    // Fill the server's descriptors: more connections than it can hold, all at once.
    let mut conns: Vec<TcpStream> = (0..NOFILE + 16)
        .map(|_| TcpStream::connect(bin.addr).unwrap())
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let (mut idle, mut refused) = (Vec::new(), 0u64);
    for mut c in conns.drain(..) {
        c.set_nonblocking(true).unwrap();
        let mut b = [0u8; 1];
        match c.peek(&mut b) {
            Err(e) if e.kind() == ErrorKind::WouldBlock => idle.push(c),
            peeked => {
                let bytes = read_to_close(&mut c, Duration::from_secs(2))
                    .expect("a refused connection is closed at once");
                assert!(
                    !bytes.is_empty(),
                    "closed without an answer: {peeked:?} {}",
                    bin.stderr()
                );
                assert_refusal(&bytes);
                refused += 1;
            }
        }
    }
    assert!(
        idle.len() >= 20 && refused >= 16,
        "{} held, {refused} refused",
        idle.len()
    );

    // The metrics port answers at the limit (served on its own spare), and the counter
    // counts the refused sockets, not accept retries.
    refused += late_refusals(&mut idle);
    let body = scrape_ok(bin.metrics_addr, &mut idle);
    assert_eq!(no_fd_rejections(&body), refused);
    // While a metrics connection holds that spare, another scrape is refused with the 503 at
    // once rather than left waiting. (Descriptors belong to the whole process: a slot freed
    // by a connection that closed stays free until some thread takes it, so the public port
    // is filled again first, until it refuses; and the spare may still be lent to the scrape
    // just closed, so that `hold` itself is refused. Hence a few tries.)
    let mut refused_scrape = false;
    let mut tries = Vec::new();
    refused += saturate(bin.addr, &mut idle);
    for _ in 0..10 {
        let hold = TcpStream::connect(bin.metrics_addr).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        hold.set_nonblocking(true).unwrap();
        if !matches!(hold.peek(&mut [0u8; 1]), Err(e) if e.kind() == ErrorKind::WouldBlock) {
            // The metrics port's spare is gone: free a slot for it.
            tries.push("hold refused");
            idle.pop();
            continue;
        }
        let (status, body) = scrape(bin.metrics_addr);
        if status == 503 {
            assert!(body.contains("file descriptors"), "{body}");
            refused_scrape = true;
            break;
        }
        // A free slot served `hold` or the scrape: use up the free slots.
        assert_eq!(status, 200, "{body}");
        tries.push("served");
        drop(hold);
        refused += saturate(bin.addr, &mut idle);
    }
    assert!(
        refused_scrape,
        "a scrape beside a held metrics connection was never refused: {tries:?}"
    );

    // Each new connection is answered at once, a WebSocket handshake and an HTTP request
    // alike: with the 503 and a close, or — when a slot happened to be free — normally.
    let requests: [&[u8]; 2] = [
        b"GET /app/app-key?protocol=7 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
          Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
          Sec-WebSocket-Version: 13\r\n\r\n",
        b"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
    ];
    let mut refused_more = 0u64;
    for i in 0..10 {
        let started = Instant::now();
        let mut c = TcpStream::connect(bin.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        c.write_all(requests[i % requests.len()]).unwrap();
        let r = read_response(&mut c).unwrap_or_else(|| panic!("connection {i}: no answer"));
        assert!(started.elapsed() < Duration::from_secs(2));
        if r.status == 503 {
            assert!(read_to_close(&mut c, Duration::from_secs(2)).is_some());
            assert!(r.body.contains("file descriptors"), "{}", r.body);
            refused_more += 1;
        } else {
            // Served: keep it, so that the server stays at its limit.
            assert!(matches!(r.status, 101 | 200), "{}", r.status);
            idle.push(c);
        }
    }
    assert!(refused_more >= 5, "only {refused_more} of 10 refused");
    refused += refused_more + late_refusals(&mut idle);
    let body = scrape_ok(bin.metrics_addr, &mut idle);
    assert_eq!(no_fd_rejections(&body), refused);

    // Descriptors free up: connections are taken again.
    drop(idle);
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let mut c = TcpStream::connect(bin.addr).unwrap();
        c.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        let r = read_response(&mut c).expect("an answer");
        if r.status == 200 {
            break;
        }
        assert!(Instant::now() < deadline, "still refusing: {}", r.status);
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn a_second_server_on_a_served_port_is_refused_in_process() {
    let port = free_port();
    let mut c = config();
    c.port = port;
    let first = Server::start(c.clone()).expect("the first server starts");
    let err = match Server::start(c.clone()) {
        Ok(_) => panic!("a second server started on port {port}"),
        Err(e) => e,
    };
    assert_eq!(err.kind(), ErrorKind::AddrInUse, "{err}");
    let msg = err.to_string();
    assert!(msg.contains("address in use"), "{msg}");
    assert!(msg.contains(&format!("127.0.0.1:{port}")), "{msg}");
    // The first one still serves.
    assert_eq!(
        http(first.addr(), b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").status,
        200
    );
    // Once it is gone, the port can be served again.
    first.shutdown().unwrap();
    Server::start(c)
        .expect("the port is free again")
        .shutdown()
        .unwrap();

    // Servers on port 0 get ports of their own and never conflict.
    let a = Server::start(config()).unwrap();
    let b = Server::start(config()).unwrap();
    assert_ne!(a.addr().port(), b.addr().port());
}

#[test]
fn a_second_process_on_a_served_port_exits_with_address_in_use() {
    let first = start_bin(&[], &[]);
    let port = first.addr.port().to_string();
    let metrics = free_port().to_string();
    let (code, stderr) = refused(
        &[
            ("SOKETI_HOST", "127.0.0.1"),
            ("SOKETI_PORT", &port),
            ("SOKETI_METRICS_HOST", "127.0.0.1"),
            ("SOKETI_METRICS_SERVER_PORT", &metrics),
        ],
        &[],
    );
    assert_ne!(code, 0);
    assert!(stderr.contains("address in use"), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
    // The first one is untouched.
    assert_eq!(
        http(first.addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").status,
        200
    );
}
