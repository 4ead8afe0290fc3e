//! Flags every mode shares, the loopback rule, and the report helpers.

use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::time::Duration;

use serde_json::{json, Value};

use super::args::Args;
use super::hist::Histogram;
use super::procfs::{self, ProcSample};

pub struct Common {
    pub remote: SocketAddr,
    pub app_key: String,
    pub app_id: String,
    pub secret: String,
    pub server_pid: Option<u32>,
    /// Spread client sockets over 127.0.0.2..=127.0.0.254 (`--no-spread` turns it off).
    pub spread: bool,
    /// The soft open-files limit after raising it.
    pub nofile: u64,
}

/// Parses `--host` (an IP address or `localhost`) and refuses anything but loopback.
pub fn loopback_ip(host: &str) -> Result<IpAddr, String> {
    let ip = if host.eq_ignore_ascii_case("localhost") {
        IpAddr::V4(Ipv4Addr::LOCALHOST)
    } else {
        host.trim_start_matches('[')
            .trim_end_matches(']')
            .parse::<IpAddr>()
            .map_err(|_| format!("host `{host}` is not an IP address (or `localhost`)"))?
    };
    // Ipv4Addr::is_loopback is exactly 127.0.0.0/8; Ipv6Addr::is_loopback is exactly ::1.
    if !ip.is_loopback() {
        return Err(format!(
            "refusing {ip}: this tool only targets loopback (127.0.0.0/8 or ::1)"
        ));
    }
    Ok(ip)
}

pub fn parse_common(args: &mut Args) -> Result<Common, String> {
    let host: String = args.take("host", "127.0.0.1".to_string())?;
    let port: u16 = args.take("port", 6001)?;
    let ip = loopback_ip(&host)?;
    let nofile = fanoutd::sys::raise_nofile_limit().unwrap_or(0);
    Ok(Common {
        remote: SocketAddr::new(ip, port),
        app_key: args.take("key", "app-key".to_string())?,
        app_id: args.take("app-id", "app-id".to_string())?,
        secret: args.take("secret", "app-secret".to_string())?,
        server_pid: args.take_opt("server-pid")?,
        spread: !args.switch("no-spread")?,
        nofile,
    })
}

impl Common {
    /// A sample of the server process, if `--server-pid` was given and readable.
    pub fn sample(&self) -> Option<ProcSample> {
        let pid = self.server_pid?;
        match procfs::sample(pid) {
            Ok(s) => Some(s),
            Err(e) => {
                eprintln!("cannot read /proc/{pid}: {e}");
                None
            }
        }
    }
}

/// Latency figures in µs, as JSON.
pub fn latency_json(h: &Histogram) -> Value {
    json!({
        "count": h.count(),
        "p50_us": us(h.percentile(50.0)),
        "p90_us": us(h.percentile(90.0)),
        "p99_us": us(h.percentile(99.0)),
        "p999_us": us(h.percentile(99.9)),
        "max_us": us(h.max()),
        "mean_us": us(h.mean()),
        "min_us": us(h.min()),
    })
}

/// One human line of latency figures.
pub fn latency_line(label: &str, h: &Histogram) -> String {
    format!(
        "{label}: n={} p50={:.1}µs p90={:.1}µs p99={:.1}µs p99.9={:.1}µs max={:.1}µs mean={:.1}µs",
        h.count(),
        us(h.percentile(50.0)),
        us(h.percentile(90.0)),
        us(h.percentile(99.0)),
        us(h.percentile(99.9)),
        us(h.max()),
        us(h.mean()),
    )
}

fn us(ns: u64) -> f64 {
    (ns as f64 / 100.0).round() / 10.0
}

/// Server figures between two samples, as JSON plus one human line; `per` divides the CPU
/// time (deliveries, publishes, connections), `per_label` names it.
pub fn server_delta(
    a: Option<ProcSample>,
    b: Option<ProcSample>,
    per: u64,
    per_label: &str,
) -> (Value, String) {
    let (Some(a), Some(b)) = (a, b) else {
        return (Value::Null, "server: (no --server-pid)".into());
    };
    let (cpu_us, source) = procfs::cpu_delta_us(&a, &b);
    let ticks_us = b.cpu_us().saturating_sub(a.cpu_us());
    let per_item = if per > 0 { cpu_us / per as f64 } else { 0.0 };
    let ticks_per_item = if per > 0 {
        ticks_us as f64 / per as f64
    } else {
        0.0
    };
    let v = json!({
        "cpu_us": cpu_us,
        "cpu_source": source,
        "cpu_us_utime_stime": ticks_us,
        format!("cpu_us_per_{per_label}"): round3(per_item),
        format!("cpu_us_per_{per_label}_utime_stime"): round3(ticks_per_item),
        "rss_bytes_before": a.rss_bytes,
        "rss_bytes_after": b.rss_bytes,
        "rss_anon_bytes_before": a.rss_anon_bytes,
        "rss_anon_bytes_after": b.rss_anon_bytes,
        "threads": b.threads,
        "clock_ticks_per_second": fanoutd::sys::process::clock_ticks_per_second(),
    });
    let line = format!(
        "server: cpu {:.0} µs ({source}; utime+stime {} µs) = {:.3} µs per {per_label} ({:.3} by ticks); rss {} -> {} KiB",
        cpu_us,
        ticks_us,
        per_item,
        ticks_per_item,
        a.rss_bytes / 1024,
        b.rss_bytes / 1024
    );
    (v, line)
}

pub fn round3(x: f64) -> f64 {
    (x * 1000.0).round() / 1000.0
}

/// This process's own CPU and memory, as JSON.
pub fn self_json(cpu_us_at_start: u64, wall: Duration) -> Value {
    let cpu = fanoutd::sys::process::cpu_micros()
        .unwrap_or(0)
        .saturating_sub(cpu_us_at_start);
    json!({
        "cpu_us": cpu,
        "cpu_share_of_one_core": round3(cpu as f64 / 1e6 / wall.as_secs_f64().max(1e-9)),
        "rss_bytes": procfs::self_rss_bytes(),
    })
}

/// Prints the final JSON line (the last line of stdout).
pub fn print_json(v: &Value) {
    println!("{v}");
}
