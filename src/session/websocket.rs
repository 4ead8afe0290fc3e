//! The Pusher protocol over a WebSocket: the handshake, `connection_established`, and every
//! message a client may send (ping, subscribe, unsubscribe, sign-in, client events).
//!
//! Parsing and encoding live in [`crate::pusher`]; this file decides and acts, on the
//! reactor's state. Every malformed message gets a `pusher:error` for that socket only.

use std::sync::Arc;
use std::time::Instant;

use super::http1::Req;
use super::Context;
use crate::apps::{Answer, App, Lookup};
use crate::conn::{flags, AppLookup, Phase, Sub};
use crate::directory::Joiner;
use crate::fanout::encode_item;
use crate::http::{self, Head, Method};
use crate::metrics::stats::{AppCounter, Rejection};
use crate::pusher::auth;
use crate::pusher::channel::{self, Kind};
use crate::pusher::error::{Close, Code};
use crate::pusher::event::{
    self, ChannelData, Incoming, SigninData, SubscribeData, UnsubscribeData, UserData,
};
use crate::pusher::rest::payload_bytes;
use crate::pusher::user::{canonical_user_id, signin_user_id};
use crate::reactor::inbox;
use crate::ws::{self, Message, WsError};

impl Context {
    // ------------------------------------------------------------ handshake

    /// `GET /app/{key}`: validates the handshake (RFC 6455 §4.2.1), answers 101 and runs
    /// the Pusher connection-open sequence. Returns `true` when the connection upgraded.
    pub(crate) fn upgrade(&mut self, req: Req, head: &Head<'_>, key: &str) -> bool {
        let idx = req.idx;
        let bad = |r: &mut Context, status: u16, msg: &str, extra: &[(&str, &str)]| {
            r.my_stats().reject(Rejection::BadHandshake);
            r.respond(req.closing(), status, "text/plain", msg.as_bytes(), extra);
            false
        };
        if head.method != Method::Get {
            return bad(self, 405, "Method Not Allowed", &[("Allow", "GET")]);
        }
        // "The method of the request MUST be GET, and the HTTP version MUST be at least 1.1."
        if head.minor_version < 1 {
            return bad(self, 400, "WebSocket needs HTTP/1.1", &[]);
        }
        if !head.ws.upgrade_websocket || !head.ws.connection_upgrade {
            return bad(
                self,
                426,
                "Expected a WebSocket upgrade",
                &[("Upgrade", "websocket"), ("Connection", "Upgrade")],
            );
        }
        // "If this version does not match a version understood by the server, the server
        // MUST abort the WebSocket handshake ... and return ... |Sec-WebSocket-Version|."
        if head.ws.version != Some("13") {
            return bad(
                self,
                426,
                "Unsupported WebSocket version",
                &[("Sec-WebSocket-Version", "13")],
            );
        }
        let Some(ws_key) = head.ws.key.filter(|k| http::valid_ws_key(k)) else {
            return bad(self, 400, "Invalid Sec-WebSocket-Key", &[]);
        };
        http::write_switching_protocols(self.output(idx), ws_key);
        let rand = self.next_rand();
        let now = self.now;
        let c = self.conn_mut(idx);
        c.phase = Phase::WebSocket;
        c.rand = rand;
        c.mark = now;
        self.open(idx, key);
        true
    }

    /// soketi's `onOpen`, except that rejected sockets are never counted: looks the key up
    /// and, when the store answers at once, finishes opening; otherwise the socket waits
    /// (input held) for [`Context::opened`] with the late answer.
    fn open(&mut self, idx: u32, key: &str) {
        if self.shared.is_closing() {
            self.my_stats().reject(Rejection::ShuttingDown);
            return self.end(idx, Close::ClosingOnOpen);
        }
        match self.shared.store.by_key(key, &|| self.waiter(idx)) {
            Lookup::Ready(answer) => self.opened(idx, answer, Some(key)),
            Lookup::Pending => self.await_app(idx, key),
        }
    }

