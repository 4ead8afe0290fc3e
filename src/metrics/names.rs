//! The one table of metric families: name, type, HELP text, and where each value comes from.
//!
//! [`FAMILIES`] is the only place a family is declared; the encoder walks it in order, so
//! the exposition lists families in this order. Names are built as `{prefix}{port}_{suffix}`
//! (`soketi_6001_connected` as soketi's docs show it, the default) or `{prefix}{suffix}`
//! (soketi 1.x's `soketi_connected`), see [`name_head`] and docs/compat.md, `metric-names`;
//! the standard `process_*` families take neither prefix nor port and carry no labels.
//! With soketi 1.x names (`port_in_name` off) soketi's own process families are written
//! too, prefixed and with the `port` label as prom-client writes them
//! (`soketi_process_cpu_seconds_total{port="6001"}`), so a soketi dashboard works unchanged;
//! see [`Source::PrefixedProcess`] and docs/compat.md, `soketi-process-metrics`.
//!
//! soketi's own counters keep their historical names even where they lack `_total`
//! (`socket_received_bytes`, …), so `promtool check metrics` reports lint warnings (exit 3)
//! for them by design.

use super::stats::{AppCounter, BusCounter, ReactorCounter};

/// Prometheus metric type, as written on the `# TYPE` line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Counter,
    Gauge,
    Histogram,
}

impl Kind {
    /// The word on the `# TYPE` line.
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Counter => "counter",
            Kind::Gauge => "gauge",
            Kind::Histogram => "histogram",
        }
    }
}

/// A field of [`ProcessSnapshot`](super::process::ProcessSnapshot).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProcessField {
    CpuSeconds,
    CpuUserSeconds,
    CpuSystemSeconds,
    /// `VmData`; see `process.rs`.
    HeapBytes,
    ResidentBytes,
    VirtualBytes,
    /// Left out of the exposition when the limit is unlimited (see `process.rs`).
    VirtualMaxBytes,
    OpenFds,
    MaxFds,
    StartTimeSeconds,
    Threads,
}

/// How a family's samples are read, which also fixes its labels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// One sample per configured app, the cell summed over reactors; labels `app_id`,
    /// `port`. A gauge's sum is read as signed (`i64`).
    App(AppCounter),
    /// One sample per reactor, as a count; labels `reactor`, `port`.
    PerReactor(ReactorCounter),
    /// One sample per reactor, a nanosecond cell written as seconds; labels `reactor`,
    /// `port`.
    PerReactorNanosAsSeconds(ReactorCounter),
    /// One sample, summed over reactors; label `port`.
    ReactorTotal(ReactorCounter),
    /// One sample from the bus counters; label `port`.
    Bus(BusCounter),
    /// One sample per [`REJECTION_NAMES`](super::stats::REJECTION_NAMES) entry, summed over
    /// reactors; labels `reason`, `port`.
    Rejections,
    /// The publish-to-flush latency histogram (buckets
    /// [`LATENCY_BUCKETS`](super::stats::LATENCY_BUCKETS)); label `port` (+ `le`).
    LatencyHistogram,
    /// One unlabelled sample from the process snapshot; the name is unprefixed.
    Process(ProcessField),
    /// soketi's (prom-client's) process family: one sample from the process snapshot with
    /// label `port`, the name prefixed; written only with soketi 1.x names (`port_in_name`
    /// off), beside the standard one.
    PrefixedProcess(ProcessField),
}

/// One metric family.
#[derive(Debug, Clone, Copy)]
pub struct Family {
    /// The name after the prefix (and port), or the whole name of a process family.
    pub suffix: &'static str,
    pub kind: Kind,
    /// HELP text, unescaped.
    pub help: &'static str,
    pub source: Source,
}

impl Family {
    /// `true` when the name takes the configured prefix (and port); `false` for the
    /// standard `process_*` names.
    pub fn prefixed(&self) -> bool {
        !matches!(self.source, Source::Process(_))
    }
}

const fn family(suffix: &'static str, kind: Kind, help: &'static str, source: Source) -> Family {
    Family {
        suffix,
        kind,
        help,
        source,
    }
}

use Kind::{Counter, Gauge, Histogram};

