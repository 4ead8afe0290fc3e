//! TEMPORARY stub until the metrics module lands.
pub mod process;
pub mod server;
pub mod stats;
