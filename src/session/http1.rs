//! HTTP/1.1 request framing: keep-alive, pipelining, bodies and their limits, the
//! unfinished-request timer, back-pressure on clients that pipeline without reading, and
//! writing responses (CORS headers, `HEAD` without a body, close after the last).
//! The routes are in [`super::rest`].

use super::{Context, Service};
use crate::conn::{flags, Phase};
use crate::http;
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
                Next::Wait => return pos - total,
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
        let req = Req {
            idx,
            keep_alive: head.keep_alive,
            head_only: head.method == Method::Head,
            http10: head.minor_version == 0,
        };
        match &self.shared.service {
            Service::Public => self.route(req, head, body),
            Service::Metrics { state, .. } => {
                let state = state.clone();
                self.metrics_route(req, head, &state)
            }
        }
    }
}
