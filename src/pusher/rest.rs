//! Bodies of the Pusher HTTP API, sans-IO: parsing and validating `POST /events` and
//! `POST /batch_events` (soketi's rules, plus Pusher's channel-name and
//! socket-id checks). The routes themselves are in `reactor/api.rs`.

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::value::RawValue;

use crate::config::AppConfig;
use crate::pusher::channel;

/// An API error: the HTTP status and the message of soketi's `{"error", "code"}` body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub status: u16,
    pub message: String,
}

impl ApiError {
    pub fn new(status: u16, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            message: message.into(),
        }
    }
}

/// One event of `POST /events` or of a batch. `data` is kept as raw JSON and relayed as
/// received.
#[derive(Debug, Deserialize)]
pub struct EventBody<'a> {
    #[serde(borrow, default)]
    pub name: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub data: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pub channel: Option<Cow<'a, str>>,
    #[serde(borrow, default)]
    pub channels: Option<Vec<Cow<'a, str>>>,
    #[serde(borrow, default)]
    pub socket_id: Option<Cow<'a, str>>,
}

impl EventBody<'_> {
    /// The target channels: `channels`, else `channel`.
    pub fn channel_list(&self) -> Vec<&str> {
        match (&self.channels, &self.channel) {
            (Some(list), _) => list.iter().map(|c| &**c).collect(),
            (None, Some(c)) => vec![&**c],
            (None, None) => Vec::new(),
        }
    }

    /// The event name ("" when absent).
    pub fn name(&self) -> &str {
        self.name.as_deref().unwrap_or("")
    }

    /// The raw JSON data (`null` when absent).
    pub fn data(&self) -> &str {
        self.data.map_or("null", |d| d.get())
    }
}

/// The body of `POST /batch_events`.
#[derive(Debug, Deserialize)]
pub struct BatchBody<'a> {
    #[serde(borrow)]
    pub batch: Vec<EventBody<'a>>,
}

/// Parses a `POST /events` body.
pub fn parse_event(body: &[u8]) -> Result<EventBody<'_>, ApiError> {
    serde_json::from_slice(body).map_err(|_| ApiError::new(400, "The received data is incorrect"))
}

/// Parses a `POST /batch_events` body.
pub fn parse_batch(body: &[u8]) -> Result<BatchBody<'_>, ApiError> {
    serde_json::from_slice(body).map_err(|_| {
        ApiError::new(
            400,
            "The received data is incorrect: expected {\"batch\": [...]}",
        )
    })
}

/// JavaScript falsiness of a JSON value (soketi rejects falsy `data`).
pub fn falsy(raw: &RawValue) -> bool {
    let t = raw.get();
    matches!(t, "\"\"" | "null" | "false") || t.parse::<f64>().is_ok_and(|v| v == 0.0)
}

/// Bytes of an event's data as soketi measures it: a string's UTF-8 length, else its JSON.
pub fn payload_bytes(raw: &str) -> usize {
    if raw.starts_with('"') {
        serde_json::from_str::<String>(raw).map_or(raw.len(), |s| s.len())
    } else {
        raw.len()
    }
}

/// A Pusher socket id: two runs of digits joined by a dot.
pub fn valid_socket_id(id: &str) -> bool {
    id.split_once('.').is_some_and(|(a, b)| {
        !a.is_empty() && !b.is_empty() && a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit())
    })
}

/// soketi's event validation, first failure wins, then the channel names and the socket id
/// as Pusher checks them.
pub fn validate(cfg: &AppConfig, ev: &EventBody<'_>) -> Result<(), ApiError> {
    let channels = ev.channel_list();
    if channels.is_empty() || ev.name().is_empty() || ev.data.is_none_or(falsy) {
        return Err(ApiError::new(400, "The received data is incorrect"));
    }
    if channels.len() > cfg.max_event_channels_at_once {
        return Err(ApiError::new(
            400,
            format!(
                "Cannot broadcast to more than {} channels at once",
                cfg.max_event_channels_at_once
            ),
        ));
    }
    if ev.name().chars().count() > cfg.max_event_name_length {
        return Err(ApiError::new(
            400,
            format!(
                "Event name is too long. Maximum allowed size is {}.",
                cfg.max_event_name_length
            ),
        ));
    }
    if payload_bytes(ev.data()) as f64 / 1024.0 > cfg.max_event_payload_in_kb {
        return Err(ApiError::new(
            413,
            format!(
                "The event data should be less than {} KB.",
                cfg.max_event_payload_in_kb
            ),
        ));
    }
    for ch in &channels {
        if !channel::valid_publish_name(ch, cfg.max_channel_name_length) {
            return Err(ApiError::new(400, format!("Invalid channel name: {ch:?}")));
        }
    }
    match ev.socket_id.as_deref() {
        Some(id) if !valid_socket_id(id) => {
            Err(ApiError::new(400, format!("Invalid socket_id: {id:?}")))
        }
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Config;

    #[test]
    fn validation_table() {
        let mut cfg = Config::default().apps.remove(0);
        cfg.max_event_channels_at_once = 2;
        cfg.max_event_name_length = 5;
        cfg.max_event_payload_in_kb = 1.0;
        let big = format!(
            r#"{{"name":"e","channel":"c","data":"{}"}}"#,
            "x".repeat(1025)
        );
        let table: &[(&str, Option<u16>)] = &[
            (r#"{"name":"e","channel":"c","data":"x"}"#, None),
            (r#"{"name":"e","channels":["a","b"],"data":{"k":1}}"#, None),
            (
                r##"{"name":"e","channel":"#server-to-user-7","data":"x"}"##,
                None,
            ),
            (
                r#"{"name":"e","channel":"c","data":"x","socket_id":"1.2"}"#,
                None,
            ),
            (r#"{"name":"e","data":"x"}"#, Some(400)),
            (r#"{"channel":"c","data":"x"}"#, Some(400)),
            (r#"{"name":"e","channel":"c"}"#, Some(400)),
            (r#"{"name":"e","channel":"c","data":""}"#, Some(400)),
            (r#"{"name":"e","channel":"c","data":0}"#, Some(400)),
            (r#"{"name":"e","channel":"c","data":false}"#, Some(400)),
            (
                r#"{"name":"e","channels":["a","b","c"],"data":"x"}"#,
                Some(400),
            ),
            (r#"{"name":"toolong","channel":"c","data":"x"}"#, Some(400)),
            (&big, Some(413)),
            (r#"{"name":"e","channel":"a b","data":"x"}"#, Some(400)),
            (
                r#"{"name":"e","channel":"c","data":"x","socket_id":"1"}"#,
                Some(400),
            ),
        ];
        for (body, want) in table {
            let ev = parse_event(body.as_bytes()).unwrap();
            assert_eq!(validate(&cfg, &ev).err().map(|e| e.status), *want, "{body}");
        }
        assert_eq!(parse_event(b"nope").unwrap_err().status, 400);
        assert_eq!(parse_batch(br#"{"events":[]}"#).unwrap_err().status, 400);
        assert_eq!(payload_bytes(r#""\u00e9""#), 2);
        assert_eq!(payload_bytes(r#"{"a":1}"#), 7);
    }
}
