//! Private and private-encrypted channels: channel signatures, their failures, delivery across
//! reactors, and encrypted payloads relayed untouched.
//!
//! Also holds [`kit`], the helpers shared by the protocol suites (presence, cache, client
//! events, sign-in, REST reads, apps).

use crate::util::*;
use kit::*;
use serde_json::json;
use std::time::Duration;

/// Helpers for the protocol suites, on top of `tests/util`.
pub mod kit {
    use crate::util::*;
    use fanoutd::pusher::auth;
    use serde_json::{json, Value};
    use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
    use tungstenite::Message;

    /// The reactor a socket lives on: the low byte of the socket id's second integer.
    pub fn reactor_of(c: &Client) -> u8 {
        let low: u64 = c
            .socket_id
            .split_once('.')
            .and_then(|(_, b)| b.parse().ok())
            .unwrap_or_else(|| panic!("unexpected socket id {:?}", c.socket_id));
        (low & 0xff) as u8
    }

    /// `true` when both reactors (0 and 1) hold at least one of `cs`.
    pub fn on_both(cs: &[Client]) -> bool {
        cs.iter().any(|c| reactor_of(c) == 0) && cs.iter().any(|c| reactor_of(c) == 1)
    }

    /// At least `n` connected clients of app `key`, spread so that both reactors hold some.
    pub fn spread_key(srv: &TestServer, key: &str, n: usize) -> Vec<Client> {
        let mut v = Vec::new();
        for _ in 0..256 {
            if v.len() >= n && on_both(&v) {
                return v;
            }
            v.push(Client::connect(srv.addr, key));
        }
        panic!("the kernel never spread connections over both reactors");
    }

    /// At least `n` clients of the default app, on both reactors.
    pub fn spread(srv: &TestServer, n: usize) -> Vec<Client> {
        spread_key(srv, "app-key", n)
    }

    /// Two clients of app `key` on different reactors (the first on reactor 0).
    pub fn pair_across_key(srv: &TestServer, key: &str) -> (Client, Client) {
        let mut zero = None;
        let mut one = None;
        for _ in 0..256 {
            let c = Client::connect(srv.addr, key);
            match reactor_of(&c) {
                0 if zero.is_none() => zero = Some(c),
                1 if one.is_none() => one = Some(c),
                _ => {}
            }
            if let (Some(_), Some(_)) = (&zero, &one) {
                return (zero.take().unwrap(), one.take().unwrap());
            }
        }
        panic!("the kernel never spread connections over both reactors");
    }

    /// Two clients of the default app on different reactors.
    pub fn pair_across(srv: &TestServer) -> (Client, Client) {
        pair_across_key(srv, "app-key")
    }

    /// A client on the given reactor.
    pub fn client_on(srv: &TestServer, reactor: u8) -> Client {
        for _ in 0..256 {
            let c = srv.client();
            if reactor_of(&c) == reactor {
                return c;
            }
        }
        panic!("no connection landed on reactor {reactor}");
    }

    /// A socket token `<key>:<hmac>` over `parts`.
    pub fn token(key: &str, secret: &str, parts: &[&str]) -> String {
        let parts: Vec<&[u8]> = parts.iter().map(|p| p.as_bytes()).collect();
        auth::sign_socket_token(key, secret, &parts)
    }

    /// Sends `pusher:subscribe` with the given fields (absent when `None`).
    pub fn send_subscribe(
        c: &mut Client,
        channel: &str,
        auth: Option<&str>,
        channel_data: Option<&str>,
    ) {
        let mut data = json!({ "channel": channel });
        if let Some(a) = auth {
            data["auth"] = a.into();
        }
        if let Some(cd) = channel_data {
            data["channel_data"] = cd.into();
        }
        c.send(json!({"event": "pusher:subscribe", "data": data}));
    }

    /// Subscribes to a private channel of another app (`key`/`secret`).
    pub fn subscribe_private_with(c: &mut Client, key: &str, secret: &str, channel: &str) {
        let a = token(key, secret, &[&c.socket_id, ":", channel]);
        send_subscribe(c, channel, Some(&a), None);
        expect_next(c, "pusher_internal:subscription_succeeded", Some(channel));
    }

    /// The channel_data and token of a presence join.
    pub fn presence_token(
        c: &Client,
        channel: &str,
        user_id: &Value,
        info: &Value,
    ) -> (String, String) {
        let cd = json!({"user_id": user_id, "user_info": info}).to_string();
        let a = c.presence_auth(channel, &cd);
        (cd, a)
    }

    /// Sends a presence join without waiting.
    pub fn send_presence(c: &mut Client, channel: &str, user_id: &Value, info: &Value) {
        let (cd, a) = presence_token(c, channel, user_id, info);
        send_subscribe(c, channel, Some(&a), Some(&cd));
    }

