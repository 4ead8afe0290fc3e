//! Cache channels (`cache-`, `private-cache-`, `private-encrypted-cache-`, `presence-cache-`):
//! cache_miss for the first subscriber, replay of the last REST event afterwards, TTL, and
//! client events kept out of the cache.

use crate::private::kit::*;
use crate::util::*;
use serde_json::{json, Value};
use std::time::Duration;

const CACHE_CHANNELS: [&str; 4] = [
    "cache-room",
    "private-cache-room",
    "private-encrypted-cache-room",
    "presence-cache-room",
];

/// Sends the subscription `ch` needs (signed when it must be) and checks the
/// `subscription_succeeded` that must come first.
fn join(c: &mut Client, ch: &str, user: usize) {
    if ch.starts_with("presence-") {
        send_presence(c, ch, &json!(user), &json!(null));
    } else if ch.starts_with("private-") {
        let a = c.private_auth(ch);
        send_subscribe(c, ch, Some(&a), None);
    } else {
        send_subscribe(c, ch, None, None);
    }
    expect_next(c, "pusher_internal:subscription_succeeded", Some(ch));
}

fn expect_cache_miss(c: &mut Client, ch: &str) {
    let m = expect_next(c, "pusher:cache_miss", Some(ch));
    assert!(m.get("data").is_none(), "cache_miss carries no data: {m}");
}

/// Reads up to the next `event`, allowing only presence member_added before it.
fn recv_past_members(c: &mut Client, event: &str) -> Value {
    loop {
        let m = c.recv();
        if m["event"] == event {
            return m;
        }
        assert_eq!(
            m["event"], "pusher_internal:member_added",
            "waiting for {event}: {m}"
        );
    }
}

#[test]
fn first_subscriber_gets_a_miss_then_later_ones_get_the_last_event() {
    let srv = TestServer::default();
    // Early subscribers on both reactors: once both have the live event, every reactor has
    // delivered it (see `a_subscriber_racing_a_publish_gets_the_event_once` for the race).
    let (mut first0, mut first1) = pair_across(&srv);
    let mut late0 = client_on(&srv, 0);
    let mut late1 = client_on(&srv, 1);
    for (i, ch) in CACHE_CHANNELS.iter().enumerate() {
        join(&mut first0, ch, 1);
        expect_cache_miss(&mut first0, ch);
        join(&mut first1, ch, 2);
        expect_cache_miss(&mut first1, ch);

        let data = json!({"price": i, "name": ch});
        let r = srv.trigger(ch, "tick", &data);
        assert_eq!(r.status, 200, "{}", r.body);
        let live = recv_past_members(&mut first0, "tick");
        assert_eq!(data_of(&live), data);
        assert_eq!(recv_past_members(&mut first1, "tick"), live);

        // A new subscriber on each reactor: succeeded, then the cached event, no miss.
        for (c, user) in [(&mut late0, 3), (&mut late1, 4)] {
            join(c, ch, user);
            let m = expect_next(c, "tick", Some(ch));
            assert_eq!(m, live, "the replay is the event as published");
        }
        marker(&srv, ch);
        for c in [&mut first0, &mut first1, &mut late0, &mut late1] {
            let before = until_marker(c);
            // Presence joins produce member_added for the earlier members; nothing else.
            assert!(
                before
                    .iter()
                    .all(|m| m["event"] == "pusher_internal:member_added"),
                "{ch}: {before:?}"
            );
        }
    }
}

#[test]
fn a_subscriber_racing_a_publish_gets_the_event_once() {
    let srv = TestServer::default();
    let mut first = client_on(&srv, 0);
    let mut late: Vec<Client> = (0..4).map(|_| client_on(&srv, 1)).collect();
    for round in 0..60 {
        let ch = format!("cache-race-{round}");
        join(&mut first, &ch, 1);
        expect_cache_miss(&mut first, &ch);
        let r = srv.trigger(&ch, "tick", &json!({"round": round}));
        assert_eq!(r.status, 200, "{}", r.body);
        // The publish was accepted before these subscriptions: one copy each, the replay.
        for c in late.iter_mut() {
            send_subscribe(c, &ch, None, None);
        }
        for c in late.iter_mut() {
            expect_next(c, "pusher_internal:subscription_succeeded", Some(&ch));
            expect_next(c, "tick", Some(&ch));
        }
        marker(&srv, &ch);
        for c in late.iter_mut() {
            let extra = until_marker(c);
            assert!(extra.is_empty(), "round {round}: a second copy: {extra:?}");
        }
        until_marker(&mut first);
    }
}

#[test]
fn an_event_published_before_anyone_subscribed_is_replayed() {
    let srv = TestServer::default();
    let r = srv.trigger("cache-early", "news", &json!("hello"));
    assert_eq!(r.status, 200, "{}", r.body);
    let mut c = srv.client();
    join(&mut c, "cache-early", 1);
    let m = expect_next(&mut c, "news", Some("cache-early"));
    assert_eq!(m["data"], json!("hello").to_string());
    c.expect_silence(Duration::from_millis(150));
}

