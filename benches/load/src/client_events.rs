//! `client-events`: P pairs of sockets on `private-pair-<p>` (signed with the app secret);
//! the first of each pair sends `client-ping` events carrying a stamp at R/s in total (round
//! robin over the pairs), the second receives them. The app must allow client messages.

use std::time::{Duration, Instant};

use serde_json::json;

use super::args::Args;
use super::common::{self, parse_common};
use super::stamp;
use super::ws::{Plan, WsClient, WsConfig};
use fanoutd::sys::net;

pub fn run(mut args: Args) -> Result<(), String> {
    let common = parse_common(&mut args)?;
    let pairs: usize = args.take::<usize>("pairs", 100)?.max(1);
    let rate: f64 = args.take("rate", 100.0)?;
    let payload: usize = args.take("payload", 100)?;
    let duration = Duration::from_secs_f64(args.take("duration", 10.0)?);
    let connect_rate: f64 = args.take("connect-rate", 2000.0)?;
    let max_pending: usize = args.take("max-pending", 1000)?;
    let connect_timeout: f64 =
        args.take("connect-timeout", 30.0 + 2.0 * pairs as f64 / connect_rate)?;
    let drain = Duration::from_secs_f64(args.take("drain", 2.0)?);
    let event: String = args.take("event", "client-ping".to_string())?;
    args.finish()?;
    if rate <= 0.0 {
        return Err("--rate must be > 0".into());
    }

    let t0 = Instant::now();
    let self_cpu0 = fanoutd::sys::process::cpu_micros().unwrap_or(0);
    println!(
        "client-events: {pairs} pairs at {}, {rate}/s in total, payload {payload} B, {:?}",
        common.remote, duration
    );
    let mut client = WsClient::new(WsConfig {
        remote: common.remote,
        app_key: common.app_key.clone(),
        secret: common.secret.clone(),
        floor: false,
        spread_sources: common.spread,
        plan: Plan::PrivatePairs,
    })
    .map_err(|e| e.to_string())?;
    let deadline = Instant::now() + Duration::from_secs_f64(connect_timeout);
    client
        .connect_all(2 * pairs, connect_rate, max_pending, deadline)
        .map_err(|e| e.to_string())?;
    let ready_pairs = (0..pairs)
        .filter(|p| client.is_ready(2 * p) && client.is_ready(2 * p + 1))
        .count();
    println!(
        "subscribed: {ready_pairs}/{pairs} pairs ready in {:.2}s",
        t0.elapsed().as_secs_f64()
    );
    if ready_pairs == 0 {
        return Err(format!(
            "no pair is ready: {}",
            client.stats.first_error.clone().unwrap_or_default()
        ));
    }

    let s1 = common.sample();
    let start = Instant::now();
    let end = start + duration;
    let mut sent: u64 = 0;
    let mut skipped: u64 = 0;
    let mut next_pair = 0usize;
    let mut msg = Vec::with_capacity(payload + 128);
    loop {
        let now = Instant::now();
        if now >= end {
            break;
        }
        let target = (now.duration_since(start).as_secs_f64() * rate) as u64 + 1;
        while sent + skipped < target {
            // The next pair (round robin) whose both sockets are ready.
            let Some(p) = (0..pairs)
                .map(|k| (next_pair + k) % pairs)
                .find(|&p| client.is_ready(2 * p) && client.is_ready(2 * p + 1))
            else {
                skipped = target - sent;
                break;
            };
            next_pair = p + 1;
            msg.clear();
            msg.extend_from_slice(
                format!(r#"{{"event":"{event}","channel":"private-pair-{p}","data":""#).as_bytes(),
            );
            stamp::write_payload(&mut msg, net::monotonic_ns(), sent, payload);
            msg.extend_from_slice(b"\"}");
            if client.send_text(2 * p, &msg) {
                sent += 1;
            } else {
                skipped += 1;
            }
        }
        let next_at = (sent + skipped) as f64 / rate;
        let wait = next_at - start.elapsed().as_secs_f64();
        client
            .poll(Duration::from_secs_f64(wait.clamp(0.0, 0.01)))
            .map_err(|e| e.to_string())?;
    }
    let window = start.elapsed();
    let drain_end = Instant::now() + drain;
    while client.stats.deliveries < sent && Instant::now() < drain_end {
        client
            .poll(Duration::from_millis(10))
            .map_err(|e| e.to_string())?;
    }
    let s2 = common.sample();

    let st = &client.stats;
    let received = st.deliveries;
    let lost = sent.saturating_sub(received);
    let per_s = received as f64 / window.as_secs_f64().max(1e-9);
    let (server, server_line) = common::server_delta(s1, s2, received, "delivery");
    println!(
        "client events: sent {sent} received {received} lost {lost} skipped {skipped} in {:.2}s = {:.0} deliveries/s",
        window.as_secs_f64(),
        per_s
    );
    println!(
        "{}",
        common::latency_line("end-to-end latency", &client.latency)
    );
    println!("{server_line}");
    println!(
        "errors: pusher:error {} subscription {} lost connections {}",
        st.pusher_errors, st.subscription_errors, st.closed
    );
    if let Some(e) = &st.first_error {
        println!("first error: {e}");
    }
    common::print_json(&json!({
        "mode": "client-events",
        "target": common.remote.to_string(),
        "pairs": pairs,
        "ready_pairs": ready_pairs,
        "rate": rate,
        "payload_bytes": payload,
        "duration_s": duration.as_secs_f64(),
        "window_s": common::round3(window.as_secs_f64()),
        "sent": sent,
        "received": received,
        "lost": lost,
        "skipped": skipped,
        "deliveries_per_s": common::round3(per_s),
        "latency": common::latency_json(&client.latency),
        "server": server,
        "pusher_errors": st.pusher_errors,
        "subscription_errors": st.subscription_errors,
        "connections_lost": st.closed,
        "first_error": st.first_error,
        "load_generator": common::self_json(self_cpu0, t0.elapsed()),
    }));
    Ok(())
}
