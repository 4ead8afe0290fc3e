//! The settings table: every server-level setting once, with its environment variable, its
//! config-file key, its kind (default, range, error words) and the line the README shows.
//!
//! Parsing ([`super::kinds::read_settings`]), the defaults of [`Config`](super::Config), the
//! environment variables read ([`super::sources::gather`]) and the README's settings tables
//! ([`super::readme`]) all come from [`SETTINGS`]. A new setting is one entry here plus its
//! field in the config structs (and that field's placeholder in `kinds::unset_config`, which
//! the compiler asks for).
//!
//! Entries are read in table order (modes, drivers and TLS first, see
//! [`Stage`](super::kinds::Stage)), so the order decides which of two bad values is reported.

use std::net::{IpAddr, Ipv4Addr};

use super::kinds::{
    Adapter, Address, AppField, Cores, Driver, Flag, Gate, Kind, Number, Refused, Text, Whole,
};
use super::sources::Given;
use super::{ConfigError, MAX_INT};

/// How the environment variables of a setting are named from the table's `env`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Naming {
    /// `SOKETI_<NAME>`, else `<NAME>`.
    Both,
    /// `SOKETI_<NAME>` only: the bare name is too generic (shells and PaaS set `HOST`, `PORT`,
    /// `DEBUG`, `MODE`, … for other purposes).
    PrefixedOnly,
    /// Exactly the name given (fanoutd's own `FANOUTD_*` settings).
    Exact,
}

impl Naming {
    /// The variables read for `name`, in order: the first that is set and not blank wins.
    pub(super) fn variables(self, name: &str) -> Vec<String> {
        let prefixed = format!("SOKETI_{name}");
        match self {
            Naming::Both => vec![prefixed, name.to_string()],
            Naming::PrefixedOnly => vec![prefixed],
            Naming::Exact => vec![name.to_string()],
        }
    }
}

/// One setting.
pub(super) struct Setting {
    /// The environment variable's name, before [`Naming`] is applied.
    pub(super) env: &'static str,
    pub(super) naming: Naming,
    /// The config-file key (soketi's option path, dotted); a variable sets the same key.
    pub(super) key: &'static str,
    /// What it does, in one line of the README (units included).
    pub(super) doc: &'static str,
    pub(super) kind: &'static dyn Kind,
}

/// Most reactor threads accepted (and the cap of the default).
const MAX_REACTORS: usize = 256;
/// Most header lines a request may have (the HTTP parser's fixed array).
const MAX_HTTP_HEADERS: i128 = 64;
/// Smallest byte limit accepted for WebSocket messages, output buffers and request heads.
const MIN_BYTE_LIMIT: i128 = 1024;
const MEBIBYTE: f64 = 1024.0 * 1024.0;
const ANY_ADDRESS: IpAddr = IpAddr::V4(Ipv4Addr::UNSPECIFIED);

const EXPECTED_LENGTH: &str = "expected an integer ≥ 1";
const EXPECTED_KB: &str = "expected a size in KB greater than 0";
const EXPECTED_MS: &str = "expected a number of milliseconds";
const EXPECTED_BYTES: &str = "expected a number of bytes ≥ 1024";

fn positive(v: f64) -> bool {
    v > 0.0
}

/// soketi's modes: `full` and `server` run the same server here; `worker` (queue workers
/// only) does not exist in fanoutd.
fn check_mode(mode: &Given) -> Result<(), ConfigError> {
    match mode.text().map(str::trim) {
        Some("full" | "server") => Ok(()),
        Some("worker") => Err(mode.error(
            "mode \"worker\" (queue workers only) is not supported yet by fanoutd; use full or server",
        )),
        _ => Err(mode.error("expected full, server or worker")),
    }
}

fn check_metrics_driver(driver: &Given) -> Result<(), ConfigError> {
    if driver.text().map(str::trim) == Some("prometheus") {
        Ok(())
    } else {
        Err(driver.error("only \"prometheus\" is supported"))
    }
}

fn valid_path_prefix(prefix: &str) -> bool {
    let bad = |c: char| c.is_whitespace() || c == '?' || c == '#';
    (prefix.is_empty() || prefix.starts_with('/')) && !prefix.contains(bad)
}

/// A Prometheus metric name's first characters (the empty prefix is checked with
/// `portInName`, in `check_together`).
fn valid_metrics_prefix(prefix: &str) -> bool {
    let valid_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
    prefix.chars().all(valid_char) && !prefix.starts_with(|c: char| c.is_ascii_digit())
}

/// A host name or address: not empty, no whitespace.
fn valid_host(host: &str) -> bool {
    !host.is_empty() && !host.contains(char::is_whitespace)
}

const TLS_REFUSED: &str =
    "TLS is not supported yet by fanoutd (terminate TLS in a proxy in front of it)";

