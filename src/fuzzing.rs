//! Fuzz target bodies. Each takes arbitrary bytes, drives one sans-IO layer, and panics only
//! when an invariant breaks: a panic is a finding.
//!
//! They live in the library (not in `fuzz/`) so that two runners share them: `cargo fuzz`
//! (nightly, `fuzz/fuzz_targets/*.rs`, a few lines each) explores, and a plain stable
//! `cargo test` (`tests/suite/fuzz_corpus.rs`) replays every committed corpus file and every
//! crash artifact, so a finding stays a regression test once it is fixed.
//!
//! Input layouts (the leading control bytes are how a target picks its limits and split points
//! from the input, so the fuzzer explores those too):
//! - [`frame_header`]: the bytes are the start of a client stream.
//! - [`frame_stream`]: `[limit][splits][splits × u16 BE positions][stream…]`.
//! - [`http_head`]: `[limits][head…]`.
//! - [`pusher_message`]: the text of one client message.
//! - [`rest_body`]: `[flags][query_len][query…][body…]`.
//!
//! Not part of the server's API: `#[doc(hidden)]` in lib.rs.

use crate::conn::SocketRef;
use crate::http::{self, HttpError};
use crate::parse::Status;
use crate::pusher::auth::{self, RestRequest};
use crate::pusher::event::ChannelData;
use crate::pusher::rest::{self, EventBody};
use crate::pusher::{channel, event};
use crate::ws::frame::{self, FrameHeader, MAX_HEADER_BYTES};
use crate::ws::{Decoder, Limits, Message, WsError};

// ---------------------------------------------------------------------------------------------
// frame_header

/// `ws::frame::parse_header` on arbitrary bytes.
///
/// Invariants: no panic; a Complete header is 2..=14 bytes, within the input, and parses the
/// same from exactly its own bytes; every prefix of the input is Partial or gives the same
/// answer as the whole (so Partial means no prefix shows an error); Partial only for fewer than
/// 14 bytes; the first byte alone decides reserved bits and opcodes; re-encoding the header
/// (unmasked) with `write_header` parses back to the same fin / opcode / length.
pub fn frame_header(data: &[u8]) {
    let whole = frame::parse_header(data);

    for cut in 0..=data.len().min(MAX_HEADER_BYTES + 1) {
        let prefix = frame::parse_header(&data[..cut]);
        assert!(
            prefix == Ok(Status::Partial) || prefix == whole,
            "prefix of {cut} bytes gave {prefix:?}, the whole {whole:?}"
        );
    }

    if let Some(&first) = data.first() {
        if first & 0x70 != 0 {
            assert_eq!(whole, Err(frame::FrameError::ReservedBits));
        } else if matches!(first & 0x0F, 0x3..=0x7 | 0xB..=0xF) {
            assert_eq!(whole, Err(frame::FrameError::ReservedOpcode(first & 0x0F)));
        }
    }

    match whole {
        Ok(Status::Complete(h)) => {
            assert!(
                (2..=MAX_HEADER_BYTES).contains(&h.header_len),
                "header_len {}",
                h.header_len
            );
            assert!(h.header_len <= data.len(), "header_len past the input");
            assert!(h.payload_len < 1 << 63, "payload_len {}", h.payload_len);
            assert_eq!(frame::parse_header(&data[..h.header_len]), whole);
            if h.opcode.is_control() {
                assert!(h.fin && h.payload_len <= 125, "control frame {h:?}");
            }
            reencode_header(&h);
        }
        Ok(Status::Partial) => {
            assert!(
                data.len() < MAX_HEADER_BYTES,
                "Partial with {} bytes",
                data.len()
            );
        }
        Err(e) => {
            assert!(!e.reason().is_empty() && e.reason().len() <= 123);
        }
    }
}

