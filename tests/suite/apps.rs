//! Several apps on one server: isolation of channels, presence, users and caches, credentials
//! that only work for their own app, and per-app limits.

use crate::private::kit::*;
use crate::util::*;
use serde_json::{json, Value};
use std::time::Duration;

const B_ID: &str = "app-b";
const B_KEY: &str = "key-b";
const B_SECRET: &str = "secret-b";

/// The default app (A) and app B, with B tweaked by `f`.
fn two_apps(f: impl FnOnce(&mut fanoutd::config::AppConfig)) -> TestServer {
    let mut cfg = config();
    let b = add_app(&mut cfg, B_ID, B_KEY, B_SECRET);
    f(b);
    TestServer::start(cfg)
}

fn rest_b(
    srv: &TestServer,
    method: &str,
    path: &str,
    query: &[(&str, &str)],
    body: &str,
) -> Response {
    rest_app(srv, B_ID, B_KEY, B_SECRET, method, path, query, body)
}

fn trigger_b(srv: &TestServer, channel: &str, event: &str, data: &Value) -> Response {
    let body = json!({"name": event, "channel": channel, "data": data.to_string()});
    rest_b(srv, "POST", "/events", &[], &body.to_string())
}

fn b_private_token(c: &Client, channel: &str) -> String {
    token(B_KEY, B_SECRET, &[&c.socket_id, ":", channel])
}

fn b_subscribe_presence(c: &mut Client, channel: &str, user: Value) -> Value {
    let cd = json!({"user_id": user, "user_info": null}).to_string();
    let a = token(B_KEY, B_SECRET, &[&c.socket_id, ":", channel, ":", &cd]);
    send_subscribe(c, channel, Some(&a), Some(&cd));
    let m = expect_next(c, "pusher_internal:subscription_succeeded", Some(channel));
    data_of(&m)["presence"].clone()
}

#[test]
fn publishes_never_cross_apps() {
    let srv = two_apps(|_| {});
    let mut a = spread(&srv, 4);
    let mut b = spread_key(&srv, B_KEY, 4);
    for c in a.iter_mut() {
        c.subscribe("shared");
        c.subscribe_private("private-shared");
        c.subscribe_presence("presence-shared", json!(c.socket_id), json!(null));
    }
    for c in b.iter_mut() {
        c.subscribe("shared");
        subscribe_private_with(c, B_KEY, B_SECRET, "private-shared");
        b_subscribe_presence(c, "presence-shared", json!(c.socket_id));
    }
    for ch in ["shared", "private-shared", "presence-shared"] {
        assert_eq!(srv.trigger(ch, "from-a", &json!({"app": "a"})).status, 200);
        assert_eq!(
            trigger_b(&srv, ch, "from-b", &json!({"app": "b"})).status,
            200
        );
    }
    // Markers on each app's own "shared" channel close the stream.
    marker(&srv, "shared");
    let r = trigger_b(&srv, "shared", "marker", &json!({}));
    assert_eq!(r.status, 200);
    for (clients, mine) in [(&mut a, "from-a"), (&mut b, "from-b")] {
        for c in clients.iter_mut() {
            let got: Vec<Value> = until_marker(c)
                .into_iter()
                .filter(|m| m["event"] != "pusher_internal:member_added")
                .collect();
            let channels: Vec<&Value> = got.iter().map(|m| &m["channel"]).collect();
            assert!(got.iter().all(|m| m["event"] == mine), "{mine}: {got:?}");
            assert_eq!(
                channels,
                ["shared", "private-shared", "presence-shared"],
                "{got:?}"
            );
        }
    }
}

#[test]
fn rest_credentials_only_work_for_their_own_app() {
    let srv = two_apps(|_| {});
    let body = json!({"name": "ev", "channel": "c", "data": "{}"}).to_string();
    let wrong = [
        ("app-id", B_KEY, B_SECRET),
        ("app-id", "app-key", B_SECRET),
        ("app-id", B_KEY, "app-secret"),
        (B_ID, "app-key", "app-secret"),
        (B_ID, B_KEY, "app-secret"),
    ];
    for (id, key, secret) in wrong {
        for (method, path, body) in [("POST", "/events", body.as_str()), ("GET", "/channels", "")] {
            let r = rest_app(&srv, id, key, secret, method, path, &[], body);
            assert_eq!(
                r.status, 401,
                "{id} signed by {key}/{secret}: {method} {path}: {}",
                r.body
            );
        }
    }
    for (id, key, secret) in [("app-id", "app-key", "app-secret"), (B_ID, B_KEY, B_SECRET)] {
        let r = rest_app(&srv, id, key, secret, "POST", "/events", &[], &body);
        assert_eq!(r.status, 200, "{id}: {}", r.body);
    }
}

