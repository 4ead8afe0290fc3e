//! The app list: soketi's `appManager.array.apps` from the config file, the
//! `SOKETI_DEFAULT_APP_*` variables, and soketi's one default app.
//!
//! This module owns the per-app fields: their spellings (every one soketi's App model
//! accepts), their defaults ([`AppConfig::default_app`]: the per-app limits default to the
//! server-level ones of the settings table, [`AppLimits`]) and their checks.
//!
//! * Apps listed in the file must give their id, key and secret: fanoutd does not let a
//!   forgotten secret become the well-known `app-secret`.
//! * `appManager.array.apps.<n>.<field>` (a dotted file key, or a `DEFAULT_APP_*` variable,
//!   which soketi maps to app 0) sets one field of app n, over the listed object; n may be one
//!   past the end of the list, which adds an app (soketi's dot-path set does the same).
//! * Ids and keys must be unique.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::sources::{Given, Inputs, Origin, Raw};
use super::{AppConfig, ConfigError, MAX_INT};

/// soketi's server-level limits (`channelLimits.*`, `eventLimits.*`, `presence.*`), which are
/// the defaults of the per-app limits. The settings table fills them in.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub(super) struct AppLimits {
    pub(super) max_presence_members_per_channel: u32,
    pub(super) max_presence_member_size_in_kb: f64,
    pub(super) max_channel_name_length: usize,
    pub(super) max_event_channels_at_once: usize,
    pub(super) max_event_name_length: usize,
    pub(super) max_event_payload_in_kb: f64,
    pub(super) max_event_batch_size: usize,
}

impl AppConfig {
    /// soketi's default app (`app-id` / `app-key` / `app-secret`, no limits of its own) with
    /// the given server-level limits. Its values are the defaults of every app's fields.
    pub(super) fn default_app(limits: &AppLimits) -> AppConfig {
        AppConfig {
            id: "app-id".to_string(),
            key: "app-key".to_string(),
            secret: "app-secret".to_string(),
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

/// The per-app fields and every spelling of them that soketi's App model accepts (camelCase,
/// PascalCase and snake_case); the last present, non-null, non-empty spelling wins.
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

pub(super) const APPS_KEY: &str = "appManager.array.apps";

/// One app being assembled: its object from the file's list (if any), and the dot-path
/// overrides for its index (`appManager.array.apps.<n>.<field>`, from `DEFAULT_APP_*` or the
/// file).
struct AppSource<'a> {
    index: usize,
    /// The config file the list came from, when the app is listed there.
    listed_in: Option<&'a str>,
    object: Option<&'a Map<String, Value>>,
    overrides: Vec<(String, Given)>,
}

impl AppSource<'_> {
    /// The value of a field: an override wins over the listed object (the environment over the
    /// file); among spellings of one source, the last spelling wins.
    fn field(&self, spellings: &[&str]) -> Option<Given> {
        let mut best: Option<((bool, usize), &Given)> = None;
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
                let setting = Given::file(path, key, value.clone());
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

    fn rate(&self, spellings: &[&str], default: i64) -> Result<i64, ConfigError> {
        let v = self.int(
            spellings,
            default.into(),
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

    /// The app, with the default app's value for each field not given (its limits being the
    /// server-level ones), and where its id and key came from (for the uniqueness check).
    fn build(&self, limits: &AppLimits) -> Result<(AppConfig, [String; 2]), ConfigError> {
        let d = AppConfig::default_app(limits);
        let (id, id_origin) = self.credential("id", F_ID, &d.id)?;
        let (key, key_origin) = self.credential("key", F_KEY, &d.key)?;
        let (secret, _) = self.credential("secret", F_SECRET, &d.secret)?;
        let length = "expected an integer ≥ 1";
        let app = AppConfig {
            id,
            key,
            secret,
            max_connections: self.int(
                F_MAX_CONNECTIONS,
                d.max_connections.into(),
                -1,
                MAX_INT,
                "expected -1 or 0 (no limit) or a positive integer",
            )? as i64,
            enable_client_messages: self
                .boolean(F_ENABLE_CLIENT_MESSAGES, d.enable_client_messages)?,
            enabled: self.boolean(F_ENABLED, d.enabled)?,
            max_backend_events_per_sec: self
                .rate(F_MAX_BACKEND_EVENTS, d.max_backend_events_per_sec)?,
            max_client_events_per_sec: self
                .rate(F_MAX_CLIENT_EVENTS, d.max_client_events_per_sec)?,
            max_read_req_per_sec: self.rate(F_MAX_READ_REQUESTS, d.max_read_req_per_sec)?,
            webhooks: self.webhooks()?,
            max_presence_members_per_channel: self.int(
                F_MAX_PRESENCE_MEMBERS,
                d.max_presence_members_per_channel.into(),
                1,
                u32::MAX.into(),
                "expected an integer 1-4294967295",
            )? as u32,
            max_presence_member_size_in_kb: self
                .kb(F_MAX_PRESENCE_MEMBER_SIZE, d.max_presence_member_size_in_kb)?,
            max_channel_name_length: self.int(
                F_MAX_CHANNEL_NAME_LENGTH,
                d.max_channel_name_length as i128,
                1,
                MAX_INT,
                length,
            )? as usize,
            max_event_channels_at_once: self.int(
                F_MAX_EVENT_CHANNELS,
                d.max_event_channels_at_once as i128,
                1,
                MAX_INT,
                length,
            )? as usize,
            max_event_name_length: self.int(
                F_MAX_EVENT_NAME_LENGTH,
                d.max_event_name_length as i128,
                1,
                MAX_INT,
                length,
            )? as usize,
            max_event_payload_in_kb: self.kb(F_MAX_EVENT_PAYLOAD, d.max_event_payload_in_kb)?,
            max_event_batch_size: self.int(
                F_MAX_EVENT_BATCH,
                d.max_event_batch_size as i128,
                1,
                MAX_INT,
                length,
            )? as usize,
            enable_user_authentication: self
                .boolean(F_USER_AUTHENTICATION, d.enable_user_authentication)?,
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

pub(super) fn build_apps(
    inputs: &mut Inputs,
    limits: &AppLimits,
) -> Result<Vec<AppConfig>, ConfigError> {
    // Per-index overrides, removed from the map.
    let mut overrides: BTreeMap<usize, Vec<(String, Given)>> = BTreeMap::new();
    let override_keys: Vec<String> = inputs
        .map
        .keys()
        .filter(|k| split_app_key(k).is_some())
        .cloned()
        .collect();
    for key in override_keys {
        if let (Some((index, field)), Some(setting)) = (split_app_key(&key), inputs.map.get(&key)) {
            overrides
                .entry(index)
                .or_default()
                .push((field.to_string(), setting.clone()));
        }
        inputs.map.remove(&key);
    }

    // The list from the file, or soketi's one default app.
    let list = inputs.take_keep_empty(APPS_KEY);
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
                        Given::file(path, key, item.clone()).error("expected an app object")
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

#[cfg(test)]
mod tests {
    use crate::config::testing::*;

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
}