/// The server's encoding of `h` (unmasked) parses back to the same header, less the mask.
fn reencode_header(h: &FrameHeader) {
    let Ok(len) = usize::try_from(h.payload_len) else {
        return; // not representable on this target; nothing to encode
    };
    let mut out = Vec::with_capacity(MAX_HEADER_BYTES);
    frame::write_header(&mut out, h.fin, h.opcode, len);
    assert_eq!(out.len(), frame::header_len_for(len));
    let mask_bytes = if h.mask.is_some() { 4 } else { 0 };
    assert_eq!(
        out.len(),
        h.header_len - mask_bytes,
        "encoded length differs"
    );
    match frame::parse_header(&out) {
        Ok(Status::Complete(again)) => {
            assert_eq!(
                (again.fin, again.opcode, again.payload_len),
                (h.fin, h.opcode, h.payload_len)
            );
            assert_eq!(again.mask, None);
            assert_eq!(again.header_len, out.len());
        }
        other => panic!("re-encoded {h:?} as {out:02x?}, which parses as {other:?}"),
    }
}

// ---------------------------------------------------------------------------------------------
// frame_stream

/// Message-size limits the stream target picks from (by its first byte).
const STREAM_LIMITS: [usize; 12] = [
    0,
    1,
    4,
    16,
    64,
    125,
    126,
    200,
    1024,
    65_535,
    65_536,
    1 << 20,
];
/// Split points taken from the input, at most.
const MAX_SPLITS: usize = 32;

/// One `Decoder::decode` outcome, owned, for comparing runs.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Event {
    Fragment(usize),
    Text(usize, String),
    Binary(usize, Vec<u8>),
    Ping(usize, Vec<u8>),
    Pong(usize, Vec<u8>),
    Close(usize, Option<u16>, String),
    Error(WsError),
}

/// What a run produced: its events, the bytes left unconsumed, the decoder's pending bytes.
#[derive(Debug, PartialEq, Eq)]
struct Run {
    events: Vec<Event>,
    leftover: usize,
    pending: usize,
}

/// `ws::Decoder` over a stream fed whole and in chunks.
///
/// Layout: `[limit][splits][splits × u16 BE][stream…]`: `limit % 12` picks
/// `max_message_bytes`, `splits % 33` positions (each taken modulo the stream length + 1)
/// cut the stream.
///
/// Invariants: no panic; the events (messages, fragments, the error) and the leftover are the
/// same whole, in the chosen chunks, and (for short streams) byte by byte; every decode that
/// returns a message consumes bytes; `(0, None)` leaves the buffer untouched; the bytes held
/// for a fragmented message never pass the limit; the decoder is idle again after a
/// reassembled message has been read and `decode` called once more, and only then (an open
/// fragmented message keeps it busy even with no bytes held).
pub fn frame_stream(data: &[u8]) {
    let [limit, splits, rest @ ..] = data else {
        return;
    };
    let limits = Limits {
        max_message_bytes: STREAM_LIMITS[usize::from(*limit) % STREAM_LIMITS.len()],
    };
    let splits = usize::from(*splits) % (MAX_SPLITS + 1);
    let Some((positions, stream)) = rest.split_at_checked(splits * 2) else {
        return;
    };
    let mut cuts: Vec<usize> = positions
        .chunks_exact(2)
        .map(|p| usize::from(u16::from_be_bytes([p[0], p[1]])) % (stream.len() + 1))
        .collect();
    cuts.sort_unstable();

    let whole = decode_split(stream, &[], &limits);
    let split = decode_split(stream, &cuts, &limits);
    assert_eq!(
        split, whole,
        "split at {cuts:?} differs from the whole stream"
    );
    if stream.len() <= 512 {
        let every: Vec<usize> = (1..stream.len()).collect();
        assert_eq!(
            decode_split(stream, &every, &limits),
            whole,
            "byte by byte differs from the whole stream"
        );
    }
}

