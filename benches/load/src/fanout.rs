//! `fanout`: N subscribers over C public channels on this thread, a publisher thread sending
//! signed REST publishes at R/s (round robin over the channels), end-to-end latency from the
//! stamp in each `data`, loss = expected − received, and the server's CPU per delivery.
//!
//! With `--floor` the peer is `fanoutd-floor send`: nothing is subscribed or published, the
//! floor stamps its own frames (same format, same clock), and loss comes from the floor's
//! per-round sequence numbers (per connection: last − first + 1 − received).

use std::thread;
use std::time::{Duration, Instant};

use serde_json::json;

use super::args::Args;
use super::common::{self, parse_common};
use super::http::{self, PubConfig};
use super::ws::{Plan, WsClient, WsConfig};

pub fn run(mut args: Args) -> Result<(), String> {
    let common = parse_common(&mut args)?;
    let subs: usize = args.take("subs", 1000)?;
    let channels: usize = args.take::<usize>("channels", 10)?.max(1);
    let rate: f64 = args.take("rate", 100.0)?;
    let payload: usize = args.take("payload", 100)?;
    let duration = Duration::from_secs_f64(args.take("duration", 10.0)?);
    let publishers: usize = args.take("publishers", 4)?;
    let connect_rate: f64 = args.take("connect-rate", 2000.0)?;
    let max_pending: usize = args.take("max-pending", 1000)?;
    let connect_timeout: f64 = args.take("connect-timeout", 30.0 + subs as f64 / connect_rate)?;
    let drain = Duration::from_secs_f64(args.take("drain", 2.0)?);
    let prefix: String = args.take("channel-prefix", "load-".to_string())?;
    let event: String = args.take("event", "load".to_string())?;
    let floor = args.switch("floor")?;
    args.finish()?;

    let t0 = Instant::now();
    let self_cpu0 = fanoutd::sys::process::cpu_micros().unwrap_or(0);
    if floor {
        println!(
            "fanout: {subs} receivers at {} (fanoutd-floor: it sets rate and payload), up to {:?}",
            common.remote, duration
        );
    } else {
        println!(
            "fanout: {subs} subscribers on {channels} channels at {}, rate {}, payload {payload} B, {:?}",
            common.remote,
            if rate > 0.0 { format!("{rate}/s") } else { "max".into() },
            duration
        );
    }
    let mut client = WsClient::new(WsConfig {
        remote: common.remote,
        app_key: common.app_key.clone(),
        secret: common.secret.clone(),
        floor,
        spread_sources: common.spread,
        plan: if floor {
            Plan::None
        } else {
            Plan::Public {
                prefix: prefix.clone(),
                channels,
            }
        },
    })
    .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs_f64(connect_timeout);
    client
        .connect_all(subs, connect_rate, max_pending, deadline)
        .map_err(|e| e.to_string())?;
    let ready = client.ready();
    println!(
        "subscribed: {ready}/{subs} in {:.2}s (failed {})",
        t0.elapsed().as_secs_f64(),
        client.stats.failed_before_ready
    );
    if ready == 0 {
        return Err(format!(
            "no subscriber is ready: {}",
            client.stats.first_error.clone().unwrap_or_default()
        ));
    }
    let per_channel = client.ready_per_channel(channels);

    let s1 = common.sample();
    let mut s2 = None;
    let publish_start = Instant::now();
    let mut publish_report = None;
    // Deliveries that the server's CPU time is divided by.
    let mut deliveries_for_cpu = 0;
    if floor {
        // The floor sends by itself; receive until the duration is over or the floor hangs
        // up. The floor exits when it is done, so sample it while every connection is still
        // open and keep the last sample (and the deliveries counted at that time).
        let mut next_sample = Instant::now();
        while publish_start.elapsed() < duration && client.live() > 0 {
            client
                .poll(Duration::from_millis(20))
                .map_err(|e| e.to_string())?;
            if Instant::now() >= next_sample && client.live() == ready {
                next_sample += Duration::from_millis(100);
                if let Some(s) = common.sample() {
                    s2 = Some(s);
                    deliveries_for_cpu = client.stats.deliveries;
                }
            }
        }
    } else {
        let cfg = PubConfig {
            remote: common.remote,
            app_id: common.app_id.clone(),
            app_key: common.app_key.clone(),
            secret: common.secret.clone(),
            conns: publishers.max(1),
            rate,
            payload,
            duration,
            channels: (0..channels).map(|c| format!("{prefix}{c}")).collect(),
            event,
            new_conn: false,
            spread_sources: false,
        };
        let handle = thread::spawn(move || http::run(cfg));
        let mut next_line = Instant::now() + Duration::from_secs(5);
        while !handle.is_finished() {
            client
                .poll(Duration::from_millis(10))
                .map_err(|e| e.to_string())?;
            if Instant::now() >= next_line {
                next_line += Duration::from_secs(5);
                eprintln!(
                    "  {:.0}s: deliveries {} live {}",
                    publish_start.elapsed().as_secs_f64(),
                    client.stats.deliveries,
                    client.live()
                );
            }
        }
        let report = handle
            .join()
            .map_err(|_| "publisher thread panicked".to_string())?
            .map_err(|e| format!("publisher: {e}"))?;
        let expected: u64 = report
            .ok_per_channel
            .iter()
            .zip(&per_channel)
            .map(|(ok, subs)| ok * subs)
            .sum();
        let drain_end = Instant::now() + drain;
        while client.stats.deliveries < expected && Instant::now() < drain_end {
            client
                .poll(Duration::from_millis(10))
                .map_err(|e| e.to_string())?;
        }
        publish_report = Some((report, expected));
        s2 = common.sample();
        deliveries_for_cpu = client.stats.deliveries;
    }
    client.finish_seq_accounting();

    let st = &client.stats;
    let received = st.deliveries;
    let (expected, window) = match &publish_report {
        Some((r, expected)) => (*expected, r.elapsed),
        None => (
            st.seq_expected,
            Duration::from_nanos(st.last_delivery_ns.saturating_sub(st.first_delivery_ns)),
        ),
    };
    let lost = expected.saturating_sub(if floor { st.seq_received } else { received });
    let per_s = received as f64 / window.as_secs_f64().max(1e-9);
    let (server, server_line) = common::server_delta(s1, s2, deliveries_for_cpu, "delivery");
    println!(
        "deliveries: received {received} expected {expected} lost {lost} ({:.4}%) in {:.2}s = {:.0}/s",
        if expected > 0 { lost as f64 * 100.0 / expected as f64 } else { 0.0 },
        window.as_secs_f64(),
        per_s
    );
    println!(
        "{}",
        common::latency_line("end-to-end latency", &client.latency)
    );
    if let Some((r, _)) = &publish_report {
        println!(
            "publisher: issued {} ok {} failed {} unanswered {} = {:.0} publishes/s, max backlog {}",
            r.issued,
            r.ok,
            r.failed,
            r.unanswered,
            r.ok as f64 / r.elapsed.as_secs_f64().max(1e-9),
            r.max_backlog
        );
        println!(
            "{}",
            common::latency_line("publish response", &r.response_latency)
        );
        if let Some(e) = &r.first_error {
            println!("publisher first error: {e}");
        }
    }
    println!("{server_line}");
    match &st.first_error {
        Some(e) if floor && e == "closed by peer" && client.live() == 0 => {
            println!("the floor closed every connection (end of its --duration)");
        }
        Some(e) => println!("first error: {e}"),
        None => {}
    }
    let publisher = publish_report.as_ref().map(|(r, _)| {
        json!({
            "issued": r.issued,
            "ok": r.ok,
            "failed": r.failed,
            "unanswered": r.unanswered,
            "publishes_per_s": common::round3(r.ok as f64 / r.elapsed.as_secs_f64().max(1e-9)),
            "max_backlog": r.max_backlog,
            "connections": publishers,
            "response_latency": common::latency_json(&r.response_latency),
            "first_error": r.first_error,
        })
    });
    common::print_json(&json!({
        "mode": "fanout",
        "target": common.remote.to_string(),
        "floor": floor,
        "subs": subs,
        "ready": ready,
        "channels": channels,
        "rate": (!floor).then_some(rate),
        "payload_bytes": (!floor).then_some(payload),
        "duration_s": duration.as_secs_f64(),
        "window_s": common::round3(window.as_secs_f64()),
        "expected": expected,
        "received": received,
        "deliveries_for_server_cpu": deliveries_for_cpu,
        "lost": lost,
        "deliveries_per_s": common::round3(per_s),
        "delivered_bytes": st.delivered_bytes,
        "latency": common::latency_json(&client.latency),
        "publisher": publisher,
        "server": server,
        "subscribers_lost": st.closed,
        "pusher_pings_answered": st.pusher_pings_answered,
        "pusher_errors": st.pusher_errors,
        "protocol_errors": st.protocol_errors,
        "first_error": st.first_error,
        "load_generator": common::self_json(self_cpu0, t0.elapsed()),
    }));
    Ok(())
}
