//! Publishes across nodes over the machine's Redis (127.0.0.1:6379), in soketi's wire format:
//! two in-process servers with the Redis adapter on one prefix form a cluster. Each test uses
//! its own `ADAPTER_REDIS_PREFIX`, so tests (and other users of the shared Redis) never see
//! each other's messages. Without a Redis on 127.0.0.1:6379 these tests fail, saying so
//! (`.ci/run` starts one).

use crate::private::kit::*;
use crate::util::*;
use fanoutd::config::{AdapterDriver, Config};
use serde_json::{json, Value};
use std::time::{Duration, Instant};

const REDIS: &str = "redis://127.0.0.1:6379/";

/// A connection to the machine's Redis, or a failure that says what is missing.
fn redis_conn() -> redis::Connection {
    let fail = |e: redis::RedisError| -> ! {
        panic!(
            "these tests need a Redis server on 127.0.0.1:6379 ({e}); start one with \
             `redis-server --daemonize yes` (.ci/run does)"
        )
    };
    let client = redis::Client::open(REDIS).unwrap_or_else(|e| fail(e));
    let mut conn = client
        .get_connection_with_timeout(Duration::from_secs(2))
        .unwrap_or_else(|e| fail(e));
    let pong: String = redis::cmd("PING")
        .query(&mut conn)
        .unwrap_or_else(|e| fail(e));
    assert_eq!(pong, "PONG");
    conn
}

/// A prefix no other test (or earlier run) uses.
fn unique_prefix(name: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("fanoutd-test-{name}-{}-{nanos}", std::process::id())
}

fn node_config(prefix: &str) -> Config {
    let mut c = config();
    c.adapter.driver = AdapterDriver::Redis;
    c.adapter.redis_prefix = prefix.to_string();
    app(&mut c).enable_client_messages = true;
    c
}

/// Two nodes on `prefix`, each with its subscriber on the bus (checked both ways).
fn cluster(prefix: &str) -> (TestServer, TestServer) {
    redis_conn();
    let a = TestServer::start(node_config(prefix));
    let b = TestServer::start(node_config(prefix));
    wait_for_bus(&a, &b);
    wait_for_bus(&b, &a);
    (a, b)
}

/// Publishes on `from` until a subscriber on `to` gets one (the subscriber thread connects
/// after the server starts), then lets the stragglers arrive and drains them.
fn wait_for_bus(from: &TestServer, to: &TestServer) {
    let mut c = to.client();
    c.subscribe("bus-ready");
    let deadline = Instant::now() + WAIT;
    c.set_timeout(Duration::from_millis(100));
    loop {
        assert!(
            Instant::now() < deadline,
            "no message crossed the bus in time"
        );
        assert_eq!(from.trigger("bus-ready", "ready", &json!({})).status, 200);
        if let Ok(tungstenite::Message::Text(_)) = c.ws.read() {
            break;
        }
    }
    // Let the other pings arrive; they go to a channel no test uses.
    std::thread::sleep(Duration::from_millis(200));
}

fn events(msgs: &[Value], event: &str) -> usize {
    msgs.iter().filter(|m| m["event"] == event).count()
}

#[test]
fn a_rest_publish_on_one_node_reaches_subscribers_on_both_exactly_once() {
    let prefix = unique_prefix("rest");
    let (a, b) = cluster(&prefix);
    let mut on_a = a.client();
    let mut on_b = b.client();
    on_a.subscribe("news");
    on_b.subscribe("news");
    let r = a.trigger("news", "headline", &json!({"n": 1}));
    assert_eq!(r.status, 200, "{}", r.body);
    marker(&a, "news");
    for c in [&mut on_a, &mut on_b] {
        let got = until_marker(c);
        assert_eq!(events(&got, "headline"), 1, "{got:?}");
        assert_eq!(got.len(), 1, "{got:?}");
        assert_eq!(got[0]["channel"], "news");
        assert_eq!(data_of(&got[0]), json!({"n": 1}));
    }
    // And the other way round.
    assert_eq!(b.trigger("news", "back", &json!({})).status, 200);
    marker(&b, "news");
    for c in [&mut on_a, &mut on_b] {
        let got = until_marker(c);
        assert_eq!(events(&got, "back"), 1, "{got:?}");
    }
    // Counted on both nodes: every publish went out once, and what came in was delivered.
    // (The bus-ready pings of `cluster` are counted too, hence "at least".)
    for srv in [&a, &b] {
        let published = bus_metric(srv, "published");
        let received = bus_metric(srv, "received");
        assert!(published >= 2, "published {published}");
        assert!(received >= 2, "received {received}");
        assert_eq!(bus_metric(srv, "dropped"), 0);
    }
}

