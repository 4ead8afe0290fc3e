//! The Pusher protocol, sans-IO: channel names and kinds, messages, signatures.
//!
//! The reactor decides and acts (`reactor/socket.rs` for WebSocket sessions,
//! `reactor/api.rs` for the HTTP API); this module only parses, checks and encodes.

pub mod auth;
pub mod channel;
pub mod error;
pub mod event;
pub mod rest;
pub mod user;
