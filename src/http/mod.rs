//! HTTP/1.x for the main port: request heads, responses and the WebSocket upgrade.
//!
//! Where it sits: the reactor reads bytes into its scratch buffer and, while a connection is in
//! the `HttpHead` phase, calls [`parse_head`]. A complete [`Head`] tells it how long the head
//! is, how many body bytes follow (`Content-Length` only), whether to keep the connection open
//! and whether this is a WebSocket upgrade. The reactor then either answers with
//! [`write_switching_protocols`] and moves the connection to the WebSocket phase, or waits for
//! the body and hands head + body to `pusher::rest`, which answers with [`write_response`].
//!
//! What it owns: the mapping from bytes to a validated head and from a status + headers + body
//! to bytes, plus query-string decoding ([`query_pairs`], [`query_get`]) for the REST routes.
//! It never touches a socket or a clock; every function takes a `&[u8]`/`&str` and writes into
//! a `&mut Vec<u8>`, so it can be fuzzed and benched alone.
//!
//! What it deliberately does not do: chunked bodies (`Transfer-Encoding` is refused with 411 —
//! the Pusher REST API and every SDK send `Content-Length`, and refusing it closes the
//! request-smuggling door), absolute-form or asterisk-form targets, HTTP/2, and
//! percent-decoding of paths (soketi matches routes on the raw path and signs the raw path).

pub mod chunked;
mod query;
mod request;
mod response;

pub use query::{percent_decode, query_get, query_pairs};
pub use request::{parse_head, Head, HttpError, Limits, Method, WsHeaders, MAX_HEADERS};
pub use response::{reason_phrase, valid_ws_key, write_response, write_switching_protocols};
