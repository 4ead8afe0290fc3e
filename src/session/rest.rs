//! Routes on the public port: the health routes, the WebSocket route (handed to [`super::websocket`])
//! and the Pusher HTTP API (`/apps/{id}/...`): app lookup, signature, rate limits, then the
//! handlers. Errors are real HTTP statuses with soketi's JSON body `{"error": .., "code": ..}`
//! (docs/compat.md, "HTTP error status"); a successful API call is counted in the per-app
//! HTTP metrics.

use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::http1::{Next, Req};
use super::listing::{channel_listing, ListJob};
use super::{Context, Service};
use crate::apps::{Answer, App, Lookup, RateDecision};
use crate::conn::{flags, DeferredResponse, SocketRef};
use crate::http::{self, Head, Method};
use crate::metrics::stats::AppCounter;
use crate::pusher::auth::{self, RestRequest};
use crate::pusher::channel;
use crate::pusher::event;
use crate::pusher::rest::{self, ApiError, EventBody};
use crate::reactor::inbox::{self, Command};

fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64)
}

/// Seconds a client is asked to wait (`Retry-After`) when the app store cannot answer.
const STORE_RETRY_AFTER_SECS: &str = "5";

/// How the API handled a request.
#[derive(Debug, PartialEq, Eq)]
enum Api {
    Answered,
    /// The response is being built off the reactor; the connection's input waits for it.
    Held,
    /// The app store will answer later; the request waits with its input held.
    Waiting,
}

impl Context {
    pub(crate) fn route(&mut self, req: Req, head: &Head<'_>, body: &[u8]) -> Next {
        let prefix = self.shared.config.path_prefix.as_str();
        let done = |r: &Context| {
            if req.keep_alive && !r.shared.is_closing() {
                Next::KeepAlive
            } else {
                Next::Close
            }
        };
        let Some(path) = head.path.strip_prefix(prefix) else {
            self.not_found(req);
            return done(self);
        };
        let path = if path.is_empty() { "/" } else { path };
        let get = matches!(head.method, Method::Get | Method::Head);
        match path {
            "/" | "/ready" | "/accept-traffic" if !get => {
                self.method_not_allowed(req, "GET, HEAD");
            }
            "/" => self.respond(req, 200, "text/plain", b"OK", &[]),
            "/ready" => {
                if self.shared.is_closing() {
                    let body = br#"{"error":"The server is closing. Choose another server. :)","code":503}"#;
                    self.respond_json(req.closing(), 503, body);
                } else {
                    self.respond(req, 200, "text/plain", b"OK", &[]);
                }
            }
            "/accept-traffic" => self.accept_traffic(req),
            _ => {
                if let Some(key) = path.strip_prefix("/app/") {
                    if !key.is_empty() && !key.contains('/') {
                        let key = key.to_string();
                        return if self.upgrade(req, head, &key) {
                            Next::Upgraded
                        } else {
                            Next::Close
                        };
                    }
                } else if let Some(rest) = path.strip_prefix("/apps/") {
                    match self.api(req, head, rest, body) {
                        Api::Waiting => return Next::Wait,
                        Api::Held => return Next::Hold,
                        Api::Answered => {}
                    }
                    return done(self);
                }
                self.not_found(req);
            }
        }
        done(self)
    }

