//! Responses: a status line, a few headers and a body appended to the connection's write
//! buffer, and the 101 that completes a WebSocket handshake.

/// The reason phrase for `status` (RFC 9110 §15), or `""` for a code without one — the status
/// line stays valid because the reason phrase is optional (RFC 9112 §4).
pub fn reason_phrase(status: u16) -> &'static str {
    match status {
        100 => "Continue",
        101 => "Switching Protocols",
        200 => "OK",
        201 => "Created",
        202 => "Accepted",
        204 => "No Content",
        301 => "Moved Permanently",
        302 => "Found",
        304 => "Not Modified",
        400 => "Bad Request",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        409 => "Conflict",
        411 => "Length Required",
        413 => "Payload Too Large",
        414 => "URI Too Long",
        415 => "Unsupported Media Type",
        422 => "Unprocessable Entity",
        426 => "Upgrade Required",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        501 => "Not Implemented",
        502 => "Bad Gateway",
        503 => "Service Unavailable",
        504 => "Gateway Timeout",
        _ => "",
    }
}

/// Appends a whole response to `out`:
/// `HTTP/1.1 {status} {reason}\r\n`, `Content-Length: {body.len()}\r\n`,
/// `Connection: close\r\n` when `!keep_alive`, each `name: value\r\n`, `\r\n`, then `body`.
///
/// Content-Length is always written (even for 204/304) so the peer never has to read until
/// close to find the end. Header names and values are ours, not the peer's, but a CR or LF in
/// one would split the response, so any such byte is written as a space.
pub fn write_response(
    out: &mut Vec<u8>,
    status: u16,
    headers: &[(&str, &str)],
    body: &[u8],
    keep_alive: bool,
) {
    let mut status_buf = itoa::Buffer::new();
    let mut length_buf = itoa::Buffer::new();
    let status_text = status_buf.format(status);
    let length_text = length_buf.format(body.len());
    let reason = reason_phrase(status);

    let headers_len: usize = headers.iter().map(|(n, v)| n.len() + v.len() + 4).sum();
    out.reserve(64 + reason.len() + headers_len + body.len());

    out.extend_from_slice(b"HTTP/1.1 ");
    out.extend_from_slice(status_text.as_bytes());
    out.push(b' ');
    out.extend_from_slice(reason.as_bytes());
    out.extend_from_slice(b"\r\nContent-Length: ");
    out.extend_from_slice(length_text.as_bytes());
    out.extend_from_slice(b"\r\n");
    if !keep_alive {
        out.extend_from_slice(b"Connection: close\r\n");
    }
    for (name, value) in headers {
        push_field(out, name.as_bytes());
        out.extend_from_slice(b": ");
        push_field(out, value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
}

/// Appends `field` with CR and LF replaced by spaces (see [`write_response`]).
fn push_field(out: &mut Vec<u8>, field: &[u8]) {
    if memchr::memchr2(b'\r', b'\n', field).is_none() {
        out.extend_from_slice(field);
    } else {
        out.extend(field.iter().map(|&b| match b {
            b'\r' | b'\n' => b' ',
            other => other,
        }));
    }
}

/// Appends the `101 Switching Protocols` response that accepts a WebSocket handshake, with
/// `Sec-WebSocket-Accept` derived from `key` as RFC 6455 §4.2.2 says (SHA-1 of key + GUID,
/// base64). Check the key with [`valid_ws_key`] first; this function does not.
///
/// No `Sec-WebSocket-Protocol` or extensions: Pusher clients ask for neither, and soketi runs
/// with per-message deflate off.
pub fn write_switching_protocols(out: &mut Vec<u8>, key: &str) {
    // derive_accept_key returns a 28-byte String: one small allocation per handshake, which
    // buys not carrying our own SHA-1 + base64.
    let accept = tungstenite::handshake::derive_accept_key(key.as_bytes());
    out.extend_from_slice(
        b"HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: ",
    );
    out.extend_from_slice(accept.as_bytes());
    out.extend_from_slice(b"\r\n\r\n");
}

/// `true` when `key` is a valid `Sec-WebSocket-Key`: "a base64-encoded value that, when
/// decoded, is 16 bytes in length" (RFC 6455 §4.1). That is exactly 24 characters: 21 free
/// base64 digits, a 22nd that carries only 2 bits (so its low 4 bits are zero: one of
/// `A`, `Q`, `g`, `w`), then `==`.
pub fn valid_ws_key(key: &str) -> bool {
    let Some((digits, tail)) = key.as_bytes().split_first_chunk::<22>() else {
        return false;
    };
    let [free @ .., last] = digits;
    tail == b"=="
        && free
            .iter()
            .all(|b| b.is_ascii_alphanumeric() || *b == b'+' || *b == b'/')
        && matches!(last, b'A' | b'Q' | b'g' | b'w')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, headers: &[(&str, &str)], body: &[u8], keep_alive: bool) -> Vec<u8> {
        let mut out = b"(earlier bytes)".to_vec();
        write_response(&mut out, status, headers, body, keep_alive);
        out.drain(..15);
        out
    }

    #[test]
    fn responses_byte_exact() {
        #[rustfmt::skip]
        let cases: [(&str, Vec<u8>, &[u8]); 6] = [
            ("200 keep-alive with body",
             response(200, &[], b"OK", true),
             b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nOK"),
            ("json error, close",
             response(401, &[("Content-Type", "application/json")], br#"{"error":"The secret authentication failed","code":401}"#, false),
             b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 55\r\nConnection: close\r\nContent-Type: application/json\r\n\r\n{\"error\":\"The secret authentication failed\",\"code\":401}"),
            ("204 empty, headers in order",
             response(204, &[("A", "1"), ("B", "2")], b"", true),
             b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\nA: 1\r\nB: 2\r\n\r\n"),
            ("unknown status has an empty reason",
             response(299, &[], b"", true),
             b"HTTP/1.1 299 \r\nContent-Length: 0\r\n\r\n"),
            ("CR/LF cannot split the head",
             response(404, &[("X\r\nY", "a\r\nSet-Cookie: z")], b"", true),
             b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nX  Y: a  Set-Cookie: z\r\n\r\n"),
            ("multi-digit length",
             response(413, &[], &[b'x'; 12345], true),
             &[b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 12345\r\n\r\n".as_slice(), &[b'x'; 12345]].concat()),
        ];
        for (name, got, want) in cases {
            assert_eq!(
                String::from_utf8_lossy(&got),
                String::from_utf8_lossy(want),
                "{name}"
            );
        }
    }

    #[test]
    fn reason_phrases() {
        let required = [
            101, 200, 204, 400, 401, 403, 404, 405, 408, 411, 413, 426, 429, 431, 500, 501, 503,
        ];
        for status in required {
            assert!(!reason_phrase(status).is_empty(), "{status}");
        }
        assert_eq!(reason_phrase(431), "Request Header Fields Too Large");
        assert_eq!(reason_phrase(0), "");
        assert_eq!(reason_phrase(u16::MAX), "");
    }

    #[test]
    fn switching_protocols() {
        // The example handshake of RFC 6455 §1.3.
        let mut out = b"x".to_vec();
        write_switching_protocols(&mut out, "dGhlIHNhbXBsZSBub25jZQ==");
        assert_eq!(
            String::from_utf8_lossy(&out),
            "xHTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\
             Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"
        );
    }

    #[test]
    fn ws_keys() {
        #[rustfmt::skip]
        let cases = [
            ("dGhlIHNhbXBsZSBub25jZQ==", true),  // RFC 6455 §1.3
            ("AAAAAAAAAAAAAAAAAAAAAA==", true),  // 16 zero bytes
            ("/////////////////////w==", true),  // 16 0xff bytes
            ("+++++++++++++++++++++Q==", true),
            ("abcdefghijklmnopqrstug==", true),
            ("dGhlIHNhbXBsZSBub25jZR==", false), // 22nd char has low bits set
            ("dGhlIHNhbXBsZSBub25jZQ=", false),  // 23 chars
            ("dGhlIHNhbXBsZSBub25jZQ===", false), // 25 chars
            ("dGhlIHNhbXBsZSBub25jZQAA", false), // no padding
            ("dGhlIHNhbXBsZSBub25j-Q==", false), // URL-safe alphabet
            ("dGhlIHNhbXBsZSBub25j Q==", false),
            ("dGhlIHNhbXBsZSBub25jZQ= ", false),
            (" dGhlIHNhbXBsZSBub25jZQ==", false),
            ("dGhlIHNhbXBsZSBub25jZ===", false), // 15 bytes, padded out
            ("dGhlIHNhbXBsZSBub25jZé=", false), // 24 bytes, not base64
            ("", false),
            ("==", false),
        ];
        for (key, want) in cases {
            assert_eq!(valid_ws_key(key), want, "{key:?}");
        }
    }
}
