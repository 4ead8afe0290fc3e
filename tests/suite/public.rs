//! The Pusher protocol, public side: `connection_established`, ping/pong, subscribing to and
//! leaving public channels, name rules, app checks at connect, the connection quota, the
//! server's keep-alive pings (4201), and malformed messages (4300, the socket keeps working).

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use crate::util::*;
use crate::websocket::{text_frame, RawWs};

/// Asserts `c` still works: a publish on a fresh channel reaches it.
fn assert_alive(srv: &TestServer, c: &mut Client, channel: &str) {
    c.subscribe(channel);
    let r = srv.trigger(channel, "alive", &json!({"n": 1}));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(c.recv_event("alive")["channel"], channel);
}

fn is_socket_id(id: &str) -> bool {
    let Some((a, b)) = id.split_once('.') else {
        return false;
    };
    !a.is_empty()
        && !b.is_empty()
        && a.bytes().all(|c| c.is_ascii_digit())
        && b.bytes().all(|c| c.is_ascii_digit())
}

#[test]
fn connection_established_carries_a_socket_id_and_activity_timeout_30() {
    let srv = TestServer::default();
    let mut ids = std::collections::HashSet::new();
    for _ in 0..10 {
        let (_c, first) = Client::connect_raw(srv.addr, "app-key");
        assert_eq!(first["event"], "pusher:connection_established");
        // `data` is a JSON string, as Pusher sends it.
        let data: Value = serde_json::from_str(first["data"].as_str().expect("data is a string"))
            .expect("data holds JSON");
        let id = data["socket_id"].as_str().unwrap().to_string();
        assert!(is_socket_id(&id), "{id}");
        assert_eq!(data["activity_timeout"], 30);
        assert!(ids.insert(id), "socket ids are unique among live sockets");
    }
}

#[test]
fn ping_gets_pong() {
    let srv = TestServer::default();
    let mut c = srv.client();
    for _ in 0..3 {
        c.send(json!({"event": "pusher:ping", "data": {}}));
        let m = c.recv();
        assert_eq!(m["event"], "pusher:pong", "{m}");
    }
    // pusher-js sends `data` as an empty object or omits it.
    c.send(json!({"event": "pusher:ping"}));
    assert_eq!(c.recv()["event"], "pusher:pong");
}

#[test]
fn subscribe_publish_unsubscribe() {
    let srv = TestServer::default();
    let mut a = srv.client();
    let mut b = srv.client();
    a.subscribe("news");
    b.subscribe("news");
    b.subscribe("other");
    let m = {
        a.send(json!({"event": "pusher:subscribe", "data": {"channel": "news"}}));
        a.recv_event("pusher_internal:subscription_succeeded")
    };
    // Re-subscribing confirms again and changes nothing.
    assert_eq!(m["channel"], "news");
    let r = srv.rest("GET", "/channels/news", &[], "");
    assert_eq!(r.json()["subscription_count"], 2);

    assert_eq!(srv.trigger("news", "e1", &json!("one")).status, 200);
    for c in [&mut a, &mut b] {
        let m = c.recv_event("e1");
        assert_eq!(m["channel"], "news");
        assert_eq!(m["data"], "\"one\"");
    }
    // a leaves: it gets nothing more, b still does. No reply to unsubscribe.
    a.send(json!({"event": "pusher:unsubscribe", "data": {"channel": "news"}}));
    a.expect_silence(Duration::from_millis(200));
    assert_eq!(srv.trigger("news", "e2", &json!("two")).status, 200);
    assert_eq!(b.recv_event("e2")["channel"], "news");
    a.expect_silence(Duration::from_millis(300));
    let r = srv.rest("GET", "/channels/news", &[], "");
    assert_eq!(r.json()["subscription_count"], 1);
    // Leaving a channel one never joined is a no-op.
    a.send(json!({"event": "pusher:unsubscribe", "data": {"channel": "never"}}));
    a.expect_silence(Duration::from_millis(200));
    // Publishing to a channel b did not join does not reach b.
    assert_eq!(srv.trigger("unrelated", "e3", &json!(3)).status, 200);
    assert_eq!(srv.trigger("other", "e4", &json!(4)).status, 200);
    let m = b.recv();
    assert_eq!(m["event"], "e4", "{m}");
    // Subscribing again after leaving works.
    a.subscribe("news");
    assert_eq!(srv.trigger("news", "e5", &json!(5)).status, 200);
    assert_eq!(a.recv_event("e5")["channel"], "news");
}

