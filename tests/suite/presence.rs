//! Presence channels: the signature over channel_data, member lists, member_added /
//! member_removed across reactors, a user with several sockets, limits, invalid
//! channel_data, user id types, and a concurrent join/leave invariant.

use crate::private::kit::*;
use crate::util::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::sync::{Arc, Barrier, Mutex};
use std::time::{Duration, Instant};

/// The member set of a presence object, as raw JSON ids (so `1` and `"1"` differ).
fn ids_of(presence: &Value) -> BTreeSet<String> {
    presence["ids"]
        .as_array()
        .unwrap_or_else(|| panic!("no ids: {presence}"))
        .iter()
        .map(|v| v.to_string())
        .collect()
}

fn set(ids: &[Value]) -> BTreeSet<String> {
    ids.iter().map(|v| v.to_string()).collect()
}

/// `GET /channels/{ch}/users` ids as raw JSON.
fn rest_ids(srv: &TestServer, ch: &str) -> BTreeSet<String> {
    let v = get_json(srv, &format!("/channels/{ch}/users"), &[]);
    v["users"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|u| u["id"].to_string())
        .collect()
}

fn expect_member_added(c: &mut Client, ch: &str, user: &Value, info: &Value) {
    let m = expect_next(c, "pusher_internal:member_added", Some(ch));
    assert_eq!(
        data_of(&m),
        json!({"user_id": user, "user_info": info}),
        "{m}"
    );
}

fn expect_member_removed(c: &mut Client, ch: &str, user: &Value) {
    let m = expect_next(c, "pusher_internal:member_removed", Some(ch));
    assert_eq!(data_of(&m), json!({"user_id": user}), "{m}");
}

#[test]
fn joins_list_members_and_notify_the_others_across_reactors() {
    let srv = TestServer::default();
    let ch = "presence-lobby";
    let (mut a, mut b) = pair_across(&srv);
    let mut c = srv.client();

    let p = a.subscribe_presence(ch, json!(1), json!({"name": "Ann"}));
    assert_eq!(
        p,
        json!({"ids": [1], "hash": {"1": {"name": "Ann"}}, "count": 1})
    );

    let p = b.subscribe_presence(ch, json!("bob"), json!({"name": "Bob"}));
    assert_eq!(p["count"], 2, "{p}");
    assert_eq!(ids_of(&p), set(&[json!(1), json!("bob")]));
    assert_eq!(
        p["hash"],
        json!({"1": {"name": "Ann"}, "bob": {"name": "Bob"}})
    );
    expect_member_added(&mut a, ch, &json!("bob"), &json!({"name": "Bob"}));

    let p = c.subscribe_presence(ch, json!(3), json!(null));
    assert_eq!(p["count"], 3, "{p}");
    assert_eq!(p["hash"]["3"], Value::Null, "{p}");
    expect_member_added(&mut a, ch, &json!(3), &json!(null));
    expect_member_added(&mut b, ch, &json!(3), &json!(null));
    // The joiner hears nothing about itself.
    marker(&srv, ch);
    expect_only_marker(&mut c);
    expect_next(&mut a, "marker", None);
    expect_next(&mut b, "marker", None);

    // Leaving by unsubscribe: the others hear it, the leaver does not.
    b.send(json!({"event": "pusher:unsubscribe", "data": {"channel": ch}}));
    expect_member_removed(&mut a, ch, &json!("bob"));
    expect_member_removed(&mut c, ch, &json!("bob"));
    b.subscribe("probe");
    marker(&srv, "probe");
    expect_only_marker(&mut b);

    // Leaving by disconnect.
    drop(c);
    expect_member_removed(&mut a, ch, &json!(3));
    assert_eq!(rest_ids(&srv, ch), set(&[json!(1)]));
}

