//! Request heads: httparse does the tokenising; this file adds the limits and the framing rules
//! (Content-Length only, no Transfer-Encoding) and pulls out the few headers the server acts on.

use crate::parse::Status;

/// The most header lines a head may carry, whatever [`Limits::max_headers`] says: httparse
/// needs a slot per header, and 64 slots on the stack are plenty for Pusher clients and SDKs
/// (browsers send ~15).
pub const MAX_HEADERS: usize = 64;

/// Size limits for one request; checked before anything is allocated.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Longest head (request line + headers + the final CRLF CRLF) accepted.
    pub max_head_bytes: usize,
    /// Most header lines accepted; values above [`MAX_HEADERS`] act as [`MAX_HEADERS`].
    pub max_headers: usize,
    /// Largest `Content-Length` accepted.
    pub max_body_bytes: u64,
}

/// Request method. Methods are case-sensitive (RFC 9110 §9.1), so `get` is `Other`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Method {
    Get,
    Head,
    Post,
    Put,
    Delete,
    Options,
    Patch,
    Other,
}

impl Method {
    fn from_token(token: &str) -> Method {
        match token {
            "GET" => Method::Get,
            "HEAD" => Method::Head,
            "POST" => Method::Post,
            "PUT" => Method::Put,
            "DELETE" => Method::Delete,
            "OPTIONS" => Method::Options,
            "PATCH" => Method::Patch,
            _ => Method::Other,
        }
    }
}

/// The headers of a WebSocket opening handshake (RFC 6455 §4.2.1). The reactor decides what a
/// missing or invalid one means (soketi answers 404 when the key is missing).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct WsHeaders<'a> {
    /// An `Upgrade` header lists the token `websocket` (case-insensitive).
    pub upgrade_websocket: bool,
    /// A `Connection` header lists the token `upgrade` (case-insensitive, comma-separated).
    pub connection_upgrade: bool,
    /// `Sec-WebSocket-Key`, trimmed. `None` when absent, not UTF-8, or sent more than once
    /// ("The |Sec-WebSocket-Key| header field MUST NOT appear more than once", RFC 6455 §11.3.1).
    pub key: Option<&'a str>,
    /// `Sec-WebSocket-Version`, trimmed; `None` when absent, not UTF-8, or sent more than once.
    pub version: Option<&'a str>,
}

/// A parsed request head; everything borrows from the input buffer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Head<'a> {
    pub method: Method,
    /// Request target before the first `?`, raw (not percent-decoded); always starts with `/`.
    pub path: &'a str,
    /// Everything after the first `?`, raw; `""` when there is none.
    pub query: &'a str,
    /// The `x` of `HTTP/1.x`.
    pub minor_version: u8,
    /// Bytes of the head including the final CRLF CRLF; the body (if any) starts here.
    pub head_len: usize,
    /// `Content-Length`, 0 when absent (and for a chunked body).
    pub content_length: u64,
    /// The body comes with `Transfer-Encoding: chunked` (its length is known once the last
    /// chunk has arrived; see [`super::chunked`]).
    pub chunked: bool,
    /// `Expect: 100-continue`: the client waits for `100 Continue` (or the final status)
    /// before it sends the body.
    pub expect_continue: bool,
    /// `Host` headers seen (saturating). The server answers 400 unless there is exactly one
    /// (none is allowed in HTTP/1.0): see [`Head::host_ok`].
    pub hosts: u8,
    /// HTTP/1.1: true unless `Connection: close`; HTTP/1.0: false unless `Connection: keep-alive`
    /// (and not also `close`).
    pub keep_alive: bool,
    pub ws: WsHeaders<'a>,
}

impl Head<'_> {
    /// RFC 9112 §3.2: exactly one `Host` (HTTP/1.0 may omit it).
    pub fn host_ok(&self) -> bool {
        self.hosts == 1 || (self.hosts == 0 && self.minor_version == 0)
    }
}

