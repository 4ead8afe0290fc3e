//! Metrics: per-reactor counters, the family table, the text encoder, process figures, and
//! the private listener (default port 9601) that serves them.
//!
//! ```text
//! reactor threads ──bump──▶ stats (one block per reactor, Relaxed single-writer cells)
//!                                 │ summed on scrape
//! metrics thread: server ──▶ encode::render(names::FAMILIES, stats, process::snapshot())
//! ```
//!
//! Nothing here runs on a reactor thread except the `stats` bumps; a scrape never blocks or
//! locks anything a reactor uses. The only `unsafe` (libc) is in [`crate::sys::process`].

#![forbid(unsafe_code)]

pub mod encode;
pub mod json;
pub mod listener;
pub mod names;
pub mod process;
pub mod stats;

pub use encode::{render, ScrapeContext, CONTENT_TYPE};
pub use listener::{MetricsServer, MetricsState};
pub use process::{memory_usage, MemoryUsage, ProcessSnapshot};
pub use stats::{AppCounter, ReactorCounter, ReactorStats, Rejection, Stats};
