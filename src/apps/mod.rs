//! Apps: the tenants of the server, looked up by key (WebSocket) and by id (REST).
//!
//! Two parts. An [`AppStore`] answers lookups, at once ([`Lookup::Ready`]) or later
//! ([`Lookup::Pending`], then through the asking reactor's inbox), so no reactor ever waits
//! on a database; the static store from the configuration always answers at once. The
//! [`Apps`] registry gives every app the node has seen a dense index ([`App::idx`]), used to
//! reach its metric cells and per-reactor tables without a map lookup.

use std::collections::HashMap;
use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Arc;

use parking_lot::{Mutex, RwLock};

use crate::config::AppConfig;
use crate::metrics::stats::MAX_APPS;

mod store;

pub use store::{Answer, AppStore, Lookup, StaticStore, Waiter};

/// One app with its settings and the little shared state it needs.
#[derive(Debug)]
pub struct App {
    /// Dense index, 0..apps, for metric cells and per-app tables.
    pub idx: usize,
    /// Settings (id, key, secret, limits).
    pub config: AppConfig,
    /// Open WebSocket connections counted against `max_connections`, all reactors.
    connections: AtomicI64,
    /// Occupied channels on this node, all reactors (against `max_channels_per_app`).
    channels: AtomicI64,
    backend_events: RateLimiter,
    read_requests: RateLimiter,
}

impl App {
    /// Builds app `idx` from its settings.
    pub fn new(idx: usize, config: AppConfig) -> App {
        App {
            idx,
            backend_events: RateLimiter::new(config.max_backend_events_per_sec),
            read_requests: RateLimiter::new(config.max_read_req_per_sec),
            config,
            connections: AtomicI64::new(0),
            channels: AtomicI64::new(0),
        }
    }

    /// The app id.
    pub fn id(&self) -> &str {
        &self.config.id
    }

    /// The app key.
    pub fn key(&self) -> &str {
        &self.config.key
    }

    /// The app secret.
    pub fn secret(&self) -> &str {
        &self.config.secret
    }

    /// Takes one connection slot; `false` when `max_connections` is reached. soketi treats
    /// -1 and 0 as unlimited, and so do we.
    pub fn try_open_connection(&self) -> bool {
        let max = self.config.max_connections;
        let now = self.connections.fetch_add(1, Ordering::Relaxed) + 1;
        if max > 0 && now > max {
            self.connections.fetch_sub(1, Ordering::Relaxed);
            return false;
        }
        true
    }

    /// Gives back a slot taken by [`App::try_open_connection`].
    pub fn close_connection(&self) {
        self.connections.fetch_sub(1, Ordering::Relaxed);
    }

    /// Occupied channels of this app on this node.
    pub fn channels(&self) -> i64 {
        self.channels.load(Ordering::Relaxed)
    }

    /// Counts a channel that became occupied (+1) or vacant (-1).
    pub fn count_channel(&self, delta: i64) {
        self.channels.fetch_add(delta, Ordering::Relaxed);
    }

    /// Open WebSocket connections of this app.
    pub fn connections(&self) -> i64 {
        self.connections.load(Ordering::Relaxed)
    }

    /// Consumes `points` from the backend-events budget of the current second (`now_ms`:
    /// milliseconds since the Unix epoch).
    pub fn consume_backend_events(&self, points: u64, now_ms: u64) -> RateDecision {
        self.backend_events.consume(points, now_ms)
    }

    /// Consumes one read request from the budget of the current second.
    pub fn consume_read_request(&self, now_ms: u64) -> RateDecision {
        self.read_requests.consume(1, now_ms)
    }
}

/// What a rate limiter decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RateDecision {
    /// No limit is configured (-1).
    Unlimited,
    /// Allowed; `remaining` points left in this second of `limit`, whose window ends in
    /// `reset_ms` milliseconds (1..=1000).
    Allowed {
        limit: u64,
        remaining: u64,
        reset_ms: u64,
    },
    /// Over the limit; the window ends in `reset_ms` milliseconds (1..=1000).
    Rejected { reset_ms: u64 },
}