    /// Finishes opening with the store's answer for the socket's key (`key`: when known
    /// here; a late answer finds it kept on the socket).
    pub(crate) fn opened(&mut self, idx: u32, answer: Answer, key: Option<&str>) {
        let kept = match self
            .conn_mut(idx)
            .extra
            .as_mut()
            .and_then(|e| e.app_lookup.take())
        {
            Some(AppLookup::Waiting(asked)) => Some(asked),
            _ => None,
        };
        let app = match answer {
            Answer::Found(app) => app,
            Answer::Missing => {
                self.my_stats().reject(Rejection::UnknownApp);
                let key = key.or(kept.as_deref()).unwrap_or_default();
                let msg = format!("App key {key} does not exist.");
                return self.error_and_close(idx, Code::AppNotFound.as_u16(), &msg);
            }
            // Not in rejected_connections_total: that family's label set is fixed until the
            // closes-by-code families arrive.
            Answer::Unavailable => return self.end(idx, Close::StoreUnavailable),
        };
        if !app.config.enabled {
            self.my_stats().reject(Rejection::AppDisabled);
            return self.end(idx, Close::AppDisabled);
        }
        if !app.try_open_connection() {
            self.my_stats().reject(Rejection::OverQuota);
            return self.end(idx, Close::OverQuota);
        }
        let now = self.now;
        let auth_ms = super::ms_u32(self.shared.config.user_authentication_timeout_ms);
        let c = self.conn_mut(idx);
        c.app = app.idx as u32;
        c.set(flags::COUNTED);
        if app.config.enable_user_authentication {
            c.extra_mut().auth_deadline = Some(now.wrapping_add(auth_ms));
        }
        let s = self.stats.reactor(self.id as usize);
        s.add_gauge(app.idx, AppCounter::Connected, 1);
        s.add(app.idx, AppCounter::NewConnections, 1);
        let mut id = String::with_capacity(24);
        self.socket_ref(idx).socket_id(&mut id);
        let activity = self.shared.config.activity_timeout_secs;
        self.send_with(idx, |m| event::connection_established(m, &id, activity));
        debug_log!(self, "socket {id}: opened (app {})", app.id());
    }

    // ------------------------------------------------------------ frames

    /// Decodes WebSocket frames from `buf`; returns the bytes consumed.
    pub(crate) fn process_ws(&mut self, idx: u32, buf: &mut [u8]) -> usize {
        if self.conn(idx).has(flags::AWAITING) {
            return 0; // held until the app store answers
        }
        let limits = ws::Limits {
            max_message_bytes: self.shared.config.ws_max_message_bytes,
        };
        let mut dec = std::mem::take(&mut self.conn_mut(idx).decoder);
        let mut pos = 0;
        while pos < buf.len() {
            match dec.decode(&mut buf[pos..], &limits) {
                Ok((0, _)) => break,
                Ok((n, None)) => pos += n,
                Ok((n, Some(msg))) => {
                    pos += n;
                    self.on_message(idx, msg);
                }
                Err(e) => {
                    self.fail_ws(idx, e);
                    return buf.len();
                }
            }
            if self.live(idx).is_none_or(|c| c.phase != Phase::WebSocket) {
                return buf.len();
            }
        }
        // Free a finished reassembly buffer now rather than holding it while idle.
        if dec.pending_bytes() == 0 {
            dec.reset();
        }
        self.conn_mut(idx).decoder = dec;
        pos
    }

    /// A WebSocket-level fault: close with 1002 / 1007 / 1009, this socket only.
    fn fail_ws(&mut self, idx: u32, e: WsError) {
        self.close_ws(idx, e.close_code(), e.reason());
    }