#[test]
fn the_signature_covers_channel_data() {
    let srv = TestServer::default();
    let (mut a, b) = pair_across(&srv);
    let ch = "presence-signed";
    let cd = json!({"user_id": 7, "user_info": {"role": "user"}}).to_string();
    let tampered = json!({"user_id": 7, "user_info": {"role": "admin"}}).to_string();
    let good = a.presence_auth(ch, &cd);
    let cases: Vec<(&str, Option<String>, String)> = vec![
        (
            "tampered channel_data",
            Some(good.clone()),
            tampered.clone(),
        ),
        (
            "other user id",
            Some(good.clone()),
            json!({"user_id": 8, "user_info": {"role": "user"}}).to_string(),
        ),
        (
            "same JSON, other spacing",
            Some(good.clone()),
            cd.replace(':', ": "),
        ),
        (
            "private-style signature",
            Some(a.private_auth(ch)),
            cd.clone(),
        ),
        (
            "signed for another socket",
            Some(b.presence_auth(ch, &cd)),
            cd.clone(),
        ),
        (
            "signed for another channel",
            Some(a.presence_auth("presence-other", &cd)),
            cd.clone(),
        ),
        (
            "wrong key prefix",
            Some(good.replacen("app-key", "app-kez", 1)),
            cd.clone(),
        ),
        ("missing auth", None, cd.clone()),
    ];
    for (what, auth, data) in cases {
        send_subscribe(&mut a, ch, auth.as_deref(), Some(&data));
        let d = expect_sub_error(&mut a, ch);
        assert_eq!(
            d,
            json!({"type": "AuthError", "error": "The connection is unauthorized.", "status": 401}),
            "{what}"
        );
    }
    assert!(rest_ids(&srv, ch).is_empty());
    // The genuine pair is accepted.
    send_subscribe(&mut a, ch, Some(&good), Some(&cd));
    let m = expect_next(&mut a, "pusher_internal:subscription_succeeded", Some(ch));
    assert_eq!(
        data_of(&m)["presence"]["hash"]["7"],
        json!({"role": "user"})
    );
}

#[test]
fn a_user_with_sockets_on_both_reactors_is_one_member() {
    let srv = TestServer::default();
    let ch = "presence-multi";
    let mut o0 = client_on(&srv, 0);
    let mut o1 = client_on(&srv, 1);
    let mut s0 = client_on(&srv, 0);
    let mut s1 = client_on(&srv, 1);
    o0.subscribe_presence(ch, json!("o0"), json!(null));
    o1.subscribe_presence(ch, json!("o1"), json!(null));
    expect_member_added(&mut o0, ch, &json!("o1"), &json!(null));

    let info = json!({"name": "Uma"});
    s0.subscribe_presence(ch, json!("u"), info.clone());
    for o in [&mut o0, &mut o1] {
        expect_member_added(o, ch, &json!("u"), &info);
    }
    // The second socket of the same user: no member_added anywhere; its list has the user.
    let p = s1.subscribe_presence(ch, json!("u"), info.clone());
    assert_eq!(p["count"], 3, "{p}");
    assert_eq!(ids_of(&p), set(&[json!("o0"), json!("o1"), json!("u")]));
    marker(&srv, ch);
    for c in [&mut o0, &mut o1, &mut s0, &mut s1] {
        expect_only_marker(c);
    }
    let v = get_json(&srv, &format!("/channels/{ch}"), &[]);
    assert_eq!(
        (v["subscription_count"].clone(), v["user_count"].clone()),
        (json!(4), json!(3)),
        "{v}"
    );

    // The first socket leaves: the user is still present, nobody hears anything.
    s0.send(json!({"event": "pusher:unsubscribe", "data": {"channel": ch}}));
    sync(&mut s0);
    marker(&srv, ch);
    for c in [&mut o0, &mut o1, &mut s1] {
        expect_only_marker(c);
    }
    assert_eq!(
        rest_ids(&srv, ch),
        set(&[json!("o0"), json!("o1"), json!("u")])
    );

    // The last socket goes: member_removed on both reactors.
    drop(s1);
    for o in [&mut o0, &mut o1] {
        expect_member_removed(o, ch, &json!("u"));
    }
    assert_eq!(rest_ids(&srv, ch), set(&[json!("o0"), json!("o1")]));
}

