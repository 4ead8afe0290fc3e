//! Configuration: soketi's environment variables, its JSON config file, and fanoutd's own
//! settings, parsed once at start-up into a validated [`Config`].
//!
//! Precedence, lowest first: built-in defaults (soketi 1.6.1's), the `--config FILE` JSON
//! file, then the environment. Each setting is read from `SOKETI_<NAME>` and, where the
//! docs use it, from the unprefixed `<NAME>`; the prefixed form wins. A value that does not
//! parse stops start-up with an error that names the variable.
//!
//! How it works: the config file's object is flattened to soketi's dot paths
//! (`{"metrics": {"enabled": true}}` → `metrics.enabled`), every variable of the `ENV_VARS` table is
//! laid over it under the same path, and each path is then read once, typed and checked.
//!
//! * Names: `HOST`, `PORT`, `DEBUG` and `MODE` are read only as `SOKETI_HOST` etc. (shells and
//!   PaaS set the bare names for other purposes); fanoutd's own settings only as `FANOUTD_*`.
//! * Values: empty (or blank) values count as unset, as in soketi. Booleans are
//!   `true/false/1/0` in any case, numbers decimal; a variable holding a JSON string
//!   (`"abc"` with the quotes) is unquoted, as soketi's `JSON.parse` does.
//! * Refused rather than silently run differently: `MODE=worker`, a metrics driver other than
//!   `prometheus`, adapter / app manager / cache / queue / rate limiter drivers other than the
//!   in-process ones, and TLS (`SSL_CERT`, `SSL_KEY`).
//! * Apps: `appManager.array.apps` from the file (every spelling of soketi's App model), or
//!   soketi's one default app. `SOKETI_DEFAULT_APP_*` set fields of app 0 (soketi maps them to
//!   `appManager.array.apps.0.*`), overriding the file. Apps listed in the file must give their
//!   id, key and secret (fanoutd does not let a forgotten secret become `app-secret`).
//! * Unknown file keys: sub-keys of soketi options fanoutd does not implement (`cluster.*`,
//!   `database.*`, `queue.*`, `webhooks.*`, `cors.*`, …) are ignored; any other unknown key is
//!   refused, so that a typo does not go unnoticed.
//!
//! [`Config::from_process`] also reads a `.env` file from the current directory, as soketi's
//! `dotenv` does, without changing the process environment.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use serde_json::{Map, Value};

/// Everything the server needs, validated.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `HOST`: address of the public listener (WebSocket + REST). Default `0.0.0.0`.
    pub host: IpAddr,
    /// `PORT`: public port. Default 6001. 0 asks the OS for a free port (tests).
    pub port: u16,
    /// `PATH_PREFIX`: prefix of every public route. Default empty.
    pub path_prefix: String,
    /// `DEBUG`.
    pub debug: bool,
    /// `FANOUTD_REACTORS`: reactor threads. Default: available cores.
    pub reactors: usize,
    /// `SHUTDOWN_GRACE_PERIOD` (ms). Default 3000.
    pub shutdown_grace_period_ms: u64,
    /// `USER_AUTHENTICATION_TIMEOUT` (ms). Default 30000.
    pub user_authentication_timeout_ms: u64,
    /// `CHANNEL_CACHE_TTL` (s). Default 3600.
    pub channel_cache_ttl_secs: u64,
    /// `FANOUTD_ACTIVITY_TIMEOUT` (s): sent to clients in `connection_established`; after
    /// this long without a message from a client the server sends `pusher:ping`. Default 30.
    pub activity_timeout_secs: u32,
    /// `FANOUTD_PONG_TIMEOUT` (s): after a server `pusher:ping`, how long to wait for any
    /// message before closing with 4201. Default 30.
    pub pong_timeout_secs: u32,
    /// `FANOUTD_WS_MAX_MESSAGE_BYTES`: largest WebSocket message (after reassembly) a client
    /// may send; larger ones close the socket with 1009. Default 1 MiB.
    pub ws_max_message_bytes: usize,
    /// `FANOUTD_WS_MAX_OUTPUT_BYTES`: bytes that may wait for one slow socket before it is
    /// closed (4100). Default 1 MiB (soketi's `maxBackpressure`).
    pub ws_max_output_bytes: usize,
    /// HTTP limits and timeouts of the public port.
    pub http: HttpConfig,
    /// `FANOUTD_AUTH_TIMESTAMP_WINDOW` (s): REST `auth_timestamp` must be within this many
    /// seconds of the server clock (Pusher: 600). 0 disables the check. Default 600.
    pub auth_timestamp_window_secs: u64,
    /// The metrics listener.
    pub metrics: MetricsConfig,
    /// The apps (at least one). From `SOKETI_DEFAULT_APP_*` when the config file lists none.
    /// (As in soketi, those variables also override the fields of the file's first app.)
    pub apps: Vec<AppConfig>,
}

/// Limits and timeouts of the public HTTP side.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpConfig {
    /// `httpApi.requestLimitInMb` (config file) / `FANOUTD_HTTP_MAX_REQUEST_SIZE_IN_MB`:
    /// largest request body, in bytes (MB = 1024 * 1024). Default 100 MB, as soketi.
    pub max_body_bytes: u64,
    /// `FANOUTD_HTTP_MAX_HEAD_BYTES`: largest request head. Default 16384.
    pub max_head_bytes: usize,
    /// `FANOUTD_HTTP_MAX_HEADERS`: most header lines in a request. Default 64 (at most 64).
    pub max_headers: usize,
    /// `FANOUTD_HTTP_REQUEST_TIMEOUT_MS`: time allowed to receive one whole request once it
    /// has started (slow-loris guard). Default 10000.
    pub request_timeout_ms: u64,
    /// `FANOUTD_HTTP_IDLE_TIMEOUT_MS`: an idle keep-alive connection is closed after this.
    /// Default 60000.
    pub idle_timeout_ms: u64,
    /// `HTTP_ACCEPT_TRAFFIC_MEMORY_THRESHOLD` (percent). Default 85.
    pub accept_traffic_memory_threshold: f64,
}

/// The metrics listener's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsConfig {
    /// `METRICS_ENABLED`. Default false.
    pub enabled: bool,
    /// `METRICS_HOST`. Default `0.0.0.0`.
    pub host: IpAddr,
    /// `METRICS_SERVER_PORT`. Default 9601. 0 asks the OS for a free port (tests).
    pub port: u16,
    /// `METRICS_PROMETHEUS_PREFIX`. Default `soketi_`.
    pub prefix: String,
    /// `METRICS_PROMETHEUS_PORT_IN_NAME`: `true` (default) gives the seed's names
    /// (`soketi_6001_connected`), `false` soketi 1.x's (`soketi_connected`).
    pub port_in_name: bool,
}

/// One app, with soketi's per-app fields (spec §4.4). Limits of -1 mean "no limit".
#[derive(Debug, Clone, PartialEq)]
pub struct AppConfig {
    pub id: String,
    pub key: String,
    pub secret: String,
    /// -1 or 0: unlimited (soketi compatibility).
    pub max_connections: i64,
    pub enable_client_messages: bool,
    pub enabled: bool,
    pub max_backend_events_per_sec: i64,
    pub max_client_events_per_sec: i64,
    pub max_read_req_per_sec: i64,
    /// Kept verbatim for the webhooks work; not yet delivered.
    pub webhooks: Vec<serde_json::Value>,
    pub max_presence_members_per_channel: u32,
    pub max_presence_member_size_in_kb: f64,
    pub max_channel_name_length: usize,
    pub max_event_channels_at_once: usize,
    pub max_event_name_length: usize,
    pub max_event_payload_in_kb: f64,
    pub max_event_batch_size: usize,
    pub enable_user_authentication: bool,
}

/// Why the configuration was refused. The message names the offending environment variable
/// (as it was spelled, e.g. `SOKETI_PORT`) or config-file key, and the bad value.
#[derive(Debug, Clone, PartialEq)]
pub struct ConfigError(pub String);

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for ConfigError {}

// ---------------------------------------------------------------------------------------------
// Defaults (soketi 1.6.1's `Server.options`, plus fanoutd's own).

const DEFAULT_PORT: u16 = 6001;
const DEFAULT_SHUTDOWN_GRACE_PERIOD_MS: u64 = 3_000;
const DEFAULT_USER_AUTHENTICATION_TIMEOUT_MS: u64 = 30_000;
const DEFAULT_CHANNEL_CACHE_TTL_SECS: u64 = 3_600;
const DEFAULT_ACTIVITY_TIMEOUT_SECS: u32 = 30;
const DEFAULT_PONG_TIMEOUT_SECS: u32 = 30;
const DEFAULT_WS_MAX_MESSAGE_BYTES: usize = 1024 * 1024;
const DEFAULT_WS_MAX_OUTPUT_BYTES: usize = 1024 * 1024;
const DEFAULT_AUTH_TIMESTAMP_WINDOW_SECS: u64 = 600;
const DEFAULT_HTTP_REQUEST_LIMIT_MB: f64 = 100.0;
const DEFAULT_HTTP_MAX_HEAD_BYTES: usize = 16_384;
const DEFAULT_HTTP_MAX_HEADERS: usize = 64;
const DEFAULT_HTTP_REQUEST_TIMEOUT_MS: u64 = 10_000;
const DEFAULT_HTTP_IDLE_TIMEOUT_MS: u64 = 60_000;
const DEFAULT_ACCEPT_TRAFFIC_MEMORY_THRESHOLD: f64 = 85.0;
const DEFAULT_METRICS_PORT: u16 = 9601;
const DEFAULT_METRICS_PREFIX: &str = "soketi_";
const DEFAULT_APP_ID: &str = "app-id";
const DEFAULT_APP_KEY: &str = "app-key";
const DEFAULT_APP_SECRET: &str = "app-secret";
/// Most reactor threads accepted (and the cap of the default).
const MAX_REACTORS: i128 = 256;
/// Most header lines a request may have (the HTTP parser's fixed array).
const MAX_HTTP_HEADERS: i128 = 64;
/// Smallest byte limit accepted for WebSocket messages, output buffers and request heads.
const MIN_BYTE_LIMIT: i128 = 1024;
/// Largest integer accepted anywhere: JavaScript's `Number.MAX_SAFE_INTEGER`, which is what a
/// soketi option can hold, and small enough that no duration or size derived from it overflows.
const MAX_INT: i128 = 9_007_199_254_740_991;
const MEBIBYTE: f64 = 1024.0 * 1024.0;

/// soketi's server-level limits, which are the defaults of the per-app limits.
#[derive(Debug, Clone, Copy, PartialEq)]
struct AppLimitDefaults {
    max_presence_members_per_channel: u32,
    max_presence_member_size_in_kb: f64,
    max_channel_name_length: usize,
    max_event_channels_at_once: usize,
    max_event_name_length: usize,
    max_event_payload_in_kb: f64,
    max_event_batch_size: usize,
}

impl Default for AppLimitDefaults {
    fn default() -> Self {
        AppLimitDefaults {
            max_presence_members_per_channel: 100,
            max_presence_member_size_in_kb: 2.0,
            max_channel_name_length: 200,
            max_event_channels_at_once: 100,
            max_event_name_length: 200,
            max_event_payload_in_kb: 100.0,
            max_event_batch_size: 10,
        }
    }
}

impl AppConfig {
    /// soketi's default app (`app-id` / `app-key` / `app-secret`) with the given limits.
    fn with_defaults(limits: &AppLimitDefaults) -> AppConfig {
        AppConfig {
            id: DEFAULT_APP_ID.to_string(),
            key: DEFAULT_APP_KEY.to_string(),
            secret: DEFAULT_APP_SECRET.to_string(),
            max_connections: -1,
            enable_client_messages: false,
            enabled: true,
            max_backend_events_per_sec: -1,
            max_client_events_per_sec: -1,
            max_read_req_per_sec: -1,
            webhooks: Vec::new(),
            max_presence_members_per_channel: limits.max_presence_members_per_channel,
            max_presence_member_size_in_kb: limits.max_presence_member_size_in_kb,
            max_channel_name_length: limits.max_channel_name_length,
            max_event_channels_at_once: limits.max_event_channels_at_once,
            max_event_name_length: limits.max_event_name_length,
            max_event_payload_in_kb: limits.max_event_payload_in_kb,
            max_event_batch_size: limits.max_event_batch_size,
            enable_user_authentication: false,
        }
    }
}

