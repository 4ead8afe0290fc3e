//! Signatures: socket tokens for private / presence channels and user sign-in, and the REST API
//! request signature.
//!
//! Where it sits: `pusher::event` calls [`verify_socket_token`] on `pusher:subscribe` and
//! `pusher:signin`; `pusher::rest` calls [`verify_rest_request`] for every `/apps/...` route
//! after it has found the app by id. Nothing here reads a clock: the caller passes `now_secs`.
//!
//! Two deliberate differences from soketi (see docs/compat.md, `rest-signature`): signatures
//! are compared in constant time, and `auth_timestamp` must be within a window (Pusher: ±600 s)
//! of server time, so a captured request cannot be replayed forever. Everything else follows
//! soketi's string to sign, so requests signed by any Pusher SDK verify here as they do there.
//! Where soketi's rule and the Pusher docs differ on details no SDK exercises, this module
//! follows the Pusher docs; each such point is marked "Pusher rule" below.

use std::borrow::Cow;

use hmac::{Hmac, Mac};
use md5::{Digest, Md5};
use sha2::Sha256;

use crate::http::query_pairs;

type HmacSha256 = Hmac<Sha256>;

/// Lower-case hex HMAC-SHA256 of the concatenation of `parts`, keyed by `secret`.
pub fn hmac_sha256_hex(secret: &[u8], parts: &[&[u8]]) -> [u8; 64] {
    let mut mac = new_mac(secret);
    for part in parts {
        mac.update(part);
    }
    finish_hex(mac)
}

/// MD5 of `data` as lower-case hex (the REST API's `body_md5`).
pub fn md5_hex(data: &[u8]) -> [u8; 32] {
    let digest: [u8; 16] = Md5::digest(data).into();
    hex(digest)
}

/// Constant-time equality: the time taken depends on the lengths (which may leak; a signature's
/// length is public anyway) but not on where the contents differ, so an attacker cannot find
/// a valid signature byte by byte from response times.
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    // `black_box` on every step keeps the optimiser from turning the fold back into an
    // early-exit comparison (best effort, as the std docs say, but the common practice).
    let diff = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (x, y)| std::hint::black_box(acc | (x ^ y)));
    diff == 0
}

/// Checks a socket token `"<app_key>:<hex>"` against HMAC(secret, concat(parts)).
///
/// The prefix must be `app_key` exactly, as soketi requires; the hex, lower-case as every SDK
/// writes it, is compared in constant time. `parts`: private channels
/// `[socket_id, ":", channel]`, presence `[socket_id, ":", channel, ":", channel_data]`, user
/// sign-in `[socket_id, "::user::", user_data]`.
pub fn verify_socket_token(app_key: &str, secret: &str, token: &str, parts: &[&[u8]]) -> bool {
    let Some(given) = token
        .strip_prefix(app_key)
        .and_then(|rest| rest.strip_prefix(':'))
    else {
        return false;
    };
    let expected = hmac_sha256_hex(secret.as_bytes(), parts);
    ct_eq(&expected, given.as_bytes())
}

/// Signs a socket token (for tests and tools): `"<app_key>:<hex>"`.
pub fn sign_socket_token(app_key: &str, secret: &str, parts: &[&[u8]]) -> String {
    let hex = hmac_sha256_hex(secret.as_bytes(), parts);
    let mut token = String::with_capacity(app_key.len() + 1 + hex.len());
    token.push_str(app_key);
    token.push(':');
    token.extend(hex.iter().map(|&b| char::from(b)));
    token
}

/// Why a REST request's signature was refused. All map to HTTP 401.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RestAuthError {
    /// A required query parameter (`auth_signature`, `auth_key`, `auth_timestamp`) is absent.
    MissingParam(&'static str),
    /// `auth_key` is not the key of the app named in the path.
    WrongKey,
    /// `auth_timestamp` is not an integer (checked only when the window is on).
    BadTimestamp,
    /// `auth_timestamp` is further than `window` seconds from server time.
    Expired { given: i64, now: i64, window: u64 },
    /// The signature does not match (or was sent more than once).
    BadSignature,
}

impl RestAuthError {
    /// The text for the `{"error": …, "code": 401}` body.
    pub fn message(&self) -> String {
        match self {
            RestAuthError::MissingParam(name) => {
                format!("Missing required query parameter: {name}")
            }
            RestAuthError::WrongKey => {
                "Unknown auth_key: it is not the key of this app".to_string()
            }
            RestAuthError::BadTimestamp => {
                "Invalid auth_timestamp: expected whole seconds since the Unix epoch".to_string()
            }
            // Pusher's own wording, so messages match what users find in the Pusher docs.
            RestAuthError::Expired { given, now, window } => format!(
                "Timestamp expired: Given timestamp ({given}) not within {window}s of server time ({now})"
            ),
            // soketi's exact text; clients and tests match on it.
            RestAuthError::BadSignature => "The secret authentication failed".to_string(),
        }
    }
}