#[test]
fn a_full_channel_refuses_new_users_and_admits_present_ones() {
    let mut cfg = config();
    app(&mut cfg).max_presence_members_per_channel = 2;
    let srv = TestServer::start(cfg);
    let ch = "presence-small";
    let (mut a, mut a2) = pair_across(&srv);
    let mut b = srv.client();
    let mut c = srv.client();
    a.subscribe_presence(ch, json!(1), json!(null));
    b.subscribe_presence(ch, json!(2), json!(null));
    expect_member_added(&mut a, ch, &json!(2), &json!(null));

    send_presence(&mut c, ch, &json!(3), &json!(null));
    let d = expect_sub_error(&mut c, ch);
    assert_eq!(
        d,
        json!({"type": "LimitReached", "error": "The maximum members per presence channel limit was reached", "status": 4100})
    );
    // An already-present user is admitted (another socket, other reactor).
    let p = a2.subscribe_presence(ch, json!(1), json!(null));
    assert_eq!(p["count"], 2, "{p}");
    marker(&srv, ch);
    for x in [&mut a, &mut b, &mut a2] {
        expect_only_marker(x);
    }
    assert_eq!(rest_ids(&srv, ch), set(&[json!(1), json!(2)]));
    let v = get_json(&srv, &format!("/channels/{ch}"), &[]);
    assert_eq!(v["subscription_count"], 3, "{v}");

    // Room again once a user leaves.
    drop(b);
    expect_member_removed(&mut a, ch, &json!(2));
    let p = c.subscribe_presence(ch, json!(3), json!(null));
    assert_eq!(p["count"], 2, "{p}");
    expect_member_added(&mut a, ch, &json!(3), &json!(null));
}

#[test]
fn member_info_over_the_size_limit_is_refused() {
    let mut cfg = config();
    app(&mut cfg).max_presence_member_size_in_kb = 1.0;
    let srv = TestServer::start(cfg);
    let ch = "presence-big";
    let mut c = srv.client();
    // user_info of 1025 bytes: refused.
    let big = json!({"s": "x".repeat(1017)});
    assert_eq!(big.to_string().len(), 1025);
    send_presence(&mut c, ch, &json!(1), &big);
    let d = expect_sub_error(&mut c, ch);
    assert_eq!(
        d,
        json!({"type": "LimitReached", "error": "The maximum size for a channel member is 1 KB.", "status": 4301})
    );
    assert!(rest_ids(&srv, ch).is_empty());
    // Exactly 1 KB: admitted.
    let fits = json!({"s": "x".repeat(1016)});
    assert_eq!(fits.to_string().len(), 1024);
    let p = c.subscribe_presence(ch, json!(1), fits.clone());
    assert_eq!(p["hash"]["1"], fits);
}

#[test]
fn invalid_channel_data_is_a_server_error() {
    let srv = TestServer::default();
    let ch = "presence-invalid";
    let mut c = srv.client();
    let unsigned: [(&str, Option<&str>); 4] = [
        ("missing", None),
        ("not JSON", Some("user 1")),
        ("no user_id", Some("{}")),
        ("empty", Some("")),
    ];
    for (what, cd) in unsigned {
        // Signed correctly where there is something to sign, to reach the data check.
        let a = c.presence_auth(ch, cd.unwrap_or(""));
        send_subscribe(&mut c, ch, Some(&a), cd);
        let d = expect_sub_error(&mut c, ch);
        assert_eq!(
            (d["type"].clone(), d["status"].clone()),
            (json!("ServerError"), json!(4302)),
            "{what}: {d}"
        );
    }
    for user_id in [
        json!(null),
        json!(""),
        json!({"a": 1}),
        json!([1]),
        json!(true),
    ] {
        let cd = json!({"user_id": user_id, "user_info": {}}).to_string();
        let a = c.presence_auth(ch, &cd);
        send_subscribe(&mut c, ch, Some(&a), Some(&cd));
        let d = expect_sub_error(&mut c, ch);
        assert_eq!(
            (d["type"].clone(), d["status"].clone()),
            (json!("ServerError"), json!(4302)),
            "{cd}: {d}"
        );
    }
    assert!(rest_ids(&srv, ch).is_empty());
    let v = get_json(&srv, &format!("/channels/{ch}"), &[]);
    assert_eq!(v["subscription_count"], 0, "{v}");
    // Still a working socket.
    c.subscribe_presence(ch, json!("ok"), json!(null));
}

