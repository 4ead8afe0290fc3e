//! The cost of a huge channel listing, measured (not asserted): `GET /apps/{id}/channels`
//! over 100,000 channels on a one-reactor `fanoutd` process — the time it takes, the
//! server's peak and after memory, and the worst delay of another socket's `pusher:ping` on
//! the same reactor meanwhile. PERF.md quotes it; run it alone, on an optimised build:
//!
//! ```sh
//! cargo test --release --test tests -- --ignored --nocapture listing
//! ```

use std::net::TcpListener;
use std::process::{Child, Command};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use tungstenite::Message;

use crate::util::*;

const CLIENTS: usize = 100;
const PER_CLIENT: usize = 1000;

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `VmRSS` and `VmHWM` of `pid`, in KiB.
fn memory_kib(pid: u32) -> (u64, u64) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    let field = |name: &str| -> u64 {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[test]
#[ignore = "a measurement for PERF.md: run it alone, with --release"]
fn listing_of_100000_channels() {
    let port = free_port();
    let server = Process(
        Command::new(env!("CARGO_BIN_EXE_fanoutd"))
            .env("SOKETI_PORT", port.to_string())
            .env("SOKETI_HOST", "127.0.0.1")
            .env("SOKETI_METRICS_SERVER_PORT", free_port().to_string())
            .env("FANOUTD_REACTORS", "1")
            .spawn()
            .expect("the fanoutd binary starts"),
    );
    let pid = server.0.id();
    let addr: std::net::SocketAddr = format!("127.0.0.1:{port}").parse().unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while std::net::TcpStream::connect(addr).is_err() {
        assert!(Instant::now() < deadline, "the server never listened");
        std::thread::sleep(Duration::from_millis(20));
    }
    // 100 clients × 1,000 channels, each client's subscribes pipelined.
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let mut client = Client::connect(addr, "app-key");
        for i in 0..PER_CLIENT {
            let msg = json!({"event": "pusher:subscribe",
                             "data": {"channel": format!("channel-{c}-{i}")}});
            client.ws.write(Message::text(msg.to_string())).unwrap();
        }
        client.ws.flush().unwrap();
        for _ in 0..PER_CLIENT {
            client.recv_event("pusher_internal:subscription_succeeded");
        }
        clients.push(client);
    }
    std::thread::sleep(Duration::from_millis(500));
    let (rss_before, _) = memory_kib(pid);
    // Another socket on the same (only) reactor pings every millisecond meanwhile.
    let stop = Arc::new(AtomicBool::new(false));
    let pinger = {
        let stop = stop.clone();
        let mut client = Client::connect(addr, "app-key");
        std::thread::spawn(move || {
            let mut worst = Duration::ZERO;
            let mut pings = 0u32;
            while !stop.load(Ordering::Relaxed) {
                let sent = Instant::now();
                client.send(json!({"event": "pusher:ping", "data": {}}));
                client.recv_event("pusher:pong");
                worst = worst.max(sent.elapsed());
                pings += 1;
                std::thread::sleep(Duration::from_millis(1));
            }
            (worst, pings)
        })
    };
    std::thread::sleep(Duration::from_millis(200));
    let started = Instant::now();
    let r = rest(
        addr,
        "app-id",
        "app-key",
        "app-secret",
        "GET",
        "/channels",
        &[],
        "",
    );
    let took = started.elapsed();
    std::thread::sleep(Duration::from_millis(200));
    stop.store(true, Ordering::Relaxed);
    let (worst_ping, pings) = pinger.join().unwrap();
    assert_eq!(r.status, 200);
    let listed = r.body.matches("\"occupied\"").count();
    assert_eq!(listed, CLIENTS * PER_CLIENT);
    let (_, peak) = memory_kib(pid);
    std::thread::sleep(Duration::from_millis(1000));
    let (rss_after, _) = memory_kib(pid);
    println!(
        "listing: channels={listed} body_bytes={} response_ms={:.1} server_rss_before_kib={rss_before} server_peak_kib={peak} server_rss_after_kib={rss_after} worst_ping_ms={:.2} pings={pings}",
        r.body.len(),
        took.as_secs_f64() * 1e3,
        worst_ping.as_secs_f64() * 1e3,
    );
    drop(clients);
}
