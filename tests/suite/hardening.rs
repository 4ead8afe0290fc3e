//! Hardening of the HTTP framer (issue "Hardening from the outside"): what a request's head
//! already tells is decided before its body is read; the bytes unfinished bodies hold are
//! capped; HTTP/1.1 musts (Host, `Expect: 100-continue`, chunked request bodies).

use std::io::Read;
use std::time::{Duration, Instant};

use fanoutd::pusher::auth;
use serde_json::json;

use crate::http::HttpConn;
use crate::util::*;

const EVENTS: &str = "/apps/app-id/events";
/// What a client announces in the tests that never send their body.
const HUGE: usize = 90 * 1024 * 1024;

/// A query that passes the checks made before the body (key, timestamp) but whose
/// signature cannot match.
fn prechecked_query() -> String {
    format!(
        "auth_key=app-key&auth_timestamp={}&auth_signature=x",
        unix_now()
    )
}

/// A POST head announcing `len` body bytes.
fn post_head(path: &str, query: &str, len: usize, extra: &str) -> Vec<u8> {
    format!(
        "POST {path}?{query} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n{extra}Content-Length: {len}\r\n\r\n"
    )
    .into_bytes()
}

/// The publish body and its signed query.
fn signed_publish(channel: &str) -> (String, String) {
    let body = json!({"name": "ev", "channel": channel, "data": "{}"}).to_string();
    let q = auth::sign_rest_query(
        "POST",
        EVENTS,
        &[],
        body.as_bytes(),
        "app-key",
        "app-secret",
        unix_now(),
    );
    (body, q)
}