#[test]
fn socket_tokens_only_work_for_their_own_app() {
    let srv = two_apps(|_| {});
    let (mut b, _) = pair_across_key(&srv, B_KEY);
    // Private: app A's credentials (key or secret) are refused on app B.
    for (key, secret) in [
        ("app-key", "app-secret"),
        (B_KEY, "app-secret"),
        ("app-key", B_SECRET),
    ] {
        let t = token(key, secret, &[&b.socket_id, ":", "private-b"]);
        send_subscribe(&mut b, "private-b", Some(&t), None);
        expect_auth_error(&mut b, "private-b");
    }
    let t = b_private_token(&b, "private-b");
    send_subscribe(&mut b, "private-b", Some(&t), None);
    expect_next(
        &mut b,
        "pusher_internal:subscription_succeeded",
        Some("private-b"),
    );
    // Presence: the same.
    let cd = json!({"user_id": 1}).to_string();
    let t = b.presence_auth("presence-b", &cd);
    send_subscribe(&mut b, "presence-b", Some(&t), Some(&cd));
    expect_auth_error(&mut b, "presence-b");
    // Sign-in with app A's secret: refused and closed.
    let ud = json!({"id": "x"}).to_string();
    let t = token(B_KEY, "app-secret", &[&b.socket_id, "::user::", &ud]);
    b.send(json!({"event": "pusher:signin", "data": {"user_data": ud, "auth": t}}));
    let d = expect_error(&mut b, 4009, None);
    assert_eq!(d["message"], "Connection not authorized.");
    expect_closed_with(&mut b, 4009);
    // A well-signed app B sign-in works.
    let mut b2 = Client::connect(srv.addr, B_KEY);
    let t = token(B_KEY, B_SECRET, &[&b2.socket_id, "::user::", &ud]);
    b2.send(json!({"event": "pusher:signin", "data": {"user_data": ud, "auth": t}}));
    expect_next(&mut b2, "pusher:signin_success", None);
}

#[test]
fn client_messages_follow_each_apps_setting() {
    let mut cfg = config();
    app(&mut cfg).enable_client_messages = true;
    let b = add_app(&mut cfg, B_ID, B_KEY, B_SECRET);
    b.enable_client_messages = false;
    let srv = TestServer::start(cfg);
    let (mut a1, mut a2) = pair_across(&srv);
    let (mut b1, mut b2) = pair_across_key(&srv, B_KEY);
    for c in [&mut a1, &mut a2] {
        c.subscribe_private("private-chat");
    }
    for c in [&mut b1, &mut b2] {
        subscribe_private_with(c, B_KEY, B_SECRET, "private-chat");
    }
    a1.send(json!({"event": "client-hi", "channel": "private-chat", "data": {"a": 1}}));
    b1.send(json!({"event": "client-hi", "channel": "private-chat", "data": {"b": 1}}));
    let m = expect_next(&mut a2, "client-hi", Some("private-chat"));
    assert_eq!(m["data"], json!({"a": 1}));
    let d = expect_error(&mut b1, 4301, Some("private-chat"));
    assert_eq!(
        d["message"],
        "The app does not have client messaging enabled."
    );
    assert!(sync(&mut a1).is_empty());
    let r = trigger_b(&srv, "private-chat", "marker", &json!({}));
    assert_eq!(r.status, 200);
    expect_only_marker(&mut b2);
}

#[test]
fn limits_are_per_app() {
    let srv = two_apps(|b| {
        b.max_presence_members_per_channel = 1;
        b.max_read_req_per_sec = 1;
        b.max_event_name_length = 10;
    });
    let (mut a1, mut a2) = pair_across(&srv);
    let (mut b1, mut b2) = pair_across_key(&srv, B_KEY);
    // Presence: B is full with one member, A is not.
    a1.subscribe_presence("presence-room", json!(1), json!(null));
    let p = a2.subscribe_presence("presence-room", json!(2), json!(null));
    assert_eq!(p["count"], 2);
    b_subscribe_presence(&mut b1, "presence-room", json!(1));
    let cd = json!({"user_id": 2}).to_string();
    let t = token(
        B_KEY,
        B_SECRET,
        &[&b2.socket_id, ":", "presence-room", ":", &cd],
    );
    send_subscribe(&mut b2, "presence-room", Some(&t), Some(&cd));
    let d = expect_sub_error(&mut b2, "presence-room");
    assert_eq!(d["status"], 4100, "{d}");
    // Event names: 11 characters are too long for B only.
    let name = "long-name11";
    assert_eq!(srv.trigger("c", name, &json!({})).status, 200);
    let r = trigger_b(&srv, "c", name, &json!({}));
    assert_eq!(r.status, 400, "{}", r.body);
    // Reads: B allows one per second, A is unlimited.
    let (a_codes, b_codes) = in_one_second(|| {
        let b: Vec<u16> = (0..2)
            .map(|_| rest_b(&srv, "GET", "/channels", &[], "").status)
            .collect();
        let a: Vec<u16> = (0..3)
            .map(|_| srv.rest("GET", "/channels", &[], "").status)
            .collect();
        (a, b)
    });
    assert_eq!(b_codes, [200, 429]);
    assert_eq!(a_codes, [200, 200, 200]);
}

