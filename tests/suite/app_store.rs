//! App lookups that never block a reactor: a store that answers late, says no late, fails,
//! or never answers. The waiting socket (or REST request) gets its defined answer — the
//! app, 4001 / 404, a retryable 4100 / 503 — and every other connection on the same reactor
//! is served while it waits. An app the store finds after start-up works like a configured
//! one, metrics included.

use std::collections::HashMap;
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use fanoutd::apps::{Answer, AppStore, Apps, Lookup, StaticStore, Waiter};
use fanoutd::config::{AppConfig, Config};
use fanoutd::server::Options;
use serde_json::json;

use crate::util::*;

/// What the test store does for one key (or id).
#[derive(Clone)]
enum Plan {
    /// Answer with this app after the delay (registering it then: a new app).
    Found(AppConfig),
    Missing,
    Unavailable,
    /// Never answer.
    Silent,
}

/// A store that answers the configured apps at once and the planned keys/ids late, from a
/// thread of its own, as a database store would.
struct LateStore {
    apps: Arc<Apps>,
    configured: StaticStore,
    by_key: HashMap<String, Plan>,
    by_id: HashMap<String, Plan>,
    delay: Duration,
}

impl LateStore {
    fn answer_later(&self, plan: Option<&Plan>, waiter: &dyn Fn() -> Waiter) -> Lookup {
        let Some(plan) = plan.cloned() else {
            return Lookup::Ready(Answer::Missing);
        };
        if matches!(plan, Plan::Silent) {
            return Lookup::Pending;
        }
        let waiter = waiter();
        let apps = self.apps.clone();
        let delay = self.delay;
        thread::spawn(move || {
            thread::sleep(delay);
            let answer = match plan {
                Plan::Found(config) => Answer::Found(apps.register(&config).unwrap()),
                Plan::Missing => Answer::Missing,
                Plan::Unavailable | Plan::Silent => Answer::Unavailable,
            };
            waiter.answer(answer);
        });
        Lookup::Pending
    }
}

impl AppStore for LateStore {
    fn by_key(&self, key: &str, waiter: &dyn Fn() -> Waiter) -> Lookup {
        match self.configured.by_key(key, waiter) {
            Lookup::Ready(Answer::Missing) => self.answer_later(self.by_key.get(key), waiter),
            other => other,
        }
    }

    fn by_id(&self, id: &str, waiter: &dyn Fn() -> Waiter) -> Lookup {
        match self.configured.by_id(id, waiter) {
            Lookup::Ready(Answer::Missing) => self.answer_later(self.by_id.get(id), waiter),
            other => other,
        }
    }
}

/// A one-reactor server (so the waiting socket shares its reactor with everyone) whose
/// store answers `late-*` keys after `delay`.
fn server(delay: Duration, tweak: impl FnOnce(&mut Config)) -> TestServer {
    let mut c = config();
    c.reactors = 1;
    tweak(&mut c);
    let mut late = c.apps[0].clone();
    late.id = "late-id".into();
    late.key = "late-key".into();
    late.secret = "late-secret".into();
    let plans = [
        ("late", Plan::Found(late)),
        ("missing", Plan::Missing),
        ("broken", Plan::Unavailable),
        ("silent", Plan::Silent),
    ];
    let by_key = plans
        .iter()
        .map(|(p, plan)| (format!("{p}-key"), plan.clone()))
        .collect();
    let by_id = plans
        .iter()
        .map(|(p, plan)| (format!("{p}-id"), plan.clone()))
        .collect();
    let options = Options {
        store: Some(Box::new(move |config: &Config, apps: Arc<Apps>| {
            Arc::new(LateStore {
                configured: StaticStore::new(&config.apps, &apps),
                apps,
                by_key,
                by_id,
                delay,
            }) as Arc<dyn AppStore>
        })),
        ..Options::default()
    };
    TestServer::start_with(c, options)
}

