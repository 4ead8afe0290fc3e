//! The REST read endpoints (`/channels`, `/channels/{name}`, `/channels/{name}/users`) with
//! sockets on both reactors, and the read / backend-event rate limits.

use crate::private::kit::*;
use crate::util::*;
use serde_json::{json, Value};
use std::time::Duration;

fn channel(srv: &TestServer, name: &str) -> Value {
    get_json(srv, &format!("/channels/{name}"), &[])
}

fn users(srv: &TestServer, name: &str, query: &[(&str, &str)]) -> Value {
    get_json(srv, &format!("/channels/{name}/users"), query)
}

/// Polls `GET path` until it equals `expected` (closes are processed asynchronously).
fn eventually_equals(srv: &TestServer, path: &str, query: &[(&str, &str)], expected: &Value) {
    let mut last = Value::Null;
    let ok = eventually(Duration::from_secs(3), || {
        last = get_json(srv, path, query);
        &last == expected
    });
    assert!(ok, "{path}: expected {expected}, last {last}");
}

#[test]
fn presence_channel_counts_are_exact_across_reactors() {
    let srv = TestServer::default();
    let ch = "presence-count";
    let mut cs = spread(&srv, 8);
    let n = cs.len();
    // Users 1..=5; with 8+ sockets some users have two sockets (often on two reactors).
    for (i, c) in cs.iter_mut().enumerate() {
        c.subscribe_presence(ch, json!(i % 5 + 1), json!({"i": i % 5 + 1}));
    }
    let users_now = n.min(5);
    assert_eq!(
        channel(&srv, ch),
        json!({"subscription_count": n, "occupied": true, "user_count": users_now})
    );
    // Disconnect sockets one by one: the counts follow, whichever reactor each was on.
    let mut remaining: Vec<(usize, Client)> = cs.into_iter().enumerate().collect();
    while remaining.len() > 3 {
        remaining.pop();
        let left = remaining.len();
        let distinct: std::collections::BTreeSet<usize> =
            remaining.iter().map(|(i, _)| i % 5).collect();
        eventually_equals(
            &srv,
            &format!("/channels/{ch}"),
            &[],
            &json!({"subscription_count": left, "occupied": true, "user_count": distinct.len()}),
        );
    }
    drop(remaining);
    eventually_equals(
        &srv,
        &format!("/channels/{ch}"),
        &[],
        &json!({"subscription_count": 0, "occupied": false, "user_count": 0}),
    );
}

#[test]
fn other_channels_report_subscriptions_without_user_count() {
    let srv = TestServer::default();
    let mut cs = spread(&srv, 6);
    for c in cs.iter_mut() {
        c.subscribe("public-count");
        c.subscribe_private("private-count");
    }
    let n = cs.len();
    for ch in ["public-count", "private-count"] {
        assert_eq!(
            channel(&srv, ch),
            json!({"subscription_count": n, "occupied": true})
        );
    }
    assert_eq!(
        channel(&srv, "never-used"),
        json!({"subscription_count": 0, "occupied": false})
    );
    assert_eq!(
        channel(&srv, "presence-never-used"),
        json!({"subscription_count": 0, "occupied": false, "user_count": 0})
    );
    cs[0].send(json!({"event": "pusher:unsubscribe", "data": {"channel": "public-count"}}));
    sync(&mut cs[0]);
    assert_eq!(channel(&srv, "public-count")["subscription_count"], n - 1);
    drop(cs);
    for ch in ["public-count", "private-count"] {
        eventually_equals(
            &srv,
            &format!("/channels/{ch}"),
            &[],
            &json!({"subscription_count": 0, "occupied": false}),
        );
    }
}

