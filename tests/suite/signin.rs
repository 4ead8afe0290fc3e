//! User authentication: `pusher:signin`, the user-authentication timeout, server-to-user
//! events and `terminate_connections`.

use crate::private::kit::*;
use crate::util::*;
use serde_json::{json, Value};
use std::time::{Duration, Instant};

fn signin_token(c: &Client, user_data: &str) -> String {
    token(
        "app-key",
        "app-secret",
        &[&c.socket_id, "::user::", user_data],
    )
}

fn send_signin(c: &mut Client, user_data: &str, auth: &str) -> Value {
    let data = json!({"user_data": user_data, "auth": auth});
    c.send(json!({"event": "pusher:signin", "data": data}));
    data
}

/// Signs in as `user_data` and checks the echo.
fn signin(c: &mut Client, user_data: &Value) {
    let ud = user_data.to_string();
    let a = signin_token(c, &ud);
    let sent = send_signin(c, &ud, &a);
    let m = expect_next(c, "pusher:signin_success", None);
    assert_eq!(m["data"], sent, "{m}");
}

/// The next messages must be `pusher:error` 4009 with `message`, then a close 4009.
fn expect_4009(c: &mut Client, message: &str) {
    let d = expect_error(c, 4009, None);
    assert_eq!(d["message"], message, "{d}");
    expect_closed_with(c, 4009);
}

fn timeout_config() -> fanoutd::config::Config {
    let mut cfg = config();
    cfg.user_authentication_timeout_ms = 1000;
    app(&mut cfg).enable_user_authentication = true;
    cfg
}

#[test]
fn signin_succeeds_and_echoes_the_data_with_or_without_the_app_flag() {
    for flag in [false, true] {
        let mut cfg = config();
        app(&mut cfg).enable_user_authentication = flag;
        let srv = TestServer::start(cfg);
        let (mut a, mut b) = pair_across(&srv);
        signin(
            &mut a,
            &json!({"id": "alice", "user_info": {"name": "Alice"}}),
        );
        signin(&mut b, &json!({"id": 42}));
        // Still open and working afterwards.
        for c in [&mut a, &mut b] {
            assert!(sync(c).is_empty());
        }
    }
}

#[test]
fn a_bad_signin_signature_closes_with_4009() {
    let srv = TestServer::default();
    let ud = json!({"id": "mallory"}).to_string();
    let other = srv.client();
    type MakeToken = Box<dyn Fn(&Client) -> String>;
    let other_id = other.socket_id.clone();
    let ud2 = ud.clone();
    let cases: Vec<(&str, MakeToken)> = vec![
        ("flipped digit", {
            let ud = ud.clone();
            Box::new(move |c: &Client| {
                let t = signin_token(c, &ud);
                let last = if t.ends_with('0') { '1' } else { '0' };
                format!("{}{last}", &t[..t.len() - 1])
            })
        }),
        (
            "another socket",
            Box::new(move |_: &Client| {
                token("app-key", "app-secret", &[&other_id, "::user::", &ud2])
            }),
        ),
        ("wrong secret", {
            let ud = ud.clone();
            Box::new(move |c: &Client| token("app-key", "nope", &[&c.socket_id, "::user::", &ud]))
        }),
        ("wrong key prefix", {
            let ud = ud.clone();
            Box::new(move |c: &Client| signin_token(c, &ud).replacen("app-key", "other-key", 1))
        }),
        ("channel-style string", {
            let ud = ud.clone();
            Box::new(move |c: &Client| token("app-key", "app-secret", &[&c.socket_id, ":", &ud]))
        }),
        ("empty", Box::new(|_: &Client| String::new())),
    ];
    for (what, make) in cases {
        let mut c = srv.client();
        let t = make(&c);
        send_signin(&mut c, &ud, &t);
        let d = expect_error(&mut c, 4009, None);
        assert_eq!(d["message"], "Connection not authorized.", "{what}");
        assert_eq!(c.expect_close(), Some(4009), "{what}");
    }
    // Signed for user_data other than the one sent.
    let mut c = srv.client();
    let t = signin_token(&c, &json!({"id": "someone-else"}).to_string());
    send_signin(&mut c, &ud, &t);
    expect_4009(&mut c, "Connection not authorized.");
}