/// The parts of an HTTP request that a REST signature covers.
#[derive(Clone, Copy, Debug)]
pub struct RestRequest<'a> {
    /// Upper-case method as received (`GET`, `POST`).
    pub method: &'a str,
    /// Path without the query, as received (not decoded), including any path prefix.
    pub path: &'a str,
    /// Raw query string (after `?`).
    pub query: &'a str,
    /// Raw body bytes.
    pub body: &'a [u8],
}

/// What soketi signs for an empty POST body: it takes the text `{}` as the raw body (see
/// docs/compat.md, `rest-string-to-sign`).
const EMPTY_POST_BODY: &[u8] = b"{}";

/// Verifies a Pusher REST request signature as soketi does (docs/compat.md,
/// `rest-string-to-sign`), plus Pusher's required parameters, key check and timestamp window.
///
/// - `auth_signature`, `auth_key`, `auth_timestamp` must be present; `auth_key` must equal
///   `app_key`.
/// - When `window_secs > 0`, `auth_timestamp` must be an integer within ±`window_secs` of
///   `now_secs`; `0` turns the check off (soketi's behaviour).
/// - String to sign: `METHOD\npath\n` + every query param except `auth_signature`, decoded,
///   sorted by key (byte order), joined `k=v` with `&`. `body_md5` is dropped and, if the method
///   is POST or the query had one, re-added as `md5_hex(body)` — of `{}` for an empty POST
///   body, as soketi does. A key that repeats is signed once with its values joined by `,`
///   (soketi's query-string array, stringified).
/// - The signature is compared in constant time.
pub fn verify_rest_request(
    req: &RestRequest<'_>,
    app_key: &str,
    secret: &str,
    now_secs: i64,
    window_secs: u64,
) -> Result<(), RestAuthError> {
    // Declared before `params`, which borrows it, so it outlives the vector.
    let body_md5;
    let mut signature: Option<Cow<'_, str>> = None;
    let mut signature_count = 0usize;
    let mut had_body_md5 = false;
    let mut params: Vec<(Cow<'_, str>, Cow<'_, str>)> = Vec::new();
    for (key, value) in query_pairs(req.query) {
        match &*key {
            "auth_signature" => {
                signature_count += 1;
                signature.get_or_insert(value);
            }
            // The client's value is never trusted: it is recomputed from the body below.
            "body_md5" => had_body_md5 = true,
            _ => params.push((key, value)),
        }
    }

    check_key_and_time(
        signature.is_some(),
        first(&params, "auth_key"),
        first(&params, "auth_timestamp"),
        app_key,
        now_secs,
        window_secs,
    )?;
    let signature = signature.ok_or(RestAuthError::MissingParam("auth_signature"))?;

    let is_post = req.method == "POST";
    if is_post || had_body_md5 {
        let body = if is_post && req.body.is_empty() {
            EMPTY_POST_BODY
        } else {
            req.body
        };
        body_md5 = md5_hex(body);
        // md5_hex yields ASCII hex, so this never falls back.
        let text = std::str::from_utf8(&body_md5).unwrap_or_default();
        params.push((Cow::Borrowed("body_md5"), Cow::Borrowed(text)));
    }

    let expected = sign_params(secret, req.method, req.path, &mut params);
    // A repeated auth_signature is an array in soketi and never equals the expected string.
    if signature_count == 1 && ct_eq(&expected, signature.as_bytes()) {
        Ok(())
    } else {
        Err(RestAuthError::BadSignature)
    }
}

/// What a REST request's query already tells before its body arrives: the required
/// parameters are there, `auth_key` is the app's, `auth_timestamp` is within the window —
/// the checks of [`verify_rest_request`] that do not need the body, with the same errors.
/// A request that fails them is answered without reading its body.
pub fn precheck_rest_query(
    query: &str,
    app_key: &str,
    now_secs: i64,
    window_secs: u64,
) -> Result<(), RestAuthError> {
    let mut signature = false;
    let mut auth_key = None;
    let mut timestamp = None;
    for (key, value) in query_pairs(query) {
        match &*key {
            "auth_signature" => signature = true,
            "auth_key" if auth_key.is_none() => auth_key = Some(value),
            "auth_timestamp" if timestamp.is_none() => timestamp = Some(value),
            _ => {}
        }
    }
    check_key_and_time(
        signature,
        auth_key.as_deref(),
        timestamp.as_deref(),
        app_key,
        now_secs,
        window_secs,
    )
}