#[test]
fn channel_list_filters_by_prefix_and_reports_user_count() {
    let srv = TestServer::default();
    let (mut a, mut b) = pair_across(&srv);
    let mut c = srv.client();
    a.subscribe_presence("presence-a", json!(1), json!(null));
    b.subscribe_presence("presence-a", json!(1), json!(null));
    c.subscribe_presence("presence-a", json!("2"), json!(null));
    b.subscribe_presence("presence-b", json!(3), json!(null));
    a.subscribe_private("private-x");
    c.subscribe_private("private-x");
    b.subscribe("public-y");

    let v = get_json(
        &srv,
        "/channels",
        &[("filter_by_prefix", "presence-"), ("info", "user_count")],
    );
    assert_eq!(
        v,
        json!({"channels": {
            "presence-a": {"subscription_count": 3, "occupied": true, "user_count": 2},
            "presence-b": {"subscription_count": 1, "occupied": true, "user_count": 1},
        }})
    );
    let v = get_json(&srv, "/channels", &[]);
    let names: Vec<&String> = v["channels"].as_object().unwrap().keys().collect();
    assert_eq!(
        names,
        ["presence-a", "presence-b", "private-x", "public-y"],
        "{v}"
    );
    assert!(
        v["channels"]["presence-a"].get("user_count").is_none(),
        "{v}"
    );
    assert_eq!(v["channels"]["private-x"]["subscription_count"], 2);
    let v = get_json(&srv, "/channels", &[("filter_by_prefix", "private-")]);
    assert_eq!(
        v,
        json!({"channels": {"private-x": {"subscription_count": 2, "occupied": true}}})
    );
    let v = get_json(&srv, "/channels", &[("filter_by_prefix", "nothing-")]);
    assert_eq!(v, json!({"channels": {}}));
    // user_count needs the presence- filter (Pusher's rule).
    let r = srv.rest("GET", "/channels", &[("info", "user_count")], "");
    assert_eq!(r.status, 400, "{}", r.body);

    drop(a);
    eventually_equals(
        &srv,
        "/channels",
        &[("filter_by_prefix", "presence-"), ("info", "user_count")],
        &json!({"channels": {
            "presence-a": {"subscription_count": 2, "occupied": true, "user_count": 2},
            "presence-b": {"subscription_count": 1, "occupied": true, "user_count": 1},
        }}),
    );
    drop(b);
    drop(c);
    eventually_equals(&srv, "/channels", &[], &json!({"channels": {}}));
}