#[test]
fn invalid_channel_names_get_4009_without_a_type() {
    let srv = TestServer::default();
    let mut c = srv.client();
    for name in [
        "#x",
        "a b",
        "",
        "a/b",
        "a:b",
        "caf\u{e9}",
        "#server-to-user-1",
    ] {
        c.send(json!({"event": "pusher:subscribe", "data": {"channel": name}}));
        let m = c.recv();
        assert_eq!(m["event"], "pusher:subscription_error", "{name:?}: {m}");
        assert_eq!(m["channel"], name);
        assert_eq!(m["data"]["status"], 4009, "{name:?}");
        assert!(m["data"].get("type").is_none(), "{name:?}: {m}");
        assert!(m["data"]["error"].is_string());
    }
    // The allowed punctuation.
    c.subscribe("a-Z_0=@,.;");
    assert_alive(&srv, &mut c, "still-fine");
}

#[test]
fn channel_name_length_limit_is_limit_reached_4009() {
    let mut cfg = config();
    app(&mut cfg).max_channel_name_length = 20;
    let srv = TestServer::start(cfg);
    let mut c = srv.client();
    c.subscribe(&"a".repeat(20));
    let long = "a".repeat(21);
    c.send(json!({"event": "pusher:subscribe", "data": {"channel": long}}));
    let m = c.recv();
    assert_eq!(m["event"], "pusher:subscription_error", "{m}");
    assert_eq!(m["data"]["type"], "LimitReached");
    assert_eq!(m["data"]["status"], 4009);
    assert!(m["data"]["error"].as_str().unwrap().contains("20"), "{m}");
    // The length check comes before the name rule.
    c.send(json!({"event": "pusher:subscribe", "data": {"channel": "#".repeat(21)}}));
    assert_eq!(c.recv()["data"]["type"], "LimitReached");

    // The default is 200.
    let srv = TestServer::default();
    let mut c = srv.client();
    c.subscribe(&"b".repeat(200));
    c.send(json!({"event": "pusher:subscribe", "data": {"channel": "b".repeat(201)}}));
    let m = c.recv();
    assert_eq!(m["data"]["type"], "LimitReached", "{m}");
    assert_eq!(m["data"]["status"], 4009);
}

#[test]
fn unknown_app_key_gets_4001_then_close() {
    let srv = TestServer::default();
    let (mut c, first) = Client::connect_raw(srv.addr, "no-such-key");
    assert_eq!(first["event"], "pusher:error", "{first}");
    assert_eq!(first["data"]["code"], 4001);
    assert!(first["data"]["message"]
        .as_str()
        .unwrap()
        .contains("no-such-key"));
    assert_eq!(c.expect_close(), Some(4001));
}

#[test]
fn disabled_app_gets_4003_then_close() {
    let mut cfg = config();
    add_app(&mut cfg, "off-id", "off-key", "off-secret").enabled = false;
    let srv = TestServer::start(cfg);
    let (mut c, first) = Client::connect_raw(srv.addr, "off-key");
    assert_eq!(first["event"], "pusher:error", "{first}");
    assert_eq!(first["data"]["code"], 4003);
    assert_eq!(c.expect_close(), Some(4003));
    // The enabled app is unaffected.
    let mut ok = srv.client();
    assert_alive(&srv, &mut ok, "enabled");
}