/// Why a head was refused. Each maps to a status; the reactor answers and closes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum HttpError {
    /// Not HTTP/1.x as httparse reads it, or a target that is not origin-form (`/…`).
    Malformed,
    /// The head is longer than [`Limits::max_head_bytes`].
    HeadTooLarge,
    /// More header lines than [`Limits::max_headers`].
    TooManyHeaders,
    /// `Content-Length` that is not a plain decimal u64, or several that disagree.
    BadContentLength,
    /// `Transfer-Encoding` together with `Content-Length`, or in an HTTP/1.0 request: the
    /// framing is ambiguous (RFC 9112 §6.1, §6.3).
    AmbiguousFraming,
    /// A transfer coding other than a lone `chunked`.
    UnsupportedTransferCoding,
    /// HTTP/1.1 without `Host`, or any request with more than one (RFC 9112 §3.2); found by
    /// [`Head::host_ok`], not by the parser.
    BadHost,
    /// `Content-Length` above [`Limits::max_body_bytes`].
    BodyTooLarge,
}

impl HttpError {
    /// The HTTP status to answer with.
    pub fn status(&self) -> u16 {
        match self {
            HttpError::Malformed => 400,
            HttpError::HeadTooLarge => 431,
            HttpError::TooManyHeaders => 431,
            HttpError::BadContentLength => 400,
            HttpError::AmbiguousFraming => 400,
            // "A server that receives a request message with a transfer coding it does not
            // understand SHOULD respond with 501 (Not Implemented)." (RFC 9112 §6.1)
            HttpError::UnsupportedTransferCoding => 501,
            // "A server MUST respond with a 400 (Bad Request) status code to any HTTP/1.1
            // request message that lacks a Host header field and to any request message that
            // contains more than one Host header field" (RFC 9112 §3.2).
            HttpError::BadHost => 400,
            HttpError::BodyTooLarge => 413,
        }
    }

    /// A short text for the response body or a log line.
    pub fn message(&self) -> &'static str {
        match self {
            HttpError::Malformed => "Malformed HTTP request.",
            HttpError::HeadTooLarge => "The request head is too large.",
            HttpError::TooManyHeaders => "The request has too many header fields.",
            HttpError::BadContentLength => "Invalid Content-Length.",
            HttpError::AmbiguousFraming => {
                "Transfer-Encoding with Content-Length, or in HTTP/1.0, is not allowed."
            }
            HttpError::UnsupportedTransferCoding => "Only Transfer-Encoding: chunked is supported.",
            HttpError::BadHost => "A request needs exactly one Host header.",
            // soketi's text for its body limit.
            HttpError::BodyTooLarge => "The payload size is too big.",
        }
    }
}