    fn on_message(&mut self, idx: u32, msg: Message<'_>) {
        match msg {
            Message::Text(text) => self.on_text(idx, text),
            Message::Binary(bytes) => match std::str::from_utf8(bytes) {
                // soketi parses binary frames as JSON text too.
                Ok(text) => self.on_text(idx, text),
                Err(_) => self.bad_message(idx, "Binary message is not UTF-8 JSON"),
            },
            Message::Ping(payload) => {
                // "Upon receipt of a Ping frame, an endpoint MUST send a Pong frame in
                // response ... [with] identical Application data."
                let out = self.output(idx);
                ws::frame::write_frame(out, ws::OpCode::Pong, payload);
            }
            Message::Pong(_) => {}
            Message::Close { code, .. } => {
                // Echo the status code (RFC 6455 §5.5.1), or 1000 when none was given.
                let code = code.unwrap_or(1000);
                self.close_ws(idx, code, "");
            }
        }
    }

    fn bad_message(&mut self, idx: u32, message: &str) {
        self.send_with(idx, |m| {
            event::error(m, Code::BadMessage.as_u16(), message, None)
        });
    }

    fn on_text(&mut self, idx: u32, text: &str) {
        let app = self.conn(idx).app as usize;
        let s = self.stats.reactor(self.id as usize);
        s.add(app, AppCounter::WsMessagesReceived, 1);
        s.add(app, AppCounter::SocketReceivedBytes, text.len() as u64);
        let msg = match event::parse(text) {
            Ok(m) => m,
            Err(e) => return self.bad_message(idx, &e.0),
        };
        match &*msg.event {
            "pusher:ping" => {
                self.send_json(idx, event::PONG);
                if self.shared.is_closing() {
                    self.end(idx, Close::Closing);
                }
            }
            "pusher:pong" => {}
            "pusher:subscribe" => self.subscribe(idx, &msg),
            "pusher:unsubscribe" => self.unsubscribe(idx, &msg),
            "pusher:signin" => self.signin(idx, &msg),
            e if e.starts_with("client-") => self.client_event(idx, &msg),
            // Unknown events are ignored, as soketi and Pusher do.
            _ => {}
        }
    }

    // ------------------------------------------------------------ subscribe

    fn subscription_error(
        &mut self,
        idx: u32,
        channel: &str,
        kind: Option<&str>,
        error: &str,
        status: u16,
    ) {
        debug_log!(
            self,
            "socket {}: subscription to {channel:?} refused: {} {status} {error:?}",
            self.socket_id(idx),
            kind.unwrap_or("")
        );
        self.send_with(idx, |m| {
            event::subscription_error(m, channel, kind, error, status)
        });
    }

    fn app_of(&self, idx: u32) -> Arc<App> {
        self.shared.apps.get(self.conn(idx).app as usize).clone()
    }

    fn socket_id(&self, idx: u32) -> String {
        let mut id = String::with_capacity(24);
        self.socket_ref(idx).socket_id(&mut id);
        id
    }

