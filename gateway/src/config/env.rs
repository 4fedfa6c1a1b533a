//! Environment variables. Every setting has one: `CCGATE_` and its key in capitals,
//! `_` for `.` (`queue.lease_seconds` → `CCGATE_QUEUE_LEASE_SECONDS`), read as the
//! setting's TOML type. A few older, shorter names are kept as aliases. A variable
//! that is set wins over the file; a bad one is refused, naming it.

use std::collections::BTreeMap;

use toml::{Table, Value};

use super::{Config, ConfigError};

/// Older names of some settings, read before the settings' own variables (which
/// win when both are set).
pub(super) const ALIASES: [(&str, &str); 13] = [
    ("CCGATE_WORKERS", "queue.workers"),
    ("CCGATE_LEASE_SECONDS", "queue.lease_seconds"),
    ("CCGATE_MAX_ATTEMPTS", "queue.max_attempts"),
    ("CCGATE_SHUTDOWN_GRACE_SECONDS", "queue.shutdown_grace_seconds"),
    ("CCGATE_DRAIN_GRACE_SECONDS", "queue.drain_grace_seconds"),
    ("CCGATE_POLL_INTERVAL_MS", "queue.poll_interval_ms"),
    ("CCGATE_KEY_PEPPER", "keys.pepper"),
    ("CCGATE_MAX_TIMEOUT_SECONDS", "tasks.max_timeout_seconds"),
    ("CCGATE_MAX_BODY_BYTES", "http.max_body_bytes"),
    ("CCGATE_ADVERTISE_URL", "node.advertise_url"),
    ("CCGATE_CLUSTER_SECRET", "node.cluster_secret"),
    ("CCGATE_SNAPSHOTS", "storage.snapshots"),
    ("CCGATE_WEBHOOK_ALLOWED_HOSTS", "webhooks.allowed_hosts"),
];

/// Settings unset by default, so absent from the serialized defaults, and the type
/// their variables are read as.
const UNSET_BY_DEFAULT: [(&str, Kind); 3] =
    [("pool.size", Kind::Integer), ("tasks.default_model", Kind::String), ("plugins.cache_dir", Kind::String)];

/// Lists of tables: set in the file only.
pub(super) const FILE_ONLY: [&str; 1] = ["plugins.chain"];

/// How a variable's text is read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    String,
    Integer,
    Float,
    Boolean,
    /// `a, b, c` (items of the kind of the default's items: strings for an empty
    /// default), or a TOML array `["a", "b"]`.
    List(Item),
    /// A TOML inline table: `{ NAME = "value" }`.
    Table,
}

/// What a list's items are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Item {
    String,
    Integer,
    Float,
    Boolean,
}

impl From<Item> for Kind {
    fn from(item: Item) -> Self {
        match item {
            Item::String => Kind::String,
            Item::Integer => Kind::Integer,
            Item::Float => Kind::Float,
            Item::Boolean => Kind::Boolean,
        }
    }
}

/// The variable of setting `key`.
pub(super) fn variable_of(key: &str) -> String {
    format!("CCGATE_{}", key.to_ascii_uppercase().replace('.', "_"))
}

/// Every setting that has variables, by its dotted key, with their names: the
/// aliases first, the setting's own last (for the configuration reference).
#[cfg(test)]
pub(super) fn variables() -> BTreeMap<String, Vec<String>> {
    let defaults = Table::try_from(Config::default()).unwrap_or_default();
    settings(&defaults).into_keys().map(|key| (key.clone(), names_of(&key))).collect()
}

fn names_of(key: &str) -> Vec<String> {
    let aliases = ALIASES.iter().filter(|(_, setting)| *setting == key).map(|(name, _)| name.to_string());
    aliases.chain([variable_of(key)]).collect()
}

/// Settings that are maps (names of the operator's choosing): a variable sets the
/// whole map, as a TOML inline table. Other tables are sections, whose settings
/// have variables of their own.
const MAPS: [&str; 2] = ["claude.env", "pricing.models"];