#[test]
fn user_ids_keep_their_json_type() {
    let srv = TestServer::default();
    let ch = "presence-types";
    let (mut a, mut b) = pair_across(&srv);
    let p = a.subscribe_presence(ch, json!(1), json!({"t": "number"}));
    assert_eq!(p["ids"], json!([1]));
    let p = b.subscribe_presence(ch, json!("1"), json!({"t": "string"}));
    // Two distinct members.
    assert_eq!(p["count"], 2, "{p}");
    assert_eq!(ids_of(&p), set(&[json!(1), json!("1")]));
    let m = expect_next(&mut a, "pusher_internal:member_added", Some(ch));
    let d = data_of(&m);
    assert!(d["user_id"].is_string(), "{m}");
    assert_eq!(d["user_id"], "1");
    let users = get_json(&srv, &format!("/channels/{ch}/users"), &[]);
    let mut ids: Vec<String> = users["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["id"].to_string())
        .collect();
    ids.sort();
    assert_eq!(ids, vec!["\"1\"".to_string(), "1".to_string()], "{users}");
    assert_eq!(
        get_json(&srv, &format!("/channels/{ch}"), &[])["user_count"],
        2
    );

    b.send(json!({"event": "pusher:unsubscribe", "data": {"channel": ch}}));
    let m = expect_next(&mut a, "pusher_internal:member_removed", Some(ch));
    assert_eq!(data_of(&m), json!({"user_id": "1"}), "{m}");
    assert_eq!(rest_ids(&srv, ch), set(&[json!(1)]));
}

#[test]
fn resubscribing_a_presence_channel_changes_nothing() {
    let srv = TestServer::default();
    let ch = "presence-again";
    let (mut a, mut b) = pair_across(&srv);
    a.subscribe_presence(ch, json!("a"), json!(null));
    b.subscribe_presence(ch, json!("b"), json!(null));
    expect_member_added(&mut a, ch, &json!("b"), &json!(null));
    let p = b.subscribe_presence(ch, json!("b"), json!(null));
    assert_eq!(ids_of(&p), set(&[json!("a"), json!("b")]));
    marker(&srv, ch);
    expect_only_marker(&mut a);
    expect_only_marker(&mut b);
    let v = get_json(&srv, &format!("/channels/{ch}"), &[]);
    assert_eq!(
        (v["subscription_count"].clone(), v["user_count"].clone()),
        (json!(2), json!(2)),
        "{v}"
    );
    // One unsubscribe is enough to leave.
    b.send(json!({"event": "pusher:unsubscribe", "data": {"channel": ch}}));
    expect_member_removed(&mut a, ch, &json!("b"));
}

// ------------------------------------------------------------------ the invariant under churn

/// What one client saw that contradicts its own view of the member list.
fn apply(view: &mut Option<BTreeSet<String>>, m: &Value, who: usize, errors: &mut Vec<String>) {
    let ev = m["event"].as_str().unwrap_or("");
    match ev {
        "pusher_internal:member_added" | "pusher_internal:member_removed" => {
            let id = data_of(m)["user_id"].to_string();
            let Some(v) = view.as_mut() else {
                errors.push(format!("client {who}: {ev} before any member list: {m}"));
                return;
            };
            if ev.ends_with("added") {
                if !v.insert(id.clone()) {
                    errors.push(format!(
                        "client {who}: member_added for {id}, already in {v:?}"
                    ));
                }
            } else if !v.remove(&id) {
                errors.push(format!(
                    "client {who}: member_removed for {id}, not in {v:?}"
                ));
            }
        }
        "pusher_internal:subscription_succeeded" => {
            let p = data_of(m)["presence"].clone();
            let ids = ids_of(&p);
            if p["count"] != ids.len() {
                errors.push(format!("client {who}: count does not match ids: {p}"));
            }
            *view = Some(ids);
        }
        _ => errors.push(format!("client {who}: unexpected {m}")),
    }
}

/// Reads messages until `until`, applying them; returns when a `subscription_succeeded`
/// arrives if `stop_at_succeeded`.
fn pump(
    c: &mut Client,
    until: Instant,
    stop_at_succeeded: bool,
    view: &mut Option<BTreeSet<String>>,
    who: usize,
    errors: &mut Vec<String>,
) -> bool {
    loop {
        let now = Instant::now();
        if now >= until {
            return false;
        }
        c.set_timeout((until - now).max(Duration::from_millis(1)));
        match c.ws.read() {
            Ok(tungstenite::Message::Text(t)) => {
                let m: Value = serde_json::from_str(&t).expect("JSON");
                let succeeded = m["event"] == "pusher_internal:subscription_succeeded";
                apply(view, &m, who, errors);
                if succeeded && stop_at_succeeded {
                    return true;
                }
            }
            Ok(tungstenite::Message::Close(f)) => panic!("client {who} closed: {f:?}"),
            Ok(_) => {}
            Err(tungstenite::Error::Io(e))
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) => {}
            Err(e) => panic!("client {who}: {e}"),
        }
    }
}