/// Reactor threads when none are configured: one per available core, at most 256.
fn default_reactors() -> usize {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    cores.clamp(1, MAX_REACTORS as usize)
}

impl Default for Config {
    fn default() -> Self {
        Config {
            host: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: DEFAULT_PORT,
            path_prefix: String::new(),
            debug: false,
            reactors: default_reactors(),
            shutdown_grace_period_ms: DEFAULT_SHUTDOWN_GRACE_PERIOD_MS,
            user_authentication_timeout_ms: DEFAULT_USER_AUTHENTICATION_TIMEOUT_MS,
            channel_cache_ttl_secs: DEFAULT_CHANNEL_CACHE_TTL_SECS,
            activity_timeout_secs: DEFAULT_ACTIVITY_TIMEOUT_SECS,
            pong_timeout_secs: DEFAULT_PONG_TIMEOUT_SECS,
            ws_max_message_bytes: DEFAULT_WS_MAX_MESSAGE_BYTES,
            ws_max_output_bytes: DEFAULT_WS_MAX_OUTPUT_BYTES,
            http: HttpConfig::default(),
            auth_timestamp_window_secs: DEFAULT_AUTH_TIMESTAMP_WINDOW_SECS,
            metrics: MetricsConfig::default(),
            apps: vec![AppConfig::with_defaults(&AppLimitDefaults::default())],
        }
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        HttpConfig {
            max_body_bytes: (DEFAULT_HTTP_REQUEST_LIMIT_MB * MEBIBYTE) as u64,
            max_head_bytes: DEFAULT_HTTP_MAX_HEAD_BYTES,
            max_headers: DEFAULT_HTTP_MAX_HEADERS,
            request_timeout_ms: DEFAULT_HTTP_REQUEST_TIMEOUT_MS,
            idle_timeout_ms: DEFAULT_HTTP_IDLE_TIMEOUT_MS,
            accept_traffic_memory_threshold: DEFAULT_ACCEPT_TRAFFIC_MEMORY_THRESHOLD,
        }
    }
}

impl Default for MetricsConfig {
    fn default() -> Self {
        MetricsConfig {
            enabled: false,
            host: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            port: DEFAULT_METRICS_PORT,
            prefix: DEFAULT_METRICS_PREFIX.to_string(),
            port_in_name: true,
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Environment variables.

/// How an environment variable's name is formed from the table's name.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Naming {
    /// `SOKETI_<NAME>`, else `<NAME>`.
    Both,
    /// `SOKETI_<NAME>` only: the bare name is too generic (shells and PaaS set it).
    PrefixedOnly,
    /// Exactly the name given (fanoutd's own `FANOUTD_*` settings).
    Exact,
}

/// Every environment variable read, and the config-file key (soketi's option path) it sets.
/// A variable overrides the file's value for the same key.
const ENV_VARS: &[(&str, Naming, &str)] = &[
    ("HOST", Naming::PrefixedOnly, "host"),
    ("PORT", Naming::PrefixedOnly, "port"),
    ("DEBUG", Naming::PrefixedOnly, "debug"),
    ("MODE", Naming::PrefixedOnly, "mode"),
    ("PATH_PREFIX", Naming::Both, "pathPrefix"),
    ("SHUTDOWN_GRACE_PERIOD", Naming::Both, "shutdownGracePeriod"),
    (
        "USER_AUTHENTICATION_TIMEOUT",
        Naming::Both,
        "userAuthenticationTimeout",
    ),
    ("CHANNEL_CACHE_TTL", Naming::Both, "channelLimits.cacheTtl"),
    (
        "CHANNEL_LIMITS_MAX_NAME_LENGTH",
        Naming::Both,
        "channelLimits.maxNameLength",
    ),
    (
        "EVENT_MAX_BATCH_SIZE",
        Naming::Both,
        "eventLimits.maxBatchSize",
    ),
    (
        "EVENT_MAX_CHANNELS_AT_ONCE",
        Naming::Both,
        "eventLimits.maxChannelsAtOnce",
    ),
    (
        "EVENT_MAX_NAME_LENGTH",
        Naming::Both,
        "eventLimits.maxNameLength",
    ),
    (
        "EVENT_MAX_SIZE_IN_KB",
        Naming::Both,
        "eventLimits.maxPayloadInKb",
    ),
    (
        "PRESENCE_MAX_MEMBER_SIZE",
        Naming::Both,
        "presence.maxMemberSizeInKb",
    ),
    (
        "PRESENCE_MAX_MEMBERS",
        Naming::Both,
        "presence.maxMembersPerChannel",
    ),
    (
        "HTTP_ACCEPT_TRAFFIC_MEMORY_THRESHOLD",
        Naming::Both,
        "httpApi.acceptTraffic.memoryThreshold",
    ),
    ("METRICS_ENABLED", Naming::Both, "metrics.enabled"),
    ("METRICS_DRIVER", Naming::Both, "metrics.driver"),
    ("METRICS_HOST", Naming::Both, "metrics.host"),
    (
        "METRICS_PROMETHEUS_PREFIX",
        Naming::Both,
        "metrics.prometheus.prefix",
    ),
    (
        "METRICS_PROMETHEUS_PORT_IN_NAME",
        Naming::Both,
        "metrics.prometheus.portInName",
    ),
    ("METRICS_SERVER_PORT", Naming::Both, "metrics.port"),
    ("ADAPTER_DRIVER", Naming::PrefixedOnly, "adapter.driver"),
    (
        "APP_MANAGER_DRIVER",
        Naming::PrefixedOnly,
        "appManager.driver",
    ),
    ("CACHE_DRIVER", Naming::PrefixedOnly, "cache.driver"),
    ("QUEUE_DRIVER", Naming::PrefixedOnly, "queue.driver"),
    (
        "RATE_LIMITER_DRIVER",
        Naming::PrefixedOnly,
        "rateLimiter.driver",
    ),
    ("SSL_CERT", Naming::PrefixedOnly, "ssl.certPath"),
    ("SSL_KEY", Naming::PrefixedOnly, "ssl.keyPath"),
    ("DEFAULT_APP_ID", Naming::Both, "appManager.array.apps.0.id"),
    (
        "DEFAULT_APP_KEY",
        Naming::Both,
        "appManager.array.apps.0.key",
    ),
    (
        "DEFAULT_APP_SECRET",
        Naming::Both,
        "appManager.array.apps.0.secret",
    ),
    (
        "DEFAULT_APP_MAX_CONNS",
        Naming::Both,
        "appManager.array.apps.0.maxConnections",
    ),
    (
        "DEFAULT_APP_ENABLE_CLIENT_MESSAGES",
        Naming::Both,
        "appManager.array.apps.0.enableClientMessages",
    ),
    (
        "DEFAULT_APP_ENABLED",
        Naming::Both,
        "appManager.array.apps.0.enabled",
    ),
    (
        "DEFAULT_APP_MAX_BACKEND_EVENTS_PER_SEC",
        Naming::Both,
        "appManager.array.apps.0.maxBackendEventsPerSecond",
    ),
    (
        "DEFAULT_APP_MAX_CLIENT_EVENTS_PER_SEC",
        Naming::Both,
        "appManager.array.apps.0.maxClientEventsPerSecond",
    ),
    (
        "DEFAULT_APP_MAX_READ_REQ_PER_SEC",
        Naming::Both,
        "appManager.array.apps.0.maxReadRequestsPerSecond",
    ),
    (
        "DEFAULT_APP_USER_AUTHENTICATION",
        Naming::Both,
        "appManager.array.apps.0.enableUserAuthentication",
    ),
    (
        "DEFAULT_APP_WEBHOOKS",
        Naming::Both,
        "appManager.array.apps.0.webhooks",
    ),
    ("FANOUTD_REACTORS", Naming::Exact, "fanoutd.reactors"),
    (
        "FANOUTD_ACTIVITY_TIMEOUT",
        Naming::Exact,
        "fanoutd.activityTimeout",
    ),
    ("FANOUTD_PONG_TIMEOUT", Naming::Exact, "fanoutd.pongTimeout"),
    (
        "FANOUTD_WS_MAX_MESSAGE_BYTES",
        Naming::Exact,
        "fanoutd.wsMaxMessageBytes",
    ),
    (
        "FANOUTD_WS_MAX_OUTPUT_BYTES",
        Naming::Exact,
        "fanoutd.wsMaxOutputBytes",
    ),
    (
        "FANOUTD_AUTH_TIMESTAMP_WINDOW",
        Naming::Exact,
        "fanoutd.authTimestampWindow",
    ),
    (
        "FANOUTD_HTTP_MAX_HEAD_BYTES",
        Naming::Exact,
        "fanoutd.http.maxHeadBytes",
    ),
    (
        "FANOUTD_HTTP_MAX_HEADERS",
        Naming::Exact,
        "fanoutd.http.maxHeaders",
    ),
    (
        "FANOUTD_HTTP_REQUEST_TIMEOUT_MS",
        Naming::Exact,
        "fanoutd.http.requestTimeoutMs",
    ),
    (
        "FANOUTD_HTTP_IDLE_TIMEOUT_MS",
        Naming::Exact,
        "fanoutd.http.idleTimeoutMs",
    ),
    (
        "FANOUTD_HTTP_MAX_REQUEST_SIZE_IN_MB",
        Naming::Exact,
        "httpApi.requestLimitInMb",
    ),
];

/// Top-level config-file keys of soketi options that fanoutd does not implement (yet): their
/// sub-keys (`cluster.port`, `database.redis.host`, `adapter.redis.prefix`, …) are accepted and
/// ignored, except the drivers and `ssl.certPath` / `ssl.keyPath`, which are checked. The
/// other soketi namespaces (`channelLimits`, `eventLimits`, `presence`, `metrics`, `httpApi`)
/// are fully implemented, so an unknown key there is a typo and is refused.
const IGNORED_NAMESPACES: &[&str] = &[
    "adapter",
    "appManager",
    "cache",
    "cluster",
    "cors",
    "database",
    "databasePooling",
    "instance",
    "queue",
    "rateLimiter",
    "ssl",
    "webhooks",
];

// ---------------------------------------------------------------------------------------------
// One raw setting and where it came from.

/// Where a setting was read, for error messages.
#[derive(Debug, Clone, PartialEq)]
enum Origin {
    /// An environment variable, as spelled (`SOKETI_PORT`, `PATH_PREFIX`).
    Env(String),
    /// A config-file key (dot path).
    File { path: String, key: String },
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::Env(name) => f.write_str(name),
            Origin::File { path, key } => write!(f, "{key} (config file {path})"),
        }
    }
}

/// A value before interpretation: an environment string, or a JSON value from the file.
#[derive(Debug, Clone, PartialEq)]
enum Raw {
    Text(String),
    Json(Value),
}

#[derive(Debug, Clone, PartialEq)]
struct Setting {
    origin: Origin,
    raw: Raw,
}

impl Setting {
    fn env(name: &str, value: &str) -> Setting {
        // soketi JSON-parses every variable: `"abc"` (with the quotes) is the string abc.
        let text = if value.trim_start().starts_with('"') {
            serde_json::from_str::<String>(value).unwrap_or_else(|_| value.to_string())
        } else {
            value.to_string()
        };
        Setting {
            origin: Origin::Env(name.to_string()),
            raw: Raw::Text(text),
        }
    }

    fn file(path: &str, key: String, value: Value) -> Setting {
        Setting {
            origin: Origin::File {
                path: path.to_string(),
                key,
            },
            raw: Raw::Json(value),
        }
    }

    fn is_env(&self) -> bool {
        matches!(self.origin, Origin::Env(_))
    }

    /// Empty (or only blanks) or JSON null: treated as not given, as soketi does.
    fn is_blank(&self) -> bool {
        match &self.raw {
            Raw::Text(s) | Raw::Json(Value::String(s)) => s.trim().is_empty(),
            Raw::Json(Value::Null) => true,
            Raw::Json(_) => false,
        }
    }

    /// The value as the user wrote it, quoted, shortened if very long.
    fn shown(&self) -> String {
        let full = match &self.raw {
            Raw::Text(s) => format!("{s:?}"),
            Raw::Json(v) => v.to_string(),
        };
        const MAX_CHARS: usize = 200;
        if full.chars().count() > MAX_CHARS {
            let cut: String = full.chars().take(MAX_CHARS).collect();
            format!("{cut}…")
        } else {
            full
        }
    }

