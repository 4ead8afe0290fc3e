//! App lookups: the [`AppStore`] trait, its answers, and the static store.
//!
//! A lookup never blocks the reactor that asks. A store answers at once when it can
//! ([`Lookup::Ready`]); otherwise it returns [`Lookup::Pending`] and later hands its
//! [`Answer`] to the [`Waiter`] it was given, which posts it to the asking reactor's inbox.
//! The connection (or REST request) waits in its own phase with its input held; everyone
//! else is served meanwhile.
//!
//! [`Answer::Missing`] means the store answered that no such app exists (4001 / 404);
//! [`Answer::Unavailable`] that it could not answer (down, timed out): a retryable refusal
//! (a 41xx close / 503 with `Retry-After`), never "unknown app".

use std::collections::HashMap;
use std::sync::Arc;

use super::{App, Apps};
use crate::config::AppConfig;
use crate::reactor::inbox::{Command, Inbox};

/// What a store found.
#[derive(Debug, Clone)]
pub enum Answer {
    Found(Arc<App>),
    /// The store knows no such app.
    Missing,
    /// The store could not answer; the caller should retry later.
    Unavailable,
}

/// A store's immediate reply to a lookup.
#[derive(Debug)]
pub enum Lookup {
    Ready(Answer),
    /// The answer will reach the [`Waiter`].
    Pending,
}

/// Where a pending answer goes: the asking reactor's inbox, addressed to one connection
/// slot of one generation (a connection gone meanwhile is not confused with its successor).
#[derive(Clone)]
pub struct Waiter {
    inboxes: Arc<[Inbox]>,
    reactor: u8,
    slot: u32,
    gen: u32,
}

impl std::fmt::Debug for Waiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Waiter")
            .field("reactor", &self.reactor)
            .field("slot", &self.slot)
            .field("gen", &self.gen)
            .finish()
    }
}

impl Waiter {
    /// A waiter for connection `slot` (generation `gen`) of `reactor`.
    pub fn new(inboxes: Arc<[Inbox]>, reactor: u8, slot: u32, gen: u32) -> Waiter {
        Waiter {
            inboxes,
            reactor,
            slot,
            gen,
        }
    }

    /// Delivers the answer (from any thread).
    pub fn answer(self, answer: Answer) {
        if let Some(inbox) = self.inboxes.get(self.reactor as usize) {
            inbox.push(Command::AppAnswer {
                slot: self.slot,
                gen: self.gen,
                answer,
            });
        }
    }
}

/// Where the reactors find apps (see the module docs).
pub trait AppStore: Send + Sync {
    /// The app whose key is `key`.
    fn by_key(&self, key: &str, waiter: &dyn Fn() -> Waiter) -> Lookup;
    /// The app whose id is `id`.
    fn by_id(&self, id: &str, waiter: &dyn Fn() -> Waiter) -> Lookup;
}

/// The apps of the configuration (`appManager.array.apps`, `DEFAULT_APP_*`): registered at
/// start-up in configuration order, always answered at once.
#[derive(Debug)]
pub struct StaticStore {
    by_key: HashMap<String, Arc<App>>,
    by_id: HashMap<String, Arc<App>>,
}

impl StaticStore {
    /// Registers `configs` in `apps` (ids and keys are unique, checked by the config).
    pub fn new(configs: &[AppConfig], apps: &Apps) -> StaticStore {
        let list: Vec<Arc<App>> = configs.iter().filter_map(|c| apps.register(c)).collect();
        StaticStore {
            by_key: list
                .iter()
                .map(|a| (a.config.key.clone(), a.clone()))
                .collect(),
            by_id: list
                .iter()
                .map(|a| (a.config.id.clone(), a.clone()))
                .collect(),
        }
    }
}

fn ready(found: Option<&Arc<App>>) -> Lookup {
    Lookup::Ready(match found {
        Some(app) => Answer::Found(app.clone()),
        None => Answer::Missing,
    })
}

impl AppStore for StaticStore {
    fn by_key(&self, key: &str, _: &dyn Fn() -> Waiter) -> Lookup {
        ready(self.by_key.get(key))
    }

    fn by_id(&self, id: &str, _: &dyn Fn() -> Waiter) -> Lookup {
        ready(self.by_id.get(id))
    }
}