    /// The next message, which must be `event` (on `channel` when given).
    pub fn expect_next(c: &mut Client, event: &str, channel: Option<&str>) -> Value {
        let m = c.recv();
        assert_eq!(m["event"], event, "expected {event}, got {m}");
        if let Some(ch) = channel {
            assert_eq!(m["channel"], ch, "{m}");
        }
        m
    }

    /// The next message, which must be a `pusher:subscription_error` for `channel`; returns
    /// its `data` object.
    pub fn expect_sub_error(c: &mut Client, channel: &str) -> Value {
        let m = expect_next(c, "pusher:subscription_error", Some(channel));
        assert!(m["data"].is_object(), "data must be an object: {m}");
        m["data"].clone()
    }

    /// Asserts the AuthError / 401 of a refused channel signature.
    pub fn expect_auth_error(c: &mut Client, channel: &str) {
        let d = expect_sub_error(c, channel);
        assert_eq!(
            d,
            json!({"type": "AuthError", "error": "The connection is unauthorized.", "status": 401}),
            "{channel}"
        );
    }

    /// The next message, which must be a `pusher:error`; returns `data` (`code`, `message`).
    pub fn expect_error(c: &mut Client, code: u16, channel: Option<&str>) -> Value {
        let m = expect_next(c, "pusher:error", None);
        assert_eq!(m["data"]["code"], code, "{m}");
        match channel {
            Some(ch) => assert_eq!(m["channel"], ch, "{m}"),
            None => assert!(m.get("channel").is_none(), "{m}"),
        }
        m["data"].clone()
    }

    /// The next text frame, verbatim.
    pub fn next_raw(c: &mut Client) -> String {
        loop {
            match c.ws.read().expect("a message before the timeout") {
                Message::Text(t) => return t.to_string(),
                Message::Close(f) => panic!("closed: {f:?}"),
                _ => continue,
            }
        }
    }

    /// Round trip `pusher:ping` → `pusher:pong`: once it returns, the server has handled
    /// everything `c` sent before. Returns the messages received before the pong.
    pub fn sync(c: &mut Client) -> Vec<Value> {
        c.send(json!({"event": "pusher:ping", "data": {}}));
        let mut before = Vec::new();
        let deadline = Instant::now() + WAIT;
        loop {
            assert!(Instant::now() < deadline, "no pusher:pong in time");
            let m = c.recv();
            if m["event"] == "pusher:pong" {
                return before;
            }
            before.push(m);
        }
    }

    /// Publishes a `marker` event on `channel` (REST, default app).
    pub fn marker(srv: &TestServer, channel: &str) {
        let r = srv.trigger(channel, "marker", &json!({"m": 1}));
        assert_eq!(r.status, 200, "{}", r.body);
    }

    /// Messages received before the `marker` event.
    pub fn until_marker(c: &mut Client) -> Vec<Value> {
        let mut before = Vec::new();
        let deadline = Instant::now() + WAIT;
        loop {
            assert!(Instant::now() < deadline, "no marker in time");
            let m = c.recv();
            if m["event"] == "marker" {
                return before;
            }
            before.push(m);
        }
    }

    /// Asserts that the next message of `c` is the marker (nothing came before it).
    pub fn expect_only_marker(c: &mut Client) {
        let before = until_marker(c);
        assert!(
            before.is_empty(),
            "unexpected messages before the marker: {before:?}"
        );
    }

    /// Parses a message's `data`, a JSON string holding JSON.
    pub fn data_of(m: &Value) -> Value {
        let s = m["data"]
            .as_str()
            .unwrap_or_else(|| panic!("data is not a string: {m}"));
        serde_json::from_str(s).unwrap_or_else(|e| panic!("data is not JSON ({e}): {m}"))
    }

