//! A small `--flag value` parser for the measurement tools (no dependency for a dozen flags).
//!
//! Every flag is `--name value`, or `--name` alone for a switch. A mode takes the flags it
//! knows with the `take_*` methods, then calls [`Args::finish`], which refuses any flag left
//! over, so a typo is an error instead of a silently ignored setting.

use std::collections::BTreeMap;
use std::str::FromStr;

pub struct Args {
    /// The first word (the mode).
    pub mode: String,
    flags: BTreeMap<String, Option<String>>,
}

impl Args {
    /// Parses `argv[1..]`: a mode word, then flags.
    pub fn parse(mut argv: impl Iterator<Item = String>) -> Result<Args, String> {
        let mode = argv.next().ok_or("missing mode")?;
        let mut flags = BTreeMap::new();
        let mut pending: Option<String> = None;
        for word in argv {
            if let Some(name) = word.strip_prefix("--") {
                if let Some(prev) = pending.take() {
                    flags.insert(prev, None);
                }
                if name.is_empty() {
                    return Err("empty flag `--`".into());
                }
                if let Some((n, v)) = name.split_once('=') {
                    flags.insert(n.to_string(), Some(v.to_string()));
                } else {
                    pending = Some(name.to_string());
                }
            } else if let Some(name) = pending.take() {
                flags.insert(name, Some(word));
            } else {
                return Err(format!("unexpected argument `{word}`"));
            }
        }
        if let Some(prev) = pending {
            flags.insert(prev, None);
        }
        Ok(Args { mode, flags })
    }

    /// A value flag with a default.
    pub fn take<T: FromStr>(&mut self, name: &str, default: T) -> Result<T, String> {
        Ok(self.take_opt(name)?.unwrap_or(default))
    }

    /// A value flag that may be absent.
    pub fn take_opt<T: FromStr>(&mut self, name: &str) -> Result<Option<T>, String> {
        match self.flags.remove(name) {
            None => Ok(None),
            Some(None) => Err(format!("--{name} needs a value")),
            Some(Some(v)) => v
                .parse()
                .map(Some)
                .map_err(|_| format!("--{name}: cannot parse `{v}`")),
        }
    }

    /// A switch (`--name` alone, or `--name true|false`).
    pub fn switch(&mut self, name: &str) -> Result<bool, String> {
        match self.flags.remove(name) {
            None => Ok(false),
            Some(None) => Ok(true),
            Some(Some(v)) => match v.as_str() {
                "true" | "1" | "yes" => Ok(true),
                "false" | "0" | "no" => Ok(false),
                _ => Err(format!("--{name} is a switch; got `{v}`")),
            },
        }
    }

    /// Refuses flags nobody took.
    pub fn finish(self) -> Result<(), String> {
        match self.flags.keys().next() {
            None => Ok(()),
            Some(name) => Err(format!("unknown flag --{name} for mode `{}`", self.mode)),
        }
    }
}