#[test]
fn user_data_without_an_id_closes_with_4009() {
    let srv = TestServer::default();
    for ud in [
        json!({"name": "no id"}).to_string(),
        json!({"id": ""}).to_string(),
        json!({"id": null}).to_string(),
        json!({"id": 0}).to_string(),
        "not json".to_string(),
        "[]".to_string(),
    ] {
        let mut c = srv.client();
        let t = signin_token(&c, &ud);
        send_signin(&mut c, &ud, &t);
        let d = expect_error(&mut c, 4009, None);
        assert_eq!(
            d["message"], "The returned user data must contain the \"id\" field.",
            "{ud}"
        );
        assert_eq!(c.expect_close(), Some(4009), "{ud}");
    }
}

/// A socket that authenticates with `auth` (which sends the request and names the reply it
/// expects). Retried when the timeout fires before the reply: with the early-timeout bug (see
/// `the_auth_timeout_never_fires_before_the_configured_time`) a fresh socket can be cut at once.
fn survivor(srv: &TestServer, auth: impl Fn(&mut Client) -> &'static str) -> Client {
    for _ in 0..5 {
        let mut c = srv.client();
        let want = auth(&mut c);
        let m = c.recv();
        if m["event"] == want {
            return c;
        }
        assert_eq!(
            m["data"]["message"], "Connection not authorized within timeout.",
            "{m}"
        );
    }
    panic!("never authenticated in time");
}

/// Reads past anything else to the timeout's `pusher:error`, then the close.
fn expect_timeout(c: &mut Client) {
    let m = c.recv_event("pusher:error");
    assert_eq!(
        m["data"],
        json!({"code": 4009, "message": "Connection not authorized within timeout."})
    );
    expect_closed_with(c, 4009);
}

#[test]
fn unauthenticated_sockets_time_out_and_authenticated_ones_survive() {
    let srv = TestServer::start(timeout_config());
    let start = Instant::now();
    let mut unsigned = spread(&srv, 4);
    let mut public_only = srv.client();
    send_subscribe(&mut public_only, "public-room", None, None);
    let mut signed = survivor(&srv, |c| {
        let ud = json!({"id": "u"}).to_string();
        let t = signin_token(c, &ud);
        send_signin(c, &ud, &t);
        "pusher:signin_success"
    });
    let mut private = survivor(&srv, |c| {
        let t = c.private_auth("private-room");
        send_subscribe(c, "private-room", Some(&t), None);
        "pusher_internal:subscription_succeeded"
    });
    let mut encrypted = survivor(&srv, |c| {
        let t = c.private_auth("private-encrypted-room");
        send_subscribe(c, "private-encrypted-room", Some(&t), None);
        "pusher_internal:subscription_succeeded"
    });
    let mut presence = survivor(&srv, |c| {
        send_presence(c, "presence-room", &json!(1), &json!(null));
        "pusher_internal:subscription_succeeded"
    });

    for c in unsigned.iter_mut() {
        expect_4009(c, "Connection not authorized within timeout.");
    }
    // A public channel is no authentication.
    expect_timeout(&mut public_only);
    assert!(
        start.elapsed() < Duration::from_millis(3500),
        "took {:?}",
        start.elapsed()
    );
    // Well past the timeout, the others are still open.
    std::thread::sleep(Duration::from_millis(
        2500u64.saturating_sub(start.elapsed().as_millis() as u64),
    ));
    for c in [&mut signed, &mut private, &mut encrypted, &mut presence] {
        let got = sync(c);
        assert!(got.iter().all(|m| m["event"] != "pusher:error"), "{got:?}");
    }
}

