//! The Prometheus text exposition format 0.0.4, written by hand into a `Vec<u8>`.
//!
//! Sans-IO: [`render`] reads the summed counters and appends text; it never touches a socket
//! or a clock. The rules it keeps:
//!
//! - one block per family, in [`FAMILIES`] order: `# HELP`, `# TYPE`, then every sample of
//!   that family; never interleaved, never a (name, labels) pair twice;
//! - per-app values are summed over reactors **before** a line is written, so there is one
//!   line per app, never one per (reactor, app); every configured app has a line from the
//!   start (value 0);
//! - label values escape exactly `\` → `\\`, `"` → `\"`, LF → `\n`; HELP escapes `\` and
//!   LF only (a `\"` in HELP is a parse error in 0.0.4);
//! - integers through `itoa`; floats through `ryu` with a trailing `.0` dropped (so whole
//!   numbers read `1`, as Go and prom-client write them, in values and in `le` alike);
//!   non-finite values as `+Inf`, `-Inf`, `NaN`;
//! - gauges are the signed (`i64`) sum of per-reactor deltas;
//! - histogram buckets are cumulated from the per-reactor non-cumulative cells, and `+Inf`
//!   and `_count` are the same total, so they agree by construction;
//! - soketi's own process families (`{prefix}process_*{port="…"}`) are written only with
//!   soketi 1.x names (`port_in_name` off), after the standard ones (docs/compat.md,
//!   `soketi-process-metrics`);
//! - LF line ends, a final LF, no timestamps.

use memchr::{memchr2, memchr3};

use super::names::{name_head, Family, Kind, ProcessField, Source, FAMILIES};
use super::process::ProcessSnapshot;
use super::stats::{Stats, LATENCY_BUCKETS, REJECTION_NAMES};

/// The `Content-Type` of a body written by [`render`].
pub const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// Everything one scrape reads.
pub struct ScrapeContext<'a> {
    pub stats: &'a Stats,
    /// The configured apps' ids; index = the app's dense index in [`Stats`].
    pub app_ids: &'a [String],
    /// The public port, for the names (`port_in_name`) and the `port` label.
    pub port: u16,
    /// Name prefix, e.g. `soketi_`.
    pub prefix: &'a str,
    /// `true`: `{prefix}{port}_{suffix}`; `false`: `{prefix}{suffix}`.
    pub port_in_name: bool,
    /// The `process_*` families are written only when this is set (soketi's prefixed ones
    /// also need `port_in_name` off).
    pub process: Option<&'a ProcessSnapshot>,
}

/// Appends the whole exposition for `ctx` to `out` (callers reuse `out` across scrapes and
/// clear it first).
pub fn render(out: &mut Vec<u8>, ctx: &ScrapeContext<'_>) {
    let mut port_buf = itoa::Buffer::new();
    let port = port_buf.format(ctx.port).as_bytes();
    // The current family's name, then the start of its label set (`name{app_id="`).
    let mut line = Vec::with_capacity(128);
    // `{prefix}` or `{prefix}{port}_`, which every prefixed family's name starts with.
    let mut head = Vec::with_capacity(32);
    name_head(&mut head, ctx.prefix, ctx.port, ctx.port_in_name);
    // `",port="6001"} `: what follows an app_id / reactor / reason label value.
    let mut tail = Vec::with_capacity(24);
    tail.extend_from_slice(b"\",port=\"");
    tail.extend_from_slice(port);
    tail.extend_from_slice(b"\"} ");
    let apps_with_cells = ctx.stats.reactors().first().map_or(0, |r| r.apps());
    // Each app's `{escaped id}",port="6001"} `, built once for all app families.
    let mut app_labels = Vec::with_capacity(ctx.app_ids.len() * (tail.len() + 16));
    let mut app_ends = Vec::with_capacity(ctx.app_ids.len());
    for id in ctx.app_ids {
        escape_label_value(&mut app_labels, id);
        app_labels.extend_from_slice(&tail);
        app_ends.push(app_labels.len());
    }

    for family in FAMILIES.iter() {
        // A process family with nothing to report (no snapshot, or no limit) is left out
        // entirely, HELP and TYPE included.
        let process = match family.source {
            Source::Process(field) => match ctx.process.and_then(|p| process_value(p, field)) {
                Some(v) => Some(v),
                None => continue,
            },
            Source::PrefixedProcess(_) if ctx.port_in_name => continue,
            // With an empty prefix the name would be the standard family's: that one is
            // written (once) instead.
            Source::PrefixedProcess(_) if head.is_empty() && has_standard_twin(family) => continue,
            Source::PrefixedProcess(field) => {
                match ctx.process.and_then(|p| process_value(p, field)) {
                    Some(v) => Some(v),
                    None => continue,
                }
            }
            _ => None,
        };
        line.clear();
        if family.prefixed() {
            line.extend_from_slice(&head);
        }
        line.extend_from_slice(family.suffix.as_bytes());
        let name_len = line.len();
        write_meta(out, &line, family);

        match family.source {
            Source::App(counter) => {
                line.extend_from_slice(b"{app_id=\"");
                let mut start = 0;
                for (idx, &end) in app_ends.iter().enumerate() {
                    out.extend_from_slice(&line);
                    out.extend_from_slice(&app_labels[start..end]);
                    start = end;
                    let sum = if idx < apps_with_cells {
                        ctx.stats.app_sum(idx, counter)
                    } else {
                        0
                    };
                    if family.kind == Kind::Gauge {
                        write_int(out, sum as i64);
                    } else {
                        write_int(out, sum);
                    }
                    out.push(b'\n');
                }
            }
            Source::PerReactor(counter) | Source::PerReactorNanosAsSeconds(counter) => {
                line.extend_from_slice(b"{reactor=\"");
                for (idx, reactor) in ctx.stats.reactors().iter().enumerate() {
                    out.extend_from_slice(&line);
                    write_int(out, idx);
                    out.extend_from_slice(&tail);
                    let v = reactor.reactor_value(counter);
                    match (family.source, family.kind) {
                        (Source::PerReactorNanosAsSeconds(_), _) => write_nanos_as_seconds(out, v),
                        (_, Kind::Gauge) => write_int(out, v as i64),
                        _ => write_int(out, v),
                    }
                    out.push(b'\n');
                }
            }
            Source::ReactorTotal(counter) => {
                write_port_only_sample(out, &line, port);
                write_int(out, ctx.stats.reactor_sum(counter));
                out.push(b'\n');
            }
            Source::Bus(counter) => {
                write_port_only_sample(out, &line, port);
                write_int(out, ctx.stats.bus.value(counter));
                out.push(b'\n');
            }
            Source::Rejections => {
                line.extend_from_slice(b"{reason=\"");
                for (why, reason) in REJECTION_NAMES.iter().enumerate() {
                    out.extend_from_slice(&line);
                    out.extend_from_slice(reason.as_bytes());
                    out.extend_from_slice(&tail);
                    let sum = ctx
                        .stats
                        .reactors()
                        .iter()
                        .fold(0u64, |a, r| a.wrapping_add(r.rejected_value(why)));
                    write_int(out, sum);
                    out.push(b'\n');
                }
            }
            Source::LatencyHistogram => {
                write_latency_histogram(out, &mut line, name_len, port, ctx)
            }
            Source::Process(_) | Source::PrefixedProcess(_) => {
                if matches!(family.source, Source::PrefixedProcess(_)) {
                    write_port_only_sample(out, &line, port);
                } else {
                    out.extend_from_slice(&line);
                    out.push(b' ');
                }
                match process {
                    Some(Value::Int(v)) => write_int(out, v),
                    Some(Value::Float(v)) => write_f64(out, v),
                    None => {} // not reached: `continue`d above
                }
                out.push(b'\n');
            }
        }
    }
}

