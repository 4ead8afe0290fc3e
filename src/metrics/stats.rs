//! Per-reactor counters: the only thing the data path touches for metrics.
//!
//! Each reactor thread owns one [`ReactorStats`] and is the single writer of every cell in
//! it; a cell is bumped with a `Relaxed` load + store (no locked instruction). The metrics
//! thread sums the cells of all reactors when scraped (`Relaxed` loads, `wrapping_add`).
//! Gauges are kept as per-reactor signed deltas (+1 / -1 by whichever reactor saw the
//! change, stored as two's-complement in a `u64`); their sum is exact even though a single
//! cell may be negative. Cells are never reset while the process runs, so every summed
//! counter is monotonic.
//!
//! Per-app cells are indexed by the app's dense index ([`crate::apps::App::idx`]), so the hot
//! path does no map lookup; they are allocated in blocks as apps appear. Every block is 128-byte aligned so that two reactors never write
//! the same cache-line pair.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::sync::OnceLock;

/// Per-app counters and gauges, in the order of [`APP_FAMILIES`](super::names).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum AppCounter {
    /// Gauge (delta): sockets that received `connection_established` and have not closed.
    Connected = 0,
    NewConnections,
    NewDisconnections,
    SocketReceivedBytes,
    SocketTransmittedBytes,
    WsMessagesReceived,
    WsMessagesSent,
    HttpReceivedBytes,
    HttpTransmittedBytes,
    HttpCallsReceived,
    /// Gauge (delta): (socket, channel) subscriptions.
    Subscriptions,
    /// Gauge (delta): channels with at least one subscriber (maintained by the directory's
    /// transitions, so exact across reactors).
    OccupiedChannels,
}

/// Number of [`AppCounter`] variants.
pub const APP_COUNTERS: usize = 12;

/// Why a connection attempt was refused (a label of `rejected_connections_total`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Rejection {
    /// 4001: the key names no app.
    UnknownApp = 0,
    /// 4003: the app is disabled.
    AppDisabled,
    /// 4100: the app's `maxConnections` was reached.
    OverQuota,
    /// 4200: the server is shutting down.
    ShuttingDown,
    /// accept() failed for lack of file descriptors (EMFILE/ENFILE).
    NoFileDescriptors,
    /// The HTTP request was not a valid WebSocket handshake.
    BadHandshake,
}

/// Number of [`Rejection`] variants.
pub const REJECTIONS: usize = 6;

/// Label values of [`Rejection`], in order.
pub const REJECTION_NAMES: [&str; REJECTIONS] = [
    "unknown_app",
    "app_disabled",
    "over_quota",
    "shutting_down",
    "no_file_descriptors",
    "bad_handshake",
];

/// Upper bounds (seconds) of the publish-to-flush latency histogram; `+Inf` is implicit.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0,
];

/// Upper bounds of [`LATENCY_BUCKETS`] in nanoseconds, for the hot path.
const LATENCY_BUCKETS_NS: [u64; 12] = [
    100_000,
    250_000,
    500_000,
    1_000_000,
    2_500_000,
    5_000_000,
    10_000_000,
    25_000_000,
    50_000_000,
    100_000_000,
    250_000_000,
    1_000_000_000,
];

/// Per-reactor counters without an app label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum ReactorCounter {
    /// Gauge (delta): TCP connections owned by this reactor (HTTP and WebSocket).
    Connections = 0,
    /// Nanoseconds spent handling events (not waiting in `epoll_wait`).
    BusyNanos,
    /// Sockets closed because their output passed the cap.
    SlowConsumerCloses,
    /// Publish-to-flush latency: sum of observations in nanoseconds.
    LatencySumNanos,
    /// Publish-to-flush latency: number of observations.
    LatencyCount,
}

const REACTOR_COUNTERS: usize = 5;

/// Cells of one app on one reactor. 16 cells = 128 bytes: one aligned block.
#[repr(align(128))]
#[derive(Default)]
pub struct AppCells([AtomicU64; 16]);

/// Cells of one reactor that carry no app label.
#[repr(align(128))]
#[derive(Default)]
pub struct ReactorCells {
    counters: [AtomicU64; REACTOR_COUNTERS],
    rejected: [AtomicU64; REJECTIONS],
    /// Non-cumulative bucket counts; index `LATENCY_BUCKETS.len()` is the `+Inf` overflow.
    latency_buckets: [AtomicU64; 13],
}

