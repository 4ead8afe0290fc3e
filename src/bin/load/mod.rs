//! The modules of `fanoutd-load` (the binary's doc says what each mode measures).
//!
//! `args`, `stamp` and `procfs` are also used by `fanoutd-floor` (included by path).

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