/// The value of `*_adapter_<what>_messages_total` on `srv`.
fn bus_metric(srv: &TestServer, what: &str) -> u64 {
    let name = format!("_adapter_{what}_messages_total{{");
    let body = srv.metrics();
    let line = body
        .lines()
        .find(|l| !l.starts_with('#') && l.contains(&name))
        .unwrap_or_else(|| panic!("no {name} in /metrics"));
    line.rsplit(' ').next().unwrap().parse().unwrap()
}

#[test]
fn the_bus_families_are_present_at_zero_with_the_local_adapter() {
    let srv = TestServer::default();
    for what in ["published", "received", "dropped"] {
        assert_eq!(bus_metric(&srv, what), 0, "{what}");
    }
}

#[test]
fn a_client_event_reaches_a_subscriber_on_the_other_node_but_not_the_sender() {
    let prefix = unique_prefix("client");
    let (a, b) = cluster(&prefix);
    let mut sender = a.client();
    let mut on_b = b.client();
    sender.subscribe_private("private-room");
    on_b.subscribe_private("private-room");
    sender.send(json!({"event": "client-typing", "channel": "private-room", "data": {"u": 1}}));
    let m = on_b.recv_event("client-typing");
    assert_eq!(m["channel"], "private-room");
    assert_eq!(m["data"], json!({"u": 1}));
    // The sender's own node never echoes it, and the bus does not bring it back.
    marker(&a, "private-room");
    expect_only_marker(&mut sender);
    marker(&a, "private-room");
    expect_only_marker(&mut on_b);
}

#[test]
fn socket_id_exclusion_works_across_nodes() {
    let prefix = unique_prefix("except");
    let (a, b) = cluster(&prefix);
    let mut excluded = a.client();
    let mut other_a = a.client();
    let mut on_b = b.client();
    for c in [&mut excluded, &mut other_a, &mut on_b] {
        c.subscribe("room");
    }
    // Published through B, excluding a socket of A.
    let body =
        json!({"name": "e", "channel": "room", "data": "{}", "socket_id": excluded.socket_id});
    let r = b.rest("POST", "/events", &[], &body.to_string());
    assert_eq!(r.status, 200, "{}", r.body);
    marker(&b, "room");
    expect_only_marker(&mut excluded);
    for c in [&mut other_a, &mut on_b] {
        let got = until_marker(c);
        assert_eq!(events(&got, "e"), 1, "{got:?}");
    }
}

#[test]
fn a_different_prefix_is_a_different_cluster() {
    let (a, _b) = cluster(&unique_prefix("iso-1"));
    let (c, _d) = cluster(&unique_prefix("iso-2"));
    let mut on_c = c.client();
    on_c.subscribe("room");
    assert_eq!(a.trigger("room", "leak", &json!({})).status, 200);
    // The marker goes through c's own cluster; a's publish must not arrive before or after.
    marker(&c, "room");
    expect_only_marker(&mut on_c);
    on_c.expect_silence(Duration::from_millis(300));
}

#[test]
fn an_envelope_in_soketis_shape_reaches_subscribers() {
    let prefix = unique_prefix("soketi-in");
    let (a, _b) = cluster(&prefix);
    let mut on_a = a.client();
    on_a.subscribe("room");
    let mut excluded = a.client();
    excluded.subscribe("room");
    let mut conn = redis_conn();
    let data = r#"{"event":"from-soketi","channel":"room","data":"{\"x\":1}"}"#;
    // Exactly what soketi's RedisAdapter publishes (JSON.stringify of its object).
    let env = json!({"uuid": "a-soketi-node", "appId": "app-id", "channel": "room",
        "data": data, "exceptingId": excluded.socket_id});
    let receivers: i64 = redis::cmd("PUBLISH")
        .arg(format!("{prefix}#redis-adapter"))
        .arg(env.to_string())
        .query(&mut conn)
        .unwrap();
    assert_eq!(receivers, 2, "both nodes' subscribers");
    let m = on_a.recv_event("from-soketi");
    assert_eq!(m["data"], "{\"x\":1}");
    // soketi's own socket ids (and no exceptingId at all) exclude nobody.
    for except in [json!("1234.5678"), Value::Null] {
        let env = json!({"uuid": "a-soketi-node", "appId": "app-id", "channel": "room",
            "data": data, "exceptingId": except});
        let _: i64 = redis::cmd("PUBLISH")
            .arg(format!("{prefix}#redis-adapter"))
            .arg(env.to_string())
            .query(&mut conn)
            .unwrap();
        on_a.recv_event("from-soketi");
        excluded.recv_event("from-soketi");
    }
    // Incomplete envelopes, another app and non-JSON are ignored.
    for bad in [
        json!({"uuid": "x", "channel": "room", "data": data}).to_string(),
        json!({"uuid": "x", "appId": "app-id", "data": data}).to_string(),
        json!({"uuid": "x", "appId": "app-id", "channel": "room"}).to_string(),
        json!({"uuid": "x", "appId": "no-such-app", "channel": "room", "data": data}).to_string(),
        "not json".to_string(),
    ] {
        let _: i64 = redis::cmd("PUBLISH")
            .arg(format!("{prefix}#redis-adapter"))
            .arg(bad)
            .query(&mut conn)
            .unwrap();
    }
    marker(&a, "room");
    expect_only_marker(&mut on_a);
    // The excluded socket got nothing from the first envelope.
    marker(&a, "room");
    expect_only_marker(&mut excluded);
}

