//! RFC 6455 framing: header parsing, unmasking (fast path against the scalar reference),
//! server frame encoding, and the per-connection decoder over a stream of client frames.
//!
//! `cargo bench --bench frame`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use fanoutd::ws::frame::{parse_header, write_frame, write_header};
use fanoutd::ws::mask::{unmask, unmask_scalar};
use fanoutd::ws::{Decoder, Limits, Message, OpCode};

const KEY: [u8; 4] = [0x37, 0xfa, 0x21, 0x3d];

/// A masked client frame carrying `payload`.
fn client_frame(opcode: OpCode, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(14 + payload.len());
    write_header(&mut out, true, opcode, payload.len());
    out[1] |= 0x80; // the MASK bit
    out.extend_from_slice(&KEY);
    let start = out.len();
    out.extend_from_slice(payload);
    unmask_scalar(&mut out[start..], KEY);
    out
}

/// A Pusher message of exactly `len` bytes (padding inside the data string).
fn pusher_message(len: usize) -> Vec<u8> {
    let head = br#"{"event":"client-typing","channel":"private-chat","data":{"t":""#;
    let tail = br#""}}"#;
    let pad = len - head.len() - tail.len();
    let mut out = head.to_vec();
    out.extend(std::iter::repeat_n(b'x', pad));
    out.extend_from_slice(tail);
    assert_eq!(out.len(), len);
    out
}

fn bench_parse_header(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_header");
    group.throughput(Throughput::Elements(1));
    let cases: [(&str, Vec<u8>); 3] = [
        ("7-bit", client_frame(OpCode::Text, &[0; 100])),
        ("16-bit", client_frame(OpCode::Text, &[0; 1000])),
        ("64-bit", client_frame(OpCode::Binary, &[0; 70_000])),
    ];
    for (name, frame) in &cases {
        let header = &frame[..14.min(frame.len())];
        group.bench_function(*name, |b| b.iter(|| parse_header(black_box(header))));
    }
    group.finish();
}

fn bench_unmask(c: &mut Criterion) {
    let mut group = c.benchmark_group("unmask");
    for len in [16usize, 125, 1024, 64 * 1024] {
        group.throughput(Throughput::Bytes(len as u64));
        let mut buf = vec![0x5Au8; len];
        group.bench_with_input(BenchmarkId::new("fast", len), &len, |b, _| {
            b.iter(|| unmask(black_box(&mut buf), black_box(KEY)))
        });
        group.bench_with_input(BenchmarkId::new("scalar", len), &len, |b, _| {
            b.iter(|| unmask_scalar(black_box(&mut buf), black_box(KEY)))
        });
    }
    group.finish();
}

fn bench_write_frame(c: &mut Criterion) {
    let mut group = c.benchmark_group("write_frame");
    let payload = pusher_message(100);
    group.throughput(Throughput::Bytes(102));
    let mut out = Vec::with_capacity(256);
    group.bench_function("pusher_100B", |b| {
        b.iter(|| {
            out.clear();
            write_frame(&mut out, OpCode::Text, black_box(&payload));
            black_box(out.len())
        })
    });
    group.finish();
}

fn bench_decode(c: &mut Criterion) {
    let mut group = c.benchmark_group("decode");
    let frame = client_frame(OpCode::Text, &pusher_message(100));
    let stream: Vec<u8> = frame.repeat(1000);
    let limits = Limits {
        max_message_bytes: 1 << 20,
    };
    group.throughput(Throughput::Bytes(stream.len() as u64));
    // Decoding unmasks in place, so every iteration gets a fresh masked copy (made outside
    // the timed region).
    group.bench_function("1000_text_frames_100B", |b| {
        b.iter_batched_ref(
            || stream.clone(),
            |buf| {
                let mut decoder = Decoder::default();
                let mut pos = 0;
                let mut texts = 0usize;
                loop {
                    match decoder.decode(&mut buf[pos..], &limits) {
                        Ok((0, None)) => break,
                        Ok((n, message)) => {
                            if let Some(Message::Text(t)) = message {
                                texts += t.len();
                            }
                            pos += n;
                        }
                        Err(e) => panic!("bench stream: {e}"),
                    }
                }
                assert_eq!(pos, buf.len());
                black_box(texts)
            },
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

criterion_group!(
    benches,
    bench_parse_header,
    bench_unmask,
    bench_write_frame,
    bench_decode
);
criterion_main!(benches);