/// Every family, in exposition order.
pub const FAMILIES: [Family; 37] = [
    // soketi's own families, HELP texts verbatim (docs/compat.md, `metric-help`).
    family(
        "connected",
        Gauge,
        "The number of currently connected sockets.",
        Source::App(AppCounter::Connected),
    ),
    family(
        "new_connections_total",
        Counter,
        "Total amount of soketi connection requests.",
        Source::App(AppCounter::NewConnections),
    ),
    family(
        "new_disconnections_total",
        Counter,
        "Total amount of soketi disconnections.",
        Source::App(AppCounter::NewDisconnections),
    ),
    family(
        "socket_received_bytes",
        Counter,
        "Total amount of bytes that soketi received.",
        Source::App(AppCounter::SocketReceivedBytes),
    ),
    family(
        "socket_transmitted_bytes",
        Counter,
        "Total amount of bytes that soketi transmitted.",
        Source::App(AppCounter::SocketTransmittedBytes),
    ),
    family(
        "ws_messages_received_total",
        Counter,
        "The total amount of WS messages received from connections by the server.",
        Source::App(AppCounter::WsMessagesReceived),
    ),
    family(
        "ws_messages_sent_total",
        Counter,
        "The total amount of WS messages sent to the connections from the server.",
        Source::App(AppCounter::WsMessagesSent),
    ),
    family(
        "http_received_bytes",
        Counter,
        "Total amount of bytes that soketi's REST API received.",
        Source::App(AppCounter::HttpReceivedBytes),
    ),
    family(
        "http_transmitted_bytes",
        Counter,
        "Total amount of bytes that soketi's REST API sent back.",
        Source::App(AppCounter::HttpTransmittedBytes),
    ),
    family(
        "http_calls_received_total",
        Counter,
        "Total amount of received REST API calls.",
        Source::App(AppCounter::HttpCallsReceived),
    ),
    // fanoutd's own families, same prefix/port scheme.
    family(
        "subscriptions",
        Gauge,
        "The number of current channel subscriptions (socket, channel pairs).",
        Source::App(AppCounter::Subscriptions),
    ),
    family(
        "occupied_channels",
        Gauge,
        "The number of channels with at least one subscriber.",
        Source::App(AppCounter::OccupiedChannels),
    ),
    family(
        "reactor_connections",
        Gauge,
        "The number of open TCP connections (HTTP and WebSocket) owned by each reactor thread.",
        Source::PerReactor(ReactorCounter::Connections),
    ),
    family(
        "reactor_busy_seconds_total",
        Counter,
        "Total time each reactor thread spent handling events rather than waiting for them.",
        Source::PerReactorNanosAsSeconds(ReactorCounter::BusyNanos),
    ),
    family(
        "slow_consumer_closes_total",
        Counter,
        "Total amount of sockets closed because their pending output passed the cap.",
        Source::ReactorTotal(ReactorCounter::SlowConsumerCloses),
    ),
    family(
        "rejected_connections_total",
        Counter,
        "Total amount of refused connection attempts, by reason.",
        Source::Rejections,
    ),
    family(
        "publish_flush_latency_seconds",
        Histogram,
        "Time from a publish being accepted (REST call or client event) until its frames were written to the subscribers' sockets, per reactor that delivered it.",
        Source::LatencyHistogram,
    ),
    family(
        "adapter_published_messages_total",
        Counter,
        "Total amount of messages this node published to the other nodes (Redis adapter).",
        Source::Bus(BusCounter::Published),
    ),
    family(
        "adapter_received_messages_total",
        Counter,
        "Total amount of messages from other nodes delivered to this node's reactors.",
        Source::Bus(BusCounter::Received),
    ),
    family(
        "adapter_dropped_messages_total",
        Counter,
        "Total amount of messages not published to the other nodes because the queue to the bus was full or the bus was down.",
        Source::Bus(BusCounter::Dropped),
    ),
    // The standard process collector (client_golang names, unprefixed, no labels).
    family(
        "process_cpu_seconds_total",
        Counter,
        "Total user and system CPU time spent in seconds.",
        Source::Process(ProcessField::CpuSeconds),
    ),
    family(
        "process_resident_memory_bytes",
        Gauge,
        "Resident memory size in bytes.",
        Source::Process(ProcessField::ResidentBytes),
    ),
    family(
        "process_virtual_memory_bytes",
        Gauge,
        "Virtual memory size in bytes.",
        Source::Process(ProcessField::VirtualBytes),
    ),
    family(
        "process_virtual_memory_max_bytes",
        Gauge,
        "Maximum amount of virtual memory available in bytes.",
        Source::Process(ProcessField::VirtualMaxBytes),
    ),
    family(
        "process_open_fds",
        Gauge,
        "Number of open file descriptors.",
        Source::Process(ProcessField::OpenFds),
    ),
    family(
        "process_max_fds",
        Gauge,
        "Maximum number of open file descriptors.",
        Source::Process(ProcessField::MaxFds),
    ),
    family(
        "process_start_time_seconds",
        Gauge,
        "Start time of the process since unix epoch in seconds.",
        Source::Process(ProcessField::StartTimeSeconds),
    ),
    family(
        "process_threads",
        Gauge,
        "Number of OS threads in the process.",
        Source::Process(ProcessField::Threads),
    ),
    // soketi's process families (prom-client 14's names and HELP texts), only without the
    // port in the name.
    family(
        "process_cpu_user_seconds_total",
        Counter,
        "Total user CPU time spent in seconds.",
        Source::PrefixedProcess(ProcessField::CpuUserSeconds),
    ),
    family(
        "process_cpu_system_seconds_total",
        Counter,
        "Total system CPU time spent in seconds.",
        Source::PrefixedProcess(ProcessField::CpuSystemSeconds),
    ),
    family(
        "process_cpu_seconds_total",
        Counter,
        "Total user and system CPU time spent in seconds.",
        Source::PrefixedProcess(ProcessField::CpuSeconds),
    ),
    family(
        "process_start_time_seconds",
        Gauge,
        "Start time of the process since unix epoch in seconds.",
        Source::PrefixedProcess(ProcessField::StartTimeSeconds),
    ),
    family(
        "process_resident_memory_bytes",
        Gauge,
        "Resident memory size in bytes.",
        Source::PrefixedProcess(ProcessField::ResidentBytes),
    ),
    family(
        "process_virtual_memory_bytes",
        Gauge,
        "Virtual memory size in bytes.",
        Source::PrefixedProcess(ProcessField::VirtualBytes),
    ),
    family(
        "process_heap_bytes",
        Gauge,
        "Process heap size in bytes.",
        Source::PrefixedProcess(ProcessField::HeapBytes),
    ),
    family(
        "process_open_fds",
        Gauge,
        "Number of open file descriptors.",
        Source::PrefixedProcess(ProcessField::OpenFds),
    ),
    family(
        "process_max_fds",
        Gauge,
        "Maximum number of open file descriptors.",
        Source::PrefixedProcess(ProcessField::MaxFds),
    ),
];

