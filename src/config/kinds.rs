//! The kinds of value a setting can hold, and how each is read, checked, defaulted and shown.
//!
//! A kind owns a setting's default, its accepted range and the words of its error message;
//! it writes the value into a [`Building`] through a plain function, so that the settings
//! table, not a hand-written parse block, says where each value goes. Checks that involve two
//! settings (the metrics prefix and the port in names, the two ports) are in
//! [`check_together`], run once every setting has been read.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use super::apps::AppLimits;
use super::settings::SETTINGS;
use super::sources::{Given, Inputs};
use super::{
    AdapterConfig, AdapterDriver, AppConfig, Config, ConfigError, HttpConfig, MetricsConfig,
};

/// What the settings table writes into: the config, and the server-level limits that are not
/// fields of [`Config`] but the defaults of every app's limits.
pub(super) struct Building {
    pub(super) config: Config,
    pub(super) limits: AppLimits,
    /// The settings that were given (not blank), by key: where they came from, for the
    /// checks of [`check_together`].
    given: BTreeMap<&'static str, Given>,
}

impl Building {
    /// Every setting at its default.
    pub(super) fn defaults() -> Building {
        let mut b = Building {
            config: unset_config(),
            limits: AppLimits::default(),
            given: BTreeMap::new(),
        };
        for setting in SETTINGS {
            setting.kind.set_default(&mut b);
        }
        b
    }

    /// The config with its apps: soketi's default app, with the server-level limits.
    pub(super) fn default_config(self) -> Config {
        let mut config = self.config;
        config.apps = vec![AppConfig::default_app(&self.limits)];
        config
    }
}

/// The config before the settings table has filled it in. Every value here is a placeholder
/// that the compiler asks for: each setting's default replaces its field, and the apps are
/// built after the settings. A field that no setting writes is caught by a test
/// (`every_config_field_has_a_setting`).
fn unset_config() -> Config {
    let nowhere = IpAddr::V4(Ipv4Addr::UNSPECIFIED);
    Config {
        host: nowhere,
        port: 0,
        path_prefix: String::new(),
        debug: false,
        reactors: 0,
        max_channels_per_app: 0,
        shutdown_grace_period_ms: 0,
        user_authentication_timeout_ms: 0,
        channel_cache_ttl_secs: 0,
        activity_timeout_secs: 0,
        pong_timeout_secs: 0,
        ws_max_message_bytes: 0,
        ws_max_output_bytes: 0,
        http: HttpConfig {
            max_body_bytes: 0,
            max_pending_body_bytes: 0,
            max_head_bytes: 0,
            max_headers: 0,
            request_timeout_ms: 0,
            idle_timeout_ms: 0,
            accept_traffic_memory_threshold: 0.0,
        },
        auth_timestamp_window_secs: 0,
        metrics: MetricsConfig {
            enabled: false,
            host: nowhere,
            port: 0,
            prefix: String::new(),
            port_in_name: false,
        },
        adapter: AdapterConfig {
            driver: AdapterDriver::Local,
            redis_host: String::new(),
            redis_port: 0,
            redis_db: 0,
            redis_username: String::new(),
            redis_password: String::new(),
            redis_prefix: String::new(),
        },
        apps: Vec::new(),
        no_effect: Vec::new(),
    }
}

/// When a setting is read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Stage {
    /// Before any other: modes, drivers and TLS, so that an unsupported deployment stops
    /// start-up before anything else is reported.
    Gate,
    /// In table order; the first bad value stops start-up.
    Value,
    /// With the app list (a `DEFAULT_APP_*` variable sets a field of app 0).
    App,
}

/// A kind of setting value. Implementations are the structs below; the table holds them as
/// `&'static dyn Kind`.
pub(super) trait Kind: Sync {
    /// Writes the default.
    fn set_default(&self, b: &mut Building);
    /// Checks a given value and writes it.
    fn read(&self, given: &Given, b: &mut Building) -> Result<(), ConfigError>;
    /// The default, as the README shows it (markdown).
    fn default_shown(&self) -> String;
    /// Whether an empty string is a value (for strings that may be empty, such as
    /// `pathPrefix`); otherwise empty counts as not given.
    fn empty_is_a_value(&self) -> bool {
        false
    }
    fn stage(&self) -> Stage {
        Stage::Value
    }
    /// The accepted range of a whole number, for the test that every bound can be stored.
    #[cfg(test)]
    fn range(&self) -> Option<(i128, i128)> {
        None
    }
}