#[test]
fn the_envelope_a_node_publishes_has_exactly_soketis_keys() {
    let prefix = unique_prefix("soketi-out");
    let (a, _b) = cluster(&prefix);
    let mut conn = redis_conn();
    let mut pubsub = conn.as_pubsub();
    pubsub
        .psubscribe(format!("{prefix}#redis-adapter*"))
        .unwrap();
    pubsub
        .set_read_timeout(Some(Duration::from_millis(200)))
        .unwrap();
    let sender = a.client();
    let body =
        json!({"name": "e", "channel": "room", "data": "{\"k\":2}", "socket_id": sender.socket_id});
    assert_eq!(
        a.rest("POST", "/events", &[], &body.to_string()).status,
        200
    );
    let deadline = Instant::now() + WAIT;
    let env: Value = loop {
        assert!(Instant::now() < deadline, "no envelope on the bus");
        let Ok(msg) = pubsub.get_message() else {
            continue;
        };
        assert_eq!(msg.get_channel_name(), format!("{prefix}#redis-adapter"));
        let env: Value = serde_json::from_slice(msg.get_payload_bytes()).unwrap();
        if env["channel"] == "room" {
            break env;
        }
    };
    let keys: Vec<&str> = env
        .as_object()
        .unwrap()
        .keys()
        .map(|k| k.as_str())
        .collect();
    let mut sorted = keys.clone();
    sorted.sort_unstable();
    assert_eq!(
        sorted,
        ["appId", "channel", "data", "exceptingId", "uuid"],
        "{env}"
    );
    assert_eq!(env["appId"], "app-id");
    assert_eq!(env["exceptingId"], sender.socket_id.as_str());
    assert!(env["uuid"].as_str().is_some_and(|u| u.len() == 36), "{env}");
    let data: Value = serde_json::from_str(env["data"].as_str().unwrap()).unwrap();
    assert_eq!(
        data,
        json!({"event": "e", "channel": "room", "data": "{\"k\":2}"})
    );
    // Without a socket_id, exceptingId is null (soketi's default), not missing.
    assert_eq!(a.trigger("room2", "e", &json!({})).status, 200);
    let env: Value = loop {
        assert!(Instant::now() < deadline, "no envelope on the bus");
        let Ok(msg) = pubsub.get_message() else {
            continue;
        };
        let env: Value = serde_json::from_slice(msg.get_payload_bytes()).unwrap();
        if env["channel"] == "room2" {
            break env;
        }
    };
    assert!(env.as_object().unwrap().contains_key("exceptingId"));
    assert_eq!(env["exceptingId"], Value::Null);
}

/// A private `redis-server` on an ephemeral port, for the fault tests (the shared one is never
/// stopped). Killed on drop.
struct PrivateRedis {
    child: std::process::Child,
    port: u16,
}