#[test]
fn a_late_app_opens_after_its_answer_and_nobody_waits_meanwhile() {
    let srv = server(Duration::from_millis(1500), |_| {});
    let addr = srv.addr;
    let started = Instant::now();
    let waiting = thread::spawn(move || {
        let c = Client::connect(addr, "late-key");
        (c, started.elapsed())
    });
    // While that socket waits, a client of the configured app on the same reactor connects,
    // subscribes and gets a publish.
    thread::sleep(Duration::from_millis(200));
    let mut other = srv.client();
    other.subscribe("meanwhile");
    let r = srv.trigger("meanwhile", "ev", &json!({"n": 1}));
    assert_eq!(r.status, 200);
    other.recv_event("ev");
    let served_after = started.elapsed();
    let (mut late, opened_after) = waiting.join().unwrap();
    assert!(
        served_after < Duration::from_millis(1400),
        "the other client was served only after {served_after:?}"
    );
    assert!(
        opened_after >= Duration::from_millis(1500),
        "opened after {opened_after:?}, before the store answered"
    );
    // The app the store found after start-up works: subscribe, REST (looked up by id,
    // late too), metrics with its own app_id.
    late.subscribe("news");
    let r = rest(
        srv.addr,
        "late-id",
        "late-key",
        "late-secret",
        "POST",
        "/events",
        &[],
        &json!({"name": "ev", "channel": "news", "data": "{}"}).to_string(),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    late.recv_event("ev");
    let p = srv.addr.port();
    let m = srv.metrics();
    let line = format!("soketi_{p}_connected{{app_id=\"late-id\",port=\"{p}\"}} 1");
    assert!(m.contains(&line), "{line} not in\n{m}");
}

#[test]
fn frames_sent_while_waiting_are_held_not_lost() {
    let srv = server(Duration::from_millis(500), |_| {});
    let url = format!("ws://{}/app/late-key?protocol=7", srv.addr);
    let (mut ws, _) = tungstenite::connect(url).unwrap();
    // Sent before the app is known: a subscribe and a ping.
    ws.send(tungstenite::Message::text(
        json!({"event": "pusher:subscribe", "data": {"channel": "early"}}).to_string(),
    ))
    .unwrap();
    ws.send(tungstenite::Message::text(
        json!({"event": "pusher:ping", "data": {}}).to_string(),
    ))
    .unwrap();
    let mut events = Vec::new();
    while events.len() < 3 {
        match ws.read().unwrap() {
            tungstenite::Message::Text(t) => {
                let v: serde_json::Value = serde_json::from_str(&t).unwrap();
                events.push(v["event"].as_str().unwrap().to_string());
            }
            _ => continue,
        }
    }
    assert_eq!(
        events,
        [
            "pusher:connection_established",
            "pusher_internal:subscription_succeeded",
            "pusher:pong"
        ]
    );
}

#[test]
fn a_late_no_is_4001_and_a_late_failure_is_retryable() {
    let srv = server(Duration::from_millis(300), |_| {});
    let (mut c, first) = Client::connect_raw(srv.addr, "missing-key");
    assert_eq!(first["event"], "pusher:error", "{first}");
    assert_eq!(first["data"]["code"], 4001);
    assert_eq!(
        first["data"]["message"],
        "App key missing-key does not exist."
    );
    assert_eq!(c.expect_close(), Some(4001));

    let (mut c, first) = Client::connect_raw(srv.addr, "broken-key");
    assert_eq!(first["event"], "pusher:error", "{first}");
    assert_eq!(first["data"]["code"], 4100);
    assert_eq!(c.expect_close(), Some(4100));

    let r = rest(
        srv.addr,
        "missing-id",
        "k",
        "s",
        "GET",
        "/channels",
        &[],
        "",
    );
    assert_eq!(r.status, 404, "{}", r.body);
    let r = rest(srv.addr, "broken-id", "k", "s", "GET", "/channels", &[], "");
    assert_eq!(r.status, 503, "{}", r.body);
    assert_eq!(r.header("Retry-After"), Some("5"));
}

#[test]
fn a_store_that_never_answers_times_out_retryably() {
    let srv = server(Duration::ZERO, |c| c.http.request_timeout_ms = 1000);
    let started = Instant::now();
    let (mut c, first) = Client::connect_raw(srv.addr, "silent-key");
    assert_eq!(first["data"]["code"], 4100, "{first}");
    assert_eq!(c.expect_close(), Some(4100));
    let r = rest(srv.addr, "silent-id", "k", "s", "GET", "/channels", &[], "");
    assert_eq!(r.status, 503, "{}", r.body);
    // The sweep runs once a second: the wait ends within the timeout plus one sweep.
    assert!(started.elapsed() < Duration::from_secs(5));
}