/// Reads every setting of the table from `inputs` (removing its key), in stage order, then
/// checks the settings that depend on each other.
pub(super) fn read_settings(inputs: &mut Inputs) -> Result<Building, ConfigError> {
    let mut b = Building::defaults();
    for stage in [Stage::Gate, Stage::Value] {
        for setting in SETTINGS.iter().filter(|s| s.kind.stage() == stage) {
            let given = if setting.kind.empty_is_a_value() {
                inputs.take_keep_empty(setting.key)
            } else {
                inputs.take(setting.key)
            };
            if let Some(given) = given {
                setting.kind.read(&given, &mut b)?;
                b.given.insert(setting.key, given);
            }
        }
    }
    check_together(&b)?;
    Ok(b)
}

/// The checks that involve two settings.
fn check_together(b: &Building) -> Result<(), ConfigError> {
    let (c, m) = (&b.config, &b.config.metrics);
    if let Some(prefix) = b.given.get("metrics.prometheus.prefix") {
        if m.prefix.is_empty() && m.port_in_name {
            return Err(prefix.error(
                "an empty prefix needs METRICS_PROMETHEUS_PORT_IN_NAME=false (a metric name cannot start with the port's digits)",
            ));
        }
    }
    if c.port != 0 && c.port == m.port && hosts_overlap(c.host, m.host) {
        let origin = ["metrics.port", "port"]
            .iter()
            .find_map(|key| b.given.get(key))
            .map_or_else(
                || "SOKETI_METRICS_SERVER_PORT".to_string(),
                |g| g.origin.to_string(),
            );
        return Err(ConfigError(format!(
            "{origin}: the public port and the metrics port must differ, got {} for both",
            c.port
        )));
    }
    Ok(())
}

/// Whether two listeners on the same port would clash.
fn hosts_overlap(a: IpAddr, b: IpAddr) -> bool {
    a == b || a.is_unspecified() || b.is_unspecified()
}

/// A default in markdown: in backquotes, or the word "empty".
fn shown(default: &str) -> String {
    if default.is_empty() {
        "empty".to_string()
    } else {
        format!("`{default}`")
    }
}

// ---------------------------------------------------------------------------------------------
// The kinds.

/// `true/false/1/0`, in any case.
pub(super) struct Flag {
    pub(super) default: bool,
    pub(super) set: fn(&mut Building, bool),
}

impl Kind for Flag {
    fn set_default(&self, b: &mut Building) {
        (self.set)(b, self.default);
    }
    fn read(&self, given: &Given, b: &mut Building) -> Result<(), ConfigError> {
        (self.set)(b, given.boolean(false)?);
        Ok(())
    }
    fn default_shown(&self) -> String {
        format!("`{}`", self.default)
    }
}

/// A whole decimal number within `min..=max` (JSON numbers must be whole), else `expected`.
pub(super) struct Whole<T> {
    pub(super) default: T,
    pub(super) min: i128,
    pub(super) max: i128,
    pub(super) expected: &'static str,
    pub(super) set: fn(&mut Building, T),
}

impl<T> Kind for Whole<T>
where
    T: Copy + TryFrom<i128> + fmt::Display + Sync,
{
    fn set_default(&self, b: &mut Building) {
        (self.set)(b, self.default);
    }
    fn read(&self, given: &Given, b: &mut Building) -> Result<(), ConfigError> {
        let value = given.integer(self.min, self.max, self.expected)?;
        // The range fits T (every_bound_of_every_range_can_be_stored), so this does not fail.
        let value = T::try_from(value).map_err(|_| given.error(self.expected))?;
        (self.set)(b, value);
        Ok(())
    }
    fn default_shown(&self) -> String {
        format!("`{}`", self.default)
    }
    #[cfg(test)]
    fn range(&self) -> Option<(i128, i128)> {
        Some((self.min, self.max))
    }
}

/// A finite decimal number that `accept` accepts, else `expected`.
pub(super) struct Number {
    pub(super) default: f64,
    pub(super) accept: fn(f64) -> bool,
    pub(super) expected: &'static str,
    pub(super) set: fn(&mut Building, f64),
}

impl Kind for Number {
    fn set_default(&self, b: &mut Building) {
        (self.set)(b, self.default);
    }
    fn read(&self, given: &Given, b: &mut Building) -> Result<(), ConfigError> {
        (self.set)(b, given.number(self.accept, self.expected)?);
        Ok(())
    }
    fn default_shown(&self) -> String {
        format!("`{}`", self.default)
    }
}

/// An IP address (IPv6 with or without brackets).
pub(super) struct Address {
    pub(super) default: IpAddr,
    pub(super) set: fn(&mut Building, IpAddr),
}

impl Kind for Address {
    fn set_default(&self, b: &mut Building) {
        (self.set)(b, self.default);
    }
    fn read(&self, given: &Given, b: &mut Building) -> Result<(), ConfigError> {
        (self.set)(b, given.ip()?);
        Ok(())
    }
    fn default_shown(&self) -> String {
        format!("`{}`", self.default)
    }
}

