//! The session decisions, driven without sockets: connections in the slab have a detached
//! transport, input is handed to [`Context::process`] as the reactor would, and what the
//! server would send is read back from the connections' output buffers.

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use mio::{Poll, Waker};
use serde_json::{json, Value};

use super::{Context, Shared};
use crate::apps::{Apps, StaticStore};
use crate::config::Config;
use crate::conn::{Conn, Phase, Transport};
use crate::directory::{Directory, Recorder, Transition};
use crate::metrics::stats::Stats;
use crate::pusher::auth;
use crate::reactor::inbox::Inbox;

const KEY: &str = "app-key";
const SECRET: &str = "app-secret";

/// One reactor's session state over a one-reactor node, with a recording transition sink.
struct Fixture {
    cx: Context,
    rec: Arc<Recorder>,
    _poll: Poll,
}

fn fixture_with(config: Config) -> Fixture {
    let poll = Poll::new().unwrap();
    let inboxes: Arc<[Inbox]> = vec![Inbox::new(
        Waker::new(poll.registry(), mio::Token(0)).unwrap(),
    )]
    .into();
    let apps = Arc::new(Apps::new());
    let store = Arc::new(StaticStore::new(&config.apps, &apps));
    let rec = Arc::new(Recorder::default());
    let shared = Arc::new(Shared {
        stats: Arc::new(Stats::new(1, apps.len())),
        directory: Directory::new(inboxes.clone(), rec.clone()),
        apps,
        store,
        inboxes,
        closing: Arc::new(AtomicBool::new(false)),
        started: Instant::now(),
        node_id: 5,
        service: super::Service::Public,
        pending_body_bytes: Default::default(),
        lister: None,
        adapter: Arc::new(crate::adapter::Local),
        config,
    });
    Fixture {
        cx: Context::new(0, shared),
        rec,
        _poll: poll,
    }
}

fn fixture() -> Fixture {
    let mut config = Config::default();
    config.apps[0].enable_client_messages = true;
    fixture_with(config)
}

/// A server frame: (opcode, payload).
type Frame = (u8, Vec<u8>);

impl Fixture {
    /// A new connection, as the reactor adds one after `accept`.
    fn accept(&mut self) -> u32 {
        let (idx, _) = self.cx.reserve();
        self.cx
            .insert(idx, Conn::new(Transport::Detached, self.cx.now));
        idx
    }

    /// Hands `bytes` to the session as if read from connection `idx`; returns how many it
    /// consumed.
    fn input(&mut self, idx: u32, bytes: &[u8]) -> usize {
        let mut buf = bytes.to_vec();
        self.cx.process(idx, &mut buf)
    }

    /// Everything queued for connection `idx` since the last call.
    fn output(&mut self, idx: u32) -> Vec<u8> {
        let o = &mut self.cx.outs[idx as usize];
        let out = o
            .buf
            .as_ref()
            .map(|b| b.pending().to_vec())
            .unwrap_or_default();
        if let Some(b) = o.buf.as_mut() {
            b.clear();
        }
        out
    }

    /// Connects a WebSocket client to app `key`; returns its slot and socket id.
    fn connect(&mut self, key: &str) -> (u32, String) {
        let idx = self.accept();
        let req = format!(
            "GET /app/{key}?protocol=7 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\n\
             Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
             Sec-WebSocket-Version: 13\r\n\r\n"
        );
        assert_eq!(self.input(idx, req.as_bytes()), req.len());
        let out = self.output(idx);
        let head_end = find(&out, b"\r\n\r\n").expect("a response head") + 4;
        let head = std::str::from_utf8(&out[..head_end]).unwrap();
        assert!(head.starts_with("HTTP/1.1 101 "), "{head}");
        let frames = frames(&out[head_end..]);
        let first = json_of(&frames[0]);
        let socket_id = if first["event"] == "pusher:connection_established" {
            let data: Value = serde_json::from_str(first["data"].as_str().unwrap()).unwrap();
            data["socket_id"].as_str().unwrap().to_string()
        } else {
            // Refused: put the frames back for the test to read.
            self.cx.outs[idx as usize]
                .buf
                .get_or_insert_with(Default::default)
                .extend(&out[head_end..]);
            String::new()
        };
        (idx, socket_id)
    }

    /// Sends one Pusher message from a client; returns the JSON messages it got back.
    fn send(&mut self, idx: u32, msg: Value) -> Vec<Value> {
        let frame = client_text(msg.to_string().as_bytes());
        self.input(idx, &frame);
        self.messages(idx)
    }

    /// The JSON messages queued for `idx` (after delivering what waits in the inbox).
    fn messages(&mut self, idx: u32) -> Vec<Value> {
        self.cx.drain_inbox();
        let out = self.output(idx);
        frames(&out)
            .iter()
            .filter(|f| f.0 == 1)
            .map(json_of)
            .collect()
    }

