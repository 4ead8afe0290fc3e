//! HTTP/1.1: request-head parsing for the two heads the server sees most (an SDK's signed
//! `POST /events` and a pusher-js WebSocket upgrade), and writing a 200 JSON response.
//!
//! `cargo bench --bench http`

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use fanoutd::http::{parse_head, write_response, Limits};
use fanoutd::parse::Status;
use fanoutd::pusher::auth::sign_rest_query;

/// The server's defaults (config.rs).
const LIMITS: Limits = Limits {
    max_head_bytes: 16_384,
    max_headers: 64,
    max_body_bytes: 100 * 1024 * 1024,
};

/// The body pusher-http-node sends for `trigger("my-channel", "my-event", {message: ...})`.
const EVENT_BODY: &str =
    r#"{"name":"my-event","data":"{\"message\":\"hello world\"}","channels":["my-channel"]}"#;

/// The head pusher-http-node 5 (node-fetch 2) sends for `trigger`, with a real signature.
fn sdk_events_head() -> Vec<u8> {
    let path = "/apps/app-id/events";
    let query = sign_rest_query(
        "POST",
        path,
        &[],
        EVENT_BODY.as_bytes(),
        "app-key",
        "app-secret",
        1_700_000_000,
    );
    format!(
        "POST {path}?{query} HTTP/1.1\r\n\
         Content-Type: application/json\r\n\
         X-Pusher-Library: pusher-http-node 5.2.0\r\n\
         Accept: */*\r\n\
         Content-Length: {}\r\n\
         User-Agent: node-fetch/1.0 (+https://github.com/bitinn/node-fetch)\r\n\
         Accept-Encoding: gzip,deflate\r\n\
         Connection: close\r\n\
         Host: 127.0.0.1:6001\r\n\r\n",
        EVENT_BODY.len()
    )
    .into_bytes()
}

/// A pusher-js 8 upgrade as Chrome sends it.
const PUSHER_JS_UPGRADE: &[u8] = b"GET /app/app-key?protocol=7&client=js&version=8.4.0&flash=false HTTP/1.1\r\n\
Host: 127.0.0.1:6001\r\n\
Connection: Upgrade\r\n\
Pragma: no-cache\r\n\
Cache-Control: no-cache\r\n\
User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36\r\n\
Upgrade: websocket\r\n\
Origin: http://localhost:3000\r\n\
Sec-WebSocket-Version: 13\r\n\
Accept-Encoding: gzip, deflate, br, zstd\r\n\
Accept-Language: en-US,en;q=0.9\r\n\
Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\
Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n\r\n";

fn bench_parse_head(c: &mut Criterion) {
    let mut group = c.benchmark_group("parse_head");
    let sdk = sdk_events_head();
    let cases: [(&str, &[u8]); 2] = [
        ("sdk_post_events", &sdk),
        ("pusher_js_upgrade", PUSHER_JS_UPGRADE),
    ];
    for (name, head) in cases {
        // Sanity: the bench measures the Complete path.
        assert!(
            matches!(parse_head(head, &LIMITS), Ok(Status::Complete(h)) if h.head_len == head.len())
        );
        group.throughput(Throughput::Bytes(head.len() as u64));
        group.bench_function(name, |b| b.iter(|| parse_head(black_box(head), &LIMITS)));
    }
    group.finish();
}

fn bench_write_response(c: &mut Criterion) {
    let mut group = c.benchmark_group("write_response");
    // The headers reactor/api.rs puts on every API answer.
    let headers: [(&str, &str); 4] = [
        ("Content-Type", "application/json"),
        ("Access-Control-Allow-Origin", "*"),
        ("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, OPTIONS"),
        (
            "Access-Control-Allow-Headers",
            "Origin, Content-Type, X-Auth-Token, X-Requested-With, Accept, Authorization, X-CSRF-TOKEN, XSRF-TOKEN, X-Socket-Id",
        ),
    ];
    let body = br#"{"ok":true}"#;
    let mut out = Vec::with_capacity(1024);
    write_response(&mut out, 200, &headers, body, true);
    group.throughput(Throughput::Bytes(out.len() as u64));
    group.bench_function("200_json_ok", |b| {
        b.iter(|| {
            out.clear();
            write_response(&mut out, 200, black_box(&headers), black_box(body), true);
            black_box(out.len())
        })
    });
    group.finish();
}

criterion_group!(benches, bench_parse_head, bench_write_response);
criterion_main!(benches);