/// `true` when a standard (unprefixed) process family has the same name as `family`.
fn has_standard_twin(family: &Family) -> bool {
    FAMILIES
        .iter()
        .any(|g| !g.prefixed() && g.suffix == family.suffix)
}

/// A process family's value.
enum Value {
    Int(u64),
    Float(f64),
}

/// `None` when the family is to be left out.
fn process_value(p: &ProcessSnapshot, field: ProcessField) -> Option<Value> {
    Some(match field {
        ProcessField::CpuSeconds => Value::Float(p.cpu_seconds),
        ProcessField::CpuUserSeconds => Value::Float(p.cpu_user_seconds),
        ProcessField::CpuSystemSeconds => Value::Float(p.cpu_system_seconds),
        ProcessField::HeapBytes => Value::Int(p.heap_bytes?),
        ProcessField::ResidentBytes => Value::Int(p.resident_bytes),
        ProcessField::VirtualBytes => Value::Int(p.virtual_bytes),
        ProcessField::VirtualMaxBytes => Value::Int(p.virtual_max_bytes?),
        ProcessField::OpenFds => Value::Int(p.open_fds),
        ProcessField::MaxFds => Value::Int(p.max_fds),
        ProcessField::StartTimeSeconds => Value::Float(p.start_time_seconds),
        ProcessField::Threads => Value::Int(p.threads),
    })
}

/// `# HELP name text\n# TYPE name kind\n`.
fn write_meta(out: &mut Vec<u8>, name: &[u8], family: &Family) {
    out.extend_from_slice(b"# HELP ");
    out.extend_from_slice(name);
    out.push(b' ');
    escape_help(out, family.help);
    out.extend_from_slice(b"\n# TYPE ");
    out.extend_from_slice(name);
    out.push(b' ');
    out.extend_from_slice(family.kind.as_str().as_bytes());
    out.push(b'\n');
}

/// `name{port="6001"} ` (the value follows).
fn write_port_only_sample(out: &mut Vec<u8>, name: &[u8], port: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b"{port=\"");
    out.extend_from_slice(port);
    out.extend_from_slice(b"\"} ");
}

fn write_latency_histogram(
    out: &mut Vec<u8>,
    line: &mut Vec<u8>,
    name_len: usize,
    port: &[u8],
    ctx: &ScrapeContext<'_>,
) {
    // Sum each non-cumulative cell over reactors first, then cumulate.
    let mut cells = [0u64; LATENCY_BUCKETS.len() + 1];
    let mut sum_ns = 0u64;
    for r in ctx.stats.reactors() {
        for (i, c) in cells.iter_mut().enumerate() {
            *c = c.wrapping_add(r.latency_bucket_value(i));
        }
        sum_ns =
            sum_ns.wrapping_add(r.reactor_value(super::stats::ReactorCounter::LatencySumNanos));
    }
    line.truncate(name_len);
    line.extend_from_slice(b"_bucket{port=\"");
    line.extend_from_slice(port);
    line.extend_from_slice(b"\",le=\"");
    let mut cumulative = 0u64;
    for (i, &c) in cells.iter().enumerate() {
        cumulative = cumulative.wrapping_add(c);
        out.extend_from_slice(line);
        match LATENCY_BUCKETS.get(i) {
            Some(&le) => write_f64(out, le),
            None => out.extend_from_slice(b"+Inf"),
        }
        out.extend_from_slice(b"\"} ");
        write_int(out, cumulative);
        out.push(b'\n');
    }
    line.truncate(name_len);
    line.extend_from_slice(b"_sum");
    write_port_only_sample(out, line, port);
    write_nanos_as_seconds(out, sum_ns);
    out.push(b'\n');
    line.truncate(name_len);
    line.extend_from_slice(b"_count");
    write_port_only_sample(out, line, port);
    // The `+Inf` bucket's total, not the separate count cell: they must agree.
    write_int(out, cumulative);
    out.push(b'\n');
}

fn write_int<I: itoa::Integer>(out: &mut Vec<u8>, v: I) {
    out.extend_from_slice(itoa::Buffer::new().format(v).as_bytes());
}

fn write_nanos_as_seconds(out: &mut Vec<u8>, ns: u64) {
    write_f64(out, ns as f64 / 1e9);
}

