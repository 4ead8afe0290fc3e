//! `idle`: open N connections, subscribe each to one of C public channels, hold them idle,
//! and report what the server spends per connection: resident memory, and CPU time for
//! connect + handshake + subscribe.

use std::time::{Duration, Instant};

use serde_json::json;

use super::args::Args;
use super::common::{self, parse_common};
use super::procfs;
use super::ws::{Plan, WsClient, WsConfig};

pub fn run(mut args: Args) -> Result<(), String> {
    let common = parse_common(&mut args)?;
    let conns: usize = args.take("conns", 1000)?;
    let channels: usize = args.take("channels", 10)?;
    let hold = Duration::from_secs_f64(args.take("hold", 10.0)?);
    let duration = Duration::from_secs_f64(args.take("duration", 600.0)?);
    let connect_rate: f64 = args.take("connect-rate", 2000.0)?;
    let max_pending: usize = args.take("max-pending", 1000)?;
    let settle = Duration::from_secs_f64(args.take("settle", 1.0)?);
    let floor = args.switch("floor")?;
    args.finish()?;

    let t0 = Instant::now();
    let self_cpu0 = fanoutd::sys::process::cpu_micros().unwrap_or(0);
    let deadline = t0 + duration;
    // `fanoutd-floor idle` answers the upgrade with `connection_established` and the first
    // message with `subscription_succeeded`, so the same plan runs against it.
    let plan = if channels == 0 {
        Plan::None
    } else {
        Plan::Public {
            prefix: "load-".into(),
            channels,
        }
    };
    let what = if floor {
        format!("fanoutd-floor, {channels} channels")
    } else if channels == 0 {
        "no subscriptions".to_string()
    } else {
        format!("{channels} channels")
    };
    println!(
        "idle: {conns} connections to {} ({what}), {connect_rate}/s, hold {:?} (open-files limit {})",
        common.remote, hold, common.nofile
    );
    let before = common.sample();
    let slab_before = procfs::kernel_slab_bytes();
    let mut client = WsClient::new(WsConfig {
        remote: common.remote,
        app_key: common.app_key.clone(),
        secret: common.secret.clone(),
        floor: false,
        spread_sources: common.spread,
        plan,
    })
    .map_err(|e| e.to_string())?;
    client
        .connect_all(conns, connect_rate, max_pending, deadline)
        .map_err(|e| e.to_string())?;
    let connect_time = t0.elapsed();
    let ready = client.ready();
    println!(
        "connected: {ready}/{conns} ready in {:.2}s ({:.0}/s), failed {}",
        connect_time.as_secs_f64(),
        ready as f64 / connect_time.as_secs_f64().max(1e-9),
        client.stats.failed_before_ready
    );
    // Let the server finish what it queued (last writes, timers) before sampling.
    let settle_end = Instant::now() + settle;
    while Instant::now() < settle_end.min(deadline) {
        client
            .poll(Duration::from_millis(50))
            .map_err(|e| e.to_string())?;
    }
    let after_connect = common.sample();

    let hold_end = (Instant::now() + hold).min(deadline);
    let mut next_line = Instant::now() + Duration::from_secs(10);
    while Instant::now() < hold_end {
        client
            .poll(Duration::from_millis(100))
            .map_err(|e| e.to_string())?;
        if Instant::now() >= next_line {
            next_line += Duration::from_secs(10);
            eprintln!(
                "  holding: ready {} live {} pings answered {}",
                client.ready(),
                client.live(),
                client.stats.pusher_pings_answered + client.stats.ws_pings_answered
            );
        }
    }
    let after_hold = common.sample();
    let slab_after = procfs::kernel_slab_bytes();
    let ready_end = client.ready();

    let per_conn = |a: Option<u64>, b: Option<u64>| -> Option<f64> {
        let (a, b) = (a?, b?);
        (ready > 0).then(|| (b as f64 - a as f64) / ready as f64)
    };
    let rss = |s: &Option<procfs::ProcSample>| s.map(|s| s.rss_bytes);
    let anon = |s: &Option<procfs::ProcSample>| s.map(|s| s.rss_anon_bytes);
    let anon_per_conn_connect = per_conn(anon(&before), anon(&after_connect));
    let anon_per_conn_hold = per_conn(anon(&before), anon(&after_hold));
    let slab_per_conn = per_conn(slab_before, slab_after);
    let rss_per_conn_connect = per_conn(rss(&before), rss(&after_connect));
    let rss_per_conn_hold = per_conn(rss(&before), rss(&after_hold));
    let (connect_cpu, connect_line) =
        common::server_delta(before, after_connect, ready as u64, "connection");
    let (hold_cpu, _) = common::server_delta(after_connect, after_hold, ready as u64, "connection");
    if let (Some(a), Some(b), Some(c)) = (before, after_connect, after_hold) {
        println!(
            "server rss: before {} KiB, after connect {} KiB, after hold {} KiB => {:.0} B/conn (connect), {:.0} B/conn (after hold)",
            a.rss_bytes / 1024,
            b.rss_bytes / 1024,
            c.rss_bytes / 1024,
            rss_per_conn_connect.unwrap_or(0.0),
            rss_per_conn_hold.unwrap_or(0.0)
        );
        println!(
            "server anonymous rss: before {} KiB, after connect {} KiB, after hold {} KiB => {:.0} B/conn (connect), {:.0} B/conn (after hold)",
            a.rss_anon_bytes / 1024,
            b.rss_anon_bytes / 1024,
            c.rss_anon_bytes / 1024,
            anon_per_conn_connect.unwrap_or(0.0),
            anon_per_conn_hold.unwrap_or(0.0)
        );
    }
    println!("connect+handshake+subscribe {connect_line}");
    if let Some(x) = slab_per_conn {
        println!("kernel slab: {x:+.0} B per connection (machine-wide, both ends of each loopback connection)");
    }
    println!(
        "hold: ready at end {ready_end}, lost {}, pusher pings answered {}, ws pings answered {}",
        client.stats.closed, client.stats.pusher_pings_answered, client.stats.ws_pings_answered
    );
    if let Some(e) = &client.stats.first_error {
        println!("first error: {e}");
    }
    let s = &client.stats;
    common::print_json(&json!({
        "mode": "idle",
        "target": common.remote.to_string(),
        "floor": floor,
        "conns": conns,
        "channels": channels,
        "ready": ready,
        "ready_at_end": ready_end,
        "failed": s.failed_before_ready,
        "lost_during_hold": s.closed,
        "connect_s": common::round3(connect_time.as_secs_f64()),
        "connect_per_s": common::round3(ready as f64 / connect_time.as_secs_f64().max(1e-9)),
        "hold_s": hold.as_secs_f64(),
        "server_rss_bytes_before": rss(&before),
        "server_rss_bytes_after_connect": rss(&after_connect),
        "server_rss_bytes_after_hold": rss(&after_hold),
        "server_rss_bytes_per_conn_after_connect": rss_per_conn_connect.map(|x| x.round()),
        "server_rss_bytes_per_conn_after_hold": rss_per_conn_hold.map(|x| x.round()),
        "server_rss_anon_bytes_before": anon(&before),
        "server_rss_anon_bytes_after_hold": anon(&after_hold),
        "server_rss_anon_bytes_per_conn_after_connect": anon_per_conn_connect.map(|x| x.round()),
        "server_rss_anon_bytes_per_conn_after_hold": anon_per_conn_hold.map(|x| x.round()),
        "kernel_slab_bytes_per_conn_both_ends": slab_per_conn.map(|x| x.round()),
        "server_connect": connect_cpu,
        "server_hold": hold_cpu,
        "pusher_pings_answered": s.pusher_pings_answered,
        "ws_pings_answered": s.ws_pings_answered,
        "subscription_errors": s.subscription_errors,
        "pusher_errors": s.pusher_errors,
        "connect_errors": s.connect_errors,
        "first_error": s.first_error,
        "load_generator": common::self_json(self_cpu0, t0.elapsed()),
    }));
    Ok(())
}