#[test]
fn the_last_event_wins_and_raw_data_is_kept() {
    let srv = TestServer::default();
    for n in 1..=3 {
        assert_eq!(
            srv.trigger("cache-last", "ev", &json!({"n": n})).status,
            200
        );
    }
    // A raw (non-string) data object is stored as it came.
    let body = r#"{"name":"raw","channel":"cache-raw","data":{"a" : [1, 2]}}"#;
    assert_eq!(srv.rest("POST", "/events", &[], body).status, 200);
    let mut c = srv.client();
    join(&mut c, "cache-last", 1);
    let m = expect_next(&mut c, "ev", Some("cache-last"));
    assert_eq!(data_of(&m), json!({"n": 3}));
    join(&mut c, "cache-raw", 1);
    assert_eq!(
        next_raw(&mut c),
        r#"{"event":"raw","channel":"cache-raw","data":{"a" : [1, 2]}}"#
    );
}

#[test]
fn multi_channel_and_batch_publishes_fill_each_cache() {
    let srv = TestServer::default();
    let body =
        json!({"name": "multi", "channels": ["cache-m1", "cache-m2", "plain-m3"], "data": "{}"});
    assert_eq!(
        srv.rest("POST", "/events", &[], &body.to_string()).status,
        200
    );
    let batch = json!({"batch": [
        {"name": "b1", "channel": "cache-b1", "data": "1"},
        {"name": "b2", "channel": "private-cache-b2", "data": "2"},
    ]});
    let r = srv.rest("POST", "/batch_events", &[], &batch.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    let mut c = srv.client();
    for (ch, ev) in [
        ("cache-m1", "multi"),
        ("cache-m2", "multi"),
        ("cache-b1", "b1"),
        ("private-cache-b2", "b2"),
    ] {
        join(&mut c, ch, 1);
        expect_next(&mut c, ev, Some(ch));
    }
    // Not a cache channel: no replay, no miss.
    join(&mut c, "plain-m3", 1);
    c.expect_silence(Duration::from_millis(150));
}

#[test]
fn ordinary_channels_send_no_cache_messages() {
    let srv = TestServer::default();
    let channels = ["room", "private-room", "a-cache-room", "cachex"];
    for ch in channels {
        assert_eq!(srv.trigger(ch, "ev", &json!(1)).status, 200);
    }
    // Connected after the publishes, so none of them can still be on its way.
    let mut c = srv.client();
    for ch in channels {
        join(&mut c, ch, 1);
    }
    c.expect_silence(Duration::from_millis(200));
}

#[test]
fn cached_events_expire_after_the_ttl() {
    let mut cfg = config();
    cfg.channel_cache_ttl_secs = 1;
    let srv = TestServer::start(cfg);
    assert_eq!(srv.trigger("cache-ttl", "ev", &json!({"v": 1})).status, 200);
    let mut c = srv.client();
    join(&mut c, "cache-ttl", 1);
    expect_next(&mut c, "ev", Some("cache-ttl"));
    std::thread::sleep(Duration::from_millis(2100));
    let mut late = srv.client();
    join(&mut late, "cache-ttl", 2);
    expect_cache_miss(&mut late, "cache-ttl");
    // A fresh publish fills it again.
    assert_eq!(
        srv.trigger("cache-ttl", "ev2", &json!({"v": 2})).status,
        200
    );
    expect_next(&mut late, "ev2", Some("cache-ttl"));
    let mut later = srv.client();
    join(&mut later, "cache-ttl", 3);
    expect_next(&mut later, "ev2", Some("cache-ttl"));
}

#[test]
fn client_events_are_not_cached() {
    let mut cfg = config();
    app(&mut cfg).enable_client_messages = true;
    let srv = TestServer::start(cfg);
    let (mut a, mut b) = pair_across(&srv);
    for ch in ["private-cache-chat", "presence-cache-chat"] {
        join(&mut a, ch, 1);
        expect_cache_miss(&mut a, ch);
        join(&mut b, ch, 2);
        expect_cache_miss(&mut b, ch);
        if ch.starts_with("presence-") {
            expect_next(&mut a, "pusher_internal:member_added", Some(ch));
        }
        a.send(json!({"event": "client-typing", "channel": ch, "data": {"x": 1}}));
        let m = expect_next(&mut b, "client-typing", Some(ch));
        assert_eq!(m["data"], json!({"x": 1}));
        let mut c = srv.client();
        join(&mut c, ch, 3);
        expect_cache_miss(&mut c, ch);
        // After a REST publish, the REST event is the one kept, whatever clients send.
        assert_eq!(srv.trigger(ch, "server-ev", &json!({"s": 1})).status, 200);
        a.recv_event("server-ev");
        b.recv_event("server-ev");
        a.send(json!({"event": "client-after", "channel": ch, "data": {"x": 2}}));
        b.recv_event("client-after");
        let mut d = srv.client();
        join(&mut d, ch, 4);
        let m = expect_next(&mut d, "server-ev", Some(ch));
        assert_eq!(data_of(&m), json!({"s": 1}));
    }
}

#[test]
fn caches_are_per_channel_name() {
    let srv = TestServer::default();
    assert_eq!(
        srv.trigger("cache-a", "ev", &json!({"ch": "a"})).status,
        200
    );
    let mut c = srv.client();
    join(&mut c, "cache-b", 1);
    expect_cache_miss(&mut c, "cache-b");
    join(&mut c, "private-cache-a", 1);
    expect_cache_miss(&mut c, "private-cache-a");
    join(&mut c, "cache-a", 1);
    let m: Value = expect_next(&mut c, "ev", Some("cache-a"));
    assert_eq!(data_of(&m), json!({"ch": "a"}));
}