#[test]
fn presence_users_and_caches_are_per_app() {
    let srv = two_apps(|_| {});
    let (mut a, _) = pair_across(&srv);
    let (mut b, _) = pair_across_key(&srv, B_KEY);
    a.subscribe_presence("presence-x", json!("alice"), json!(null));
    let p = b_subscribe_presence(&mut b, "presence-x", json!("bob"));
    assert_eq!(p["ids"], json!(["bob"]), "app B sees only its own members");
    let ua = get_json(&srv, "/channels/presence-x/users", &[]);
    assert_eq!(ua, json!({"users": [{"id": "alice"}]}));
    let ub = rest_b(&srv, "GET", "/channels/presence-x/users", &[], "");
    assert_eq!(ub.json(), json!({"users": [{"id": "bob"}]}));
    let lb = rest_b(&srv, "GET", "/channels", &[], "");
    assert_eq!(
        lb.json(),
        json!({"channels": {"presence-x": {"subscription_count": 1, "occupied": true}}})
    );

    // Caches: a publish on A fills A's cache only.
    assert_eq!(
        srv.trigger("cache-x", "cached", &json!({"app": "a"}))
            .status,
        200
    );
    send_subscribe(&mut b, "cache-x", None, None);
    expect_next(
        &mut b,
        "pusher_internal:subscription_succeeded",
        Some("cache-x"),
    );
    expect_next(&mut b, "pusher:cache_miss", Some("cache-x"));
    send_subscribe(&mut a, "cache-x", None, None);
    expect_next(
        &mut a,
        "pusher_internal:subscription_succeeded",
        Some("cache-x"),
    );
    let m = expect_next(&mut a, "cached", Some("cache-x"));
    assert_eq!(data_of(&m), json!({"app": "a"}));
}

#[test]
fn users_are_per_app() {
    let srv = two_apps(|_| {});
    let (mut a, mut a_other) = pair_across(&srv);
    let (mut b, _) = pair_across_key(&srv, B_KEY);
    let ud = json!({"id": "same"}).to_string();
    for (c, key, secret) in [(&mut a, "app-key", "app-secret"), (&mut b, B_KEY, B_SECRET)] {
        let t = token(key, secret, &[&c.socket_id, "::user::", &ud]);
        c.send(json!({"event": "pusher:signin", "data": {"user_data": ud, "auth": t}}));
        expect_next(c, "pusher:signin_success", None);
    }
    // Server-to-user on A reaches A's "same" only.
    assert_eq!(
        srv.trigger("#server-to-user-same", "to-a", &json!({}))
            .status,
        200
    );
    expect_next(&mut a, "to-a", Some("#server-to-user-same"));
    b.expect_silence(Duration::from_millis(150));
    // Terminating B's "same" leaves A's alone.
    let r = rest_b(&srv, "POST", "/users/same/terminate_connections", &[], "{}");
    assert_eq!(r.status, 200, "{}", r.body);
    let d = expect_error(&mut b, 4009, None);
    assert_eq!(d["message"], "You got disconnected by the app.");
    expect_closed_with(&mut b, 4009);
    assert!(sync(&mut a).is_empty());
    assert!(sync(&mut a_other).is_empty());
}

#[test]
fn connection_quotas_and_the_enabled_switch_are_per_app() {
    let mut cfg = config();
    add_app(&mut cfg, B_ID, B_KEY, B_SECRET);
    add_app(&mut cfg, "app-c", "key-c", "secret-c").enabled = false;
    app(&mut cfg).max_connections = 2;
    let srv = TestServer::start(cfg);
    let _a = [srv.client(), srv.client()];
    let (mut third, first) = Client::connect_raw(srv.addr, "app-key");
    assert_eq!(first["event"], "pusher:error", "{first}");
    assert_eq!(first["data"]["code"], 4100, "{first}");
    expect_closed_with(&mut third, 4100);
    // App B has no quota: plenty of sockets on both reactors.
    let bs = spread_key(&srv, B_KEY, 6);
    assert!(bs.len() >= 6);
    // App C is disabled; the others are not affected.
    let (mut c, first) = Client::connect_raw(srv.addr, "key-c");
    assert_eq!(first["event"], "pusher:error", "{first}");
    assert_eq!(first["data"]["code"], 4003, "{first}");
    expect_closed_with(&mut c, 4003);
    let mut b = Client::connect(srv.addr, B_KEY);
    assert!(sync(&mut b).is_empty());
}