/// Apps per block of per-app cells (a block is allocated when its first app shows up).
const APPS_PER_BLOCK: usize = 256;
/// Most apps a node counts (dense indices `0..MAX_APPS`); the app registry stops there.
pub const MAX_APPS: usize = 1 << 18;

/// One block of per-app cells.
type AppBlock = Box<[AppCells; APPS_PER_BLOCK]>;

/// Everything one reactor counts. Written by that reactor only.
///
/// Per-app cells come in blocks that the owning reactor allocates on the first write for an
/// app in the block, so apps that appear after start-up are counted with no lock and no
/// copy; a reader sees an unallocated block as zeros.
pub struct ReactorStats {
    cells: ReactorCells,
    apps: Box<[OnceLock<AppBlock>]>,
}

#[inline(always)]
fn bump(cell: &AtomicU64, n: u64) {
    // Single writer: a plain load + store is enough and avoids a locked instruction.
    cell.store(cell.load(Relaxed).wrapping_add(n), Relaxed);
}

impl ReactorStats {
    /// Cells for up to [`MAX_APPS`] apps, all zero; the blocks for the first `apps` apps
    /// are allocated now.
    pub fn new(apps: usize) -> ReactorStats {
        let s = ReactorStats {
            cells: ReactorCells::default(),
            apps: (0..MAX_APPS / APPS_PER_BLOCK)
                .map(|_| OnceLock::new())
                .collect(),
        };
        for app in (0..apps.min(MAX_APPS)).step_by(APPS_PER_BLOCK) {
            s.app_cells(app);
        }
        s
    }

    /// The cells of `app`, allocating its block on first use (owning reactor only).
    #[inline(always)]
    fn app_cells(&self, app: usize) -> &AppCells {
        let block = self.apps[app / APPS_PER_BLOCK]
            .get_or_init(|| Box::new(std::array::from_fn(|_| AppCells::default())));
        &block[app % APPS_PER_BLOCK]
    }

    /// Adds `n` to an app counter (owning reactor only).
    #[inline(always)]
    pub fn add(&self, app: usize, c: AppCounter, n: u64) {
        bump(&self.app_cells(app).0[c as usize], n);
    }

    /// Adds a signed delta to an app gauge (owning reactor only).
    #[inline(always)]
    pub fn add_gauge(&self, app: usize, c: AppCounter, delta: i64) {
        bump(&self.app_cells(app).0[c as usize], delta as u64);
    }

    /// Adds `n` to a reactor counter (owning reactor only).
    #[inline(always)]
    pub fn add_reactor(&self, c: ReactorCounter, n: u64) {
        bump(&self.cells.counters[c as usize], n);
    }

    /// Adds a signed delta to a reactor gauge (owning reactor only).
    #[inline(always)]
    pub fn add_reactor_gauge(&self, c: ReactorCounter, delta: i64) {
        bump(&self.cells.counters[c as usize], delta as u64);
    }

    /// Counts a refused connection (owning reactor only).
    #[inline]
    pub fn reject(&self, why: Rejection) {
        bump(&self.cells.rejected[why as usize], 1);
    }

    /// Records one publish-to-flush latency observation (owning reactor only).
    #[inline]
    pub fn observe_latency_ns(&self, ns: u64) {
        let i = LATENCY_BUCKETS_NS
            .iter()
            .position(|&b| ns <= b)
            .unwrap_or(LATENCY_BUCKETS_NS.len());
        bump(&self.cells.latency_buckets[i], 1);
        bump(
            &self.cells.counters[ReactorCounter::LatencySumNanos as usize],
            ns,
        );
        bump(
            &self.cells.counters[ReactorCounter::LatencyCount as usize],
            1,
        );
    }

    /// Number of apps these cells cover ([`MAX_APPS`]).
    pub fn apps(&self) -> usize {
        MAX_APPS
    }

    /// Reads an app cell (any thread); 0 for an app never written.
    pub fn app_value(&self, app: usize, c: AppCounter) -> u64 {
        self.apps
            .get(app / APPS_PER_BLOCK)
            .and_then(|b| b.get())
            .map_or(0, |b| b[app % APPS_PER_BLOCK].0[c as usize].load(Relaxed))
    }