impl PrivateRedis {
    fn start_on(port: u16) -> PrivateRedis {
        let child = std::process::Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("redis-server runs (apt-get install redis-server)");
        let deadline = Instant::now() + WAIT;
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "redis-server did not listen");
            std::thread::sleep(Duration::from_millis(20));
        }
        PrivateRedis { child, port }
    }

    fn start() -> PrivateRedis {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        PrivateRedis::start_on(port)
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for PrivateRedis {
    fn drop(&mut self) {
        self.stop();
    }
}

/// Publishes on `from` until `c` (subscribed to `channel` on another node) gets one; returns
/// how long that took.
fn until_crossing(from: &TestServer, c: &mut Client, channel: &str, within: Duration) -> Duration {
    let start = Instant::now();
    c.set_timeout(Duration::from_millis(100));
    loop {
        assert!(
            start.elapsed() < within,
            "nothing crossed the bus within {within:?}"
        );
        assert_eq!(from.trigger(channel, "probe", &json!({})).status, 200);
        if let Ok(tungstenite::Message::Text(_)) = c.ws.read() {
            c.set_timeout(WAIT);
            return start.elapsed();
        }
    }
}

#[test]
fn with_redis_down_local_delivery_goes_on_and_cross_node_delivery_resumes_after() {
    let mut redis = PrivateRedis::start();
    let prefix = unique_prefix("fault");
    let node = || {
        let mut c = node_config(&prefix);
        c.adapter.redis_port = redis.port;
        TestServer::start(c)
    };
    let (a, b) = (node(), node());
    let mut on_a = a.client();
    let mut on_b = b.client();
    on_a.subscribe("room");
    on_b.subscribe("probe-room");
    until_crossing(&a, &mut on_b, "probe-room", WAIT);

    redis.stop();
    // Local delivery does not wait for the bus: every publish reaches A's subscriber, and
    // the ones that could not go out are counted as dropped.
    for i in 0..20 {
        let r = a.trigger("room", "local", &json!({ "i": i }));
        assert_eq!(r.status, 200, "{}", r.body);
        assert_eq!(on_a.recv_event("local")["channel"], "room");
    }
    let deadline = Instant::now() + WAIT;
    while bus_metric(&a, "dropped") == 0 {
        assert!(
            Instant::now() < deadline,
            "no drop counted while Redis was down"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let _redis = PrivateRedis::start_on(redis.port);
    // The subscriber retries at most 2 s apart; allow for one connect on top.
    let took = until_crossing(&a, &mut on_b, "probe-room", Duration::from_secs(5));
    assert!(took < Duration::from_secs(4), "took {took:?}");
}

#[test]
fn an_idle_subscriber_pings_redis_and_keeps_its_connection() {
    let redis = PrivateRedis::start();
    let mut c = node_config(&unique_prefix("idle"));
    c.adapter.redis_port = redis.port;
    let a = TestServer::start(c.clone());
    let b = TestServer::start(c);
    let mut on_b = b.client();
    on_b.subscribe("probe-room");
    until_crossing(&a, &mut on_b, "probe-room", WAIT);
    let mut admin = redis::Client::open(format!("redis://127.0.0.1:{}/", redis.port))
        .unwrap()
        .get_connection()
        .unwrap();
    // The subscribers' connections: (id, last command).
    let mut subscribers = || -> Vec<(String, String)> {
        let list: String = redis::cmd("CLIENT").arg("LIST").query(&mut admin).unwrap();
        let field = |line: &str, key: &str| {
            line.split(' ')
                .find_map(|f| f.strip_prefix(key))
                .unwrap_or_default()
                .to_string()
        };
        let mut subs: Vec<(String, String)> = list
            .lines()
            .filter(|l| field(l, "psub=") == "1")
            .map(|l| (field(l, "id="), field(l, "cmd=")))
            .collect();
        subs.sort();
        subs
    };
    let before = subscribers();
    assert_eq!(before.len(), 2, "{before:?}");
    // Past the 5 s health check: each subscriber PINGs on the connection it has.
    std::thread::sleep(Duration::from_millis(6_000));
    let after = subscribers();
    let ids = |v: &[(String, String)]| v.iter().map(|s| s.0.clone()).collect::<Vec<_>>();
    assert_eq!(ids(&after), ids(&before), "a subscriber reconnected");
    assert!(after.iter().all(|s| s.1 == "ping"), "{after:?}");
    until_crossing(&a, &mut on_b, "probe-room", WAIT);
}

#[test]
fn a_cache_channels_last_event_published_on_one_node_is_replayed_on_the_other() {
    let (a, b) = cluster(&unique_prefix("cache"));
    // A subscriber on B shows when the event has arrived there.
    let mut first = b.client();
    first.subscribe("cache-news");
    expect_next(&mut first, "pusher:cache_miss", Some("cache-news"));
    assert_eq!(a.trigger("cache-news", "news", &json!("hello")).status, 200);
    expect_next(&mut first, "news", Some("cache-news"));
    let mut late = b.client();
    late.subscribe("cache-news");
    let m = expect_next(&mut late, "news", Some("cache-news"));
    assert_eq!(m["data"], json!("hello").to_string());
}

#[test]
fn a_server_to_user_event_reaches_the_user_on_the_other_node() {
    let (a, b) = cluster(&unique_prefix("user"));
    // Each of B's two reactors holds a socket of alice: the event must reach both.
    let (x, y) = pair_across(&b);
    let mut alice = [x, y];
    for c in alice.iter_mut() {
        let ud = json!({"id": "alice"}).to_string();
        let auth = token("app-key", "app-secret", &[&c.socket_id, "::user::", &ud]);
        c.send(json!({"event": "pusher:signin", "data": {"user_data": ud, "auth": auth}}));
        expect_next(c, "pusher:signin_success", None);
    }
    let r = a.trigger("#server-to-user-alice", "notify", &json!({"n": 1}));
    assert_eq!(r.status, 200, "{}", r.body);
    for c in alice.iter_mut() {
        expect_next(c, "notify", Some("#server-to-user-alice"));
    }
}
