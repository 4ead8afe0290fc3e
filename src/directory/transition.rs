//! Transitions: what a directory operation changed that the world outside this node may
//! care about — a channel occupied or vacated, a presence member added or removed, a cache
//! channel read with nothing cached, a channel's subscription count changed.
//!
//! This is the one place webhooks and a cluster adapter hook into. Every operation that
//! causes a transition returns it ([`Transitions`]) and hands it to the directory's
//! [`TransitionSink`] while the channel's lock is still held, so that per channel a sink
//! sees transitions in the order they happened. A sink must therefore only record or
//! enqueue: it never blocks and never calls back into the directory.

use parking_lot::Mutex;

/// One change of a channel's state on this node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Transition {
    /// The channel got its first subscriber.
    Occupied,
    /// The channel lost its last subscriber.
    Vacated,
    /// A presence channel gained a member (raw JSON `user_id`).
    MemberAdded { user_id: Box<str> },
    /// A presence channel lost a member's last socket (raw JSON `user_id`).
    MemberRemoved { user_id: Box<str> },
    /// A cache channel was joined while nothing was cached for it.
    CacheMiss,
    /// A non-presence channel's subscription count changed to `count`.
    SubscriptionCount { count: u32 },
}

/// The transitions of one operation: at most three (e.g. occupied, member added and nothing
/// else; member removed, vacated), kept inline.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Transitions {
    items: [Option<Transition>; 3],
}

impl Transitions {
    pub(super) fn push(&mut self, t: Transition) {
        let slot = self
            .items
            .iter_mut()
            .find(|s| s.is_none())
            .expect("an operation causes at most three transitions");
        *slot = Some(t);
    }

    /// The transitions, in the order they happened.
    pub fn iter(&self) -> impl Iterator<Item = &Transition> {
        self.items.iter().flatten()
    }

    /// `true` when the channel became occupied.
    pub fn occupied(&self) -> bool {
        self.iter().any(|t| *t == Transition::Occupied)
    }

    /// `true` when the channel became vacant.
    pub fn vacated(&self) -> bool {
        self.iter().any(|t| *t == Transition::Vacated)
    }

    /// `true` when nothing changed.
    pub fn is_empty(&self) -> bool {
        self.items[0].is_none()
    }
}

/// Receives every transition, under the channel's lock (see the module docs).
pub trait TransitionSink: Send + Sync {
    /// `channel` of the app with dense index `app` went through `t`.
    fn transition(&self, app: usize, channel: &str, t: &Transition);
}

/// The default sink: transitions are returned to the caller and go nowhere else.
#[derive(Debug, Default)]
pub struct Discard;

impl TransitionSink for Discard {
    fn transition(&self, _: usize, _: &str, _: &Transition) {}
}

/// A sink that keeps every transition, for tests and diagnostics.
#[derive(Debug, Default)]
pub struct Recorder {
    seen: Mutex<Vec<(usize, String, Transition)>>,
}

impl Recorder {
    /// Everything recorded so far, in order, emptying the record.
    pub fn take(&self) -> Vec<(usize, String, Transition)> {
        std::mem::take(&mut *self.seen.lock())
    }
}

impl TransitionSink for Recorder {
    fn transition(&self, app: usize, channel: &str, t: &Transition) {
        self.seen.lock().push((app, channel.to_string(), t.clone()));
    }
}