/// A string that `accept` accepts (else `expected`); the empty string is a value.
pub(super) struct Text {
    pub(super) default: &'static str,
    pub(super) accept: fn(&str) -> bool,
    pub(super) expected: &'static str,
    pub(super) set: fn(&mut Building, String),
}

impl Kind for Text {
    fn set_default(&self, b: &mut Building) {
        (self.set)(b, self.default.to_string());
    }
    fn read(&self, given: &Given, b: &mut Building) -> Result<(), ConfigError> {
        let value = given.string()?;
        if !(self.accept)(&value) {
            return Err(given.error(self.expected));
        }
        (self.set)(b, value);
        Ok(())
    }
    fn default_shown(&self) -> String {
        shown(self.default)
    }
    fn empty_is_a_value(&self) -> bool {
        true
    }
}

/// A thread count: by default one per available core, at most `max`.
pub(super) struct Cores {
    pub(super) max: usize,
    pub(super) expected: &'static str,
    pub(super) set: fn(&mut Building, usize),
}

impl Kind for Cores {
    fn set_default(&self, b: &mut Building) {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        (self.set)(b, cores.clamp(1, self.max));
    }
    fn read(&self, given: &Given, b: &mut Building) -> Result<(), ConfigError> {
        let max = i128::try_from(self.max).unwrap_or(i128::MAX);
        let value = given.integer(1, max, self.expected)?;
        let value = usize::try_from(value).map_err(|_| given.error(self.expected))?;
        (self.set)(b, value);
        Ok(())
    }
    fn default_shown(&self) -> String {
        format!("available cores, at most {}", self.max)
    }
}

/// A choice checked before any other setting (a mode, a driver): `check` refuses what
/// fanoutd does not implement. Nothing is stored: the one accepted behaviour is built in.
pub(super) struct Gate {
    pub(super) default: &'static str,
    pub(super) check: fn(&Given) -> Result<(), ConfigError>,
}

impl Kind for Gate {
    fn set_default(&self, _: &mut Building) {}
    fn read(&self, given: &Given, _: &mut Building) -> Result<(), ConfigError> {
        (self.check)(given)
    }
    fn default_shown(&self) -> String {
        shown(self.default)
    }
    fn stage(&self) -> Stage {
        Stage::Gate
    }
}

/// A soketi driver of which fanoutd implements only `supported`. When `idle` is set, the
/// supported driver does nothing yet either: naming it is accepted with a start-up warning
/// (`idle` says why).
pub(super) struct Driver {
    pub(super) supported: &'static str,
    pub(super) idle: Option<&'static str>,
}

impl Kind for Driver {
    fn set_default(&self, _: &mut Building) {}
    fn read(&self, given: &Given, b: &mut Building) -> Result<(), ConfigError> {
        match given.text().map(str::trim) {
            Some(v) if v == self.supported => {
                if let Some(why) = self.idle {
                    b.config
                        .no_effect
                        .push(format!("{}: {v:?} has no effect: {why}", given.origin));
                }
                Ok(())
            }
            Some(_) => Err(given.error(&format!(
                "not supported yet by fanoutd (only {:?} is available)",
                self.supported
            ))),
            None => Err(given.error("expected a driver name")),
        }
    }
    fn default_shown(&self) -> String {
        shown(self.supported)
    }
    fn stage(&self) -> Stage {
        Stage::Gate
    }
}

/// `ADAPTER_DRIVER`: `local` or `redis`; soketi's `nats` and `cluster` stop start-up with a
/// message that says what to use instead.
pub(super) struct Adapter;

impl Kind for Adapter {
    fn set_default(&self, b: &mut Building) {
        b.config.adapter.driver = AdapterDriver::Local;
    }
    fn read(&self, given: &Given, b: &mut Building) -> Result<(), ConfigError> {
        b.config.adapter.driver = match given.text().map(str::trim) {
            Some("local") => AdapterDriver::Local,
            Some("redis") => AdapterDriver::Redis,
            Some("nats") => {
                return Err(given.error(
                    "the nats adapter is not supported yet by fanoutd (use redis to run several nodes)",
                ))
            }
            Some("cluster") => {
                return Err(given.error(
                    "the cluster adapter (UDP node discovery) is not supported by fanoutd: use redis to run several nodes",
                ))
            }
            _ => return Err(given.error("expected local, redis, nats or cluster")),
        };
        Ok(())
    }
    fn default_shown(&self) -> String {
        shown("local")
    }
    fn stage(&self) -> Stage {
        Stage::Gate
    }
}

/// A soketi option fanoutd refuses when it is given (not blank), for the reason `why`.
pub(super) struct Refused {
    pub(super) why: &'static str,
}