#[test]
fn users_lists_ids_and_optionally_user_info() {
    let srv = TestServer::default();
    let ch = "presence-users";
    let (mut a, mut b) = pair_across(&srv);
    let mut a2 = srv.client();
    a.subscribe_presence(ch, json!(10), json!({"name": "Ten"}));
    a2.subscribe_presence(ch, json!(10), json!({"name": "Ten"}));
    b.subscribe_presence(ch, json!("ten"), json!({"name": "ten", "tags": [1, 2]}));

    let sorted = |v: Value| -> Vec<Value> {
        let mut list = v["users"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .clone();
        list.sort_by_key(|u| u["id"].to_string());
        list
    };
    assert_eq!(
        sorted(users(&srv, ch, &[])),
        vec![json!({"id": "ten"}), json!({"id": 10})]
    );
    assert_eq!(
        sorted(users(&srv, ch, &[("with_user_info", "1")])),
        vec![
            json!({"id": "ten", "user_info": {"name": "ten", "tags": [1, 2]}}),
            json!({"id": 10, "user_info": {"name": "Ten"}}),
        ]
    );
    // Only exactly "1" turns user_info on.
    for other in ["0", "true"] {
        let v = users(&srv, ch, &[("with_user_info", other)]);
        assert!(v["users"][0].get("user_info").is_none(), "{other}: {v}");
    }
    for name in ["private-users", "users", "presence"] {
        let r = srv.rest("GET", &format!("/channels/{name}/users"), &[], "");
        assert_eq!(r.status, 400, "{name}: {}", r.body);
        assert_eq!(
            r.json(),
            json!({"error": "The channel must be a presence channel.", "code": 400})
        );
    }
    assert_eq!(users(&srv, "presence-empty", &[]), json!({"users": []}));

    // One socket of user 10 leaves: still listed; the last one: gone.
    drop(a);
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(sorted(users(&srv, ch, &[])).len(), 2);
    drop(a2);
    eventually_equals(
        &srv,
        &format!("/channels/{ch}/users"),
        &[],
        &json!({"users": [{"id": "ten"}]}),
    );
    drop(b);
    eventually_equals(
        &srv,
        &format!("/channels/{ch}/users"),
        &[],
        &json!({"users": []}),
    );
}

#[test]
fn the_third_read_in_a_second_is_rate_limited() {
    let mut cfg = config();
    app(&mut cfg).max_read_req_per_sec = 2;
    let srv = TestServer::start(cfg);
    let statuses = in_one_second(|| {
        vec![
            srv.rest("GET", "/channels", &[], ""),
            // Publishing does not use the read budget.
            srv.trigger("x", "ev", &json!({})),
            srv.rest("GET", "/channels/presence-x", &[], ""),
            srv.rest("GET", "/channels/presence-x/users", &[], ""),
        ]
    });
    let codes: Vec<u16> = statuses.iter().map(|r| r.status).collect();
    assert_eq!(codes, [200, 200, 200, 429], "{statuses:?}");
    assert_eq!(
        statuses[3].json(),
        json!({"error": "Too many requests.", "code": 429})
    );
    // A new second, a new budget.
    let codes: Vec<u16> = in_one_second(|| {
        (0..3)
            .map(|_| srv.rest("GET", "/channels/presence-x", &[], "").status)
            .collect()
    });
    assert_eq!(codes, [200, 200, 429]);
}

#[test]
fn backend_events_are_rate_limited_by_channel_count() {
    let mut cfg = config();
    app(&mut cfg).max_backend_events_per_sec = 2;
    let srv = TestServer::start(cfg);
    let mut c = srv.client();
    c.subscribe("r1");
    // Three channels at once: over the budget of 2 whatever the second.
    let body = json!({"name": "ev", "channels": ["r1", "r2", "r3"], "data": "{}"}).to_string();
    let r = srv.rest("POST", "/events", &[], &body);
    assert_eq!(r.status, 429, "{}", r.body);
    assert_eq!(
        r.json(),
        json!({"error": "Too many requests.", "code": 429})
    );
    let batch = json!({"batch": [
        {"name": "b", "channel": "r1", "data": "1"},
        {"name": "b", "channel": "r2", "data": "2"},
        {"name": "b", "channel": "r3", "data": "3"},
    ]})
    .to_string();
    let r = srv.rest("POST", "/batch_events", &[], &batch);
    assert_eq!(r.status, 429, "{}", r.body);
    // Nothing of the refused publishes was delivered.
    c.expect_silence(Duration::from_millis(150));
    // Within one second: two single-channel publishes pass, the third does not; reads are
    // not counted.
    let codes: Vec<u16> = in_one_second(|| {
        vec![
            srv.trigger("r1", "one", &json!({})).status,
            srv.rest("GET", "/channels", &[], "").status,
            srv.trigger("r1", "two", &json!({})).status,
            srv.trigger("r1", "three", &json!({})).status,
        ]
    });
    assert_eq!(codes, [200, 200, 200, 429]);
    expect_next(&mut c, "one", Some("r1"));
    expect_next(&mut c, "two", Some("r1"));
    c.expect_silence(Duration::from_millis(150));
    // Two channels at once fit the budget.
    let body = json!({"name": "pair", "channels": ["r1", "r2"], "data": "{}"}).to_string();
    let r = in_one_second(|| srv.rest("POST", "/events", &[], &body));
    assert_eq!(r.status, 200, "{}", r.body);
    expect_next(&mut c, "pair", Some("r1"));
}

#[test]
fn channel_names_with_punctuation_can_be_read_raw_or_percent_encoded() {
    let srv = TestServer::default();
    let ch = "presence-a@b,c;d=e.f_g";
    let mut c = srv.client();
    c.subscribe_presence(ch, json!("u"), json!(null));
    let expected = json!({"subscription_count": 1, "occupied": true, "user_count": 1});
    assert_eq!(channel(&srv, ch), expected);
    assert_eq!(channel(&srv, "presence-a%40b%2Cc%3Bd%3De.f_g"), expected);
    assert_eq!(
        users(&srv, "presence-a%40b%2Cc%3Bd%3De.f_g", &[]),
        json!({"users": [{"id": "u"}]})
    );
}

/// soketi's rate-limit headers on requests that pass a limit: `Retry-After` (fractional
/// seconds until the window ends), `X-RateLimit-Limit`, `X-RateLimit-Remaining`; a 429 carries
/// `Retry-After` in whole seconds (fanoutd's addition) and no `X-RateLimit-*`; no limit, no
/// headers (docs/compat.md, "Rate-limit headers").
#[test]
fn rate_limit_headers_on_passing_requests_and_retry_after_on_429() {
    let mut cfg = config();
    app(&mut cfg).max_read_req_per_sec = 2;
    app(&mut cfg).max_backend_events_per_sec = 3;
    let srv = TestServer::start(cfg);
    let retry = |r: &Response| -> f64 {
        let v = r
            .header("Retry-After")
            .expect("Retry-After")
            .parse()
            .unwrap();
        assert!(v > 0.0 && v <= 1.0, "{v}");
        v
    };
    let reads = in_one_second(|| {
        (0..3)
            .map(|_| srv.rest("GET", "/channels", &[], ""))
            .collect::<Vec<_>>()
    });
    for (r, remaining) in reads[..2].iter().zip(["1", "0"]) {
        assert_eq!(r.status, 200, "{r:?}");
        assert_eq!(r.header("X-RateLimit-Limit"), Some("2"));
        assert_eq!(r.header("X-RateLimit-Remaining"), Some(remaining));
        retry(r);
    }
    let refused = &reads[2];
    assert_eq!(refused.status, 429);
    assert_eq!(refused.header("Retry-After"), Some("1"));
    assert_eq!(refused.header("X-RateLimit-Limit"), None);
    assert_eq!(refused.header("X-RateLimit-Remaining"), None);

    // Publishing: points = channels. A request that passes the limit and then fails
    // validation keeps the headers, as in soketi (they are written before validation).
    let two = json!({"name": "ev", "channels": ["a", "b"], "data": "{}"}).to_string();
    let bad = json!({"name": "ev", "channel": "a", "data": ""}).to_string();
    let (ok, invalid, over) = in_one_second(|| {
        (
            srv.rest("POST", "/events", &[], &two),
            srv.rest("POST", "/events", &[], &bad),
            srv.trigger("a", "ev", &json!({})),
        )
    });
    assert_eq!(ok.status, 200, "{ok:?}");
    assert_eq!(ok.header("X-RateLimit-Limit"), Some("3"));
    assert_eq!(ok.header("X-RateLimit-Remaining"), Some("1"));
    retry(&ok);
    assert_eq!(invalid.status, 400, "{invalid:?}");
    assert_eq!(invalid.header("X-RateLimit-Remaining"), Some("0"));
    assert_eq!(over.status, 429);
    assert_eq!(over.header("Retry-After"), Some("1"));

    // No limit (-1, the default): no headers at all.
    let srv = TestServer::start(config());
    let r = srv.rest("GET", "/channels", &[], "");
    assert_eq!(r.status, 200);
    for name in ["Retry-After", "X-RateLimit-Limit", "X-RateLimit-Remaining"] {
        assert_eq!(r.header(name), None, "{name}");
    }
    let r = srv.trigger("a", "ev", &json!({}));
    assert_eq!(r.header("X-RateLimit-Limit"), None);
}