    fn error(&self, expected: &str) -> ConfigError {
        ConfigError(format!(
            "{}: {}, got {}",
            self.origin,
            expected,
            self.shown()
        ))
    }

    /// The text of a string value (environment or JSON string).
    fn text(&self) -> Option<&str> {
        match &self.raw {
            Raw::Text(s) | Raw::Json(Value::String(s)) => Some(s),
            Raw::Json(_) => None,
        }
    }

    /// `true/false/1/0` (any case, as text or JSON). With `truthy`, as soketi's per-app
    /// booleans, any JSON number other than 0 is true too.
    fn boolean(&self, truthy: bool) -> Result<bool, ConfigError> {
        let parsed = match &self.raw {
            Raw::Json(Value::Bool(b)) => Some(*b),
            Raw::Json(Value::Number(n)) => n.as_f64().and_then(|f| {
                if f == 0.0 {
                    Some(false)
                } else if f == 1.0 || truthy {
                    Some(true)
                } else {
                    None
                }
            }),
            _ => match self
                .text()
                .map(|s| s.trim().to_ascii_lowercase())
                .as_deref()
            {
                Some("true" | "1") => Some(true),
                Some("false" | "0") => Some(false),
                _ => None,
            },
        };
        parsed.ok_or_else(|| self.error("expected true, false, 1 or 0"))
    }

    /// A decimal integer within `min..=max` (JSON numbers must be whole).
    fn integer(&self, min: i128, max: i128, expected: &str) -> Result<i128, ConfigError> {
        let parsed = match &self.raw {
            Raw::Json(Value::Number(n)) => json_integer(n),
            _ => self.text().and_then(|s| s.trim().parse::<i128>().ok()),
        };
        match parsed {
            Some(v) if (min..=max).contains(&v) => Ok(v),
            _ => Err(self.error(expected)),
        }
    }

    /// A finite decimal number accepted by `ok`.
    fn number(&self, ok: impl Fn(f64) -> bool, expected: &str) -> Result<f64, ConfigError> {
        let parsed = match &self.raw {
            Raw::Json(Value::Number(n)) => n.as_f64(),
            _ => self.text().and_then(|s| s.trim().parse::<f64>().ok()),
        };
        match parsed {
            Some(v) if v.is_finite() && ok(v) => Ok(v),
            _ => Err(self.error(expected)),
        }
    }

    /// A string; a JSON number becomes its decimal text (soketi turns integer app ids into
    /// strings, and looks apps up with loose equality).
    fn string(&self) -> Result<String, ConfigError> {
        match &self.raw {
            Raw::Text(s) | Raw::Json(Value::String(s)) => Ok(s.clone()),
            Raw::Json(Value::Number(n)) => Ok(n.to_string()),
            Raw::Json(_) => Err(self.error("expected a string")),
        }
    }

    fn ip(&self) -> Result<IpAddr, ConfigError> {
        let expected = "expected an IP address such as 0.0.0.0, 127.0.0.1 or ::";
        let text = self.text().ok_or_else(|| self.error(expected))?.trim();
        let bare = text
            .strip_prefix('[')
            .and_then(|t| t.strip_suffix(']'))
            .unwrap_or(text);
        bare.parse::<IpAddr>().map_err(|_| self.error(expected))
    }
}

/// A JSON number as an integer, if it is whole.
fn json_integer(n: &serde_json::Number) -> Option<i128> {
    if let Some(i) = n.as_i64() {
        return Some(i128::from(i));
    }
    if let Some(u) = n.as_u64() {
        return Some(i128::from(u));
    }
    let f = n.as_f64()?;
    if f.is_finite() && f.fract() == 0.0 && f.abs() <= MAX_INT as f64 {
        Some(f as i128)
    } else {
        None
    }
}

// ---------------------------------------------------------------------------------------------
// The merged settings: the file's flattened keys, overlaid by the environment.

struct Settings {
    map: BTreeMap<String, Setting>,
}

impl Settings {
    /// Removes and returns the setting for `key`, unless it is blank.
    fn take(&mut self, key: &str) -> Option<Setting> {
        self.map.remove(key).filter(|s| !s.is_blank())
    }

    /// Removes and returns the setting for `key`; an empty string counts (for settings whose
    /// value may be empty, such as `pathPrefix`), JSON null does not.
    fn take_keep_empty(&mut self, key: &str) -> Option<Setting> {
        self.map
            .remove(key)
            .filter(|s| !matches!(s.raw, Raw::Json(Value::Null)))
    }

    fn int(
        &mut self,
        key: &str,
        default: i128,
        min: i128,
        max: i128,
        expected: &str,
    ) -> Result<i128, ConfigError> {
        match self.take(key) {
            Some(s) => s.integer(min, max, expected),
            None => Ok(default),
        }
    }

    fn float(
        &mut self,
        key: &str,
        default: f64,
        ok: impl Fn(f64) -> bool,
        expected: &str,
    ) -> Result<f64, ConfigError> {
        match self.take(key) {
            Some(s) => s.number(ok, expected),
            None => Ok(default),
        }
    }

    fn boolean(&mut self, key: &str, default: bool) -> Result<bool, ConfigError> {
        match self.take(key) {
            Some(s) => s.boolean(false),
            None => Ok(default),
        }
    }

    fn ip(&mut self, key: &str) -> Result<IpAddr, ConfigError> {
        match self.take(key) {
            Some(s) => s.ip(),
            None => Ok(IpAddr::V4(Ipv4Addr::UNSPECIFIED)),
        }
    }

    /// A port, with where it was set (for the port-clash check); `None` for the default.
    fn port(&mut self, key: &str, default: u16) -> Result<(u16, Option<String>), ConfigError> {
        match self.take(key) {
            Some(s) => {
                let port = s.integer(0, 65_535, "expected a port number 0-65535")?;
                Ok((port as u16, Some(s.origin.to_string())))
            }
            None => Ok((default, None)),
        }
    }

    /// A driver option: only `supported` is implemented by fanoutd.
    fn driver(&mut self, key: &str, supported: &str) -> Result<(), ConfigError> {
        let Some(s) = self.take(key) else {
            return Ok(());
        };
        match s.text().map(str::trim) {
            Some(v) if v == supported => Ok(()),
            Some(_) => Err(s.error(&format!(
                "not supported yet by fanoutd (only {supported:?} is available)"
            ))),
            None => Err(s.error("expected a driver name")),
        }
    }
}

/// Flattens nested objects into dot paths (`{"metrics": {"enabled": true}}` →
/// `metrics.enabled`). Arrays and scalars are leaves; nulls are dropped (not given).
fn flatten(prefix: &str, object: &Map<String, Value>, out: &mut Vec<(String, Value)>) {
    for (k, v) in object {
        let key = if prefix.is_empty() {
            k.clone()
        } else {
            format!("{prefix}.{k}")
        };
        match v {
            Value::Object(inner) => flatten(&key, inner, out),
            Value::Null => {}
            other => out.push((key, other.clone())),
        }
    }
}

fn read_config_file(path: &str) -> Result<Vec<(String, Value)>, ConfigError> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| ConfigError(format!("config file {path}: cannot read it: {e}")))?;
    let value: Value = serde_json::from_str(&text)
        .map_err(|e| ConfigError(format!("config file {path}: invalid JSON: {e}")))?;
    let Value::Object(object) = value else {
        return Err(ConfigError(format!(
            "config file {path}: expected a JSON object of soketi options (\"port\": 6001, ...)"
        )));
    };
    let mut out = Vec::new();
    flatten("", &object, &mut out);
    Ok(out)
}

/// The value of one table entry of [`ENV_VARS`]: the first non-empty candidate name.
fn read_env(name: &str, naming: Naming, env: &dyn Fn(&str) -> Option<String>) -> Option<Setting> {
    let prefixed = format!("SOKETI_{name}");
    let candidates: &[&str] = match naming {
        Naming::Both => &[&prefixed, name],
        Naming::PrefixedOnly => &[&prefixed],
        Naming::Exact => &[name],
    };
    candidates.iter().find_map(|var| {
        env(var)
            .filter(|v| !v.trim().is_empty())
            .map(|v| Setting::env(var, &v))
    })
}

/// `--config FILE` / `--config=FILE`, after an optional leading `start`.
fn parse_args(args: &[String]) -> Result<Option<String>, ConfigError> {
    let rest = match args.split_first() {
        Some((first, rest)) if first == "start" => rest,
        _ => args,
    };
    let mut config = None;
    let mut iter = rest.iter();
    while let Some(arg) = iter.next() {
        let path = if arg == "--config" {
            iter.next().cloned().ok_or_else(|| {
                ConfigError("--config: missing the file name (--config FILE)".to_string())
            })?
        } else if let Some(path) = arg.strip_prefix("--config=") {
            path.to_string()
        } else {
            return Err(ConfigError(format!(
                "unknown command-line argument {arg:?} (usage: fanoutd [start] [--config=FILE])"
            )));
        };
        if path.is_empty() {
            return Err(ConfigError("--config: empty file name".to_string()));
        }
        if config.is_some() {
            return Err(ConfigError(format!(
                "--config given more than once (again: {path:?})"
            )));
        }
        config = Some(path);
    }
    Ok(config)
}

// ---------------------------------------------------------------------------------------------
// Apps.

/// The per-app fields and their accepted spellings (spec §4.4); the last present, non-null,
/// non-empty spelling wins.
const F_ID: &[&str] = &["id", "AppId"];
const F_KEY: &[&str] = &["key", "AppKey"];
const F_SECRET: &[&str] = &["secret", "AppSecret"];
const F_MAX_CONNECTIONS: &[&str] = &["maxConnections", "MaxConnections", "max_connections"];
const F_ENABLE_CLIENT_MESSAGES: &[&str] = &[
    "enableClientMessages",
    "EnableClientMessages",
    "enable_client_messages",
];
const F_ENABLED: &[&str] = &["enabled", "Enabled"];
const F_MAX_BACKEND_EVENTS: &[&str] = &[
    "maxBackendEventsPerSecond",
    "MaxBackendEventsPerSecond",
    "max_backend_events_per_sec",
];
const F_MAX_CLIENT_EVENTS: &[&str] = &[
    "maxClientEventsPerSecond",
    "MaxClientEventsPerSecond",
    "max_client_events_per_sec",
];
const F_MAX_READ_REQUESTS: &[&str] = &[
    "maxReadRequestsPerSecond",
    "MaxReadRequestsPerSecond",
    "max_read_req_per_sec",
];
const F_WEBHOOKS: &[&str] = &["webhooks", "Webhooks"];
const F_MAX_PRESENCE_MEMBERS: &[&str] = &[
    "maxPresenceMembersPerChannel",
    "MaxPresenceMembersPerChannel",
    "max_presence_members_per_channel",
];
const F_MAX_PRESENCE_MEMBER_SIZE: &[&str] = &[
    "maxPresenceMemberSizeInKb",
    "MaxPresenceMemberSizeInKb",
    "max_presence_member_size_in_kb",
];
const F_MAX_CHANNEL_NAME_LENGTH: &[&str] = &[
    "maxChannelNameLength",
    "MaxChannelNameLength",
    "max_channel_name_length",
];
const F_MAX_EVENT_CHANNELS: &[&str] = &[
    "maxEventChannelsAtOnce",
    "MaxEventChannelsAtOnce",
    "max_event_channels_at_once",
];
const F_MAX_EVENT_NAME_LENGTH: &[&str] = &[
    "maxEventNameLength",
    "MaxEventNameLength",
    "max_event_name_length",
];
const F_MAX_EVENT_PAYLOAD: &[&str] = &[
    "maxEventPayloadInKb",
    "MaxEventPayloadInKb",
    "max_event_payload_in_kb",
];
const F_MAX_EVENT_BATCH: &[&str] = &[
    "maxEventBatchSize",
    "MaxEventBatchSize",
    "max_event_batch_size",
];
const F_USER_AUTHENTICATION: &[&str] = &[
    "enableUserAuthentication",
    "EnableUserAuthentication",
    "enable_user_authentication",
];