/// Parses the request head at the start of `buf` with httparse (a fixed array of
/// [`MAX_HEADERS`] headers on the stack).
///
/// `Partial` consumes nothing: call again with the same bytes plus more. Bytes after the head
/// (a body, or a pipelined request) are left alone; `head_len` says where they start.
pub fn parse_head<'a>(buf: &'a [u8], limits: &Limits) -> Result<Status<Head<'a>>, HttpError> {
    // Parse only the first `max_head_bytes`: a head that fits is found in full, and the work
    // per call stays bounded however much the peer has sent.
    let window = buf.get(..limits.max_head_bytes).unwrap_or(buf);

    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    // httparse reports TooManyHeaders once the slots run out, so giving it exactly
    // `max_headers` slots enforces the limit. `min` keeps the range inside the array.
    let (slots, _) = slots.split_at_mut(limits.max_headers.min(MAX_HEADERS));
    let mut req = httparse::Request::new(slots);
    let head_len = match req.parse(window) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            // The window held no complete head: if the peer has already sent more than the
            // limit, no later read can make it fit.
            return if buf.len() > limits.max_head_bytes {
                Err(HttpError::HeadTooLarge)
            } else {
                Ok(Status::Partial)
            };
        }
        Err(httparse::Error::TooManyHeaders) => return Err(HttpError::TooManyHeaders),
        Err(_) => return Err(HttpError::Malformed),
    };

    // On Complete httparse has filled all three; treat a gap as malformed rather than trust it.
    let (Some(method), Some(target), Some(minor_version)) = (req.method, req.path, req.version)
    else {
        return Err(HttpError::Malformed);
    };
    // Only origin-form: every route we serve is a path, and absolute-form (`http://…`) or
    // asterisk-form (`*`) would need host handling we do not do.
    if !target.starts_with('/') {
        return Err(HttpError::Malformed);
    }
    let (path, query) = target.split_once('?').unwrap_or((target, ""));

    let mut framing = Framing::default();
    let mut conn = ConnectionTokens::default();
    let mut ws = WsHeaders::default();
    let mut key_seen = false;
    let mut version_seen = false;
    let mut hosts = 0usize;
    let mut expect_continue = false;
    for header in req.headers.iter() {
        let name = header.name;
        let value = trim_ows(header.value);
        if name.eq_ignore_ascii_case("content-length") {
            framing.content_length(value);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            framing.transfer_coding(value);
        } else if name.eq_ignore_ascii_case("host") {
            hosts += 1;
        } else if name.eq_ignore_ascii_case("expect") {
            expect_continue |= value.eq_ignore_ascii_case(b"100-continue");
        } else if name.eq_ignore_ascii_case("connection") {
            conn.add(value);
        } else if name.eq_ignore_ascii_case("upgrade") {
            ws.upgrade_websocket |= has_token(value, b"websocket");
        } else if name.eq_ignore_ascii_case("sec-websocket-key") {
            ws.key = once(&mut key_seen, value);
        } else if name.eq_ignore_ascii_case("sec-websocket-version") {
            ws.version = once(&mut version_seen, value);
        }
    }
    ws.connection_upgrade = conn.upgrade;

    // Transfer-Encoding first: with both it and Content-Length present the peer and we would
    // disagree on where the body ends (RFC 9112 §6.3), whatever the Content-Length says; an
    // HTTP/1.0 message with it "MUST" be treated as faulty framing (RFC 9112 §6.1).
    if framing.codings > 0 {
        if framing.length.is_some() || framing.bad || minor_version == 0 {
            return Err(HttpError::AmbiguousFraming);
        }
        if !framing.chunked_only() {
            return Err(HttpError::UnsupportedTransferCoding);
        }
    }
    if framing.bad {
        return Err(HttpError::BadContentLength);
    }
    let content_length = framing.length.unwrap_or(0);
    if content_length > limits.max_body_bytes {
        return Err(HttpError::BodyTooLarge);
    }

    let keep_alive = if minor_version >= 1 {
        !conn.close
    } else {
        conn.keep_alive && !conn.close
    };

    Ok(Status::Complete(Head {
        method: Method::from_token(method),
        path,
        query,
        minor_version,
        head_len,
        content_length,
        chunked: framing.codings > 0,
        expect_continue,
        hosts: hosts.min(u8::MAX as usize) as u8,
        keep_alive,
        ws,
    }))
}

/// What the Content-Length / Transfer-Encoding headers say about the body.
#[derive(Default)]
struct Framing {
    length: Option<u64>,
    /// A Content-Length was unreadable, or two disagreed.
    bad: bool,
    /// Transfer codings listed, over every `Transfer-Encoding` header.
    codings: usize,
    /// The last coding listed is `chunked`.
    last_chunked: bool,
}

impl Framing {
    fn transfer_coding(&mut self, value: &[u8]) {
        for coding in value.split(|b| *b == b',').map(trim_ows) {
            self.codings += 1;
            self.last_chunked = coding.eq_ignore_ascii_case(b"chunked");
        }
    }

    /// The codings are exactly `chunked` (no compression, nothing after it).
    fn chunked_only(&self) -> bool {
        self.codings == 1 && self.last_chunked
    }

    fn content_length(&mut self, value: &[u8]) {
        match (parse_decimal(value), self.length) {
            (Some(n), None) => self.length = Some(n),
            // Repeated headers must agree (RFC 9112 §6.3 item 5); a disagreement is how request
            // smuggling starts, so it is an error, not "first wins".
            (Some(n), Some(m)) if n == m => {}
            _ => self.bad = true,
        }
    }
}

/// A plain decimal: one or more ASCII digits, nothing else, no overflow. Rejects signs, inner
/// spaces and the comma lists (`5, 5`) some servers tolerate.
fn parse_decimal(value: &[u8]) -> Option<u64> {
    if value.is_empty() {
        return None;
    }
    value.iter().try_fold(0u64, |acc, &b| {
        let digit = b.checked_sub(b'0').filter(|d| *d <= 9)?;
        acc.checked_mul(10)?.checked_add(u64::from(digit))
    })
}

