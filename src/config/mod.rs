//! Configuration: soketi's environment variables, its JSON config file, and fanoutd's own
//! settings, parsed once at start-up into a validated [`Config`].
//!
//! Precedence, lowest first: built-in defaults (soketi 1.6.1's), the `--config FILE` JSON
//! file, then the environment. A value that does not parse stops start-up with an error that
//! names the variable (as spelled) or the file key, and the value.
//!
//! The modules, in the order a start-up uses them:
//!
//! * `sources`: the command line, the config file (flattened to soketi's dot paths:
//!   `{"metrics": {"enabled": true}}` → `metrics.enabled`), the environment and `.env`, each
//!   variable laid over the file under the same path; and the check that no unknown key is
//!   left once everything was read.
//! * `settings`: the one table of server-level settings (variable, file key, default, range,
//!   README line). `kinds` reads, checks and defaults each kind of value.
//! * `apps`: the app list and the per-app fields.
//! * `readme`: renders the README's settings tables from the table.
//!
//! Rules kept from soketi, and where fanoutd is stricter:
//!
//! * Names: each setting is read from `SOKETI_<NAME>` and, where the docs use it, from the
//!   unprefixed `<NAME>`; the prefixed form wins. `HOST`, `PORT`, `DEBUG`, `MODE` and the
//!   drivers are read only as `SOKETI_HOST` etc. (shells and PaaS set the bare names for other
//!   purposes); fanoutd's own settings only as `FANOUTD_*`.
//! * Refused rather than silently run differently: `MODE=worker`, a metrics driver other than
//!   `prometheus`, the `nats` and `cluster` adapters, app manager / cache / queue / rate limiter drivers other than the
//!   in-process ones, and TLS (`SSL_CERT`, `SSL_KEY`).
//! * Accepted without effect, each with a start-up warning ([`Config::warnings`], module
//!   `no_effect`): sub-keys of soketi options fanoutd does not implement (`cluster.*`,
//!   `database.*`, `queue.*`, `webhooks.*`, `cors.*`, …) and soketi's variables for them
//!   (`SOKETI_QUEUE_REDIS_CONCURRENCY`, `SOKETI_APP_MANAGER_MYSQL_USE_V2`, …), per-app
//!   `webhooks`, empty strings in the config file. Any other unknown key is refused, so that a
//!   typo does not go unnoticed.
//!
//! [`Config::from_process`] also reads a `.env` file from the current directory, as soketi's
//! `dotenv` does, without changing the process environment.

use std::fmt;
use std::net::IpAddr;

mod apps;
mod kinds;
mod no_effect;
mod readme;
mod settings;
mod sources;
#[cfg(test)]
mod testing;

pub use readme::settings_tables;

/// Largest integer accepted anywhere: JavaScript's `Number.MAX_SAFE_INTEGER`, which is what a
/// soketi option can hold, and small enough that no duration or size derived from it overflows.
const MAX_INT: i128 = 9_007_199_254_740_991;

