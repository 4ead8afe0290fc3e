//! The private metrics listener (default port 9601): `/metrics`, `/`, `/ready`, `/usage`.
//!
//! It is a reactor like the public port's — the same loop, connection slab, HTTP/1 framer,
//! timers and write path ([`crate::reactor`], [`crate::session`]) — on a thread of its own
//! with its own listener, serving [`Service::Metrics`]. It never touches a public reactor: a
//! scrape only loads the reactors' counter cells (`Relaxed`) and reads `/proc`. Slow or
//! stalled clients cost the others nothing: each connection keeps only its unfinished input
//! and the output its socket has not taken yet; an unfinished request is answered 408 after
//! the request timeout, an idle connection is closed after [`IDLE_TIMEOUT`]. Past the
//! connection cap, the connection whose unfinished request is oldest (else the longest idle
//! one) is dropped to make room, so a complete scrape always gets in; only when every
//! connection is busy answering does a new one get a 503.
//!
//! Routes (soketi's metrics server, with real HTTP statuses; docs/compat.md, `metrics-routes`,
//! `metrics-content-type` and `ready-while-closing`):
//! - `GET /metrics`: the text exposition, only when `config.enabled` (else 404), always with
//!   `Content-Type: text/plain; version=0.0.4; charset=utf-8` (Prometheus 3 refuses a scrape
//!   without it); with `?json=<anything non-empty>`, soketi's JSON form instead
//!   ([`super::json`], `application/json`; docs/compat.md, `metrics-json`);
//! - `GET /`: `OK`; `GET /ready`: `OK`, or 503 with soketi's "server is closing" JSON while
//!   the server shuts down;
//! - `GET /usage`: `{"memory":{"free","used","total","percent"}}` (see [`memory_usage`]);
//! - `HEAD` is answered like `GET` without the body; other methods on these paths: 405;
//!   other paths: 404; a malformed request: 400 (or the parser's status), then close.

use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use mio::{Poll, Waker};

use super::encode::{render, ScrapeContext, CONTENT_TYPE};
use super::json::exposition_to_json;
use super::process::{heap_bytes, memory_usage, snapshot};
use super::stats::Stats;
use crate::apps::{Apps, StaticStore};
use crate::config::{Config, MetricsConfig};
use crate::directory::{Directory, Discard};
use crate::http::{Head, Method};
use crate::reactor::inbox::{Command, Inbox};
use crate::reactor::{token, Reactor};
use crate::session::http1::{Next, Req};
use crate::session::{Context, Service, Shared};
use crate::sys::SparePool;

/// Most metrics connections open at once; more are answered 503 and closed.
pub const MAX_CONNS: usize = 64;
/// A connection with no traffic for this long is closed.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest request head.
const MAX_HEAD_BYTES: usize = 8192;
/// Most header lines in a request.
const MAX_HEADERS: usize = 32;
/// Request bodies are not used by any route; bigger ones are refused (413).
const MAX_BODY_BYTES: u64 = 64 * 1024;

const JSON: &str = "application/json";
const TEXT: &str = "text/plain; charset=utf-8";
/// soketi's readiness error while shutting down (with the real status, 503).
const CLOSING_BODY: &str =
    r#"{"error":"The server is closing. Choose another server. :)","code":503}"#;

/// What the metrics routes read. Built once at start-up.
pub struct MetricsState {
    pub stats: Arc<Stats>,
    /// The node's apps (ids by dense index, as in `stats`); read at each scrape, so apps
    /// that appear later are exported too.
    pub apps: Arc<Apps>,
    /// The public port, for names and the `port` label.
    pub port: u16,
    pub config: MetricsConfig,
    /// The public port's unfinished-request deadline (408), applied here too.
    pub request_timeout_ms: u64,
    /// Set when the server starts shutting down; `/ready` then answers 503.
    pub closing: Arc<AtomicBool>,
    /// From [`process::start_time_seconds`](super::process::start_time_seconds), at start-up.
    pub start_time_seconds: f64,
}

/// A running metrics listener thread. Dropping it stops it too.
pub struct MetricsServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<io::Result<()>>>,
}

/// Knobs the tests shrink.
#[derive(Clone, Copy)]
struct Tuning {
    max_conns: usize,
    idle_timeout: Duration,
}

impl MetricsServer {
    /// Serves `listener` (already bound, e.g. to `config.host:config.port`) on a new thread
    /// named `metrics`, spending the server's `spares` at the open-files limit.
    pub fn spawn(
        listener: std::net::TcpListener,
        state: Arc<MetricsState>,
        spares: Arc<SparePool>,
    ) -> io::Result<MetricsServer> {
        Self::spawn_tuned(
            listener,
            state,
            spares,
            Tuning {
                max_conns: MAX_CONNS,
                idle_timeout: IDLE_TIMEOUT,
            },
        )
    }