    fn subscribe(&mut self, idx: u32, msg: &Incoming<'_>) {
        if self.shared.is_closing() {
            return self.end(idx, Close::Closing);
        }
        let d: SubscribeData = match event::parse_data("pusher:subscribe", msg.data) {
            Ok(d) => d,
            Err(e) => return self.bad_message(idx, &e.0),
        };
        // Publishes accepted before this subscription may wait in the inbox: deliver them
        // first, so that a subscriber never receives an event acknowledged before it joined.
        self.drain_inbox();
        if self.live(idx).is_none_or(|c| c.phase != Phase::WebSocket) {
            return;
        }
        let ch: &str = &d.channel;
        let app = self.app_of(idx);
        let max = app.config.max_channel_name_length;
        if ch.chars().count() > max {
            let err = format!("The channel name is longer than the allowed {max} characters.");
            return self.limit_reached(idx, ch, &err, Code::Unauthorized);
        }
        let kind = channel::kind(ch);
        let socket_id = self.socket_id(idx);
        let mut presence: Option<(Box<str>, Box<str>)> = None;
        match kind {
            Kind::Public => {}
            Kind::Private | Kind::Encrypted => {
                let token = d.auth.as_deref().unwrap_or("");
                let parts: [&[u8]; 3] = [socket_id.as_bytes(), b":", ch.as_bytes()];
                if !auth::verify_socket_token(app.key(), app.secret(), token, &parts) {
                    return self.auth_error(idx, ch);
                }
            }
            Kind::Presence => {
                let data = d.channel_data.as_deref().unwrap_or("");
                let parsed: ChannelData = match serde_json::from_str(data) {
                    Ok(p) => p,
                    Err(_) => {
                        return self.subscription_error(
                            idx,
                            ch,
                            Some("ServerError"),
                            "Invalid channel_data: expected a JSON object with a user_id.",
                            Code::InvalidChannelData.as_u16(),
                        )
                    }
                };
                let info = parsed.user_info.map_or("null", |r| r.get());
                let max_kb = app.config.max_presence_member_size_in_kb;
                if info.len() as f64 / 1024.0 > max_kb {
                    let err = format!("The maximum size for a channel member is {max_kb} KB.");
                    return self.limit_reached(idx, ch, &err, Code::ClientEventRefused);
                }
                let token = d.auth.as_deref().unwrap_or("");
                let parts: [&[u8]; 5] = [
                    socket_id.as_bytes(),
                    b":",
                    ch.as_bytes(),
                    b":",
                    data.as_bytes(),
                ];
                if !auth::verify_socket_token(app.key(), app.secret(), token, &parts) {
                    return self.auth_error(idx, ch);
                }
                let Some(user_id) = canonical_user_id(parsed.user_id) else {
                    return self.subscription_error(
                        idx,
                        ch,
                        Some("ServerError"),
                        "Invalid channel_data: user_id must be a non-empty string or a number.",
                        Code::InvalidChannelData.as_u16(),
                    );
                };
                presence = Some((user_id.into(), info.into()));
            }
        }
        if !channel::valid_name(ch) {
            return self.subscription_error(
                idx,
                ch,
                None,
                "The channel name is not allowed. Read channel conventions: https://pusher.com/docs/channels/using_channels/channels/#channel-naming-conventions",
                Code::Unauthorized.as_u16(),
            );
        }
        let app_idx = app.idx as u32;
        let existing = self
            .channels
            .lookup(app_idx, ch)
            .filter(|&cid| self.conn(idx).sub_index(cid).is_some());
        if let Some(cid) = existing {
            // Re-subscribing is idempotent: confirm again, change nothing.
            if kind == Kind::Presence {
                let members = self.shared.directory.members(app.idx, ch);
                self.send_with(idx, |m| {
                    event::presence_succeeded(m, ch, members.iter().map(|(a, b)| (&**a, &**b)))
                });
            } else {
                self.send_with(idx, |m| event::subscription_succeeded(m, ch));
            }
            let _ = cid;
            return;
        }
        if self.conn(idx).subs.len() >= super::MAX_CHANNELS_PER_CONNECTION {
            let err = format!(
                "A connection may join at most {} channels.",
                super::MAX_CHANNELS_PER_CONNECTION
            );
            return self.limit_reached(idx, ch, &err, Code::Unauthorized);
        }
        // A new channel past the app's cap is refused; a count read without the channel's
        // lock may let each reactor pass one over it at most.
        let cap = self.shared.config.max_channels_per_app;
        if app.channels() >= cap as i64 && self.shared.directory.channel(app.idx, ch).0 == 0 {
            let err = format!("The app may have at most {cap} channels in use.");
            return self.limit_reached(idx, ch, &err, Code::OverQuota);
        }
        match presence {
            None => {
                let first_here = self.channels.lookup(app_idx, ch).is_none();
                let t = self
                    .shared
                    .directory
                    .subscribe(app.idx, ch, self.id, first_here);
                self.join_local(idx, &app, ch, t.occupied());
                self.send_with(idx, |m| event::subscription_succeeded(m, ch));
            }
            Some((user_id, info)) => {
                if !self.presence_join(idx, &app, ch, user_id, info) {
                    let err = "The maximum members per presence channel limit was reached";
                    return self.limit_reached(idx, ch, err, Code::OverQuota);
                }
            }
        }
        debug_log!(self, "socket {socket_id}: subscribed to {ch:?}");
        if kind != Kind::Public {
            // A successful private/presence join counts as authentication (soketi).
            if let Some(e) = self.conn_mut(idx).extra.as_mut() {
                e.auth_deadline = None;
            }
        }
        if channel::is_cache(ch) {
            let (cached, seq) = self.shared.directory.cache_get(app.idx, ch, Instant::now());
            if let Some(cid) = self.channels.lookup(app_idx, ch) {
                self.channels.get_mut(cid).cache_joiners.push((idx, seq));
            }
            match cached {
                Some(message) => self.send_json(idx, &message),
                None => self.send_with(idx, |m| event::cache_miss(m, ch)),
            }
        }
    }