/// Writes the part every prefixed name starts with: the prefix, then `{port}_` when
/// `port_in_name`. Characters outside `[a-zA-Z0-9_:]` become `_`, and a `_` is put first if
/// the name would otherwise start with a digit (an empty prefix with the port in the
/// name), so a bad prefix can never make the whole scrape unparsable.
pub fn name_head(out: &mut Vec<u8>, prefix: &str, port: u16, port_in_name: bool) {
    let start = out.len();
    for &b in prefix.as_bytes() {
        let ok = b.is_ascii_alphanumeric() || b == b'_' || b == b':';
        out.push(if ok { b } else { b'_' });
    }
    if port_in_name {
        out.extend_from_slice(itoa::Buffer::new().format(port).as_bytes());
        out.push(b'_');
    }
    if out.get(start).is_some_and(|b| b.is_ascii_digit()) {
        out.insert(start, b'_');
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::stats::APP_COUNTERS;

    #[test]
    fn names_are_unique_valid_and_typed_consistently() {
        for (i, f) in FAMILIES.iter().enumerate() {
            assert!(
                f.suffix
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_'),
                "{}",
                f.suffix
            );
            assert!(!f.help.is_empty());
            // Names are unique among the prefixed and among the unprefixed families.
            for g in &FAMILIES[i + 1..] {
                assert!(
                    f.suffix != g.suffix || f.prefixed() != g.prefixed(),
                    "{}",
                    f.suffix
                );
            }
            // A histogram's sample names must not clash with another family.
            if f.kind == Kind::Histogram {
                for g in FAMILIES.iter() {
                    for s in ["_bucket", "_sum", "_count"] {
                        assert_ne!(g.suffix, format!("{}{}", f.suffix, s));
                    }
                }
            }
            // fanoutd's own names follow the conventions; soketi's are kept as they are.
            if i >= 10 && f.kind == Kind::Counter {
                assert!(f.suffix.ends_with("_total"), "{}", f.suffix);
            }
            if f.kind != Kind::Counter {
                assert!(!f.suffix.ends_with("_total"), "{}", f.suffix);
            }
            let process = matches!(f.source, Source::Process(_) | Source::PrefixedProcess(_));
            assert_eq!(process, f.suffix.starts_with("process_"));
            // A soketi process family has its standard twin, typed and described alike,
            // unless the standard set has no such name (prom-client's own additions).
            if let Source::PrefixedProcess(_) = f.source {
                if let Some(g) = FAMILIES
                    .iter()
                    .find(|g| !g.prefixed() && g.suffix == f.suffix)
                {
                    assert_eq!((g.kind, g.help), (f.kind, f.help), "{}", f.suffix);
                }
            }
        }
        let soketi_process = FAMILIES
            .iter()
            .filter(|f| matches!(f.source, Source::PrefixedProcess(_)))
            .count();
        assert_eq!(soketi_process, 9);
        // Every app cell is exported exactly once.
        let mut seen = [0; APP_COUNTERS];
        for f in FAMILIES.iter() {
            if let Source::App(c) = f.source {
                seen[c as usize] += 1;
            }
        }
        assert_eq!(seen, [1; APP_COUNTERS]);
    }

    #[test]
    fn name_head_modes_and_sanitising() {
        let head = |p: &str, n: bool| {
            let mut v = Vec::new();
            name_head(&mut v, p, 6001, n);
            String::from_utf8(v).unwrap()
        };
        assert_eq!(head("soketi_", true), "soketi_6001_");
        assert_eq!(head("soketi_", false), "soketi_");
        assert_eq!(head("", true), "_6001_");
        assert_eq!(head("", false), "");
        assert_eq!(head("my-app.", false), "my_app_");
        assert_eq!(head("9x_", false), "_9x_");
    }
}
