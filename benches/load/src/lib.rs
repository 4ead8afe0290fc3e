//! The measurement tools behind PERF.md, apart from the server: `fanoutd-load`, a load
//! generator for any Pusher-protocol server on loopback, and `fanoutd-floor`, the same
//! syscalls as the server with nothing else (each binary's doc says what its modes measure).
//!
//! Where a tool needs the server's code (Pusher message encoders, WebSocket frames, signatures,
//! the libc calls of `fanoutd::sys`), it uses the `fanoutd` library's public API; the tools
//! have no `unsafe` of their own.
//!
//! - shared by both tools: `args` (flags), `procfs` (`/proc` samples), `stamp` (the
//!   timestamped payload);
//! - the load generator's clients and figures: `ws` (WebSocket clients on one poll), `http`
//!   (the REST publisher), `hist` (latency histogram), `common` (shared flags and reports);
//! - its modes: `idle`, `fanout`, `rest`, `client_events`, `scrape`.

#![forbid(unsafe_code)]

pub mod args;
pub mod client_events;
pub mod common;
pub mod fanout;
pub mod hist;
pub mod http;
pub mod idle;
pub mod procfs;
pub mod rest;
pub mod scrape;
pub mod stamp;
pub mod ws;
