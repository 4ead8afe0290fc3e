//! The metrics listener and every family, moved by real traffic.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::json;

use crate::util::*;

/// Parses an exposition into (series → value), where a series is `name{labels}` as printed.
fn samples(body: &str) -> HashMap<String, f64> {
    body.lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
        .map(|l| {
            let (series, value) = l.rsplit_once(' ').expect("name value");
            (series.to_string(), value.parse::<f64>().expect("a number"))
        })
        .collect()
}

/// The value of `{prefix}{port}_{suffix}{app_id="app-id",port="P"}`.
fn app_value(srv: &TestServer, s: &HashMap<String, f64>, suffix: &str) -> f64 {
    let p = srv.addr.port();
    let key = format!("soketi_{p}_{suffix}{{app_id=\"app-id\",port=\"{p}\"}}");
    *s.get(&key).unwrap_or_else(|| panic!("no series {key}"))
}

/// Polls the metrics until `f` holds (the reactors update cells asynchronously).
fn eventually(
    srv: &TestServer,
    what: &str,
    f: impl Fn(&HashMap<String, f64>) -> bool,
) -> HashMap<String, f64> {
    let deadline = Instant::now() + WAIT;
    loop {
        let s = samples(&srv.metrics());
        if f(&s) {
            return s;
        }
        assert!(Instant::now() < deadline, "metrics never showed: {what}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn families_move_with_traffic() {
    let srv = TestServer::default();
    let s = samples(&srv.metrics());
    for f in [
        "connected",
        "new_connections_total",
        "new_disconnections_total",
        "ws_messages_sent_total",
    ] {
        assert_eq!(app_value(&srv, &s, f), 0.0, "{f} starts at 0");
    }

    // Connect and subscribe: connected, new connections, subscriptions, occupied channels.
    let mut clients: Vec<Client> = (0..6).map(|_| srv.client()).collect();
    for c in clients.iter_mut() {
        c.subscribe("metrics-a");
    }
    let s = eventually(&srv, "6 connected", |s| {
        app_value(&srv, s, "connected") == 6.0
    });
    assert_eq!(app_value(&srv, &s, "new_connections_total"), 6.0);
    assert_eq!(app_value(&srv, &s, "subscriptions"), 6.0);
    assert_eq!(app_value(&srv, &s, "occupied_channels"), 1.0);
    // connection_established + subscription_succeeded to each: 12 messages sent so far.
    assert_eq!(app_value(&srv, &s, "ws_messages_sent_total"), 12.0);
    // 6 subscribe messages received.
    assert_eq!(app_value(&srv, &s, "ws_messages_received_total"), 6.0);
    assert!(app_value(&srv, &s, "socket_received_bytes") > 6.0 * 40.0);
    let tx_before = app_value(&srv, &s, "socket_transmitted_bytes");

    // Both reactors hold sockets: their per-reactor gauges sum to the open TCP connections.
    let p = srv.addr.port();
    let per_reactor: f64 = (0..2)
        .map(|r| s[&format!("soketi_{p}_reactor_connections{{reactor=\"{r}\",port=\"{p}\"}}")])
        .sum();
    assert!(per_reactor >= 6.0, "{per_reactor}");

    // A REST publish: http counters, messages sent, bytes, latency histogram.
    let r = srv.trigger("metrics-a", "ev", &json!({"x": 1}));
    assert_eq!(r.status, 200);
    for c in clients.iter_mut() {
        c.recv_event("ev");
    }
    // Messages are counted when queued, the latency once they are flushed: wait for both.
    let count_key = format!("soketi_{p}_publish_flush_latency_seconds_count{{port=\"{p}\"}}");
    let s = eventually(&srv, "18 messages sent and flushed", |s| {
        app_value(&srv, s, "ws_messages_sent_total") == 18.0
            && s.get(&count_key).is_some_and(|&c| c >= 1.0)
    });
    assert_eq!(app_value(&srv, &s, "http_calls_received_total"), 1.0);
    assert!(app_value(&srv, &s, "http_received_bytes") > 20.0);
    assert_eq!(app_value(&srv, &s, "http_transmitted_bytes"), 11.0); // {"ok":true}
    assert!(app_value(&srv, &s, "socket_transmitted_bytes") > tx_before + 6.0 * 30.0);
    let count = s[&format!("soketi_{p}_publish_flush_latency_seconds_count{{port=\"{p}\"}}")];
    let inf =
        s[&format!("soketi_{p}_publish_flush_latency_seconds_bucket{{port=\"{p}\",le=\"+Inf\"}}")];
    assert!(count >= 1.0 && count == inf, "count {count}, +Inf {inf}");

    // A failed REST call is not counted as a call (soketi counts successful ones).
    let bad = rest(
        srv.addr,
        "app-id",
        "app-key",
        "wrong-secret",
        "POST",
        "/events",
        &[],
        "{}",
    );
    assert_eq!(bad.status, 401);

    // Unsubscribe one, close one cleanly, drop one abruptly.
    clients[0].send(json!({"event": "pusher:unsubscribe", "data": {"channel": "metrics-a"}}));
    let mut closing = clients.pop().unwrap();
    closing.ws.close(None).unwrap();
    let _ = closing.expect_close();
    drop(clients.pop());
    let s = eventually(&srv, "4 connected", |s| {
        app_value(&srv, s, "connected") == 4.0
    });
    assert_eq!(app_value(&srv, &s, "new_disconnections_total"), 2.0);
    assert_eq!(app_value(&srv, &s, "subscriptions"), 3.0);
    assert_eq!(app_value(&srv, &s, "http_calls_received_total"), 1.0);

    // Everyone leaves: exact zeros, never negative.
    drop(clients);
    let s = eventually(&srv, "0 connected", |s| {
        app_value(&srv, s, "connected") == 0.0
    });
    assert_eq!(app_value(&srv, &s, "subscriptions"), 0.0);
    assert_eq!(app_value(&srv, &s, "occupied_channels"), 0.0);
    assert_eq!(app_value(&srv, &s, "new_disconnections_total"), 6.0);
}

#[test]
fn rejected_sockets_are_counted_by_reason_and_never_in_connected() {
    let mut cfg = config();
    app(&mut cfg).max_connections = 1;
    let srv = TestServer::start(cfg);
    let _first = srv.client();
    for _ in 0..3 {
        let (mut c, m) = Client::connect_raw(srv.addr, "app-key");
        assert_eq!(m["data"]["code"], 4100);
        assert_eq!(c.expect_close(), Some(4100));
    }
    let (mut c, m) = Client::connect_raw(srv.addr, "no-such-key");
    assert_eq!(m["data"]["code"], 4001);
    assert_eq!(c.expect_close(), Some(4001));
    let p = srv.addr.port();
    let s = eventually(&srv, "rejections", |s| {
        s.get(&format!(
            "soketi_{p}_rejected_connections_total{{reason=\"over_quota\",port=\"{p}\"}}"
        )) == Some(&3.0)
    });
    assert_eq!(
        s[&format!("soketi_{p}_rejected_connections_total{{reason=\"unknown_app\",port=\"{p}\"}}")],
        1.0
    );
    assert_eq!(app_value(&srv, &s, "connected"), 1.0);
    assert_eq!(app_value(&srv, &s, "new_connections_total"), 1.0);
}

#[test]
fn slow_consumers_are_closed_and_counted() {
    let mut cfg = config();
    cfg.ws_max_output_bytes = 64 * 1024;
    let srv = TestServer::start(cfg);
    // A client that subscribes and then never reads.
    let mut slow = srv.client();
    slow.subscribe("firehose");
    let mut fast = srv.client();
    fast.subscribe("firehose");
    let big = "x".repeat(90 * 1024);
    let p = srv.addr.port();
    let key = format!("soketi_{p}_slow_consumer_closes_total{{port=\"{p}\"}}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut sent = 0;
    loop {
        let r = srv.trigger("firehose", "big", &json!(big));
        assert_eq!(r.status, 200, "{}", r.body);
        sent += 1;
        // The healthy client keeps receiving.
        fast.recv_event("big");
        if samples(&srv.metrics()).get(&key) == Some(&1.0) {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "never closed the slow consumer after {sent} publishes"
        );
    }
    // The slow client finds, after the backlog, a 4100 close.
    slow.set_timeout(Duration::from_secs(10));
    assert_eq!(slow.expect_close(), Some(4100));
}

fn get(addr: std::net::SocketAddr, path: &str) -> Response {
    http(
        addr,
        format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
    )
}

#[test]
fn listener_routes_and_content_type() {
    let srv = TestServer::default();
    let r = get(srv.metrics_addr, "/metrics");
    assert_eq!(r.status, 200);
    assert_eq!(
        r.header("content-type"),
        Some("text/plain; version=0.0.4; charset=utf-8")
    );
    assert!(r.body.ends_with('\n'));
    assert!(r.body.contains("process_cpu_seconds_total "));
    assert!(r.body.contains("process_resident_memory_bytes "));
    assert_eq!(get(srv.metrics_addr, "/").status, 200);
    assert_eq!(get(srv.metrics_addr, "/ready").status, 200);
    let usage = get(srv.metrics_addr, "/usage");
    assert_eq!(usage.status, 200);
    assert!(usage.json()["memory"]["used"].as_u64().unwrap() > 0);
    assert_eq!(get(srv.metrics_addr, "/nope").status, 404);
    // The public port never serves metrics.
    assert_eq!(get(srv.addr, "/metrics").status, 404);
}

#[test]
fn disabled_metrics_answer_404_but_the_listener_runs() {
    let mut cfg = config();
    cfg.metrics.enabled = false;
    let srv = TestServer::start(cfg);
    assert_eq!(get(srv.metrics_addr, "/metrics").status, 404);
    assert_eq!(get(srv.metrics_addr, "/").status, 200);
    assert_eq!(get(srv.metrics_addr, "/usage").status, 200);
}

#[test]
fn prefix_and_port_settings_change_the_names() {
    let mut cfg = config();
    cfg.metrics.prefix = "pusher_".into();
    cfg.metrics.port_in_name = false;
    let srv = TestServer::start(cfg);
    let _c = srv.client();
    let p = srv.addr.port();
    let body = srv.metrics();
    let key = format!("pusher_connected{{app_id=\"app-id\",port=\"{p}\"}}");
    let s = samples(&body);
    assert!(s.contains_key(&key), "{body}");
    assert!(!body.contains("soketi_"));
    assert!(body.contains("# TYPE pusher_new_connections_total counter"));

    let mut cfg = config();
    cfg.metrics.prefix = "x_".into();
    let srv = TestServer::start(cfg);
    let p = srv.addr.port();
    assert!(srv
        .metrics()
        .contains(&format!("# TYPE x_{p}_connected gauge")));
}

/// soketi's process families (prom-client's, prefixed, label `port`), as a soketi 1.x
/// dashboard queries them: the names, types and labels, and values that agree with the
/// standard `process_*` set beside them.
const SOKETI_PROCESS: [(&str, &str); 9] = [
    ("process_cpu_user_seconds_total", "counter"),
    ("process_cpu_system_seconds_total", "counter"),
    ("process_cpu_seconds_total", "counter"),
    ("process_start_time_seconds", "gauge"),
    ("process_resident_memory_bytes", "gauge"),
    ("process_virtual_memory_bytes", "gauge"),
    ("process_heap_bytes", "gauge"),
    ("process_open_fds", "gauge"),
    ("process_max_fds", "gauge"),
];

#[test]
fn soketi_process_families_come_with_soketi_names_only() {
    let mut cfg = config();
    cfg.metrics.port_in_name = false;
    let srv = TestServer::start(cfg);
    let _c = srv.client();
    let p = srv.addr.port();
    let body = srv.metrics();
    let s = samples(&body);
    let value = |name: &str| {
        let key = format!("soketi_{name}{{port=\"{p}\"}}");
        *s.get(&key)
            .unwrap_or_else(|| panic!("no series {key} in\n{body}"))
    };
    for (name, kind) in SOKETI_PROCESS {
        assert!(
            body.contains(&format!("# TYPE soketi_{name} {kind}\n")),
            "{name}"
        );
        // The one series of the family is the one with the port label.
        let series = s
            .keys()
            .filter(|k| k.starts_with(&format!("soketi_{name}")))
            .count();
        assert_eq!(series, 1, "{name}");
        assert!(value(name) >= 0.0, "{name}");
    }
    // The standard set stays, unprefixed and unlabelled.
    for name in [
        "process_cpu_seconds_total",
        "process_open_fds",
        "process_max_fds",
    ] {
        assert!(s.contains_key(name), "{name}");
    }
    let cpu = value("process_cpu_seconds_total");
    let split = value("process_cpu_user_seconds_total") + value("process_cpu_system_seconds_total");
    assert!((cpu - split).abs() < 1e-5, "{cpu} vs {split}");
    assert_eq!(value("process_max_fds"), s["process_max_fds"]);
    assert_eq!(
        value("process_start_time_seconds"),
        s["process_start_time_seconds"]
    );
    let (rss, vsz, heap) = (
        value("process_resident_memory_bytes"),
        value("process_virtual_memory_bytes"),
        value("process_heap_bytes"),
    );
    assert!(rss > 1e6 && rss <= vsz, "rss {rss}, virtual {vsz}");
    assert!(heap > 0.0 && heap <= vsz, "heap {heap}, virtual {vsz}");
    assert!(value("process_open_fds") >= 3.0);

    // The default names (port in the name) keep only the standard set.
    let srv = TestServer::default();
    let body = srv.metrics();
    assert!(body.contains("\nprocess_cpu_seconds_total "));
    assert!(!body.contains("soketi_process_"), "{body}");
    assert!(!body.contains("process_heap_bytes"));
    assert!(!body.contains("process_cpu_user_seconds_total"));
}

/// The metric names in a PromQL expression: every identifier directly followed by `{` (the
/// dashboard writes a selector after every name, and nothing else is followed by one).
fn metric_names(expr: &str) -> Vec<String> {
    let b = expr.as_bytes();
    let mut names = Vec::new();
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && (b[i].is_ascii_alphanumeric() || b[i] == b'_' || b[i] == b':') {
            i += 1;
        }
        if i > start && b.get(i) == Some(&b'{') && !b[start].is_ascii_digit() {
            names.push(expr[start..i].to_owned());
        }
        i += 1;
    }
    names
}

#[test]
fn grafana_dashboard_queries_name_only_families_fanoutd_writes() {
    // The dashboard is for the default names: `soketi_${port}_…` and the standard process set.
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/docs/deploy/grafana-dashboard.json"
    );
    let dashboard: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    let srv = TestServer::default();
    let p = srv.addr.port().to_string();
    let written: std::collections::HashSet<String> = samples(&srv.metrics())
        .into_keys()
        .map(|series| series.split('{').next().unwrap().to_owned())
        .collect();
    let mut exprs = Vec::new();
    for panel in dashboard["panels"].as_array().unwrap() {
        for target in panel["targets"].as_array().into_iter().flatten() {
            exprs.push((panel["title"].to_string(), target["expr"].as_str().unwrap()));
        }
    }
    // The query variables' `label_values(SELECTOR, label)`: the selector.
    let mut selectors = Vec::new();
    for var in dashboard["templating"]["list"].as_array().unwrap() {
        if var["type"] == "query" {
            let def = var["definition"].as_str().unwrap();
            let inner = def.strip_prefix("label_values(").unwrap();
            let (selector, _label) = inner.rsplit_once(',').unwrap();
            let braces = if selector.ends_with('}') { "" } else { "{}" };
            selectors.push((var["name"].to_string(), format!("{selector}{braces}")));
        }
    }
    assert_eq!(selectors.len(), 2);
    exprs.extend(selectors.iter().map(|(n, s)| (n.clone(), s.as_str())));
    assert!(exprs.len() >= 16, "{}", exprs.len());
    let mut seen = 0;
    for (title, expr) in exprs {
        let expr = expr.replace("${port}", &p);
        let names = metric_names(&expr);
        assert!(!names.is_empty(), "{title}: no metric in {expr}");
        for name in names {
            assert!(written.contains(&name), "{title}: {name} is not written");
            seen += 1;
        }
    }
    assert!(seen >= 20);
}

#[test]
fn client_events_and_presence_messages_are_counted() {
    let mut cfg = config();
    app(&mut cfg).enable_client_messages = true;
    let srv = TestServer::start(cfg);
    let mut a = srv.client();
    let mut b = srv.client();
    a.subscribe_presence("presence-m", json!(1), json!({"n": "a"}));
    b.subscribe_presence("presence-m", json!(2), json!({"n": "b"}));
    a.recv_event("pusher_internal:member_added");
    let before = samples(&srv.metrics());
    let (rx0, tx0) = (
        app_value(&srv, &before, "ws_messages_received_total"),
        app_value(&srv, &before, "ws_messages_sent_total"),
    );
    let (rxb0, txb0) = (
        app_value(&srv, &before, "socket_received_bytes"),
        app_value(&srv, &before, "socket_transmitted_bytes"),
    );
    // One client event from a: received once, delivered once (to b, never back to a).
    let ev = json!({"event": "client-hi", "channel": "presence-m", "data": {"x": 1}});
    a.send(ev.clone());
    let got = b.recv_event("client-hi");
    assert_eq!(got["user_id"], 1);
    let s = eventually(&srv, "the client event counted", |s| {
        app_value(&srv, s, "ws_messages_sent_total") == tx0 + 1.0
    });
    assert_eq!(app_value(&srv, &s, "ws_messages_received_total"), rx0 + 1.0);
    assert_eq!(
        app_value(&srv, &s, "socket_received_bytes"),
        rxb0 + ev.to_string().len() as f64
    );
    let delivered = got.to_string().len() as f64;
    assert_eq!(
        app_value(&srv, &s, "socket_transmitted_bytes"),
        txb0 + delivered
    );
    // b leaves: a gets member_removed, which is counted as one more message sent.
    drop(b);
    a.recv_event("pusher_internal:member_removed");
    eventually(&srv, "member_removed counted", |s| {
        app_value(&srv, s, "ws_messages_sent_total") == tx0 + 2.0
    });
}

/// `/metrics?json=<non-empty>`: prom-client's JSON form as soketi serves it, with
/// `Content-Type: application/json`; without it (or with `json=` empty) the text form. HEAD
/// answers both without a body (docs/compat.md, `metrics-json`).
#[test]
fn metrics_json_is_soketis_prom_client_form() {
    let srv = TestServer::default();
    let _c = srv.client();
    let p = srv.addr.port();
    let connected = format!("soketi_{p}_connected");
    let r = get(srv.metrics_addr, "/metrics?json=1");
    assert_eq!(r.status, 200);
    assert_eq!(r.header("content-type"), Some("application/json"));
    let families = r.json();
    let families = families.as_array().expect("an array of families");
    let text = srv.metrics();
    assert_eq!(families.len(), text.matches("# TYPE ").count());
    for f in families {
        let mut keys: Vec<&str> = f.as_object().unwrap().keys().map(|k| k.as_str()).collect();
        keys.sort_unstable();
        assert_eq!(
            keys,
            ["aggregator", "help", "name", "type", "values"],
            "{f}"
        );
        assert!(f["values"].is_array());
    }
    let family = families
        .iter()
        .find(|f| f["name"] == connected.as_str())
        .unwrap_or_else(|| panic!("no {connected} in {families:?}"));
    assert_eq!(family["type"], "gauge");
    assert_eq!(family["help"], "The number of currently connected sockets.");
    assert_eq!(
        family["values"],
        json!([{"value": 1, "labels": {"app_id": "app-id", "port": p.to_string()}}])
    );

    // Without the query, or with an empty value: the text exposition.
    for path in ["/metrics", "/metrics?json=", "/metrics?other=1"] {
        let r = get(srv.metrics_addr, path);
        assert_eq!(
            r.header("content-type"),
            Some("text/plain; version=0.0.4; charset=utf-8"),
            "{path}"
        );
        assert!(r.body.starts_with("# HELP "), "{path}");
    }

    // HEAD: the same status and headers, no body.
    for (path, content_type) in [
        ("/metrics?json=1", "application/json"),
        ("/metrics", "text/plain; version=0.0.4; charset=utf-8"),
    ] {
        let r = http(
            srv.metrics_addr,
            format!("HEAD {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes(),
        );
        assert_eq!(r.status, 200, "{path}");
        assert_eq!(r.header("content-type"), Some(content_type), "{path}");
        assert!(r.body.is_empty(), "{path}: {}", r.body);
    }
}
