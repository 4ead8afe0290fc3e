//! Client events (`client-*`): the app switch, private/presence only, subscribers only, never
//! echoed, `user_id` on presence channels, name / payload / rate limits, and delivery across
//! reactors.

use crate::private::kit::*;
use crate::util::*;
use serde_json::{json, Value};
use std::time::Duration;

fn enabled() -> fanoutd::config::Config {
    let mut cfg = config();
    app(&mut cfg).enable_client_messages = true;
    cfg
}

fn client_event(c: &mut Client, channel: &str, event: &str, data: Value) {
    c.send(json!({"event": event, "channel": channel, "data": data}));
}

#[test]
fn client_events_are_off_unless_the_app_enables_them() {
    let srv = TestServer::default();
    let (mut a, mut b) = pair_across(&srv);
    for c in [&mut a, &mut b] {
        c.subscribe_private("private-chat");
    }
    client_event(&mut a, "private-chat", "client-hi", json!({}));
    let d = expect_error(&mut a, 4301, Some("private-chat"));
    assert_eq!(
        d["message"],
        "The app does not have client messaging enabled."
    );
    marker(&srv, "private-chat");
    expect_only_marker(&mut b);
}

#[test]
fn client_events_reach_every_other_subscriber_on_both_reactors_but_not_the_sender() {
    let srv = TestServer::start(enabled());
    let mut cs = spread(&srv, 8);
    for c in cs.iter_mut() {
        c.subscribe_private("private-room");
    }
    let n = cs.len();
    let mut got: Vec<Vec<Value>> = vec![Vec::new(); n];
    // Every client sends once, from both reactors.
    for i in 0..n {
        client_event(&mut cs[i], "private-room", "client-msg", json!({"from": i}));
        got[i].extend(sync(&mut cs[i]));
    }
    marker(&srv, "private-room");
    for (i, c) in cs.iter_mut().enumerate() {
        let mut got = std::mem::take(&mut got[i]);
        got.extend(until_marker(c));
        let mut from: Vec<u64> = got
            .iter()
            .map(|m| {
                assert_eq!(m["event"], "client-msg", "{m}");
                assert_eq!(m["channel"], "private-room", "{m}");
                assert!(
                    m.get("user_id").is_none(),
                    "no user_id on private channels: {m}"
                );
                m["data"]["from"].as_u64().unwrap()
            })
            .collect();
        from.sort();
        let expected: Vec<u64> = (0..n as u64).filter(|&j| j != i as u64).collect();
        assert_eq!(from, expected, "client {i} (reactor {})", reactor_of(c));
    }
}

