//! Graceful shutdown, in-process and through the binary with SIGTERM: every open socket gets
//! `pusher:error` 4200 and a close frame 4200; during the grace period `/ready` answers 503
//! and a new WebSocket gets 4200; the process exits 0 within the grace period.
//!
//! A reactor stops as soon as it holds no connection, so the checks made *during* the grace
//! period first park a raw socket on every reactor that never answers the close: those keep
//! every listener open until the grace period ends.

use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::config::start_bin;
use crate::fanout::reactor_of;
use crate::util::*;
use crate::websocket::RawWs;

/// Raw sockets until each of `reactors` holds one; they will not answer the close frame.
fn park_on_every_reactor(addr: SocketAddr, reactors: usize) -> Vec<RawWs> {
    let mut seen = std::collections::BTreeSet::new();
    let mut parked = Vec::new();
    while seen.len() < reactors {
        assert!(parked.len() < 400, "reactors {seen:?} of {reactors}");
        let (ws, id) = RawWs::established(addr);
        if seen.insert(reactor_of(&id)) {
            parked.push(ws);
        }
    }
    parked
}

/// The client got `pusher:error` 4200, then a close frame 4200.
#[track_caller]
fn assert_4200(c: &mut Client) {
    let m = c.recv();
    assert_eq!(m["event"], "pusher:error", "{m}");
    assert_eq!(m["data"]["code"], 4200, "{m}");
    assert_eq!(c.expect_close(), Some(4200));
}

#[track_caller]
fn assert_raw_4200(ws: &mut RawWs) {
    let (code, before) = ws.expect_close();
    assert_eq!(code, 4200);
    let errors: Vec<&Value> = before
        .iter()
        .filter(|m| m["event"] == "pusher:error")
        .collect();
    assert_eq!(errors.len(), 1, "{before:?}");
    assert_eq!(errors[0]["data"]["code"], 4200);
}

