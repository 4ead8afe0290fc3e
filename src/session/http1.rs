//! HTTP/1.1 request framing: keep-alive, pipelining, bodies and their limits, the
//! unfinished-request timer, back-pressure on clients that pipeline without reading, and
//! writing responses (CORS headers, `HEAD` without a body, close after the last).
//! The routes are in [`super::rest`].

use std::sync::atomic::Ordering;

use super::{Context, Service};
use crate::conn::{flags, PendingBody, Phase};
use crate::http;
use crate::http::chunked::{self, ChunkedError, Scanner};
use crate::http::{Head, Method};
use crate::parse::Status;
use crate::pusher::rest::ApiError;

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

/// The request a response answers: its connection, whether the connection stays open after
/// it, and whether it was a `HEAD` (the response goes without its body).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Req {
    pub(crate) idx: u32,
    pub(crate) keep_alive: bool,
    pub(crate) head_only: bool,
    /// An HTTP/1.0 request: a kept-alive connection must be confirmed with
    /// `Connection: keep-alive` (1.0 closes by default).
    pub(crate) http10: bool,
}

impl Req {
    /// The request `head` on connection `idx`.
    pub(crate) fn of(idx: u32, head: &Head<'_>) -> Req {
        Req {
            idx,
            keep_alive: head.keep_alive,
            head_only: head.method == Method::Head,
            http10: head.minor_version == 0,
        }
    }

    /// A response after which the connection closes (errors before a request was
    /// understood, timeouts).
    pub(crate) fn last(idx: u32) -> Req {
        Req {
            idx,
            keep_alive: false,
            head_only: false,
            http10: false,
        }
    }

    /// The same request, answered with a response after which the connection closes.
    pub(crate) fn closing(self) -> Req {
        Req {
            keep_alive: false,
            ..self
        }
    }
}

/// What follows a handled request.
pub(crate) enum Next {
    KeepAlive,
    Close,
    Upgraded,
    /// The app store answers later: the request stays unconsumed, input is held.
    Wait,
    /// The response is being built off the reactor: the request is consumed, the input
    /// after it is held until the response is written.
    Hold,
}