/// Shortest round-trip form (`ryu`), without a trailing `.0`; `+Inf`, `-Inf`, `NaN`.
pub fn write_f64(out: &mut Vec<u8>, v: f64) {
    if v.is_nan() {
        out.extend_from_slice(b"NaN");
    } else if v.is_infinite() {
        out.extend_from_slice(if v > 0.0 { b"+Inf" } else { b"-Inf" });
    } else {
        let mut buf = ryu::Buffer::new();
        let s = buf.format_finite(v);
        out.extend_from_slice(s.strip_suffix(".0").unwrap_or(s).as_bytes());
    }
}

/// Escapes a label value: `\` → `\\`, `"` → `\"`, LF → `\n`; everything else is copied.
pub fn escape_label_value(out: &mut Vec<u8>, value: &str) {
    let mut rest = value.as_bytes();
    while let Some(i) = memchr3(b'\\', b'"', b'\n', rest) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(match rest[i] {
            b'\\' => b"\\\\",
            b'"' => b"\\\"",
            _ => b"\\n",
        });
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
}

/// Escapes HELP text: `\` → `\\`, LF → `\n`; `"` stays as it is.
pub fn escape_help(out: &mut Vec<u8>, text: &str) {
    let mut rest = text.as_bytes();
    while let Some(i) = memchr2(b'\\', b'\n', rest) {
        out.extend_from_slice(&rest[..i]);
        out.extend_from_slice(if rest[i] == b'\\' { b"\\\\" } else { b"\\n" });
        rest = &rest[i + 1..];
    }
    out.extend_from_slice(rest);
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::metrics::stats::{AppCounter, BusCounter, ReactorCounter, Rejection};
    use std::collections::{HashMap, HashSet};

    /// One parsed sample: name, labels (in order), value.
    pub(crate) type Sample = (String, Labels, f64);
    pub(crate) type Labels = Vec<(String, String)>;

    /// A strict 0.0.4 reader for our own output. Panics (with the line) on anything the
    /// format forbids or that we promise not to do: CRLF, no final LF, bad escapes, a
    /// second HELP/TYPE, TYPE after samples, a family split in two, a duplicate
    /// (name, labels), a sample without TYPE, timestamps, and broken histograms.
    pub(crate) fn check_exposition(text: &str) -> Vec<Sample> {
        assert!(text.ends_with('\n'), "no final LF");
        assert!(!text.contains('\r'), "CR in body");
        let mut types: HashMap<String, String> = HashMap::new();
        let mut helps: HashSet<String> = HashSet::new();
        let mut closed: HashSet<String> = HashSet::new();
        let mut current: Option<String> = None;
        let mut seen_samples: HashSet<String> = HashSet::new();
        let mut series: HashSet<(String, Labels)> = HashSet::new();
        let mut samples = Vec::new();
        let mut enter = |family: &str, current: &mut Option<String>| {
            if current.as_deref() != Some(family) {
                assert!(
                    !closed.contains(family),
                    "family {family} is not contiguous"
                );
                if let Some(prev) = current.take() {
                    closed.insert(prev);
                }
                *current = Some(family.to_owned());
            }
        };
        for line in text.split_terminator('\n') {
            if let Some(rest) = line.strip_prefix("# HELP ") {
                let (name, help) = rest.split_once(' ').expect(line);
                check_name(name);
                enter(name, &mut current);
                assert!(helps.insert(name.to_owned()), "second HELP: {line}");
                let mut chars = help.chars();
                while let Some(c) = chars.next() {
                    if c == '\\' {
                        assert!(
                            matches!(chars.next(), Some('\\' | 'n')),
                            "HELP escape: {line}"
                        );
                    }
                }
            } else if let Some(rest) = line.strip_prefix("# TYPE ") {
                let (name, kind) = rest.split_once(' ').expect(line);
                check_name(name);
                enter(name, &mut current);
                assert!(
                    ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                    "{line}"
                );
                assert!(!seen_samples.contains(name), "TYPE after samples: {line}");
                assert!(
                    types.insert(name.to_owned(), kind.to_owned()).is_none(),
                    "{line}"
                );
            } else {
                assert!(
                    !line.starts_with('#') && !line.is_empty(),
                    "unexpected line {line:?}"
                );
                let (name, labels, value) = parse_sample(line);
                let family = family_of(&name, &types).unwrap_or_else(|| panic!("no TYPE: {line}"));
                enter(&family, &mut current);
                seen_samples.insert(family.clone());
                let mut key = labels.clone();
                key.sort();
                assert!(
                    series.insert((name.clone(), key)),
                    "duplicate series: {line}"
                );
                samples.push((name, labels, value));
            }
        }
        check_histograms(&samples, &types);
        samples
    }

    fn check_name(name: &str) {
        let b = name.as_bytes();
        assert!(!b.is_empty() && (b[0].is_ascii_alphabetic() || b[0] == b'_' || b[0] == b':'));
        assert!(
            b.iter()
                .all(|c| c.is_ascii_alphanumeric() || *c == b'_' || *c == b':'),
            "bad name {name}"
        );
    }

    fn family_of(name: &str, types: &HashMap<String, String>) -> Option<String> {
        if types.contains_key(name) {
            return Some(name.to_owned());
        }
        ["_bucket", "_sum", "_count"].iter().find_map(|s| {
            let base = name.strip_suffix(s)?;
            (types.get(base).map(String::as_str) == Some("histogram")).then(|| base.to_owned())
        })
    }

    fn parse_sample(line: &str) -> Sample {
        let end = line.find(['{', ' ']).expect(line);
        let name = &line[..end];
        check_name(name);
        let mut rest = &line[end..];
        let mut labels = Vec::new();
        if let Some(r) = rest.strip_prefix('{') {
            rest = r;
            loop {
                if let Some(r) = rest.strip_prefix('}') {
                    rest = r;
                    break;
                }
                let eq = rest.find('=').expect(line);
                let label = &rest[..eq];
                check_name(label);
                assert!(!label.contains(':') && !label.starts_with("__"), "{line}");
                rest = rest[eq + 1..].strip_prefix('"').expect(line);
                let mut value = String::new();
                let mut chars = rest.char_indices();
                let close = loop {
                    match chars.next().expect(line) {
                        (_, '\\') => match chars.next().expect(line).1 {
                            '\\' => value.push('\\'),
                            '"' => value.push('"'),
                            'n' => value.push('\n'),
                            c => panic!("invalid escape \\{c} in {line}"),
                        },
                        (i, '"') => break i,
                        (_, '\n') => panic!("raw LF in {line}"),
                        (_, c) => value.push(c),
                    }
                };
                assert!(
                    labels.iter().all(|(l, _): &(String, String)| l != label),
                    "{line}"
                );
                labels.push((label.to_owned(), value));
                rest = &rest[close + 1..];
                rest = rest.strip_prefix(',').unwrap_or(rest);
            }
        }
        let value = rest.strip_prefix(' ').expect(line);
        assert!(!value.contains(' '), "timestamp or junk: {line}");
        let v = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            v => {
                assert!(!v.ends_with(".0"), "inconsistent float form: {line}");
                v.parse().unwrap_or_else(|_| panic!("bad value: {line}"))
            }
        };
        (name.to_owned(), labels, v)
    }

    fn check_histograms(samples: &[Sample], types: &HashMap<String, String>) {
        for (family, _) in types.iter().filter(|(_, k)| k.as_str() == "histogram") {
            // Group the buckets by their labels other than `le`.
            let mut groups: HashMap<Labels, Vec<(f64, f64)>> = HashMap::new();
            for (name, labels, v) in samples {
                if *name == format!("{family}_bucket") {
                    let le = labels
                        .iter()
                        .find(|(l, _)| l == "le")
                        .expect("bucket without le");
                    let le = match le.1.as_str() {
                        "+Inf" => f64::INFINITY,
                        s => s.parse().unwrap(),
                    };
                    let rest: Vec<_> = labels.iter().filter(|(l, _)| l != "le").cloned().collect();
                    groups.entry(rest).or_default().push((le, *v));
                }
            }
            assert!(!groups.is_empty(), "histogram {family} has no buckets");
            for (labels, buckets) in groups {
                for w in buckets.windows(2) {
                    assert!(w[0].0 < w[1].0, "{family}: le not ascending");
                    assert!(w[0].1 <= w[1].1, "{family}: buckets not cumulative");
                }
                let last = buckets.last().unwrap();
                assert_eq!(last.0, f64::INFINITY, "{family}: no +Inf bucket");
                let find = |suffix: &str| {
                    samples
                        .iter()
                        .find(|(n, l, _)| *n == format!("{family}{suffix}") && *l == labels)
                        .map(|s| s.2)
                        .unwrap_or_else(|| panic!("{family}{suffix} missing"))
                };
                assert_eq!(find("_count"), last.1, "{family}: +Inf != _count");
                assert!(find("_sum") >= 0.0);
            }
        }
    }

    /// 2 reactors, 2 apps, every kind of cell nonzero somewhere, values distinct per
    /// (app, counter) so that a mix-up shows.
    pub(crate) fn fixture() -> Stats {
        let s = Stats::new(2, 2);
        let (r0, r1) = (s.reactor(0), s.reactor(1));
        let counters = [
            AppCounter::NewConnections,
            AppCounter::NewDisconnections,
            AppCounter::SocketReceivedBytes,
            AppCounter::SocketTransmittedBytes,
            AppCounter::WsMessagesReceived,
            AppCounter::WsMessagesSent,
            AppCounter::HttpReceivedBytes,
            AppCounter::HttpTransmittedBytes,
            AppCounter::HttpCallsReceived,
        ];
        for app in 0..2u64 {
            for &c in &counters {
                r0.add(app as usize, c, app * 100 + c as u64 * 10 + 1);
                r1.add(app as usize, c, app * 100 + c as u64 * 10 + 2);
            }
        }
        // Gauges are per-reactor deltas; a single cell, and even a sum, may be negative.
        r0.add_gauge(0, AppCounter::Connected, 5);
        r1.add_gauge(0, AppCounter::Connected, -2);
        r0.add_gauge(1, AppCounter::Connected, -1);
        r1.add_gauge(1, AppCounter::Connected, -1);
        r0.add_gauge(0, AppCounter::Subscriptions, 10);
        r1.add_gauge(0, AppCounter::Subscriptions, 4);
        r1.add_gauge(1, AppCounter::Subscriptions, 1);
        r0.add_gauge(0, AppCounter::OccupiedChannels, 2);
        r1.add_gauge(0, AppCounter::OccupiedChannels, 1);
        r0.add_reactor_gauge(ReactorCounter::Connections, 7);
        r1.add_reactor_gauge(ReactorCounter::Connections, 3);
        r1.add_reactor_gauge(ReactorCounter::Connections, -1);
        r0.add_reactor(ReactorCounter::BusyNanos, 1_500_000_000);
        r1.add_reactor(ReactorCounter::BusyNanos, 250_000);
        r0.add_reactor(ReactorCounter::SlowConsumerCloses, 1);
        r1.add_reactor(ReactorCounter::SlowConsumerCloses, 2);
        r0.reject(Rejection::OverQuota);
        r0.reject(Rejection::OverQuota);
        r1.reject(Rejection::OverQuota);
        r1.reject(Rejection::UnknownApp);
        r0.reject(Rejection::NoFileDescriptors);
        for ns in [50_000, 100_000, 3_000_000] {
            r0.observe_latency_ns(ns);
        }
        for ns in [2_000_000_000, 600_000] {
            r1.observe_latency_ns(ns);
        }
        // Dropped stays 0: a family with nothing counted yet is still written.
        s.bus.bump(BusCounter::Published);
        s.bus.bump(BusCounter::Published);
        s.bus.bump(BusCounter::Received);
        s
    }

    pub(crate) fn app_ids() -> Vec<String> {
        vec!["app-1".to_owned(), "weird \"id\" \\ x\ny".to_owned()]
    }

    fn snapshot_fixture() -> ProcessSnapshot {
        ProcessSnapshot {
            cpu_seconds: 12.345678,
            cpu_user_seconds: 10.1,
            cpu_system_seconds: 2.245678,
            resident_bytes: 52_428_800,
            virtual_bytes: 1_073_741_824,
            virtual_max_bytes: None,
            open_fds: 42,
            max_fds: 20000,
            start_time_seconds: 1_700_000_000.25,
            threads: 4,
            heap_bytes: Some(268_435_456),
        }
    }

    /// The exposition of [`fixture`] for [`app_ids`], with or without the process families.
    fn render_fixture(port: u16, prefix: &str, port_in_name: bool, with_process: bool) -> String {
        let stats = fixture();
        let ids = app_ids();
        let snap = snapshot_fixture();
        render_to_string(&ScrapeContext {
            stats: &stats,
            app_ids: &ids,
            port,
            prefix,
            port_in_name,
            process: with_process.then_some(&snap),
        })
    }

    fn render_to_string(ctx: &ScrapeContext<'_>) -> String {
        let mut out = Vec::new();
        render(&mut out, ctx);
        String::from_utf8(out).unwrap()
    }

    /// soketi's documented names: `soketi_6001_*`, no process families.
    const GOLDEN_PORT_IN_NAME: &str = r##"# HELP soketi_6001_connected The number of currently connected sockets.