/// The parameter, key and timestamp rules shared by [`verify_rest_request`] and
/// [`precheck_rest_query`], in that order of errors.
fn check_key_and_time(
    has_signature: bool,
    auth_key: Option<&str>,
    timestamp: Option<&str>,
    app_key: &str,
    now_secs: i64,
    window_secs: u64,
) -> Result<(), RestAuthError> {
    if !has_signature {
        return Err(RestAuthError::MissingParam("auth_signature"));
    }
    let auth_key = auth_key.ok_or(RestAuthError::MissingParam("auth_key"))?;
    let timestamp = timestamp.ok_or(RestAuthError::MissingParam("auth_timestamp"))?;
    // Pusher rule: soketi signs whatever auth_key was sent and never compares it; Pusher
    // rejects a key that is not the app's. The key is public, so `==` is fine here.
    if auth_key != app_key {
        return Err(RestAuthError::WrongKey);
    }
    if window_secs > 0 {
        let given = parse_timestamp(timestamp).ok_or(RestAuthError::BadTimestamp)?;
        // abs_diff cannot overflow, even for i64::MIN against i64::MAX.
        if given.abs_diff(now_secs) > window_secs {
            return Err(RestAuthError::Expired {
                given,
                now: now_secs,
                window: window_secs,
            });
        }
    }
    Ok(())
}

/// Builds the signed query string a client would send: `auth_key`, `auth_timestamp`,
/// `auth_version=1.0`, `body_md5` (for a POST or any non-empty body), the `extra` params, then
/// `auth_signature` — for tests, benches and the load generator.
///
/// `extra` holds unencoded keys and values; they are percent-encoded here (everything but
/// RFC 3986 unreserved characters). `extra` should not contain `auth_*` or `body_md5`.
pub fn sign_rest_query(
    method: &str,
    path: &str,
    extra: &[(&str, &str)],
    body: &[u8],
    app_key: &str,
    secret: &str,
    timestamp: i64,
) -> String {
    let mut ts_buf = itoa::Buffer::new();
    let body_md5;
    let mut params: Vec<(Cow<'_, str>, Cow<'_, str>)> = vec![
        (Cow::Borrowed("auth_key"), Cow::Borrowed(app_key)),
        (
            Cow::Borrowed("auth_timestamp"),
            Cow::Borrowed(ts_buf.format(timestamp)),
        ),
        (Cow::Borrowed("auth_version"), Cow::Borrowed("1.0")),
    ];
    if method == "POST" || !body.is_empty() {
        // The same substitution the verifier makes, so an empty POST verifies.
        let body = if method == "POST" && body.is_empty() {
            EMPTY_POST_BODY
        } else {
            body
        };
        body_md5 = md5_hex(body);
        let text = std::str::from_utf8(&body_md5).unwrap_or_default();
        params.push((Cow::Borrowed("body_md5"), Cow::Borrowed(text)));
    }
    params.extend(
        extra
            .iter()
            .map(|&(k, v)| (Cow::Borrowed(k), Cow::Borrowed(v))),
    );

    let signature = sign_params(secret, method, path, &mut params);
    let mut query = String::new();
    for (key, value) in &params {
        percent_encode_into(&mut query, key);
        query.push('=');
        percent_encode_into(&mut query, value);
        query.push('&');
    }
    query.push_str("auth_signature=");
    query.extend(signature.iter().map(|&b| char::from(b)));
    query
}

/// Sorts `params` by key and returns the hex HMAC of `METHOD\npath\nk=v&k=v…`.
///
/// The sort is stable so repeated keys keep their order, and those are merged as `k=v1,v2`:
/// soketi parses them into an array, and JavaScript stringifies an array with `,`.
fn sign_params(
    secret: &str,
    method: &str,
    path: &str,
    params: &mut [(Cow<'_, str>, Cow<'_, str>)],
) -> [u8; 64] {
    // Byte order of UTF-8 is code-point order; soketi sorts UTF-16 code units, which differs
    // only for keys with characters above U+FFFF — never the case for Pusher parameters.
    params.sort_by(|a, b| a.0.as_bytes().cmp(b.0.as_bytes()));
    let mut mac = new_mac(secret.as_bytes());
    mac.update(method.as_bytes());
    mac.update(b"\n");
    mac.update(path.as_bytes());
    mac.update(b"\n");
    let mut previous: Option<&str> = None;
    for (key, value) in params.iter() {
        if previous == Some(&**key) {
            mac.update(b",");
        } else {
            if previous.is_some() {
                mac.update(b"&");
            }
            mac.update(key.as_bytes());
            mac.update(b"=");
        }
        mac.update(value.as_bytes());
        previous = Some(key);
    }
    finish_hex(mac)
}

