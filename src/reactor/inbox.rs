//! Commands between reactors: an owned-command queue plus a `mio::Waker` per reactor.
//!
//! The mutex is held only to push one command or to swap the whole queue out, so a
//! producer never waits on the consumer's work. The waker is rung only when the queue goes
//! from empty to non-empty: a reactor drains its queue on every loop iteration, so later
//! pushes are seen without another wake-up.

use std::sync::Arc;
use std::time::Instant;

use mio::Waker;
use parking_lot::Mutex;

/// Identifies one socket on this node: its reactor, slot and random id half (a slot that
/// was reused has another random half, so a stale reference matches nothing).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SocketRef {
    pub reactor: u8,
    pub slot: u32,
    pub rand: u32,
}

impl SocketRef {
    /// Formats the Pusher socket id: `"<rand>.<slot * 256 + reactor>"` — two integers, as
    /// Pusher and soketi socket ids are, unique among live sockets by construction.
    pub fn socket_id(&self, out: &mut String) {
        let mut b = itoa::Buffer::new();
        out.push_str(b.format(self.rand));
        out.push('.');
        out.push_str(b.format(((self.slot as u64) << 8) | self.reactor as u64));
    }

    /// Parses a socket id made by [`SocketRef::socket_id`].
    pub fn parse(id: &str) -> Option<SocketRef> {
        let (a, b) = id.split_once('.')?;
        if a.is_empty() || b.is_empty() || !a.bytes().chain(b.bytes()).all(|c| c.is_ascii_digit()) {
            return None;
        }
        let rand: u32 = a.parse().ok()?;
        let low: u64 = b.parse().ok()?;
        let slot = u32::try_from(low >> 8).ok()?;
        Some(SocketRef {
            reactor: (low & 0xff) as u8,
            slot,
            rand,
        })
    }
}

/// One encoded event for one channel.
#[derive(Debug)]
pub struct Item {
    pub channel: Box<str>,
    /// The complete WebSocket frame (header + JSON).
    pub frame: Box<[u8]>,
    /// Length of the JSON payload within `frame` (for the byte counters).
    pub payload_len: usize,
    /// For cache channels, the cache sequence number of this event (0 otherwise).
    pub cache_seq: u64,
}

/// Events to deliver to the local subscribers of their channels (REST publishes and
/// client events). Shared by every reactor through an `Arc`.
#[derive(Debug)]
pub struct Publish {
    pub app: u32,
    pub items: Vec<Item>,
    /// The socket that must not receive it (REST `socket_id`, or a client event's sender).
    pub except: Option<SocketRef>,
    /// When the publish was accepted (for the publish-to-flush histogram).
    pub accepted_at: Instant,
}

/// A presence membership broadcast (`member_added` / `member_removed`).
#[derive(Debug)]
pub struct Presence {
    pub app: u32,
    pub item: Item,
    /// The channel's membership sequence number after this change.
    pub seq: u64,
    pub except: Option<SocketRef>,
}

/// A command for a reactor.
#[derive(Debug)]
pub enum Command {
    Publish(Arc<Publish>),
    Presence(Arc<Presence>),
    /// Close every socket signed in as this user (4009).
    Terminate {
        app: u32,
        user_id: Arc<str>,
    },
    /// Start the graceful shutdown.
    Shutdown,
}

/// A reactor's inbox.
pub struct Inbox {
    queue: Mutex<Vec<Command>>,
    waker: Waker,
}

impl Inbox {
    /// An inbox woken through `waker`.
    pub fn new(waker: Waker) -> Inbox {
        Inbox {
            queue: Mutex::new(Vec::new()),
            waker,
        }
    }

    /// Queues a command, waking the reactor if the queue was empty.
    pub fn push(&self, cmd: Command) {
        let was_empty = {
            let mut q = self.queue.lock();
            let was_empty = q.is_empty();
            q.push(cmd);
            was_empty
        };
        if was_empty {
            // A failed wake means the reactor is gone; nothing to do.
            let _ = self.waker.wake();
        }
    }

    /// Swaps the queued commands into `into` (which must be empty).
    pub fn take(&self, into: &mut Vec<Command>) {
        debug_assert!(into.is_empty());
        std::mem::swap(&mut *self.queue.lock(), into);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_ids_round_trip() {
        let r = SocketRef {
            reactor: 3,
            slot: 123_456,
            rand: 4_000_000_000,
        };
        let mut s = String::new();
        r.socket_id(&mut s);
        assert_eq!(s, "4000000000.31604739");
        assert_eq!(SocketRef::parse(&s), Some(r));
        for bad in [
            "",
            "1",
            "1.",
            ".1",
            "a.1",
            "1.2.3",
            "-1.2",
            "99999999999.1",
            "1.+2",
        ] {
            assert_eq!(SocketRef::parse(bad), None, "{bad}");
        }
    }
}