#[test]
fn data_is_relayed_verbatim() {
    let srv = TestServer::start(enabled());
    let (mut a, mut b) = pair_across(&srv);
    for c in [&mut a, &mut b] {
        c.subscribe_private("private-raw");
    }
    let sent = [
        r#"{"event":"client-x","channel":"private-raw","data":{"b" : 2, "a":[1,{"z":null}]}}"#,
        r#"{"event":"client-x","channel":"private-raw","data":"a string with \"quotes\" and \/ slash"}"#,
        r#"{"event":"client-x","channel":"private-raw","data":12.50}"#,
    ];
    for text in sent {
        a.send_text(text);
        let data = &text[text.find(r#""data":"#).unwrap() + 7..text.len() - 1];
        let expected = format!(r#"{{"event":"client-x","channel":"private-raw","data":{data}}}"#);
        assert_eq!(next_raw(&mut b), expected);
    }
}

#[test]
fn only_private_and_presence_channels_accept_client_events() {
    let srv = TestServer::start(enabled());
    let (mut a, mut b) = pair_across(&srv);
    for c in [&mut a, &mut b] {
        c.subscribe("public-room");
        c.subscribe("foo-private-bar");
        c.subscribe_private("private-encrypted-room");
    }
    for ch in ["public-room", "foo-private-bar", "private-encrypted-room"] {
        client_event(&mut a, ch, "client-x", json!({}));
        let d = expect_error(&mut a, 4301, Some(ch));
        assert!(
            d["message"]
                .as_str()
                .unwrap()
                .contains("private and presence"),
            "{d}"
        );
    }
    // No channel at all.
    a.send(json!({"event": "client-x", "data": {}}));
    expect_error(&mut a, 4301, Some(""));
    marker(&srv, "public-room");
    expect_only_marker(&mut b);
}

#[test]
fn events_from_non_subscribers_are_dropped_silently() {
    let srv = TestServer::start(enabled());
    let (mut a, mut b) = pair_across(&srv);
    let mut outsider = srv.client();
    a.subscribe_private("private-club");
    b.subscribe_private("private-club");
    a.subscribe_presence("presence-club", json!(1), json!(null));
    b.subscribe_presence("presence-club", json!(2), json!(null));
    expect_next(
        &mut a,
        "pusher_internal:member_added",
        Some("presence-club"),
    );
    for ch in ["private-club", "presence-club", "private-nobody-here"] {
        client_event(&mut outsider, ch, "client-intrude", json!({"x": 1}));
    }
    let got = sync(&mut outsider);
    assert!(got.is_empty(), "the sender hears nothing: {got:?}");
    // A socket that left is an outsider too.
    b.send(json!({"event": "pusher:unsubscribe", "data": {"channel": "private-club"}}));
    client_event(&mut b, "private-club", "client-late", json!({}));
    assert!(sync(&mut b).is_empty());
    for ch in ["private-club", "presence-club"] {
        marker(&srv, ch);
        expect_only_marker(&mut a);
    }
}

#[test]
fn presence_client_events_carry_the_senders_user_id() {
    let srv = TestServer::start(enabled());
    let (mut a, mut b) = pair_across(&srv);
    let mut c = srv.client();
    let ch = "presence-game";
    a.subscribe_presence(ch, json!(7), json!(null));
    b.subscribe_presence(ch, json!("seven"), json!(null));
    c.subscribe_presence(ch, json!("7"), json!(null));
    client_event(&mut a, ch, "client-move", json!({"to": "e4"}));
    client_event(&mut b, ch, "client-move", json!({"to": "e5"}));
    client_event(&mut c, ch, "client-move", json!({"to": "f4"}));
    let mut all = Vec::new();
    for x in [&mut a, &mut b, &mut c] {
        all.extend(sync(x));
    }
    marker(&srv, ch);
    for x in [&mut a, &mut b, &mut c] {
        all.extend(until_marker(x));
    }
    let mut seen = Vec::new();
    for m in all {
        if m["event"] == "client-move" {
            seen.push((m["data"]["to"].clone(), m["user_id"].clone()));
        }
    }
    seen.sort_by_key(|(to, uid)| format!("{to}{uid}"));
    // Each event reaches the two others, with the sender's id in its JSON type.
    assert_eq!(
        seen,
        vec![
            (json!("e4"), json!(7)),
            (json!("e4"), json!(7)),
            (json!("e5"), json!("seven")),
            (json!("e5"), json!("seven")),
            (json!("f4"), json!("7")),
            (json!("f4"), json!("7")),
        ]
    );
    // A presence member sending on a private channel carries no user_id there.
    a.subscribe_private("private-side");
    b.subscribe_private("private-side");
    client_event(&mut a, "private-side", "client-side", json!(1));
    let m = b.recv_event("client-side");
    assert!(m.get("user_id").is_none(), "{m}");
}

#[test]
fn event_names_longer_than_the_limit_are_refused() {
    let mut cfg = enabled();
    app(&mut cfg).max_event_name_length = 20;
    let srv = TestServer::start(cfg);
    let (mut a, mut b) = pair_across(&srv);
    for c in [&mut a, &mut b] {
        c.subscribe_private("private-names");
    }
    let ok = format!("client-{}", "n".repeat(13)); // 20 characters
    let long = format!("{ok}x");
    client_event(&mut a, "private-names", &long, json!({}));
    let d = expect_error(&mut a, 4301, Some("private-names"));
    assert_eq!(
        d["message"],
        "Event name is too long. Maximum allowed size is 20."
    );
    client_event(&mut a, "private-names", &ok, json!({}));
    assert!(sync(&mut a).is_empty());
    marker(&srv, "private-names");
    let got = until_marker(&mut b);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["event"], ok.as_str());
}

#[test]
fn payloads_larger_than_the_limit_are_refused() {
    let mut cfg = enabled();
    app(&mut cfg).max_event_payload_in_kb = 1.0;
    let srv = TestServer::start(cfg);
    let (mut a, mut b) = pair_across(&srv);
    for c in [&mut a, &mut b] {
        c.subscribe_private("private-sizes");
    }
    // A string is measured as its text, anything else as its JSON.
    let too_big = [json!("x".repeat(1025)), json!({"s": "x".repeat(1017)})];
    for data in too_big {
        client_event(&mut a, "private-sizes", "client-big", data);
        let d = expect_error(&mut a, 4301, Some("private-sizes"));
        assert_eq!(d["message"], "The event data should be less than 1 KB.");
    }
    let fits = [json!("x".repeat(1024)), json!({"s": "x".repeat(1016)})];
    for data in fits {
        client_event(&mut a, "private-sizes", "client-fits", data);
    }
    assert!(sync(&mut a).is_empty());
    marker(&srv, "private-sizes");
    let got = until_marker(&mut b);
    assert_eq!(got.len(), 2, "{got:?}");
    assert!(got.iter().all(|m| m["event"] == "client-fits"));
}

#[test]
fn the_third_client_event_in_a_second_is_rate_limited() {
    let mut cfg = enabled();
    app(&mut cfg).max_client_events_per_sec = 2;
    let srv = TestServer::start(cfg);
    let (mut a, mut b) = pair_across(&srv);
    for c in [&mut a, &mut b] {
        c.subscribe_private("private-rate");
    }
    b.subscribe("probe");
    // The server's window is its own second; retry if a burst straddled two.
    let mut outcome = Vec::new();
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(1100));
        for k in 0..3 {
            client_event(&mut a, "private-rate", "client-r", json!({"k": k}));
        }
        let errors = sync(&mut a);
        marker(&srv, "probe");
        let got = until_marker(&mut b);
        outcome = vec![got.len(), errors.len()];
        if errors.is_empty() && got.len() == 3 {
            continue; // crossed a second boundary
        }
        assert_eq!(got.len(), 2, "two delivered: {got:?}");
        assert_eq!(got[0]["data"], json!({"k": 0}));
        assert_eq!(got[1]["data"], json!({"k": 1}));
        assert_eq!(errors.len(), 1, "{errors:?}");
        let e = &errors[0];
        assert_eq!(e["event"], "pusher:error");
        assert_eq!(e["channel"], "private-rate");
        assert_eq!(
            e["data"],
            json!({"code": 4301, "message": "The rate limit for sending client events exceeded the quota."})
        );
        // The socket stays open and the budget comes back in the next second.
        std::thread::sleep(Duration::from_millis(1100));
        client_event(&mut a, "private-rate", "client-r", json!({"k": "again"}));
        assert!(sync(&mut a).is_empty());
        assert_eq!(b.recv_event("client-r")["data"], json!({"k": "again"}));
        return;
    }
    panic!("never saw a burst within one second: {outcome:?}");
}

#[test]
fn the_rate_limit_is_per_socket() {
    let mut cfg = enabled();
    app(&mut cfg).max_client_events_per_sec = 1;
    let srv = TestServer::start(cfg);
    let mut cs = spread(&srv, 4);
    for c in cs.iter_mut() {
        c.subscribe_private("private-each");
    }
    // Every socket may send its one event, wherever it lives.
    for c in cs.iter_mut() {
        client_event(c, "private-each", "client-one", json!(1));
        let errors = sync(c);
        assert!(
            errors.iter().all(|m| m["event"] != "pusher:error"),
            "{errors:?}"
        );
    }
}