    fn not_found(&mut self, req: Req) {
        self.respond_json(req, 404, br#"{"error":"Not found.","code":404}"#);
    }

    fn method_not_allowed(&mut self, req: Req, allow: &str) {
        let body = br#"{"error":"Method not allowed.","code":405}"#;
        self.respond(req, 405, "application/json", body, &[("Allow", allow)]);
    }

    fn accept_traffic(&mut self, req: Req) {
        if self.shared.is_closing() {
            let body =
                br#"{"error":"The server is closing. Choose another server. :)","code":503}"#;
            return self.respond_json(req.closing(), 503, body);
        }
        let mem = crate::metrics::process::memory_usage();
        if mem.percent > self.shared.config.http.accept_traffic_memory_threshold {
            let body = br#"{"error":"Low on memory here. Choose another server. :)","code":503}"#;
            return self.respond_json(req, 503, body);
        }
        let body = serde_json::json!({"memory": {
            "usedSize": mem.used, "totalSize": mem.total, "percentUsage": mem.percent,
        }})
        .to_string();
        self.respond_json(req, 200, body.as_bytes());
    }

    // ------------------------------------------------------------ the Pusher HTTP API

    /// `/apps/{id}/...`: the app lookup (which may wait for the store), then [`Self::api_call`].
    fn api(&mut self, req: Req, head: &Head<'_>, rest: &str, body: &[u8]) -> Api {
        if head.method == Method::Options {
            // CORS preflight: the headers are the answer.
            self.respond(req, 204, "text/plain", b"", &[]);
            return Api::Answered;
        }
        let (app_id, route) = rest.split_once('/').unwrap_or((rest, ""));
        let app_id = http::percent_decode(app_id, false);
        let answer = match self.take_app_answer(req.idx) {
            Some(answer) => answer,
            None => match self.shared.store.by_id(&app_id, &|| self.waiter(req.idx)) {
                Lookup::Ready(answer) => answer,
                Lookup::Pending => {
                    self.await_app(req.idx, &app_id);
                    return Api::Waiting;
                }
            },
        };
        let app = match answer {
            Answer::Found(app) => app,
            Answer::Missing => {
                let e = ApiError::new(404, format!("The app {app_id} could not be found."));
                self.respond_error(req, e);
                return Api::Answered;
            }
            Answer::Unavailable => {
                self.store_unavailable(req);
                return Api::Answered;
            }
        };
        self.api_call(req, head, &app, route, body)
    }

    /// What a request's head tells before its body arrives (see `body_pending` in http1.rs):
    /// for the Pusher HTTP API, the route and method, the app, `auth_key` and the
    /// timestamp window. A refusal is answered here (`req` closes the connection: the body
    /// is never read) and gives `false`. Other routes, and apps the store answers later,
    /// are decided once the body is in.
    pub(crate) fn admit_body(&mut self, req: Req, head: &Head<'_>) -> bool {
        if !matches!(self.shared.service, Service::Public) {
            return true;
        }
        let prefix = self.shared.config.path_prefix.as_str();
        let Some(rest) = head
            .path
            .strip_prefix(prefix)
            .and_then(|p| p.strip_prefix("/apps/"))
        else {
            return true;
        };
        if head.method == Method::Options {
            return true;
        }
        let (app_id, route) = rest.split_once('/').unwrap_or((rest, ""));
        let segments: Vec<&str> = route.split('/').collect();
        if !self.api_route_allowed(req, head.method, &segments) {
            return false;
        }
        let app_id = http::percent_decode(app_id, false);
        let app = match self.shared.store.by_id(&app_id, &|| self.waiter(req.idx)) {
            Lookup::Ready(Answer::Found(app)) => app,
            Lookup::Ready(Answer::Missing) => {
                let e = ApiError::new(404, format!("The app {app_id} could not be found."));
                self.respond_error(req, e);
                return false;
            }
            Lookup::Ready(Answer::Unavailable) => {
                self.store_unavailable(req);
                return false;
            }
            // Decided when the body is in and the request runs.
            Lookup::Pending => return true,
        };
        let window = self.shared.config.auth_timestamp_window_secs;
        if let Err(e) = auth::precheck_rest_query(head.query, app.key(), unix_now(), window) {
            debug_log!(
                self,
                "REST {}: refused before its body: {}",
                head.path,
                e.message()
            );
            self.respond_error(req, ApiError::new(401, e.message()));
            return false;
        }
        true
    }

    /// Answers 404 for a path that is no API route and 405 for a method the route does not
    /// take; `true` when the request may go on.
    fn api_route_allowed(&mut self, req: Req, method: Method, segments: &[&str]) -> bool {
        let Some(allowed) = api_method(segments) else {
            self.not_found(req);
            return false;
        };
        let method = method_name(method);
        if method != allowed && !(allowed == "GET" && method == "HEAD") {
            self.method_not_allowed(req, allowed);
            return false;
        }
        true
    }

    /// A REST request whose app store could not answer: 503, retry later.
    pub(crate) fn store_unavailable(&mut self, req: Req) {
        let body = br#"{"error":"The app store is unavailable. Try again shortly.","code":503}"#;
        self.respond(
            req,
            503,
            "application/json",
            body,
            &[("Retry-After", STORE_RETRY_AFTER_SECS)],
        );
    }

    /// `/apps/{id}/{route}` for a known app: signature, rate limit, then the handler.
    fn api_call(&mut self, req: Req, head: &Head<'_>, app: &App, route: &str, body: &[u8]) -> Api {
        let method = method_name(head.method);
        let segments: Vec<&str> = route.split('/').collect();
        if !self.api_route_allowed(req, head.method, &segments) {
            return Api::Answered;
        }
        let signed = RestRequest {
            method,
            path: head.path,
            query: head.query,
            body,
        };
        let window = self.shared.config.auth_timestamp_window_secs;
        if let Err(e) =
            auth::verify_rest_request(&signed, app.key(), app.secret(), unix_now(), window)
        {
            debug_log!(
                self,
                "REST {}: signature refused: {}",
                head.path,
                e.message()
            );
            self.respond_error(req, ApiError::new(401, e.message()));
            return Api::Answered;
        }
        // What the handler's rate limiter decided, for the response headers.
        let mut rate = None;
        let result = match segments.as_slice() {
            ["channels"] if self.shared.lister.is_some() => {
                match self.list_channels_later(req, app, head.query, body.len(), &mut rate) {
                    Ok(()) => return Api::Held,
                    Err(e) => Err(e),
                }
            }
            ["events"] => self.api_events(app, body, &mut rate),
            ["batch_events"] => self.api_batch(app, body, &mut rate),
            ["users", user, "terminate_connections"] => {
                let user = http::percent_decode(user, false);
                self.api_terminate(app, &user)
            }
            ["channels"] => self.api_channels(app, head.query, &mut rate),
            ["channels", name] => {
                let name = http::percent_decode(name, false);
                self.api_channel(app, &name, &mut rate)
            }
            ["channels", name, "users"] => {
                let name = http::percent_decode(name, false);
                self.api_users(app, &name, head.query, &mut rate)
            }
            _ => unreachable!("routes were matched above"),
        };
        let rate_headers = rate.map(rate_limit_headers).unwrap_or_default();
        let extra: Vec<(&str, &str)> = rate_headers
            .iter()
            .map(|(name, value)| (*name, value.as_str()))
            .collect();
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
                self.respond(req, 200, "application/json", &resp, &extra);
            }
            Err(e) => {
                let body = serde_json::json!({"error": e.message, "code": e.status}).to_string();
                self.respond(req, e.status, "application/json", body.as_bytes(), &extra);
            }
        }
        Api::Answered
    }

    fn read_limit(&self, app: &App, rate: &mut Option<RateDecision>) -> Result<(), ApiError> {
        let decision = app.consume_read_request(unix_now_ms());
        *rate = Some(decision);
        match decision {
            RateDecision::Rejected { .. } => Err(ApiError::new(429, "Too many requests.")),
            _ => Ok(()),
        }
    }

    /// `GET /channels` through the listing thread (see [`super::listing`]): checks and rate
    /// limit here, the body there; the connection waits with its input held.
    fn list_channels_later(
        &mut self,
        req: Req,
        app: &App,
        query: &str,
        request_bytes: usize,
        rate: &mut Option<RateDecision>,
    ) -> Result<(), ApiError> {
        self.read_limit(app, rate)?;
        let (prefix, want_users) = listing_params(query)?;
        let gen = self.slots[req.idx as usize].gen;
        let job = ListJob {
            app: app.idx,
            prefix,
            want_users,
            reactor: self.id,
            slot: req.idx,
            gen,
        };
        let sent = self
            .shared
            .lister
            .as_ref()
            .is_some_and(|l| l.send(job).is_ok());
        if !sent {
            return Err(ApiError::new(
                500,
                "The channel listing could not be started.",
            ));
        }
        let headers = rate.map(rate_limit_headers).unwrap_or_default();
        let now = self.now;
        let c = self.conn_mut(req.idx);
        c.set(flags::AWAITING);
        c.mark = now;
        c.extra_mut().deferred = Some(DeferredResponse {
            keep_alive: req.keep_alive,
            head_only: req.head_only,
            http10: req.http10,
            app: app.idx as u32,
            request_bytes: request_bytes as u64,
            headers,
        });
        Ok(())
    }

    fn api_channels(
        &self,
        app: &App,
        query: &str,
        rate: &mut Option<RateDecision>,
    ) -> Result<Vec<u8>, ApiError> {
        self.read_limit(app, rate)?;
        let (prefix, want_users) = listing_params(query)?;
        Ok(channel_listing(
            &self.shared.directory,
            app.idx,
            &prefix,
            want_users,
        ))
    }

    fn api_channel(
        &self,
        app: &App,
        name: &str,
        rate: &mut Option<RateDecision>,
    ) -> Result<Vec<u8>, ApiError> {
        self.read_limit(app, rate)?;
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

    fn api_users(
        &self,
        app: &App,
        name: &str,
        query: &str,
        rate: &mut Option<RateDecision>,
    ) -> Result<Vec<u8>, ApiError> {
        self.read_limit(app, rate)?;
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
        for inbox in self.shared.inboxes.iter() {
            inbox.push(Command::Terminate {
                app: app.idx as u32,
                user_id: user_id.clone(),
            });
        }
        Ok(br#"{"ok":true}"#.to_vec())
    }

    fn backend_limit(
        &self,
        app: &App,
        points: usize,
        rate: &mut Option<RateDecision>,
    ) -> Result<(), ApiError> {
        let decision = app.consume_backend_events(points.max(1) as u64, unix_now_ms());
        *rate = Some(decision);
        match decision {
            RateDecision::Rejected { .. } => Err(ApiError::new(429, "Too many requests.")),
            _ => Ok(()),
        }
    }

    fn api_events(
        &mut self,
        app: &App,
        body: &[u8],
        rate: &mut Option<RateDecision>,
    ) -> Result<Vec<u8>, ApiError> {
        let ev = rest::parse_event(body)?;
        self.backend_limit(app, ev.channel_list().len(), rate)?;
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

    fn api_batch(
        &mut self,
        app: &App,
        body: &[u8],
        rate: &mut Option<RateDecision>,
    ) -> Result<Vec<u8>, ApiError> {
        let b = rest::parse_batch(body)?;
        let points: usize = b.batch.iter().map(|e| e.channel_list().len()).sum();
        self.backend_limit(app, points, rate)?;
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
            items.push(crate::fanout::encode_item(ch, &json, cache_seq));
            self.msg = json;
        }
    }
}

/// `filter_by_prefix` and whether `info` asks for `user_count` (only with a presence prefix).
fn listing_params(query: &str) -> Result<(String, bool), ApiError> {
    let prefix = http::query_get(query, "filter_by_prefix").unwrap_or_default();
    let info = http::query_get(query, "info").unwrap_or_default();
    let want_users = info.split(',').any(|i| i == "user_count");
    if want_users && !prefix.starts_with("presence-") {
        return Err(ApiError::new(
            400,
            "user_count may only be requested with filter_by_prefix=presence-",
        ));
    }
    Ok((prefix.into_owned(), want_users))
}

/// The method an API route takes (`HEAD` also goes where `GET` does); `None` for a path
/// that is no route.
fn api_method(segments: &[&str]) -> Option<&'static str> {
    match segments {
        ["events"] | ["batch_events"] | ["users", _, "terminate_connections"] => Some("POST"),
        ["channels"] | ["channels", _] | ["channels", _, "users"] => Some("GET"),
        _ => None,
    }
}

