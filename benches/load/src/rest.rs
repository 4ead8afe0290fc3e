//! `rest`: signed publishes to a channel nobody is subscribed to, over K keep-alive
//! connections (or a new connection per publish with `--new-conn`), as fast as responses come
//! back (or at `--rate`): publishes/s, response latency, server CPU per publish.

use std::time::{Duration, Instant};

use serde_json::json;

use super::args::Args;
use super::common::{self, parse_common};
use super::http::{self, PubConfig};

pub fn run(mut args: Args) -> Result<(), String> {
    let common = parse_common(&mut args)?;
    let conns: usize = args.take("conns", 8)?;
    let duration = Duration::from_secs_f64(args.take("duration", 10.0)?);
    let rate: f64 = args.take("rate", 0.0)?;
    let payload: usize = args.take("payload", 100)?;
    let channel: String = args.take("channel", "load-rest-nobody".to_string())?;
    let event: String = args.take("event", "load".to_string())?;
    let new_conn = args.switch("new-conn")?;
    args.finish()?;

    let t0 = Instant::now();
    let self_cpu0 = fanoutd::sys::process::cpu_micros().unwrap_or(0);
    println!(
        "rest: {conns} {} connections to {}, rate {}, payload {payload} B, {:?}",
        if new_conn {
            "new-per-publish"
        } else {
            "keep-alive"
        },
        common.remote,
        if rate > 0.0 {
            format!("{rate}/s")
        } else {
            "max".into()
        },
        duration
    );
    let s1 = common.sample();
    let r = http::run(PubConfig {
        remote: common.remote,
        app_id: common.app_id.clone(),
        app_key: common.app_key.clone(),
        secret: common.secret.clone(),
        conns,
        rate,
        payload,
        duration,
        channels: vec![channel],
        event,
        new_conn,
        spread_sources: common.spread && new_conn,
    })
    .map_err(|e| e.to_string())?;
    let s2 = common.sample();
    let per_s = r.ok as f64 / r.elapsed.as_secs_f64().max(1e-9);
    let (server, server_line) = common::server_delta(s1, s2, r.ok, "publish");
    println!(
        "publishes: issued {} ok {} failed {} unanswered {} in {:.2}s = {:.0}/s (connections opened {}, connect errors {}, reconnects {})",
        r.issued,
        r.ok,
        r.failed,
        r.unanswered,
        r.elapsed.as_secs_f64(),
        per_s,
        r.connections_opened,
        r.connect_errors,
        r.reconnects
    );
    println!(
        "{}",
        common::latency_line("response latency", &r.response_latency)
    );
    println!("{server_line}");
    if let Some(e) = &r.first_error {
        println!("first error: {e}");
    }
    common::print_json(&json!({
        "mode": "rest",
        "target": common.remote.to_string(),
        "conns": conns,
        "new_conn": new_conn,
        "rate": rate,
        "payload_bytes": payload,
        "duration_s": duration.as_secs_f64(),
        "window_s": common::round3(r.elapsed.as_secs_f64()),
        "issued": r.issued,
        "ok": r.ok,
        "failed": r.failed,
        "unanswered": r.unanswered,
        "publishes_per_s": common::round3(per_s),
        "max_backlog": r.max_backlog,
        "connections_opened": r.connections_opened,
        "connect_errors": r.connect_errors,
        "reconnects": r.reconnects,
        "response_latency": common::latency_json(&r.response_latency),
        "server": server,
        "first_error": r.first_error,
        "load_generator": common::self_json(self_cpu0, t0.elapsed()),
    }));
    Ok(())
}