/// Everything the server needs, validated. Each field's setting (variable, file key, default,
/// range) is in the settings table, `settings.rs`, and in the README.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// `HOST`: address of the public listener (WebSocket + REST).
    pub host: IpAddr,
    /// `PORT`: public port. 0 asks the OS for a free port (tests).
    pub port: u16,
    /// `PATH_PREFIX`: prefix of every public route.
    pub path_prefix: String,
    /// `DEBUG`.
    pub debug: bool,
    /// `FANOUTD_REACTORS`: reactor threads.
    pub reactors: usize,
    /// `FANOUTD_MAX_CHANNELS_PER_APP`: occupied channels one app may have on this node.
    pub max_channels_per_app: u64,
    /// `SHUTDOWN_GRACE_PERIOD`.
    pub shutdown_grace_period_ms: u64,
    /// `USER_AUTHENTICATION_TIMEOUT`.
    pub user_authentication_timeout_ms: u64,
    /// `CHANNEL_CACHE_TTL`.
    pub channel_cache_ttl_secs: u64,
    /// `FANOUTD_ACTIVITY_TIMEOUT`: sent to clients in `connection_established`; after this long
    /// without a message from a client the server sends `pusher:ping`.
    pub activity_timeout_secs: u32,
    /// `FANOUTD_PONG_TIMEOUT`: after a server `pusher:ping`, how long to wait for any message
    /// before closing with 4201.
    pub pong_timeout_secs: u32,
    /// `FANOUTD_WS_MAX_MESSAGE_BYTES`: largest WebSocket message (after reassembly) a client
    /// may send; larger ones close the socket with 1009.
    pub ws_max_message_bytes: usize,
    /// `FANOUTD_WS_MAX_OUTPUT_BYTES`: bytes that may wait for one slow socket before it is
    /// closed (4100); soketi's `maxBackpressure`.
    pub ws_max_output_bytes: usize,
    /// HTTP limits and timeouts of the public port.
    pub http: HttpConfig,
    /// `FANOUTD_AUTH_TIMESTAMP_WINDOW`: REST `auth_timestamp` must be within this many seconds
    /// of the server clock (Pusher: 600). 0 disables the check.
    pub auth_timestamp_window_secs: u64,
    /// The metrics listener.
    pub metrics: MetricsConfig,
    /// `ADAPTER_DRIVER` and the Redis connection: how publishes reach the other nodes.
    pub adapter: AdapterConfig,
    /// The apps (at least one). From `SOKETI_DEFAULT_APP_*` when the config file lists none.
    /// (As in soketi, those variables also override the fields of the file's first app.)
    pub apps: Vec<AppConfig>,
    /// Settings that were given but have no effect, as start-up warnings (see
    /// [`Config::warnings`]). Last, after the apps: no setting writes it.
    pub no_effect: Vec<String>,
}

/// Limits and timeouts of the public HTTP side.
#[derive(Debug, Clone, PartialEq)]
pub struct HttpConfig {
    /// `httpApi.requestLimitInMb` (config file) / `FANOUTD_HTTP_MAX_REQUEST_SIZE_IN_MB`:
    /// largest request body, in bytes (MB = 1024 * 1024).
    pub max_body_bytes: u64,
    /// `FANOUTD_HTTP_MAX_PENDING_BODY_BYTES`: bytes all unfinished request bodies together
    /// may hold; a request whose body would pass it is answered 503 without being read.
    pub max_pending_body_bytes: u64,
    /// `FANOUTD_HTTP_MAX_HEAD_BYTES`: largest request head.
    pub max_head_bytes: usize,
    /// `FANOUTD_HTTP_MAX_HEADERS`: most header lines in a request (at most 64).
    pub max_headers: usize,
    /// `FANOUTD_HTTP_REQUEST_TIMEOUT_MS`: time allowed to receive one whole request once it
    /// has started (slow-loris guard).
    pub request_timeout_ms: u64,
    /// `FANOUTD_HTTP_IDLE_TIMEOUT_MS`: an idle keep-alive connection is closed after this.
    pub idle_timeout_ms: u64,
    /// `HTTP_ACCEPT_TRAFFIC_MEMORY_THRESHOLD` (percent).
    pub accept_traffic_memory_threshold: f64,
}

/// The metrics listener's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricsConfig {
    /// `METRICS_ENABLED`.
    pub enabled: bool,
    /// `METRICS_HOST`.
    pub host: IpAddr,
    /// `METRICS_SERVER_PORT`. 0 asks the OS for a free port (tests).
    pub port: u16,
    /// `METRICS_PROMETHEUS_PREFIX`.
    pub prefix: String,
    /// `METRICS_PROMETHEUS_PORT_IN_NAME`: `true` gives the seed's names
    /// (`soketi_6001_connected`), `false` soketi 1.x's (`soketi_connected`).
    pub port_in_name: bool,
}

/// `ADAPTER_DRIVER`: how this node reaches the others.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AdapterDriver {
    /// One node: nothing leaves it.
    Local,
    /// Publishes cross nodes over Redis pub/sub, in soketi's wire format.
    Redis,
}

