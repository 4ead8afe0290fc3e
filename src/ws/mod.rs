//! RFC 6455 framing for a server: everything between the bytes a client sent after the
//! upgrade and the text the Pusher layer reads, and the frames the server writes back.
//!
//! - [`frame`]: frame headers, sans-IO. Parses a client header (Complete / Partial / error,
//!   no allocation) and encodes unmasked server headers, frames and Close frames into a
//!   `Vec<u8>`.
//! - [`mask`]: payload unmasking in place, a word-at-a-time fast path held to a byte-at-a-time
//!   reference by a differential test.
//! - [`message`]: the per-connection [`Decoder`]: masking requirement, size limit (decided from
//!   the header), fragment reassembly, control frames between fragments, UTF-8 and close-code
//!   checks. Errors carry the close code to fail the connection with.
//!
//! Not here: the opening handshake (`http`), sockets and buffers (`reactor`, `conn`), and the
//! closing handshake's state (the connection's phase). No extensions are negotiated, so
//! RSV1-3 are always an error (no permessage-deflate).
//!
//! Sits on the data path as: socket → reactor scratch buffer → `ws::message::Decoder` →
//! `&str` for `pusher::event`; and `pusher` / `fanout` → `ws::frame::write_frame` → write
//! buffers.

#![forbid(unsafe_code)]
#![cfg_attr(
    not(test),
    deny(
        clippy::indexing_slicing,
        clippy::unwrap_used,
        clippy::expect_used,
        clippy::panic,
        clippy::unreachable,
        clippy::todo
    )
)]

pub mod frame;
pub mod mask;
pub mod message;

pub use frame::{FrameError, FrameHeader, OpCode};
pub use message::{Decoder, Limits, Message, WsError};