    fn spawn_tuned(
        listener: std::net::TcpListener,
        state: Arc<MetricsState>,
        spares: Arc<SparePool>,
        tuning: Tuning,
    ) -> io::Result<MetricsServer> {
        listener.set_nonblocking(true)?;
        let addr = listener.local_addr()?;
        let listener = mio::net::TcpListener::from_std(listener);
        let poll = Poll::new()?;
        let inboxes: Arc<[Inbox]> =
            vec![Inbox::new(Waker::new(poll.registry(), token::WAKER)?)].into();
        let mut config = Config::default();
        config.http.max_head_bytes = MAX_HEAD_BYTES;
        config.http.max_headers = MAX_HEADERS;
        config.http.max_body_bytes = MAX_BODY_BYTES;
        config.http.idle_timeout_ms = tuning.idle_timeout.as_millis() as u64;
        config.http.request_timeout_ms = state.request_timeout_ms;
        // Stopping closes every metrics connection at once.
        config.shutdown_grace_period_ms = 0;
        config.apps.clear();
        let apps = state.apps.clone();
        let shared = Arc::new(Shared {
            store: Arc::new(StaticStore::new(&[], &apps)),
            apps,
            directory: Directory::new(inboxes.clone(), Arc::new(Discard)),
            inboxes,
            // The listener's own counters (connections, busy time): not exported.
            stats: Arc::new(Stats::new(1, 0)),
            // The metrics port keeps serving while the public port drains; `/ready` reads
            // the server's flag from the state.
            closing: Arc::new(AtomicBool::new(false)),
            started: Instant::now(),
            node_id: 0,
            service: Service::Metrics {
                state,
                max_connections: tuning.max_conns,
            },
            pending_body_bytes: Default::default(),
            lister: None,
            adapter: Arc::new(crate::adapter::Local),
            config,
        });
        let reactor = Reactor::new(0, poll, listener, shared.clone(), spares);
        let thread = std::thread::Builder::new()
            .name("metrics".into())
            .spawn(move || reactor.run())?;
        Ok(MetricsServer {
            addr,
            shared,
            thread: Some(thread),
        })
    }

    /// The address the listener is bound to (the real port when bound to port 0).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// Stops the thread, closes every metrics connection and the listener, and waits for
    /// the thread to end.
    pub fn stop(self) {
        drop(self);
    }
}