#[test]
fn concurrent_joins_and_leaves_never_contradict_a_members_view() {
    const ROUNDS: usize = 20;
    let srv = TestServer::default();
    let ch = "presence-churn";
    let clients = spread(&srv, 8);
    let n = clients.len();
    let barrier = Arc::new(Barrier::new(n));
    let all_errors = Arc::new(Mutex::new(Vec::<String>::new()));
    let finals = Arc::new(Mutex::new(Vec::<(usize, BTreeSet<String>)>::new()));
    // Four users, each with two sockets (mostly on different reactors), numbers and strings.
    let user_of = |i: usize| -> Value {
        let k = i % 4 + 1;
        if k % 2 == 0 {
            json!(k)
        } else {
            json!(format!("u{k}"))
        }
    };
    let expected: BTreeSet<String> = (0..n).map(|i| user_of(i).to_string()).collect();
    let srv = &srv;
    let rest_view = Arc::new(Mutex::new(BTreeSet::new()));
    std::thread::scope(|s| {
        for (i, mut c) in clients.into_iter().enumerate() {
            let barrier = barrier.clone();
            let all_errors = all_errors.clone();
            let finals = finals.clone();
            let rest_view = rest_view.clone();
            let user = user_of(i);
            s.spawn(move || {
                let mut errors = Vec::new();
                let mut view: Option<BTreeSet<String>> = None;
                barrier.wait();
                for round in 0..=ROUNDS {
                    send_presence(&mut c, ch, &user, &json!({"i": i}));
                    let got = pump(
                        &mut c,
                        Instant::now() + WAIT,
                        true,
                        &mut view,
                        i,
                        &mut errors,
                    );
                    assert!(
                        got,
                        "client {i}: no subscription_succeeded in round {round}"
                    );
                    if !view.as_ref().unwrap().contains(&user.to_string()) {
                        errors.push(format!("client {i}: own user missing from {view:?}"));
                    }
                    if round == ROUNDS {
                        break;
                    }
                    let stay = Duration::from_millis(((i * 7 + round * 13) % 25) as u64);
                    pump(
                        &mut c,
                        Instant::now() + stay,
                        false,
                        &mut view,
                        i,
                        &mut errors,
                    );
                    if (i + round) % 7 == 3 {
                        // Now and then leave by reconnecting instead of unsubscribing.
                        drop(c);
                        c = Client::connect(srv.addr, "app-key");
                        view = None;
                    } else {
                        c.send(json!({"event": "pusher:unsubscribe", "data": {"channel": ch}}));
                    }
                }
                // Everyone is in; let the last broadcasts land.
                barrier.wait();
                pump(
                    &mut c,
                    Instant::now() + Duration::from_millis(700),
                    false,
                    &mut view,
                    i,
                    &mut errors,
                );
                finals.lock().unwrap().push((i, view.clone().unwrap()));
                all_errors.lock().unwrap().extend(errors);
                // Every client is still connected: the server's own list must agree.
                if barrier.wait().is_leader() {
                    *rest_view.lock().unwrap() = rest_ids(srv, ch);
                }
                barrier.wait();
            });
        }
    });
    let errors = all_errors.lock().unwrap();
    assert!(
        errors.is_empty(),
        "{} contradictions:\n{}",
        errors.len(),
        errors.join("\n")
    );
    assert_eq!(
        *rest_view.lock().unwrap(),
        expected,
        "GET /users while all are in"
    );
    for (i, v) in finals.lock().unwrap().iter() {
        assert_eq!(v, &expected, "client {i}'s final view");
    }
    // And everybody is gone once they disconnect.
    assert!(eventually(Duration::from_secs(3), || rest_ids(srv, ch).is_empty()));
}