/// A fixed one-second window, as soketi's rate-limiter-flexible setup: -1 disables it, 0
/// rejects everything. Touched once per REST request, never per delivery.
#[derive(Debug)]
pub struct RateLimiter {
    limit: i64,
    window: Mutex<(u64, u64)>,
}

impl RateLimiter {
    /// A limiter allowing `limit` points per second (-1: unlimited).
    pub fn new(limit: i64) -> RateLimiter {
        RateLimiter {
            limit,
            window: Mutex::new((0, 0)),
        }
    }

    /// Consumes `points` at `now_ms` (milliseconds since the Unix epoch); the window is the
    /// wall-clock second that contains it.
    pub fn consume(&self, points: u64, now_ms: u64) -> RateDecision {
        if self.limit < 0 {
            return RateDecision::Unlimited;
        }
        let limit = self.limit as u64;
        let (second, reset_ms) = (now_ms / 1000, 1000 - now_ms % 1000);
        let mut w = self.window.lock();
        if w.0 != second {
            *w = (second, 0);
        }
        if w.1.saturating_add(points) > limit {
            return RateDecision::Rejected { reset_ms };
        }
        w.1 += points;
        RateDecision::Allowed {
            limit,
            remaining: limit - w.1,
            reset_ms,
        }
    }
}

/// The node's app registry: every app it has seen, by dense index. Grow-only: an app keeps
/// its index for the life of the process (its metric cells and per-reactor tables are
/// indexed by it), so an app that appears after start-up — e.g. first read from a database
/// — gets the next index and works like the others.
///
/// Reads take a shared lock for one clone of an `Arc`; registering (rare) takes it
/// exclusively.
#[derive(Debug, Default)]
pub struct Apps {
    list: RwLock<Vec<Arc<App>>>,
    by_id: Mutex<HashMap<String, usize>>,
}

impl Apps {
    /// An empty registry.
    pub fn new() -> Apps {
        Apps::default()
    }

    /// The app registered with `config.id`, registering it with the next dense index if it
    /// is new. `None` when [`MAX_APPS`] apps are registered already.
    pub fn register(&self, config: &AppConfig) -> Option<Arc<App>> {
        let mut by_id = self.by_id.lock();
        if let Some(&idx) = by_id.get(&config.id) {
            return Some(self.get(idx));
        }
        let mut list = self.list.write();
        let idx = list.len();
        if idx >= MAX_APPS {
            return None;
        }
        let app = Arc::new(App::new(idx, config.clone()));
        list.push(app.clone());
        by_id.insert(config.id.clone(), idx);
        Some(app)
    }

    /// The app with dense index `idx` (every index handed out is valid).
    pub fn get(&self, idx: usize) -> Arc<App> {
        self.list.read()[idx].clone()
    }

    /// Number of registered apps (dense indices are `0..len()`).
    pub fn len(&self) -> usize {
        self.list.read().len()
    }

    /// `true` when no app is registered.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The ids of all registered apps, by dense index.
    pub fn ids(&self) -> Vec<String> {
        self.list
            .read()
            .iter()
            .map(|a| a.config.id.clone())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limiter_windows() {
        let r = RateLimiter::new(2);
        assert_eq!(
            r.consume(1, 10_000),
            RateDecision::Allowed {
                limit: 2,
                remaining: 1,
                reset_ms: 1000,
            }
        );
        assert_eq!(
            r.consume(1, 10_250),
            RateDecision::Allowed {
                limit: 2,
                remaining: 0,
                reset_ms: 750,
            }
        );
        assert_eq!(r.consume(1, 10_999), RateDecision::Rejected { reset_ms: 1 });
        assert!(matches!(
            r.consume(2, 11_000),
            RateDecision::Allowed { remaining: 0, .. }
        ));
        assert_eq!(
            RateLimiter::new(0).consume(1, 1_500),
            RateDecision::Rejected { reset_ms: 500 }
        );
        assert_eq!(RateLimiter::new(-1).consume(99, 1), RateDecision::Unlimited);
    }
}