const APPS_KEY: &str = "appManager.array.apps";

/// One app being assembled: its object from the file's list (if any), and the dot-path
/// overrides for its index (`appManager.array.apps.<n>.<field>`, from `DEFAULT_APP_*` or the
/// file).
struct AppSource<'a> {
    index: usize,
    /// The config file the list came from, when the app is listed there.
    listed_in: Option<&'a str>,
    object: Option<&'a Map<String, Value>>,
    overrides: Vec<(String, Setting)>,
}

impl AppSource<'_> {
    /// The value of a field: an override wins over the listed object (the environment over the
    /// file); among spellings of one source, the last spelling wins.
    fn field(&self, spellings: &[&str]) -> Option<Setting> {
        let mut best: Option<((bool, usize), &Setting)> = None;
        for (spelling, setting) in &self.overrides {
            let Some(pos) = spellings.iter().position(|s| s == spelling) else {
                continue;
            };
            if setting.is_blank() {
                continue;
            }
            let rank = (setting.is_env(), pos);
            if best.as_ref().is_none_or(|(r, _)| rank >= *r) {
                best = Some((rank, setting));
            }
        }
        if let Some((_, setting)) = best {
            return Some(setting.clone());
        }
        let (object, path) = (self.object?, self.listed_in?);
        let mut found = None;
        for spelling in spellings {
            if let Some(value) = object.get(*spelling) {
                let key = format!("{APPS_KEY}.{}.{spelling}", self.index);
                let setting = Setting::file(path, key, value.clone());
                if !setting.is_blank() {
                    found = Some(setting);
                }
            }
        }
        found
    }

    /// id, key and secret: required for an app listed in the file (a forgotten secret must
    /// not silently become the well-known `app-secret`); soketi's defaults otherwise. Returns
    /// the value and where it came from.
    fn credential(
        &self,
        name: &str,
        spellings: &[&str],
        default: &str,
    ) -> Result<(String, String), ConfigError> {
        match (self.field(spellings), self.listed_in) {
            // Blank values were skipped by field(), so the string is not empty.
            (Some(s), _) => Ok((s.string()?, s.origin.to_string())),
            (None, Some(path)) => Err(ConfigError(format!(
                "{APPS_KEY}.{} (config file {path}): the app has no {name} (accepted keys: {}), got nothing",
                self.index,
                spellings.join(", ")
            ))),
            (None, None) => Ok((
                default.to_string(),
                format!("{APPS_KEY}.{}.{name}", self.index),
            )),
        }
    }

    fn int(
        &self,
        spellings: &[&str],
        default: i128,
        min: i128,
        max: i128,
        expected: &str,
    ) -> Result<i128, ConfigError> {
        match self.field(spellings) {
            Some(s) => s.integer(min, max, expected),
            None => Ok(default),
        }
    }

    fn rate(&self, spellings: &[&str]) -> Result<i64, ConfigError> {
        let v = self.int(
            spellings,
            -1,
            -1,
            MAX_INT,
            "expected -1 (no limit) or an integer ≥ 0",
        )?;
        Ok(v as i64)
    }

    fn boolean(&self, spellings: &[&str], default: bool) -> Result<bool, ConfigError> {
        match self.field(spellings) {
            Some(s) => s.boolean(true),
            None => Ok(default),
        }
    }

    fn kb(&self, spellings: &[&str], default: f64) -> Result<f64, ConfigError> {
        match self.field(spellings) {
            Some(s) => s.number(|v| v > 0.0, "expected a size in KB greater than 0"),
            None => Ok(default),
        }
    }

    fn webhooks(&self) -> Result<Vec<Value>, ConfigError> {
        let Some(s) = self.field(F_WEBHOOKS) else {
            return Ok(Vec::new());
        };
        Ok(match &s.raw {
            Raw::Json(Value::Array(items)) => items.clone(),
            // A variable must hold a JSON array: a typo should not silently drop webhooks.
            Raw::Text(text) => match serde_json::from_str::<Value>(text) {
                Ok(Value::Array(items)) => items,
                _ => return Err(s.error("expected a JSON array of webhooks")),
            },
            // soketi: a JSON string is parsed; anything invalid gives no webhooks.
            Raw::Json(Value::String(text)) => match serde_json::from_str::<Value>(text) {
                Ok(Value::Array(items)) => items,
                _ => Vec::new(),
            },
            Raw::Json(_) => Vec::new(),
        })
    }

    fn build(&self, limits: &AppLimitDefaults) -> Result<(AppConfig, [String; 2]), ConfigError> {
        let (id, id_origin) = self.credential("id", F_ID, DEFAULT_APP_ID)?;
        let (key, key_origin) = self.credential("key", F_KEY, DEFAULT_APP_KEY)?;
        let (secret, _) = self.credential("secret", F_SECRET, DEFAULT_APP_SECRET)?;
        let length = "expected an integer ≥ 1";
        let app = AppConfig {
            id,
            key,
            secret,
            max_connections: self.int(
                F_MAX_CONNECTIONS,
                -1,
                -1,
                MAX_INT,
                "expected -1 or 0 (no limit) or a positive integer",
            )? as i64,
            enable_client_messages: self.boolean(F_ENABLE_CLIENT_MESSAGES, false)?,
            enabled: self.boolean(F_ENABLED, true)?,
            max_backend_events_per_sec: self.rate(F_MAX_BACKEND_EVENTS)?,
            max_client_events_per_sec: self.rate(F_MAX_CLIENT_EVENTS)?,
            max_read_req_per_sec: self.rate(F_MAX_READ_REQUESTS)?,
            webhooks: self.webhooks()?,
            max_presence_members_per_channel: self.int(
                F_MAX_PRESENCE_MEMBERS,
                limits.max_presence_members_per_channel.into(),
                1,
                u32::MAX.into(),
                "expected an integer 1-4294967295",
            )? as u32,
            max_presence_member_size_in_kb: self.kb(
                F_MAX_PRESENCE_MEMBER_SIZE,
                limits.max_presence_member_size_in_kb,
            )?,
            max_channel_name_length: self.int(
                F_MAX_CHANNEL_NAME_LENGTH,
                limits.max_channel_name_length as i128,
                1,
                MAX_INT,
                length,
            )? as usize,
            max_event_channels_at_once: self.int(
                F_MAX_EVENT_CHANNELS,
                limits.max_event_channels_at_once as i128,
                1,
                MAX_INT,
                length,
            )? as usize,
            max_event_name_length: self.int(
                F_MAX_EVENT_NAME_LENGTH,
                limits.max_event_name_length as i128,
                1,
                MAX_INT,
                length,
            )? as usize,
            max_event_payload_in_kb: self
                .kb(F_MAX_EVENT_PAYLOAD, limits.max_event_payload_in_kb)?,
            max_event_batch_size: self.int(
                F_MAX_EVENT_BATCH,
                limits.max_event_batch_size as i128,
                1,
                MAX_INT,
                length,
            )? as usize,
            enable_user_authentication: self.boolean(F_USER_AUTHENTICATION, false)?,
        };
        Ok((app, [id_origin, key_origin]))
    }
}

/// `appManager.array.apps.<n>.<field>` → (n, field).
fn split_app_key(key: &str) -> Option<(usize, &str)> {
    let rest = key.strip_prefix(APPS_KEY)?.strip_prefix('.')?;
    let (index, field) = rest.split_once('.')?;
    if index.is_empty() || !index.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some((index.parse().ok()?, field))
}

fn build_apps(
    settings: &mut Settings,
    limits: &AppLimitDefaults,
) -> Result<Vec<AppConfig>, ConfigError> {
    // Per-index overrides, removed from the map.
    let mut overrides: BTreeMap<usize, Vec<(String, Setting)>> = BTreeMap::new();
    let override_keys: Vec<String> = settings
        .map
        .keys()
        .filter(|k| split_app_key(k).is_some())
        .cloned()
        .collect();
    for key in override_keys {
        if let (Some((index, field)), Some(setting)) = (split_app_key(&key), settings.map.get(&key))
        {
            overrides
                .entry(index)
                .or_default()
                .push((field.to_string(), setting.clone()));
        }
        settings.map.remove(&key);
    }

    // The list from the file, or soketi's one default app.
    let list = settings.take_keep_empty(APPS_KEY);
    let mut sources: Vec<AppSource<'_>> = Vec::new();
    match &list {
        None => sources.push(AppSource {
            index: 0,
            listed_in: None,
            object: None,
            overrides: vec![],
        }),
        Some(setting) => {
            let (Raw::Json(Value::Array(items)), Origin::File { path, .. }) =
                (&setting.raw, &setting.origin)
            else {
                return Err(setting.error("expected a JSON array of apps"));
            };
            for (index, item) in items.iter().enumerate() {
                let Value::Object(object) = item else {
                    let key = format!("{APPS_KEY}.{index}");
                    return Err(
                        Setting::file(path, key, item.clone()).error("expected an app object")
                    );
                };
                sources.push(AppSource {
                    index,
                    listed_in: Some(path),
                    object: Some(object),
                    overrides: vec![],
                });
            }
        }
    }
    for (index, entries) in overrides {
        if index == sources.len() {
            // soketi's dot-path set creates the entry; its other fields take the defaults.
            sources.push(AppSource {
                index,
                listed_in: None,
                object: None,
                overrides: vec![],
            });
        }
        let count = sources.len();
        let Some(source) = sources.get_mut(index) else {
            let origin = entries.first().map_or_else(
                || format!("{APPS_KEY}.{index}"),
                |(_, setting)| setting.origin.to_string(),
            );
            return Err(ConfigError(format!(
                "{origin}: there is no app {index} (the list has {count}), got index {index}"
            )));
        };
        source.overrides = entries;
    }
    if sources.is_empty() {
        let origin = list.map_or_else(|| APPS_KEY.to_string(), |s| s.origin.to_string());
        return Err(ConfigError(format!(
            "{origin}: at least one app is required, got []"
        )));
    }

    let mut apps: Vec<AppConfig> = Vec::with_capacity(sources.len());
    for source in &sources {
        let (app, [id_origin, key_origin]) = source.build(limits)?;
        if let Some(other) = apps.iter().position(|a| a.id == app.id) {
            return Err(ConfigError(format!(
                "{id_origin}: app ids must be unique, got {:?} (already the id of app {other})",
                app.id
            )));
        }
        if let Some(other) = apps.iter().position(|a| a.key == app.key) {
            return Err(ConfigError(format!(
                "{key_origin}: app keys must be unique, got {:?} (already the key of app {other})",
                app.key
            )));
        }
        apps.push(app);
    }
    Ok(apps)
}

// ---------------------------------------------------------------------------------------------
// Loading.

impl Config {
    /// Loads from command-line args (without argv\[0\]) and an environment lookup. Args: an
    /// optional leading "start" (soketi's CLI is `soketi start --config=FILE`), `--config FILE`
    /// or `--config=FILE`; anything else → ConfigError naming it.
    pub fn load(
        args: &[String],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut settings = Settings {
            map: BTreeMap::new(),
        };
        if let Some(path) = parse_args(args)? {
            for (key, value) in read_config_file(&path)? {
                let setting = Setting::file(&path, key.clone(), value);
                settings.map.insert(key, setting);
            }
        }
        for &(name, naming, key) in ENV_VARS {
            if let Some(setting) = read_env(name, naming, env) {
                settings.map.insert(key.to_string(), setting);
            }
        }
        Self::from_settings(settings)
    }

    /// Like load(), reading the process environment, after merging a `.env` file from the
    /// current directory (KEY=VALUE lines, `#` comments, optional quotes; only for variables
    /// not already set), as soketi's dotenv does.
    pub fn from_process() -> Result<Config, ConfigError> {
        let args = std::env::args_os()
            .skip(1)
            .map(|a| {
                a.into_string().map_err(|a| {
                    ConfigError(format!("command-line argument {a:?} is not valid UTF-8"))
                })
            })
            .collect::<Result<Vec<String>, ConfigError>>()?;
        let dotenv = match std::fs::read_to_string(".env") {
            Ok(text) => parse_dotenv(&text),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => HashMap::new(),
            Err(e) => return Err(ConfigError(format!(".env: cannot read the file: {e}"))),
        };
        let lookup = |name: &str| merged_env(std::env::var_os(name), dotenv.get(name));
        Self::load(&args, &lookup)
    }