    /// `pusher:subscription_error` of type `LimitReached`.
    fn limit_reached(&mut self, idx: u32, ch: &str, error: &str, code: Code) {
        self.subscription_error(idx, ch, Some("LimitReached"), error, code.as_u16());
    }

    fn auth_error(&mut self, idx: u32, ch: &str) {
        self.subscription_error(
            idx,
            ch,
            Some("AuthError"),
            "The connection is unauthorized.",
            401,
        );
    }

    /// Adds slot `idx` to the local channel and records the subscription both ways.
    fn join_local(&mut self, idx: u32, app_ref: &App, ch: &str, occupied: bool) -> u32 {
        let app = app_ref.idx as u32;
        let (chan, pos) = self.channels.add(app, ch, idx);
        self.conn_mut(idx).subs.push(Sub { chan, pos });
        let s = self.stats.reactor(self.id as usize);
        s.add_gauge(app as usize, AppCounter::Subscriptions, 1);
        if occupied {
            s.add_gauge(app as usize, AppCounter::OccupiedChannels, 1);
            app_ref.count_channel(1);
        }
        chan
    }

    /// Joins a presence channel through the directory (member limit, member list and the
    /// `member_added` broadcast are decided there, under the channel's lock), then locally.
    /// `false` when the channel is full.
    fn presence_join(
        &mut self,
        idx: u32,
        app: &App,
        ch: &str,
        user_id: Box<str>,
        info: Box<str>,
    ) -> bool {
        let me = self.socket_ref(idx);
        let first_here = self.channels.lookup(app.idx as u32, ch).is_none();
        let max = app.config.max_presence_members_per_channel as usize;
        let Some(joined) = self.shared.directory.presence_join(
            app.idx,
            ch,
            Joiner {
                socket: me,
                first_here,
                user_id: &user_id,
                user_info: &info,
            },
            max,
        ) else {
            return false;
        };
        let chan = self.join_local(idx, app, ch, joined.transitions.occupied());
        self.channels.get_mut(chan).joiners.push((idx, joined.seq));
        self.conn_mut(idx)
            .extra_mut()
            .presence
            .push((chan, user_id));
        self.send_json(idx, &joined.reply);
        true
    }

    fn unsubscribe(&mut self, idx: u32, msg: &Incoming<'_>) {
        let d: UnsubscribeData = match event::parse_data("pusher:unsubscribe", msg.data) {
            Ok(d) => d,
            Err(e) => return self.bad_message(idx, &e.0),
        };
        let app = self.conn(idx).app;
        let Some(cid) = self.channels.lookup(app, &d.channel) else {
            return; // not subscribed: nothing to do (and no vacated event, unlike soketi)
        };
        let c = self.conn_mut(idx);
        let Some(i) = c.sub_index(cid) else {
            return;
        };
        let sub = c.subs.swap_remove(i);
        self.leave_channel(idx, sub);
        debug_log!(
            self,
            "socket {}: unsubscribed from {:?}",
            self.socket_id(idx),
            d.channel
        );
    }

    // ------------------------------------------------------------ sign-in