/// Tokens seen across every `Connection` header.
#[derive(Default)]
struct ConnectionTokens {
    close: bool,
    keep_alive: bool,
    upgrade: bool,
}

impl ConnectionTokens {
    fn add(&mut self, value: &[u8]) {
        for token in value.split(|b| *b == b',').map(trim_ows) {
            self.close |= token.eq_ignore_ascii_case(b"close");
            self.keep_alive |= token.eq_ignore_ascii_case(b"keep-alive");
            self.upgrade |= token.eq_ignore_ascii_case(b"upgrade");
        }
    }
}

/// `true` when the comma-separated list `value` holds `token` (case-insensitive). Upgrade is a
/// list (RFC 9110 §7.8), so `Upgrade: websocket, h2c` still asks for a WebSocket.
fn has_token(value: &[u8], token: &[u8]) -> bool {
    value
        .split(|b| *b == b',')
        .any(|t| trim_ows(t).eq_ignore_ascii_case(token))
}

/// The value of a header that may appear only once: the first sighting keeps it (if UTF-8),
/// a second one clears it for good.
fn once<'a>(seen: &mut bool, value: &'a [u8]) -> Option<&'a str> {
    if std::mem::replace(seen, true) {
        return None;
    }
    std::str::from_utf8(value).ok()
}

