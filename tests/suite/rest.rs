//! The Pusher REST API: publishing (`events`, `batch_events`), exclusion by `socket_id`,
//! soketi's limits (defaults and tuned), the channel reads, the app lookup, and request
//! signing (bad signature, wrong key, stale and future timestamps, tampered body). Errors are
//! the real HTTP status with the JSON body `{"error": "...", "code": N}`.

use std::net::SocketAddr;
use std::time::Duration;

use fanoutd::pusher::auth;
use serde_json::{json, Value};

use crate::util::*;

/// Sends a request whose query was built by the caller (the failure cases).
fn send_raw(addr: SocketAddr, method: &str, full_path: &str, query: &str, body: &str) -> Response {
    let req = format!(
        "{method} {full_path}?{query} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    http(addr, req.as_bytes())
}

/// Asserts an error response: the status, the JSON body with the same `code`, and an
/// `error` text containing `phrase`.
#[track_caller]
fn assert_error(r: &Response, status: u16, phrase: &str) {
    assert_eq!(r.status, status, "{r:?}");
    assert!(
        r.header("Content-Type")
            .is_some_and(|t| t.starts_with("application/json")),
        "{r:?}"
    );
    let v = r.json();
    assert_eq!(v["code"], status, "{v}");
    let e = v["error"]
        .as_str()
        .unwrap_or_else(|| panic!("no error text: {v}"));
    assert!(e.contains(phrase), "{e:?} does not contain {phrase:?}");
    assert_eq!(v.as_object().unwrap().len(), 2, "only error and code: {v}");
}

fn publish(srv: &TestServer, body: Value) -> Response {
    srv.rest("POST", "/events", &[], &body.to_string())
}

fn batch(srv: &TestServer, items: Vec<Value>) -> Response {
    srv.rest(
        "POST",
        "/batch_events",
        &[],
        &json!({ "batch": items }).to_string(),
    )
}

// ------------------------------------------------------------------------------ publishing

#[test]
fn events_to_one_channel_and_to_several() {
    let srv = TestServer::default();
    let mut a = srv.client();
    let mut b = srv.client();
    a.subscribe("ch-a");
    b.subscribe("ch-b");
    let r = publish(
        &srv,
        json!({"name": "one", "channel": "ch-a", "data": "{\"x\":1}"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({"ok": true}));
    let m = a.recv_event("one");
    assert_eq!(
        m,
        json!({"event": "one", "channel": "ch-a", "data": "{\"x\":1}"})
    );
    // `channels`: each subscriber gets the event once, for its channel.
    let r = publish(
        &srv,
        json!({"name": "many", "channels": ["ch-a", "ch-b", "nobody"], "data": "d"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(a.recv_event("many")["channel"], "ch-a");
    assert_eq!(b.recv_event("many")["channel"], "ch-b");
    a.expect_silence(Duration::from_millis(200));
    b.expect_silence(Duration::from_millis(100));
    // Non-string data is relayed as JSON, as given.
    let r = publish(
        &srv,
        json!({"name": "obj", "channel": "ch-a", "data": {"k": [1, 2]}}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(a.recv_event("obj")["data"], json!({"k": [1, 2]}));
    // `info` is accepted and ignored.
    let r = publish(
        &srv,
        json!({"name": "info", "channel": "ch-a", "data": "x", "info": "subscription_count"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    a.recv_event("info");
}

#[test]
fn socket_id_excludes_that_socket_only() {
    let srv = TestServer::default();
    let mut clients: Vec<Client> = (0..6).map(|_| srv.client()).collect();
    for c in &mut clients {
        c.subscribe("excl");
    }
    let excluded = clients[2].socket_id.clone();
    let r = publish(
        &srv,
        json!({"name": "e", "channel": "excl", "data": "1", "socket_id": excluded}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    for (i, c) in clients.iter_mut().enumerate() {
        if i != 2 {
            assert_eq!(c.recv_event("e")["data"], "1");
        }
    }
    clients[2].expect_silence(Duration::from_millis(300));
    // The excluded socket still gets the next publish.
    assert_eq!(
        publish(&srv, json!({"name": "f", "channel": "excl", "data": "2"})).status,
        200
    );
    for c in &mut clients {
        assert_eq!(c.recv_event("f")["data"], "2");
    }
    // Exclusion in a batch applies to its item only.
    let r = batch(
        &srv,
        vec![
            json!({"name": "g", "channel": "excl", "data": "3", "socket_id": excluded}),
            json!({"name": "h", "channel": "excl", "data": "4"}),
        ],
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(clients[2].recv()["event"], "h");
    assert_eq!(clients[0].recv()["event"], "g");
    assert_eq!(clients[0].recv()["event"], "h");
}

#[test]
fn socket_id_that_is_not_a_socket_id_is_400_and_an_unknown_one_excludes_nobody() {
    let srv = TestServer::default();
    let mut c = srv.client();
    c.subscribe("sid");
    for bad in ["abc", "1", "1.", ".1", "1.2.3", "-1.2", "1.a"] {
        let r = publish(
            &srv,
            json!({"name": "e", "channel": "sid", "data": "x", "socket_id": bad}),
        );
        assert_error(&r, 400, "socket_id");
    }
    c.expect_silence(Duration::from_millis(200));
    let r = publish(
        &srv,
        json!({"name": "e", "channel": "sid", "data": "x", "socket_id": "123.456"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    c.recv_event("e");
}

#[test]
fn batch_events_are_delivered_in_order() {
    let srv = TestServer::default();
    let mut a = srv.client();
    a.subscribe("b1");
    a.subscribe("b2");
    let items: Vec<Value> = (0..10)
        .map(|i| json!({"name": format!("e{i}"), "channel": if i % 2 == 0 { "b1" } else { "b2" }, "data": i.to_string()}))
        .collect();
    let r = batch(&srv, items);
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({"ok": true}));
    for i in 0..10 {
        let m = a.recv();
        assert_eq!(m["event"], format!("e{i}"), "{m}");
        assert_eq!(m["data"], i.to_string());
    }
    // An empty batch is fine and sends nothing.
    assert_eq!(batch(&srv, vec![]).status, 200);
    a.expect_silence(Duration::from_millis(200));
}

#[test]
fn batch_validation_is_all_or_nothing() {
    let srv = TestServer::default();
    let mut a = srv.client();
    a.subscribe("all-or-nothing");
    let r = batch(
        &srv,
        vec![
            json!({"name": "ok", "channel": "all-or-nothing", "data": "1"}),
            json!({"name": "bad", "channel": "all-or-nothing", "data": ""}),
        ],
    );
    assert_error(&r, 400, "incorrect");
    a.expect_silence(Duration::from_millis(300));
    for body in ["{}", r#"{"batch": {}}"#, r#"{"batch": [1]}"#, "[]", "nope"] {
        let r = srv.rest("POST", "/batch_events", &[], body);
        assert_error(&r, 400, "");
    }
}

#[test]
fn falsy_or_missing_fields_are_400() {
    let srv = TestServer::default();
    let mut c = srv.client();
    c.subscribe("falsy");
    let cases = [
        json!({"name": "e", "channel": "falsy"}),
        json!({"name": "e", "channel": "falsy", "data": ""}),
        json!({"name": "e", "channel": "falsy", "data": null}),
        json!({"name": "e", "channel": "falsy", "data": false}),
        json!({"name": "e", "channel": "falsy", "data": 0}),
        json!({"name": "e", "channel": "falsy", "data": 0.0}),
        json!({"channel": "falsy", "data": "x"}),
        json!({"name": "", "channel": "falsy", "data": "x"}),
        json!({"name": "e", "data": "x"}),
        json!({"name": "e", "channels": [], "data": "x"}),
    ];
    for body in cases {
        let r = publish(&srv, body.clone());
        assert_error(&r, 400, "incorrect");
    }
    for body in [
        "",
        "nope",
        "[]",
        "{\"name\": ",
        "{\"name\": 5, \"channel\": \"falsy\", \"data\": \"x\"}",
    ] {
        let r = srv.rest("POST", "/events", &[], body);
        assert_error(&r, 400, "");
    }
    c.expect_silence(Duration::from_millis(200));
    // Truthy values that look falsy elsewhere are fine.
    for data in [
        json!("0"),
        json!("false"),
        json!(1),
        json!([]),
        json!({}),
        json!(true),
    ] {
        let r = publish(&srv, json!({"name": "e", "channel": "falsy", "data": data}));
        assert_eq!(r.status, 200, "{data}: {}", r.body);
        assert_eq!(c.recv_event("e")["data"], data);
    }
}

#[test]
fn default_limits() {
    let srv = TestServer::default();
    let chans = |n: usize| -> Vec<String> { (0..n).map(|i| format!("c{i}")).collect() };
    // 100 channels at once: fine; 101: 400.
    let r = publish(
        &srv,
        json!({"name": "e", "channels": chans(100), "data": "x"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = publish(
        &srv,
        json!({"name": "e", "channels": chans(101), "data": "x"}),
    );
    assert_error(&r, 400, "100 channels");
    // Event name of 200: fine; 201: 400.
    let r = publish(
        &srv,
        json!({"name": "n".repeat(200), "channel": "c", "data": "x"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = publish(
        &srv,
        json!({"name": "n".repeat(201), "channel": "c", "data": "x"}),
    );
    assert_error(&r, 400, "200");
    // Channel name of 200: fine; 201: 400 (fanoutd checks names on publish too).
    let r = publish(
        &srv,
        json!({"name": "e", "channel": "c".repeat(200), "data": "x"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = publish(
        &srv,
        json!({"name": "e", "channel": "c".repeat(201), "data": "x"}),
    );
    assert_error(&r, 400, "channel");
    // Payload of 100 KB (1024 bytes each, strict >): fine; one byte more: 413.
    let r = publish(
        &srv,
        json!({"name": "e", "channel": "c", "data": "d".repeat(100 * 1024)}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = publish(
        &srv,
        json!({"name": "e", "channel": "c", "data": "d".repeat(100 * 1024 + 1)}),
    );
    assert_error(&r, 413, "100 KB");
    // A string is measured in UTF-8 bytes, after JSON unescaping.
    let r = publish(
        &srv,
        json!({"name": "e", "channel": "c", "data": "\u{e9}".repeat(51_201)}),
    );
    assert_error(&r, 413, "KB");
    // Batch of 10: fine; 11: 400.
    let item = json!({"name": "e", "channel": "c", "data": "x"});
    assert_eq!(batch(&srv, vec![item.clone(); 10]).status, 200);
    let r = batch(&srv, vec![item; 11]);
    assert_error(&r, 400, "10 messages");
}

#[test]
fn tuned_limits() {
    let mut cfg = config();
    let a = app(&mut cfg);
    a.max_event_channels_at_once = 3;
    a.max_event_name_length = 10;
    a.max_channel_name_length = 12;
    a.max_event_payload_in_kb = 1.0;
    a.max_event_batch_size = 2;
    let srv = TestServer::start(cfg);
    let ok = |r: Response| assert_eq!(r.status, 200, "{}", r.body);
    ok(publish(
        &srv,
        json!({"name": "e", "channels": ["a", "b", "c"], "data": "x"}),
    ));
    assert_error(
        &publish(
            &srv,
            json!({"name": "e", "channels": ["a", "b", "c", "d"], "data": "x"}),
        ),
        400,
        "3 channels",
    );
    ok(publish(
        &srv,
        json!({"name": "n".repeat(10), "channel": "a", "data": "x"}),
    ));
    assert_error(
        &publish(
            &srv,
            json!({"name": "n".repeat(11), "channel": "a", "data": "x"}),
        ),
        400,
        "10",
    );
    ok(publish(
        &srv,
        json!({"name": "e", "channel": "c".repeat(12), "data": "x"}),
    ));
    assert_error(
        &publish(
            &srv,
            json!({"name": "e", "channel": "c".repeat(13), "data": "x"}),
        ),
        400,
        "channel",
    );
    ok(publish(
        &srv,
        json!({"name": "e", "channel": "a", "data": "d".repeat(1024)}),
    ));
    assert_error(
        &publish(
            &srv,
            json!({"name": "e", "channel": "a", "data": "d".repeat(1025)}),
        ),
        413,
        "1 KB",
    );
    // Non-string data is measured as its JSON text.
    assert_error(
        &publish(
            &srv,
            json!({"name": "e", "channel": "a", "data": vec![1; 600]}),
        ),
        413,
        "KB",
    );
    let item = json!({"name": "e", "channel": "a", "data": "x"});
    ok(batch(&srv, vec![item.clone(); 2]));
    assert_error(&batch(&srv, vec![item.clone(); 3]), 400, "2 messages");
    // The item limits apply inside a batch too.
    assert_error(
        &batch(
            &srv,
            vec![
                item,
                json!({"name": "e", "channel": "a", "data": "d".repeat(2000)}),
            ],
        ),
        413,
        "KB",
    );
}

#[test]
fn invalid_channel_names_are_refused_on_publish() {
    let srv = TestServer::default();
    for ch in ["a b", "#x", "", "a:b", "caf\u{e9}"] {
        let r = publish(&srv, json!({"name": "e", "channel": ch, "data": "x"}));
        assert_error(&r, 400, "");
    }
    // Server-to-user channels are a publish target.
    let r = publish(
        &srv,
        json!({"name": "e", "channel": "#server-to-user-42", "data": "x"}),
    );
    assert_eq!(r.status, 200, "{}", r.body);
}

// ------------------------------------------------------------------------------ reads

#[test]
fn channels_list_with_prefix_filter() {
    let srv = TestServer::default();
    let mut a = srv.client();
    let mut b = srv.client();
    for ch in ["pre-one", "pre-two", "other"] {
        a.subscribe(ch);
    }
    b.subscribe("pre-one");
    let r = srv.rest("GET", "/channels", &[], "");
    assert_eq!(r.status, 200, "{}", r.body);
    let v = r.json();
    let chans = v["channels"].as_object().unwrap();
    assert_eq!(chans.len(), 3, "{v}");
    assert_eq!(chans["pre-one"]["subscription_count"], 2);
    assert_eq!(chans["pre-one"]["occupied"], true);
    assert_eq!(chans["other"]["subscription_count"], 1);
    let r = srv.rest("GET", "/channels", &[("filter_by_prefix", "pre-")], "");
    let v = r.json();
    let mut names: Vec<&String> = v["channels"].as_object().unwrap().keys().collect();
    names.sort();
    assert_eq!(names, ["pre-one", "pre-two"]);
    // A vacated channel disappears.
    a.send(json!({"event": "pusher:unsubscribe", "data": {"channel": "other"}}));
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let v = srv.rest("GET", "/channels", &[], "").json();
        if v["channels"].get("other").is_none() {
            break;
        }
        assert!(std::time::Instant::now() < deadline, "{v}");
        std::thread::sleep(Duration::from_millis(20));
    }
    // No match: an empty object.
    let r = srv.rest("GET", "/channels", &[("filter_by_prefix", "zzz")], "");
    assert_eq!(r.json(), json!({"channels": {}}));
}

#[test]
fn user_count_needs_a_presence_prefix() {
    let srv = TestServer::default();
    let r = srv.rest("GET", "/channels", &[("info", "user_count")], "");
    assert_error(&r, 400, "user_count");
    let r = srv.rest(
        "GET",
        "/channels",
        &[("info", "user_count"), ("filter_by_prefix", "pre-")],
        "",
    );
    assert_error(&r, 400, "user_count");
    let r = srv.rest(
        "GET",
        "/channels",
        &[("info", "user_count"), ("filter_by_prefix", "presence-")],
        "",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json(), json!({"channels": {}}));
}

#[test]
fn one_channel() {
    let srv = TestServer::default();
    let r = srv.rest("GET", "/channels/empty", &[], "");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"subscription_count": 0, "occupied": false})
    );
    let mut cs: Vec<Client> = (0..3).map(|_| srv.client()).collect();
    for c in &mut cs {
        c.subscribe("three");
    }
    let r = srv.rest("GET", "/channels/three", &[], "");
    assert_eq!(r.json(), json!({"subscription_count": 3, "occupied": true}));
    // A percent-encoded name.
    cs[0].subscribe("a@b");
    let r = srv.rest("GET", "/channels/a%40b", &[], "");
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["subscription_count"], 1);
}

// ------------------------------------------------------------------------------ apps, auth

#[test]
fn unknown_app_id_is_404() {
    let srv = TestServer::default();
    for (method, path, body) in [
        (
            "POST",
            "/events",
            r#"{"name":"e","channel":"c","data":"x"}"#,
        ),
        ("GET", "/channels", ""),
        ("GET", "/channels/x", ""),
    ] {
        let r = rest(
            srv.addr,
            "no-app",
            "app-key",
            "app-secret",
            method,
            path,
            &[],
            body,
        );
        assert_error(&r, 404, "no-app");
    }
}

#[test]
fn second_app_is_separate() {
    let mut cfg = config();
    add_app(&mut cfg, "id-2", "key-2", "secret-2");
    let srv = TestServer::start(cfg);
    let mut one = srv.client();
    let mut two = Client::connect(srv.addr, "key-2");
    one.subscribe("same");
    two.subscribe("same");
    let body = json!({"name": "e", "channel": "same", "data": "for-two"}).to_string();
    let r = rest(
        srv.addr,
        "id-2",
        "key-2",
        "secret-2",
        "POST",
        "/events",
        &[],
        &body,
    );
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(two.recv_event("e")["data"], "for-two");
    one.expect_silence(Duration::from_millis(300));
    // App 1's credentials do not sign for app 2.
    let r = rest(
        srv.addr,
        "id-2",
        "app-key",
        "app-secret",
        "POST",
        "/events",
        &[],
        &body,
    );
    assert_error(&r, 401, "");
}

#[test]
fn signature_failures_are_401() {
    let srv = TestServer::default();
    let mut c = srv.client();
    c.subscribe("signed");
    let path = "/apps/app-id/events";
    let body = json!({"name": "e", "channel": "signed", "data": "x"}).to_string();
    let now = unix_now();
    let sign = |key: &str, secret: &str, ts: i64, b: &str| {
        auth::sign_rest_query("POST", path, &[], b.as_bytes(), key, secret, ts)
    };
    let good = sign("app-key", "app-secret", now, &body);
    let cases: Vec<(&str, String, String)> = vec![
        (
            "wrong secret",
            sign("app-key", "wrong", now, &body),
            body.clone(),
        ),
        (
            "wrong auth_key",
            sign("other-key", "app-secret", now, &body),
            body.clone(),
        ),
        (
            "stale timestamp",
            sign("app-key", "app-secret", now - 700, &body),
            body.clone(),
        ),
        (
            "future timestamp",
            sign("app-key", "app-secret", now + 700, &body),
            body.clone(),
        ),
        (
            "tampered body",
            good.clone(),
            body.replace("\"x\"", "\"y\""),
        ),
        (
            "tampered signature",
            {
                let mut q = good.clone();
                let last = q.pop().unwrap();
                q.push(if last == '0' { '1' } else { '0' });
                q
            },
            body.clone(),
        ),
        (
            "upper-case signature",
            {
                let (a, sig) = good.split_once("auth_signature=").unwrap();
                format!("{a}auth_signature={}", sig.to_uppercase())
            },
            body.clone(),
        ),
        (
            "no signature",
            good.split("&auth_signature=").next().unwrap().to_string(),
            body.clone(),
        ),
        (
            "signature twice",
            {
                let sig = good.split_once("auth_signature=").unwrap().1.to_string();
                format!("{good}&auth_signature={sig}")
            },
            body.clone(),
        ),
        (
            "extra parameter not signed",
            format!("{good}&extra=1"),
            body.clone(),
        ),
        ("no query", String::new(), body.clone()),
        (
            "timestamp not a number",
            good.replace(&format!("auth_timestamp={now}"), "auth_timestamp=soon"),
            body.clone(),
        ),
    ];
    for (what, query, b) in cases {
        let r = send_raw(srv.addr, "POST", path, &query, &b);
        assert_error(&r, 401, "");
        let _ = what;
    }
    c.expect_silence(Duration::from_millis(200));
    // The good one passes, and a timestamp within the window is fine.
    assert_eq!(send_raw(srv.addr, "POST", path, &good, &body).status, 200);
    c.recv_event("e");
    let q = sign("app-key", "app-secret", now - 500, &body);
    assert_eq!(send_raw(srv.addr, "POST", path, &q, &body).status, 200);
    c.recv_event("e");
    let q = sign("app-key", "app-secret", now + 500, &body);
    assert_eq!(send_raw(srv.addr, "POST", path, &q, &body).status, 200);
    c.recv_event("e");
}

#[test]
fn signature_failures_on_reads_are_401() {
    let srv = TestServer::default();
    let path = "/apps/app-id/channels";
    let now = unix_now();
    let q = auth::sign_rest_query("GET", path, &[], b"", "app-key", "wrong", now);
    assert_error(&send_raw(srv.addr, "GET", path, &q, ""), 401, "");
    // Signed for another path.
    let q = auth::sign_rest_query(
        "GET",
        "/apps/app-id/channels/x",
        &[],
        b"",
        "app-key",
        "app-secret",
        now,
    );
    assert_error(&send_raw(srv.addr, "GET", path, &q, ""), 401, "");
    // Signed without the query parameter that was then added.
    let q = auth::sign_rest_query("GET", path, &[], b"", "app-key", "app-secret", now);
    assert_error(
        &send_raw(
            srv.addr,
            "GET",
            path,
            &format!("{q}&filter_by_prefix=a"),
            "",
        ),
        401,
        "",
    );
    // Signed with it: fine.
    let q = auth::sign_rest_query(
        "GET",
        path,
        &[("filter_by_prefix", "a")],
        b"",
        "app-key",
        "app-secret",
        now,
    );
    assert_eq!(send_raw(srv.addr, "GET", path, &q, "").status, 200);
}

#[test]
fn timestamp_window_can_be_disabled_or_narrowed() {
    let mut cfg = config();
    cfg.auth_timestamp_window_secs = 0;
    let srv = TestServer::start(cfg);
    let path = "/apps/app-id/channels";
    let q = auth::sign_rest_query(
        "GET",
        path,
        &[],
        b"",
        "app-key",
        "app-secret",
        unix_now() - 100_000,
    );
    assert_eq!(send_raw(srv.addr, "GET", path, &q, "").status, 200);

    let mut cfg = config();
    cfg.auth_timestamp_window_secs = 60;
    let srv = TestServer::start(cfg);
    let q = auth::sign_rest_query(
        "GET",
        path,
        &[],
        b"",
        "app-key",
        "app-secret",
        unix_now() - 120,
    );
    assert_error(&send_raw(srv.addr, "GET", path, &q, ""), 401, "");
    let q = auth::sign_rest_query(
        "GET",
        path,
        &[],
        b"",
        "app-key",
        "app-secret",
        unix_now() - 30,
    );
    assert_eq!(send_raw(srv.addr, "GET", path, &q, "").status, 200);
}

#[test]
fn errors_keep_the_connection_usable() {
    // An API error on a keep-alive connection does not close it.
    let srv = TestServer::default();
    let mut conn = crate::http::HttpConn::open(srv.addr);
    let path = "/apps/app-id/events";
    let body = r#"{"name":"e","channel":"c","data":""}"#;
    let q = auth::sign_rest_query(
        "POST",
        path,
        &[],
        body.as_bytes(),
        "app-key",
        "app-secret",
        unix_now(),
    );
    for _ in 0..2 {
        conn.send(
            format!(
                "POST {path}?{q} HTTP/1.1\r\nHost: x\r\nContent-Length: {}\r\n\r\n{body}",
                body.len()
            )
            .as_bytes(),
        );
        let r = conn.response().unwrap();
        assert_error(&r, 400, "");
        assert_eq!(r.header("Connection"), None);
    }
}

#[test]
fn path_prefix_applies_to_the_api_and_its_signature() {
    let mut cfg = config();
    cfg.path_prefix = "/pfx".into();
    let srv = TestServer::start(cfg);
    let url = format!("ws://{}/pfx/app/app-key", srv.addr);
    let (ws, _) = tungstenite::connect(url).expect("handshake under the prefix");
    let mut c = Client {
        ws,
        socket_id: String::new(),
    };
    c.set_timeout(WAIT);
    assert_eq!(c.recv()["event"], "pusher:connection_established");
    c.subscribe("prefixed");
    let path = "/pfx/apps/app-id/events";
    let body = json!({"name": "e", "channel": "prefixed", "data": "x"}).to_string();
    let q = auth::sign_rest_query(
        "POST",
        path,
        &[],
        body.as_bytes(),
        "app-key",
        "app-secret",
        unix_now(),
    );
    let r = send_raw(srv.addr, "POST", path, &q, &body);
    assert_eq!(r.status, 200, "{}", r.body);
    c.recv_event("e");
    // Signed without the prefix: the signature covers the path as requested.
    let q = auth::sign_rest_query(
        "POST",
        "/apps/app-id/events",
        &[],
        body.as_bytes(),
        "app-key",
        "app-secret",
        unix_now(),
    );
    assert_error(&send_raw(srv.addr, "POST", path, &q, &body), 401, "");
    // Without the prefix: not found.
    let r = srv.rest("POST", "/events", &[], &body);
    assert_eq!(r.status, 404, "{r:?}");
}
