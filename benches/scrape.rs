//! One Prometheus scrape: sum the per-reactor cells and encode the text exposition, at 1,
//! 100 and 1,000 apps on 2 reactors; without the process snapshot, and with it (which reads
//! `/proc/self/stat`, `/proc/self/fd` and calls getrusage/getrlimit). Throughput is in
//! series (sample lines) per scrape.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fanoutd::metrics::encode::{render, ScrapeContext};
use fanoutd::metrics::process;
use fanoutd::metrics::stats::{AppCounter, ReactorCounter, Rejection, Stats, APP_COUNTERS};

const REACTORS: usize = 2;

/// Stats with every cell nonzero, and app ids of a realistic length.
fn setup(apps: usize) -> (Stats, Vec<String>) {
    let stats = Stats::new(REACTORS, apps);
    let all = [
        AppCounter::Connected,
        AppCounter::NewConnections,
        AppCounter::NewDisconnections,
        AppCounter::SocketReceivedBytes,
        AppCounter::SocketTransmittedBytes,
        AppCounter::WsMessagesReceived,
        AppCounter::WsMessagesSent,
        AppCounter::HttpReceivedBytes,
        AppCounter::HttpTransmittedBytes,
        AppCounter::HttpCallsReceived,
        AppCounter::Subscriptions,
        AppCounter::OccupiedChannels,
    ];
    assert_eq!(all.len(), APP_COUNTERS);
    for (r, reactor) in stats.reactors().iter().enumerate() {
        for app in 0..apps {
            for (i, &c) in all.iter().enumerate() {
                reactor.add(
                    app,
                    c,
                    (app * 7919 + i * 104_729 + r * 31) as u64 % 10_000_000,
                );
            }
        }
        reactor.add_reactor_gauge(ReactorCounter::Connections, 5000);
        reactor.add_reactor(ReactorCounter::BusyNanos, 123_456_789_012);
        reactor.add_reactor(ReactorCounter::SlowConsumerCloses, 3);
        reactor.reject(Rejection::OverQuota);
        for ns in 0..1000u64 {
            reactor.observe_latency_ns(ns * 997_001);
        }
    }
    let ids = (0..apps).map(|i| format!("app-{i:04}-6f1c2a9e")).collect();
    (stats, ids)
}

fn scrape(c: &mut Criterion) {
    let start = process::start_time_seconds();
    let mut group = c.benchmark_group("scrape");
    for apps in [1usize, 100, 1000] {
        let (stats, ids) = setup(apps);
        fn ctx<'a>(
            stats: &'a Stats,
            ids: &'a [String],
            process: Option<&'a process::ProcessSnapshot>,
        ) -> ScrapeContext<'a> {
            ScrapeContext {
                stats,
                app_ids: ids,
                port: 6001,
                prefix: "soketi_",
                port_in_name: true,
                process,
            }
        }
        let mut out = Vec::new();
        render(&mut out, &ctx(&stats, &ids, None));
        let series = out
            .split(|&b| b == b'\n')
            .filter(|l| !l.is_empty() && l[0] != b'#')
            .count();
        group.throughput(Throughput::Elements(series as u64));
        group.bench_with_input(BenchmarkId::new("sum+encode", apps), &apps, |b, _| {
            b.iter(|| {
                out.clear();
                render(&mut out, &ctx(&stats, &ids, None));
                black_box(out.len())
            })
        });
        group.bench_with_input(
            BenchmarkId::new("snapshot+sum+encode", apps),
            &apps,
            |b, _| {
                b.iter(|| {
                    let snap = process::snapshot(start);
                    out.clear();
                    render(&mut out, &ctx(&stats, &ids, Some(&snap)));
                    black_box(out.len())
                })
            },
        );
    }
    group.finish();
    c.bench_function("process_snapshot", |b| {
        b.iter(|| black_box(process::snapshot(start)))
    });
}

criterion_group!(benches, scrape);
criterion_main!(benches);