/// Strips optional whitespace (SP / HTAB, RFC 9110 §5.6.3) from both ends.
fn trim_ows(mut s: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = s {
        s = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = s {
        s = rest;
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_head_bytes: 1024,
        max_headers: 16,
        max_body_bytes: 1000,
    };

    /// The fields a table row checks; `ws` has its own table.
    #[derive(Debug, PartialEq)]
    struct Got<'a> {
        method: Method,
        path: &'a str,
        query: &'a str,
        minor: u8,
        head_len: usize,
        content_length: u64,
        keep_alive: bool,
    }

    fn got<'a>(buf: &'a [u8], limits: &Limits) -> Result<Option<Got<'a>>, HttpError> {
        Ok(match parse_head(buf, limits)? {
            Status::Complete(h) => Some(Got {
                method: h.method,
                path: h.path,
                query: h.query,
                minor: h.minor_version,
                head_len: h.head_len,
                content_length: h.content_length,
                keep_alive: h.keep_alive,
            }),
            Status::Partial => None,
        })
    }

    #[allow(clippy::too_many_arguments)]
    fn ok<'a>(
        method: Method,
        path: &'a str,
        query: &'a str,
        minor: u8,
        head_len: usize,
        content_length: u64,
        keep_alive: bool,
    ) -> Result<Option<Got<'a>>, HttpError> {
        Ok(Some(Got {
            method,
            path,
            query,
            minor,
            head_len,
            content_length,
            keep_alive,
        }))
    }

    /// (name, input, limits, expected); `Ok(None)` is Partial.
    type HeadCase<'a> = (
        &'a str,
        &'a [u8],
        Limits,
        Result<Option<Got<'a>>, HttpError>,
    );

    /// `head_len` placeholder: the whole input is the head.
    const ALL: usize = usize::MAX;

    fn many_headers(n: usize) -> Vec<u8> {
        let mut v = b"GET / HTTP/1.1\r\n".to_vec();
        for i in 0..n {
            v.extend_from_slice(format!("X-H{i}: v\r\n").as_bytes());
        }
        v.extend_from_slice(b"\r\n");
        v
    }

    #[test]
    fn heads() {
        use HttpError::*;
        use Method::*;
        const GET: &[u8] = b"GET /app/key?protocol=7&client=js HTTP/1.1\r\nHost: x\r\n\r\n";
        const POST: &[u8] =
            b"POST /apps/1/events?auth_key=k HTTP/1.1\r\nContent-Length: 2\r\n\r\n{}";
        let big = Limits {
            max_headers: 64,
            max_head_bytes: 1 << 20,
            ..LIMITS
        };
        let h64 = many_headers(64);
        let h65 = many_headers(65);
        let h16 = many_headers(16);
        let h17 = many_headers(17);
        let long_head = [
            b"GET / HTTP/1.1\r\nX: ".as_slice(),
            &[b'a'; 1100],
            b"\r\n\r\n",
        ]
        .concat();
        let long_partial = [b"GET / HTTP/1.1\r\nX: ".as_slice(), &[b'a'; 1100]].concat();
        let exact = [
            b"GET / HTTP/1.1\r\nX: ".as_slice(),
            &[b'a'; 1000],
            b"\r\n\r\n",
        ]
        .concat();
        let exact_len = exact.len();
        let tight = Limits {
            max_head_bytes: exact_len,
            ..LIMITS
        };
        let one_short = Limits {
            max_head_bytes: exact_len - 1,
            ..LIMITS
        };

        #[rustfmt::skip]
        let cases: Vec<HeadCase> = vec![
            ("get with query", GET, LIMITS, ok(Get, "/app/key", "protocol=7&client=js", 1, ALL, 0, true)),
            ("post with body", POST, LIMITS, ok(Post, "/apps/1/events", "auth_key=k", 1, POST.len() - 2, 2, true)),
            ("pipelined second request ignored",
             b"GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", LIMITS, ok(Get, "/a", "", 1, 19, 0, true)),
            ("second request partial is fine",
             b"GET /a HTTP/1.1\r\n\r\nGARB", LIMITS, ok(Get, "/a", "", 1, 19, 0, true)),
            ("empty query after ?", b"GET /x? HTTP/1.1\r\n\r\n", LIMITS, ok(Get, "/x", "", 1, ALL, 0, true)),
            ("only first ? splits", b"GET /x?a=?b HTTP/1.1\r\n\r\n", LIMITS, ok(Get, "/x", "a=?b", 1, ALL, 0, true)),
            ("path kept raw", b"GET /apps/%40x HTTP/1.1\r\n\r\n", LIMITS, ok(Get, "/apps/%40x", "", 1, ALL, 0, true)),
            ("methods", b"DELETE / HTTP/1.1\r\n\r\n", LIMITS, ok(Delete, "/", "", 1, ALL, 0, true)),
            ("methods", b"OPTIONS / HTTP/1.1\r\n\r\n", LIMITS, ok(Options, "/", "", 1, ALL, 0, true)),
            ("methods", b"PUT / HTTP/1.1\r\n\r\n", LIMITS, ok(Put, "/", "", 1, ALL, 0, true)),
            ("methods", b"PATCH / HTTP/1.1\r\n\r\n", LIMITS, ok(Patch, "/", "", 1, ALL, 0, true)),
            ("methods", b"HEAD / HTTP/1.1\r\n\r\n", LIMITS, ok(Head, "/", "", 1, ALL, 0, true)),
            ("lower-case method is another method", b"get / HTTP/1.1\r\n\r\n", LIMITS, ok(Other, "/", "", 1, ALL, 0, true)),
            ("unknown method", b"BREW / HTTP/1.1\r\n\r\n", LIMITS, ok(Other, "/", "", 1, ALL, 0, true)),
            // Keep-alive rules.
            ("1.1 close", b"GET / HTTP/1.1\r\nConnection: close\r\n\r\n", LIMITS, ok(Get, "/", "", 1, ALL, 0, false)),
            ("1.1 CLOSE in a list", b"GET / HTTP/1.1\r\nconnection: Upgrade, CLOSE\r\n\r\n", LIMITS, ok(Get, "/", "", 1, ALL, 0, false)),
            ("1.1 keep-alive", b"GET / HTTP/1.1\r\nConnection: keep-alive\r\n\r\n", LIMITS, ok(Get, "/", "", 1, ALL, 0, true)),
            ("1.0 default close", b"GET / HTTP/1.0\r\n\r\n", LIMITS, ok(Get, "/", "", 0, ALL, 0, false)),
            ("1.0 keep-alive", b"GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", LIMITS, ok(Get, "/", "", 0, ALL, 0, true)),
            ("1.0 keep-alive and close", b"GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n", LIMITS, ok(Get, "/", "", 0, ALL, 0, false)),
            ("1.0 closeish token is not close", b"GET / HTTP/1.1\r\nConnection: closed\r\n\r\n", LIMITS, ok(Get, "/", "", 1, ALL, 0, true)),
            // Content-Length.
            ("upper-case name", b"POST / HTTP/1.1\r\nCONTENT-LENGTH: 5\r\n\r\n", LIMITS, ok(Post, "/", "", 1, ALL, 5, true)),
            ("lower-case name", b"POST / HTTP/1.1\r\ncontent-length: 5\r\n\r\n", LIMITS, ok(Post, "/", "", 1, ALL, 5, true)),
            ("outer whitespace ok", b"POST / HTTP/1.1\r\nContent-Length: \t7 \r\n\r\n", LIMITS, ok(Post, "/", "", 1, ALL, 7, true)),
            ("duplicates agree", b"POST / HTTP/1.1\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\n", LIMITS, ok(Post, "/", "", 1, ALL, 3, true)),
            ("zero", b"POST / HTTP/1.1\r\nContent-Length: 0\r\n\r\n", LIMITS, ok(Post, "/", "", 1, ALL, 0, true)),
            ("at the body limit", b"POST / HTTP/1.1\r\nContent-Length: 1000\r\n\r\n", LIMITS, ok(Post, "/", "", 1, ALL, 1000, true)),
            ("duplicates conflict", b"POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\n", LIMITS, Err(BadContentLength)),
            ("comma list", b"POST / HTTP/1.1\r\nContent-Length: 3, 3\r\n\r\n", LIMITS, Err(BadContentLength)),
            ("negative", b"POST / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", LIMITS, Err(BadContentLength)),
            ("plus sign", b"POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\n", LIMITS, Err(BadContentLength)),
            ("inner space", b"POST / HTTP/1.1\r\nContent-Length: 1 0\r\n\r\n", LIMITS, Err(BadContentLength)),
            ("empty", b"POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", LIMITS, Err(BadContentLength)),
            ("hex", b"POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", LIMITS, Err(BadContentLength)),
            ("overflows u64", b"POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n", LIMITS, Err(BadContentLength)),
            ("u64::MAX is too large", b"POST / HTTP/1.1\r\nContent-Length: 18446744073709551615\r\n\r\n", LIMITS, Err(BodyTooLarge)),
            ("over the body limit", b"POST / HTTP/1.1\r\nContent-Length: 1001\r\n\r\n", LIMITS, Err(BodyTooLarge)),
            // Transfer-Encoding.
            ("chunked", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", LIMITS, ok(Post, "/", "", 1, ALL, 0, true)),
            ("chunked, any case", b"POST / HTTP/1.1\r\ntransfer-encoding: Chunked\r\n\r\n", LIMITS, ok(Post, "/", "", 1, ALL, 0, true)),
            ("identity", b"POST / HTTP/1.1\r\ntransfer-encoding: identity\r\n\r\n", LIMITS, Err(UnsupportedTransferCoding)),
            ("gzip, chunked", b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", LIMITS, Err(UnsupportedTransferCoding)),
            ("chunked twice", b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", LIMITS, Err(UnsupportedTransferCoding)),
            ("te with cl", b"POST / HTTP/1.1\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n", LIMITS, Err(AmbiguousFraming)),
            ("te with a bad cl", b"POST / HTTP/1.1\r\nContent-Length: x\r\nTransfer-Encoding: chunked\r\n\r\n", LIMITS, Err(AmbiguousFraming)),
            ("te in http/1.0", b"POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", LIMITS, Err(AmbiguousFraming)),
            // Header count.
            ("16 headers at limit 16", &h16, LIMITS, ok(Get, "/", "", 1, ALL, 0, true)),
            ("17 headers at limit 16", &h17, LIMITS, Err(TooManyHeaders)),
            ("64 headers at limit 64", &h64, big, ok(Get, "/", "", 1, ALL, 0, true)),
            ("65 headers", &h65, big, Err(TooManyHeaders)),
            ("65 headers, limit above 64", &h65, Limits { max_headers: 1000, ..big }, Err(TooManyHeaders)),
            ("no header slots", b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", Limits { max_headers: 0, ..LIMITS }, Err(TooManyHeaders)),
            ("no header slots, no headers", b"GET / HTTP/1.1\r\n\r\n", Limits { max_headers: 0, ..LIMITS }, ok(Get, "/", "", 1, ALL, 0, true)),
            // Head size.
            ("complete but too long", &long_head, LIMITS, Err(HeadTooLarge)),
            ("partial and too long", &long_partial, LIMITS, Err(HeadTooLarge)),
            ("exactly the limit", &exact, tight, ok(Get, "/", "", 1, ALL, 0, true)),
            ("one byte over", &exact, one_short, Err(HeadTooLarge)),
            ("partial at exactly the limit waits", &exact[..exact_len - 1], one_short, Ok(None)),
            // Garbage.
            ("empty", b"", LIMITS, Ok(None)),
            ("binary", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03", LIMITS, Err(Malformed)),
            ("nul in target", b"GET /\0 HTTP/1.1\r\n\r\n", LIMITS, Err(Malformed)),
            ("http/2 preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", LIMITS, Err(Malformed)),
            ("http/1.2", b"GET / HTTP/1.2\r\n\r\n", LIMITS, Err(Malformed)),
            ("no version", b"GET /\r\n\r\n", LIMITS, Err(Malformed)),
            ("absolute-form", b"GET http://x/ HTTP/1.1\r\n\r\n", LIMITS, Err(Malformed)),
            ("asterisk-form", b"OPTIONS * HTTP/1.1\r\n\r\n", LIMITS, Err(Malformed)),
            ("space in header name", b"GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", LIMITS, Err(Malformed)),
            ("bare LF line endings are httparse's call", b"GET / HTTP/1.1\nHost: x\n\n", LIMITS, ok(Get, "/", "", 1, ALL, 0, true)),
        ];
        for (name, input, limits, mut want) in cases {
            if let Ok(Some(w)) = &mut want {
                if w.head_len == ALL {
                    w.head_len = input.len();
                }
            }
            assert_eq!(got(input, &limits), want, "{name}");
        }
    }

    #[test]
    fn partial_at_every_truncation_point() {
        let heads: [&[u8]; 3] = [
            b"GET /app/key?protocol=7 HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
            b"POST /apps/1/events HTTP/1.1\r\nContent-Length: 10\r\n\r\n",
            b"GET / HTTP/1.0\r\n\r\n",
        ];
        for head in heads {
            for cut in 0..head.len() {
                assert_eq!(
                    parse_head(&head[..cut], &LIMITS),
                    Ok(Status::Partial),
                    "cut at {cut} of {:?}",
                    String::from_utf8_lossy(head)
                );
            }
            let Ok(Status::Complete(h)) = parse_head(head, &LIMITS) else {
                panic!(
                    "complete head rejected: {:?}",
                    String::from_utf8_lossy(head)
                );
            };
            assert_eq!(h.head_len, head.len());
        }
    }

    #[test]
    fn websocket_headers() {
        let ws = |buf: &'static [u8]| match parse_head(buf, &LIMITS) {
            Ok(Status::Complete(h)) => h.ws,
            other => panic!("{other:?}"),
        };
        let full = WsHeaders {
            upgrade_websocket: true,
            connection_upgrade: true,
            key: Some("dGhlIHNhbXBsZSBub25jZQ=="),
            version: Some("13"),
        };
        #[rustfmt::skip]
        let cases: [(&str, &'static [u8], WsHeaders); 8] = [
            ("browser handshake",
             b"GET /app/k HTTP/1.1\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n",
             full),
            ("case-insensitive names and values, keep-alive list, key trimmed",
             b"GET /app/k HTTP/1.1\r\nupgrade: WebSocket\r\nconnection: keep-alive, UPGRADE\r\nsec-websocket-key:   dGhlIHNhbXBsZSBub25jZQ==  \r\nSEC-WEBSOCKET-VERSION: 13\r\n\r\n",
             full),
            ("plain GET", b"GET / HTTP/1.1\r\n\r\n", WsHeaders::default()),
            ("upgrade to something else",
             b"GET / HTTP/1.1\r\nUpgrade: h2c\r\nConnection: Upgrade\r\n\r\n",
             WsHeaders { connection_upgrade: true, ..WsHeaders::default() }),
            ("upgrade list",
             b"GET / HTTP/1.1\r\nUpgrade: h2c, websocket\r\n\r\n",
             WsHeaders { upgrade_websocket: true, ..WsHeaders::default() }),
            ("upgrades is not upgrade",
             b"GET / HTTP/1.1\r\nConnection: upgrades\r\nUpgrade: websockets\r\n\r\n",
             WsHeaders::default()),
            ("duplicate key and version are dropped",
             b"GET / HTTP/1.1\r\nSec-WebSocket-Key: a\r\nSec-WebSocket-Key: a\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Version: 13\r\n\r\n",
             WsHeaders::default()),
            ("non-UTF-8 key",
             b"GET / HTTP/1.1\r\nSec-WebSocket-Key: \xff\xfe\r\n\r\n",
             WsHeaders::default()),
        ];
        for (name, input, want) in cases {
            assert_eq!(ws(input), want, "{name}");
        }
    }

    #[test]
    fn host_count_and_expect() {
        let head = |input: &'static [u8]| match parse_head(input, &LIMITS) {
            Ok(Status::Complete(h)) => h,
            other => panic!("{other:?}"),
        };
        let cases: [(&[u8], bool, bool); 6] = [
            (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", true, false),
            (b"GET / HTTP/1.1\r\n\r\n", false, false),
            (b"GET / HTTP/1.0\r\n\r\n", true, false),
            (
                b"GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n",
                false,
                false,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: x\r\nExpect: 100-Continue\r\n\r\n",
                true,
                true,
            ),
            (
                b"POST / HTTP/1.1\r\nHost: x\r\nExpect: something-else\r\n\r\n",
                true,
                false,
            ),
        ];
        for (input, host_ok, expect) in cases {
            let h = head(input);
            assert_eq!(h.host_ok(), host_ok, "{}", String::from_utf8_lossy(input));
            assert_eq!(h.expect_continue, expect);
        }
        assert!(head(b"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n").chunked);
    }

    #[test]
    fn error_statuses() {
        use HttpError::*;
        let cases = [
            (Malformed, 400),
            (HeadTooLarge, 431),
            (TooManyHeaders, 431),
            (BadContentLength, 400),
            (AmbiguousFraming, 400),
            (UnsupportedTransferCoding, 501),
            (BadHost, 400),
            (BodyTooLarge, 413),
        ];
        for (err, status) in cases {
            assert_eq!(err.status(), status, "{err:?}");
            assert!(!err.message().is_empty());
        }
    }

    #[test]
    fn decimal() {
        let cases: [(&[u8], Option<u64>); 7] = [
            (b"0", Some(0)),
            (b"007", Some(7)),
            (b"18446744073709551615", Some(u64::MAX)),
            (b"18446744073709551616", None),
            (b"", None),
            (b"1a", None),
            (b"\xff", None),
        ];
        for (input, want) in cases {
            assert_eq!(parse_decimal(input), want, "{input:?}");
        }
    }

    /// A poor man's fuzz run (the real one is `fuzz/`): random edits of a valid head never
    /// panic, and whatever is accepted is self-consistent.
    #[test]
    fn mutated_heads_never_panic() {
        const SEED: &[u8] = b"POST /apps/1/events?a=b HTTP/1.1\r\nContent-Length: 5\r\nConnection: keep-alive, Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\nhello";
        const ALPHABET: &[u8] = b"\r\n :/?%,-0123456789aZ\t\x00\xff";
        let mut state = 0x9E37_79B9_7F4A_7C15u64;
        let mut next = move || {
            // xorshift64: deterministic, so a failure reproduces.
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let mut buf = SEED.to_vec();
            for _ in 0..(next() % 4 + 1) {
                let at = (next() % buf.len() as u64) as usize;
                let byte = ALPHABET[(next() % ALPHABET.len() as u64) as usize];
                match next() % 3 {
                    0 => buf[at] = byte,
                    1 => buf.insert(at, byte),
                    _ => {
                        buf.remove(at);
                    }
                }
            }
            let cut = (next() % (buf.len() as u64 + 1)) as usize;
            let input = &buf[..cut];
            if let Ok(Status::Complete(h)) = parse_head(input, &LIMITS) {
                assert!(h.head_len <= input.len() && h.head_len <= LIMITS.max_head_bytes);
                assert!(h.path.starts_with('/'));
                assert!(h.content_length <= LIMITS.max_body_bytes);
            }
        }
    }
}