    fn signin(&mut self, idx: u32, msg: &Incoming<'_>) {
        let d: SigninData = match event::parse_data("pusher:signin", msg.data) {
            Ok(d) => d,
            Err(e) => return self.bad_message(idx, &e.0),
        };
        let app = self.app_of(idx);
        let socket_id = self.socket_id(idx);
        let parts: [&[u8]; 3] = [socket_id.as_bytes(), b"::user::", d.user_data.as_bytes()];
        if !auth::verify_socket_token(app.key(), app.secret(), &d.auth, &parts) {
            debug_log!(self, "socket {socket_id}: sign-in refused: bad signature");
            return self.end(idx, Close::SigninRefused);
        }
        let user = serde_json::from_str::<UserData>(&d.user_data)
            .ok()
            .and_then(|u| u.id.and_then(signin_user_id));
        let Some(user) = user else {
            return self.end(idx, Close::SigninWithoutId);
        };
        let app_idx = app.idx as u32;
        let old = {
            let e = self.conn_mut(idx).extra_mut();
            e.auth_deadline = None;
            e.user_id.replace(user.as_str().into())
        };
        if let Some(old) = old {
            self.remove_user(app_idx, &old, idx);
        }
        self.users_mut(app.idx)
            .entry(user.into_boxed_str())
            .or_default()
            .push(idx);
        let data = msg.data.map_or("{}", |d| d.get());
        self.send_with(idx, |m| event::signin_success(m, data));
    }

    // ------------------------------------------------------------ client events

    fn client_event(&mut self, idx: u32, msg: &Incoming<'_>) {
        let app = self.app_of(idx);
        let ch = msg.channel.as_deref().unwrap_or("");
        let ev: &str = &msg.event;
        let err = |r: &mut Context, text: &str| {
            r.send_with(idx, |m| {
                event::error(m, Code::ClientEventRefused.as_u16(), text, Some(ch))
            });
        };
        if !app.config.enable_client_messages {
            return err(self, "The app does not have client messaging enabled.");
        }
        let kind = channel::kind(ch);
        if !matches!(kind, Kind::Private | Kind::Presence) {
            return err(
                self,
                "Client events are only supported on private and presence channels.",
            );
        }
        let max_name = app.config.max_event_name_length;
        if ev.chars().count() > max_name {
            let text = format!("Event name is too long. Maximum allowed size is {max_name}.");
            return err(self, &text);
        }
        let data = msg.data.map_or("null", |d| d.get());
        let max_kb = app.config.max_event_payload_in_kb;
        if payload_bytes(data) as f64 / 1024.0 > max_kb {
            let text = format!("The event data should be less than {max_kb} KB.");
            return err(self, &text);
        }
        let Some(cid) = self.channels.lookup(app.idx as u32, ch) else {
            return; // not subscribed: dropped silently (soketi)
        };
        if self.conn(idx).sub_index(cid).is_none() {
            return;
        }
        let limit = app.config.max_client_events_per_sec;
        if limit >= 0 {
            let now = self.now / 1000;
            let e = self.conn_mut(idx).extra_mut();
            if e.client_events.0 != now {
                e.client_events = (now, 0);
            }
            if e.client_events.1 as i64 >= limit {
                return err(
                    self,
                    "The rate limit for sending client events exceeded the quota.",
                );
            }
            e.client_events.1 += 1;
        }
        let user_id = self.conn(idx).extra.as_ref().and_then(|e| {
            e.presence
                .iter()
                .find(|(c, _)| *c == cid)
                .map(|(_, u)| u.clone())
        });
        let mut json = Vec::with_capacity(64 + ev.len() + ch.len() + data.len());
        event::channel_event(&mut json, ev, ch, data, user_id.as_deref());
        let me = self.socket_ref(idx);
        self.publish(inbox::Publish {
            app: app.idx as u32,
            items: vec![encode_item(ch, &json, 0)],
            except: Some(me),
            accepted_at: Instant::now(),
        });
    }
}
