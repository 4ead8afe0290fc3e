//! HTTP on the public port: request framing (keep-alive, pipelining, bodies, limits), the
//! health routes, the WebSocket route, and the Pusher HTTP API.
//!
//! Errors are real HTTP statuses with soketi's JSON body `{"error": .., "code": ..}`
//! (docs/compat.md); a successful API call is counted in the per-app HTTP metrics.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::inbox::{self, Command, SocketRef};
use super::socket::frame_item;
use super::Reactor;
use crate::app::{App, AppStore, RateDecision};
use crate::conn::{flags, Phase};
use crate::http::{self, Head, Method};
use crate::metrics::stats::AppCounter;
use crate::parse::Status;
use crate::pusher::auth::{self, RestRequest};
use crate::pusher::channel;
use crate::pusher::event;
use crate::pusher::rest::{self, ApiError, EventBody};

/// CORS headers soketi puts on every handled response.
const CORS: [(&str, &str); 3] = [
    ("Access-Control-Allow-Origin", "*"),
    ("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS"),
    (
        "Access-Control-Allow-Headers",
        "Origin, Content-Type, X-Auth-Token, X-Requested-With, Accept, Authorization, X-CSRF-TOKEN, XSRF-TOKEN, X-Socket-Id",
    ),
];

/// Responses waiting for one HTTP connection before it stops taking requests.
const HTTP_OUTPUT_PAUSE_BYTES: usize = 256 * 1024;

/// What follows a handled request.
enum Next {
    KeepAlive,
    Close,
    Upgraded,
}

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