/// The settings of `table` (a serialized configuration) that variables can set.
fn settings(table: &Table) -> BTreeMap<String, Kind> {
    fn walk(table: &Table, prefix: &str, found: &mut BTreeMap<String, Kind>) {
        for (name, value) in table {
            let key = format!("{prefix}{name}");
            match value {
                Value::Table(section) if !MAPS.contains(&key.as_str()) => walk(section, &format!("{key}."), found),
                value => {
                    found.insert(key, kind_of(value));
                }
            }
        }
    }
    let mut found = BTreeMap::new();
    walk(table, "", &mut found);
    for (key, kind) in UNSET_BY_DEFAULT {
        found.insert(key.to_string(), kind);
    }
    found.retain(|key, _| !FILE_ONLY.contains(&key.as_str()));
    found
}

/// Removes the setting at dotted `key` of `table` (unset: its default).
fn unset(table: &mut Table, key: &str) {
    match key.split_once('.') {
        Some((section, rest)) => {
            if let Some(Value::Table(section)) = table.get_mut(section) {
                unset(section, rest);
            }
        }
        None => {
            table.remove(key);
        }
    }
}

/// Sets the setting at dotted `key` of `table` to `value`.
fn set(table: &mut Table, key: &str, value: Value) {
    match key.split_once('.') {
        Some((section, rest)) => {
            let section = table.entry(section).or_insert_with(|| Value::Table(Table::new()));
            if let Value::Table(section) = section {
                set(section, rest, value);
            }
        }
        None => {
            table.insert(key.to_string(), value);
        }
    }
}

fn kind_of(value: &Value) -> Kind {
    match value {
        Value::Integer(_) => Kind::Integer,
        Value::Float(_) => Kind::Float,
        Value::Boolean(_) => Kind::Boolean,
        Value::Array(items) => Kind::List(match items.first() {
            Some(Value::Integer(_)) => Item::Integer,
            Some(Value::Float(_)) => Item::Float,
            Some(Value::Boolean(_)) => Item::Boolean,
            _ => Item::String,
        }),
        Value::Table(_) => Kind::Table,
        Value::String(_) | Value::Datetime(_) => Kind::String,
    }
}

/// `text` as a value of `kind`; why not.
fn parse(kind: Kind, text: &str) -> Result<Value, String> {
    let trimmed = text.trim();
    let toml_value = |what: &str| {
        toml::from_str::<Table>(&format!("v = {trimmed}"))
            .ok()
            .and_then(|mut t| t.remove("v"))
            .ok_or_else(|| format!("must be {what}"))
    };
    match kind {
        // A line ending left by a CRLF env file is never part of a value.
        Kind::String => Ok(Value::String(text.trim_end_matches(['\r', '\n']).to_string())),
        Kind::Integer => trimmed.parse().map(Value::Integer).map_err(|_| "must be a whole number".to_string()),
        Kind::Float => trimmed.parse().map(Value::Float).map_err(|_| "must be a number".to_string()),
        Kind::Boolean => match trimmed {
            "true" => Ok(Value::Boolean(true)),
            "false" => Ok(Value::Boolean(false)),
            _ => Err("must be true or false".to_string()),
        },
        Kind::List(_) if trimmed.starts_with('[') => toml_value("a TOML array").and_then(|v| match v {
            Value::Array(_) => Ok(v),
            _ => Err("must be a TOML array".to_string()),
        }),
        Kind::List(item) => {
            let items = trimmed.split(',').map(str::trim).filter(|item| !item.is_empty());
            let items = items.map(|text| parse(item.into(), text).map_err(|why| format!("{text:?}: {why}")));
            Ok(Value::Array(items.collect::<Result<_, _>>()?))
        }
        Kind::Table => toml_value("a TOML inline table, `{ NAME = \"value\" }`").and_then(|v| match v {
            Value::Table(_) => Ok(v),
            _ => Err("must be a TOML inline table, `{ NAME = \"value\" }`".to_string()),
        }),
    }
}

