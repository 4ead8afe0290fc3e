//! The Pusher layer: parsing client messages, encoding a channel event, and the two
//! signature checks (REST request: HMAC + MD5 + sort; socket token: HMAC).
//!
//! `cargo bench --bench pusher`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fanoutd::pusher::auth::{
    sign_rest_query, sign_socket_token, verify_rest_request, verify_socket_token, RestRequest,
};
use fanoutd::pusher::event::{self, SubscribeData};

const KEY: &str = "app-key";
const SECRET: &str = "app-secret";
const SOCKET_ID: &str = "123456789.4352";
const TIMESTAMP: i64 = 1_700_000_000;

/// A JSON object of exactly `len` bytes.
fn object(len: usize) -> String {
    let head = r#"{"message":""#;
    let tail = r#""}"#;
    let s = format!("{head}{}{tail}", "m".repeat(len - head.len() - tail.len()));
    assert_eq!(s.len(), len);
    s
}

fn bench_parse(c: &mut Criterion) {
    let mut group = c.benchmark_group("event_parse");
    let channel = "private-orders";
    let auth = sign_socket_token(
        KEY,
        SECRET,
        &[SOCKET_ID.as_bytes(), b":", channel.as_bytes()],
    );
    let subscribe = format!(
        r#"{{"event":"pusher:subscribe","data":{{"auth":"{auth}","channel":"{channel}"}}}}"#
    );
    let client_event = format!(
        r#"{{"event":"client-typing","channel":"private-chat","data":{}}}"#,
        object(100)
    );
    for (name, text) in [
        ("subscribe_private", &subscribe),
        ("client_event_100B", &client_event),
    ] {
        group.throughput(Throughput::Bytes(text.len() as u64));
        group.bench_function(name, |b| {
            b.iter(|| {
                let m = event::parse(black_box(text)).expect("valid message");
                black_box(m.data.map(|d| d.get().len()))
            })
        });
    }
    // What the reactor does for a subscribe: the message, then its data.
    group.throughput(Throughput::Bytes(subscribe.len() as u64));
    group.bench_function("subscribe_private_with_data", |b| {
        b.iter(|| {
            let m = event::parse(black_box(&subscribe)).expect("valid message");
            let d: SubscribeData = event::parse_data("pusher:subscribe", m.data).expect("data");
            black_box(d.auth.map(|a| a.len()))
        })
    });
    group.finish();
}

fn bench_encode(c: &mut Criterion) {
    let mut group = c.benchmark_group("event_encode");
    let data = object(100);
    let mut out = Vec::with_capacity(256);
    event::channel_event(&mut out, "my-event", "my-channel", &data, None);
    group.throughput(Throughput::Bytes(out.len() as u64));
    group.bench_function("channel_event_100B", |b| {
        b.iter(|| {
            out.clear();
            event::channel_event(
                &mut out,
                black_box("my-event"),
                black_box("my-channel"),
                black_box(&data),
                None,
            );
            black_box(out.len())
        })
    });
    group.finish();
}

fn bench_auth(c: &mut Criterion) {
    let mut group = c.benchmark_group("auth");
    group.throughput(Throughput::Elements(1));

    let body = object(100);
    let path = "/apps/app-id/events";
    let query = sign_rest_query("POST", path, &[], body.as_bytes(), KEY, SECRET, TIMESTAMP);
    let req = RestRequest {
        method: "POST",
        path,
        query: &query,
        body: body.as_bytes(),
    };
    assert_eq!(
        verify_rest_request(&req, KEY, SECRET, TIMESTAMP, 600),
        Ok(())
    );
    group.bench_function("verify_rest_request_post_100B", |b| {
        b.iter(|| verify_rest_request(black_box(&req), KEY, SECRET, TIMESTAMP, 600))
    });

    let channel = "private-orders";
    let parts: [&[u8]; 3] = [SOCKET_ID.as_bytes(), b":", channel.as_bytes()];
    let token = sign_socket_token(KEY, SECRET, &parts);
    assert!(verify_socket_token(KEY, SECRET, &token, &parts));
    group.bench_function("verify_socket_token_private", |b| {
        b.iter(|| verify_socket_token(KEY, SECRET, black_box(&token), black_box(&parts)))
    });
    group.finish();
}

criterion_group!(benches, bench_parse, bench_encode, bench_auth);
criterion_main!(benches);