impl Reactor {
    /// Handles every complete request in `buf`; returns the bytes consumed.
    pub(super) fn process_http(&mut self, idx: u32, buf: &mut [u8]) -> usize {
        let cfg = &self.shared.config.http;
        let limits = http::Limits {
            max_head_bytes: cfg.max_head_bytes,
            max_headers: cfg.max_headers,
            max_body_bytes: cfg.max_body_bytes,
        };
        let mut pos = 0;
        loop {
            if self.outs[idx as usize]
                .buf
                .as_ref()
                .is_some_and(|b| b.len() > HTTP_OUTPUT_PAUSE_BYTES)
            {
                // Back-pressure: a client that pipelines requests without reading the
                // responses waits until they drain; the flush resumes this connection.
                self.conn_mut(idx).set(flags::READ_PAUSED);
                return pos;
            }
            if pos == buf.len() {
                let now = self.now;
                let c = self.conn_mut(idx);
                c.clear(flags::REQUEST_PARTIAL);
                c.mark = now;
                return pos;
            }
            let (next, total) = match http::parse_head(&buf[pos..], &limits) {
                Ok(Status::Partial) => return self.partial(idx, pos),
                Err(e) => {
                    let body = format!(r#"{{"error":"{}","code":{}}}"#, e.message(), e.status());
                    self.respond(
                        idx,
                        e.status(),
                        "application/json",
                        body.as_bytes(),
                        &[],
                        false,
                    );
                    return buf.len();
                }
                Ok(Status::Complete(head)) => {
                    // The body length was checked against its limit by the parser.
                    let total = head.head_len + head.content_length as usize;
                    if buf.len() - pos < total {
                        return self.partial(idx, pos);
                    }
                    let body = &buf[pos + head.head_len..pos + total];
                    (self.handle_request(idx, &head, body), total)
                }
            };
            pos += total;
            match next {
                Next::KeepAlive => {}
                Next::Close => return buf.len(),
                Next::Upgraded => {
                    let n = self.process_ws(idx, &mut buf[pos..]);
                    return pos + n;
                }
            }
            if self.live(idx).is_none_or(|c| c.phase != Phase::Http) {
                return buf.len();
            }
        }
    }

    /// An unfinished request: start its timer (slow-loris guard) if it just began.
    fn partial(&mut self, idx: u32, pos: usize) -> usize {
        let now = self.now;
        let c = self.conn_mut(idx);
        if !c.has(flags::REQUEST_PARTIAL) {
            c.set(flags::REQUEST_PARTIAL);
            c.mark = now;
        }
        pos
    }

    /// The request did not complete in time.
    pub(super) fn http_timeout(&mut self, idx: u32) {
        let body = br#"{"error":"Request timeout.","code":408}"#;
        self.respond(idx, 408, "application/json", body, &[], false);
        let c = self.conn_mut(idx);
        c.spill = None;
        c.clear(flags::REQUEST_PARTIAL);
    }

    /// Writes a response; closes after it unless `keep_alive` (and not shutting down).
    pub(super) fn respond(
        &mut self,
        idx: u32,
        status: u16,
        content_type: &str,
        body: &[u8],
        extra: &[(&str, &str)],
        keep_alive: bool,
    ) {
        let keep_alive = keep_alive && !self.shared.is_closing();
        let head_only = self.head_only;
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(5 + extra.len());
        headers.push(("Content-Type", content_type));
        headers.extend_from_slice(&CORS);
        headers.extend_from_slice(extra);
        let out = self.output(idx);
        let before = out.len();
        http::write_response(out, status, &headers, body, keep_alive);
        if head_only {
            out.truncate(out.len() - body.len());
        }
        let _ = before;
        if !keep_alive {
            let now = self.now;
            let c = self.conn_mut(idx);
            c.set(flags::CLOSE_AFTER_FLUSH);
            c.phase = Phase::Closing;
            c.mark = now;
            c.spill = None;
        }
    }

    fn respond_json(&mut self, idx: u32, status: u16, body: &[u8], keep_alive: bool) {
        self.respond(idx, status, "application/json", body, &[], keep_alive);
    }

    fn respond_error(&mut self, idx: u32, e: ApiError, keep_alive: bool) {
        let body = serde_json::json!({"error": e.message, "code": e.status}).to_string();
        self.respond_json(idx, e.status, body.as_bytes(), keep_alive);
    }

    fn handle_request(&mut self, idx: u32, head: &Head<'_>, body: &[u8]) -> Next {
        let keep = head.keep_alive;
        self.head_only = head.method == Method::Head;
        let next = self.route(idx, head, body, keep);
        self.head_only = false;
        next
    }

    fn route(&mut self, idx: u32, head: &Head<'_>, body: &[u8], keep: bool) -> Next {
        let prefix = self.shared.config.path_prefix.as_str();
        let done = |r: &Reactor| {
            if keep && !r.shared.is_closing() {
                Next::KeepAlive
            } else {
                Next::Close
            }
        };
        let Some(path) = head.path.strip_prefix(prefix) else {
            self.not_found(idx, keep);
            return done(self);
        };
        let path = if path.is_empty() { "/" } else { path };
        let get = matches!(head.method, Method::Get | Method::Head);
        match path {
            "/" | "/ready" | "/accept-traffic" if !get => {
                self.method_not_allowed(idx, "GET, HEAD", keep);
            }
            "/" => self.respond(idx, 200, "text/plain", b"OK", &[], keep),
            "/ready" => {
                if self.shared.is_closing() {
                    let body = br#"{"error":"The server is closing. Choose another server. :)","code":503}"#;
                    self.respond_json(idx, 503, body, false);
                } else {
                    self.respond(idx, 200, "text/plain", b"OK", &[], keep);
                }
            }
            "/accept-traffic" => self.accept_traffic(idx, keep),
            _ => {
                if let Some(key) = path.strip_prefix("/app/") {
                    if !key.is_empty() && !key.contains('/') {
                        let key = key.to_string();
                        return if self.upgrade(idx, head, &key) {
                            Next::Upgraded
                        } else {
                            Next::Close
                        };
                    }
                } else if let Some(rest) = path.strip_prefix("/apps/") {
                    self.api(idx, head, rest, body, keep);
                    return done(self);
                }
                self.not_found(idx, keep);
            }
        }
        done(self)
    }

    fn not_found(&mut self, idx: u32, keep: bool) {
        self.respond_json(idx, 404, br#"{"error":"Not found.","code":404}"#, keep);
    }

    fn method_not_allowed(&mut self, idx: u32, allow: &str, keep: bool) {
        let body = br#"{"error":"Method not allowed.","code":405}"#;
        self.respond(
            idx,
            405,
            "application/json",
            body,
            &[("Allow", allow)],
            keep,
        );
    }

    fn accept_traffic(&mut self, idx: u32, keep: bool) {
        if self.shared.is_closing() {
            let body =
                br#"{"error":"The server is closing. Choose another server. :)","code":503}"#;
            return self.respond_json(idx, 503, body, false);
        }
        let mem = crate::metrics::process::memory_usage();
        if mem.percent > self.shared.config.http.accept_traffic_memory_threshold {
            let body = br#"{"error":"Low on memory here. Choose another server. :)","code":503}"#;
            return self.respond_json(idx, 503, body, keep);
        }
        let body = serde_json::json!({"memory": {
            "usedSize": mem.used, "totalSize": mem.total, "percentUsage": mem.percent,
        }})
        .to_string();
        self.respond_json(idx, 200, body.as_bytes(), keep);
    }

    // ------------------------------------------------------------ the Pusher HTTP API

    /// `/apps/{id}/...`: app lookup, signature, rate limit, then the route.
    fn api(&mut self, idx: u32, head: &Head<'_>, rest: &str, body: &[u8], keep: bool) {
        if head.method == Method::Options {
            // CORS preflight: the headers are the answer.
            return self.respond(idx, 204, "text/plain", b"", &[], keep);
        }
        let (app_id, route) = rest.split_once('/').unwrap_or((rest, ""));
        let app_id = http::percent_decode(app_id, false);
        let Some(app) = self.shared.apps.by_id(&app_id).cloned() else {
            let e = ApiError::new(404, format!("The app {app_id} could not be found."));
            return self.respond_error(idx, e, keep);
        };
        let method = match head.method {
            Method::Get => "GET",
            Method::Head => "HEAD",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Delete => "DELETE",
            Method::Patch => "PATCH",
            Method::Options => "OPTIONS",
            Method::Other => "OTHER",
        };
        let segments: Vec<&str> = route.split('/').collect();
        let allowed = match segments.as_slice() {
            ["events"] | ["batch_events"] | ["users", _, "terminate_connections"] => "POST",
            ["channels"] | ["channels", _] | ["channels", _, "users"] => "GET",
            _ => {
                return self.not_found(idx, keep);
            }
        };
        if method != allowed && !(allowed == "GET" && method == "HEAD") {
            return self.method_not_allowed(idx, allowed, keep);
        }
        let req = RestRequest {
            method,
            path: head.path,
            query: head.query,
            body,
        };
        let window = self.shared.config.auth_timestamp_window_secs;
        if let Err(e) = auth::verify_rest_request(&req, app.key(), app.secret(), unix_now(), window)
        {
            return self.respond_error(idx, ApiError::new(401, e.message()), keep);
        }
        let result = match segments.as_slice() {
            ["events"] => self.api_events(&app, body),
            ["batch_events"] => self.api_batch(&app, body),
            ["users", user, "terminate_connections"] => {
                let user = http::percent_decode(user, false);
                self.api_terminate(&app, &user)
            }
            ["channels"] => self.api_channels(&app, head.query),
            ["channels", name] => {
                let name = http::percent_decode(name, false);
                self.api_channel(&app, &name)
            }
            ["channels", name, "users"] => {
                let name = http::percent_decode(name, false);
                self.api_users(&app, &name, head.query)
            }
            _ => unreachable!("routes were matched above"),
        };
        match result {
            Ok(resp) => {
                let s = self.stats.reactor(self.id as usize);
                s.add(app.idx, AppCounter::HttpCallsReceived, 1);
                // soketi counts `{}` (2 bytes) for requests without a body.
                s.add(
                    app.idx,
                    AppCounter::HttpReceivedBytes,
                    body.len().max(2) as u64,
                );
                s.add(app.idx, AppCounter::HttpTransmittedBytes, resp.len() as u64);
                self.respond_json(idx, 200, &resp, keep);
            }
            Err(e) => self.respond_error(idx, e, keep),
        }
    }

    fn read_limit(&self, app: &App) -> Result<(), ApiError> {
        match app.consume_read_request(unix_now() as u64) {
            RateDecision::Rejected => Err(ApiError::new(429, "Too many requests.")),
            _ => Ok(()),
        }
    }

    fn api_channels(&self, app: &App, query: &str) -> Result<Vec<u8>, ApiError> {
        self.read_limit(app)?;
        let prefix = http::query_get(query, "filter_by_prefix").unwrap_or_default();
        let info = http::query_get(query, "info").unwrap_or_default();
        let want_users = info.split(',').any(|i| i == "user_count");
        if want_users && !prefix.starts_with("presence-") {
            return Err(ApiError::new(
                400,
                "user_count may only be requested with filter_by_prefix=presence-",
            ));
        }
        let mut map = serde_json::Map::new();
        for c in self.shared.directory.channels(app.idx, &prefix) {
            let mut v = serde_json::json!({
                "subscription_count": c.subscription_count,
                "occupied": true,
            });
            if want_users {
                v["user_count"] = c.user_count.into();
            }
            map.insert(c.name.into(), v);
        }
        Ok(serde_json::json!({ "channels": map })
            .to_string()
            .into_bytes())
    }

    fn api_channel(&self, app: &App, name: &str) -> Result<Vec<u8>, ApiError> {
        self.read_limit(app)?;
        let (subs, users) = self.shared.directory.channel(app.idx, name);
        let mut v = serde_json::json!({
            "subscription_count": subs,
            "occupied": subs > 0,
        });
        if channel::kind(name) == channel::Kind::Presence {
            v["user_count"] = users.into();
        }
        Ok(v.to_string().into_bytes())
    }

    fn api_users(&self, app: &App, name: &str, query: &str) -> Result<Vec<u8>, ApiError> {
        self.read_limit(app)?;
        if channel::kind(name) != channel::Kind::Presence {
            return Err(ApiError::new(
                400,
                "The channel must be a presence channel.",
            ));
        }
        let with_info = http::query_get(query, "with_user_info").as_deref() == Some("1");
        let mut out = br#"{"users":["#.to_vec();
        for (i, (id, info)) in self
            .shared
            .directory
            .members(app.idx, name)
            .iter()
            .enumerate()
        {
            if i > 0 {
                out.push(b',');
            }
            out.extend_from_slice(br#"{"id":"#);
            out.extend_from_slice(id.as_bytes());
            if with_info {
                out.extend_from_slice(br#","user_info":"#);
                out.extend_from_slice(info.as_bytes());
            }
            out.push(b'}');
        }
        out.extend_from_slice(b"]}");
        Ok(out)
    }

    fn api_terminate(&mut self, app: &App, user: &str) -> Result<Vec<u8>, ApiError> {
        let user_id: std::sync::Arc<str> = user.into();
        for inbox in &self.shared.inboxes {
            inbox.push(Command::Terminate {
                app: app.idx as u32,
                user_id: user_id.clone(),
            });
        }
        Ok(br#"{"ok":true}"#.to_vec())
    }

    fn backend_limit(&self, app: &App, points: usize) -> Result<(), ApiError> {
        match app.consume_backend_events(points.max(1) as u64, unix_now() as u64) {
            RateDecision::Rejected => Err(ApiError::new(429, "Too many requests.")),
            _ => Ok(()),
        }
    }

    fn api_events(&mut self, app: &App, body: &[u8]) -> Result<Vec<u8>, ApiError> {
        let ev = rest::parse_event(body)?;
        self.backend_limit(app, ev.channel_list().len())?;
        rest::validate(&app.config, &ev)?;
        let except = exclusion(&ev);
        let mut p = inbox::Publish {
            app: app.idx as u32,
            items: Vec::new(),
            except,
            accepted_at: Instant::now(),
        };
        self.encode_event(app, &ev, &mut p.items);
        self.publish(p);
        Ok(br#"{"ok":true}"#.to_vec())
    }

    fn api_batch(&mut self, app: &App, body: &[u8]) -> Result<Vec<u8>, ApiError> {
        let b = rest::parse_batch(body)?;
        let points: usize = b.batch.iter().map(|e| e.channel_list().len()).sum();
        self.backend_limit(app, points)?;
        let max = app.config.max_event_batch_size;
        if b.batch.len() > max {
            return Err(ApiError::new(
                400,
                format!("Cannot batch-send more than {max} messages at once"),
            ));
        }
        for ev in &b.batch {
            rest::validate(&app.config, ev)?;
        }
        let excepts: Vec<Option<SocketRef>> = b.batch.iter().map(exclusion).collect();
        // Events with the same exclusion travel together; each keeps its batch order.
        let accepted_at = Instant::now();
        let mut start = 0;
        while start < b.batch.len() {
            let except = excepts[start];
            let mut p = inbox::Publish {
                app: app.idx as u32,
                items: Vec::new(),
                except,
                accepted_at,
            };
            let mut end = start;
            while end < b.batch.len() && excepts[end] == except {
                self.encode_event(app, &b.batch[end], &mut p.items);
                end += 1;
            }
            self.publish(p);
            start = end;
        }
        Ok(br#"{"ok":true}"#.to_vec())
    }

    /// Encodes one event once per channel, storing cache channels' last event.
    fn encode_event(&mut self, app: &App, ev: &EventBody<'_>, items: &mut Vec<inbox::Item>) {
        let (name, data) = (ev.name(), ev.data());
        let ttl = std::time::Duration::from_secs(self.shared.config.channel_cache_ttl_secs);
        for ch in ev.channel_list() {
            let mut json = std::mem::take(&mut self.msg);
            json.clear();
            event::channel_event(&mut json, name, ch, data, None);
            let cache_seq = if channel::is_cache(ch) {
                let stored: std::sync::Arc<[u8]> = json.as_slice().into();
                self.shared
                    .directory
                    .cache_store(app.idx, ch, stored, Instant::now() + ttl)
            } else {
                0
            };
            items.push(frame_item(ch, &json, cache_seq));
            self.msg = json;
        }
    }
}

/// The socket a publish must skip: a well-formed id of a socket we never issued (or that
/// is gone) excludes nobody.
fn exclusion(ev: &EventBody<'_>) -> Option<SocketRef> {
    ev.socket_id.as_deref().and_then(SocketRef::parse)
}
