//! fanoutd: a Pusher-protocol WebSocket server (protocol 7), a drop-in replacement for
//! soketi, built on one mio reactor per core.
//!
//! The modules below are listed in the order a message meets them:
//!
//! ```text
//! socket ─read→ reactor scratch buffer ─ws::message→ text ─pusher::event→ message
//!   ─session→ decision ─channels→ subscribers ─fanout→ encoded frame (once) ─append→
//!   each subscriber's output ─(dirty list)→ flush once, before the next poll
//! REST: socket → scratch → session::http1 (httparse) → session::rest → Publish
//!   → fanout on this reactor + the same Publish to the inboxes of the reactors that hold
//!     subscribers of its channels
//! metrics: each reactor bumps its own counters; the metrics listener (a reactor of its own)
//!   sums them when scraped
//! ```
//!
//! State that must be exact across reactors (subscription counts, presence members, the
//! cache channels' last events, which reactors hold a channel's subscribers) lives in the
//! [`directory`], touched on subscribe, unsubscribe, close, REST reads and once per channel
//! of a publish — never per delivery. Its transitions (occupied, vacated, member added or
//! removed, cache miss, subscription count) are where webhooks and a cluster adapter hook in.
//!
//! `unsafe` is denied here and allowed only in [`sys`], where every libc call lives.
#![deny(unsafe_code)]

// Settings.
pub mod config;
// Every libc call.
pub mod sys;
// Pure parsers and encoders (sans-IO, fuzzed).
pub mod http;
pub mod parse;
pub mod pusher;
pub mod ws;
// A connection: phase, transport, output, socket id.
pub mod conn;
// The loop (I/O only), then what the bytes mean.
pub mod reactor;
pub mod session;
// Delivery within a reactor.
pub mod channels;
pub mod fanout;
// State across reactors, and the apps.
pub mod apps;
pub mod directory;
// Other nodes: where a publish leaves the node and where one from another node comes in.
pub mod adapter;
// Counters and the private listener.
pub mod metrics;
// Wiring.
pub mod server;

#[doc(hidden)]
pub mod fuzzing;

pub use config::Config;
pub use server::{Options, Server, ServerHandle};
