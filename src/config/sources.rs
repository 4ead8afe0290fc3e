//! Where settings come from, before any of them is interpreted: the command line
//! (`[start] --config FILE`), the JSON config file, the environment and a `.env` file.
//!
//! This module owns the raw inputs: [`Inputs`] maps soketi's dot paths (`metrics.enabled`) to
//! a [`Given`] value and where it was given (a variable as spelled, or a file key), so that
//! every error can name it. The config file is flattened to those paths, then each variable
//! of the settings table is laid over it under the same path: the environment wins over the
//! file. What a value means is decided elsewhere (`settings`, `apps`); what is left over once
//! they have read theirs is checked by [`reject_unknown_keys`].
//!
//! Values: empty (or blank) values count as unset, as in soketi. Booleans are `true/false/1/0`
//! in any case, numbers decimal; a variable holding a JSON string (`"abc"` with the quotes) is
//! unquoted, as soketi's `JSON.parse` does.

use std::collections::{BTreeMap, HashMap};
use std::fmt;
use std::net::IpAddr;

use serde_json::{Map, Value};

use super::apps::APPS_KEY;
use super::no_effect;
use super::settings::{Naming, SETTINGS};
use super::{ConfigError, MAX_INT};

/// The inputs of one start-up: the config file named by `args` (if any), overlaid by the
/// variables of the settings table that `env` has.
pub(super) fn gather(
    args: &[String],
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Inputs, ConfigError> {
    let mut inputs = Inputs {
        map: BTreeMap::new(),
        warnings: Vec::new(),
    };
    if let Some(path) = parse_args(args)? {
        for (key, value) in read_config_file(&path)? {
            let given = Given::file(&path, key.clone(), value);
            inputs.map.insert(key, given);
        }
    }
    for setting in SETTINGS {
        if let Some(given) = read_env(setting.env, setting.naming, env) {
            inputs.map.insert(setting.key.to_string(), given);
        }
    }
    // Accepted without effect: left over at the end, and warned about then.
    for (name, key) in no_effect::VARIABLES {
        if let Some(given) = read_env(name, Naming::PrefixedOnly, env) {
            inputs.map.insert(key.to_string(), given);
        }
    }
    Ok(inputs)
}

/// The command-line arguments after argv\[0\], which must be UTF-8.
pub(super) fn process_args() -> Result<Vec<String>, ConfigError> {
    std::env::args_os()
        .skip(1)
        .map(|a| {
            a.into_string()
                .map_err(|a| ConfigError(format!("command-line argument {a:?} is not valid UTF-8")))
        })
        .collect()
}

/// The `.env` file of the current directory, if there is one.
pub(super) fn read_dotenv_file() -> Result<HashMap<String, String>, ConfigError> {
    match std::fs::read_to_string(".env") {
        Ok(text) => Ok(parse_dotenv(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(HashMap::new()),
        Err(e) => Err(ConfigError(format!(".env: cannot read the file: {e}"))),
    }
}

// ---------------------------------------------------------------------------------------------
// One raw setting and where it came from.

/// Where a setting was read, for error messages.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Origin {
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
pub(super) enum Raw {
    Text(String),
    Json(Value),
}

/// One value as it was given, and where.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Given {
    pub(super) origin: Origin,
    pub(super) raw: Raw,
}

impl Given {
    pub(super) fn env(name: &str, value: &str) -> Given {
        // soketi JSON-parses every variable: `"abc"` (with the quotes) is the string abc.
        let text = if value.trim_start().starts_with('"') {
            serde_json::from_str::<String>(value).unwrap_or_else(|_| value.to_string())
        } else {
            value.to_string()
        };
        Given {
            origin: Origin::Env(name.to_string()),
            raw: Raw::Text(text),
        }
    }

    pub(super) fn file(path: &str, key: String, value: Value) -> Given {
        Given {
            origin: Origin::File {
                path: path.to_string(),
                key,
            },
            raw: Raw::Json(value),
        }
    }

    pub(super) fn is_env(&self) -> bool {
        matches!(self.origin, Origin::Env(_))
    }

    /// Empty (or only blanks) or JSON null: treated as not given, as soketi does.
    pub(super) fn is_blank(&self) -> bool {
        match &self.raw {
            Raw::Text(s) | Raw::Json(Value::String(s)) => s.trim().is_empty(),
            Raw::Json(Value::Null) => true,
            Raw::Json(_) => false,
        }
    }

    /// The value as the user wrote it, quoted, shortened if very long.
    pub(super) fn shown(&self) -> String {
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

    pub(super) fn error(&self, expected: &str) -> ConfigError {
        ConfigError(format!(
            "{}: {}, got {}",
            self.origin,
            expected,
            self.shown()
        ))
    }

    /// The text of a string value (environment or JSON string).
    pub(super) fn text(&self) -> Option<&str> {
        match &self.raw {
            Raw::Text(s) | Raw::Json(Value::String(s)) => Some(s),
            Raw::Json(_) => None,
        }
    }

    /// `true/false/1/0` (any case, as text or JSON). With `truthy`, as soketi's per-app
    /// booleans, any JSON number other than 0 is true too.
    pub(super) fn boolean(&self, truthy: bool) -> Result<bool, ConfigError> {
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
    pub(super) fn integer(
        &self,
        min: i128,
        max: i128,
        expected: &str,
    ) -> Result<i128, ConfigError> {
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
    pub(super) fn number(
        &self,
        ok: impl Fn(f64) -> bool,
        expected: &str,
    ) -> Result<f64, ConfigError> {
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
    pub(super) fn string(&self) -> Result<String, ConfigError> {
        match &self.raw {
            Raw::Text(s) | Raw::Json(Value::String(s)) => Ok(s.clone()),
            Raw::Json(Value::Number(n)) => Ok(n.to_string()),
            Raw::Json(_) => Err(self.error("expected a string")),
        }
    }

    pub(super) fn ip(&self) -> Result<IpAddr, ConfigError> {
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
// The inputs: the file's flattened keys, overlaid by the environment.

/// Every value given, by dot path. Whoever reads a key removes it (`take`), so that what is
/// left at the end is unknown.
pub(super) struct Inputs {
    pub(super) map: BTreeMap<String, Given>,
    /// Start-up warnings about what was given (see `Config::warnings`).
    pub(super) warnings: Vec<String>,
}

impl Inputs {
    /// Removes and returns the setting for `key`, unless it is blank. A blank string in the
    /// config file is accepted with a warning (soketi would use it; fanoutd uses the default).
    pub(super) fn take(&mut self, key: &str) -> Option<Given> {
        let given = self.map.remove(key)?;
        if !given.is_blank() {
            return Some(given);
        }
        if matches!(
            (&given.origin, &given.raw),
            (Origin::File { .. }, Raw::Json(Value::String(_)))
        ) {
            self.warnings.push(format!(
                "{}: an empty value has no effect: the default is used",
                given.origin
            ));
        }
        None
    }

    /// Removes and returns the setting for `key`; an empty string counts (for settings whose
    /// value may be empty, such as `pathPrefix`), JSON null does not.
    pub(super) fn take_keep_empty(&mut self, key: &str) -> Option<Given> {
        self.map
            .remove(key)
            .filter(|s| !matches!(s.raw, Raw::Json(Value::Null)))
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

pub(super) fn read_config_file(path: &str) -> Result<Vec<(String, Value)>, ConfigError> {
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

/// The value of a setting's variable: the first of its names (see [`Naming`]) that is set and
/// not blank.
pub(super) fn read_env(
    name: &str,
    naming: Naming,
    env: &dyn Fn(&str) -> Option<String>,
) -> Option<Given> {
    naming.variables(name).iter().find_map(|var| {
        env(var)
            .filter(|v| !v.trim().is_empty())
            .map(|v| Given::env(var, &v))
    })
}

/// `--config FILE` / `--config=FILE`, after an optional leading `start`.
pub(super) fn parse_args(args: &[String]) -> Result<Option<String>, ConfigError> {
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

/// Top-level config-file keys of soketi options that fanoutd does not implement (yet): their
/// sub-keys (`cluster.port`, `database.redis.host`, `adapter.redis.prefix`, …) are accepted and
/// ignored, except the drivers and `ssl.certPath` / `ssl.keyPath`, which are checked. The
/// other soketi namespaces (`channelLimits`, `eventLimits`, `presence`, `metrics`, `httpApi`)
/// are fully implemented, so an unknown key there is a typo and is refused.
pub(super) const IGNORED_NAMESPACES: &[&str] = &[
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

/// What is left once every known key was read: soketi options fanoutd does not implement are
/// accepted, each with a warning (added to `s.warnings`); anything else is a typo or a
/// misplaced key, and stops start-up.
pub(super) fn reject_unknown_keys(s: &mut Inputs) -> Result<(), ConfigError> {
    for (key, setting) in &s.map {
        if key.starts_with("appManager.array.") {
            return Err(setting.error(&format!(
                "not an app setting ({APPS_KEY} is a list of app objects, \
                 {APPS_KEY}.<index>.<field> sets one field)"
            )));
        }
        let top = key.split('.').next().unwrap_or(key);
        if IGNORED_NAMESPACES.contains(&top) && key.contains('.') {
            let origin = match &setting.origin {
                Origin::Env(name) => format!("{name} ({key})"),
                file => file.to_string(),
            };
            s.warnings.push(no_effect::warning(&origin, key));
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
pub(super) fn merged_env(
    process: Option<std::ffi::OsString>,
    dotenv: Option<&String>,
) -> Option<String> {
    match process {
        Some(value) => Some(value.to_string_lossy().into_owned()),
        None => dotenv.cloned(),
    }
}

/// Parses a `.env` file as the `dotenv` package (v16) does: `KEY=VALUE` lines, an optional
/// `export ` prefix, `#` comments (also after an unquoted value), values optionally in single,
/// double or back quotes (`\n` and `\r` expanded inside double quotes). A later line wins over
/// an earlier one for the same key; lines that do not parse are skipped.
pub(super) fn parse_dotenv(text: &str) -> HashMap<String, String> {
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
    use crate::config::testing::*;
    use crate::config::Config;

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
    fn known_but_unimplemented_soketi_keys_are_accepted_with_a_warning() {
        let json = r#"{"cluster": {"port": 11002, "hostname": "0.0.0.0"}, "database.redis.keyPrefix": "r",
            "queue": {"redis": {"concurrency": 2}}, "webhooks.batching.enabled": true,
            "cors": {"origin": ["*"]}, "databasePooling.enabled": false, "instance.process_id": 1,
            "adapter.redis.clusterMode": false, "appManager.cache.enabled": true, "ssl.passphrase": "x",
            "rateLimiter.redis.clusterMode": false, "cache.redis.redisOptions": {"a": 1}}"#;
        let c = load_file(json, &[]).unwrap();
        let warnings = c.warnings();
        assert_eq!(
            Config {
                no_effect: Vec::new(),
                ..c
            },
            Config::default()
        );
        // One warning per key given, each naming it.
        assert_eq!(warnings.len(), 13, "{warnings:#?}");
        for key in [
            "cluster.port",
            "instance.process_id",
            "cache.redis.redisOptions.a",
        ] {
            let named = |w: &&String| w.starts_with(&format!("{key} (config file "));
            assert_eq!(warnings.iter().filter(named).count(), 1, "{key}");
        }
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
}
