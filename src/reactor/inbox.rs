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

use crate::apps::Answer;
use crate::conn::SocketRef;

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
    /// An app store's late answer for the connection in `slot` (if it is still generation
    /// `gen`).
    AppAnswer {
        slot: u32,
        gen: u32,
        answer: Answer,
    },
    /// A channel listing built off the reactor, for the connection in `slot` (if it is still
    /// generation `gen`).
    Listed {
        slot: u32,
        gen: u32,
        body: Vec<u8>,
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