impl Drop for MetricsServer {
    fn drop(&mut self) {
        if !self.shared.closing.swap(true, Ordering::SeqCst) {
            self.shared.inboxes[0].push(Command::Shutdown);
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// soketi's error JSON, `{"error":"…","code":N}`, in its key order.
fn error_body(message: &str, code: u16) -> String {
    let message = serde_json::Value::from(message).to_string();
    format!(r#"{{"error":{message},"code":{code}}}"#)
}

impl Context {
    /// Routes one request on the metrics port.
    pub(crate) fn metrics_route(
        &mut self,
        req: Req,
        head: &Head<'_>,
        state: &MetricsState,
    ) -> Next {
        let get = matches!(head.method, Method::Get | Method::Head);
        match head.path {
            "/metrics" | "/" | "/ready" | "/usage" if !get => {
                let body = error_body("Method not allowed.", 405);
                self.respond(req, 405, JSON, body.as_bytes(), &[("Allow", "GET, HEAD")]);
            }
            "/metrics" if state.config.enabled => {
                let mut process = snapshot(state.start_time_seconds);
                if !state.config.port_in_name {
                    // Only soketi's process families (written with these names) need it.
                    process.heap_bytes = heap_bytes();
                }
                let app_ids = state.apps.ids();
                let mut body = std::mem::take(&mut self.msg);
                body.clear();
                render(
                    &mut body,
                    &ScrapeContext {
                        stats: &state.stats,
                        app_ids: &app_ids,
                        port: state.port,
                        prefix: &state.config.prefix,
                        port_in_name: state.config.port_in_name,
                        process: Some(&process),
                    },
                );
                // soketi: `?json=<anything non-empty>` gives prom-client's JSON form.
                if crate::http::query_get(head.query, "json").is_some_and(|v| !v.is_empty()) {
                    let text = String::from_utf8_lossy(&body);
                    let mut json = Vec::with_capacity(body.len() * 2);
                    exposition_to_json(&text, &mut json);
                    self.respond(req, 200, JSON, &json, &[]);
                } else {
                    self.respond(req, 200, CONTENT_TYPE, &body, &[]);
                }
                self.msg = body;
            }
            "/" => self.respond(req, 200, TEXT, b"OK", &[]),
            "/ready" if !state.closing.load(Ordering::Relaxed) => {
                self.respond(req, 200, TEXT, b"OK", &[])
            }
            "/ready" => self.respond(req, 503, JSON, CLOSING_BODY.as_bytes(), &[]),
            "/usage" => {
                let m = memory_usage();
                // soketi's key order; `percent` is finite by construction.
                let body = format!(
                    r#"{{"memory":{{"free":{},"used":{},"total":{},"percent":{}}}}}"#,
                    m.free,
                    m.used,
                    m.total,
                    serde_json::Number::from_f64(m.percent).map_or("0".into(), |n| n.to_string()),
                );
                self.respond(req, 200, JSON, body.as_bytes(), &[]);
            }
            _ => {
                let body = error_body("Not found.", 404);
                self.respond(req, 404, JSON, body.as_bytes(), &[]);
            }
        }
        if req.keep_alive && !self.shared.is_closing() {
            Next::KeepAlive
        } else {
            Next::Close
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::encode::tests::{app_ids, check_exposition, fixture};
    use std::io::{Read, Write};
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
        let apps = Arc::new(Apps::new());
        for id in app_ids {
            let mut app = crate::config::Config::default().apps.remove(0);
            app.key = format!("key-{id}");
            app.id = id;
            apps.register(&app);
        }
        let state = Arc::new(MetricsState {
            stats: Arc::new(stats),
            apps,
            port: 6001,
            config: config(enabled),
            request_timeout_ms: 10_000,
            closing: Arc::new(AtomicBool::new(false)),
            start_time_seconds: crate::metrics::process::start_time_seconds(),
        });
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let tuning = tuning.unwrap_or(Tuning {
            max_conns: MAX_CONNS,
            idle_timeout: IDLE_TIMEOUT,
        });
        let server = MetricsServer::spawn_tuned(
            listener,
            Arc::clone(&state),
            Arc::new(SparePool::new(1)),
            tuning,
        )
        .unwrap();
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
        // Counters move between scrapes; an empty `json` (as soketi) or another query keeps
        // the text form.
        state
            .stats
            .reactor(1)
            .add(0, crate::metrics::AppCounter::NewConnections, 1000);
        let r = get(&server, "/metrics?json=&x=1");
        assert_eq!(r.header("Content-Type"), Some(CONTENT_TYPE));
        assert!(r
            .text()
            .contains("soketi_6001_new_connections_total{app_id=\"app-1\",port=\"6001\"} 1023\n"));
        // `json=<anything non-empty>`: prom-client's JSON form.
        let r = get(&server, "/metrics?json=1");
        assert_eq!(r.header("Content-Type"), Some(JSON));
        let v: serde_json::Value = serde_json::from_slice(&r.body).unwrap();
        let family = v
            .as_array()
            .unwrap()
            .iter()
            .find(|f| f["name"] == "soketi_6001_new_connections_total")
            .unwrap();
        assert_eq!(family["type"], "counter");
        assert_eq!(family["values"][0]["value"], 1023);
        assert_eq!(family["values"][0]["labels"]["app_id"], "app-1");
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
        s.write_all(b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc")
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
        let mut long = b"GET / HTTP/1.1\r\nHost: x\r\nX: ".to_vec();
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
            b"TP/1.1\r\nHost: x\r\nContent-Length: 4\r\n",
            b"\r\nab",
            b"cd",
        ] {
            s.write_all(part).unwrap();
            std::thread::sleep(Duration::from_millis(20));
        }
        let r = read_response(&mut s, &mut buf, false);
        assert_eq!((r.status, r.text()), (200, "OK"));

        // HEAD: the same Content-Length, no body.
        s.write_all(b"HEAD /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n")
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
            batch.extend_from_slice(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n");
        }
        batch.extend_from_slice(b"GET /ready HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
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
            b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET /metrics HTTP/1.1\r\nHost: x\r\n\r\nGET / HTTP/1.1\r\nHost: x\r\n\r\n",
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
        s.write_all(b"GET /ready HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
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
            s.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
            assert_eq!(read_response(s, &mut buf, false).status, 200);
        }
        // A third connection is over the cap: it takes the place of the one idle longest
        // (a), not a 503.
        std::thread::sleep(Duration::from_millis(50));
        b.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(read_response(&mut b, &mut buf, false).status, 200);
        let mut c = connect(&server);
        c.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(read_response(&mut c, &mut Vec::new(), false).status, 200);
        assert_closed(&mut a);
        // Idle ones are closed after the timeout, which frees the slots.
        std::thread::sleep(Duration::from_millis(700));
        assert_closed(&mut b);
        assert_closed(&mut c);
        assert_eq!(get(&server, "/").status, 200);
        server.stop();
    }

    #[test]
    fn stop_returns_promptly_and_closes_connections() {
        let (server, _) = start(true, None);
        let addr = server.local_addr();
        let mut idle = connect(&server);
        idle.write_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            .unwrap();
        assert_eq!(read_response(&mut idle, &mut Vec::new(), false).status, 200);
        let t = Instant::now();
        server.stop();
        assert!(t.elapsed() < Duration::from_secs(2));
        assert_closed(&mut idle);
        assert!(StdStream::connect(addr).is_err());
    }
}