#[test]
fn the_auth_timeout_never_fires_before_the_configured_time() {
    let srv = TestServer::start(timeout_config());
    let addr = srv.addr;
    // Sockets opened at five phases of a second; each measures its own timeout.
    let elapsed: Vec<Duration> = std::thread::scope(|s| {
        let hs: Vec<_> = (0..5)
            .map(|i| {
                s.spawn(move || {
                    std::thread::sleep(Duration::from_millis(200 * i));
                    let t0 = Instant::now();
                    let mut c = Client::connect(addr, "app-key");
                    expect_4009(&mut c, "Connection not authorized within timeout.");
                    t0.elapsed()
                })
            })
            .collect();
        hs.into_iter().map(|h| h.join().unwrap()).collect()
    });
    for e in &elapsed {
        assert!(
            *e >= Duration::from_millis(950),
            "timed out after {e:?} (configured 1000 ms): {elapsed:?}"
        );
    }
}

#[test]
fn failed_channel_joins_do_not_count_as_authentication() {
    let srv = TestServer::start(timeout_config());
    let mut member = survivor(&srv, |c| {
        send_presence(c, "presence-x", &json!(1), &json!(null));
        "pusher_internal:subscription_succeeded"
    });
    // A refused signature, and a signed but invalid name.
    let mut bad_sig = srv.client();
    send_subscribe(&mut bad_sig, "private-x", Some("app-key:00"), None);
    let mut bad_name = srv.client();
    let ch = "private-bad name";
    let a = bad_name.private_auth(ch);
    send_subscribe(&mut bad_name, ch, Some(&a), None);
    for c in [&mut bad_sig, &mut bad_name] {
        expect_timeout(c);
    }
    assert!(sync(&mut member).is_empty());
}

#[test]
fn a_refused_presence_join_does_not_count_as_authentication() {
    let mut cfg = timeout_config();
    app(&mut cfg).max_presence_members_per_channel = 1;
    let srv = TestServer::start(cfg);
    let _member = survivor(&srv, |c| {
        send_presence(c, "presence-full", &json!(1), &json!(null));
        "pusher_internal:subscription_succeeded"
    });
    let mut refused = srv.client();
    send_presence(&mut refused, "presence-full", &json!(2), &json!(null));
    refused.set_timeout(Duration::from_secs(4));
    expect_timeout(&mut refused);
}

#[test]
fn server_to_user_events_reach_every_socket_of_that_user_only() {
    let srv = TestServer::default();
    let mut alice = spread(&srv, 4);
    for c in alice.iter_mut() {
        signin(c, &json!({"id": "alice"}));
    }
    let mut bob = srv.client();
    signin(&mut bob, &json!({"id": "bob"}));
    let mut numeric = srv.client();
    signin(&mut numeric, &json!({"id": 42}));
    let anonymous = srv.client();
    // Other users and anonymous sockets get nothing.
    let mut others = [bob, anonymous];
    for c in others.iter_mut() {
        c.subscribe("probe");
    }
    let r = srv.trigger("#server-to-user-alice", "notify", &json!({"n": 1}));
    assert_eq!(r.status, 200, "{}", r.body);
    for c in alice.iter_mut() {
        let m = expect_next(c, "notify", Some("#server-to-user-alice"));
        assert_eq!(data_of(&m), json!({"n": 1}));
    }
    // `socket_id` does not exclude anybody on this path.
    let body = json!({"name": "notify2", "channel": "#server-to-user-alice", "data": "{}", "socket_id": alice[0].socket_id});
    assert_eq!(
        srv.rest("POST", "/events", &[], &body.to_string()).status,
        200
    );
    for c in alice.iter_mut() {
        expect_next(c, "notify2", Some("#server-to-user-alice"));
    }
    let r = srv.trigger("#server-to-user-42", "num", &json!({}));
    assert_eq!(r.status, 200, "{}", r.body);
    expect_next(&mut numeric, "num", Some("#server-to-user-42"));
    marker(&srv, "probe");
    for c in others.iter_mut() {
        expect_only_marker(c);
    }
    for c in alice.iter_mut().chain([&mut numeric]) {
        c.expect_silence(Duration::from_millis(100));
    }
}