    /// Polls `f` every 20 ms until it is true or `within` passes; returns the last result.
    pub fn eventually(within: Duration, mut f: impl FnMut() -> bool) -> bool {
        let deadline = Instant::now() + within;
        loop {
            if f() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Sleeps until just after the start of the next wall-clock second, so that a short burst
    /// of REST requests falls in one rate-limiter window.
    pub fn align_to_second() {
        let now = SystemTime::now().duration_since(UNIX_EPOCH).unwrap();
        let into = now.subsec_millis() as u64;
        std::thread::sleep(Duration::from_millis(1000 - into + 20));
    }

    /// Runs `burst` until it starts and ends in the same wall-clock second (at most 5 tries),
    /// returning its result.
    pub fn in_one_second<T>(mut burst: impl FnMut() -> T) -> T {
        for _ in 0..5 {
            align_to_second();
            let before = unix_now();
            let r = burst();
            if unix_now() == before {
                return r;
            }
        }
        panic!("could not fit the burst in one second");
    }

    /// A REST call for another app.
    #[allow(clippy::too_many_arguments)]
    pub fn rest_app(
        srv: &TestServer,
        id: &str,
        key: &str,
        secret: &str,
        method: &str,
        path: &str,
        query: &[(&str, &str)],
        body: &str,
    ) -> Response {
        rest(srv.addr, id, key, secret, method, path, query, body)
    }

    /// `GET /apps/app-id{path}` as JSON, asserting 200.
    pub fn get_json(srv: &TestServer, path: &str, query: &[(&str, &str)]) -> Value {
        let r = srv.rest("GET", path, query, "");
        assert_eq!(r.status, 200, "{path}: {}", r.body);
        r.json()
    }

    /// Reads until the server closes the socket, asserting the close code.
    pub fn expect_closed_with(c: &mut Client, code: u16) {
        assert_eq!(c.expect_close(), Some(code));
    }
}

#[test]
fn private_and_encrypted_subscriptions_succeed_with_empty_data() {
    let srv = TestServer::default();
    let mut cs = spread(&srv, 8);
    for (i, c) in cs.iter_mut().enumerate() {
        for ch in ["private-room", "private-encrypted-room"] {
            let a = c.private_auth(ch);
            send_subscribe(c, ch, Some(&a), None);
            let m = expect_next(c, "pusher_internal:subscription_succeeded", Some(ch));
            assert_eq!(m["data"], "{}", "client {i}: {m}");
        }
    }
    let info = get_json(&srv, "/channels/private-room", &[]);
    assert_eq!(info["subscription_count"], cs.len(), "{info}");
    assert_eq!(info["occupied"], true);
    assert!(info.get("user_count").is_none(), "{info}");
}

#[test]
fn bad_channel_signatures_are_refused_with_401() {
    let srv = TestServer::default();
    let (mut a, mut b) = pair_across(&srv);
    for ch in ["private-secret", "private-encrypted-secret"] {
        let good = a.private_auth(ch);
        let (key, hex) = good.split_once(':').unwrap();
        // Flip one hex digit.
        let mut flipped: Vec<char> = hex.chars().collect();
        flipped[10] = if flipped[10] == '0' { '1' } else { '0' };
        let flipped: String = flipped.into_iter().collect();
        let cases: Vec<(&str, Option<String>)> = vec![
            ("bad signature", Some(format!("{key}:{flipped}"))),
            ("missing auth", None),
            ("empty auth", Some(String::new())),
            ("signature only, no key", Some(hex.to_string())),
            ("signed for another socket", Some(b.private_auth(ch))),
            ("wrong key prefix", Some(format!("other-key:{hex}"))),
            ("key prefix of another case", Some(format!("APP-KEY:{hex}"))),
            (
                "wrong secret",
                Some(token("app-key", "not-the-secret", &[&a.socket_id, ":", ch])),
            ),
            (
                "token for another channel",
                Some(a.private_auth("private-other")),
            ),
            (
                "private token for the encrypted twin",
                Some(a.private_auth(&ch.replace("private-", "private-encrypted-"))),
            ),
            (
                "upper-case hex",
                Some(format!("{key}:{}", hex.to_uppercase())),
            ),
            ("trailing garbage", Some(format!("{good}0"))),
        ];
        for (what, auth) in cases {
            if auth.as_deref() == Some(good.as_str()) {
                continue; // "encrypted twin" of an encrypted name is itself
            }
            send_subscribe(&mut a, ch, auth.as_deref(), None);
            let d = expect_sub_error(&mut a, ch);
            assert_eq!(
                d,
                json!({"type": "AuthError", "error": "The connection is unauthorized.", "status": 401}),
                "{ch}: {what}"
            );
        }
        // The socket is still usable, and the valid token works.
        a.subscribe_private(ch);
    }
    // The other socket was not disturbed either.
    b.subscribe_private("private-secret");
}

#[test]
fn a_refused_subscription_subscribes_nothing() {
    let srv = TestServer::default();
    let (mut a, mut b) = pair_across(&srv);
    b.subscribe_private("private-x");
    send_subscribe(&mut a, "private-x", Some("app-key:0000"), None);
    expect_auth_error(&mut a, "private-x");
    // Only b is counted and only b receives.
    let info = get_json(&srv, "/channels/private-x", &[]);
    assert_eq!(info["subscription_count"], 1, "{info}");
    a.subscribe("probe");
    let r = srv.trigger("private-x", "ev", &json!({"n": 1}));
    assert_eq!(r.status, 200);
    assert_eq!(b.recv_event("ev")["channel"], "private-x");
    marker(&srv, "probe");
    expect_only_marker(&mut a);
}

#[test]
fn publishes_reach_private_subscribers_on_both_reactors() {
    let srv = TestServer::default();
    let mut cs = spread(&srv, 8);
    let (subs, others) = cs.split_at_mut(6);
    for c in subs.iter_mut() {
        c.subscribe_private("private-news");
        c.subscribe_private("private-encrypted-news");
    }
    for c in others.iter_mut() {
        c.subscribe("probe");
    }
    for ch in ["private-news", "private-encrypted-news"] {
        let r = srv.trigger(ch, "update", &json!({"v": ch}));
        assert_eq!(r.status, 200, "{}", r.body);
    }
    for c in subs.iter_mut() {
        for ch in ["private-news", "private-encrypted-news"] {
            let m = expect_next(c, "update", Some(ch));
            assert_eq!(data_of(&m), json!({"v": ch}));
        }
    }
    marker(&srv, "probe");
    for c in others.iter_mut() {
        expect_only_marker(c);
    }
}

#[test]
fn encrypted_payloads_are_relayed_byte_exact() {
    let srv = TestServer::default();
    let (mut a, mut b) = pair_across(&srv);
    let ch = "private-encrypted-vault";
    a.subscribe_private(ch);
    b.subscribe_private(ch);
    // Ciphertext as a JSON string holding JSON, with escapes a re-encoder would change
    // (`\/`, `\u002b`), and as a raw object.
    let payloads = [
        r#""{\"nonce\":\"q2Zk\/9Yv3oZ1xJ0rXb8Kc+h6pVJmFvQe\",\"ciphertext\":\"3q2+7w\u002b==\\u00e9\"}""#,
        r#"{"nonce" : "AAECAwQFBgcICQoLDA0ODxAREhMUFRYX", "ciphertext":"SGVsbG8s\/IHdvcmxkIQ==" }"#,
    ];
    for data in payloads {
        let body = format!(r#"{{"name":"secret-event","channel":"{ch}","data":{data}}}"#);
        let r = srv.rest("POST", "/events", &[], &body);
        assert_eq!(r.status, 200, "{}", r.body);
        let expected = format!(r#"{{"event":"secret-event","channel":"{ch}","data":{data}}}"#);
        for c in [&mut a, &mut b] {
            assert_eq!(next_raw(c), expected);
        }
    }
}

#[test]
fn channel_kinds_use_anchored_prefixes() {
    let srv = TestServer::default();
    let mut c = srv.client();
    // Names that merely contain a private/presence prefix are public channels.
    for ch in [
        "foo-private-bar",
        "foo-presence-bar",
        "xprivate-a",
        "Private-a",
        "public-private-encrypted-x",
    ] {
        send_subscribe(&mut c, ch, None, None);
        let m = expect_next(&mut c, "pusher_internal:subscription_succeeded", Some(ch));
        assert_eq!(m["data"], "{}");
    }
    // A real private- name needs a signature, even if the rest looks public.
    send_subscribe(&mut c, "private-public", None, None);
    expect_auth_error(&mut c, "private-public");
}

#[test]
fn a_bad_signature_is_reported_before_a_bad_name() {
    let srv = TestServer::default();
    let mut c = srv.client();
    let ch = "private-bad name";
    send_subscribe(&mut c, ch, Some("app-key:00"), None);
    expect_auth_error(&mut c, ch);
    // With a valid signature the name rule applies: 4009, no type.
    let a = c.private_auth(ch);
    send_subscribe(&mut c, ch, Some(&a), None);
    let d = expect_sub_error(&mut c, ch);
    assert_eq!(d["status"], 4009, "{d}");
    assert!(d.get("type").is_none(), "{d}");
}

#[test]
fn unsubscribing_a_private_channel_stops_delivery() {
    let srv = TestServer::default();
    let (mut a, mut b) = pair_across(&srv);
    for c in [&mut a, &mut b] {
        c.subscribe_private("private-feed");
        c.subscribe("probe");
    }
    a.send(json!({"event": "pusher:unsubscribe", "data": {"channel": "private-feed"}}));
    sync(&mut a);
    assert!(eventually(Duration::from_secs(2), || {
        get_json(&srv, "/channels/private-feed", &[])["subscription_count"] == 1
    }));
    let r = srv.trigger("private-feed", "ev", &json!({}));
    assert_eq!(r.status, 200);
    expect_next(&mut b, "ev", Some("private-feed"));
    marker(&srv, "probe");
    expect_only_marker(&mut a);
}

#[test]
fn resubscribing_a_private_channel_is_idempotent() {
    let srv = TestServer::default();
    let mut c = srv.client();
    c.subscribe_private("private-twice");
    c.subscribe_private("private-twice");
    let info = get_json(&srv, "/channels/private-twice", &[]);
    assert_eq!(info["subscription_count"], 1, "{info}");
    let r = srv.trigger("private-twice", "ev", &json!({}));
    assert_eq!(r.status, 200);
    expect_next(&mut c, "ev", Some("private-twice"));
    c.expect_silence(Duration::from_millis(200));
}