/// Feeds `stream` in chunks ending at `cuts` (then the rest) as a socket reader does: the
/// unconsumed bytes are kept and the next chunk appended to them.
fn decode_split(stream: &[u8], cuts: &[usize], limits: &Limits) -> Run {
    let mut decoder = Decoder::default();
    let mut held: Vec<u8> = Vec::new();
    let mut events = Vec::new();
    let mut from = 0;
    for end in cuts.iter().copied().chain([stream.len()]) {
        if end < from {
            continue;
        }
        held.extend_from_slice(&stream[from..end]);
        from = end;
        let mut start = 0;
        loop {
            let before = held[start..].to_vec();
            let outcome = decoder.decode(&mut held[start..], limits);
            match outcome {
                Ok((0, None)) => {
                    assert_eq!(held[start..], before[..], "(0, None) modified the buffer");
                    break;
                }
                Ok((n, message)) => {
                    assert!(n > 0, "a message must consume bytes");
                    assert!(n <= before.len(), "consumed {n} of {} bytes", before.len());
                    events.push(event(n, message));
                    start += n;
                }
                Err(err) => {
                    assert!(err.reason().len() <= 123);
                    events.push(Event::Error(err));
                    return Run {
                        events,
                        leftover: 0,
                        pending: decoder.pending_bytes(),
                    };
                }
            }
            assert!(
                decoder.pending_bytes() <= limits.max_message_bytes,
                "holding {} bytes with a limit of {}",
                decoder.pending_bytes(),
                limits.max_message_bytes
            );
        }
        held.drain(..start);
    }
    let pending = decoder.pending_bytes();
    // A fragmented message is open from its first fragment until it completes; control
    // frames in between change nothing. (The first fragment may be empty, so `pending == 0`
    // does not mean idle.)
    let open = events.iter().fold(false, |open, e| match e {
        Event::Fragment(_) => true,
        Event::Text(..) | Event::Binary(..) => false,
        _ => open,
    });
    assert!(
        open || pending == 0,
        "{pending} bytes held with no message open"
    );
    // A delivered message's buffer goes on the next call, whatever that call is given.
    let _ = decoder.decode(&mut [], limits);
    assert_eq!(decoder.is_idle(), !open, "idle state after the stream");
    Run {
        events,
        leftover: held.len(),
        pending,
    }
}

fn event(n: usize, message: Option<Message<'_>>) -> Event {
    match message {
        None => Event::Fragment(n),
        Some(Message::Text(t)) => Event::Text(n, t.to_owned()),
        Some(Message::Binary(b)) => Event::Binary(n, b.to_vec()),
        Some(Message::Ping(p)) => Event::Ping(n, p.to_vec()),
        Some(Message::Pong(p)) => Event::Pong(n, p.to_vec()),
        Some(Message::Close { code, reason }) => Event::Close(n, code, reason.to_owned()),
    }
}

// ---------------------------------------------------------------------------------------------
// http_head

/// `http::parse_head` with small limits.
///
/// Chunked request bodies. Layout: `[ctrl][body…]`; `ctrl` picks the data limit (bits 0-1)
/// and where the body is split in two reads (the rest of the byte, scaled to the length).
///
/// Invariants: no panic; scanning in two reads gives what one read gives; a complete body
/// lies within the input, decodes, and decodes to exactly the data length the scanner
/// counted, within the limit.
pub fn chunked_body(data: &[u8]) {
    use crate::http::chunked::{decode, Scanner};
    let Some((&ctrl, body)) = data.split_first() else {
        return;
    };
    let max = [0u64, 16, 1000, u64::MAX][usize::from(ctrl & 3)];
    let whole = Scanner::default().scan(body, max);
    let cut = body.len() * usize::from(ctrl >> 2) / 63;
    let mut split = Scanner::default();
    let first = split.scan(&body[..cut.min(body.len())], max);
    let again = match first {
        Ok(Status::Partial) => split.scan(body, max),
        other => other,
    };
    // The scanner resumes at chunk boundaries, so how the body was split cannot matter.
    assert_eq!(whole, again, "one read and two reads disagree");
    if let Ok(Status::Complete(n)) = whole {
        assert!(n <= body.len());
        let mut out = Vec::new();
        decode(&body[..n], &mut out).expect("a complete body decodes");
        let mut s = Scanner::default();
        assert_eq!(s.scan(&body[..n], max), Ok(Status::Complete(n)));
        assert_eq!(out.len() as u64, s.data_len());
        assert!(s.data_len() <= max);
    }
}