#[test]
fn max_connections_1_rejects_the_second_socket_with_4100() {
    let mut cfg = config();
    app(&mut cfg).max_connections = 1;
    let srv = TestServer::start(cfg);
    let mut first = srv.client();
    let (mut second, m) = Client::connect_raw(srv.addr, "app-key");
    assert_eq!(m["event"], "pusher:error", "{m}");
    assert_eq!(m["data"]["code"], 4100);
    assert_eq!(second.expect_close(), Some(4100));
    // The first is unaffected.
    assert_alive(&srv, &mut first, "quota");
    // Once it leaves, the slot is free again (the release is asynchronous: retry).
    first.ws.close(None).unwrap();
    first.expect_close();
    drop(first);
    let deadline = Instant::now() + WAIT;
    loop {
        let (_c, m) = Client::connect_raw(srv.addr, "app-key");
        if m["event"] == "pusher:connection_established" {
            break;
        }
        assert_eq!(m["data"]["code"], 4100, "{m}");
        assert!(Instant::now() < deadline, "the quota was not released");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn max_connections_0_means_unlimited() {
    let mut cfg = config();
    app(&mut cfg).max_connections = 0;
    let srv = TestServer::start(cfg);
    let _clients: Vec<Client> = (0..5).map(|_| srv.client()).collect();
}

#[test]
fn rejected_sockets_do_not_use_the_quota() {
    let mut cfg = config();
    app(&mut cfg).max_connections = 2;
    let srv = TestServer::start(cfg);
    let _a = srv.client();
    for _ in 0..3 {
        // An unknown key, then the app's quota still has one place.
        let (mut bad, _) = Client::connect_raw(srv.addr, "nope");
        assert_eq!(bad.expect_close(), Some(4001));
    }
    let _b = srv.client();
    let (mut c, m) = Client::connect_raw(srv.addr, "app-key");
    assert_eq!(m["data"]["code"], 4100, "{m}");
    assert_eq!(c.expect_close(), Some(4100));
}

fn idle_config() -> fanoutd::Config {
    let mut cfg = config();
    cfg.activity_timeout_secs = 1;
    cfg.pong_timeout_secs = 1;
    cfg
}

#[test]
fn silent_client_gets_a_server_ping_then_4201() {
    let srv = TestServer::start(idle_config());
    let (mut c, first) = Client::connect_raw(srv.addr, "app-key");
    // connection_established announces the configured activity timeout.
    let data: Value = serde_json::from_str(first["data"].as_str().unwrap()).unwrap();
    assert_eq!(data["activity_timeout"], 1);
    // First a pusher:ping after about a second of silence.
    let m = c.recv();
    assert_eq!(m["event"], "pusher:ping", "{m}");
    // No answer: closed with 4201 after the pong timeout.
    assert_eq!(c.expect_close(), Some(4201));
}

#[test]
fn answering_server_pings_keeps_the_socket_open() {
    let srv = TestServer::start(idle_config());
    let mut c = srv.client();
    c.subscribe("kept");
    let started = Instant::now();
    let mut pings = 0;
    c.set_timeout(Duration::from_millis(200));
    while started.elapsed() < Duration::from_secs(5) {
        match c.ws.read() {
            Ok(tungstenite::Message::Text(t)) => {
                let m: Value = serde_json::from_str(&t).unwrap();
                assert_eq!(m["event"], "pusher:ping", "{m}");
                pings += 1;
                c.send(json!({"event": "pusher:pong", "data": {}}));
            }
            Ok(tungstenite::Message::Close(f)) => panic!("closed: {f:?}"),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("{e}"),
        }
    }
    c.set_timeout(WAIT);
    assert!(pings >= 1, "no server ping in 5 s");
    // Still subscribed and delivering.
    assert_eq!(srv.trigger("kept", "e", &json!(1)).status, 200);
    assert_eq!(c.recv_event("e")["channel"], "kept");
}

#[test]
fn a_chatty_client_is_never_pinged() {
    let mut cfg = idle_config();
    cfg.activity_timeout_secs = 2;
    let srv = TestServer::start(cfg);
    let mut c = srv.client();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        c.send(json!({"event": "pusher:ping", "data": {}}));
        let m = c.recv();
        assert_eq!(m["event"], "pusher:pong", "{m}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// A client that speaks every 300 ms is never silent for `activity_timeout` (1 s), so it
/// must never get a server ping.
#[test]
fn server_ping_waits_for_a_full_activity_timeout_of_silence() {
    let srv = TestServer::start(idle_config());
    let mut c = srv.client();
    let started = Instant::now();
    while started.elapsed() < Duration::from_secs(3) {
        c.send(json!({"event": "pusher:ping", "data": {}}));
        let m = c.recv();
        assert_eq!(
            m["event"], "pusher:pong",
            "pinged after < 300 ms of silence: {m}"
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

#[test]
fn malformed_messages_get_4300_and_the_socket_keeps_working() {
    let srv = TestServer::default();
    let mut c = srv.client();
    let cases = [
        "not json",
        "",
        "{",
        "[]",
        "42",
        "null",
        r#""pusher:ping""#,
        r#"{"data": {}}"#,
        r#"{"event": 42}"#,
        r#"{"event": null}"#,
        r#"{"event": "pusher:subscribe"}"#,
        r#"{"event": "pusher:subscribe", "data": null}"#,
        r#"{"event": "pusher:subscribe", "data": "news"}"#,
        r#"{"event": "pusher:subscribe", "data": {}}"#,
        r#"{"event": "pusher:subscribe", "data": {"channel": 5}}"#,
        r#"{"event": "pusher:unsubscribe"}"#,
        r#"{"event": "pusher:unsubscribe", "data": []}"#,
        r#"{"event": "pusher:signin"}"#,
        r#"{"event": "pusher:signin", "data": {"auth": "x"}}"#,
    ];
    for text in cases {
        c.send_text(text);
        let m = c.recv();
        assert_eq!(m["event"], "pusher:error", "{text:?}: {m}");
        assert_eq!(m["data"]["code"], 4300, "{text:?}: {m}");
        assert!(m["data"]["message"].is_string(), "{text:?}");
    }
    assert_alive(&srv, &mut c, "after-malformed");
}

#[test]
fn unknown_events_are_ignored() {
    let srv = TestServer::default();
    let mut c = srv.client();
    c.send(json!({"event": "pusher:whatever", "data": {}}));
    c.send(json!({"event": "something", "data": 1}));
    c.send(json!({"event": "pusher:pong", "data": {}}));
    c.expect_silence(Duration::from_millis(300));
    assert_alive(&srv, &mut c, "after-unknown");
}

#[test]
fn a_json_bomb_is_answered_not_crashed_on() {
    let srv = TestServer::default();
    let mut healthy = srv.client();
    healthy.subscribe("bomb-watch");
    let (mut ws, _) = RawWs::established(srv.addr);
    for bomb in [
        format!("{}{}", "[".repeat(100_000), "]".repeat(100_000)),
        "[".repeat(100_000),
        format!("{}{}", "{\"a\":".repeat(50_000), "}".repeat(50_000)),
        format!(
            r#"{{"event":"pusher:subscribe","data":{}1{}}}"#,
            "[".repeat(50_000),
            "]".repeat(50_000)
        ),
    ] {
        ws.send(&text_frame(&bomb)).unwrap();
        let m = ws.recv_json();
        assert_eq!(m["event"], "pusher:error", "{m}");
        assert_eq!(m["data"]["code"], 4300);
    }
    // The bomber's socket still works, and so does everyone else's.
    ws.subscribe("bomber");
    let r = srv.trigger("bomb-watch", "ok", &json!({}));
    assert_eq!(r.status, 200);
    assert_eq!(healthy.recv_event("ok")["channel"], "bomb-watch");
}

#[test]
fn many_channels_on_one_socket() {
    let srv = TestServer::default();
    let mut c = srv.client();
    for i in 0..50 {
        c.send(json!({"event": "pusher:subscribe", "data": {"channel": format!("multi-{i}")}}));
    }
    for i in 0..50 {
        let m = c.recv_event("pusher_internal:subscription_succeeded");
        assert_eq!(m["channel"], format!("multi-{i}"));
    }
    let r = srv.rest("GET", "/channels", &[("filter_by_prefix", "multi-")], "");
    assert_eq!(r.json()["channels"].as_object().unwrap().len(), 50);
}

#[test]
fn the_connection_quota_is_exact_under_concurrent_connects() {
    let mut cfg = config();
    app(&mut cfg).max_connections = 5;
    let srv = TestServer::start(cfg);
    let results: Vec<(Client, Value)> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..20)
            .map(|_| s.spawn(|| Client::connect_raw(srv.addr, "app-key")))
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let accepted = results
        .iter()
        .filter(|(_, m)| m["event"] == "pusher:connection_established")
        .count();
    assert_eq!(accepted, 5);
    for (_, m) in results
        .iter()
        .filter(|(_, m)| m["event"] != "pusher:connection_established")
    {
        assert_eq!(m["data"]["code"], 4100, "{m}");
    }
}

#[test]
fn a_connection_may_join_at_most_1000_channels() {
    let srv = TestServer::default();
    let (mut ws, _) = RawWs::established(srv.addr);
    let mut bytes = Vec::new();
    for i in 0..1001 {
        bytes.extend(text_frame(
            &json!({"event": "pusher:subscribe", "data": {"channel": format!("c{i}")}}).to_string(),
        ));
    }
    ws.send(&bytes).unwrap();
    for i in 0..1000 {
        let m = ws.recv_json();
        assert_eq!(
            m["event"], "pusher_internal:subscription_succeeded",
            "#{i}: {m}"
        );
    }
    let m = ws.recv_json();
    assert_eq!(m["event"], "pusher:subscription_error", "{m}");
    assert_eq!(m["channel"], "c1000");
    assert_eq!(m["data"]["type"], "LimitReached");
    assert_eq!(m["data"]["status"], 4009);
}

/// Half a frame, then nothing: the bytes count as activity, but the message never
/// completes; the server pings, gets no answer, and closes with 4201.
#[test]
fn a_half_sent_frame_then_silence_ends_in_4201() {
    let srv = TestServer::start(idle_config());
    let (mut ws, _) = RawWs::established(srv.addr);
    let f = text_frame(&json!({"event": "pusher:ping"}).to_string());
    ws.send(&f[..f.len() / 2]).unwrap();
    let (code, before) = ws.expect_close();
    assert_eq!(code, 4201);
    assert!(
        before.iter().any(|m| m["event"] == "pusher:ping"),
        "{before:?}"
    );
}

/// Channel kinds are anchored prefixes (docs/compat.md): these names are public channels.
#[test]
fn kind_prefixes_are_anchored() {
    let srv = TestServer::default();
    let mut c = srv.client();
    for ch in [
        "foo-private-bar",
        "foo-presence-x",
        "xprivate-y",
        "cache",
        "my-cache-x",
    ] {
        c.subscribe(ch);
        assert_eq!(srv.trigger(ch, "e", &json!(ch)).status, 200);
        let m = c.recv();
        assert_eq!(
            (m["event"].as_str(), m["channel"].as_str()),
            (Some("e"), Some(ch)),
            "{m}"
        );
    }
    // ...while a real private channel needs its signature.
    c.send(json!({"event": "pusher:subscribe", "data": {"channel": "private-x"}}));
    let m = c.recv();
    assert_eq!(m["event"], "pusher:subscription_error", "{m}");
    assert_eq!(m["data"]["status"], 401);
}
