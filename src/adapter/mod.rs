//! Where a publish leaves the node and where one from another node comes in.
//!
//! [`Adapter::broadcast`] is called by a reactor after it has delivered a publish locally
//! (REST events and client events, [`crate::session::Context::publish`]); it must never wait.
//! [`Local`] does nothing (one node). [`redis::Redis`] speaks soketi's inter-node protocol
//! (docs/compat.md, `redis-adapter`) over Redis pub/sub on threads of its own: the reactor only encodes the
//! envelope and hands it to a bounded queue; what arrives from the other nodes is decoded once
//! per node and enters the reactors as the same `Command::Publish` a local publish becomes
//! ([`deliver`]).
//!
//! Only broadcasts cross nodes so far: counts, presence members and REST reads are still
//! per node (issue 10's later slices).

pub mod redis;

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::apps::{Answer, Lookup, Waiter};
use crate::conn::SocketRef;
use crate::pusher::channel;
use crate::reactor::inbox::Publish;
use crate::session::Shared;

/// How a node reaches the others.
pub trait Adapter: Send + Sync {
    /// Sends one Pusher message (`message_json`, the whole `{"event":…}` frame payload) for
    /// `channel` of app `app_id` to the other nodes, to be delivered to every subscriber
    /// there except the socket `except_socket_id`. Never blocks: when the way out is full or
    /// down the message is dropped and counted.
    fn broadcast(
        &self,
        app_id: &str,
        channel: &str,
        message_json: &[u8],
        except_socket_id: Option<&str>,
    );

    /// `false` when [`Adapter::broadcast`] does nothing (the caller skips preparing it).
    fn enabled(&self) -> bool {
        true
    }
}

/// One node: nothing leaves it.
#[derive(Debug, Default)]
pub struct Local;

impl Adapter for Local {
    fn broadcast(&self, _: &str, _: &str, _: &[u8], _: Option<&str>) {}

    fn enabled(&self) -> bool {
        false
    }
}

/// soketi's broadcast envelope (docs/compat.md, `redis-adapter`), in soketi's key order:
/// `{"uuid":…,"appId":…,"channel":…,"data":"<Pusher message JSON>","exceptingId":…|null}`.
#[derive(Debug, Serialize, Deserialize, PartialEq)]
pub struct Envelope<'a> {
    #[serde(borrow)]
    pub uuid: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "appId", borrow)]
    pub app_id: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    pub channel: Option<std::borrow::Cow<'a, str>>,
    #[serde(borrow)]
    pub data: Option<std::borrow::Cow<'a, str>>,
    #[serde(rename = "exceptingId", borrow)]
    pub excepting_id: Option<std::borrow::Cow<'a, str>>,
}

/// Encodes a broadcast envelope. `None` when the message is not UTF-8 (a Pusher message is
/// JSON text, so that does not happen).
pub fn encode_envelope(
    uuid: &str,
    app_id: &str,
    channel: &str,
    message_json: &[u8],
    except_socket_id: Option<&str>,
) -> Option<Vec<u8>> {
    let data = std::str::from_utf8(message_json).ok()?;
    let env = Envelope {
        uuid: Some(uuid.into()),
        app_id: Some(app_id.into()),
        channel: Some(channel.into()),
        data: Some(data.into()),
        excepting_id: except_socket_id.map(Into::into),
    };
    serde_json::to_vec(&env).ok()
}

/// What an envelope from the bus is for this node.
#[derive(Debug, PartialEq)]
pub enum Inbound<'a> {
    /// Deliver `data` on `channel` of app `app_id`, except to `except` (when it is one of
    /// ours: another node's or soketi's socket ids never resolve here).
    Deliver {
        app_id: &'a str,
        channel: &'a str,
        data: &'a str,
        except: Option<SocketRef>,
    },
    /// Our own envelope, echoed by the bus.
    Own,
    /// Missing or empty `appId`, `channel` or `data`, or `data` that is not JSON (soketi
    /// ignores those too).
    Invalid,
}

/// Decides what `env` (already parsed) is for the node whose uuid is `own_uuid`.
pub fn classify<'a>(env: &'a Envelope<'_>, own_uuid: &str) -> Inbound<'a> {
    if env.uuid.as_deref() == Some(own_uuid) {
        return Inbound::Own;
    }
    // soketi 1.6.1 (`onMessage`): `!appId || !channel || !data` skips it, so an empty string
    // counts as missing; and it `JSON.parse`s `data` before sending, so data that is not JSON
    // is never delivered there either.
    let given = |v: &'a Option<std::borrow::Cow<'_, str>>| v.as_deref().filter(|s| !s.is_empty());
    match (given(&env.app_id), given(&env.channel), given(&env.data)) {
        (Some(app_id), Some(channel), Some(data))
            if serde_json::from_str::<serde::de::IgnoredAny>(data).is_ok() =>
        {
            Inbound::Deliver {
                app_id,
                channel,
                data,
                except: env.excepting_id.as_deref().and_then(SocketRef::parse),
            }
        }
        _ => Inbound::Invalid,
    }
}

