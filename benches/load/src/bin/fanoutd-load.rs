//! `fanoutd-load`: a load generator for any Pusher-protocol server (fanoutd, soketi,
//! sockudo) on loopback, for the measurements in PERF.md.
//!
//! One process, one mio event loop for the WebSocket clients (plus one publisher thread in
//! `fanout`), non-blocking connects paced per second, every mode bounded in time. It refuses
//! targets outside 127.0.0.0/8 and ::1, raises its own open-files limit to the hard limit, and
//! binds client sockets to 127.0.0.2..=127.0.0.254 in turn (past ~28k ephemeral ports per
//! source address). Server figures come from `/proc/<--server-pid>`: RSS, utime+stime, and
//! the threads' schedstat run time (ns, used when present because ticks are 10 ms).
//!
//! Output: human-readable lines, then one JSON line with every figure (the last line of
//! stdout). Progress goes to stderr.
//!
//! ```text
//! fanoutd-load idle          --conns N --channels C --hold S [--floor]
//! fanoutd-load fanout        --subs N --channels C --rate R --payload B --duration S [--floor]
//! fanoutd-load rest          --conns K --duration S [--new-conn] [--rate R]
//! fanoutd-load client-events --pairs P --rate R --duration S
//! fanoutd-load scrape        --url http://127.0.0.1:9601/metrics --count M --interval-ms I
//! ```
//! Run with `--help` for every flag.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use fanoutd_load::{args::Args, client_events, fanout, idle, rest, scrape};

const USAGE: &str = "\
fanoutd-load MODE [flags]   (loopback targets only; every mode stops by itself)

common (idle, fanout, rest, client-events):
  --host 127.0.0.1  --port 6001  --key app-key  --app-id app-id  --secret app-secret
  --server-pid PID   read the server's /proc/PID (RSS, CPU) before and after
  --no-spread        do not bind client sockets to 127.0.0.2..254

idle           open N connections, subscribe, hold them idle
  --conns 1000 --channels 10 (0: no subscribe) --hold 10 --duration 600 (cap)
  --connect-rate 2000 --max-pending 1000 --settle 1 --floor (peer is fanoutd-floor idle)
fanout         N subscribers, a publisher thread at R publishes/s (0 = as fast as answered)
  --subs 1000 --channels 10 --rate 100 --payload 100 --duration 10 --publishers 4
  --connect-rate 2000 --max-pending 1000 --connect-timeout S --drain 2
  --channel-prefix load- --event load
  --floor            peer is `fanoutd-floor send`: no subscribe, no publish, just receive
rest           signed publishes to a channel without subscribers
  --conns 8 --duration 10 --rate 0 --payload 100 --channel load-rest-nobody --new-conn
client-events  P pairs on private-pair-<p>; one side sends client-ping, the other receives
  --pairs 100 --rate 100 --payload 100 --duration 10 --connect-rate 2000 --drain 2
scrape         GET a metrics URL M times, one at a time, keep-alive
  --url http://127.0.0.1:9601/metrics --count 100 --interval-ms 100 --duration 60
  --server-pid PID
";

fn main() -> ExitCode {
    let args = match Args::parse(std::env::args().skip(1)) {
        Ok(a) => a,
        Err(e) => {
            eprintln!("fanoutd-load: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    let result = match args.mode.as_str() {
        "idle" => idle::run(args),
        "fanout" => fanout::run(args),
        "rest" => rest::run(args),
        "client-events" => client_events::run(args),
        "scrape" => scrape::run(args),
        "help" | "--help" | "-h" => {
            print!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        other => Err(format!("unknown mode `{other}`")),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fanoutd-load: {e}");
            ExitCode::FAILURE
        }
    }
}
