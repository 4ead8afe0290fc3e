//! One TCP connection as a reactor holds it: the socket, its phase, and the few bytes of
//! state an idle connection needs. Nothing is allocated while a connection is idle: the
//! write buffer ([`WriteBuf`] in a [`crate::fanout::Outbox`], kept beside the slab) exists only while bytes
//! wait, the input spill only while a request or frame is unfinished, the extras only for
//! sockets that signed in, joined a presence channel or must sign in.

mod socket_id;
mod transport;
mod write_buf;

pub use socket_id::{new_node_id, SocketRef, NODE_BITS};
pub use transport::{ReadResult, Transport};
pub use write_buf::WriteBuf;

use crate::ws::Decoder;

/// What a connection is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Phase {
    /// Speaking HTTP/1.1 (REST API, health routes, or a WebSocket handshake to come).
    Http,
    /// An upgraded Pusher WebSocket connection.
    WebSocket,
    /// A close frame was queued (or the HTTP response is the last); the socket is dropped
    /// once the peer closes too or the closing timeout passes. Input is ignored.
    Closing,
}

/// Flag bits of [`Conn::flags`].
pub mod flags {
    /// WRITABLE interest is armed (a write came up short).
    pub const WRITABLE_ARMED: u16 = 1;
    /// HTTP: responses back up; no request is taken (nor read) until the output drains.
    pub const READ_PAUSED: u16 = 1 << 1;
    /// Close the socket as soon as the output is flushed.
    pub const CLOSE_AFTER_FLUSH: u16 = 1 << 2;
    /// HTTP: a request has started arriving and is not complete yet.
    pub const REQUEST_PARTIAL: u16 = 1 << 3;
    /// WebSocket: the server sent `pusher:ping` and waits for any message.
    pub const PING_SENT: u16 = 1 << 4;
    /// The connection was counted in the `connected` gauge and the app's quota.
    pub const COUNTED: u16 = 1 << 5;
    /// The socket is gone; the slot is freed at the end of the iteration.
    pub const DEAD: u16 = 1 << 6;
    /// The read budget ran out with bytes possibly left in the kernel (edge-triggered).
    pub const READ_PENDING: u16 = 1 << 7;
    /// The peer closed its side (EOF seen); nothing more will arrive.
    pub const PEER_CLOSED: u16 = 1 << 8;
    /// The poller reported the peer's hang-up. Edge-triggered, that report comes once, and
    /// it may come while input is paused or deferred: from then on a short read does not
    /// mean "wait for the next event", the socket is read on until its EOF.
    pub const HUP_REPORTED: u16 = 1 << 9;
    /// Waiting for an answer from off the reactor (the app store, the listing worker): input
    /// is held (not read, not processed) until it arrives through the inbox.
    pub const AWAITING: u16 = 1 << 10;
    /// The socket holds the descriptor the reactor keeps in reserve (the metrics port at the
    /// open-files limit): its first response closes it, so the descriptor comes back soon.
    pub const NO_KEEP_ALIVE: u16 = 1 << 11;
}

/// One subscription of a connection: the local channel and the connection's position in
/// that channel's subscriber list (kept so that unsubscribing is O(1)).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sub {
    pub chan: u32,
    pub pos: u32,
}

/// A request whose head has arrived and whose body has not, yet.
#[derive(Debug, Default)]
pub struct PendingBody {
    /// Bytes of the node's pending-body budget this request holds.
    pub reserved: u64,
    /// How far a chunked body has been read.
    pub scanner: crate::http::chunked::Scanner,
}

/// A response whose body is being built off the reactor: what writing it will need.
#[derive(Debug)]
pub struct DeferredResponse {
    pub keep_alive: bool,
    pub head_only: bool,
    pub http10: bool,
    /// Dense app index, for the HTTP counters.
    pub app: u32,
    /// Bytes of the request body, for the HTTP counters.
    pub request_bytes: u64,
    /// Extra response headers (the rate-limit ones).
    pub headers: Vec<(&'static str, String)>,
}

/// A connection's app lookup that the store answers late.
#[derive(Debug)]
pub enum AppLookup {
    /// Waiting; the key (or id) asked for.
    Waiting(Box<str>),
    /// The answer arrived.
    Answered(crate::apps::Answer),
}

/// Per-connection state only some sockets need.
#[derive(Debug, Default)]
pub struct Extra {
    /// Signed-in user id (`pusher:signin`), as a string.
    pub user_id: Option<Box<str>>,
    /// Presence memberships: (local channel id, the raw JSON `user_id` this socket joined with).
    pub presence: Vec<(u32, Box<str>)>,
    /// Client-event rate window: (second of the loop clock, events in it).
    pub client_events: (u32, u32),
    /// When the user-authentication deadline passes (loop-clock milliseconds), if armed.
    pub auth_deadline: Option<u32>,
    /// An app lookup this connection waits for, or its late answer (kept for the request
    /// that asked until it runs again).
    pub app_lookup: Option<AppLookup>,
    /// The body being received, while it is unfinished.
    pub body: Option<PendingBody>,
    /// A response being built off the reactor.
    pub deferred: Option<DeferredResponse>,
}

/// A connection. Kept small: it lives in the reactor's slab for as long as the socket does.
#[derive(Debug)]
pub struct Conn {
    /// The byte stream (all socket I/O goes through it).
    pub transport: Transport,
    /// Random half of the socket id (the other half encodes reactor and slot).
    pub rand: u32,
    /// Dense app index once upgraded; `u32::MAX` before.
    pub app: u32,
    pub phase: Phase,
    /// [`flags`] bits.
    pub flags: u16,
    /// Loop-clock millisecond of the last bytes received.
    pub last_rx: u32,
    /// Loop-clock millisecond the current phase-dependent timer started: HTTP request start or
    /// idle start, `pusher:ping` sent, or closing start.
    pub mark: u32,
    /// Unconsumed input (an unfinished HTTP request or WebSocket frame); `None` when none.
    pub spill: Option<Box<Vec<u8>>>,
    /// WebSocket message reassembly (8 bytes when idle).
    pub decoder: Decoder,
    /// Channels this connection is subscribed to.
    pub subs: Vec<Sub>,
    /// Sign-in, presence and rate-limit state, for the sockets that need it.
    pub extra: Option<Box<Extra>>,
}

impl Conn {
    /// A freshly accepted connection.
    pub fn new(transport: Transport, now: u32) -> Conn {
        Conn {
            transport,
            rand: 0,
            app: u32::MAX,
            phase: Phase::Http,
            flags: 0,
            last_rx: now,
            mark: now,
            spill: None,
            decoder: Decoder::default(),
            subs: Vec::new(),
            extra: None,
        }
    }

    #[inline]
    pub fn has(&self, f: u16) -> bool {
        self.flags & f != 0
    }

    #[inline]
    pub fn set(&mut self, f: u16) {
        self.flags |= f;
    }

    #[inline]
    pub fn clear(&mut self, f: u16) {
        self.flags &= !f;
    }

    /// The extras, created on first use.
    pub fn extra_mut(&mut self) -> &mut Extra {
        self.extra.get_or_insert_with(Default::default)
    }

    /// The position of `chan` in [`Conn::subs`].
    #[inline]
    pub fn sub_index(&self, chan: u32) -> Option<usize> {
        self.subs.iter().position(|s| s.chan == chan)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conn_stays_small() {
        // The per-connection budget is 1 KiB of RSS; the slab entry is the largest part.
        assert!(
            std::mem::size_of::<Conn>() <= 96,
            "{}",
            std::mem::size_of::<Conn>()
        );
    }
}