/// Delivers a message from another node to this node's subscribers: one encoded frame,
/// handed to the reactors that hold subscribers of `channel` (every reactor for a
/// server-to-user channel). A cache channel's last event is stored as for a local publish.
/// `false` when the app is unknown here (or its store cannot answer at once).
pub fn deliver(
    shared: &Shared,
    app_id: &str,
    channel_name: &str,
    data: &str,
    except: Option<SocketRef>,
) -> bool {
    // Only an answer at once: this thread must not hold a reactor's waiter. A store that
    // would answer later (SQL) skips the message; the static store always answers at once.
    let nobody = || Waiter::new(shared.inboxes.clone(), u8::MAX, u32::MAX, u32::MAX);
    let app = match shared.store.by_id(app_id, &nobody) {
        Lookup::Ready(Answer::Found(app)) => app,
        _ => return false,
    };
    let json = data.as_bytes();
    let cache_seq = if channel::is_cache(channel_name) {
        let ttl = Duration::from_secs(shared.config.channel_cache_ttl_secs);
        shared
            .directory
            .cache_store(app.idx, channel_name, json.into(), Instant::now() + ttl)
    } else {
        0
    };
    let p = Arc::new(Publish {
        app: app.idx as u32,
        items: vec![crate::fanout::encode_item(channel_name, json, cache_seq)],
        except,
        accepted_at: Instant::now(),
    });
    crate::session::route_publish(shared, &p, None);
    true
}

/// A random version-4 UUID, this node's name on the bus (soketi uses `uuid.v4()`).
pub fn node_uuid() -> String {
    let (a, b) = (crate::sys::random_seed(), crate::sys::random_seed());
    let a = (a & !0xf000) | 0x4000; // version 4
    let b = (b & !(0b11 << 62)) | (0b10 << 62); // variant 10
    format!(
        "{:08x}-{:04x}-{:04x}-{:04x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xffff,
        b >> 48,
        b & 0xffff_ffff_ffff
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_envelope_is_soketis() {
        let out = encode_envelope(
            "u-1",
            "app-id",
            "private-a",
            br#"{"event":"e","channel":"private-a","data":"{\"x\":1}"}"#,
            Some("1.2"),
        )
        .unwrap();
        assert_eq!(
            std::str::from_utf8(&out).unwrap(),
            r#"{"uuid":"u-1","appId":"app-id","channel":"private-a","data":"{\"event\":\"e\",\"channel\":\"private-a\",\"data\":\"{\\\"x\\\":1}\"}","exceptingId":"1.2"}"#
        );
        let out = encode_envelope("u", "a", "c", b"{}", None).unwrap();
        assert_eq!(
            out,
            br#"{"uuid":"u","appId":"a","channel":"c","data":"{}","exceptingId":null}"#
        );
    }

    #[test]
    fn inbound_envelopes() {
        let parse = |s: &'static str| serde_json::from_str::<Envelope<'_>>(s).unwrap();
        let env = parse(r#"{"uuid":"me","appId":"a","channel":"c","data":"{}"}"#);
        assert_eq!(classify(&env, "me"), Inbound::Own);
        let env = parse(r#"{"uuid":"x","appId":"a","channel":"c","data":"{}","exceptingId":null}"#);
        assert_eq!(
            classify(&env, "me"),
            Inbound::Deliver {
                app_id: "a",
                channel: "c",
                data: "{}",
                except: None
            }
        );
        // An id that does not parse excludes nobody. (One that parses but was made by another
        // node, or by soketi in the same digits-dot-digits shape, never resolves to a local
        // socket: its node part or its random part differs.)
        let env =
            parse(r#"{"uuid":"x","appId":"a","channel":"c","data":"{}","exceptingId":"x.y"}"#);
        assert!(matches!(
            classify(&env, "me"),
            Inbound::Deliver { except: None, .. }
        ));
        for missing in [
            r#"{"uuid":"x","channel":"c","data":"{}"}"#,
            r#"{"uuid":"x","appId":"a","data":"{}"}"#,
            r#"{"uuid":"x","appId":"a","channel":"c"}"#,
            r#"{"uuid":"x","appId":"","channel":"c","data":"{}"}"#,
            r#"{"uuid":"x","appId":"a","channel":"","data":"{}"}"#,
            r#"{"uuid":"x","appId":"a","channel":"c","data":""}"#,
            r#"{"uuid":"x","appId":"a","channel":"c","data":"not json"}"#,
        ] {
            assert_eq!(classify(&parse(missing), "me"), Inbound::Invalid);
        }
    }

    #[test]
    fn node_uuids_are_v4() {
        let u = node_uuid();
        assert_eq!(u.len(), 36, "{u}");
        assert_eq!(&u[14..15], "4", "{u}");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
        assert_ne!(u, node_uuid());
    }
}