    /// Reads a reactor cell (any thread).
    pub fn reactor_value(&self, c: ReactorCounter) -> u64 {
        self.cells.counters[c as usize].load(Relaxed)
    }

    /// Reads a rejection cell (any thread).
    pub fn rejected_value(&self, why: usize) -> u64 {
        self.cells.rejected[why].load(Relaxed)
    }

    /// Reads a non-cumulative latency bucket; `i == LATENCY_BUCKETS.len()` is `+Inf` overflow.
    pub fn latency_bucket_value(&self, i: usize) -> u64 {
        self.cells.latency_buckets[i].load(Relaxed)
    }
}

/// A counter of the inter-node bus (the adapter), one per node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BusCounter {
    /// Messages published to the other nodes.
    Published = 0,
    /// Messages from other nodes handed to the reactors.
    Received,
    /// Messages not published: the queue to the bus was full or the bus was down.
    Dropped,
}

/// The bus counters: a small block of its own, written by the adapter's threads (and by a
/// reactor whose hand-off to a full queue fails), read by the metrics thread.
#[repr(align(128))]
#[derive(Default)]
pub struct BusCells([AtomicU64; 3]);

impl BusCells {
    /// Adds one to `c` (any thread).
    pub fn bump(&self, c: BusCounter) {
        self.0[c as usize].fetch_add(1, Relaxed);
    }

    /// Reads `c` (any thread).
    pub fn value(&self, c: BusCounter) -> u64 {
        self.0[c as usize].load(Relaxed)
    }
}

/// The stats of every reactor, shared with the metrics thread.
pub struct Stats {
    reactors: Box<[ReactorStats]>,
    /// The inter-node bus (all zero with the local adapter).
    pub bus: BusCells,
}

impl Stats {
    /// Zeroed stats for `reactors` reactors and `apps` apps.
    pub fn new(reactors: usize, apps: usize) -> Stats {
        Stats {
            reactors: (0..reactors).map(|_| ReactorStats::new(apps)).collect(),
            bus: BusCells::default(),
        }
    }

    /// The cells of reactor `i` (its thread is the only writer).
    pub fn reactor(&self, i: usize) -> &ReactorStats {
        &self.reactors[i]
    }

    /// All reactors' cells.
    pub fn reactors(&self) -> &[ReactorStats] {
        &self.reactors
    }

    /// Sum of an app cell over all reactors.
    pub fn app_sum(&self, app: usize, c: AppCounter) -> u64 {
        self.reactors
            .iter()
            .fold(0u64, |a, r| a.wrapping_add(r.app_value(app, c)))
    }

    /// Sum of an app gauge over all reactors, as a signed value.
    pub fn app_gauge(&self, app: usize, c: AppCounter) -> i64 {
        self.app_sum(app, c) as i64
    }

    /// Sum of a reactor cell over all reactors.
    pub fn reactor_sum(&self, c: ReactorCounter) -> u64 {
        self.reactors
            .iter()
            .fold(0u64, |a, r| a.wrapping_add(r.reactor_value(c)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blocks_are_aligned_and_gauges_sum_exactly() {
        assert_eq!(std::mem::align_of::<AppCells>(), 128);
        assert_eq!(std::mem::size_of::<AppCells>(), 128);
        assert_eq!(std::mem::align_of::<ReactorCells>(), 128);
        let s = Stats::new(2, 1);
        s.reactor(0).add_gauge(0, AppCounter::Connected, 1);
        s.reactor(0).add_gauge(0, AppCounter::Connected, 1);
        s.reactor(1).add_gauge(0, AppCounter::Connected, -1);
        assert_eq!(s.app_gauge(0, AppCounter::Connected), 1);
    }

    #[test]
    fn latency_buckets_cover_every_value() {
        let s = Stats::new(1, 0);
        let r = s.reactor(0);
        r.observe_latency_ns(0);
        r.observe_latency_ns(100_000);
        r.observe_latency_ns(100_001);
        r.observe_latency_ns(5_000_000_000);
        assert_eq!(r.latency_bucket_value(0), 2);
        assert_eq!(r.latency_bucket_value(1), 1);
        assert_eq!(r.latency_bucket_value(LATENCY_BUCKETS.len()), 1);
        assert_eq!(r.reactor_value(ReactorCounter::LatencyCount), 4);
    }
}