impl Kind for Refused {
    fn set_default(&self, _: &mut Building) {}
    fn read(&self, given: &Given, _: &mut Building) -> Result<(), ConfigError> {
        Err(given.error(self.why))
    }
    fn default_shown(&self) -> String {
        shown("")
    }
    fn stage(&self) -> Stage {
        Stage::Gate
    }
}

/// A field of app 0 (`appManager.array.apps.0.<field>`), read with the apps; `shown` picks
/// its default from soketi's default app.
pub(super) struct AppField {
    pub(super) shown: fn(&AppConfig) -> String,
}

impl Kind for AppField {
    fn set_default(&self, _: &mut Building) {}
    fn read(&self, _: &Given, _: &mut Building) -> Result<(), ConfigError> {
        Ok(())
    }
    fn default_shown(&self) -> String {
        shown(&(self.shown)(&AppConfig::default_app(
            &Building::defaults().limits,
        )))
    }
    fn stage(&self) -> Stage {
        Stage::App
    }
}

#[cfg(test)]
mod tests {
    use super::unset_config;
    use crate::config::testing::*;
    use crate::config::{AppConfig, Config};

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
            ("SOKETI_ADAPTER_DRIVER", "nats"),
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
        // The cluster adapter is refused for good, pointing at redis.
        let msg = expect_err(load_env(&[("SOKETI_ADAPTER_DRIVER", "cluster")]));
        assert!(msg.starts_with("SOKETI_ADAPTER_DRIVER: "), "{msg}");
        assert!(msg.contains("use redis"), "{msg}");
        // The same from the file, named by its key.
        let msg = expect_err(load_file(r#"{"adapter": {"driver": "nats"}}"#, &[]));
        assert!(msg.starts_with("adapter.driver (config file "), "{msg}");
        assert!(msg.contains("not supported yet by fanoutd"), "{msg}");
        // redis is supported, from the file too.
        let c = load_file(r#"{"adapter": {"driver": "redis"}}"#, &[]).unwrap();
        assert_eq!(c.adapter.driver, crate::config::AdapterDriver::Redis);
        let msg = expect_err(load_file(r#"{"ssl.certPath": "/c.pem"}"#, &[]));
        assert!(msg.starts_with("ssl.certPath (config file "), "{msg}");
        // The supported ones and empty TLS paths are fine (the empty strings with a warning,
        // and the sync queue too: there are no webhooks to queue yet).
        let ok = r#"{"adapter.driver": "local", "appManager.driver": "array", "cache.driver": "memory",
            "queue.driver": "sync", "rateLimiter.driver": "local", "ssl": {"certPath": "", "keyPath": ""},
            "metrics.driver": "prometheus", "mode": "full"}"#;
        let c = load_file(ok, &[]).unwrap();
        let warnings = c.warnings();
        assert_eq!(
            Config {
                no_effect: Vec::new(),
                ..c
            },
            Config::default()
        );
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].starts_with("queue.driver (config file "));
        assert!(warnings[1].starts_with("ssl.certPath (config file "));
        assert!(warnings[1].ends_with(": an empty value has no effect: the default is used"));
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
    fn every_bound_of_every_range_can_be_stored() {
        use crate::config::settings::SETTINGS;
        for setting in SETTINGS {
            let Some((min, max)) = setting.kind.range() else {
                continue;
            };
            let var = &setting.naming.variables(setting.env)[0];
            for bound in [min, max] {
                let value = bound.to_string();
                let c = load_env(&[(var, &value)]);
                assert!(c.is_ok(), "{var}={value}: {c:?}");
            }
        }
    }

    /// Every field of the config (but the apps) is filled in by the settings table: a field
    /// without an entry would keep its placeholder from `unset_config` whatever is given.
    #[test]
    fn every_config_field_has_a_setting() {
        use crate::config::settings::tests::ENV_CASES;
        // `{:#?}` puts one field per line; the apps come last.
        let fields = |c: &Config| -> Vec<String> {
            let text = format!("{c:#?}");
            let end = text.find("\n    apps: [").expect("the apps field");
            text[..end].lines().map(str::to_string).collect()
        };
        let placeholder = fields(&unset_config());
        let mut loaded = vec![fields(&Config::default())];
        for &(name, naming, value, _) in ENV_CASES {
            let var = &naming.variables(name)[0];
            loaded.push(fields(&load_env(&[(var, value)]).unwrap()));
        }
        for (i, line) in placeholder.iter().enumerate() {
            // Struct headers and closing braces are the same in every config.
            if line.ends_with('{') || line.trim_start().starts_with('}') {
                continue;
            }
            assert!(
                loaded.iter().any(|l| l[i] != *line),
                "no setting writes {line:?}: add it to SETTINGS (settings.rs)"
            );
        }
    }
}
