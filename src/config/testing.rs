//! Helpers of the config tests: loading from a given environment and a temporary config file.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Config, ConfigError};

pub(super) fn env_of(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    move |name: &str| map.get(name).cloned()
}

pub(super) fn load_env(pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    Config::load(&[], &env_of(pairs))
}

pub(super) fn load_file(json: &str, pairs: &[(&str, &str)]) -> Result<Config, ConfigError> {
    let file = TempFile::new(json);
    Config::load(&[format!("--config={}", file.path)], &env_of(pairs))
}

pub(super) fn expect_err(result: Result<Config, ConfigError>) -> String {
    match result {
        Ok(c) => panic!("expected an error, got {c:?}"),
        Err(e) => e.0,
    }
}

/// A file under the temp dir, removed when dropped.
pub(super) struct TempFile {
    pub(super) path: String,
}

impl TempFile {
    pub(super) fn new(contents: &str) -> TempFile {
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

pub(super) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}