/// The adapter's settings.
#[derive(Debug, Clone, PartialEq)]
pub struct AdapterConfig {
    /// `ADAPTER_DRIVER`.
    pub driver: AdapterDriver,
    /// `DB_REDIS_HOST`: host name or address of the Redis server.
    pub redis_host: String,
    /// `DB_REDIS_PORT`.
    pub redis_port: u16,
    /// `DB_REDIS_DB`: the database selected (pub/sub channels are global in Redis, so this
    /// only matters for what later uses keys).
    pub redis_db: u32,
    /// `DB_REDIS_USERNAME` (empty: none).
    pub redis_username: String,
    /// `DB_REDIS_PASSWORD` (empty: none).
    pub redis_password: String,
    /// `ADAPTER_REDIS_PREFIX`: soketi's channel prefix (`<prefix>#redis-adapter`); nodes
    /// with the same prefix form one cluster.
    pub redis_prefix: String,
}

/// One app, with soketi's per-app fields. Limits of -1 mean "no limit".
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

/// The settings table's defaults, and soketi's one default app.
impl Default for Config {
    fn default() -> Self {
        kinds::Building::defaults().default_config()
    }
}

impl Default for HttpConfig {
    fn default() -> Self {
        Config::default().http
    }
}

impl Default for MetricsConfig {
    fn default() -> Self {
        Config::default().metrics
    }
}