fn method_name(m: Method) -> &'static str {
    match m {
        Method::Get => "GET",
        Method::Head => "HEAD",
        Method::Post => "POST",
        Method::Put => "PUT",
        Method::Delete => "DELETE",
        Method::Patch => "PATCH",
        Method::Options => "OPTIONS",
        Method::Other => "OTHER",
    }
}

/// The headers of a request that went through a rate limiter (docs/compat.md, "Rate-limit
/// headers"). Passing a limit (≥ 0), soketi's three: `Retry-After` with the seconds until the
/// window ends as JavaScript prints `msBeforeNext / 1000` (`0.25`), `X-RateLimit-Limit`,
/// `X-RateLimit-Remaining`. Refused (429): only `Retry-After`, in whole seconds as RFC 9110
/// §10.2.3 has it (soketi sends none). No limit (-1): none.
fn rate_limit_headers(decision: RateDecision) -> Vec<(&'static str, String)> {
    match decision {
        RateDecision::Unlimited => Vec::new(),
        RateDecision::Allowed {
            limit,
            remaining,
            reset_ms,
        } => vec![
            ("Retry-After", js_seconds(reset_ms)),
            ("X-RateLimit-Limit", limit.to_string()),
            ("X-RateLimit-Remaining", remaining.to_string()),
        ],
        RateDecision::Rejected { reset_ms } => {
            vec![("Retry-After", reset_ms.div_ceil(1000).max(1).to_string())]
        }
    }
}

