//! Fan-out: one publish (a text frame with a 100-byte payload) appended to the write buffers
//! of N local subscribers with `fanout::deliver`, as a reactor does before it flushes.
//!
//! Only the append work is timed. Between timed rounds the outboxes are reset outside the
//! clock: "cold" drops every buffer, so each delivery takes a new one (pool empty, nothing
//! allocated — a publish to sockets that were idle); "warm" drains them back into the pool,
//! as a flush does, so each delivery recycles one. Throughput is deliveries.
//!
//! `cargo bench --bench fanout`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use fanoutd::conn::WriteBuf;
use fanoutd::fanout::{deliver, BufPool, Outbox, Sink};
use fanoutd::ws::frame::write_frame;
use fanoutd::ws::OpCode;

/// The reactor's default output cap (`ws_max_output_bytes`).
const MAX_OUTPUT_BYTES: usize = 1024 * 1024;
/// Capacity the pool gives a new buffer (fanout.rs `NEW_CAPACITY`).
const BUF_CAPACITY: usize = 512;
/// Deliveries per timed block, at least: small N runs several independent slot sets per
/// block so the clock's own cost is spread over many deliveries.
const DELIVERIES_PER_BLOCK: usize = 4096;

/// One reactor's delivery state for `n` subscribed slots.
struct Slots {
    outs: Vec<Outbox>,
    dirty: Vec<u32>,
    pool: BufPool,
    over: Vec<u32>,
}

impl Slots {
    fn new(n: usize, warm: bool) -> Slots {
        let mut pool = BufPool::default();
        if warm {
            for _ in 0..n {
                pool.put(Box::new(WriteBuf::with_capacity(BUF_CAPACITY)));
            }
        }
        Slots {
            outs: (0..n).map(|_| Outbox::default()).collect(),
            dirty: Vec::with_capacity(n),
            pool,
            over: Vec::new(),
        }
    }

    fn deliver(&mut self, frame: &[u8], subs: &[u32]) -> usize {
        let mut sink = Sink {
            outs: &mut self.outs,
            dirty: &mut self.dirty,
            pool: &mut self.pool,
            max_output: MAX_OUTPUT_BYTES,
            over: &mut self.over,
        };
        deliver(frame, subs, None, &mut sink)
    }

    /// What a flush leaves: every outbox empty and clean. `warm` recycles the buffers.
    fn reset(&mut self, warm: bool) {
        for idx in self.dirty.drain(..) {
            let o = &mut self.outs[idx as usize];
            o.dirty = false;
            if let Some(buf) = o.buf.take() {
                if warm {
                    self.pool.put(buf);
                }
            }
        }
        self.over.clear();
    }
}

fn bench_deliver(c: &mut Criterion) {
    let mut payload = br#"{"event":"my-event","channel":"my-channel","data":{"m":""#.to_vec();
    payload.resize(100 - 3, b'x');
    payload.extend_from_slice(br#""}}"#);
    assert_eq!(payload.len(), 100);
    let mut frame = Vec::new();
    write_frame(&mut frame, OpCode::Text, &payload);

    let mut group = c.benchmark_group("deliver");
    for n in [1usize, 100, 10_000] {
        let subs: Vec<u32> = (0..n as u32).collect();
        group.throughput(Throughput::Elements(n as u64));
        for (name, warm) in [("cold", false), ("warm", true)] {
            group.bench_with_input(BenchmarkId::new(name, n), &n, |b, &n| {
                b.iter_custom(|iters| {
                    let sets = DELIVERIES_PER_BLOCK.div_ceil(n);
                    let mut slots: Vec<Slots> = (0..sets).map(|_| Slots::new(n, warm)).collect();
                    let mut total = Duration::ZERO;
                    let mut left = iters;
                    while left > 0 {
                        let k = usize::try_from(left).unwrap_or(usize::MAX).min(sets);
                        let start = Instant::now();
                        for s in &mut slots[..k] {
                            black_box(s.deliver(black_box(&frame), &subs));
                        }
                        total += start.elapsed();
                        for s in &mut slots[..k] {
                            s.reset(warm);
                        }
                        left -= k as u64;
                    }
                    total
                })
            });
        }
    }
    group.finish();
}

criterion_group!(benches, bench_deliver);
criterion_main!(benches);