impl Config {
    /// Loads from command-line args (without argv\[0\]) and an environment lookup. Args: an
    /// optional leading "start" (soketi's CLI is `soketi start --config=FILE`), `--config FILE`
    /// or `--config=FILE`; anything else → ConfigError naming it.
    pub fn load(
        args: &[String],
        env: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Config, ConfigError> {
        let mut inputs = sources::gather(args, env)?;
        let built = kinds::read_settings(&mut inputs)?;
        let mut config = built.config;
        config.apps = apps::build_apps(&mut inputs, &built.limits)?;
        sources::reject_unknown_keys(&mut inputs)?;
        config.no_effect.extend(inputs.warnings);
        Ok(config)
    }

    /// The start-up warnings, one line each (without a prefix): every setting given that has
    /// no effect in fanoutd (yet), which soketi would have used. `main` prints them to stderr.
    /// Pure, so tests can check them.
    pub fn warnings(&self) -> Vec<String> {
        let mut out = self.no_effect.clone();
        for app in self.apps.iter().filter(|a| !a.webhooks.is_empty()) {
            out.push(format!(
                "app {}: webhooks ({} configured) have no effect: webhooks are not sent yet \
                 (accepted for soketi compatibility)",
                app.id,
                app.webhooks.len()
            ));
        }
        out
    }

    /// Like load(), reading the process environment, after merging a `.env` file from the
    /// current directory (KEY=VALUE lines, `#` comments, optional quotes; only for variables
    /// not already set), as soketi's dotenv does.
    pub fn from_process() -> Result<Config, ConfigError> {
        let args = sources::process_args()?;
        let dotenv = sources::read_dotenv_file()?;
        let lookup = |name: &str| sources::merged_env(std::env::var_os(name), dotenv.get(name));
        Self::load(&args, &lookup)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::testing::*;

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
    fn errors_display_their_message() {
        let e = ConfigError("SOKETI_PORT: x".into());
        assert_eq!(e.to_string(), "SOKETI_PORT: x");
        let _: &dyn std::error::Error = &e;
    }

    /// Settings soketi would use and fanoutd does not (yet) are accepted, each named once in
    /// a warning; settings that work give none.
    #[test]
    fn naming_the_sync_queue_is_accepted_with_a_warning() {
        let c = load_env(&[("SOKETI_QUEUE_DRIVER", "sync")]).unwrap();
        assert_eq!(
            c.warnings(),
            vec![
                "SOKETI_QUEUE_DRIVER: \"sync\" has no effect: webhooks are not sent yet, so there is nothing to queue"
                    .to_string()
            ]
        );
        assert!(load_env(&[("SOKETI_QUEUE_DRIVER", "redis")]).is_err());
    }

    #[test]
    fn settings_without_effect_are_warned_about_once_each() {
        assert!(Config::default().warnings().is_empty());
        assert!(
            load_env(&[("SOKETI_PORT", "7000"), ("SOKETI_DEBUG", "true")])
                .unwrap()
                .warnings()
                .is_empty()
        );

        let webhook =
            r#"[{"url":"http://127.0.0.1:3001/hook","event_types":["channel_occupied"]}]"#;
        let c = load_env(&[
            ("SOKETI_DEFAULT_APP_WEBHOOKS", webhook),
            ("SOKETI_QUEUE_REDIS_CONCURRENCY", "2"),
            ("SOKETI_APP_MANAGER_MYSQL_USE_V2", "true"),
            ("SOKETI_WEBHOOKS_BATCHING", "true"),
            ("SOKETI_DB_REDIS_KEY_PREFIX", "x"),
            ("SOKETI_SSL_CA", "/etc/ca.pem"),
            // Bare names of these are someone else's: not read, no warning.
            ("DB_REDIS_KEY_PREFIX", "y"),
        ])
        .unwrap();
        let w = c.warnings();
        let expect = [
            "SOKETI_APP_MANAGER_MYSQL_USE_V2 (appManager.mysql.useMysql2) has no effect: only the array app manager",
            "SOKETI_DB_REDIS_KEY_PREFIX (database.redis.keyPrefix) has no effect: not implemented yet",
            "SOKETI_QUEUE_REDIS_CONCURRENCY (queue.redis.concurrency) has no effect: webhooks are not sent yet",
            "SOKETI_SSL_CA (ssl.caPath) has no effect: TLS is not supported yet",
            "SOKETI_WEBHOOKS_BATCHING (webhooks.batching.enabled) has no effect: webhooks are not sent yet",
            "app app-id: webhooks (1 configured) have no effect: webhooks are not sent yet",
        ];
        assert_eq!(w.len(), expect.len(), "{w:#?}");
        for (line, start) in w.iter().zip(expect) {
            assert!(
                line.starts_with(start),
                "{line:?} should start with {start:?}"
            );
        }

        // The config file: keys under the unimplemented namespaces, an app's webhooks, an
        // empty string; the variable and the file key for the same setting warn once.
        let file = r#"{"queue": {"redis": {"concurrency": 3}}, "cors": {"origin": ["https://a.example"]},
            "webhooks": {"batching": {"enabled": true, "duration": 100}}, "pathPrefix": "",
            "host": "", "cluster": {"port": 11002},
            "appManager": {"array": {"apps": [
                {"id": "a", "key": "k", "secret": "s", "webhooks": [{"url": "http://x/", "event_types": ["member_added"]}]},
                {"id": "b", "key": "k2", "secret": "s2"}]}}}"#;
        let c = load_file(file, &[("SOKETI_QUEUE_REDIS_CONCURRENCY", "4")]).unwrap();
        let w = c.warnings();
        let has = |needle: &str| w.iter().filter(|l| l.contains(needle)).count();
        assert_eq!(has("queue.redis.concurrency"), 1, "{w:#?}");
        assert_eq!(has("SOKETI_QUEUE_REDIS_CONCURRENCY"), 1, "{w:#?}");
        assert_eq!(has("cors.origin (config file"), 1, "{w:#?}");
        assert_eq!(has("webhooks.batching.enabled (config file"), 1, "{w:#?}");
        assert_eq!(has("webhooks.batching.duration (config file"), 1, "{w:#?}");
        assert_eq!(has("cluster.port (config file"), 1, "{w:#?}");
        assert_eq!(has("host (config file"), 1, "{w:#?}");
        assert_eq!(has("app a: webhooks (1 configured)"), 1, "{w:#?}");
        assert_eq!(has("app b"), 0, "{w:#?}");
        // `pathPrefix` may be empty: that is a value, not a warning.
        assert_eq!(has("pathPrefix"), 0, "{w:#?}");
        assert_eq!(w.len(), 7, "{w:#?}");
    }
}