# TYPE soketi_6001_connected gauge
soketi_6001_connected{app_id="app-1",port="6001"} 3
soketi_6001_connected{app_id="weird \"id\" \\ x\ny",port="6001"} -2
# HELP soketi_6001_new_connections_total Total amount of soketi connection requests.
# TYPE soketi_6001_new_connections_total counter
soketi_6001_new_connections_total{app_id="app-1",port="6001"} 23
soketi_6001_new_connections_total{app_id="weird \"id\" \\ x\ny",port="6001"} 223
# HELP soketi_6001_new_disconnections_total Total amount of soketi disconnections.
# TYPE soketi_6001_new_disconnections_total counter
soketi_6001_new_disconnections_total{app_id="app-1",port="6001"} 43
soketi_6001_new_disconnections_total{app_id="weird \"id\" \\ x\ny",port="6001"} 243
# HELP soketi_6001_socket_received_bytes Total amount of bytes that soketi received.
# TYPE soketi_6001_socket_received_bytes counter
soketi_6001_socket_received_bytes{app_id="app-1",port="6001"} 63
soketi_6001_socket_received_bytes{app_id="weird \"id\" \\ x\ny",port="6001"} 263
# HELP soketi_6001_socket_transmitted_bytes Total amount of bytes that soketi transmitted.
# TYPE soketi_6001_socket_transmitted_bytes counter
soketi_6001_socket_transmitted_bytes{app_id="app-1",port="6001"} 83
soketi_6001_socket_transmitted_bytes{app_id="weird \"id\" \\ x\ny",port="6001"} 283
# HELP soketi_6001_ws_messages_received_total The total amount of WS messages received from connections by the server.
# TYPE soketi_6001_ws_messages_received_total counter
soketi_6001_ws_messages_received_total{app_id="app-1",port="6001"} 103
soketi_6001_ws_messages_received_total{app_id="weird \"id\" \\ x\ny",port="6001"} 303
# HELP soketi_6001_ws_messages_sent_total The total amount of WS messages sent to the connections from the server.
# TYPE soketi_6001_ws_messages_sent_total counter
soketi_6001_ws_messages_sent_total{app_id="app-1",port="6001"} 123
soketi_6001_ws_messages_sent_total{app_id="weird \"id\" \\ x\ny",port="6001"} 323
# HELP soketi_6001_http_received_bytes Total amount of bytes that soketi's REST API received.
# TYPE soketi_6001_http_received_bytes counter
soketi_6001_http_received_bytes{app_id="app-1",port="6001"} 143
soketi_6001_http_received_bytes{app_id="weird \"id\" \\ x\ny",port="6001"} 343
# HELP soketi_6001_http_transmitted_bytes Total amount of bytes that soketi's REST API sent back.
# TYPE soketi_6001_http_transmitted_bytes counter
soketi_6001_http_transmitted_bytes{app_id="app-1",port="6001"} 163
soketi_6001_http_transmitted_bytes{app_id="weird \"id\" \\ x\ny",port="6001"} 363
# HELP soketi_6001_http_calls_received_total Total amount of received REST API calls.
# TYPE soketi_6001_http_calls_received_total counter
soketi_6001_http_calls_received_total{app_id="app-1",port="6001"} 183
soketi_6001_http_calls_received_total{app_id="weird \"id\" \\ x\ny",port="6001"} 383
# HELP soketi_6001_subscriptions The number of current channel subscriptions (socket, channel pairs).
# TYPE soketi_6001_subscriptions gauge
soketi_6001_subscriptions{app_id="app-1",port="6001"} 14
soketi_6001_subscriptions{app_id="weird \"id\" \\ x\ny",port="6001"} 1
# HELP soketi_6001_occupied_channels The number of channels with at least one subscriber.
# TYPE soketi_6001_occupied_channels gauge
soketi_6001_occupied_channels{app_id="app-1",port="6001"} 3
soketi_6001_occupied_channels{app_id="weird \"id\" \\ x\ny",port="6001"} 0
# HELP soketi_6001_reactor_connections The number of open TCP connections (HTTP and WebSocket) owned by each reactor thread.
# TYPE soketi_6001_reactor_connections gauge
soketi_6001_reactor_connections{reactor="0",port="6001"} 7
soketi_6001_reactor_connections{reactor="1",port="6001"} 2
# HELP soketi_6001_reactor_busy_seconds_total Total time each reactor thread spent handling events rather than waiting for them.
# TYPE soketi_6001_reactor_busy_seconds_total counter
soketi_6001_reactor_busy_seconds_total{reactor="0",port="6001"} 1.5
soketi_6001_reactor_busy_seconds_total{reactor="1",port="6001"} 0.00025
# HELP soketi_6001_slow_consumer_closes_total Total amount of sockets closed because their pending output passed the cap.
# TYPE soketi_6001_slow_consumer_closes_total counter
soketi_6001_slow_consumer_closes_total{port="6001"} 3
# HELP soketi_6001_rejected_connections_total Total amount of refused connection attempts, by reason.
# TYPE soketi_6001_rejected_connections_total counter
soketi_6001_rejected_connections_total{reason="unknown_app",port="6001"} 1
soketi_6001_rejected_connections_total{reason="app_disabled",port="6001"} 0
soketi_6001_rejected_connections_total{reason="over_quota",port="6001"} 3
soketi_6001_rejected_connections_total{reason="shutting_down",port="6001"} 0
soketi_6001_rejected_connections_total{reason="no_file_descriptors",port="6001"} 1
soketi_6001_rejected_connections_total{reason="bad_handshake",port="6001"} 0
# HELP soketi_6001_publish_flush_latency_seconds Time from a publish being accepted (REST call or client event) until its frames were written to the subscribers' sockets, per reactor that delivered it.
# TYPE soketi_6001_publish_flush_latency_seconds histogram
soketi_6001_publish_flush_latency_seconds_bucket{port="6001",le="0.0001"} 2
soketi_6001_publish_flush_latency_seconds_bucket{port="6001",le="0.00025"} 2
soketi_6001_publish_flush_latency_seconds_bucket{port="6001",le="0.0005"} 2
soketi_6001_publish_flush_latency_seconds_bucket{port="6001",le="0.001"} 3
soketi_6001_publish_flush_latency_seconds_bucket{port="6001",le="0.0025"} 3
soketi_6001_publish_flush_latency_seconds_bucket{port="6001",le="0.005"} 4
soketi_6001_publish_flush_latency_seconds_bucket{port="6001",le="0.01"} 4
soketi_6001_publish_flush_latency_seconds_bucket{port="6001",le="0.025"} 4
soketi_6001_publish_flush_latency_seconds_bucket{port="6001",le="0.05"} 4
soketi_6001_publish_flush_latency_seconds_bucket{port="6001",le="0.1"} 4
soketi_6001_publish_flush_latency_seconds_bucket{port="6001",le="0.25"} 4
soketi_6001_publish_flush_latency_seconds_bucket{port="6001",le="1"} 4
soketi_6001_publish_flush_latency_seconds_bucket{port="6001",le="+Inf"} 5
soketi_6001_publish_flush_latency_seconds_sum{port="6001"} 2.00375
soketi_6001_publish_flush_latency_seconds_count{port="6001"} 5
# HELP soketi_6001_adapter_published_messages_total Total amount of messages this node published to the other nodes (Redis adapter).
# TYPE soketi_6001_adapter_published_messages_total counter
soketi_6001_adapter_published_messages_total{port="6001"} 2
# HELP soketi_6001_adapter_received_messages_total Total amount of messages from other nodes delivered to this node's reactors.
# TYPE soketi_6001_adapter_received_messages_total counter
soketi_6001_adapter_received_messages_total{port="6001"} 1
# HELP soketi_6001_adapter_dropped_messages_total Total amount of messages not published to the other nodes because the queue to the bus was full or the bus was down.
# TYPE soketi_6001_adapter_dropped_messages_total counter
soketi_6001_adapter_dropped_messages_total{port="6001"} 0
"##;

    /// The process families (no `process_virtual_memory_max_bytes`: unlimited).
    const GOLDEN_PROCESS: &str = r##"# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE process_cpu_seconds_total counter