/// Every setting, in the order they are read. Defaults are soketi 1.6.1's (`Server.options`)
/// for soketi's settings.
pub(super) static SETTINGS: &[Setting] = &[
    Setting {
        env: "HOST",
        naming: Naming::PrefixedOnly,
        key: "host",
        doc: "address of the public listener (WebSocket and REST)",
        kind: &Address {
            default: ANY_ADDRESS,
            set: |b, v| b.config.host = v,
        },
    },
    Setting {
        env: "PORT",
        naming: Naming::PrefixedOnly,
        key: "port",
        doc: "public port; 0 asks the OS for a free one",
        kind: &Whole::<u16> {
            default: 6001,
            min: 0,
            max: 65_535,
            expected: "expected a port number 0-65535",
            set: |b, v| b.config.port = v,
        },
    },
    Setting {
        env: "PATH_PREFIX",
        naming: Naming::Both,
        key: "pathPrefix",
        doc: "prefix of every public route, such as `/ws`",
        kind: &Text {
            default: "",
            accept: valid_path_prefix,
            expected: "expected an empty prefix or a path starting with / (no spaces, ? or #)",
            set: |b, v| b.config.path_prefix = v,
        },
    },
    Setting {
        env: "DEBUG",
        naming: Naming::PrefixedOnly,
        key: "debug",
        doc: "debug lines on stderr: connections opened and closed (with codes), subscriptions, auth failures",
        kind: &Flag {
            default: false,
            set: |b, v| b.config.debug = v,
        },
    },
    Setting {
        env: "MODE",
        naming: Naming::PrefixedOnly,
        key: "mode",
        doc: "`full` or `server` (the same here); `worker` is refused",
        kind: &Gate {
            default: "full",
            check: check_mode,
        },
    },
    Setting {
        env: "SHUTDOWN_GRACE_PERIOD",
        naming: Naming::Both,
        key: "shutdownGracePeriod",
        doc: "milliseconds given to connections to close on shutdown",
        kind: &Whole::<u64> {
            default: 3_000,
            min: 0,
            max: MAX_INT,
            expected: "expected a number of milliseconds ≥ 0",
            set: |b, v| b.config.shutdown_grace_period_ms = v,
        },
    },
    Setting {
        env: "USER_AUTHENTICATION_TIMEOUT",
        naming: Naming::Both,
        key: "userAuthenticationTimeout",
        doc: "milliseconds a socket of an app with user authentication has to sign in",
        kind: &Whole::<u64> {
            default: 30_000,
            min: 1,
            max: MAX_INT,
            expected: "expected a number of milliseconds ≥ 1",
            set: |b, v| b.config.user_authentication_timeout_ms = v,
        },
    },
    Setting {
        env: "CHANNEL_CACHE_TTL",
        naming: Naming::Both,
        key: "channelLimits.cacheTtl",
        doc: "seconds a cache channel keeps its last event",
        kind: &Whole::<u64> {
            default: 3_600,
            min: 0,
            max: MAX_INT,
            expected: "expected a number of seconds ≥ 0",
            set: |b, v| b.config.channel_cache_ttl_secs = v,
        },
    },
    Setting {
        env: "CHANNEL_LIMITS_MAX_NAME_LENGTH",
        naming: Naming::Both,
        key: "channelLimits.maxNameLength",
        doc: "longest channel name (default of each app's limit)",
        kind: &Whole::<usize> {
            default: 200,
            min: 1,
            max: MAX_INT,
            expected: EXPECTED_LENGTH,
            set: |b, v| b.limits.max_channel_name_length = v,
        },
    },
    Setting {
        env: "EVENT_MAX_BATCH_SIZE",
        naming: Naming::Both,
        key: "eventLimits.maxBatchSize",
        doc: "most events in one `POST /batch_events` (default of each app's limit)",
        kind: &Whole::<usize> {
            default: 10,
            min: 1,
            max: MAX_INT,
            expected: EXPECTED_LENGTH,
            set: |b, v| b.limits.max_event_batch_size = v,
        },
    },
    Setting {
        env: "EVENT_MAX_CHANNELS_AT_ONCE",
        naming: Naming::Both,
        key: "eventLimits.maxChannelsAtOnce",
        doc: "most channels one published event names (default of each app's limit)",
        kind: &Whole::<usize> {
            default: 100,
            min: 1,
            max: MAX_INT,
            expected: EXPECTED_LENGTH,
            set: |b, v| b.limits.max_event_channels_at_once = v,
        },
    },
    Setting {
        env: "EVENT_MAX_NAME_LENGTH",
        naming: Naming::Both,
        key: "eventLimits.maxNameLength",
        doc: "longest event name (default of each app's limit)",
        kind: &Whole::<usize> {
            default: 200,
            min: 1,
            max: MAX_INT,
            expected: EXPECTED_LENGTH,
            set: |b, v| b.limits.max_event_name_length = v,
        },
    },
    Setting {
        env: "EVENT_MAX_SIZE_IN_KB",
        naming: Naming::Both,
        key: "eventLimits.maxPayloadInKb",
        doc: "largest event payload, in KB (default of each app's limit)",
        kind: &Number {
            default: 100.0,
            accept: positive,
            expected: EXPECTED_KB,
            set: |b, v| b.limits.max_event_payload_in_kb = v,
        },
    },
    Setting {
        env: "PRESENCE_MAX_MEMBER_SIZE",
        naming: Naming::Both,
        key: "presence.maxMemberSizeInKb",
        doc: "largest presence member data, in KB (default of each app's limit)",
        kind: &Number {
            default: 2.0,
            accept: positive,
            expected: EXPECTED_KB,
            set: |b, v| b.limits.max_presence_member_size_in_kb = v,
        },
    },
    Setting {
        env: "PRESENCE_MAX_MEMBERS",
        naming: Naming::Both,
        key: "presence.maxMembersPerChannel",
        doc: "most members of one presence channel (default of each app's limit)",
        kind: &Whole::<u32> {
            default: 100,
            min: 1,
            max: u32::MAX as i128,
            expected: "expected an integer 1-4294967295",
            set: |b, v| b.limits.max_presence_members_per_channel = v,
        },
    },
    Setting {
        env: "FANOUTD_HTTP_MAX_REQUEST_SIZE_IN_MB",
        naming: Naming::Exact,
        key: "httpApi.requestLimitInMb",
        doc: "largest request body, in MB of 1024 × 1024 bytes (413 beyond)",
        kind: &Number {
            default: 100.0,
            accept: |v| v * MEBIBYTE >= 1.0 && v <= 1_048_576.0,
            expected: "expected a size in MB greater than 0 (at most 1048576)",
            // At most 2^40, so the product is exact and fits.
            set: |b, v| b.config.http.max_body_bytes = (v * MEBIBYTE) as u64,
        },
    },
    Setting {
        env: "FANOUTD_HTTP_MAX_PENDING_BODY_BYTES",
        naming: Naming::Exact,
        key: "fanoutd.http.maxPendingBodyBytes",
        doc: "bytes all unfinished request bodies together may hold (503 beyond)",
        kind: &Whole::<u64> {
            default: 256 * 1024 * 1024,
            min: 1024,
            max: MAX_INT,
            expected: "expected an integer of at least 1024",
            set: |b, v| b.config.http.max_pending_body_bytes = v,
        },
    },
    Setting {
        env: "FANOUTD_HTTP_MAX_HEAD_BYTES",
        naming: Naming::Exact,
        key: "fanoutd.http.maxHeadBytes",
        doc: "largest request head, in bytes (431 beyond)",
        kind: &Whole::<usize> {
            default: 16_384,
            min: MIN_BYTE_LIMIT,
            max: MAX_INT,
            expected: EXPECTED_BYTES,
            set: |b, v| b.config.http.max_head_bytes = v,
        },
    },
    Setting {
        env: "FANOUTD_HTTP_MAX_HEADERS",
        naming: Naming::Exact,
        key: "fanoutd.http.maxHeaders",
        doc: "most header lines in a request, at most 64 (431 beyond)",
        kind: &Whole::<usize> {
            default: 64,
            min: 1,
            max: MAX_HTTP_HEADERS,
            expected: "expected an integer 1-64",
            set: |b, v| b.config.http.max_headers = v,
        },
    },
    Setting {
        env: "FANOUTD_HTTP_REQUEST_TIMEOUT_MS",
        naming: Naming::Exact,
        key: "fanoutd.http.requestTimeoutMs",
        doc: "milliseconds to send a whole request once it has started (408 after)",
        kind: &Whole::<u64> {
            default: 10_000,
            min: 1,
            max: MAX_INT,
            expected: EXPECTED_MS,
            set: |b, v| b.config.http.request_timeout_ms = v,
        },
    },
    Setting {
        env: "FANOUTD_HTTP_IDLE_TIMEOUT_MS",
        naming: Naming::Exact,
        key: "fanoutd.http.idleTimeoutMs",
        doc: "milliseconds after which an idle keep-alive connection is closed",
        kind: &Whole::<u64> {
            default: 60_000,
            min: 1,
            max: MAX_INT,
            expected: EXPECTED_MS,
            set: |b, v| b.config.http.idle_timeout_ms = v,
        },
    },
    Setting {
        env: "HTTP_ACCEPT_TRAFFIC_MEMORY_THRESHOLD",
        naming: Naming::Both,
        key: "httpApi.acceptTraffic.memoryThreshold",
        doc: "percent of memory in use above which `/accept-traffic` answers 503",
        kind: &Number {
            default: 85.0,
            accept: |v| v >= 0.0,
            expected: "expected a percentage ≥ 0",
            set: |b, v| b.config.http.accept_traffic_memory_threshold = v,
        },
    },
    Setting {
        env: "FANOUTD_REACTORS",
        naming: Naming::Exact,
        key: "fanoutd.reactors",
        doc: "reactor threads (1-256)",
        kind: &Cores {
            max: MAX_REACTORS,
            expected: "expected an integer 1-256",
            set: |b, v| b.config.reactors = v,
        },
    },
    Setting {
        env: "FANOUTD_MAX_CHANNELS_PER_APP",
        naming: Naming::Exact,
        key: "fanoutd.maxChannelsPerApp",
        doc: "occupied channels one app may have on this node (about 360 B each; a new channel past it gets a 4100 subscription error)",
        kind: &Whole::<u64> {
            default: 1_000_000,
            min: 1,
            max: MAX_INT,
            expected: "expected an integer of at least 1",
            set: |b, v| b.config.max_channels_per_app = v,
        },
    },
    Setting {
        env: "FANOUTD_ACTIVITY_TIMEOUT",
        naming: Naming::Exact,
        key: "fanoutd.activityTimeout",
        doc: "seconds; sent to clients, and the silence after which the server pings",
        kind: &Whole::<u32> {
            default: 30,
            min: 1,
            max: u32::MAX as i128,
            expected: "expected a number of seconds ≥ 1",
            set: |b, v| b.config.activity_timeout_secs = v,
        },
    },
    Setting {
        env: "FANOUTD_PONG_TIMEOUT",
        naming: Naming::Exact,
        key: "fanoutd.pongTimeout",
        doc: "seconds to answer a server ping before close 4201",
        kind: &Whole::<u32> {
            default: 30,
            min: 1,
            max: u32::MAX as i128,
            expected: "expected a number of seconds ≥ 1",
            set: |b, v| b.config.pong_timeout_secs = v,
        },
    },
    Setting {
        env: "FANOUTD_WS_MAX_MESSAGE_BYTES",
        naming: Naming::Exact,
        key: "fanoutd.wsMaxMessageBytes",
        doc: "largest client message, in bytes, after reassembly (close 1009 beyond)",
        kind: &Whole::<usize> {
            default: 1024 * 1024,
            min: MIN_BYTE_LIMIT,
            max: MAX_INT,
            expected: EXPECTED_BYTES,
            set: |b, v| b.config.ws_max_message_bytes = v,
        },
    },
    Setting {
        env: "FANOUTD_WS_MAX_OUTPUT_BYTES",
        naming: Naming::Exact,
        key: "fanoutd.wsMaxOutputBytes",
        doc: "bytes waiting for a socket that is behind before it is closed (4100); soketi's `maxBackpressure`",
        kind: &Whole::<usize> {
            default: 1024 * 1024,
            min: MIN_BYTE_LIMIT,
            max: MAX_INT,
            expected: EXPECTED_BYTES,
            set: |b, v| b.config.ws_max_output_bytes = v,
        },
    },
    Setting {
        env: "FANOUTD_AUTH_TIMESTAMP_WINDOW",
        naming: Naming::Exact,
        key: "fanoutd.authTimestampWindow",
        doc: "seconds a REST `auth_timestamp` may be off the server clock (Pusher: 600; 0: no check)",
        kind: &Whole::<u64> {
            default: 600,
            min: 0,
            max: MAX_INT,
            expected: "expected a number of seconds ≥ 0 (0 disables the check)",
            set: |b, v| b.config.auth_timestamp_window_secs = v,
        },
    },
    Setting {
        env: "METRICS_ENABLED",
        naming: Naming::Both,
        key: "metrics.enabled",
        doc: "serve `/metrics` on the metrics listener",
        kind: &Flag {
            default: false,
            set: |b, v| b.config.metrics.enabled = v,
        },
    },
    Setting {
        env: "METRICS_DRIVER",
        naming: Naming::Both,
        key: "metrics.driver",
        doc: "`prometheus`, the only one",
        kind: &Gate {
            default: "prometheus",
            check: check_metrics_driver,
        },
    },
    Setting {
        env: "METRICS_HOST",
        naming: Naming::Both,
        key: "metrics.host",
        doc: "address of the metrics listener",
        kind: &Address {
            default: ANY_ADDRESS,
            set: |b, v| b.config.metrics.host = v,
        },
    },
    Setting {
        env: "METRICS_SERVER_PORT",
        naming: Naming::Both,
        key: "metrics.port",
        doc: "port of the metrics listener; 0 asks the OS for a free one",
        kind: &Whole::<u16> {
            default: 9601,
            min: 0,
            max: 65_535,
            expected: "expected a port number 0-65535",
            set: |b, v| b.config.metrics.port = v,
        },
    },
    Setting {
        env: "METRICS_PROMETHEUS_PORT_IN_NAME",
        naming: Naming::Both,
        key: "metrics.prometheus.portInName",
        doc: "`true`: the port in metric names (`soketi_6001_connected`); `false`: soketi 1.x's (`soketi_connected`), plus soketi's process families (`soketi_process_cpu_seconds_total{port}`, …)",
        kind: &Flag {
            default: true,
            set: |b, v| b.config.metrics.port_in_name = v,
        },
    },
    Setting {
        env: "METRICS_PROMETHEUS_PREFIX",
        naming: Naming::Both,
        key: "metrics.prometheus.prefix",
        doc: "prefix of metric names (empty only with `METRICS_PROMETHEUS_PORT_IN_NAME=false`)",
        kind: &Text {
            default: "soketi_",
            accept: valid_metrics_prefix,
            expected: "expected a Prometheus name prefix (letters, digits, _ and :, not starting with a digit)",
            set: |b, v| b.config.metrics.prefix = v,
        },
    },
    Setting {
        env: "ADAPTER_DRIVER",
        naming: Naming::PrefixedOnly,
        key: "adapter.driver",
        doc: "`local` (one node) or `redis` (publishes cross nodes over Redis pub/sub, soketi's wire format); `nats` and `cluster` refused",
        kind: &Adapter,
    },
    Setting {
        env: "APP_MANAGER_DRIVER",
        naming: Naming::PrefixedOnly,
        key: "appManager.driver",
        doc: "others refused for now",
        kind: &Driver {
            supported: "array",
            idle: None,
        },
    },
    Setting {
        env: "CACHE_DRIVER",
        naming: Naming::PrefixedOnly,
        key: "cache.driver",
        doc: "others refused for now",
        kind: &Driver {
            supported: "memory",
            idle: None,
        },
    },
    Setting {
        env: "QUEUE_DRIVER",
        naming: Naming::PrefixedOnly,
        key: "queue.driver",
        doc: "others refused for now",
        kind: &Driver {
            supported: "sync",
            idle: Some("webhooks are not sent yet, so there is nothing to queue"),
        },
    },
    Setting {
        env: "RATE_LIMITER_DRIVER",
        naming: Naming::PrefixedOnly,
        key: "rateLimiter.driver",
        doc: "others refused for now",
        kind: &Driver {
            supported: "local",
            idle: None,
        },
    },
    Setting {
        env: "ADAPTER_REDIS_PREFIX",
        naming: Naming::PrefixedOnly,
        key: "adapter.redis.prefix",
        doc: "Redis adapter: channel prefix (`<prefix>#redis-adapter`); nodes with the same prefix form one cluster",
        kind: &Text {
            default: "",
            accept: |_| true,
            expected: "expected a string",
            set: |b, v| b.config.adapter.redis_prefix = v,
        },
    },
    Setting {
        env: "DB_REDIS_HOST",
        naming: Naming::PrefixedOnly,
        key: "database.redis.host",
        doc: "Redis adapter: host name or address of the Redis server",
        kind: &Text {
            default: "127.0.0.1",
            accept: valid_host,
            expected: "expected a host name or address",
            set: |b, v| b.config.adapter.redis_host = v,
        },
    },
    Setting {
        env: "DB_REDIS_PORT",
        naming: Naming::PrefixedOnly,
        key: "database.redis.port",
        doc: "Redis adapter: port of the Redis server",
        kind: &Whole::<u16> {
            default: 6379,
            min: 1,
            max: 65_535,
            expected: "expected a port number 1-65535",
            set: |b, v| b.config.adapter.redis_port = v,
        },
    },
    Setting {
        env: "DB_REDIS_DB",
        naming: Naming::PrefixedOnly,
        key: "database.redis.db",
        doc: "Redis adapter: database number selected on connecting",
        kind: &Whole::<u32> {
            default: 0,
            min: 0,
            max: u32::MAX as i128,
            expected: "expected a database number ≥ 0",
            set: |b, v| b.config.adapter.redis_db = v,
        },
    },
    Setting {
        env: "DB_REDIS_USERNAME",
        naming: Naming::PrefixedOnly,
        key: "database.redis.username",
        doc: "Redis adapter: ACL user name (empty: none)",
        kind: &Text {
            default: "",
            accept: |_| true,
            expected: "expected a string",
            set: |b, v| b.config.adapter.redis_username = v,
        },
    },
    Setting {
        env: "DB_REDIS_PASSWORD",
        naming: Naming::PrefixedOnly,
        key: "database.redis.password",
        doc: "Redis adapter: password (empty: none)",
        kind: &Text {
            default: "",
            accept: |_| true,
            expected: "expected a string",
            set: |b, v| b.config.adapter.redis_password = v,
        },
    },
    Setting {
        env: "SSL_CERT",
        naming: Naming::PrefixedOnly,
        key: "ssl.certPath",
        doc: "TLS certificate: refused for now (terminate TLS in a proxy)",
        kind: &Refused { why: TLS_REFUSED },
    },
    Setting {
        env: "SSL_KEY",
        naming: Naming::PrefixedOnly,
        key: "ssl.keyPath",
        doc: "TLS key: refused for now (terminate TLS in a proxy)",
        kind: &Refused { why: TLS_REFUSED },
    },
    // soketi maps the DEFAULT_APP_* variables onto app 0: they override the file's first app
    // and make soketi's default app otherwise. The apps module reads them.
    Setting {
        env: "DEFAULT_APP_ID",
        naming: Naming::Both,
        key: "appManager.array.apps.0.id",
        doc: "id of app 0",
        kind: &AppField {
            shown: |a| a.id.clone(),
        },
    },
    Setting {
        env: "DEFAULT_APP_KEY",
        naming: Naming::Both,
        key: "appManager.array.apps.0.key",
        doc: "key of app 0",
        kind: &AppField {
            shown: |a| a.key.clone(),
        },
    },
    Setting {
        env: "DEFAULT_APP_SECRET",
        naming: Naming::Both,
        key: "appManager.array.apps.0.secret",
        doc: "secret of app 0",
        kind: &AppField {
            shown: |a| a.secret.clone(),
        },
    },
    Setting {
        env: "DEFAULT_APP_MAX_CONNS",
        naming: Naming::Both,
        key: "appManager.array.apps.0.maxConnections",
        doc: "most connections of app 0 (`-1` and `0`: unlimited)",
        kind: &AppField {
            shown: |a| a.max_connections.to_string(),
        },
    },
    Setting {
        env: "DEFAULT_APP_ENABLE_CLIENT_MESSAGES",
        naming: Naming::Both,
        key: "appManager.array.apps.0.enableClientMessages",
        doc: "app 0 accepts client events",
        kind: &AppField {
            shown: |a| a.enable_client_messages.to_string(),
        },
    },
    Setting {
        env: "DEFAULT_APP_ENABLED",
        naming: Naming::Both,
        key: "appManager.array.apps.0.enabled",
        doc: "app 0 accepts connections (`false`: close 4003)",
        kind: &AppField {
            shown: |a| a.enabled.to_string(),
        },
    },
    Setting {
        env: "DEFAULT_APP_MAX_BACKEND_EVENTS_PER_SEC",
        naming: Naming::Both,
        key: "appManager.array.apps.0.maxBackendEventsPerSecond",
        doc: "app 0's published events per second (`-1`: unlimited)",
        kind: &AppField {
            shown: |a| a.max_backend_events_per_sec.to_string(),
        },
    },
    Setting {
        env: "DEFAULT_APP_MAX_CLIENT_EVENTS_PER_SEC",
        naming: Naming::Both,
        key: "appManager.array.apps.0.maxClientEventsPerSecond",
        doc: "app 0's client events per second and socket (`-1`: unlimited)",
        kind: &AppField {
            shown: |a| a.max_client_events_per_sec.to_string(),
        },
    },
    Setting {
        env: "DEFAULT_APP_MAX_READ_REQ_PER_SEC",
        naming: Naming::Both,
        key: "appManager.array.apps.0.maxReadRequestsPerSecond",
        doc: "app 0's REST reads per second (`-1`: unlimited)",
        kind: &AppField {
            shown: |a| a.max_read_req_per_sec.to_string(),
        },
    },
    Setting {
        env: "DEFAULT_APP_USER_AUTHENTICATION",
        naming: Naming::Both,
        key: "appManager.array.apps.0.enableUserAuthentication",
        doc: "app 0's sockets must sign in (`pusher:signin`)",
        kind: &AppField {
            shown: |a| a.enable_user_authentication.to_string(),
        },
    },
    Setting {
        env: "DEFAULT_APP_WEBHOOKS",
        naming: Naming::Both,
        key: "appManager.array.apps.0.webhooks",
        doc: "app 0's webhooks, a JSON array (kept; not delivered yet)",
        kind: &AppField {
            shown: |a| serde_json::Value::from(a.webhooks.clone()).to_string(),
        },
    },
];

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::config::testing::*;
    use crate::config::Config;

    pub(in crate::config) type Check = fn(&Config) -> bool;

    /// (name without prefix, naming, value, check of the resulting config)
    pub(in crate::config) const ENV_CASES: &[(&str, Naming, &str, Check)] = &[
        ("HOST", Naming::PrefixedOnly, "127.0.0.1", |c| {
            c.host == ip("127.0.0.1")
        }),
        ("PORT", Naming::PrefixedOnly, "6002", |c| c.port == 6002),
        ("DEBUG", Naming::PrefixedOnly, "true", |c| c.debug),
        ("MODE", Naming::PrefixedOnly, "server", |_| true),
        ("PATH_PREFIX", Naming::Both, "/ws", |c| {
            c.path_prefix == "/ws"
        }),
        ("SHUTDOWN_GRACE_PERIOD", Naming::Both, "10", |c| {
            c.shutdown_grace_period_ms == 10
        }),
        ("USER_AUTHENTICATION_TIMEOUT", Naming::Both, "5000", |c| {
            c.user_authentication_timeout_ms == 5000
        }),
        ("CHANNEL_CACHE_TTL", Naming::Both, "60", |c| {
            c.channel_cache_ttl_secs == 60
        }),
        ("CHANNEL_LIMITS_MAX_NAME_LENGTH", Naming::Both, "50", |c| {
            c.apps[0].max_channel_name_length == 50
        }),
        ("EVENT_MAX_BATCH_SIZE", Naming::Both, "3", |c| {
            c.apps[0].max_event_batch_size == 3
        }),
        ("EVENT_MAX_CHANNELS_AT_ONCE", Naming::Both, "7", |c| {
            c.apps[0].max_event_channels_at_once == 7
        }),
        ("EVENT_MAX_NAME_LENGTH", Naming::Both, "20", |c| {
            c.apps[0].max_event_name_length == 20
        }),
        ("EVENT_MAX_SIZE_IN_KB", Naming::Both, "1.5", |c| {
            c.apps[0].max_event_payload_in_kb == 1.5
        }),
        ("PRESENCE_MAX_MEMBER_SIZE", Naming::Both, "4", |c| {
            c.apps[0].max_presence_member_size_in_kb == 4.0
        }),
        ("PRESENCE_MAX_MEMBERS", Naming::Both, "5", |c| {
            c.apps[0].max_presence_members_per_channel == 5
        }),
        (
            "HTTP_ACCEPT_TRAFFIC_MEMORY_THRESHOLD",
            Naming::Both,
            "90.5",
            |c| c.http.accept_traffic_memory_threshold == 90.5,
        ),
        ("METRICS_ENABLED", Naming::Both, "1", |c| c.metrics.enabled),
        ("METRICS_DRIVER", Naming::Both, "prometheus", |_| true),
        ("METRICS_HOST", Naming::Both, "::1", |c| {
            c.metrics.host == ip("::1")
        }),
        ("METRICS_PROMETHEUS_PREFIX", Naming::Both, "x_", |c| {
            c.metrics.prefix == "x_"
        }),
        (
            "METRICS_PROMETHEUS_PORT_IN_NAME",
            Naming::Both,
            "FALSE",
            |c| !c.metrics.port_in_name,
        ),
        ("METRICS_SERVER_PORT", Naming::Both, "9700", |c| {
            c.metrics.port == 9700
        }),
        ("ADAPTER_DRIVER", Naming::PrefixedOnly, "redis", |c| {
            c.adapter.driver == crate::config::AdapterDriver::Redis
        }),
        ("ADAPTER_REDIS_PREFIX", Naming::PrefixedOnly, "p1", |c| {
            c.adapter.redis_prefix == "p1"
        }),
        (
            "DB_REDIS_HOST",
            Naming::PrefixedOnly,
            "redis.internal",
            |c| c.adapter.redis_host == "redis.internal",
        ),
        ("DB_REDIS_PORT", Naming::PrefixedOnly, "6380", |c| {
            c.adapter.redis_port == 6380
        }),
        ("DB_REDIS_DB", Naming::PrefixedOnly, "3", |c| {
            c.adapter.redis_db == 3
        }),
        ("DB_REDIS_USERNAME", Naming::PrefixedOnly, "u", |c| {
            c.adapter.redis_username == "u"
        }),
        ("DB_REDIS_PASSWORD", Naming::PrefixedOnly, "pw", |c| {
            c.adapter.redis_password == "pw"
        }),
        ("APP_MANAGER_DRIVER", Naming::PrefixedOnly, "array", |_| {
            true
        }),
        ("CACHE_DRIVER", Naming::PrefixedOnly, "memory", |_| true),
        ("QUEUE_DRIVER", Naming::PrefixedOnly, "sync", |_| true),
        ("RATE_LIMITER_DRIVER", Naming::PrefixedOnly, "local", |_| {
            true
        }),
        ("DEFAULT_APP_ID", Naming::Both, "12345", |c| {
            c.apps[0].id == "12345"
        }),
        ("DEFAULT_APP_KEY", Naming::Both, "k", |c| {
            c.apps[0].key == "k"
        }),
        ("DEFAULT_APP_SECRET", Naming::Both, "\"s3\"", |c| {
            c.apps[0].secret == "s3"
        }),
        ("DEFAULT_APP_MAX_CONNS", Naming::Both, "20", |c| {
            c.apps[0].max_connections == 20
        }),
        (
            "DEFAULT_APP_ENABLE_CLIENT_MESSAGES",
            Naming::Both,
            "true",
            |c| c.apps[0].enable_client_messages,
        ),
        ("DEFAULT_APP_ENABLED", Naming::Both, "0", |c| {
            !c.apps[0].enabled
        }),
        (
            "DEFAULT_APP_MAX_BACKEND_EVENTS_PER_SEC",
            Naming::Both,
            "30",
            |c| c.apps[0].max_backend_events_per_sec == 30,
        ),
        (
            "DEFAULT_APP_MAX_CLIENT_EVENTS_PER_SEC",
            Naming::Both,
            "0",
            |c| c.apps[0].max_client_events_per_sec == 0,
        ),
        ("DEFAULT_APP_MAX_READ_REQ_PER_SEC", Naming::Both, "4", |c| {
            c.apps[0].max_read_req_per_sec == 4
        }),
        (
            "DEFAULT_APP_USER_AUTHENTICATION",
            Naming::Both,
            "True",
            |c| c.apps[0].enable_user_authentication,
        ),
        (
            "DEFAULT_APP_WEBHOOKS",
            Naming::Both,
            r#"[{"url":"http://h/w","event_types":["channel_occupied"]}]"#,
            |c| c.apps[0].webhooks.len() == 1 && c.apps[0].webhooks[0]["url"] == "http://h/w",
        ),
        ("FANOUTD_REACTORS", Naming::Exact, "3", |c| c.reactors == 3),
        ("FANOUTD_MAX_CHANNELS_PER_APP", Naming::Exact, "5", |c| {
            c.max_channels_per_app == 5
        }),
        ("FANOUTD_ACTIVITY_TIMEOUT", Naming::Exact, "120", |c| {
            c.activity_timeout_secs == 120
        }),
        ("FANOUTD_PONG_TIMEOUT", Naming::Exact, "5", |c| {
            c.pong_timeout_secs == 5
        }),
        ("FANOUTD_WS_MAX_MESSAGE_BYTES", Naming::Exact, "2048", |c| {
            c.ws_max_message_bytes == 2048
        }),
        ("FANOUTD_WS_MAX_OUTPUT_BYTES", Naming::Exact, "4096", |c| {
            c.ws_max_output_bytes == 4096
        }),
        ("FANOUTD_AUTH_TIMESTAMP_WINDOW", Naming::Exact, "0", |c| {
            c.auth_timestamp_window_secs == 0
        }),
        ("FANOUTD_HTTP_MAX_HEAD_BYTES", Naming::Exact, "8192", |c| {
            c.http.max_head_bytes == 8192
        }),
        ("FANOUTD_HTTP_MAX_HEADERS", Naming::Exact, "32", |c| {
            c.http.max_headers == 32
        }),
        (
            "FANOUTD_HTTP_REQUEST_TIMEOUT_MS",
            Naming::Exact,
            "500",
            |c| c.http.request_timeout_ms == 500,
        ),
        ("FANOUTD_HTTP_IDLE_TIMEOUT_MS", Naming::Exact, "700", |c| {
            c.http.idle_timeout_ms == 700
        }),
        (
            "FANOUTD_HTTP_MAX_REQUEST_SIZE_IN_MB",
            Naming::Exact,
            "0.5",
            |c| c.http.max_body_bytes == 512 * 1024,
        ),
        (
            "FANOUTD_HTTP_MAX_PENDING_BODY_BYTES",
            Naming::Exact,
            "4096",
            |c| c.http.max_pending_body_bytes == 4096,
        ),
    ];

    #[test]
    fn every_variable_is_tested_and_every_case_is_a_variable() {
        // SSL_CERT and SSL_KEY only ever refuse: see unsupported_drivers_stop_start_up.
        for setting in SETTINGS {
            let (name, naming) = (setting.env, setting.naming);
            assert!(
                name.starts_with("SSL_")
                    || ENV_CASES
                        .iter()
                        .any(|&(n, k, _, _)| n == name && k == naming),
                "no test case for {name}"
            );
        }
        for &(name, naming, _, _) in ENV_CASES {
            assert!(
                SETTINGS.iter().any(|s| s.env == name && s.naming == naming),
                "{name}"
            );
        }
    }

    #[test]
    fn each_variable_sets_its_field() {
        for &(name, naming, value, check) in ENV_CASES {
            let names: Vec<String> = match naming {
                Naming::Both => vec![format!("SOKETI_{name}"), name.to_string()],
                Naming::PrefixedOnly => vec![format!("SOKETI_{name}")],
                Naming::Exact => vec![name.to_string()],
            };
            for var in &names {
                let c = load_env(&[(var, value)]).unwrap_or_else(|e| panic!("{var}: {e}"));
                assert!(check(&c), "{var}={value} did not set its field: {c:?}");
            }
            if naming == Naming::PrefixedOnly {
                let c = load_env(&[(name, value)]).unwrap();
                assert_eq!(c, Config::default(), "bare {name} must be ignored");
            }
        }
    }
}
