//! fanoutd: a Pusher-protocol WebSocket server (protocol 7), a drop-in replacement for
//! soketi, built on one mio reactor per core.
//!
//! The life of a message, in the order of the modules below:
//!
//! ```text
//! socket ─read→ reactor scratch buffer ─ws::message→ text ─pusher::event→ message
//!   ─channels→ subscribers ─fanout→ encoded frame (once) ─append→ each subscriber's
//!   output ─(dirty list)→ flush once, before the next poll
//! REST: socket → scratch → http (httparse) → reactor::api → Publish
//!   → fanout on this reactor + the same Publish to every other reactor's inbox
//! metrics: each reactor bumps its own counters; the metrics thread sums them when scraped
//! ```
//!
//! State that must be exact across reactors (subscription counts, presence members, the
//! cache channels' last events, which reactors hold a channel's subscribers) lives in the
//! [`directory`], touched on subscribe, unsubscribe, close, REST reads and once per channel
//! of a publish — never per delivery.

pub mod apps;
pub mod channels;
pub mod config;
pub mod conn;
pub mod directory;
pub mod fanout;
pub mod http;
pub mod metrics;
pub mod parse;
pub mod pusher;
pub mod reactor;
pub mod server;
pub mod session;
pub mod sys;
pub mod ws;

#[doc(hidden)]
pub mod fuzzing;

pub use config::Config;
pub use server::{Server, ServerHandle};