    fn from_settings(mut s: Settings) -> Result<Config, ConfigError> {
        // Modes and drivers first: an unsupported deployment must stop start-up.
        if let Some(mode) = s.take("mode") {
            match mode.text().map(str::trim) {
                Some("full" | "server") => {}
                Some("worker") => {
                    return Err(mode.error(
                        "mode \"worker\" (queue workers only) is not supported yet by fanoutd; use full or server",
                    ))
                }
                _ => return Err(mode.error("expected full, server or worker")),
            }
        }
        if let Some(driver) = s.take("metrics.driver") {
            if driver.text().map(str::trim) != Some("prometheus") {
                return Err(driver.error("only \"prometheus\" is supported"));
            }
        }
        s.driver("adapter.driver", "local")?;
        s.driver("appManager.driver", "array")?;
        s.driver("cache.driver", "memory")?;
        s.driver("queue.driver", "sync")?;
        s.driver("rateLimiter.driver", "local")?;
        for key in ["ssl.certPath", "ssl.keyPath"] {
            if let Some(ssl) = s.take(key) {
                return Err(ssl.error(
                    "TLS is not supported yet by fanoutd (terminate TLS in a proxy in front of it)",
                ));
            }
        }

        let host = s.ip("host")?;
        let (port, port_origin) = s.port("port", DEFAULT_PORT)?;
        let path_prefix = match s.take_keep_empty("pathPrefix") {
            Some(p) => {
                let value = p.string()?;
                let bad = |c: char| c.is_whitespace() || c == '?' || c == '#';
                if !(value.is_empty() || value.starts_with('/')) || value.contains(bad) {
                    return Err(p.error(
                        "expected an empty prefix or a path starting with / (no spaces, ? or #)",
                    ));
                }
                value
            }
            None => String::new(),
        };
        let debug = s.boolean("debug", false)?;

        let ms = "expected a number of milliseconds";
        let shutdown_grace_period_ms = s.int(
            "shutdownGracePeriod",
            DEFAULT_SHUTDOWN_GRACE_PERIOD_MS.into(),
            0,
            MAX_INT,
            "expected a number of milliseconds ≥ 0",
        )? as u64;
        let user_authentication_timeout_ms = s.int(
            "userAuthenticationTimeout",
            DEFAULT_USER_AUTHENTICATION_TIMEOUT_MS.into(),
            1,
            MAX_INT,
            "expected a number of milliseconds ≥ 1",
        )? as u64;
        let channel_cache_ttl_secs = s.int(
            "channelLimits.cacheTtl",
            DEFAULT_CHANNEL_CACHE_TTL_SECS.into(),
            0,
            MAX_INT,
            "expected a number of seconds ≥ 0",
        )? as u64;

        let length = "expected an integer ≥ 1";
        let mut limits = AppLimitDefaults::default();
        limits.max_channel_name_length = s.int(
            "channelLimits.maxNameLength",
            limits.max_channel_name_length as i128,
            1,
            MAX_INT,
            length,
        )? as usize;
        limits.max_event_batch_size = s.int(
            "eventLimits.maxBatchSize",
            limits.max_event_batch_size as i128,
            1,
            MAX_INT,
            length,
        )? as usize;
        limits.max_event_channels_at_once = s.int(
            "eventLimits.maxChannelsAtOnce",
            limits.max_event_channels_at_once as i128,
            1,
            MAX_INT,
            length,
        )? as usize;
        limits.max_event_name_length = s.int(
            "eventLimits.maxNameLength",
            limits.max_event_name_length as i128,
            1,
            MAX_INT,
            length,
        )? as usize;
        limits.max_event_payload_in_kb = s.float(
            "eventLimits.maxPayloadInKb",
            limits.max_event_payload_in_kb,
            |v| v > 0.0,
            "expected a size in KB greater than 0",
        )?;
        limits.max_presence_member_size_in_kb = s.float(
            "presence.maxMemberSizeInKb",
            limits.max_presence_member_size_in_kb,
            |v| v > 0.0,
            "expected a size in KB greater than 0",
        )?;
        limits.max_presence_members_per_channel = s.int(
            "presence.maxMembersPerChannel",
            limits.max_presence_members_per_channel.into(),
            1,
            u32::MAX.into(),
            "expected an integer 1-4294967295",
        )? as u32;

        let request_limit_mb = s.float(
            "httpApi.requestLimitInMb",
            DEFAULT_HTTP_REQUEST_LIMIT_MB,
            |v| v * MEBIBYTE >= 1.0 && v <= 1_048_576.0,
            "expected a size in MB greater than 0 (at most 1048576)",
        )?;
        let http = HttpConfig {
            max_body_bytes: (request_limit_mb * MEBIBYTE) as u64,
            max_head_bytes: s.int(
                "fanoutd.http.maxHeadBytes",
                DEFAULT_HTTP_MAX_HEAD_BYTES as i128,
                MIN_BYTE_LIMIT,
                MAX_INT,
                "expected a number of bytes ≥ 1024",
            )? as usize,
            max_headers: s.int(
                "fanoutd.http.maxHeaders",
                DEFAULT_HTTP_MAX_HEADERS as i128,
                1,
                MAX_HTTP_HEADERS,
                "expected an integer 1-64",
            )? as usize,
            request_timeout_ms: s.int(
                "fanoutd.http.requestTimeoutMs",
                DEFAULT_HTTP_REQUEST_TIMEOUT_MS.into(),
                1,
                MAX_INT,
                ms,
            )? as u64,
            idle_timeout_ms: s.int(
                "fanoutd.http.idleTimeoutMs",
                DEFAULT_HTTP_IDLE_TIMEOUT_MS.into(),
                1,
                MAX_INT,
                ms,
            )? as u64,
            accept_traffic_memory_threshold: s.float(
                "httpApi.acceptTraffic.memoryThreshold",
                DEFAULT_ACCEPT_TRAFFIC_MEMORY_THRESHOLD,
                |v| v >= 0.0,
                "expected a percentage ≥ 0",
            )?,
        };

        let reactors = match s.take("fanoutd.reactors") {
            Some(r) => r.integer(1, MAX_REACTORS, "expected an integer 1-256")? as usize,
            None => default_reactors(),
        };
        let activity_timeout_secs = s.int(
            "fanoutd.activityTimeout",
            DEFAULT_ACTIVITY_TIMEOUT_SECS.into(),
            1,
            u32::MAX.into(),
            "expected a number of seconds ≥ 1",
        )? as u32;
        let pong_timeout_secs = s.int(
            "fanoutd.pongTimeout",
            DEFAULT_PONG_TIMEOUT_SECS.into(),
            1,
            u32::MAX.into(),
            "expected a number of seconds ≥ 1",
        )? as u32;
        let ws_max_message_bytes = s.int(
            "fanoutd.wsMaxMessageBytes",
            DEFAULT_WS_MAX_MESSAGE_BYTES as i128,
            MIN_BYTE_LIMIT,
            MAX_INT,
            "expected a number of bytes ≥ 1024",
        )? as usize;
        let ws_max_output_bytes = s.int(
            "fanoutd.wsMaxOutputBytes",
            DEFAULT_WS_MAX_OUTPUT_BYTES as i128,
            MIN_BYTE_LIMIT,
            MAX_INT,
            "expected a number of bytes ≥ 1024",
        )? as usize;
        let auth_timestamp_window_secs = s.int(
            "fanoutd.authTimestampWindow",
            DEFAULT_AUTH_TIMESTAMP_WINDOW_SECS.into(),
            0,
            MAX_INT,
            "expected a number of seconds ≥ 0 (0 disables the check)",
        )? as u64;

        let metrics_enabled = s.boolean("metrics.enabled", false)?;
        let metrics_host = s.ip("metrics.host")?;
        let (metrics_port, metrics_port_origin) = s.port("metrics.port", DEFAULT_METRICS_PORT)?;
        let port_in_name = s.boolean("metrics.prometheus.portInName", true)?;
        let prefix = match s.take_keep_empty("metrics.prometheus.prefix") {
            Some(p) => {
                let value = p.string()?;
                let valid_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == ':';
                if !value.chars().all(valid_char) || value.starts_with(|c: char| c.is_ascii_digit())
                {
                    return Err(p.error(
                        "expected a Prometheus name prefix (letters, digits, _ and :, not starting with a digit)",
                    ));
                }
                if value.is_empty() && port_in_name {
                    return Err(p.error(
                        "an empty prefix needs METRICS_PROMETHEUS_PORT_IN_NAME=false (a metric name cannot start with the port's digits)",
                    ));
                }
                value
            }
            None => DEFAULT_METRICS_PREFIX.to_string(),
        };
        if port != 0 && port == metrics_port && hosts_overlap(host, metrics_host) {
            let origin = metrics_port_origin
                .or(port_origin)
                .unwrap_or_else(|| "SOKETI_METRICS_SERVER_PORT".to_string());
            return Err(ConfigError(format!(
                "{origin}: the public port and the metrics port must differ, got {port} for both"
            )));
        }

        let apps = build_apps(&mut s, &limits)?;
        reject_unknown_keys(&s)?;

        Ok(Config {
            host,
            port,
            path_prefix,
            debug,
            reactors,
            shutdown_grace_period_ms,
            user_authentication_timeout_ms,
            channel_cache_ttl_secs,
            activity_timeout_secs,
            pong_timeout_secs,
            ws_max_message_bytes,
            ws_max_output_bytes,
            http,
            auth_timestamp_window_secs,
            metrics: MetricsConfig {
                enabled: metrics_enabled,
                host: metrics_host,
                port: metrics_port,
                prefix,
                port_in_name,
            },
            apps,
        })
    }
}

/// Whether two listeners on the same port would clash.
fn hosts_overlap(a: IpAddr, b: IpAddr) -> bool {
    a == b || a.is_unspecified() || b.is_unspecified()
}

/// What is left once every known key was read: soketi options fanoutd does not implement are
/// ignored; anything else is a typo or a misplaced key, and stops start-up.
fn reject_unknown_keys(s: &Settings) -> Result<(), ConfigError> {
    for (key, setting) in &s.map {
        if key.starts_with("appManager.array.") {
            return Err(setting.error(&format!(
                "not an app setting ({APPS_KEY} is a list of app objects, \
                 {APPS_KEY}.<index>.<field> sets one field)"
            )));
        }
        let top = key.split('.').next().unwrap_or(key);
        if IGNORED_NAMESPACES.contains(&top) && key.contains('.') {
            continue;
        }
        let what = if top == "fanoutd" {
            "unknown fanoutd setting"
        } else {
            "unknown option"
        };
        return Err(setting.error(&format!("{what} (see the README for the accepted keys)")));
    }
    Ok(())
}

/// The process's value of a variable, else the `.env` file's (dotenv never overrides a
/// variable that is set, even to an empty value).
fn merged_env(process: Option<std::ffi::OsString>, dotenv: Option<&String>) -> Option<String> {
    match process {
        Some(value) => Some(value.to_string_lossy().into_owned()),
        None => dotenv.cloned(),
    }
}

/// Parses a `.env` file as the `dotenv` package (v16) does: `KEY=VALUE` lines, an optional
/// `export ` prefix, `#` comments (also after an unquoted value), values optionally in single,
/// double or back quotes (`\n` and `\r` expanded inside double quotes). A later line wins over
/// an earlier one for the same key; lines that do not parse are skipped.
fn parse_dotenv(text: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    for line in text.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let line = line.strip_prefix("export ").map_or(line, str::trim_start);
        let Some((key, value)) = line.split_once('=') else {
            continue;
        };
        let key = key.trim();
        let key_char = |c: char| c.is_ascii_alphanumeric() || c == '_' || c == '.' || c == '-';
        if key.is_empty() || !key.chars().all(key_char) {
            continue;
        }
        out.insert(key.to_string(), dotenv_value(value.trim()));
    }
    out
}