/// What must hold while a server at `addr` is in its grace period.
fn assert_closing(addr: SocketAddr) {
    let r = http(
        addr,
        b"GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 503, "{r:?}");
    assert_eq!(r.json()["code"], 503);
    let r = http(
        addr,
        b"GET /accept-traffic HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 503, "{r:?}");
    // A new WebSocket is refused with 4200.
    let (mut c, first) = Client::connect_raw(addr, "app-key");
    assert_eq!(first["event"], "pusher:error", "{first}");
    assert_eq!(first["data"]["code"], 4200);
    assert_eq!(c.expect_close(), Some(4200));
    // The health route still answers, without keeping the connection.
    let r = http(addr, b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("Connection"), Some("close"));
}

#[test]
fn in_process_shutdown_closes_every_socket_with_4200() {
    let mut cfg = config();
    cfg.shutdown_grace_period_ms = 3000;
    let mut srv = TestServer::start(cfg);
    let mut clients: Vec<Client> = (0..8).map(|_| srv.client()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        c.subscribe(&format!("sd-{}", i % 3));
    }
    let mut parked = park_on_every_reactor(srv.addr, 2);
    srv.handle.as_ref().unwrap().begin_shutdown();
    for c in &mut clients {
        assert_4200(c);
    }
    for ws in &mut parked {
        assert_raw_4200(ws);
    }
    assert_closing(srv.addr);
    // begin_shutdown twice is harmless; shutdown() waits for the end of the grace period.
    srv.handle.as_ref().unwrap().begin_shutdown();
    srv.shutdown();
    // Listeners are closed afterwards.
    assert!(TcpStream::connect(srv.addr).is_err(), "still listening");
    // The parked sockets were dropped at the end of the grace period.
    for ws in &mut parked {
        assert!(ws.read_frame().is_none());
    }
}

#[test]
fn in_process_shutdown_with_sockets_mid_conversation() {
    let srv = TestServer::default();
    let mut c = srv.client();
    c.subscribe("mid");
    // A request half sent and a keep-alive connection, at the moment of shutdown.
    let mut partial = crate::http::HttpConn::open(srv.addr);
    partial.send(b"GET /ready HTTP/1.1\r\nHost: x\r\n");
    std::thread::sleep(Duration::from_millis(200));
    let mut idle = crate::http::HttpConn::open(srv.addr);
    idle.send(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(idle.response().unwrap().status, 200);
    srv.handle.as_ref().unwrap().begin_shutdown();
    assert_4200(&mut c);
    // The idle keep-alive connection is closed without a response.
    idle.expect_closed();
    // The half-sent request may still finish during the grace period: it is answered 503.
    // (Tolerant: a request whose bytes were still unread in the kernel when the shutdown
    // began counts as idle and is dropped.)
    let _ = std::io::Write::write_all(&mut partial.sock, b"\r\n");
    if let Some(r) = partial.response() {
        assert_eq!(r.status, 503, "{r:?}");
    }
    drop(srv);
}

#[test]
fn a_client_that_ignores_the_close_is_dropped_when_the_grace_period_ends() {
    let mut cfg = config();
    cfg.shutdown_grace_period_ms = 1000;
    let mut srv = TestServer::start(cfg);
    let (mut ws, _) = RawWs::established(srv.addr);
    ws.subscribe("stubborn");
    srv.handle.as_ref().unwrap().begin_shutdown();
    assert_raw_4200(&mut ws);
    srv.shutdown();
    assert!(ws.read_frame().is_none(), "the socket outlived the server");
}

#[test]
fn shutdown_without_connections_completes() {
    let mut srv = TestServer::default();
    let _ = http(
        srv.addr,
        b"GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n",
    );
    srv.shutdown();
    assert!(TcpStream::connect(srv.addr).is_err());
}

#[test]
fn sigterm_closes_sockets_with_4200_and_exits_0() {
    let mut bin = start_bin(
        &[
            ("SOKETI_SHUTDOWN_GRACE_PERIOD", "1000"),
            ("FANOUTD_REACTORS", "2"),
        ],
        &[],
    );
    let mut clients: Vec<Client> = (0..4)
        .map(|_| Client::connect(bin.addr, "app-key"))
        .collect();
    for c in &mut clients {
        c.subscribe("bye");
    }
    // A publish works before the signal.
    let r = rest(
        bin.addr,
        "app-id",
        "app-key",
        "app-secret",
        "POST",
        "/events",
        &[],
        &json!({"name": "e", "channel": "bye", "data": "x"}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    for c in &mut clients {
        c.recv_event("e");
    }
    let mut parked = park_on_every_reactor(bin.addr, 2);
    let signalled = Instant::now();
    assert_eq!(
        unsafe { libc::kill(bin.child.id() as i32, libc::SIGTERM) },
        0
    );
    for c in &mut clients {
        assert_4200(c);
    }
    for ws in &mut parked {
        assert_raw_4200(ws);
    }
    assert_closing(bin.addr);
    // The process ends at the end of the grace period (1 s), with status 0.
    let status = bin
        .wait_exit(Duration::from_secs(6))
        .unwrap_or_else(|| panic!("still running: {}", bin.stderr()));
    assert!(status.success(), "{status}: {}", bin.stderr());
    let took = signalled.elapsed();
    assert!(took < Duration::from_secs(6), "{took:?}");
    assert!(bin.stderr().contains("shutting down"), "{}", bin.stderr());
    assert!(TcpStream::connect(bin.addr).is_err());
}

#[test]
fn every_stop_signal_exits_0() {
    for sig in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP] {
        let mut bin = start_bin(&[("SOKETI_SHUTDOWN_GRACE_PERIOD", "1000")], &[]);
        let mut c = Client::connect(bin.addr, "app-key");
        assert_eq!(unsafe { libc::kill(bin.child.id() as i32, sig) }, 0);
        assert_4200(&mut c);
        drop(c);
        let status = bin
            .wait_exit(Duration::from_secs(6))
            .unwrap_or_else(|| panic!("signal {sig}: still running: {}", bin.stderr()));
        assert!(status.success(), "signal {sig}: {status}: {}", bin.stderr());
    }
}