#[test]
fn a_request_refused_by_its_head_is_answered_before_its_body() {
    let srv = TestServer::default();
    let wrong_key = format!(
        "auth_key=nope&auth_timestamp={}&auth_signature=x",
        unix_now()
    );
    let expired = "auth_key=app-key&auth_timestamp=1000&auth_signature=x".to_string();
    let cases: [(&str, String, String, u16); 5] = [
        (
            "unknown app",
            "/apps/nope/events".into(),
            prechecked_query(),
            404,
        ),
        ("wrong auth_key", EVENTS.into(), wrong_key, 401),
        ("timestamp outside the window", EVENTS.into(), expired, 401),
        (
            "no signature",
            EVENTS.into(),
            "auth_key=app-key".into(),
            401,
        ),
        (
            "no such route",
            "/apps/app-id/nothing".into(),
            prechecked_query(),
            404,
        ),
    ];
    // Ten at once, as the attack did: each announces 90 MB and sends 64 KiB of it.
    let started = Instant::now();
    let mut conns = Vec::new();
    for (what, path, query, status) in cases.iter().cycle().take(10) {
        let mut c = HttpConn::open(srv.addr);
        c.send(&post_head(path, query, HUGE, ""));
        c.send(&vec![b' '; 64 * 1024]);
        conns.push((what, c, *status));
    }
    for (what, mut c, status) in conns {
        let r = c.response().unwrap_or_else(|| panic!("{what}: no answer"));
        assert_eq!(r.status, status, "{what}: {r:?}");
        assert_eq!(r.header("Connection"), Some("close"), "{what}");
    }
    // Answered from the head: nobody waited for 90 MB (nor for the request timeout).
    assert!(
        started.elapsed() < Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn unfinished_bodies_share_a_capped_budget() {
    let mut c = config();
    c.http.max_pending_body_bytes = 1024 * 1024;
    let srv = TestServer::start(c);
    let len = 800 * 1024;
    // The first announced body fits the budget: the server waits for it.
    let mut first = HttpConn::open(srv.addr);
    first.send(&post_head(EVENTS, &prechecked_query(), len, ""));
    std::thread::sleep(Duration::from_millis(100));
    // The second would pass it: 503 at once, with Retry-After, body unread.
    let mut second = HttpConn::open(srv.addr);
    second.send(&post_head(EVENTS, &prechecked_query(), len, ""));
    let r = second.response().expect("a 503");
    assert_eq!(r.status, 503, "{r:?}");
    assert!(r.header("Retry-After").is_some());
    // The first finishes (its signature is wrong: 401), which gives its share back.
    first.send(&vec![b' '; len]);
    assert_eq!(first.response().expect("an answer").status, 401);
    // Now another body of that size is admitted: no answer while it is unsent.
    let mut third = HttpConn::open(srv.addr);
    third.send(&post_head(EVENTS, &prechecked_query(), len, ""));
    third
        .sock
        .set_read_timeout(Some(Duration::from_millis(300)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(
        third.sock.read(&mut byte).is_err(),
        "the third request was answered before its body came"
    );
}

#[test]
fn expect_100_continue_is_answered_at_once() {
    let srv = TestServer::default();
    let mut client = srv.client();
    client.subscribe("continue");
    let (body, q) = signed_publish("continue");
    let mut c = HttpConn::open(srv.addr);
    c.send(&post_head(
        EVENTS,
        &q,
        body.len(),
        "Expect: 100-continue\r\n",
    ));
    // The interim response comes before any body byte is sent.
    c.sock
        .set_read_timeout(Some(Duration::from_secs(2)))
        .unwrap();
    let mut interim = [0u8; 25];
    c.sock.read_exact(&mut interim).expect("100 Continue");
    assert_eq!(&interim, b"HTTP/1.1 100 Continue\r\n\r\n");
    c.send(body.as_bytes());
    let r = c.response().expect("the final response");
    assert_eq!(r.status, 200, "{r:?}");
    client.recv_event("ev");

    // A refusal is the final status, sent instead of 100.
    let mut c = HttpConn::open(srv.addr);
    let bad = format!(
        "auth_key=nope&auth_timestamp={}&auth_signature=x",
        unix_now()
    );
    c.send(&post_head(EVENTS, &bad, 10, "Expect: 100-continue\r\n"));
    let r = c.response().expect("a final status");
    assert_eq!(r.status, 401);
}

#[test]
fn chunked_request_bodies_are_read_under_the_same_limit() {
    let mut cfg = config();
    cfg.http.max_body_bytes = 64 * 1024;
    let srv = TestServer::start(cfg);
    let mut client = srv.client();
    client.subscribe("chunks");
    let (body, q) = signed_publish("chunks");
    let head = format!(
        "POST {EVENTS}?{q} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    let mut c = HttpConn::open(srv.addr);
    c.send(head.as_bytes());
    // The body in three chunks, sent in pieces that split the framing.
    let (a, rest) = body.as_bytes().split_at(10);
    let (b, d) = rest.split_at(7);
    let mut encoded = Vec::new();
    for part in [a, b, d] {
        encoded.extend_from_slice(format!("{:x};ext=1\r\n", part.len()).as_bytes());
        encoded.extend_from_slice(part);
        encoded.extend_from_slice(b"\r\n");
    }
    encoded.extend_from_slice(b"0\r\nX-Trailer: t\r\n\r\n");
    for piece in encoded.chunks(5) {
        c.send(piece);
        std::thread::sleep(Duration::from_millis(2));
    }
    let r = c.response().expect("an answer");
    assert_eq!(r.status, 200, "{r:?}");
    client.recv_event("ev");

    // Over the body limit, counted in data bytes: 413 before the rest arrives.
    let mut c = HttpConn::open(srv.addr);
    c.send(head.as_bytes());
    c.send(format!("{:x}\r\n", 65 * 1024).as_bytes());
    let r = c.response().expect("a 413");
    assert_eq!(r.status, 413, "{r:?}");
    // Broken framing: 400.
    let mut c = HttpConn::open(srv.addr);
    c.send(head.as_bytes());
    c.send(b"zz\r\n");
    let r = c.response().expect("a 400");
    assert_eq!(r.status, 400, "{r:?}");
}

#[test]
fn the_metrics_port_cannot_be_locked_by_dribblers() {
    let mut c = config();
    c.http.request_timeout_ms = 1000;
    let srv = TestServer::start(c);
    // 64 connections (the listener's cap) that each start a scrape and never finish it.
    let mut dribblers: Vec<HttpConn> = (0..64)
        .map(|_| {
            let mut d = HttpConn::open(srv.metrics_addr);
            d.send(b"GET /metrics HTTP/1.1\r\nHo");
            d
        })
        .collect();
    std::thread::sleep(Duration::from_millis(100));
    // A complete scrape still gets in, at once.
    let started = Instant::now();
    let body = srv.metrics();
    assert!(body.contains("_connected"), "{body}");
    assert!(started.elapsed() < Duration::from_secs(1));
    // The rest are answered 408 once the request deadline passes (or were dropped to make
    // room); none is left open.
    let started = Instant::now();
    let mut timed_out = 0;
    for d in dribblers.iter_mut() {
        if let Some(r) = d.response() {
            assert_eq!(r.status, 408, "{r:?}");
            timed_out += 1;
        }
        d.expect_closed();
    }
    assert!(timed_out >= 60, "only {timed_out} got their 408");
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn an_app_has_at_most_its_cap_of_channels() {
    let mut c = config();
    c.max_channels_per_app = 3;
    let srv = TestServer::start(c);
    let mut a = srv.client();
    for ch in ["c0", "c1", "c2"] {
        a.subscribe(ch);
    }
    // A fourth channel is refused (back off: 4100); the connection stays.
    a.send(json!({"event": "pusher:subscribe", "data": {"channel": "c3"}}));
    let e = a.recv_event("pusher:subscription_error");
    assert_eq!(e["channel"], "c3");
    assert_eq!(e["data"]["status"], 4100, "{e}");
    assert_eq!(e["data"]["type"], "LimitReached");
    // Joining a channel that is already in use is not a new channel.
    let mut b = srv.client();
    b.subscribe("c1");
    // A channel that empties makes room for another.
    a.send(json!({"event": "pusher:unsubscribe", "data": {"channel": "c0"}}));
    std::thread::sleep(Duration::from_millis(100));
    a.subscribe("c3");
}

#[test]
fn a_connection_joins_at_most_1000_channels() {
    let srv = TestServer::default();
    let mut a = srv.client();
    for i in 0..1000 {
        let msg = json!({"event": "pusher:subscribe", "data": {"channel": format!("c{i}")}});
        a.ws.write(tungstenite::Message::text(msg.to_string()))
            .unwrap();
    }
    a.ws.flush().unwrap();
    for _ in 0..1000 {
        a.recv_event("pusher_internal:subscription_succeeded");
    }
    a.send(json!({"event": "pusher:subscribe", "data": {"channel": "one-more"}}));
    let e = a.recv_event("pusher:subscription_error");
    assert_eq!(e["data"]["type"], "LimitReached", "{e}");
    assert_eq!(e["data"]["status"], 4009);
}
