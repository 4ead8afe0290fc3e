//! The directory's transitions reach the sink a server is started with (the hook webhooks
//! and the cluster adapter use), in order, once per change on the node.

use std::sync::Arc;
use std::time::{Duration, Instant};

use fanoutd::directory::{Recorder, Transition};
use fanoutd::server::Options;
use serde_json::json;

use crate::util::*;

#[test]
fn subscribes_presence_and_cache_reads_are_reported() {
    let rec = Arc::new(Recorder::default());
    let options = Options {
        transitions: Some(rec.clone()),
        ..Options::default()
    };
    let srv = TestServer::start_with(config(), options);
    let mut a = srv.client();
    let mut b = srv.client();
    a.subscribe("news");
    b.subscribe("news");
    a.subscribe_presence("presence-room", json!("u1"), json!(null));
    b.subscribe("cache-x");
    drop(a);
    drop(b);
    // Closes are handled by the server after the sockets go: wait for the last one.
    let deadline = Instant::now() + WAIT;
    let mut seen = Vec::new();
    while Instant::now() < deadline {
        seen.extend(rec.take());
        if seen.iter().filter(|t| t.2 == Transition::Vacated).count() == 3 {
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let of = |ch: &str| -> Vec<Transition> {
        seen.iter()
            .filter(|t| t.0 == 0 && t.1 == ch)
            .map(|t| t.2.clone())
            .collect()
    };
    use Transition::*;
    assert_eq!(
        of("news"),
        [
            Occupied,
            SubscriptionCount { count: 1 },
            SubscriptionCount { count: 2 },
            SubscriptionCount { count: 1 },
            SubscriptionCount { count: 0 },
            Vacated
        ]
    );
    let user = || "\"u1\"".to_string().into_boxed_str();
    assert_eq!(
        of("presence-room"),
        [
            Occupied,
            MemberAdded { user_id: user() },
            MemberRemoved { user_id: user() },
            Vacated
        ]
    );
    assert_eq!(
        of("cache-x"),
        [
            Occupied,
            SubscriptionCount { count: 1 },
            CacheMiss,
            SubscriptionCount { count: 0 },
            Vacated
        ]
    );
}