fn dotenv_value(value: &str) -> String {
    if let Some(quote) = value
        .chars()
        .next()
        .filter(|c| matches!(c, '"' | '\'' | '`'))
    {
        let inner = &value[1..];
        let mut escaped = false;
        let end = inner.char_indices().find_map(|(i, c)| {
            let closes = c == quote && !escaped;
            escaped = c == '\\' && !escaped;
            closes.then_some(i)
        });
        if let Some(end) = end {
            let content = &inner[..end];
            return if quote == '"' {
                content.replace("\\n", "\n").replace("\\r", "\r")
            } else {
                content.to_string()
            };
        }
    }
    let unquoted = value.split('#').next().unwrap_or("");
    unquoted.trim().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |name: &str| map.get(name).cloned()
    }

    fn load_env(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        Config::load(&[], &env_of(pairs))
    }

    fn load_file(json: &str, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let file = TempFile::new(json);
        Config::load(&[format!("--config={}", file.path)], &env_of(pairs))
    }

    fn expect_err(result: Result<Config, ConfigError>) -> String {
        match result {
            Ok(c) => panic!("expected an error, got {c:?}"),
            Err(e) => e.0,
        }
    }

    /// A file under the temp dir, removed when dropped.
    struct TempFile {
        path: String,
    }

    impl TempFile {
        fn new(contents: &str) -> TempFile {
            static NEXT: AtomicUsize = AtomicUsize::new(0);
            let n = NEXT.fetch_add(1, Ordering::Relaxed);
            let path = std::env::temp_dir().join(format!(
                "fanoutd-config-test-{}-{n}.json",
                std::process::id()
            ));
            std::fs::write(&path, contents).unwrap();
            TempFile {
                path: path.to_string_lossy().into_owned(),
            }
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.path);
        }
    }

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    #[test]
    fn defaults_are_soketis() {
        let c = Config::default();
        assert_eq!(c.host, ip("0.0.0.0"));
        assert_eq!(c.port, 6001);
        assert_eq!(c.path_prefix, "");
        assert!(!c.debug);
        assert!(c.reactors >= 1 && c.reactors <= 256);
        assert_eq!(c.shutdown_grace_period_ms, 3000);
        assert_eq!(c.user_authentication_timeout_ms, 30000);
        assert_eq!(c.channel_cache_ttl_secs, 3600);
        assert_eq!(c.activity_timeout_secs, 30);
        assert_eq!(c.pong_timeout_secs, 30);
        assert_eq!(c.ws_max_message_bytes, 1 << 20);
        assert_eq!(c.ws_max_output_bytes, 1 << 20);
        assert_eq!(c.auth_timestamp_window_secs, 600);
        assert_eq!(c.http.max_body_bytes, 100 * 1024 * 1024);
        assert_eq!(c.http.max_head_bytes, 16384);
        assert_eq!(c.http.max_headers, 64);
        assert_eq!(c.http.request_timeout_ms, 10000);
        assert_eq!(c.http.idle_timeout_ms, 60000);
        assert_eq!(c.http.accept_traffic_memory_threshold, 85.0);
        assert!(!c.metrics.enabled);
        assert_eq!(c.metrics.host, ip("0.0.0.0"));
        assert_eq!(c.metrics.port, 9601);
        assert_eq!(c.metrics.prefix, "soketi_");
        assert!(c.metrics.port_in_name);
        let expected_app = AppConfig {
            id: "app-id".into(),
            key: "app-key".into(),
            secret: "app-secret".into(),
            max_connections: -1,
            enable_client_messages: false,
            enabled: true,
            max_backend_events_per_sec: -1,
            max_client_events_per_sec: -1,
            max_read_req_per_sec: -1,
            webhooks: vec![],
            max_presence_members_per_channel: 100,
            max_presence_member_size_in_kb: 2.0,
            max_channel_name_length: 200,
            max_event_channels_at_once: 100,
            max_event_name_length: 200,
            max_event_payload_in_kb: 100.0,
            max_event_batch_size: 10,
            enable_user_authentication: false,
        };
        assert_eq!(c.apps, vec![expected_app]);
        // Loading with nothing set gives exactly the defaults.
        assert_eq!(load_env(&[]).unwrap(), c);
        assert_eq!(Config::load(&["start".into()], &env_of(&[])).unwrap(), c);
    }

    type Check = fn(&Config) -> bool;

    /// (name without prefix, naming, value, check of the resulting config)
    const ENV_CASES: &[(&str, Naming, &str, Check)] = &[
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
        ("ADAPTER_DRIVER", Naming::PrefixedOnly, "local", |_| true),
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
    ];

    #[test]
    fn every_variable_is_tested_and_every_case_is_a_variable() {
        // SSL_CERT and SSL_KEY only ever refuse: see unsupported_drivers_stop_start_up.
        for &(name, naming, _) in ENV_VARS {
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
                ENV_VARS.iter().any(|&(n, k, _)| n == name && k == naming),
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

    #[test]
    fn prefixed_wins_and_empty_is_ignored() {
        let c = load_env(&[("SOKETI_PATH_PREFIX", "/a"), ("PATH_PREFIX", "/b")]).unwrap();
        assert_eq!(c.path_prefix, "/a");
        let c = load_env(&[
            ("SOKETI_EVENT_MAX_BATCH_SIZE", ""),
            ("EVENT_MAX_BATCH_SIZE", "4"),
        ])
        .unwrap();
        assert_eq!(c.apps[0].max_event_batch_size, 4);
        let c = load_env(&[("SOKETI_PORT", ""), ("SOKETI_DEFAULT_APP_ID", "  ")]).unwrap();
        assert_eq!(c, Config::default());
        // The bad unprefixed value is never looked at when the prefixed one is set.
        let c = load_env(&[
            ("SOKETI_METRICS_SERVER_PORT", "9000"),
            ("METRICS_SERVER_PORT", "x"),
        ])
        .unwrap();
        assert_eq!(c.metrics.port, 9000);
    }

    #[test]
    fn booleans_and_numbers() {
        for (v, want) in [
            ("true", true),
            ("TRUE", true),
            ("1", true),
            ("false", false),
            ("False", false),
            ("0", false),
        ] {
            assert_eq!(load_env(&[("SOKETI_DEBUG", v)]).unwrap().debug, want, "{v}");
        }
        assert_eq!(load_env(&[("SOKETI_PORT", " 6005 ")]).unwrap().port, 6005);
        assert_eq!(load_env(&[("SOKETI_PORT", "0")]).unwrap().port, 0);
        assert_eq!(load_env(&[("SOKETI_HOST", "[::]")]).unwrap().host, ip("::"));
    }

    /// (variable, bad value, a phrase of the message)
    const BAD_CASES: &[(&str, &str, &str)] = &[
        ("SOKETI_PORT", "abc", "expected a port number 0-65535"),
        ("SOKETI_PORT", "65536", "expected a port number 0-65535"),
        ("SOKETI_PORT", "-1", "expected a port number 0-65535"),
        ("SOKETI_PORT", "6001.5", "expected a port number 0-65535"),
        ("SOKETI_METRICS_SERVER_PORT", "70000", "port"),
        ("SOKETI_HOST", "localhost", "IP address"),
        ("METRICS_HOST", "0.0.0", "IP address"),
        ("SOKETI_DEBUG", "yes", "true, false, 1 or 0"),
        ("METRICS_ENABLED", "2", "true, false, 1 or 0"),
        (
            "SOKETI_METRICS_PROMETHEUS_PORT_IN_NAME",
            "no",
            "true, false, 1 or 0",
        ),
        ("SOKETI_MODE", "cluster", "expected full, server or worker"),
        ("SOKETI_MODE", "worker", "not supported yet by fanoutd"),
        (
            "SOKETI_METRICS_DRIVER",
            "statsd",
            "only \"prometheus\" is supported",
        ),
        ("SOKETI_PATH_PREFIX", "ws", "starting with /"),
        ("SOKETI_PATH_PREFIX", "/a b", "starting with /"),
        ("SOKETI_SHUTDOWN_GRACE_PERIOD", "-5", "milliseconds"),
        ("SOKETI_USER_AUTHENTICATION_TIMEOUT", "0", "milliseconds"),
        ("SOKETI_CHANNEL_CACHE_TTL", "1h", "seconds"),
        ("SOKETI_CHANNEL_LIMITS_MAX_NAME_LENGTH", "0", "≥ 1"),
        ("SOKETI_EVENT_MAX_BATCH_SIZE", "0", "≥ 1"),
        ("SOKETI_EVENT_MAX_CHANNELS_AT_ONCE", "-1", "≥ 1"),
        ("SOKETI_EVENT_MAX_NAME_LENGTH", "1.5", "≥ 1"),
        ("SOKETI_EVENT_MAX_SIZE_IN_KB", "0", "greater than 0"),
        ("SOKETI_EVENT_MAX_SIZE_IN_KB", "inf", "greater than 0"),
        ("SOKETI_PRESENCE_MAX_MEMBER_SIZE", "NaN", "greater than 0"),
        ("SOKETI_PRESENCE_MAX_MEMBERS", "0", "1-4294967295"),
        (
            "SOKETI_HTTP_ACCEPT_TRAFFIC_MEMORY_THRESHOLD",
            "-1",
            "percentage",
        ),
        (
            "SOKETI_METRICS_PROMETHEUS_PREFIX",
            "my-prefix",
            "Prometheus name prefix",
        ),
        (
            "SOKETI_METRICS_PROMETHEUS_PREFIX",
            "1x",
            "Prometheus name prefix",
        ),
        ("SOKETI_DEFAULT_APP_MAX_CONNS", "-2", "no limit"),
        ("SOKETI_DEFAULT_APP_MAX_CONNS", "ten", "no limit"),
        ("SOKETI_DEFAULT_APP_ENABLED", "yes", "true, false, 1 or 0"),
        (
            "SOKETI_DEFAULT_APP_ENABLE_CLIENT_MESSAGES",
            "on",
            "true, false, 1 or 0",
        ),
        (
            "SOKETI_DEFAULT_APP_USER_AUTHENTICATION",
            "maybe",
            "true, false, 1 or 0",
        ),
        (
            "SOKETI_DEFAULT_APP_MAX_BACKEND_EVENTS_PER_SEC",
            "fast",
            "no limit",
        ),
        (
            "SOKETI_DEFAULT_APP_MAX_CLIENT_EVENTS_PER_SEC",
            "-3",
            "no limit",
        ),
        ("SOKETI_DEFAULT_APP_MAX_READ_REQ_PER_SEC", "1e3", "no limit"),
        ("SOKETI_DEFAULT_APP_WEBHOOKS", "{\"url\":1}", "JSON array"),
        ("SOKETI_DEFAULT_APP_WEBHOOKS", "[oops", "JSON array"),
        ("FANOUTD_REACTORS", "0", "1-256"),
        ("FANOUTD_REACTORS", "257", "1-256"),
        ("FANOUTD_ACTIVITY_TIMEOUT", "0", "seconds"),
        ("FANOUTD_PONG_TIMEOUT", "x", "seconds"),
        ("FANOUTD_WS_MAX_MESSAGE_BYTES", "1023", "≥ 1024"),
        ("FANOUTD_WS_MAX_OUTPUT_BYTES", "0", "≥ 1024"),
        ("FANOUTD_AUTH_TIMESTAMP_WINDOW", "-1", "seconds"),
        ("FANOUTD_HTTP_MAX_HEAD_BYTES", "100", "≥ 1024"),
        ("FANOUTD_HTTP_MAX_HEADERS", "65", "1-64"),
        ("FANOUTD_HTTP_MAX_HEADERS", "0", "1-64"),
        ("FANOUTD_HTTP_REQUEST_TIMEOUT_MS", "0", "milliseconds"),
        ("FANOUTD_HTTP_IDLE_TIMEOUT_MS", "soon", "milliseconds"),
        ("FANOUTD_HTTP_MAX_REQUEST_SIZE_IN_MB", "0", "MB"),
        ("FANOUTD_HTTP_MAX_REQUEST_SIZE_IN_MB", "99999999", "MB"),
    ];

    #[test]
    fn each_bad_value_names_the_variable_and_the_value() {
        for &(var, value, phrase) in BAD_CASES {
            let msg = expect_err(load_env(&[(var, value)]));
            assert!(msg.starts_with(&format!("{var}: ")), "{var}={value}: {msg}");
            assert!(msg.contains(&format!("{value:?}")), "{var}={value}: {msg}");
            assert!(msg.contains(phrase), "{var}={value}: {msg}");
        }
        let msg = expect_err(load_env(&[("SOKETI_PORT", "abc")]));
        assert_eq!(
            msg,
            "SOKETI_PORT: expected a port number 0-65535, got \"abc\""
        );
        let msg = expect_err(load_env(&[("METRICS_DRIVER", "x")]));
        assert_eq!(
            msg,
            "METRICS_DRIVER: only \"prometheus\" is supported, got \"x\""
        );
    }

    #[test]
    fn unsupported_drivers_stop_start_up() {
        let cases = [
            ("SOKETI_ADAPTER_DRIVER", "redis"),
            ("SOKETI_ADAPTER_DRIVER", "nats"),
            ("SOKETI_ADAPTER_DRIVER", "cluster"),
            ("SOKETI_APP_MANAGER_DRIVER", "mysql"),
            ("SOKETI_APP_MANAGER_DRIVER", "postgres"),
            ("SOKETI_APP_MANAGER_DRIVER", "dynamodb"),
            ("SOKETI_CACHE_DRIVER", "redis"),
            ("SOKETI_QUEUE_DRIVER", "redis"),
            ("SOKETI_QUEUE_DRIVER", "sqs"),
            ("SOKETI_RATE_LIMITER_DRIVER", "redis"),
            ("SOKETI_RATE_LIMITER_DRIVER", "cluster"),
            ("SOKETI_SSL_CERT", "/etc/cert.pem"),
            ("SOKETI_SSL_KEY", "/etc/key.pem"),
            ("SOKETI_MODE", "worker"),
        ];
        for (var, value) in cases {
            let msg = expect_err(load_env(&[(var, value)]));
            assert!(msg.starts_with(&format!("{var}: ")), "{msg}");
            assert!(msg.contains("not supported yet by fanoutd"), "{msg}");
            assert!(msg.contains(&format!("{value:?}")), "{msg}");
        }
        // The same from the file, named by its key.
        let msg = expect_err(load_file(r#"{"adapter": {"driver": "redis"}}"#, &[]));
        assert!(msg.starts_with("adapter.driver (config file "), "{msg}");
        assert!(msg.contains("not supported yet by fanoutd"), "{msg}");
        let msg = expect_err(load_file(r#"{"ssl.certPath": "/c.pem"}"#, &[]));
        assert!(msg.starts_with("ssl.certPath (config file "), "{msg}");
        // The supported ones and empty TLS paths are fine.
        let ok = r#"{"adapter.driver": "local", "appManager.driver": "array", "cache.driver": "memory",
            "queue.driver": "sync", "rateLimiter.driver": "local", "ssl": {"certPath": "", "keyPath": ""},
            "metrics.driver": "prometheus", "mode": "full"}"#;
        assert_eq!(load_file(ok, &[]).unwrap(), Config::default());
    }

    const TWO_APPS: &str = r#"{
        "port": 6002,
        "debug": "true",
        "eventLimits": {"maxBatchSize": 20},
        "appManager.array.apps": [
            {
                "id": 40000,
                "key": "key-1",
                "secret": "secret-1",
                "maxConnections": 5,
                "max_connections": "7",
                "enableClientMessages": "false",
                "EnableClientMessages": "true",
                "enabled": 1,
                "maxBackendEventsPerSecond": null,
                "max_backend_events_per_sec": "",
                "MaxClientEventsPerSecond": 10,
                "max_read_req_per_sec": "3",
                "webhooks": "[{\"url\":\"http://127.0.0.1:3001/webhook\",\"event_types\":[\"client_event\"]}]",
                "max_event_payload_in_kb": "1.5",
                "MaxPresenceMembersPerChannel": 4.0,
                "enable_user_authentication": 1,
                "somethingElse": {"ignored": true}
            },
            {
                "AppId": "app-2",
                "AppKey": "key-2",
                "AppSecret": "secret-2",
                "MaxConnections": 0,
                "Enabled": "false",
                "Webhooks": "not json",
                "max_channel_name_length": 64,
                "MaxEventBatchSize": "2"
            }
        ]
    }"#;

    #[test]
    fn config_file_with_two_apps_in_mixed_spellings() {
        let c = load_file(TWO_APPS, &[]).unwrap();
        assert_eq!(c.port, 6002);
        assert!(c.debug);
        assert_eq!(c.apps.len(), 2);
        let a = &c.apps[0];
        assert_eq!(
            (a.id.as_str(), a.key.as_str(), a.secret.as_str()),
            ("40000", "key-1", "secret-1")
        );
        assert_eq!(a.max_connections, 7, "the last spelling wins");
        assert!(a.enable_client_messages);
        assert!(a.enabled);
        assert_eq!(
            a.max_backend_events_per_sec, -1,
            "null and empty are not given"
        );
        assert_eq!(a.max_client_events_per_sec, 10);
        assert_eq!(a.max_read_req_per_sec, 3);
        assert_eq!(a.webhooks.len(), 1);
        assert_eq!(a.webhooks[0]["event_types"][0], "client_event");
        assert_eq!(a.max_event_payload_in_kb, 1.5);
        assert_eq!(a.max_presence_members_per_channel, 4);
        assert!(a.enable_user_authentication);
        assert_eq!(
            a.max_event_batch_size, 20,
            "server-level default from the file"
        );
        assert_eq!(a.max_channel_name_length, 200);
        let b = &c.apps[1];
        assert_eq!(
            (b.id.as_str(), b.key.as_str(), b.secret.as_str()),
            ("app-2", "key-2", "secret-2")
        );
        assert_eq!(b.max_connections, 0);
        assert!(!b.enabled);
        assert!(
            b.webhooks.is_empty(),
            "an invalid JSON string gives no webhooks"
        );
        assert_eq!(b.max_channel_name_length, 64);
        assert_eq!(b.max_event_batch_size, 2);
        assert_eq!(b.max_event_payload_in_kb, 100.0);
        assert!(!b.enable_client_messages);
    }

    #[test]
    fn default_app_variables_override_the_first_listed_app() {
        let env = [
            ("SOKETI_DEFAULT_APP_SECRET", "from-env"),
            ("SOKETI_DEFAULT_APP_MAX_CONNS", "99"),
            ("SOKETI_EVENT_MAX_BATCH_SIZE", "30"),
            ("SOKETI_PORT", "7000"),
        ];
        let c = load_file(TWO_APPS, &env).unwrap();
        assert_eq!(c.apps.len(), 2, "no extra app");
        assert_eq!(c.apps[0].id, "40000");
        assert_eq!(c.apps[0].secret, "from-env");
        assert_eq!(
            c.apps[0].max_connections, 99,
            "env beats every file spelling"
        );
        assert_eq!(c.apps[1].secret, "secret-2");
        assert_eq!(
            c.apps[0].max_event_batch_size, 30,
            "env server-level default beats the file"
        );
        assert_eq!(
            c.apps[1].max_event_batch_size, 2,
            "the app's own value beats both"
        );
        assert_eq!(c.port, 7000, "env overrides the file");
    }

    #[test]
    fn nested_and_dotted_forms_are_the_same() {
        let nested = r#"{"metrics": {"enabled": true, "port": 9700, "prometheus": {"prefix": "x_", "portInName": false}},
            "channelLimits": {"maxNameLength": 30, "cacheTtl": 5},
            "eventLimits": {"maxPayloadInKb": 50, "maxChannelsAtOnce": 9, "maxNameLength": 40},
            "presence": {"maxMembersPerChannel": 6, "maxMemberSizeInKb": 1},
            "httpApi": {"requestLimitInMb": 1, "acceptTraffic": {"memoryThreshold": 70}},
            "shutdownGracePeriod": 100, "userAuthenticationTimeout": 200, "pathPrefix": "/p",
            "host": "127.0.0.1", "mode": "server",
            "fanoutd": {"reactors": 2, "activityTimeout": 10, "pongTimeout": 11, "wsMaxMessageBytes": 2048,
                "wsMaxOutputBytes": 4096, "authTimestampWindow": 60,
                "http": {"maxHeadBytes": 4096, "maxHeaders": 16, "requestTimeoutMs": 1000, "idleTimeoutMs": 2000}},
            "appManager": {"array": {"apps": [{"id": "a", "key": "k", "secret": "s"}]}}}"#;
        let dotted = r#"{"metrics.enabled": true, "metrics.port": 9700, "metrics.prometheus.prefix": "x_",
            "metrics.prometheus.portInName": false, "channelLimits.maxNameLength": 30, "channelLimits.cacheTtl": 5,
            "eventLimits.maxPayloadInKb": 50, "eventLimits.maxChannelsAtOnce": 9, "eventLimits.maxNameLength": 40,
            "presence.maxMembersPerChannel": 6, "presence.maxMemberSizeInKb": 1,
            "httpApi.requestLimitInMb": 1, "httpApi.acceptTraffic.memoryThreshold": 70,
            "shutdownGracePeriod": 100, "userAuthenticationTimeout": 200, "pathPrefix": "/p",
            "host": "127.0.0.1", "mode": "server", "fanoutd.reactors": 2, "fanoutd.activityTimeout": 10,
            "fanoutd.pongTimeout": 11, "fanoutd.wsMaxMessageBytes": 2048, "fanoutd.wsMaxOutputBytes": 4096,
            "fanoutd.authTimestampWindow": 60, "fanoutd.http.maxHeadBytes": 4096, "fanoutd.http.maxHeaders": 16,
            "fanoutd.http.requestTimeoutMs": 1000, "fanoutd.http.idleTimeoutMs": 2000,
            "appManager.array.apps": [{"id": "a", "key": "k", "secret": "s"}]}"#;
        let a = load_file(nested, &[]).unwrap();
        let b = load_file(dotted, &[]).unwrap();
        assert_eq!(a, b);
        assert!(a.metrics.enabled && !a.metrics.port_in_name);
        assert_eq!((a.metrics.port, a.metrics.prefix.as_str()), (9700, "x_"));
        assert_eq!(a.channel_cache_ttl_secs, 5);
        assert_eq!(a.http.max_body_bytes, 1024 * 1024);
        assert_eq!(a.http.accept_traffic_memory_threshold, 70.0);
        assert_eq!(
            (a.shutdown_grace_period_ms, a.user_authentication_timeout_ms),
            (100, 200)
        );
        assert_eq!((a.path_prefix.as_str(), a.host), ("/p", ip("127.0.0.1")));
        assert_eq!(
            (a.reactors, a.activity_timeout_secs, a.pong_timeout_secs),
            (2, 10, 11)
        );
        assert_eq!(
            (a.ws_max_message_bytes, a.ws_max_output_bytes),
            (2048, 4096)
        );
        assert_eq!(a.auth_timestamp_window_secs, 60);
        assert_eq!((a.http.max_head_bytes, a.http.max_headers), (4096, 16));
        assert_eq!(
            (a.http.request_timeout_ms, a.http.idle_timeout_ms),
            (1000, 2000)
        );
        let app = &a.apps[0];
        assert_eq!(
            (app.max_channel_name_length, app.max_event_channels_at_once),
            (30, 9)
        );
        assert_eq!(
            (app.max_event_name_length, app.max_event_payload_in_kb),
            (40, 50.0)
        );
        assert_eq!(
            (
                app.max_presence_members_per_channel,
                app.max_presence_member_size_in_kb
            ),
            (6, 1.0)
        );
    }

    #[test]
    fn env_overrides_the_file() {
        let file = r#"{"port": 6002, "metrics.enabled": true, "pathPrefix": "/file", "fanoutd.reactors": 2}"#;
        let env = [
            ("SOKETI_PORT", "6003"),
            ("METRICS_ENABLED", "false"),
            ("SOKETI_PATH_PREFIX", "/env"),
            ("FANOUTD_REACTORS", "4"),
        ];
        let c = load_file(file, &env).unwrap();
        assert_eq!(
            (
                c.port,
                c.metrics.enabled,
                c.path_prefix.as_str(),
                c.reactors
            ),
            (6003, false, "/env", 4)
        );
        // An empty variable does not erase the file's value.
        let c = load_file(file, &[("SOKETI_PATH_PREFIX", "")]).unwrap();
        assert_eq!(c.path_prefix, "/file");
        // The file's own empty string is a value for string settings.
        let c = load_file(
            r#"{"metrics.prometheus.prefix": "", "metrics.prometheus.portInName": false}"#,
            &[],
        )
        .unwrap();
        assert_eq!(c.metrics.prefix, "");
    }

    #[test]
    fn bad_file_values_name_the_key() {
        let cases = [
            (r#"{"port": "abc"}"#, "port (config file ", "\"abc\""),
            (r#"{"port": 6001.5}"#, "port (config file ", "6001.5"),
            (
                r#"{"debug": "sometimes"}"#,
                "debug (config file ",
                "\"sometimes\"",
            ),
            (
                r#"{"metrics": {"host": "example.com"}}"#,
                "metrics.host (config file ",
                "\"example.com\"",
            ),
            (
                r#"{"metrics.driver": "statsd"}"#,
                "metrics.driver (config file ",
                "\"statsd\"",
            ),
            (
                r#"{"fanoutd.http.maxHeaders": 100}"#,
                "fanoutd.http.maxHeaders (config file ",
                "100",
            ),
            (r#"{"prot": 6001}"#, "prot (config file ", "unknown option"),
            (
                r#"{"fanoutd": {"reactor": 2}}"#,
                "fanoutd.reactor (config file ",
                "unknown fanoutd setting",
            ),
            (
                r#"{"metrics": {"enabeld": true}}"#,
                "metrics.enabeld (config file ",
                "unknown option",
            ),
            (
                r#"{"metrics": true}"#,
                "metrics (config file ",
                "unknown option",
            ),
            (
                r#"{"appManager.array.apps": [{"id": "a", "key": "k", "secret": "s", "max_connections": "lots"}]}"#,
                "appManager.array.apps.0.max_connections (config file ",
                "\"lots\"",
            ),
            (
                r#"{"appManager.array.apps": [{"id": "a", "key": "k", "secret": "s", "enabled": "nope"}]}"#,
                "appManager.array.apps.0.enabled (config file ",
                "\"nope\"",
            ),
            (
                r#"{"appManager.array.apps": [{"id": true, "key": "k", "secret": "s"}]}"#,
                "appManager.array.apps.0.id (config file ",
                "expected a string",
            ),
            (
                r#"{"appManager.array.apps": [{"id": "a", "key": "k", "secret": "s", "MaxEventPayloadInKb": 0}]}"#,
                "appManager.array.apps.0.MaxEventPayloadInKb (config file ",
                "greater than 0",
            ),
            (
                r#"{"appManager.array.apps": [{"id": "a", "key": "k"}]}"#,
                "appManager.array.apps.0 (config file ",
                "no secret",
            ),
            (
                r#"{"appManager.array.apps": [{"id": "a", "key": "", "secret": "s"}]}"#,
                "appManager.array.apps.0 (config file ",
                "no key",
            ),
            (
                r#"{"appManager.array.apps": []}"#,
                "appManager.array.apps (config file ",
                "at least one app",
            ),
            (
                r#"{"appManager.array.apps": {"id": "a"}}"#,
                "appManager.array.apps.id (config file ",
                "list of app objects",
            ),
            (
                r#"{"appManager.array.apps": "a"}"#,
                "appManager.array.apps (config file ",
                "JSON array",
            ),
            (
                r#"{"appManager.array.apps": ["a"]}"#,
                "appManager.array.apps.0 (config file ",
                "app object",
            ),
            (
                r#"{"appManager.array.apps.2.id": "x"}"#,
                "appManager.array.apps.2.id (config file ",
                "there is no app 2",
            ),
        ];
        for (json, start, phrase) in cases {
            let msg = expect_err(load_file(json, &[]));
            assert!(msg.starts_with(start), "{json}: {msg}");
            assert!(msg.contains(phrase), "{json}: {msg}");
        }
    }

    #[test]
    fn known_but_unimplemented_soketi_keys_are_ignored() {
        let json = r#"{"cluster": {"port": 11002, "hostname": "0.0.0.0"}, "database.redis.host": "r",
            "queue": {"redis": {"concurrency": 2}}, "webhooks.batching.enabled": true,
            "cors": {"origin": ["*"]}, "databasePooling.enabled": false, "instance.process_id": 1,
            "adapter.redis.prefix": "p", "appManager.cache.enabled": true, "ssl.passphrase": "x",
            "rateLimiter.redis.clusterMode": false, "cache.redis.redisOptions": {"a": 1}}"#;
        assert_eq!(load_file(json, &[]).unwrap(), Config::default());
    }

    #[test]
    fn app_ids_and_keys_must_be_unique() {
        let json = r#"{"appManager.array.apps": [{"id": 1, "key": "k", "secret": "s"},
            {"AppId": "2", "AppKey": "k", "secret": "t"}]}"#;
        let msg = expect_err(load_file(json, &[]));
        assert!(
            msg.starts_with("appManager.array.apps.1.AppKey (config file "),
            "{msg}"
        );
        assert!(msg.contains("unique") && msg.contains("\"k\""), "{msg}");
        let json = r#"{"appManager.array.apps": [{"id": 1, "key": "k1", "secret": "s"},
            {"id": "1", "key": "k2", "secret": "t"}]}"#;
        let msg = expect_err(load_file(json, &[]));
        assert!(
            msg.starts_with("appManager.array.apps.1.id (config file "),
            "{msg}"
        );
        assert!(msg.contains("unique") && msg.contains("\"1\""), "{msg}");
        // DEFAULT_APP_KEY can create the clash too.
        let json = r#"{"appManager.array.apps": [{"id": "a", "key": "k1", "secret": "s"},
            {"id": "b", "key": "k2", "secret": "t"}]}"#;
        let msg = expect_err(load_file(json, &[("SOKETI_DEFAULT_APP_KEY", "k2")]));
        assert!(
            msg.starts_with("appManager.array.apps.1.key (config file "),
            "{msg}"
        );
    }

    #[test]
    fn default_app_variables_fill_an_empty_list_and_dotted_app_keys_work() {
        let c = load_file(
            r#"{"appManager.array.apps": []}"#,
            &[("SOKETI_DEFAULT_APP_ID", "only")],
        )
        .unwrap();
        assert_eq!(c.apps.len(), 1);
        assert_eq!(
            (c.apps[0].id.as_str(), c.apps[0].key.as_str()),
            ("only", "app-key")
        );
        let json =
            r#"{"appManager.array.apps.0.id": 7, "appManager.array.apps.0.maxConnections": 3}"#;
        let c = load_file(json, &[]).unwrap();
        assert_eq!((c.apps[0].id.as_str(), c.apps[0].max_connections), ("7", 3));
        let json = r#"{"appManager.array.apps.1": {"id": "b", "key": "kb"}}"#;
        let c = load_file(json, &[]).unwrap();
        assert_eq!(c.apps.len(), 2);
        assert_eq!((c.apps[1].id.as_str(), c.apps[1].key.as_str()), ("b", "kb"));
    }

    #[test]
    fn unreadable_and_invalid_files() {
        let missing = std::env::temp_dir().join("fanoutd-config-test-does-not-exist.json");
        let missing = missing.to_string_lossy().into_owned();
        let msg = expect_err(Config::load(&[format!("--config={missing}")], &env_of(&[])));
        assert!(
            msg.starts_with(&format!("config file {missing}: cannot read it")),
            "{msg}"
        );
        for json in ["{\"port\": 6001", "", "[1, 2]", "\"port\""] {
            let file = TempFile::new(json);
            let msg = expect_err(Config::load(
                &["--config".into(), file.path.clone()],
                &env_of(&[]),
            ));
            assert!(
                msg.starts_with(&format!("config file {}: ", file.path)),
                "{msg}"
            );
        }
        let dir = std::env::temp_dir().to_string_lossy().into_owned();
        let msg = expect_err(Config::load(&[format!("--config={dir}")], &env_of(&[])));
        assert!(msg.contains(&dir), "{msg}");
    }

    #[test]
    fn command_line_forms() {
        let file = TempFile::new(r#"{"port": 6010}"#);
        let forms: [Vec<String>; 4] = [
            vec![format!("--config={}", file.path)],
            vec!["--config".into(), file.path.clone()],
            vec!["start".into(), format!("--config={}", file.path)],
            vec!["start".into(), "--config".into(), file.path.clone()],
        ];
        for args in &forms {
            assert_eq!(
                Config::load(args, &env_of(&[])).unwrap().port,
                6010,
                "{args:?}"
            );
        }
        for (args, phrase) in [
            (vec!["--verbose"], "\"--verbose\""),
            (vec!["start", "now"], "\"now\""),
            (vec!["stop"], "\"stop\""),
            (vec!["--config"], "missing the file name"),
            (vec!["--config="], "empty file name"),
            (vec!["--config=a", "--config=b"], "more than once"),
        ] {
            let args: Vec<String> = args.into_iter().map(String::from).collect();
            let msg = expect_err(Config::load(&args, &env_of(&[])));
            assert!(msg.contains(phrase), "{args:?}: {msg}");
        }
    }

    #[test]
    fn port_clash_and_prefix_checks() {
        let msg = expect_err(load_env(&[("SOKETI_METRICS_SERVER_PORT", "6001")]));
        assert!(
            msg.starts_with("SOKETI_METRICS_SERVER_PORT: ") && msg.contains("must differ"),
            "{msg}"
        );
        let msg = expect_err(load_env(&[("SOKETI_PORT", "9601")]));
        assert!(msg.starts_with("SOKETI_PORT: "), "{msg}");
        // Different addresses may share a port; port 0 never clashes.
        let env = [
            ("SOKETI_HOST", "127.0.0.1"),
            ("METRICS_HOST", "127.0.0.2"),
            ("SOKETI_PORT", "9601"),
        ];
        assert!(load_env(&env).is_ok());
        assert!(load_env(&[("SOKETI_PORT", "0"), ("METRICS_SERVER_PORT", "0")]).is_ok());
        let msg = expect_err(load_file(r#"{"metrics.prometheus.prefix": ""}"#, &[]));
        assert!(
            msg.contains("METRICS_PROMETHEUS_PORT_IN_NAME=false"),
            "{msg}"
        );
    }

    #[test]
    fn dotenv_parsing() {
        let text = "# comment\n\
            SOKETI_PORT=6100\n\
            export SOKETI_DEBUG=true\n\
            QUOTED=\"a b # not a comment\"\n\
            SINGLE='x\\ny'\n\
            DOUBLE=\"x\\ny\"\n\
            INLINE=value # comment\n\
            SPACES =  padded  \n\
            ESCAPED=\"say \\\"hi\\\"\"\n\
            EMPTY=\n\
            UNCLOSED=\"abc\n\
            not a line\n\
            BAD KEY=1\n\
            SOKETI_PORT=6101\n";
        let env = parse_dotenv(text);
        assert_eq!(
            env.get("SOKETI_PORT").map(String::as_str),
            Some("6101"),
            "later line wins"
        );
        assert_eq!(env.get("SOKETI_DEBUG").map(String::as_str), Some("true"));
        assert_eq!(
            env.get("QUOTED").map(String::as_str),
            Some("a b # not a comment")
        );
        assert_eq!(env.get("SINGLE").map(String::as_str), Some("x\\ny"));
        assert_eq!(env.get("DOUBLE").map(String::as_str), Some("x\ny"));
        assert_eq!(env.get("INLINE").map(String::as_str), Some("value"));
        assert_eq!(env.get("SPACES").map(String::as_str), Some("padded"));
        assert_eq!(
            env.get("ESCAPED").map(String::as_str),
            Some("say \\\"hi\\\"")
        );
        assert_eq!(env.get("EMPTY").map(String::as_str), Some(""));
        assert_eq!(env.get("UNCLOSED").map(String::as_str), Some("\"abc"));
        assert!(!env.contains_key("BAD KEY") && env.len() == 10, "{env:?}");

        // The process environment wins, even when set to an empty value.
        let file_value = "from-file".to_string();
        assert_eq!(
            merged_env(None, Some(&file_value)),
            Some("from-file".into())
        );
        assert_eq!(
            merged_env(Some("proc".into()), Some(&file_value)),
            Some("proc".into())
        );
        assert_eq!(
            merged_env(Some("".into()), Some(&file_value)),
            Some("".into())
        );
        assert_eq!(merged_env(None, None), None);
    }

    #[test]
    fn errors_display_their_message() {
        let e = ConfigError("SOKETI_PORT: x".into());
        assert_eq!(e.to_string(), "SOKETI_PORT: x");
        let _: &dyn std::error::Error = &e;
    }
}
