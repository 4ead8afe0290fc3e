//! `scrape`: GET a metrics URL M times, one request at a time on a keep-alive connection,
//! `--interval-ms` apart, while another process holds the server's connections: latency
//! percentiles (exact: every value is kept) and body size.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use serde_json::json;

use super::args::Args;
use super::common::{self, loopback_ip};
use super::http::parse_response;
use super::procfs;

const IO_TIMEOUT: Duration = Duration::from_secs(10);

/// Splits `http://host:port/path` into a loopback address and a path.
fn parse_url(url: &str) -> Result<(SocketAddr, String, String), String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("`{url}`: only http:// URLs"))?;
    let (authority, path) = match rest.find('/') {
        Some(i) => (&rest[..i], rest[i..].to_string()),
        None => (rest, "/".to_string()),
    };
    let (host, port) = match authority.rfind(':') {
        Some(i) if !authority[i..].contains(']') => (
            &authority[..i],
            authority[i + 1..]
                .parse::<u16>()
                .map_err(|_| format!("`{url}`: bad port"))?,
        ),
        _ => (authority, 80),
    };
    let ip = loopback_ip(host)?;
    Ok((SocketAddr::new(ip, port), path, authority.to_string()))
}

pub fn run(mut args: Args) -> Result<(), String> {
    let url: String = args.take("url", "http://127.0.0.1:9601/metrics".to_string())?;
    let count: usize = args.take("count", 100)?;
    let interval = Duration::from_millis(args.take("interval-ms", 100)?);
    let duration = Duration::from_secs_f64(args.take("duration", 60.0)?);
    let server_pid: Option<u32> = args.take_opt("server-pid")?;
    args.finish()?;
    let (addr, path, authority) = parse_url(&url)?;

    let t0 = Instant::now();
    let self_cpu0 = fanoutd::sys::process::cpu_micros().unwrap_or(0);
    let before = server_pid.and_then(|p| procfs::sample(p).ok());
    let request = format!("GET {path} HTTP/1.1\r\nHost: {authority}\r\nAccept: */*\r\n\r\n");
    let mut latencies: Vec<u64> = Vec::with_capacity(count);
    let mut body_sizes: Vec<usize> = Vec::with_capacity(count);
    let mut errors = 0u64;
    let mut connects = 0u64;
    let mut first_error: Option<String> = None;
    let mut stream: Option<TcpStream> = None;
    let mut buf = vec![0u8; 256 * 1024];
    let mut inbuf: Vec<u8> = Vec::new();
    println!("scrape: {count} x GET {url}, {interval:?} apart");
    for n in 0..count {
        if t0.elapsed() >= duration {
            break;
        }
        if n > 0 {
            std::thread::sleep(interval);
        }
        let result = (|| -> Result<(u64, usize, bool), String> {
            if stream.is_none() {
                let s = TcpStream::connect_timeout(&addr, IO_TIMEOUT).map_err(|e| e.to_string())?;
                s.set_nodelay(true).map_err(|e| e.to_string())?;
                s.set_read_timeout(Some(IO_TIMEOUT))
                    .map_err(|e| e.to_string())?;
                stream = Some(s);
                connects += 1;
            }
            let s = stream.as_mut().ok_or("no stream")?;
            inbuf.clear();
            let start = Instant::now();
            s.write_all(request.as_bytes()).map_err(|e| e.to_string())?;
            loop {
                let k = s.read(&mut buf).map_err(|e| e.to_string())?;
                if k == 0 {
                    return Err("connection closed before the response ended".into());
                }
                inbuf.extend_from_slice(&buf[..k]);
                if let Some(resp) = parse_response(&inbuf)? {
                    let ns = start.elapsed().as_nanos() as u64;
                    if resp.status != 200 {
                        return Err(format!("HTTP {}", resp.status));
                    }
                    return Ok((ns, resp.len - resp.body_start, resp.close));
                }
            }
        })();
        match result {
            Ok((ns, size, close)) => {
                latencies.push(ns);
                body_sizes.push(size);
                if close {
                    stream = None;
                }
            }
            Err(e) => {
                errors += 1;
                stream = None;
                if first_error.is_none() {
                    first_error = Some(e);
                }
            }
        }
    }
    let after = server_pid.and_then(|p| procfs::sample(p).ok());
    latencies.sort_unstable();
    let pct = |p: f64| -> f64 {
        if latencies.is_empty() {
            return 0.0;
        }
        let rank = ((p / 100.0) * latencies.len() as f64).ceil().max(1.0) as usize;
        latencies[rank.min(latencies.len()) - 1] as f64 / 1000.0
    };
    let max_us = latencies.last().copied().unwrap_or(0) as f64 / 1000.0;
    let min_size = body_sizes.iter().min().copied().unwrap_or(0);
    let max_size = body_sizes.iter().max().copied().unwrap_or(0);
    let (server, server_line) =
        common::server_delta(before, after, latencies.len() as u64, "scrape");
    println!(
        "scrapes: ok {} errors {errors} connections {connects}; latency p50={:.0}µs p99={:.0}µs max={:.0}µs; body {min_size}..{max_size} B",
        latencies.len(),
        pct(50.0),
        pct(99.0),
        max_us
    );
    println!("{server_line}");
    if let Some(e) = &first_error {
        println!("first error: {e}");
    }
    common::print_json(&json!({
        "mode": "scrape",
        "url": url,
        "count": count,
        "ok": latencies.len(),
        "errors": errors,
        "connections": connects,
        "interval_ms": interval.as_millis() as u64,
        "latency": {
            "p50_us": pct(50.0),
            "p99_us": pct(99.0),
            "max_us": max_us,
            "min_us": latencies.first().copied().unwrap_or(0) as f64 / 1000.0,
        },
        "body_bytes_min": min_size,
        "body_bytes_max": max_size,
        "body_bytes_last": body_sizes.last(),
        "server": server,
        "first_error": first_error,
        "load_generator": common::self_json(self_cpu0, t0.elapsed()),
    }));
    Ok(())
}