/// `ms / 1000` as JavaScript prints it: `1`, `0.5`, `0.25`, `0.001`.
fn js_seconds(ms: u64) -> String {
    let (whole, frac) = (ms / 1000, ms % 1000);
    if frac == 0 {
        return whole.to_string();
    }
    let digits = format!("{frac:03}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

fn unix_now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

/// The socket a publish must skip: a well-formed id of a socket we never issued (or that
/// is gone) excludes nobody.
fn exclusion(ev: &EventBody<'_>) -> Option<SocketRef> {
    ev.socket_id.as_deref().and_then(SocketRef::parse)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limit_headers_as_soketi_and_retry_after_on_429() {
        assert_eq!(js_seconds(1000), "1");
        assert_eq!(js_seconds(250), "0.25");
        assert_eq!(js_seconds(1), "0.001");
        assert_eq!(js_seconds(730), "0.73");
        assert!(rate_limit_headers(RateDecision::Unlimited).is_empty());
        let passing = RateDecision::Allowed {
            limit: 5,
            remaining: 3,
            reset_ms: 400,
        };
        let headers = [
            ("Retry-After", "0.4".to_string()),
            ("X-RateLimit-Limit", "5".to_string()),
            ("X-RateLimit-Remaining", "3".to_string()),
        ];
        assert_eq!(rate_limit_headers(passing), headers);
        let refused = rate_limit_headers(RateDecision::Rejected { reset_ms: 1 });
        assert_eq!(refused, [("Retry-After", "1".to_string())]);
    }
}