process_cpu_seconds_total 12.345678
# HELP process_resident_memory_bytes Resident memory size in bytes.
# TYPE process_resident_memory_bytes gauge
process_resident_memory_bytes 52428800
# HELP process_virtual_memory_bytes Virtual memory size in bytes.
# TYPE process_virtual_memory_bytes gauge
process_virtual_memory_bytes 1073741824
# HELP process_open_fds Number of open file descriptors.
# TYPE process_open_fds gauge
process_open_fds 42
# HELP process_max_fds Maximum number of open file descriptors.
# TYPE process_max_fds gauge
process_max_fds 20000
# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.
# TYPE process_start_time_seconds gauge
process_start_time_seconds 1700000000.25
# HELP process_threads Number of OS threads in the process.
# TYPE process_threads gauge
process_threads 4
"##;

    /// soketi's process families under prefix `fanoutd_` and port 7001: written only with
    /// soketi 1.x names, after the standard ones.
    const GOLDEN_SOKETI_PROCESS: &str = r##"# HELP fanoutd_process_cpu_user_seconds_total Total user CPU time spent in seconds.
# TYPE fanoutd_process_cpu_user_seconds_total counter
fanoutd_process_cpu_user_seconds_total{port="7001"} 10.1
# HELP fanoutd_process_cpu_system_seconds_total Total system CPU time spent in seconds.
# TYPE fanoutd_process_cpu_system_seconds_total counter
fanoutd_process_cpu_system_seconds_total{port="7001"} 2.245678
# HELP fanoutd_process_cpu_seconds_total Total user and system CPU time spent in seconds.
# TYPE fanoutd_process_cpu_seconds_total counter
fanoutd_process_cpu_seconds_total{port="7001"} 12.345678
# HELP fanoutd_process_start_time_seconds Start time of the process since unix epoch in seconds.
# TYPE fanoutd_process_start_time_seconds gauge
fanoutd_process_start_time_seconds{port="7001"} 1700000000.25
# HELP fanoutd_process_resident_memory_bytes Resident memory size in bytes.
# TYPE fanoutd_process_resident_memory_bytes gauge
fanoutd_process_resident_memory_bytes{port="7001"} 52428800
# HELP fanoutd_process_virtual_memory_bytes Virtual memory size in bytes.
# TYPE fanoutd_process_virtual_memory_bytes gauge
fanoutd_process_virtual_memory_bytes{port="7001"} 1073741824
# HELP fanoutd_process_heap_bytes Process heap size in bytes.
# TYPE fanoutd_process_heap_bytes gauge
fanoutd_process_heap_bytes{port="7001"} 268435456
# HELP fanoutd_process_open_fds Number of open file descriptors.
# TYPE fanoutd_process_open_fds gauge
fanoutd_process_open_fds{port="7001"} 42
# HELP fanoutd_process_max_fds Maximum number of open file descriptors.
# TYPE fanoutd_process_max_fds gauge
fanoutd_process_max_fds{port="7001"} 20000
"##;

    /// The same families as [`GOLDEN_PORT_IN_NAME`] under soketi 1.x names (prefix
    /// `fanoutd_`, no port in the name, port 7001), then the standard process families,
    /// then soketi's.
    fn golden_plain_with_process() -> String {
        GOLDEN_PORT_IN_NAME
            .replace("soketi_6001_", "fanoutd_")
            .replace("port=\"6001\"", "port=\"7001\"")
            + GOLDEN_PROCESS
            + GOLDEN_SOKETI_PROCESS
    }

    #[test]
    fn golden_port_in_name() {
        let body = render_fixture(6001, "soketi_", true, false);
        assert_eq!(body, GOLDEN_PORT_IN_NAME);
        check_exposition(&body);
    }

    #[test]
    fn golden_plain_names_custom_prefix_with_process() {
        let body = render_fixture(7001, "fanoutd_", false, true);
        assert_eq!(body, golden_plain_with_process());
        check_exposition(&body);
    }

    #[test]
    fn default_names_with_process_have_only_the_standard_process_families() {
        let body = render_fixture(6001, "soketi_", true, true);
        assert_eq!(body, GOLDEN_PORT_IN_NAME.to_owned() + GOLDEN_PROCESS);
        check_exposition(&body);
    }

    #[test]
    fn soketi_process_families_edges_unread_heap_empty_prefix_no_snapshot() {
        let stats = fixture();
        let ids = app_ids();
        let mut snap = snapshot_fixture();
        snap.heap_bytes = None;
        let ctx = ScrapeContext {
            stats: &stats,
            app_ids: &ids,
            port: 7001,
            prefix: "fanoutd_",
            port_in_name: false,
            process: Some(&snap),
        };
        let body = render_to_string(&ctx);
        check_exposition(&body);
        assert!(!body.contains("heap"));
        assert!(body.contains("\nfanoutd_process_max_fds{port=\"7001\"} 20000\n"));
        // An empty prefix: the names shared with the standard set are written once.
        let snap = snapshot_fixture();
        let ctx = ScrapeContext {
            prefix: "",
            process: Some(&snap),
            ..ctx
        };
        let body = render_to_string(&ctx);
        check_exposition(&body);
        assert!(body.contains("\nprocess_heap_bytes{port=\"7001\"} 268435456\n"));
        assert!(body.contains("\nprocess_cpu_user_seconds_total{port=\"7001\"} 10.1\n"));
        assert!(body.contains("\nprocess_max_fds 20000\n"));
        // Without a snapshot neither set is written.
        let ctx = ScrapeContext {
            process: None,
            ..ctx
        };
        assert!(!render_to_string(&ctx).contains("process_"));
    }

    #[test]
    fn escaped_app_id_round_trips() {
        let stats = fixture();
        let ids = app_ids();
        let ctx = ScrapeContext {
            stats: &stats,
            app_ids: &ids,
            port: 6001,
            prefix: "soketi_",
            port_in_name: false,
            process: None,
        };
        let samples = check_exposition(&render_to_string(&ctx));
        let connected: Vec<_> = samples
            .iter()
            .filter(|s| s.0 == "soketi_connected")
            .collect();
        assert_eq!(connected.len(), 2);
        let labels = |id: &str| {
            vec![
                ("app_id".to_owned(), id.to_owned()),
                ("port".to_owned(), "6001".to_owned()),
            ]
        };
        assert_eq!(connected[0].1, labels("app-1"));
        assert_eq!(connected[1].1, labels("weird \"id\" \\ x\ny"));
        assert_eq!((connected[0].2, connected[1].2), (3.0, -2.0));
    }

    #[test]
    fn histogram_invariants_hold_under_load() {
        let stats = Stats::new(3, 1);
        let mut n = 0u64;
        for r in 0..3 {
            for i in 0..500u64 {
                // Spread over every bucket, boundaries included.
                let ns = (i * 7_919 * (r as u64 + 1)) % 1_300_000_000;
                stats.reactor(r).observe_latency_ns(ns);
                n += 1;
            }
            stats.reactor(r).observe_latency_ns(250_000);
            n += 1;
        }
        let ids = vec!["a".to_owned()];
        let ctx = ScrapeContext {
            stats: &stats,
            app_ids: &ids,
            port: 1,
            prefix: "x_",
            port_in_name: false,
            process: None,
        };
        let samples = check_exposition(&render_to_string(&ctx));
        let buckets: Vec<_> = samples
            .iter()
            .filter(|s| s.0 == "x_publish_flush_latency_seconds_bucket")
            .collect();
        assert_eq!(buckets.len(), LATENCY_BUCKETS.len() + 1);
        assert_eq!(buckets.last().unwrap().2, n as f64);
        for (b, le) in buckets.iter().zip(LATENCY_BUCKETS) {
            let want =
                b.1.iter()
                    .find(|l| l.0 == "le")
                    .unwrap()
                    .1
                    .parse::<f64>()
                    .unwrap();
            assert_eq!(want, le);
        }
    }

    #[test]
    fn many_apps_no_duplicates_and_contiguous() {
        let apps = 300;
        let stats = Stats::new(2, apps);
        for a in 0..apps {
            stats
                .reactor(a % 2)
                .add(a, AppCounter::WsMessagesSent, a as u64);
            stats
                .reactor(1 - a % 2)
                .add_gauge(a, AppCounter::Connected, 1);
        }
        let ids: Vec<String> = (0..apps).map(|i| format!("app-{i}")).collect();
        let snap = snapshot_fixture();
        let ctx = ScrapeContext {
            stats: &stats,
            app_ids: &ids,
            port: 6001,
            prefix: "soketi_",
            port_in_name: true,
            process: Some(&snap),
        };
        let samples = check_exposition(&render_to_string(&ctx));
        // 12 app families x apps, 2 x 2 reactors, 1, 6 reasons, 15 histogram lines, 3 bus,
        // 7 process.
        assert_eq!(samples.len(), 12 * apps + 4 + 1 + 6 + 15 + 3 + 7);
        let sent: Vec<f64> = samples
            .iter()
            .filter(|s| s.0 == "soketi_6001_ws_messages_sent_total")
            .map(|s| s.2)
            .collect();
        assert_eq!(sent, (0..apps).map(|a| a as f64).collect::<Vec<_>>());
    }

    #[test]
    fn every_app_has_a_line_from_the_start_and_edges_do_not_panic() {
        // No traffic yet: every configured app reads 0.
        let stats = Stats::new(2, 1);
        let ids = vec!["a".to_owned(), "not-in-stats".to_owned()];
        let ctx = ScrapeContext {
            stats: &stats,
            app_ids: &ids,
            port: 6001,
            prefix: "",
            port_in_name: true,
            process: None,
        };
        let samples = check_exposition(&render_to_string(&ctx));
        let connected: Vec<_> = samples
            .iter()
            .filter(|s| s.0 == "_6001_connected")
            .collect();
        assert_eq!(connected.len(), 2);
        assert!(connected.iter().all(|s| s.2 == 0.0));
        // No reactors, no apps.
        let stats = Stats::new(0, 0);
        let ctx = ScrapeContext {
            stats: &stats,
            app_ids: &[],
            port: 6001,
            prefix: "soketi_",
            port_in_name: false,
            process: None,
        };
        check_exposition(&render_to_string(&ctx));
    }

    #[test]
    fn process_max_memory_line_when_limited() {
        let stats = Stats::new(1, 0);
        let mut snap = snapshot_fixture();
        snap.virtual_max_bytes = Some(1 << 32);
        let ctx = ScrapeContext {
            stats: &stats,
            app_ids: &[],
            port: 6001,
            prefix: "soketi_",
            port_in_name: true,
            process: Some(&snap),
        };
        let body = render_to_string(&ctx);
        assert!(body.contains(
            "# HELP process_virtual_memory_max_bytes Maximum amount of virtual memory available in bytes.\n\
             # TYPE process_virtual_memory_max_bytes gauge\n\
             process_virtual_memory_max_bytes 4294967296\n"
        ));
        check_exposition(&body);
    }

    #[test]
    fn values_and_escapes() {
        let f = |v: f64| {
            let mut o = Vec::new();
            write_f64(&mut o, v);
            String::from_utf8(o).unwrap()
        };
        assert_eq!(f(1.0), "1");
        assert_eq!(f(0.0), "0");
        assert_eq!(f(-2.5), "-2.5");
        assert_eq!(f(1e-10), "1e-10");
        assert_eq!(f(1e21), "1e21");
        assert_eq!(f(1.5e6), "1500000");
        assert_eq!(f(u64::MAX as f64), "1.8446744073709552e19");
        assert_eq!(f(f64::INFINITY), "+Inf");
        assert_eq!(f(f64::NEG_INFINITY), "-Inf");
        assert_eq!(f(f64::NAN), "NaN");
        let mut o = Vec::new();
        write_int(&mut o, -3i64);
        assert_eq!(o, b"-3");

        let label = |s: &str| {
            let mut o = Vec::new();
            escape_label_value(&mut o, s);
            String::from_utf8(o).unwrap()
        };
        assert_eq!(label("plain-id_1"), "plain-id_1");
        assert_eq!(label("weird \"id\" \\ x\ny"), r#"weird \"id\" \\ x\ny"#);
        assert_eq!(label("\\\\\"\n"), r#"\\\\\"\n"#);
        assert_eq!(label("tab\there é"), "tab\there é");
        assert_eq!(label(""), "");
        let help = |s: &str| {
            let mut o = Vec::new();
            escape_help(&mut o, s);
            String::from_utf8(o).unwrap()
        };
        assert_eq!(help("say \"hi\" \\ a\nb"), r#"say "hi" \\ a\nb"#);
    }

    #[test]
    fn the_checker_rejects_what_it_should() {
        let ok = "# HELP a_total A.\n# TYPE a_total counter\na_total{x=\"1\"} 1\n";
        check_exposition(ok);
        let bad = [
            // duplicate series
            "# TYPE a_total counter\na_total{x=\"1\"} 1\na_total{x=\"1\"} 2\n",
            // interleaved families
            "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{x=\"2\"} 1\n",
            // TYPE after samples / no TYPE
            "a 1\n# TYPE a gauge\n",
            // bad label escape, raw quote, HELP with \"
            "# TYPE a gauge\na{x=\"\\t\"} 1\n",
            "# TYPE a gauge\na{x=\"a\"b\"} 1\n",
            "# HELP a say \\\"hi\\\"\n# TYPE a gauge\na 1\n",
            // no final LF, CRLF, timestamp
            "# TYPE a gauge\na 1",
            "# TYPE a gauge\r\na 1\r\n",
            "# TYPE a gauge\na 1 1700000000000\n",
            // histogram: +Inf != count, not cumulative, no +Inf
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_bucket{le=\"+Inf\"} 2\nh_sum 1\nh_count 3\n",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 2\nh_bucket{le=\"+Inf\"} 1\nh_sum 1\nh_count 1\n",
            "# TYPE h histogram\nh_bucket{le=\"1\"} 1\nh_sum 1\nh_count 1\n",
        ];
        for body in bad {
            let caught = std::panic::catch_unwind(|| check_exposition(body));
            assert!(caught.is_err(), "accepted: {body:?}");
        }
    }
}