    fn subscribe(&mut self, idx: u32, channel: &str, auth: Option<String>) -> Vec<Value> {
        let mut data = json!({ "channel": channel });
        if let Some(a) = auth {
            data["auth"] = a.into();
        }
        self.send(idx, json!({"event": "pusher:subscribe", "data": data}))
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// A masked client text frame (mask key 0: the payload goes as it is).
fn client_text(payload: &[u8]) -> Vec<u8> {
    let mut f = vec![0x81];
    match payload.len() {
        n if n < 126 => f.push(0x80 | n as u8),
        n => {
            f.push(0x80 | 126);
            f.extend_from_slice(&(n as u16).to_be_bytes());
        }
    }
    f.extend_from_slice(&[0, 0, 0, 0]);
    f.extend_from_slice(payload);
    f
}

/// Splits server output into frames (servers never mask).
fn frames(mut b: &[u8]) -> Vec<Frame> {
    let mut out = Vec::new();
    while !b.is_empty() {
        let op = b[0] & 0x0f;
        let (len, hl) = match b[1] & 0x7f {
            126 => (u16::from_be_bytes([b[2], b[3]]) as usize, 4),
            127 => (
                u64::from_be_bytes(b[2..10].try_into().unwrap()) as usize,
                10,
            ),
            n => (n as usize, 2),
        };
        out.push((op, b[hl..hl + len].to_vec()));
        b = &b[hl + len..];
    }
    out
}

fn json_of(f: &Frame) -> Value {
    serde_json::from_slice(&f.1).unwrap()
}

/// The close code of a close frame.
fn close_code(f: &Frame) -> u16 {
    assert_eq!(f.0, 8, "not a close frame");
    u16::from_be_bytes([f.1[0], f.1[1]])
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

#[test]
fn handshake_establishes_a_connection_with_this_nodes_socket_id() {
    let mut f = fixture();
    let (idx, id) = f.connect(KEY);
    let sref = crate::conn::SocketRef::parse(&id).expect("digits.digits");
    assert_eq!((sref.node, sref.reactor, sref.slot), (5, 0, idx));
    assert_eq!(f.cx.conn(idx).phase, Phase::WebSocket);
}

#[test]
fn an_unknown_key_gets_4001_and_the_close() {
    let mut f = fixture();
    let (idx, id) = f.connect("nope");
    assert!(id.is_empty());
    let out = f.output(idx);
    let fr = frames(&out);
    let err = json_of(&fr[0]);
    assert_eq!(err["event"], "pusher:error");
    assert_eq!(err["data"]["code"], 4001);
    assert_eq!(close_code(&fr[1]), 4001);
    assert_eq!(f.cx.conn(idx).phase, Phase::Closing);
}

#[test]
fn ping_pong_and_a_malformed_message_keep_the_connection() {
    let mut f = fixture();
    let (idx, _) = f.connect(KEY);
    let r = f.send(idx, json!({"event": "pusher:ping", "data": {}}));
    assert_eq!(r, vec![json!({"event": "pusher:pong", "data": {}})]);
    f.input(idx, &client_text(b"{not json"));
    let r = f.messages(idx);
    assert_eq!(r[0]["event"], "pusher:error");
    assert_eq!(r[0]["data"]["code"], 4300);
    assert_eq!(f.cx.conn(idx).phase, Phase::WebSocket);
}

#[test]
fn public_subscribe_and_unsubscribe_move_the_directory() {
    let mut f = fixture();
    let (idx, _) = f.connect(KEY);
    let r = f.subscribe(idx, "news", None);
    assert_eq!(r[0]["event"], "pusher_internal:subscription_succeeded");
    assert_eq!(f.cx.shared.directory.channel(0, "news"), (1, 0));
    // Idempotent: confirmed again, counted once.
    f.subscribe(idx, "news", None);
    assert_eq!(f.cx.shared.directory.channel(0, "news"), (1, 0));
    f.send(
        idx,
        json!({"event": "pusher:unsubscribe", "data": {"channel": "news"}}),
    );
    assert_eq!(f.cx.shared.directory.channel(0, "news"), (0, 0));
    let seen: Vec<Transition> = f.rec.take().into_iter().map(|t| t.2).collect();
    assert_eq!(seen.first(), Some(&Transition::Occupied));
    assert_eq!(seen.last(), Some(&Transition::Vacated));
}

#[test]
fn private_channels_need_the_socket_signature() {
    let mut f = fixture();
    let (idx, id) = f.connect(KEY);
    let r = f.subscribe(idx, "private-a", Some(format!("{KEY}:bad")));
    assert_eq!(r[0]["event"], "pusher:subscription_error");
    assert_eq!(r[0]["data"]["status"], 401);
    let token = auth::sign_socket_token(KEY, SECRET, &[id.as_bytes(), b":", b"private-a"]);
    let r = f.subscribe(idx, "private-a", Some(token));
    assert_eq!(r[0]["event"], "pusher_internal:subscription_succeeded");
}

#[test]
fn presence_members_see_each_other_join_and_leave_in_order() {
    let mut f = fixture();
    let ch = "presence-room";
    let join = |f: &mut Fixture, idx: u32, id: &str, user: &str| {
        let data = json!({"user_id": user}).to_string();
        let token = auth::sign_socket_token(
            KEY,
            SECRET,
            &[id.as_bytes(), b":", ch.as_bytes(), b":", data.as_bytes()],
        );
        f.send(
            idx,
            json!({"event": "pusher:subscribe",
                   "data": {"channel": ch, "auth": token, "channel_data": data}}),
        )
    };
    let (a, a_id) = f.connect(KEY);
    let (b, b_id) = f.connect(KEY);
    let r = join(&mut f, a, &a_id, "u1");
    let data: Value = serde_json::from_str(r[0]["data"].as_str().unwrap()).unwrap();
    assert_eq!(data["presence"]["ids"], json!(["u1"]));
    let r = join(&mut f, b, &b_id, "u2");
    let data: Value = serde_json::from_str(r[0]["data"].as_str().unwrap()).unwrap();
    assert_eq!(data["presence"]["ids"], json!(["u1", "u2"]));
    // b joined with u2 already in its list: it is not told again; a is.
    assert!(f.messages(b).is_empty());
    let r = f.messages(a);
    assert_eq!(r[0]["event"], "pusher_internal:member_added");
    // b's connection ends: a hears member_removed.
    f.cx.kill(b);
    f.cx.free_dead();
    let r = f.messages(a);
    assert_eq!(r[0]["event"], "pusher_internal:member_removed");
    assert_eq!(f.cx.shared.directory.channel(0, ch), (1, 1));
}

#[test]
fn client_events_need_a_private_channel_and_reach_the_others() {
    let mut f = fixture();
    let (a, a_id) = f.connect(KEY);
    let (b, b_id) = f.connect(KEY);
    let r = f.send(
        a,
        json!({"event": "client-x", "channel": "public", "data": {}}),
    );
    assert_eq!(r[0]["data"]["code"], 4301);
    for (idx, id) in [(a, &a_id), (b, &b_id)] {
        let token = auth::sign_socket_token(KEY, SECRET, &[id.as_bytes(), b":", b"private-c"]);
        f.subscribe(idx, "private-c", Some(token));
    }
    let r = f.send(
        a,
        json!({"event": "client-x", "channel": "private-c", "data": {"n": 1}}),
    );
    assert!(r.is_empty(), "the sender does not get its own event");
    let r = f.messages(b);
    assert_eq!(r[0]["event"], "client-x");
    assert_eq!(r[0]["data"], json!({"n": 1}));
}

#[test]
fn a_bad_signin_closes_with_4009() {
    let mut f = fixture();
    let (idx, _) = f.connect(KEY);
    let msg = json!({"event": "pusher:signin",
                     "data": {"auth": format!("{KEY}:bad"), "user_data": "{\"id\":\"1\"}"}});
    f.input(idx, &client_text(msg.to_string().as_bytes()));
    let out = f.output(idx);
    let fr = frames(&out);
    assert_eq!(json_of(&fr[0])["data"]["code"], 4009);
    assert_eq!(close_code(&fr[1]), 4009);
}

#[test]
fn rest_publish_reaches_local_subscribers_and_head_has_no_body() {
    let mut f = fixture();
    let (sub, _) = f.connect(KEY);
    f.subscribe(sub, "news", None);
    let http = f.accept();
    let body = br#"{"name":"hello","channel":"news","data":"x"}"#;
    let path = "/apps/app-id/events";
    let query = auth::sign_rest_query("POST", path, &[], body, KEY, SECRET, unix_now());
    let req = format!(
        "POST {path}?{query} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n\
         Content-Length: {}\r\n\r\n",
        body.len()
    );
    let mut bytes = req.into_bytes();
    bytes.extend_from_slice(body);
    bytes.extend_from_slice(b"HEAD / HTTP/1.1\r\nHost: x\r\n\r\n");
    assert_eq!(f.input(http, &bytes), bytes.len());
    let out = String::from_utf8(f.output(http)).unwrap();
    assert!(out.starts_with("HTTP/1.1 200 "), "{out}");
    assert!(out.contains(r#"{"ok":true}"#));
    // The HEAD response: a 200 head announcing 2 bytes, and no body after it.
    let second = &out[out.rfind("HTTP/1.1 ").unwrap()..];
    assert!(second.starts_with("HTTP/1.1 200 ") && second.ends_with("\r\n\r\n"));
    let r = f.messages(sub);
    assert_eq!(
        r,
        vec![json!({"event": "hello", "channel": "news", "data": "x"})]
    );
}

#[test]
fn a_request_that_is_not_http_gets_400_and_the_close() {
    let mut f = fixture();
    let idx = f.accept();
    f.input(idx, b"\x16\x03\x01 garbage\r\n\r\n");
    let out = String::from_utf8_lossy(&f.output(idx)).to_string();
    assert!(out.starts_with("HTTP/1.1 400 "), "{out}");
    assert_eq!(f.cx.conn(idx).phase, Phase::Closing);
}