impl Config {
    /// Environment overrides: each setting's variables that `lookup` knows (it is
    /// `std::env::var` outside tests).
    pub fn apply_env(&mut self, lookup: impl Fn(&str) -> Option<String>) -> Result<(), ConfigError> {
        let refused = |name: &str, text: &str, reason: String| ConfigError::Env {
            name: name.to_string(),
            value: text.to_string(),
            reason,
        };
        let mut table = Table::try_from(&*self).map_err(|e| refused("(the configuration)", "", e.to_string()))?;
        // A list's items are read as the default's are (the file may have emptied it).
        let defaults = settings(&Table::try_from(Config::default()).unwrap_or_default());
        let mut changed = false;
        for (key, kind) in settings(&table) {
            let kind = defaults.get(&key).copied().unwrap_or(kind);
            // The setting's own variable, else its older name.
            let Some((name, text)) = names_of(&key).into_iter().rev().find_map(|n| lookup(&n).map(|t| (n, t))) else {
                continue;
            };
            let optional = UNSET_BY_DEFAULT.iter().any(|(unset, _)| *unset == key);
            let mut candidate = table.clone();
            if optional && text.trim().is_empty() {
                unset(&mut candidate, &key); // empty: unset, as by default
            } else {
                set(&mut candidate, &key, parse(kind, &text).map_err(|reason| refused(&name, &text, reason))?);
            }
            // Read back at once, so that a value of the wrong shape (`sandbox.mode =
            // "strict"`) is refused under the variable's name. A word with stray
            // spaces around it (`bwrap\r` from a CRLF file) is read without them.
            let mut read = Value::Table(candidate.clone()).try_into::<Config>();
            if read.is_err() && kind == Kind::String && text.trim() != text {
                set(&mut candidate, &key, Value::String(text.trim().to_string()));
                read = Value::Table(candidate.clone()).try_into::<Config>();
            }
            read.map_err(|e| refused(&name, &text, e.to_string()))?;
            table = candidate;
            changed = true;
        }
        if changed {
            *self = Value::Table(table).try_into().map_err(|e| refused("(the environment)", "", e.to_string()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn with(vars: &[(&str, &str)]) -> Result<Config, ConfigError> {
        let mut config: Config = toml::from_str("listen = \"0.0.0.0:1\"\n[queue]\nworkers = 7").unwrap();
        let vars: BTreeMap<String, String> = vars.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        config.apply_env(|name| vars.get(name).cloned())?;
        Ok(config)
    }

    #[test]
    fn every_setting_has_its_own_variable_and_the_environment_wins() {
        let config = with(&[
            ("CCGATE_LISTEN", "127.0.0.1:9"),
            ("CCGATE_QUEUE_LEASE_SECONDS", " 45 "),
            ("CCGATE_HTTP_MAX_STREAMS_PER_KEY", "9"),
            ("CCGATE_POOL_SIZE", "2"),
            ("CCGATE_TASKS_DEFAULT_MODEL", "claude-haiku-4-5"),
            ("CCGATE_SANDBOX_MODE", "landlock"),
            ("CCGATE_WEBHOOKS_ALLOWED_HOSTS", "a.example, b.example,"),
            ("CCGATE_CLAUDE_ENV", "{ LANG = \"C.UTF-8\" }"),
            ("CCGATE_TASKS_OUTPUT_SCHEMA_MAX_REFS", "8"),
            ("CCGATE_PRICING_DEFAULT_INPUT", "2.5"),
        ])
        .unwrap();
        assert_eq!(
            (config.listen.as_str(), config.queue.workers),
            ("127.0.0.1:9", 7),
            "the file's other settings stay"
        );
        assert_eq!((config.queue.lease_seconds, config.http.max_streams_per_key), (45, 9));
        assert_eq!((config.pool.size, config.tasks.default_model.as_deref()), (Some(2), Some("claude-haiku-4-5")));
        assert_eq!(config.sandbox.mode, crate::sandbox::SandboxMode::Landlock);
        assert_eq!(config.webhooks.allowed_hosts, ["a.example", "b.example"]);
        assert_eq!(config.claude.env.get("LANG").map(String::as_str), Some("C.UTF-8"));
        assert_eq!((config.tasks.output_schema.max_refs, config.pricing.default.input), (8, 2.5), "nested sections");
        let listed = with(&[("CCGATE_WEBHOOKS_ALLOWED_HOSTS", "[\"c.example\"]")]).unwrap();
        assert_eq!(listed.webhooks.allowed_hosts, ["c.example"]);
    }

    #[test]
    fn lists_of_numbers_words_with_stray_spaces_and_empty_optional_settings() {
        let config = with(&[
            ("CCGATE_QUEUE_RETRY_BACKOFF_SECONDS", "5, 30"),
            ("CCGATE_SANDBOX_MODE", "landlock\r"),
            ("CCGATE_TASKS_DEFAULT_MODEL", ""),
            ("CCGATE_POOL_SIZE", " "),
        ])
        .unwrap();
        assert_eq!(config.queue.retry_backoff_seconds, [5, 30]);
        assert_eq!(config.sandbox.mode, crate::sandbox::SandboxMode::Landlock);
        assert_eq!((config.tasks.default_model, config.pool.size), (None, None), "empty: unset");
        let pepper = with(&[("CCGATE_KEYS_PEPPER", "p3pp3r\r\n")]).unwrap();
        assert_eq!(pepper.keys.pepper, "p3pp3r", "a CRLF line ending is not part of a secret");
        let mut emptied: Config = toml::from_str("[queue]\nretry_backoff_seconds = []").unwrap();
        emptied.apply_env(|name| (name == "CCGATE_QUEUE_RETRY_BACKOFF_SECONDS").then(|| "5,30".to_string())).unwrap();
        assert_eq!(emptied.queue.retry_backoff_seconds, [5, 30], "items typed as the default's, not the file's");
        let error = with(&[("CCGATE_QUEUE_RETRY_BACKOFF_SECONDS", "5,soon")]).unwrap_err().to_string();
        assert!(error.contains("\"soon\": must be a whole number"), "{error}");
    }

    #[test]
    fn aliases_set_the_same_setting_and_the_settings_own_variable_wins() {
        assert_eq!(with(&[("CCGATE_WORKERS", "3")]).unwrap().queue.workers, 3);
        let both = with(&[("CCGATE_WORKERS", "3"), ("CCGATE_QUEUE_WORKERS", "5")]).unwrap();
        assert_eq!(both.queue.workers, 5);
        let stale = with(&[("CCGATE_SNAPSHOTS", "yes"), ("CCGATE_STORAGE_SNAPSHOTS", "on")]).unwrap();
        assert_eq!(stale.storage.snapshots, super::super::SnapshotMode::On, "an older name is not read then");
        assert_eq!(with(&[("CCGATE_SNAPSHOTS", "off")]).unwrap().storage.snapshots, super::super::SnapshotMode::Off);
        let settings = variables();
        for (alias, key) in ALIASES {
            assert!(settings.get(key).is_some_and(|names| names.contains(&alias.to_string())), "{alias} → {key}");
        }
    }

    #[test]
    fn bad_values_are_refused_naming_the_variable() {
        for (name, value, says) in [
            ("CCGATE_WORKERS", "many", "whole number"),
            ("CCGATE_QUEUE_LEASE_SECONDS", "-5", "CCGATE_QUEUE_LEASE_SECONDS"),
            ("CCGATE_SANDBOX_MODE", "strict", "unknown variant"),
            ("CCGATE_DASHBOARD_ENABLED", "yes", "true or false"),
            ("CCGATE_CLAUDE_ENV", "LANG=C", "inline table"),
        ] {
            let error = with(&[(name, value)]).unwrap_err().to_string();
            assert!(error.contains(name) && error.contains(says), "{name}={value}: {error}");
        }
    }

    #[test]
    fn no_two_settings_share_a_variable() {
        let mut seen = BTreeMap::new();
        for (key, names) in variables() {
            for name in names {
                if let Some(other) = seen.insert(name.clone(), key.clone()) {
                    panic!("{name} would set both {other} and {key}");
                }
            }
        }
        assert!(seen.contains_key("CCGATE_DATA_DIR") && !seen.values().any(|key| key == "plugins.chain"));
    }
}