#[test]
fn one_socket_can_be_a_different_member_in_each_channel() {
    let srv = TestServer::default();
    let (mut s, mut o) = pair_across(&srv);
    o.subscribe_presence("presence-one", json!("o"), json!(null));
    o.subscribe_presence("presence-two", json!("o"), json!(null));
    s.subscribe_presence("presence-one", json!(1), json!({"c": 1}));
    s.subscribe_presence("presence-two", json!("two"), json!({"c": 2}));
    expect_member_added(&mut o, "presence-one", &json!(1), &json!({"c": 1}));
    expect_member_added(&mut o, "presence-two", &json!("two"), &json!({"c": 2}));
    s.send(json!({"event": "pusher:unsubscribe", "data": {"channel": "presence-one"}}));
    expect_member_removed(&mut o, "presence-one", &json!(1));
    assert_eq!(
        rest_ids(&srv, "presence-two"),
        set(&[json!("o"), json!("two")])
    );
    drop(s);
    expect_member_removed(&mut o, "presence-two", &json!("two"));
}

#[test]
fn equal_user_ids_spelled_differently_are_one_member() {
    let srv = TestServer::default();
    let ch = "presence-spelling";
    let (mut a, mut b) = pair_across(&srv);
    let mut c = srv.client();
    a.subscribe_presence(ch, json!("1"), json!(null));
    a.subscribe_presence("presence-num", json!(1), json!(null));
    // The same string with an escape, and the same number written as 1.0: as JSON values
    // (and for soketi, which parses channel_data) these are the same user.
    for (x, channel, cd) in [
        (&mut b, ch, r#"{"user_id":"\u0031","user_info":null}"#),
        (
            &mut c,
            "presence-num",
            r#"{"user_id":1.0,"user_info":null}"#,
        ),
    ] {
        let t = x.presence_auth(channel, cd);
        send_subscribe(x, channel, Some(&t), Some(cd));
        let m = expect_next(x, "pusher_internal:subscription_succeeded", Some(channel));
        let p = data_of(&m)["presence"].clone();
        assert_eq!(p["count"], 1, "{cd}: {p}");
    }
    marker(&srv, ch);
    expect_only_marker(&mut a);
}