/// Layout: `[limits][head…]`; the control byte picks `max_head_bytes` (bits 0-1),
/// `max_headers` (bits 2-4) and `max_body_bytes` (bits 5-6).
///
/// Invariants: no panic; a Complete head lies within the input and the head limit, has a
/// body length within the body limit and a path starting with `/`, and parses the same from
/// exactly its own bytes; every shorter prefix of a Complete head is Partial, and every prefix
/// of a refused input is Partial or the same error; `query_pairs` / `query_get` /
/// `percent_decode` of the query and path never panic.
pub fn http_head(data: &[u8]) {
    let Some((&ctrl, buf)) = data.split_first() else {
        return;
    };
    let limits = http::Limits {
        max_head_bytes: [64, 256, 1024, 4096][usize::from(ctrl & 3)],
        max_headers: [0, 1, 2, 4, 8, 16, 64, 100][usize::from((ctrl >> 2) & 7)],
        max_body_bytes: [0, 10, 1000, u64::MAX][usize::from((ctrl >> 5) & 3)],
    };
    let whole = http::parse_head(buf, &limits);
    match &whole {
        Ok(Status::Complete(h)) => {
            assert!(h.head_len <= buf.len(), "head_len past the input");
            assert!(
                h.head_len <= limits.max_head_bytes,
                "head_len past the limit"
            );
            assert!(h.content_length <= limits.max_body_bytes);
            assert!(h.path.starts_with('/'), "path {:?}", h.path);
            assert_eq!(http::parse_head(&buf[..h.head_len], &limits), whole);
            for cut in sample_cuts(h.head_len) {
                let prefix = http::parse_head(&buf[..cut], &limits);
                assert_eq!(
                    prefix,
                    Ok(Status::Partial),
                    "prefix of {cut} bytes of a {}-byte head",
                    h.head_len
                );
            }
            for (key, value) in http::query_pairs(h.query) {
                std::hint::black_box((key.len(), value.len()));
            }
            std::hint::black_box(http::query_get(h.query, "auth_key"));
            std::hint::black_box(http::percent_decode(h.path, false));
        }
        Ok(Status::Partial) => {
            assert!(buf.len() <= limits.max_head_bytes, "Partial past the limit");
        }
        Err(e) => {
            assert!(matches!(e.status(), 400 | 413 | 431 | 501));
            for cut in sample_cuts(buf.len()) {
                let prefix = http::parse_head(&buf[..cut], &limits);
                assert!(
                    prefix == Ok(Status::Partial) || prefix == whole,
                    "prefix of {cut} bytes gave {prefix:?}, the whole {whole:?}"
                );
            }
        }
    }
    // Query decoding on arbitrary text too, not only on what httparse let through.
    let text = String::from_utf8_lossy(buf);
    for (key, value) in http::query_pairs(&text) {
        std::hint::black_box((key.len(), value.len()));
    }
    if let Err(e) = whole {
        std::hint::black_box(error_class(e));
    }
}

/// Prefix lengths below `len` to try: all of them for short inputs, a spread plus the last
/// few otherwise (each parse is O(len), so all of them would make a long input quadratic).
fn sample_cuts(len: usize) -> Vec<usize> {
    if len <= 300 {
        return (0..len).collect();
    }
    let mut cuts: Vec<usize> = (0..128).map(|i| i * len / 128).collect();
    cuts.extend(len.saturating_sub(16)..len);
    cuts
}

fn error_class(e: HttpError) -> (u16, &'static str) {
    (e.status(), e.message())
}

// ---------------------------------------------------------------------------------------------
// pusher_message