/// The decoded value of the first param named `name`.
fn first<'p>(params: &'p [(Cow<'_, str>, Cow<'_, str>)], name: &str) -> Option<&'p str> {
    params
        .iter()
        .find(|(key, _)| key == name)
        .map(|(_, value)| &**value)
}

/// An optional `-` and one or more ASCII digits that fit an i64; nothing else (no `+`, no
/// spaces, no fractions: Pusher timestamps are whole seconds).
fn parse_timestamp(text: &str) -> Option<i64> {
    let digits = text.strip_prefix('-').unwrap_or(text);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Appends `text` with every byte outside RFC 3986's unreserved set written as `%XX`.
fn percent_encode_into(out: &mut String, text: &str) {
    for &b in text.as_bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(b));
        } else {
            out.push('%');
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b >> 4)]));
            out.push(char::from(b"0123456789ABCDEF"[usize::from(b & 0x0f)]));
        }
    }
}

fn new_mac(secret: &[u8]) -> HmacSha256 {
    // HMAC is defined for keys of any length (RFC 2104 §2: longer keys are hashed first), so
    // this constructor cannot fail; the Result exists only for fixed-key-size MACs.
    HmacSha256::new_from_slice(secret).expect("HMAC accepts a key of any length")
}

fn finish_hex(mac: HmacSha256) -> [u8; 64] {
    let digest: [u8; 32] = mac.finalize().into_bytes().into();
    hex(digest)
}

/// Lower-case hex of `bytes`; `N2` must be `2 * N`.
fn hex<const N: usize, const N2: usize>(bytes: [u8; N]) -> [u8; N2] {
    let mut out = [0u8; N2];
    for (pair, byte) in out.chunks_exact_mut(2).zip(bytes) {
        if let [hi, lo] = pair {
            *hi = hex_digit(byte >> 4);
            *lo = hex_digit(byte & 0x0f);
        }
    }
    out
}

/// The lower-case hex digit for a nibble, without a branch or table on the secret value: the
/// digest being encoded is the expected signature, so keep its timing flat too.
fn hex_digit(nibble: u8) -> u8 {
    // 1 when nibble > 9 (9 - nibble wraps past 127), else 0; 'a' - '0' - 10 = 39.
    let letter = 9u8.wrapping_sub(nibble) >> 7;
    b'0' + nibble + letter * 39
}

#[cfg(test)]
mod tests {
    use super::*;

    // The Pusher docs' examples (https://pusher.com/docs/channels/library_auth_reference/),
    // expected values computed independently with Python's hmac/hashlib.
    const KEY: &str = "278d425bdf160c739803";
    const SECRET: &str = "7ad3773142a6692b25b8";
    const EVENTS_BODY: &[u8] =
        br#"{"name":"foo","channels":["project-3"],"data":"{\"some\":\"data\"}"}"#;
    const EVENTS_BODY_MD5: &str = "ec365a775a4cd0599faeb73354201b6f";
    const EVENTS_SIGNATURE: &str =
        "da454824c97ba181a32ccc17a72625ba02771f50b50e1e7430e47a1f3f457e6c";
    const TS: i64 = 1353088179;
    /// md5("{}"). A digest ending `…b76c1c3c3c8ccc5b` is sometimes quoted for it; that is not
    /// md5("{}").
    const EMPTY_OBJECT_MD5: &str = "99914b932bd37a50b983c5e7c90ae93b";
    const EMPTY_MD5: &str = "d41d8cd98f00b204e9800998ecf8427e";

    type Parts<'a> = &'a [&'a [u8]];
    /// (name, method, path, query, body, now_secs, window_secs, expected)
    type RestCase<'a> = (
        &'a str,
        &'a str,
        &'a str,
        &'a str,
        &'a [u8],
        i64,
        u64,
        Result<(), RestAuthError>,
    );

    fn s(bytes: &[u8]) -> &str {
        std::str::from_utf8(bytes).unwrap()
    }

