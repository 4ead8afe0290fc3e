//! Pusher protocol messages: parsing what clients send, encoding what the server sends.
//!
//! Parsing borrows from the received text (no copy of `data`, which a client event relays
//! verbatim). Encoders append JSON to a `Vec<u8>`; names and messages are JSON-escaped.

use std::borrow::Cow;
use std::fmt;

use serde::Deserialize;
use serde_json::value::RawValue;

/// A message from a client: `{"event": .., "channel": .., "data": ..}`.
#[derive(Debug, Deserialize)]
pub struct Incoming<'a> {
    #[serde(borrow)]
    pub event: Cow<'a, str>,
    #[serde(borrow, default)]
    pub channel: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub data: Option<&'a RawValue>,
}

/// `data` of `pusher:subscribe`.
#[derive(Debug, Deserialize)]
pub struct SubscribeData<'a> {
    #[serde(borrow)]
    pub channel: Cow<'a, str>,
    #[serde(borrow, default)]
    pub auth: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub channel_data: Option<Cow<'a, str>>,
}

/// `data` of `pusher:unsubscribe`.
#[derive(Debug, Deserialize)]
pub struct UnsubscribeData<'a> {
    #[serde(borrow)]
    pub channel: Cow<'a, str>,
}

/// `data` of `pusher:signin`.
#[derive(Debug, Deserialize)]
pub struct SigninData<'a> {
    #[serde(borrow)]
    pub user_data: Cow<'a, str>,
    #[serde(borrow)]
    pub auth: Cow<'a, str>,
}

/// `channel_data` of a presence subscription: `{"user_id": .., "user_info": ..}`, both kept
/// as raw JSON (the id keeps the type the client signed).
#[derive(Debug, Deserialize)]
pub struct ChannelData<'a> {
    #[serde(borrow)]
    pub user_id: &'a RawValue,
    #[serde(borrow, default)]
    pub user_info: Option<&'a RawValue>,
}

/// `user_data` of a sign-in (only its `id` matters to the server).
#[derive(Debug, Deserialize)]
pub struct UserData<'a> {
    #[serde(borrow, default)]
    pub id: Option<&'a RawValue>,
}

/// Why a client message could not be understood.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadMessage(pub String);

impl fmt::Display for BadMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Parses a client message.
pub fn parse(text: &str) -> Result<Incoming<'_>, BadMessage> {
    serde_json::from_str(text).map_err(|e| {
        BadMessage(format!(
            "Invalid message: expected a JSON object with an \"event\" string ({e})"
        ))
    })
}

/// Parses the `data` of a protocol event into `T`; it must be a JSON object (as pusher-js
/// and the Pusher protocol send it).
pub fn parse_data<'a, T: Deserialize<'a>>(
    event: &str,
    data: Option<&'a RawValue>,
) -> Result<T, BadMessage> {
    let raw = data.ok_or_else(|| BadMessage(format!("Invalid {event} data: missing")))?;
    serde_json::from_str(raw.get()).map_err(|e| {
        BadMessage(format!(
            "Invalid {event} data: expected a JSON object with the right fields ({e})"
        ))
    })
}

/// Appends `s` as a JSON string literal.
#[inline]
pub fn write_str(out: &mut Vec<u8>, s: &str) {
    // Fast path: nothing to escape.
    if s.bytes().all(|b| b >= 0x20 && b != b'"' && b != b'\\') {
        out.push(b'"');
        out.extend_from_slice(s.as_bytes());
        out.push(b'"');
    } else {
        serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
    }
}

/// Appends `json` (already JSON) as a JSON string literal holding it, as Pusher does for
/// `data` fields that carry serialised JSON.
pub fn write_json_as_str(out: &mut Vec<u8>, json: &[u8]) {
    let s = std::str::from_utf8(json).expect("encoders produce UTF-8");
    serde_json::to_writer(&mut *out, s).expect("writing to a Vec cannot fail");
}

