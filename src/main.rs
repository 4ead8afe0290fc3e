//! The `fanoutd` binary: read the configuration, start the server, wait for SIGTERM /
//! SIGINT / SIGHUP, shut down gracefully.

use std::process::ExitCode;

use fanoutd::{Config, Server};

fn main() -> ExitCode {
    let config = match Config::from_process() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("fanoutd: configuration error: {e}");
            return ExitCode::from(2);
        }
    };
    // Settings soketi would use and fanoutd does not (yet): named once each, never refused.
    for warning in config.warnings() {
        eprintln!("fanoutd: warning: {warning}");
    }
    // Signals are taken synchronously by this thread; block them before any thread starts
    // so that every thread inherits the mask.
    if let Err(e) = fanoutd::sys::block_stop_signals() {
        eprintln!("fanoutd: cannot block signals: {e}");
        return ExitCode::FAILURE;
    }
    if let Err(e) = fanoutd::sys::raise_nofile_limit() {
        eprintln!("fanoutd: cannot raise the open-files limit: {e}");
    }
    let metrics_enabled = config.metrics.enabled;
    let config_debug = config.debug;
    let server = match Server::start(config) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("fanoutd: cannot start: {e}");
            return ExitCode::FAILURE;
        }
    };
    eprintln!(
        "fanoutd: listening on {} (metrics on {}{})",
        server.addr(),
        server.metrics_addr(),
        if metrics_enabled {
            ""
        } else {
            ", /metrics disabled"
        }
    );
    if config_debug {
        eprintln!(
            "fanoutd: debug logging is on (DEBUG): connections, subscriptions, auth failures"
        );
    }
    match fanoutd::sys::wait_for_stop_signal() {
        Ok(sig) => eprintln!("fanoutd: signal {sig}, shutting down"),
        Err(e) => eprintln!("fanoutd: waiting for signals failed ({e}), shutting down"),
    }
    match server.shutdown() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fanoutd: shutdown: {e}");
            ExitCode::FAILURE
        }
    }
}