    #[test]
    fn digests() {
        #[rustfmt::skip]
        let hmacs: [(&[u8], Parts, &str); 4] = [
            (b"", &[], "b613679a0814d9ec772f95d778c35fc5ff1697c493715653c6c712144292c5ad"),
            // Key longer than the 64-byte block: hashed first (RFC 2104).
            (&[b'k'; 100], &[b"da", b"ta"], "09380ee4b802da2363bc96e8e0d133ba275458ea8ddbc564f986fc12b31f8cb1"),
            (SECRET.as_bytes(), &[b"1234.1234", b":", b"private-foobar"], "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"),
            (SECRET.as_bytes(), &[b"1234.1234:private-foobar"], "58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4"),
        ];
        for (secret, parts, want) in hmacs {
            assert_eq!(s(&hmac_sha256_hex(secret, parts)), want, "{parts:?}");
        }
        let md5s: [(&[u8], &str); 3] = [
            (b"", EMPTY_MD5),
            (b"{}", EMPTY_OBJECT_MD5),
            (EVENTS_BODY, EVENTS_BODY_MD5),
        ];
        for (data, want) in md5s {
            assert_eq!(s(&md5_hex(data)), want, "{data:?}");
        }
        for nibble in 0..16u8 {
            assert_eq!(hex_digit(nibble), b"0123456789abcdef"[usize::from(nibble)]);
        }
    }

    #[test]
    fn constant_time_eq() {
        let cases: [(&[u8], &[u8], bool); 6] = [
            (b"", b"", true),
            (b"abc", b"abc", true),
            (b"abc", b"abd", false),
            (b"abc", b"xbc", false),
            (b"abc", b"ab", false),
            (b"", b"a", false),
        ];
        for (a, b, want) in cases {
            assert_eq!(ct_eq(a, b), want, "{a:?} {b:?}");
        }
    }

    #[test]
    fn socket_tokens() {
        const PRIVATE: &str =
            "278d425bdf160c739803:58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4";
        const PRESENCE_DATA: &str = r#"{"user_id":10,"user_info":{"name":"Mr. Channel"}}"#;
        const PRESENCE: &str =
            "278d425bdf160c739803:fc92c2263fd5b72721e20dd1a06a900e6b3c4fbfac6cb9b098d68eb7911498a2";
        const USER_DATA: &str = r#"{"id":"12345"}"#;
        const SIGNIN: &str =
            "278d425bdf160c739803:4708d583dada6a56435fb8bc611c77c359a31eebde13337c16ab43aa6de336ba";
        let private: &[&[u8]] = &[b"1234.1234", b":", b"private-foobar"];
        let presence: &[&[u8]] = &[
            b"1234.1234",
            b":",
            b"presence-foobar",
            b":",
            PRESENCE_DATA.as_bytes(),
        ];
        let signin: &[&[u8]] = &[b"1234.1234", b"::user::", USER_DATA.as_bytes()];
        let upper = PRIVATE.replace("58df8b", "58DF8B");
        let truncated = &PRIVATE[..PRIVATE.len() - 1];

        #[rustfmt::skip]
        let cases: [(&str, &str, &str, Parts, bool); 13] = [
            ("private, docs example", KEY, PRIVATE, private, true),
            ("presence", KEY, PRESENCE, presence, true),
            ("user sign-in", KEY, SIGNIN, signin, true),
            ("private token for presence", KEY, PRIVATE, presence, false),
            ("other socket id", KEY, PRIVATE, &[b"1234.1235", b":", b"private-foobar"], false),
            ("other app key", "other-key", PRIVATE, private, false),
            ("key is a prefix of the token's key", "278d425bdf160c73980", PRIVATE, private, false),
            ("no colon", KEY, "278d425bdf160c73980358df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4", private, false),
            ("upper-case hex", KEY, &upper, private, false),
            ("truncated hex", KEY, truncated, private, false),
            ("extra colon", KEY, "278d425bdf160c739803::58df8b0c36d6982b82c3ecf6b4662e34fe8c25bba48f5369f135bf843651c3a4", private, false),
            ("empty", KEY, "", private, false),
            ("key only", KEY, "278d425bdf160c739803:", private, false),
        ];
        for (name, app_key, token, parts, want) in cases {
            assert_eq!(
                verify_socket_token(app_key, SECRET, token, parts),
                want,
                "{name}"
            );
        }
        for (parts, token) in [(private, PRIVATE), (presence, PRESENCE), (signin, SIGNIN)] {
            assert_eq!(sign_socket_token(KEY, SECRET, parts), token);
        }
    }

    /// Appends `auth_signature` for a hand-written string to sign, so a case can sign
    /// something `sign_rest_query` would not produce.
    fn hand_signed(method: &str, path: &str, signed_params: &str, query: &str) -> String {
        let sig = hmac_sha256_hex(
            SECRET.as_bytes(),
            &[
                method.as_bytes(),
                b"\n",
                path.as_bytes(),
                b"\n",
                signed_params.as_bytes(),
            ],
        );
        format!("{query}&auth_signature={}", s(&sig))
    }