#[test]
fn signing_in_again_switches_the_user() {
    let srv = TestServer::default();
    let mut c = srv.client();
    signin(&mut c, &json!({"id": "first"}));
    signin(&mut c, &json!({"id": "second"}));
    assert_eq!(
        srv.trigger("#server-to-user-first", "old", &json!({}))
            .status,
        200
    );
    assert_eq!(
        srv.trigger("#server-to-user-second", "new", &json!({}))
            .status,
        200
    );
    expect_next(&mut c, "new", Some("#server-to-user-second"));
    c.expect_silence(Duration::from_millis(150));
    // Terminating the old user leaves the socket alone.
    let r = srv.rest("POST", "/users/first/terminate_connections", &[], "{}");
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(sync(&mut c).is_empty());
}

#[test]
fn terminate_connections_closes_every_socket_of_the_user_only() {
    let srv = TestServer::default();
    let mut victims = spread(&srv, 4);
    for c in victims.iter_mut() {
        signin(c, &json!({"id": "victim", "user_info": {}}));
    }
    // One of them is also a presence member: the others must hear it leave.
    victims[0].subscribe_presence("presence-t", json!("victim"), json!(null));
    let mut watcher = srv.client();
    signin(&mut watcher, &json!({"id": "watcher"}));
    watcher.subscribe_presence("presence-t", json!("watcher"), json!(null));
    victims[0].recv_event("pusher_internal:member_added");
    let mut anonymous = srv.client();
    anonymous.subscribe("room");
    watcher.subscribe("room");

    let r = srv.rest("POST", "/users/victim/terminate_connections", &[], "{}");
    assert_eq!(r.status, 200, "{}", r.body);
    for c in victims.iter_mut() {
        expect_4009(c, "You got disconnected by the app.");
    }
    let m = watcher.recv_event("pusher_internal:member_removed");
    assert_eq!(data_of(&m), json!({"user_id": "victim"}));
    assert_eq!(srv.trigger("room", "still-here", &json!({})).status, 200);
    for c in [&mut watcher, &mut anonymous] {
        expect_next(c, "still-here", Some("room"));
    }
    assert!(eventually(Duration::from_secs(2), || {
        get_json(&srv, "/channels/presence-t", &[])["user_count"] == 1
    }));
    // Unknown users: nothing to do, still a success.
    let r = srv.rest("POST", "/users/nobody/terminate_connections", &[], "{}");
    assert_eq!(r.status, 200, "{}", r.body);
}

#[test]
fn terminate_connections_decodes_the_user_id() {
    let srv = TestServer::default();
    let (mut a, mut b) = pair_across(&srv);
    signin(&mut a, &json!({"id": "j doe@x"}));
    signin(&mut b, &json!({"id": "j"}));
    let r = srv.rest(
        "POST",
        "/users/j%20doe%40x/terminate_connections",
        &[],
        "{}",
    );
    assert_eq!(r.status, 200, "{}", r.body);
    expect_4009(&mut a, "You got disconnected by the app.");
    assert!(sync(&mut b).is_empty());
}

#[test]
fn numeric_signin_ids_are_coerced_to_strings() {
    let srv = TestServer::default();
    let (mut a, mut b) = pair_across(&srv);
    for (c, ud) in [(&mut a, r#"{"id":1.0}"#), (&mut b, r#"{"id":1e2}"#)] {
        let t = signin_token(c, ud);
        send_signin(c, ud, &t);
        expect_next(c, "pusher:signin_success", None);
    }
    assert_eq!(
        srv.trigger("#server-to-user-1", "one", &json!({})).status,
        200
    );
    assert_eq!(
        srv.trigger("#server-to-user-100", "hundred", &json!({}))
            .status,
        200
    );
    expect_next(&mut a, "one", Some("#server-to-user-1"));
    expect_next(&mut b, "hundred", Some("#server-to-user-100"));
}
