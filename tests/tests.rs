//! The integration suite: one binary, a real server on 127.0.0.1 ephemeral ports, spoken
//! to with a real WebSocket client (tungstenite) and raw sockets.

mod util;

#[path = "suite/smoke.rs"]
mod smoke;

// The core server (HTTP, WebSocket, public channels, REST, fan-out, shutdown, config).
#[path = "suite/config.rs"]
mod config;
#[path = "suite/fanout.rs"]
mod fanout;
#[path = "suite/hardening.rs"]
mod hardening;
#[path = "suite/http.rs"]
mod http;
#[path = "suite/listing.rs"]
mod listing;
#[path = "suite/public.rs"]
mod public;
#[path = "suite/rest.rs"]
mod rest;
#[path = "suite/shutdown.rs"]
mod shutdown;
#[path = "suite/websocket.rs"]
mod websocket;

// The rest of the protocol (private, presence, cache, client events, sign-in, REST reads).
#[path = "suite/app_store.rs"]
mod app_store;
#[path = "suite/apps.rs"]
mod apps;
#[path = "suite/cache.rs"]
mod cache;
#[path = "suite/client_events.rs"]
mod client_events;
#[path = "suite/cluster_redis.rs"]
mod cluster_redis;
#[path = "suite/presence.rs"]
mod presence;
#[path = "suite/private.rs"]
mod private;
#[path = "suite/rest_reads.rs"]
mod rest_reads;
#[path = "suite/signin.rs"]
mod signin;
#[path = "suite/transitions.rs"]
mod transitions;

// Metrics.
#[path = "suite/metrics.rs"]
mod metrics;

// Replays of the fuzz corpora (fuzz/corpus, fuzz/artifacts) on stable.
#[path = "suite/fuzz_corpus.rs"]
mod fuzz_corpus;

// The process's limits: the open-files limit, one server per port.
#[path = "suite/limits.rs"]
mod limits;