/// `pusher::event::parse` and the encoders on a client message.
///
/// Invariants: no panic (non-UTF-8 input is skipped, as the WebSocket layer refuses it);
/// `parse_data` into each data type never panics; `channel_event`, `error`,
/// `subscription_error`, `member_added` and `member_removed` given the parsed strings (and raw
/// JSON values) produce JSON that parses back with the same strings.
pub fn pusher_message(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(m) = event::parse(text) else {
        return;
    };
    let subscribe = event::parse_data::<event::SubscribeData>(&m.event, m.data);
    let unsubscribe = event::parse_data::<event::UnsubscribeData>(&m.event, m.data);
    let signin = event::parse_data::<event::SigninData>(&m.event, m.data);

    let ev: &str = &m.event;
    let ch: &str = m.channel.as_deref().unwrap_or("");
    let raw = m.data.map_or("null", |d| d.get());

    // A client event relayed: data verbatim, user_id a raw JSON value.
    let mut out = Vec::new();
    event::channel_event(&mut out, ev, ch, raw, None);
    if let Some(v) = json(&out, "channel_event") {
        assert_eq!(v["event"], ev);
        assert_eq!(v["channel"], ch);
        if let Some(data) = json(raw.as_bytes(), "data") {
            assert_eq!(v["data"], data);
        }
    }
    if let Some(d) = m.data {
        out.clear();
        event::channel_event(&mut out, ev, ch, raw, Some(d.get()));
        json(&out, "channel_event with user_id");
    }

    out.clear();
    event::error(&mut out, 4300, ev, m.channel.as_deref());
    if let Some(v) = json(&out, "error") {
        assert_eq!(v["data"]["message"], ev);
        if let Some(c) = m.channel.as_deref() {
            assert_eq!(v["channel"], c);
        }
    }

    out.clear();
    event::subscription_error(&mut out, ch, Some(ev), raw, 4009);
    if let Some(v) = json(&out, "subscription_error") {
        assert_eq!(v["channel"], ch);
        assert_eq!(v["data"]["type"], ev);
        assert_eq!(v["data"]["error"], raw);
    }

    out.clear();
    event::cache_miss(&mut out, ch);
    json(&out, "cache_miss");
    out.clear();
    event::subscription_succeeded(&mut out, ch);
    json(&out, "subscription_succeeded");

    if let Ok(d) = &subscribe {
        out.clear();
        event::subscription_error(&mut out, &d.channel, None, "e", 4009);
        if let Some(v) = json(&out, "subscription_error") {
            assert_eq!(v["channel"], *d.channel);
        }
        if let Some(cd) = d.channel_data.as_deref() {
            if let Ok(p) = serde_json::from_str::<ChannelData>(cd) {
                let info = p.user_info.map_or("null", |r| r.get());
                member_events(&d.channel, p.user_id.get(), info);
            }
        }
    }
    if let Ok(d) = &unsubscribe {
        out.clear();
        event::subscription_succeeded(&mut out, &d.channel);
        json(&out, "subscription_succeeded");
    }
    if let Ok(d) = &signin {
        out.clear();
        event::signin_success(&mut out, raw);
        json(&out, "signin_success");
        std::hint::black_box(event::hash_key(&d.user_data));
    }
    // Presence encoders with the message's own raw data as a member's id and info.
    if let Some(d) = m.data {
        member_events(ch, d.get(), d.get());
    }
}

