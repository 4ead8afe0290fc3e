use crate::util::*;
use serde_json::json;

#[test]
fn publish_reaches_a_subscriber() {
    let srv = TestServer::default();
    let mut c = srv.client();
    c.subscribe("my-channel");
    let r = srv.trigger("my-channel", "greeting", &json!({"message": "hello"}));
    assert_eq!(r.status, 200, "{}", r.body);
    let m = c.recv_event("greeting");
    assert_eq!(m["channel"], "my-channel");
    let data: serde_json::Value = serde_json::from_str(m["data"].as_str().unwrap()).unwrap();
    assert_eq!(data["message"], "hello");
}