/// `{"event":"pusher:connection_established","data":"{\"socket_id\":\"..\",\"activity_timeout\":N}"}`
pub fn connection_established(out: &mut Vec<u8>, socket_id: &str, activity_timeout: u32) {
    out.extend_from_slice(br#"{"event":"pusher:connection_established","data":"{\"socket_id\":\""#);
    out.extend_from_slice(socket_id.as_bytes());
    out.extend_from_slice(br#"\",\"activity_timeout\":"#);
    out.extend_from_slice(itoa::Buffer::new().format(activity_timeout).as_bytes());
    out.extend_from_slice(br#"}"}"#);
}

/// `{"event":"pusher:error","data":{"code":C,"message":M}}`, with `channel` when given.
pub fn error(out: &mut Vec<u8>, code: u16, message: &str, channel: Option<&str>) {
    out.extend_from_slice(br#"{"event":"pusher:error","#);
    if let Some(ch) = channel {
        out.extend_from_slice(br#""channel":"#);
        write_str(out, ch);
        out.push(b',');
    }
    out.extend_from_slice(br#""data":{"code":"#);
    out.extend_from_slice(itoa::Buffer::new().format(code).as_bytes());
    out.extend_from_slice(br#","message":"#);
    write_str(out, message);
    out.extend_from_slice(b"}}");
}

/// `{"event":"pusher:pong","data":{}}` (soketi sends an object).
pub const PONG: &[u8] = br#"{"event":"pusher:pong","data":{}}"#;

/// `{"event":"pusher:ping","data":{}}`: sent after `activity_timeout` of client silence.
pub const PING: &[u8] = br#"{"event":"pusher:ping","data":{}}"#;

/// `subscription_succeeded` for a non-presence channel. Pusher's protocol gives it a
/// `data` of `"{}"` (soketi omits it; pusher-js accepts both).
pub fn subscription_succeeded(out: &mut Vec<u8>, channel: &str) {
    out.extend_from_slice(br#"{"event":"pusher_internal:subscription_succeeded","channel":"#);
    write_str(out, channel);
    out.extend_from_slice(br#","data":"{}"}"#);
}

/// `pusher:subscription_error` with soketi's `data` object; `kind` is its `type` (omitted
/// when `None`, as soketi does for invalid names).
pub fn subscription_error(
    out: &mut Vec<u8>,
    channel: &str,
    kind: Option<&str>,
    error: &str,
    status: u16,
) {
    out.extend_from_slice(br#"{"event":"pusher:subscription_error","channel":"#);
    write_str(out, channel);
    out.extend_from_slice(br#","data":{"#);
    if let Some(k) = kind {
        out.extend_from_slice(br#""type":"#);
        write_str(out, k);
        out.push(b',');
    }
    out.extend_from_slice(br#""error":"#);
    write_str(out, error);
    out.extend_from_slice(br#","status":"#);
    out.extend_from_slice(itoa::Buffer::new().format(status).as_bytes());
    out.extend_from_slice(b"}}");
}

/// A channel event: `{"event":E,"channel":C,"data":D}` plus `"user_id":U` when given.
/// `data` is raw JSON, relayed as received.
pub fn channel_event(
    out: &mut Vec<u8>,
    event: &str,
    channel: &str,
    data: &str,
    user_id: Option<&str>,
) {
    out.extend_from_slice(br#"{"event":"#);
    write_str(out, event);
    out.extend_from_slice(br#","channel":"#);
    write_str(out, channel);
    out.extend_from_slice(br#","data":"#);
    out.extend_from_slice(data.as_bytes());
    if let Some(u) = user_id {
        out.extend_from_slice(br#","user_id":"#);
        out.extend_from_slice(u.as_bytes());
    }
    out.push(b'}');
}

/// `{"event":"pusher:cache_miss","channel":C}` (no `data`, as soketi 1.6.1).
pub fn cache_miss(out: &mut Vec<u8>, channel: &str) {
    out.extend_from_slice(br#"{"event":"pusher:cache_miss","channel":"#);
    write_str(out, channel);
    out.push(b'}');
}

/// `pusher_internal:member_added`; `user_id` and `user_info` are raw JSON.
pub fn member_added(out: &mut Vec<u8>, channel: &str, user_id: &str, user_info: &str) {
    let mut inner = Vec::with_capacity(32 + user_id.len() + user_info.len());
    inner.extend_from_slice(br#"{"user_id":"#);
    inner.extend_from_slice(user_id.as_bytes());
    inner.extend_from_slice(br#","user_info":"#);
    inner.extend_from_slice(user_info.as_bytes());
    inner.push(b'}');
    out.extend_from_slice(br#"{"event":"pusher_internal:member_added","channel":"#);
    write_str(out, channel);
    out.extend_from_slice(br#","data":"#);
    write_json_as_str(out, &inner);
    out.push(b'}');
}

/// `pusher_internal:member_removed`; `user_id` is raw JSON.
pub fn member_removed(out: &mut Vec<u8>, channel: &str, user_id: &str) {
    let mut inner = Vec::with_capacity(16 + user_id.len());
    inner.extend_from_slice(br#"{"user_id":"#);
    inner.extend_from_slice(user_id.as_bytes());
    inner.push(b'}');
    out.extend_from_slice(br#"{"event":"pusher_internal:member_removed","channel":"#);
    write_str(out, channel);
    out.extend_from_slice(br#","data":"#);
    write_json_as_str(out, &inner);
    out.push(b'}');
}

/// The `hash` key of a raw JSON user id: a string id's text, or a number's digits.
pub fn hash_key(user_id: &str) -> Cow<'_, str> {
    if user_id.starts_with('"') {
        serde_json::from_str::<String>(user_id)
            .map(Cow::Owned)
            .unwrap_or(Cow::Borrowed(user_id))
    } else {
        Cow::Borrowed(user_id)
    }
}

/// `subscription_succeeded` for a presence channel, with `{presence: {ids, hash, count}}`.
pub fn presence_succeeded<'m>(
    out: &mut Vec<u8>,
    channel: &str,
    members: impl Iterator<Item = (&'m str, &'m str)> + Clone,
) {
    let mut inner = Vec::with_capacity(128);
    inner.extend_from_slice(br#"{"presence":{"ids":["#);
    let mut count = 0usize;
    for (i, (id, _)) in members.clone().enumerate() {
        if i > 0 {
            inner.push(b',');
        }
        inner.extend_from_slice(id.as_bytes());
        count += 1;
    }
    inner.extend_from_slice(br#"],"hash":{"#);
    for (i, (id, info)) in members.enumerate() {
        if i > 0 {
            inner.push(b',');
        }
        write_str(&mut inner, &hash_key(id));
        inner.push(b':');
        inner.extend_from_slice(info.as_bytes());
    }
    inner.extend_from_slice(br#"},"count":"#);
    inner.extend_from_slice(itoa::Buffer::new().format(count).as_bytes());
    inner.extend_from_slice(b"}}");
    out.extend_from_slice(br#"{"event":"pusher_internal:subscription_succeeded","channel":"#);
    write_str(out, channel);
    out.extend_from_slice(br#","data":"#);
    write_json_as_str(out, &inner);
    out.push(b'}');
}

/// `{"event":"pusher:signin_success","data":<data as received>}`.
pub fn signin_success(out: &mut Vec<u8>, data: &str) {
    out.extend_from_slice(br#"{"event":"pusher:signin_success","data":"#);
    out.extend_from_slice(data.as_bytes());
    out.push(b'}');
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(f: impl FnOnce(&mut Vec<u8>)) -> String {
        let mut v = Vec::new();
        f(&mut v);
        let text = String::from_utf8(v).unwrap();
        serde_json::from_str::<serde_json::Value>(&text).expect("valid JSON");
        text
    }

    #[test]
    fn encoders_produce_pusher_json() {
        assert_eq!(
            s(|o| connection_established(o, "1.2", 30)),
            r#"{"event":"pusher:connection_established","data":"{\"socket_id\":\"1.2\",\"activity_timeout\":30}"}"#
        );
        assert_eq!(
            s(|o| error(o, 4001, "App key x does not exist.", None)),
            r#"{"event":"pusher:error","data":{"code":4001,"message":"App key x does not exist."}}"#
        );
        assert_eq!(
            s(|o| error(o, 4301, "m", Some("private-a"))),
            r#"{"event":"pusher:error","channel":"private-a","data":{"code":4301,"message":"m"}}"#
        );
        assert_eq!(
            s(|o| subscription_error(o, "a", None, "e\"x", 4009)),
            r#"{"event":"pusher:subscription_error","channel":"a","data":{"error":"e\"x","status":4009}}"#
        );
        assert_eq!(
            s(|o| channel_event(o, "ev", "ch", r#"{"a":1}"#, Some("7"))),
            r#"{"event":"ev","channel":"ch","data":{"a":1},"user_id":7}"#
        );
        assert_eq!(
            s(|o| member_added(o, "presence-a", "1", r#"{"name":"J"}"#)),
            r#"{"event":"pusher_internal:member_added","channel":"presence-a","data":"{\"user_id\":1,\"user_info\":{\"name\":\"J\"}}"}"#
        );
        assert_eq!(
            s(|o| member_removed(o, "presence-a", "\"u\"")),
            r#"{"event":"pusher_internal:member_removed","channel":"presence-a","data":"{\"user_id\":\"u\"}"}"#
        );
        let members = [("1", r#"{"n":1}"#), ("\"b\"", "null")];
        let text = s(|o| presence_succeeded(o, "presence-a", members.iter().map(|&(a, b)| (a, b))));
        let v: serde_json::Value = serde_json::from_str(&text).unwrap();
        let data: serde_json::Value = serde_json::from_str(v["data"].as_str().unwrap()).unwrap();
        assert_eq!(data["presence"]["count"], 2);
        assert_eq!(data["presence"]["ids"][0], 1);
        assert_eq!(data["presence"]["ids"][1], "b");
        assert_eq!(data["presence"]["hash"]["1"]["n"], 1);
        assert!(data["presence"]["hash"]["b"].is_null());
    }

    #[test]
    fn parse_messages() {
        let m =
            parse(r#"{"event":"pusher:subscribe","data":{"channel":"a","auth":"k:s"}}"#).unwrap();
        assert_eq!(m.event, "pusher:subscribe");
        let d: SubscribeData = parse_data("pusher:subscribe", m.data).unwrap();
        assert_eq!(d.channel, "a");
        assert_eq!(d.auth.as_deref(), Some("k:s"));
        let m = parse(r#"{"event":"pusher:subscribe","data":"{\"channel\":\"b\"}"}"#).unwrap();
        let d: Result<SubscribeData, _> = parse_data("pusher:subscribe", m.data);
        assert!(d.is_err());
        for bad in ["", "[]", "{}", r#"{"event":1}"#, "nope", r#"{"event":"x""#] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let m = parse(r#"{"event":"pusher:subscribe"}"#).unwrap();
        assert!(parse_data::<SubscribeData>("pusher:subscribe", m.data).is_err());
    }
}