/// Deepest bracket nesting in `text`, counting brackets inside strings too (so it can only
/// overstate). serde_json refuses nesting past 128 levels, and the presence encoders wrap a
/// value three levels deeper: a value that deep is not the encoders' problem.
fn max_depth(text: &str) -> usize {
    let mut depth = 0usize;
    let mut max = 0;
    for b in text.bytes() {
        match b {
            b'[' | b'{' => {
                depth += 1;
                max = max.max(depth);
            }
            b']' | b'}' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    max
}

/// `member_added` / `member_removed` / `presence_succeeded` for one member: valid JSON whose
/// `data` string is itself JSON holding the same values.
fn member_events(channel: &str, user_id: &str, user_info: &str) {
    if max_depth(user_id).max(max_depth(user_info)) > 100 {
        return;
    }
    let id = json(user_id.as_bytes(), "user_id");
    let info = json(user_info.as_bytes(), "user_info");

    let mut out = Vec::new();
    event::member_added(&mut out, channel, user_id, user_info);
    if let Some(v) = json(&out, "member_added") {
        assert_eq!(v["channel"], channel);
        if let (Some(inner), Some(id), Some(info)) = (inner_data(&v, "member_added"), &id, &info) {
            assert_eq!(inner["user_id"], *id);
            assert_eq!(inner["user_info"], *info);
        }
    }

    out.clear();
    event::member_removed(&mut out, channel, user_id);
    if let Some(v) = json(&out, "member_removed") {
        if let (Some(inner), Some(id)) = (inner_data(&v, "member_removed"), &id) {
            assert_eq!(inner["user_id"], *id);
        }
    }

    out.clear();
    event::presence_succeeded(&mut out, channel, [(user_id, user_info)].into_iter());
    if let Some(v) = json(&out, "presence_succeeded") {
        if let Some(inner) = inner_data(&v, "presence_succeeded") {
            assert_eq!(inner["presence"]["count"], 1);
            if let Some(id) = &id {
                assert_eq!(inner["presence"]["ids"][0], *id);
            }
        }
    }
}

/// Checks that `s` is JSON (not JSON is a finding) and returns it as a `Value` when
/// serde_json's `Value` can hold it.
///
/// Some JSON it cannot: a `\uD800`-`\uDFFF` escape without its pair, or a number past f64
/// (`1e999`). The grammar allows both (RFC 8259 §8.2: such strings' behaviour "is
/// unpredictable"), `JSON.parse` accepts them, serde_json's `RawValue` lets them through, and
/// the server relays such raw `data` verbatim — as soketi does. Those are held to the grammar
/// only (`IgnoredAny`, the same scan `RawValue` makes), and field comparisons are skipped.
fn json(s: &[u8], what: &str) -> Option<serde_json::Value> {
    match serde_json::from_slice(s) {
        Ok(v) => Some(v),
        Err(strict) => match serde_json::from_slice::<serde::de::IgnoredAny>(s) {
            Ok(_) => None,
            Err(e) => panic!(
                "{what}: not JSON ({e}; as a Value: {strict}): {}",
                String::from_utf8_lossy(s)
            ),
        },
    }
}

/// The JSON inside a message's `data` string (`None` as for [`json`]).
fn inner_data(v: &serde_json::Value, what: &str) -> Option<serde_json::Value> {
    let Some(s) = v["data"].as_str() else {
        panic!("{what}: data is not a string: {v}");
    };
    json(s.as_bytes(), what)
}

// ---------------------------------------------------------------------------------------------
// rest_body

const REST_KEY: &str = "app-key";
const REST_SECRET: &str = "app-secret";
const REST_TIMESTAMP: i64 = 1_700_000_000;
/// soketi's default `maxChannelNameLength`.
const MAX_CHANNEL_NAME_BYTES: usize = 200;

/// The HTTP API's body handling for `POST /events` and `POST /batch_events`, and its
/// signature check.
///
/// Layout: `[flags][query_len][query (query_len bytes)][body…]`. Flags: bit 0 batch, bit 1
/// sign the request properly (the query bytes become extra `k=v&…` params), bits 2-7 an offset
/// of server time from the signed timestamp (in 60 s steps, signed).
///
/// Invariants: no panic in body parsing, the per-event validation (soketi's rules as
/// reactor/api.rs applies them), `valid_publish_name`, `SocketRef::parse` (and a parsed
/// socket id round-trips through `SocketRef::socket_id`), event encoding (valid JSON), or
/// `verify_rest_request`; a request signed by `sign_rest_query` verifies whenever the
/// timestamp is within the window.
pub fn rest_body(data: &[u8]) {
    let [flags, query_len, rest @ ..] = data else {
        return;
    };
    let batch = flags & 1 != 0;
    let signed = flags & 2 != 0;
    let skew_secs = i64::from((*flags as i8) >> 2) * 60;
    let (query_bytes, body) = rest.split_at(usize::from(*query_len).min(rest.len()));
    let query_text = String::from_utf8_lossy(query_bytes);
    let path = if batch {
        "/apps/app-id/batch_events"
    } else {
        "/apps/app-id/events"
    };

    // The signature: an SDK-signed request must verify; anything else must not panic.
    let now = REST_TIMESTAMP + skew_secs;
    let window = 600;
    if signed {
        let extra: Vec<(&str, &str)> = query_text
            .split('&')
            .filter(|piece| !piece.is_empty())
            .map(|piece| piece.split_once('=').unwrap_or((piece, "")))
            // The two params the verifier recomputes or strips.
            .filter(|(k, _)| *k != "auth_signature" && *k != "body_md5")
            .collect();
        let query = auth::sign_rest_query(
            "POST",
            path,
            &extra,
            body,
            REST_KEY,
            REST_SECRET,
            REST_TIMESTAMP,
        );
        let req = RestRequest {
            method: "POST",
            path,
            query: &query,
            body,
        };
        let verdict = auth::verify_rest_request(&req, REST_KEY, REST_SECRET, now, window);
        if skew_secs.unsigned_abs() <= window {
            assert_eq!(verdict, Ok(()), "a signed request failed: {query}");
        } else {
            assert!(
                matches!(verdict, Err(auth::RestAuthError::Expired { .. })),
                "{verdict:?}"
            );
        }
    } else {
        let req = RestRequest {
            method: "POST",
            path,
            query: &query_text,
            body,
        };
        for window in [0, 600] {
            if let Err(e) = auth::verify_rest_request(&req, REST_KEY, REST_SECRET, now, window) {
                std::hint::black_box(e.message());
            }
        }
    }

    // The body, as api_events / api_batch read it.
    if batch {
        if let Ok(b) = rest::parse_batch(body) {
            for ev in &b.batch {
                check_event(ev);
            }
        }
    } else if let Ok(ev) = rest::parse_event(body) {
        check_event(&ev);
    }
}

/// The server's validation and encoding of one event (`pusher::rest`, reactor/api.rs
/// `encode_event`), with the default app's limits.
fn check_event(ev: &EventBody<'_>) {
    let channels = ev.channel_list();
    let (name, data) = (ev.name(), ev.data());
    let app = crate::config::Config::default().apps.remove(0);
    if let Err(e) = rest::validate(&app, ev) {
        assert!(matches!(e.status, 400 | 413), "{e:?}");
    }
    for ch in &channels {
        let valid = channel::valid_publish_name(ch, MAX_CHANNEL_NAME_BYTES);
        if valid {
            assert!(ch.len() <= MAX_CHANNEL_NAME_BYTES);
        }
        std::hint::black_box((channel::kind(ch), channel::is_cache(ch)));
    }
    if let Some(id) = ev.socket_id.as_deref() {
        if let Some(r) = SocketRef::parse(id) {
            let mut again = String::new();
            r.socket_id(&mut again);
            assert_eq!(SocketRef::parse(&again), Some(r), "{id:?} → {again:?}");
        }
    }
    // What the reactor encodes and frames for each channel.
    let mut json_out = Vec::new();
    for ch in &channels {
        json_out.clear();
        event::channel_event(&mut json_out, name, ch, data, None);
        if let Some(v) = json(&json_out, "REST channel_event") {
            assert_eq!(v["event"], name);
            assert_eq!(v["channel"], *ch);
        }
        let mut framed = Vec::new();
        frame::write_frame(&mut framed, crate::ws::OpCode::Text, &json_out);
        assert_eq!(
            framed.len(),
            frame::header_len_for(json_out.len()) + json_out.len()
        );
    }
}