impl Context {
    /// Handles every complete request in `buf`; returns the bytes consumed.
    pub(crate) fn process_http(&mut self, idx: u32, buf: &mut [u8]) -> usize {
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
                    self.respond_json(Req::last(idx), e.status(), body.as_bytes());
                    return buf.len();
                }
                Ok(Status::Complete(head)) => {
                    if !head.host_ok() {
                        let e = http::HttpError::BadHost;
                        let body =
                            format!(r#"{{"error":"{}","code":{}}}"#, e.message(), e.status());
                        self.respond_json(Req::last(idx), e.status(), body.as_bytes());
                        return buf.len();
                    }
                    let start = pos + head.head_len;
                    let (total, decoded) = if head.chunked {
                        let max = self.shared.config.http.max_body_bytes;
                        let mut scanner = self.body_scanner(idx);
                        match scanner.scan(&buf[start..], max) {
                            Ok(Status::Complete(n)) => {
                                let mut body = Vec::with_capacity(scanner.data_len() as usize);
                                if chunked::decode(&buf[start..start + n], &mut body).is_err() {
                                    // A complete scan decodes: this cannot happen.
                                    self.bad_chunked(idx, ChunkedError::Malformed);
                                    return buf.len();
                                }
                                (head.head_len + n, Some(body))
                            }
                            Ok(Status::Partial) => {
                                let held = buf.len() - pos;
                                return self.body_pending(
                                    idx,
                                    &head,
                                    pos,
                                    held,
                                    scanner,
                                    buf.len(),
                                );
                            }
                            Err(e) => {
                                self.bad_chunked(idx, e);
                                return buf.len();
                            }
                        }
                    } else {
                        // The body length was checked against its limit by the parser.
                        let total = head.head_len + head.content_length as usize;
                        if buf.len() - pos < total {
                            let held = buf.len() - pos;
                            let scanner = Scanner::default();
                            return self.body_pending(idx, &head, pos, held, scanner, buf.len());
                        }
                        (total, None)
                    };
                    self.release_body(idx);
                    let body = decoded.as_deref().unwrap_or(&buf[start..pos + total]);
                    (self.handle_request(idx, &head, body), total)
                }
            };
            pos += total;
            match next {
                Next::KeepAlive => {}
                Next::Close => return buf.len(),
                Next::Wait => return pos - total,
                Next::Hold => return pos,
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

    /// A request whose head is complete and whose body is not. The first time, decide what
    /// the head already tells (route, app, `auth_key`, timestamp: [`Context::admit_body`]) and
    /// answer a refusal at once, closing without reading the body; then hold a share of the
    /// node's pending-body budget (a `Content-Length` body its whole size at once, a chunked
    /// one what it holds so far) and answer 503 past it; then send `100 Continue` if the
    /// client waits for it. Returns the bytes consumed (`all` when the connection closes).
    fn body_pending(
        &mut self,
        idx: u32,
        head: &Head<'_>,
        pos: usize,
        held: usize,
        scanner: Scanner,
        all: usize,
    ) -> usize {
        let req = Req::of(idx, head);
        let first = self
            .conn(idx)
            .extra
            .as_ref()
            .is_none_or(|e| e.body.is_none());
        if first && !self.admit_body(req.closing(), head) {
            return all;
        }
        let want = if head.chunked {
            held as u64
        } else {
            head.content_length
        };
        if !self.reserve_body(idx, want) {
            self.release_body(idx);
            let body =
                br#"{"error":"Too many request bodies in flight. Try again shortly.","code":503}"#;
            self.respond(
                req.closing(),
                503,
                "application/json",
                body,
                &[("Retry-After", "1")],
            );
            return all;
        }
        let pending = self
            .conn_mut(idx)
            .extra_mut()
            .body
            .get_or_insert_with(PendingBody::default);
        pending.scanner = scanner;
        if first && head.expect_continue {
            // "A server that receives a 100-continue expectation in an HTTP/1.1 request …
            // MUST either immediately send a 100 (Continue) interim response … or
            // immediately send a final status code" (RFC 9110 §10.1.1).
            self.output(idx)
                .extend_from_slice(b"HTTP/1.1 100 Continue\r\n\r\n");
        }
        self.partial(idx, pos)
    }

    /// The chunk scanner of the request in progress (a new one for a new request).
    fn body_scanner(&self, idx: u32) -> Scanner {
        self.conn(idx)
            .extra
            .as_ref()
            .and_then(|e| e.body.as_ref())
            .map_or_else(Scanner::default, |b| b.scanner)
    }

    /// A chunked body that cannot be read: 400 (or 413 past the body limit), then close.
    fn bad_chunked(&mut self, idx: u32, e: ChunkedError) {
        let (status, message) = match e {
            ChunkedError::Malformed => (400, "Malformed chunked request body."),
            ChunkedError::TooLarge => (413, "The payload size is too big."),
        };
        let body = format!(r#"{{"error":"{message}","code":{status}}}"#);
        self.respond_json(Req::last(idx), status, body.as_bytes());
    }

    /// Grows connection `idx`'s share of the pending-body budget to `bytes`; `false` when
    /// the node's budget cannot take it.
    fn reserve_body(&mut self, idx: u32, bytes: u64) -> bool {
        let had = self.body_reserved(idx);
        if bytes <= had {
            return true;
        }
        let more = bytes - had;
        let cap = self.shared.config.http.max_pending_body_bytes;
        let ok = self
            .shared
            .pending_body_bytes
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |v| {
                v.checked_add(more).filter(|&t| t <= cap)
            })
            .is_ok();
        if ok {
            self.conn_mut(idx)
                .extra_mut()
                .body
                .get_or_insert_with(PendingBody::default)
                .reserved = bytes;
        }
        ok
    }

    fn body_reserved(&self, idx: u32) -> u64 {
        self.conn(idx)
            .extra
            .as_ref()
            .and_then(|e| e.body.as_ref())
            .map_or(0, |b| b.reserved)
    }

    /// Gives back connection `idx`'s share of the pending-body budget (its request completed,
    /// or it is gone).
    pub(crate) fn release_body(&mut self, idx: u32) {
        let Some(body) = self
            .slots
            .get_mut(idx as usize)
            .and_then(|s| s.conn.as_mut())
            .and_then(|c| c.extra.as_mut())
            .and_then(|e| e.body.take())
        else {
            return;
        };
        if body.reserved > 0 {
            self.shared
                .pending_body_bytes
                .fetch_sub(body.reserved, Ordering::Relaxed);
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
    pub(crate) fn http_timeout(&mut self, idx: u32) {
        let body = br#"{"error":"Request timeout.","code":408}"#;
        self.respond_json(Req::last(idx), 408, body);
        let c = self.conn_mut(idx);
        c.spill = None;
        c.clear(flags::REQUEST_PARTIAL);
    }

    /// Writes a response to `req`; closes after it unless the request keeps the connection
    /// alive (and the server is not shutting down).
    pub(crate) fn respond(
        &mut self,
        req: Req,
        status: u16,
        content_type: &str,
        body: &[u8],
        extra: &[(&str, &str)],
    ) {
        let idx = req.idx;
        let keep_alive = req.keep_alive
            && !self.shared.is_closing()
            && !self.conn(idx).has(flags::NO_KEEP_ALIVE);
        let mut headers: Vec<(&str, &str)> = Vec::with_capacity(6 + extra.len());
        headers.push(("Content-Type", content_type));
        if matches!(self.shared.service, Service::Public) {
            headers.extend_from_slice(&CORS);
        }
        headers.extend_from_slice(extra);
        if keep_alive && req.http10 {
            headers.push(("Connection", "keep-alive"));
        }
        let out = self.output(idx);
        http::write_response(out, status, &headers, body, keep_alive);
        if req.head_only {
            out.truncate(out.len() - body.len());
        }
        if !keep_alive {
            // Nothing more is read: an unfinished body gives its budget back.
            self.release_body(idx);
            let now = self.now;
            let c = self.conn_mut(idx);
            c.set(flags::CLOSE_AFTER_FLUSH);
            c.phase = Phase::Closing;
            c.mark = now;
            c.spill = None;
        }
    }

    /// The whole answer to a connection accepted at the open-files limit only to be refused:
    /// a 503 with soketi's error JSON and `Connection: close` (right for a WebSocket
    /// handshake too). Built once per reactor; the reactor writes it and closes the socket.
    pub(crate) fn fd_limit_response(&self) -> Vec<u8> {
        let body =
            br#"{"error":"The server is out of file descriptors. Choose another server. :)","code":503}"#;
        let mut headers: Vec<(&str, &str)> = vec![("Content-Type", "application/json")];
        if matches!(self.shared.service, Service::Public) {
            headers.extend_from_slice(&CORS);
        }
        let mut out = Vec::new();
        http::write_response(&mut out, 503, &headers, body, false);
        out
    }

    pub(crate) fn respond_json(&mut self, req: Req, status: u16, body: &[u8]) {
        self.respond(req, status, "application/json", body, &[]);
    }

    pub(crate) fn respond_error(&mut self, req: Req, e: ApiError) {
        let body = serde_json::json!({"error": e.message, "code": e.status}).to_string();
        self.respond_json(req, e.status, body.as_bytes());
    }

    fn handle_request(&mut self, idx: u32, head: &Head<'_>, body: &[u8]) -> Next {
        let req = Req::of(idx, head);
        match &self.shared.service {
            Service::Public => self.route(req, head, body),
            Service::Metrics { state, .. } => {
                let state = state.clone();
                self.metrics_route(req, head, &state)
            }
        }
    }
}