    #[test]
    fn rest_requests() {
        use RestAuthError::*;
        const EVENTS: &str = "/apps/3/events";
        let docs_query = format!(
            "auth_key={KEY}&auth_timestamp={TS}&auth_version=1.0&body_md5={EVENTS_BODY_MD5}&auth_signature={EVENTS_SIGNATURE}"
        );
        let docs_no_sig = format!(
            "auth_key={KEY}&auth_timestamp={TS}&auth_version=1.0&body_md5={EVENTS_BODY_MD5}"
        );
        let docs_no_key = format!(
            "auth_timestamp={TS}&auth_version=1.0&body_md5={EVENTS_BODY_MD5}&auth_signature={EVENTS_SIGNATURE}"
        );
        let docs_no_ts = format!(
            "auth_key={KEY}&auth_version=1.0&body_md5={EVENTS_BODY_MD5}&auth_signature={EVENTS_SIGNATURE}"
        );
        // Client-side body_md5 omitted: soketi re-adds it for POST anyway.
        let docs_no_md5 = format!(
            "auth_key={KEY}&auth_timestamp={TS}&auth_version=1.0&auth_signature={EVENTS_SIGNATURE}"
        );
        // A wrong body_md5 value is ignored: the verifier recomputes it from the body.
        let docs_wrong_md5 = docs_query.replace(EVENTS_BODY_MD5, EMPTY_MD5);
        let docs_upper = docs_query.replace("da4548", "DA4548");
        let docs_twice = format!("{docs_query}&auth_signature={EVENTS_SIGNATURE}");
        let docs_other_key = docs_query.replace(KEY, "278d425bdf160c739804");
        // The GET example: values percent-encoded on the wire, signed decoded, no body_md5.
        const GET_SIGNATURE: &str =
            "ff97d40ab3fbbd15394386a29c12998c33635305357b2e2abd18dc67efe3f87d";
        let get_query = format!(
            "filter_by_prefix=presence-&info=user_count%2Csubscription_count&auth_key={KEY}&auth_timestamp={TS}&auth_version=1.0&auth_signature={GET_SIGNATURE}"
        );
        let get_tampered = get_query.replace("presence-", "private-");

        let extras: &[(&str, &str)] = &[
            ("filter_by_prefix", "presence-"),
            ("info", "user_count,subscription_count"),
            ("odd key&=", "a b+c%/é?#"),
        ];
        let signed_get = sign_rest_query("GET", "/apps/3/channels", extras, b"", KEY, SECRET, TS);
        let signed_post = sign_rest_query("POST", EVENTS, &[], EVENTS_BODY, KEY, SECRET, TS);
        let signed_empty_post = sign_rest_query("POST", EVENTS, &[], b"", KEY, SECRET, TS);
        let prefixed = sign_rest_query("POST", "/pfx/apps/3/events", &[], b"{}", KEY, SECRET, TS);
        let old = sign_rest_query("GET", "/apps/3/channels", &[], b"", KEY, SECRET, TS - 601);
        let future = sign_rest_query("GET", "/apps/3/channels", &[], b"", KEY, SECRET, TS + 601);
        let edge = sign_rest_query("GET", "/apps/3/channels", &[], b"", KEY, SECRET, TS - 600);
        let ts_only = |ts: &str| {
            let q = format!("auth_key={KEY}&auth_timestamp={ts}&auth_version=1.0");
            hand_signed("GET", "/apps/3/channels", &q, &q)
        };
        let ts_text = ts_only("yesterday");
        let ts_plus = ts_only("+1353088179");
        let ts_huge = ts_only("99999999999999999999");
        let ts_negative = ts_only("-5");
        // A GET that carries body_md5 has it recomputed from its (empty) body.
        let get_md5_base = format!("auth_key={KEY}&auth_timestamp={TS}&auth_version=1.0");
        let get_with_md5 = hand_signed(
            "GET",
            "/apps/3/channels",
            &format!("{get_md5_base}&body_md5={EMPTY_MD5}"),
            &format!("body_md5=whatever&{get_md5_base}"),
        );
        // An empty POST signed with md5("") instead of soketi's md5("{}").
        let empty_post_md5_of_nothing = hand_signed(
            "POST",
            EVENTS,
            &format!("{get_md5_base}&body_md5={EMPTY_MD5}"),
            &format!("{get_md5_base}&body_md5={EMPTY_MD5}"),
        );
        // Repeated keys are signed merged, as soketi's query-string does.
        let repeated = hand_signed(
            "GET",
            "/apps/3/channels",
            &format!("a=1,2&{get_md5_base}&z=3"),
            &format!("z=3&a=1&{get_md5_base}&a=2"),
        );
        let repeated_unmerged = hand_signed(
            "GET",
            "/apps/3/channels",
            &format!("a=1&a=2&{get_md5_base}"),
            &format!("a=1&a=2&{get_md5_base}"),
        );
        let pieceless = hand_signed(
            "GET",
            "/apps/3/channels",
            &format!("{get_md5_base}&flag="),
            &format!("flag&{get_md5_base}"),
        );

        #[rustfmt::skip]
        let cases: Vec<RestCase> = vec![
            ("docs example", "POST", EVENTS, &docs_query, EVENTS_BODY, TS, 600, Ok(())),
            ("docs example, window off", "POST", EVENTS, &docs_query, EVENTS_BODY, TS + 1_000_000, 0, Ok(())),
            ("docs example without body_md5", "POST", EVENTS, &docs_no_md5, EVENTS_BODY, TS, 600, Ok(())),
            ("client's body_md5 value ignored", "POST", EVENTS, &docs_wrong_md5, EVENTS_BODY, TS, 600, Ok(())),
            ("tampered body", "POST", EVENTS, &docs_query, br#"{"name":"bar","channels":["project-3"],"data":"{}"}"#, TS, 600, Err(BadSignature)),
            ("other path", "POST", "/apps/4/events", &docs_query, EVENTS_BODY, TS, 600, Err(BadSignature)),
            ("other method", "PUT", EVENTS, &docs_query, EVENTS_BODY, TS, 600, Err(BadSignature)),
            ("upper-case signature", "POST", EVENTS, &docs_upper, EVENTS_BODY, TS, 600, Err(BadSignature)),
            ("signature twice", "POST", EVENTS, &docs_twice, EVENTS_BODY, TS, 600, Err(BadSignature)),
            ("missing signature", "POST", EVENTS, &docs_no_sig, EVENTS_BODY, TS, 600, Err(MissingParam("auth_signature"))),
            ("missing key", "POST", EVENTS, &docs_no_key, EVENTS_BODY, TS, 600, Err(MissingParam("auth_key"))),
            ("missing timestamp", "POST", EVENTS, &docs_no_ts, EVENTS_BODY, TS, 600, Err(MissingParam("auth_timestamp"))),
            ("missing timestamp, window off", "POST", EVENTS, &docs_no_ts, EVENTS_BODY, TS, 0, Err(MissingParam("auth_timestamp"))),
            ("empty query", "GET", "/apps/3/channels", "", b"", TS, 600, Err(MissingParam("auth_signature"))),
            ("wrong key", "POST", EVENTS, &docs_other_key, EVENTS_BODY, TS, 600, Err(WrongKey)),
            ("docs GET", "GET", "/apps/3/channels", &get_query, b"", TS, 600, Ok(())),
            ("docs GET, tampered param", "GET", "/apps/3/channels", &get_tampered, b"", TS, 600, Err(BadSignature)),
            ("docs GET signed as POST", "POST", "/apps/3/channels", &get_query, b"", TS, 600, Err(BadSignature)),
            ("round trip GET with extras", "GET", "/apps/3/channels", &signed_get, b"", TS, 600, Ok(())),
            ("round trip POST", "POST", EVENTS, &signed_post, EVENTS_BODY, TS, 600, Ok(())),
            ("empty POST signed as {}", "POST", EVENTS, &signed_empty_post, b"", TS, 600, Ok(())),
            ("empty POST signed as md5 of nothing", "POST", EVENTS, &empty_post_md5_of_nothing, b"", TS, 600, Err(BadSignature)),
            ("GET with body_md5 recomputed", "GET", "/apps/3/channels", &get_with_md5, b"", TS, 600, Ok(())),
            ("path prefix is signed", "POST", "/pfx/apps/3/events", &prefixed, b"{}", TS, 600, Ok(())),
            ("path prefix missing", "POST", EVENTS, &prefixed, b"{}", TS, 600, Err(BadSignature)),
            ("stale", "GET", "/apps/3/channels", &old, b"", TS, 600, Err(Expired { given: TS - 601, now: TS, window: 600 })),
            ("future", "GET", "/apps/3/channels", &future, b"", TS, 600, Err(Expired { given: TS + 601, now: TS, window: 600 })),
            ("stale, window off", "GET", "/apps/3/channels", &old, b"", TS, 0, Ok(())),
            ("edge of the window", "GET", "/apps/3/channels", &edge, b"", TS, 600, Ok(())),
            ("edge, future side", "GET", "/apps/3/channels", &edge, b"", TS - 1200, 600, Ok(())),
            ("narrow window", "GET", "/apps/3/channels", &edge, b"", TS, 599, Err(Expired { given: TS - 600, now: TS, window: 599 })),
            ("text timestamp", "GET", "/apps/3/channels", &ts_text, b"", TS, 600, Err(BadTimestamp)),
            ("text timestamp, window off", "GET", "/apps/3/channels", &ts_text, b"", TS, 0, Ok(())),
            ("plus sign", "GET", "/apps/3/channels", &ts_plus, b"", TS, 600, Err(BadTimestamp)),
            ("overflowing", "GET", "/apps/3/channels", &ts_huge, b"", TS, 600, Err(BadTimestamp)),
            ("negative", "GET", "/apps/3/channels", &ts_negative, b"", TS, 600, Err(Expired { given: -5, now: TS, window: 600 })),
            ("negative, huge window", "GET", "/apps/3/channels", &ts_negative, b"", TS, u64::MAX, Ok(())),
            ("repeated keys merged", "GET", "/apps/3/channels", &repeated, b"", TS, 600, Ok(())),
            ("repeated keys not merged", "GET", "/apps/3/channels", &repeated_unmerged, b"", TS, 600, Err(BadSignature)),
            ("param without =", "GET", "/apps/3/channels", &pieceless, b"", TS, 600, Ok(())),
        ];
        for (name, method, path, query, body, now, window, want) in cases {
            let req = RestRequest {
                method,
                path,
                query,
                body,
            };
            assert_eq!(
                verify_rest_request(&req, KEY, SECRET, now, window),
                want,
                "{name}"
            );
        }

        assert!(signed_empty_post.contains(&format!("body_md5={EMPTY_OBJECT_MD5}")));
        assert!(!signed_get.contains("body_md5"));
        assert!(signed_post.contains(&format!("body_md5={EVENTS_BODY_MD5}")));
    }

    #[test]
    fn signed_query_matches_docs() {
        let query = sign_rest_query("POST", "/apps/3/events", &[], EVENTS_BODY, KEY, SECRET, TS);
        assert_eq!(
            query,
            format!(
                "auth_key={KEY}&auth_timestamp={TS}&auth_version=1.0&body_md5={EVENTS_BODY_MD5}&auth_signature={EVENTS_SIGNATURE}"
            )
        );
        let query = sign_rest_query(
            "GET",
            "/apps/3/channels",
            &[
                ("info", "user_count,subscription_count"),
                ("filter_by_prefix", "presence-"),
            ],
            b"",
            KEY,
            SECRET,
            TS,
        );
        assert_eq!(
            query,
            format!(
                "auth_key={KEY}&auth_timestamp={TS}&auth_version=1.0&filter_by_prefix=presence-&info=user_count%2Csubscription_count&auth_signature=ff97d40ab3fbbd15394386a29c12998c33635305357b2e2abd18dc67efe3f87d"
            )
        );
    }

    #[test]
    fn messages() {
        #[rustfmt::skip]
        let cases = [
            (RestAuthError::BadSignature, "The secret authentication failed"),
            (RestAuthError::Expired { given: 1, now: 700, window: 600 },
             "Timestamp expired: Given timestamp (1) not within 600s of server time (700)"),
            (RestAuthError::MissingParam("auth_key"), "Missing required query parameter: auth_key"),
        ];
        for (err, want) in cases {
            assert_eq!(err.message(), want);
        }
        assert!(!RestAuthError::WrongKey.message().is_empty());
        assert!(!RestAuthError::BadTimestamp.message().is_empty());
    }

    /// Random queries and bodies never panic the verifier (the real fuzzing is in `fuzz/`).
    #[test]
    fn random_requests_never_panic() {
        const ALPHABET: &[u8] = b"&=%+auth_keysignaturetimestampbody_md5-0123456789AF\xc3\xa9";
        let mut state = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for _ in 0..20_000 {
            let len = (next() % 64) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| ALPHABET[(next() % ALPHABET.len() as u64) as usize])
                .collect();
            let query = String::from_utf8_lossy(&bytes);
            let now = next() as i64;
            let req = RestRequest {
                method: if next() % 2 == 0 { "GET" } else { "POST" },
                path: "/apps/1/events",
                query: &query,
                body: &bytes,
            };
            let _ = verify_rest_request(&req, "auth", SECRET, now, next() % 1000);
            let _ = verify_socket_token("auth", SECRET, &query, &[&bytes]);
        }
    }
}
