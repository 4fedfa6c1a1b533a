//! ccgate result plugin: redacts secrets (cloud keys, tokens, private keys,
//! passwords) from a task result's `text` and from every string inside `structured`.
//! See `README.md` for the kinds and the configuration.

use std::collections::BTreeMap;

use ccgate_plugin_sdk::prelude::*;
use regex_lite::Regex;
use serde::Deserialize;

/// The built-in kinds, in priority order (the first kind wins where matches overlap),
/// and their regexes. A group named `secret` (or `secret2`, …) limits the redaction to
/// that part of the match; otherwise the whole match is redacted.
pub const BUILTIN: &[(&str, &str)] = &[
    (
        "private_key",
        r"-----BEGIN[A-Z0-9 ]* PRIVATE KEY(?: BLOCK)?-----(?:(?s:.*?)-----END[A-Z0-9 ]* PRIVATE KEY(?: BLOCK)?-----|[A-Za-z0-9+/=:,\s-]*)",
    ),
    ("aws_access_key_id", r"\b(?:AKIA|ASIA)[A-Z0-9]{16}\b"),
    (
        "aws_secret_access_key",
        r#"(?i)(?:aws_?)?secret_?access_?key["']?\s*(?::=|=>|=|:)\s*["']?(?P<secret>[A-Za-z0-9/+]{40})(?:[^A-Za-z0-9/+=]|$)"#,
    ),
    ("github_token", r"\b(?:gh[pousr]_[A-Za-z0-9]{36,255}|github_pat_[A-Za-z0-9_]{22,255})\b"),
    ("anthropic_api_key", r"\bsk-ant-[A-Za-z0-9_-]{20,}"),
    ("openai_api_key", r"\bsk-(?:proj-|svcacct-|admin-)?[A-Za-z0-9_-]{32,}"),
    ("slack_webhook", r"https://hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9_/-]+"),
    ("slack_token", r"\b(?:xox[abprs]-[A-Za-z0-9-]{10,}|xapp-[0-9]-[A-Za-z0-9-]{10,})"),
    ("jwt", r"\beyJ[A-Za-z0-9_-]{4,}\.eyJ[A-Za-z0-9_-]{4,}\.[A-Za-z0-9_-]*"),
    ("url_password", r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/:@]+:(?P<secret>[^\s/@]+)@"),
    (
        "password",
        r#"(?i)["']?[A-Za-z0-9_.-]*(?:password|passwd|passphrase)["']?\s*(?::=|=>|=|:)\s*(?:"(?P<secret>(?:[^"\\\n]|\\.)*)"|'(?P<secret2>[^'\n]*)'|(?P<secret3>[^\s"',;&}\]<>]+))"#,
    ),
];

/// Kinds whose matches are skipped when the value looks like a placeholder.
const PLACEHOLDER_KINDS: &[&str] = &["password", "url_password"];

/// The plugin's configuration.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Built-in kinds not to redact.
    pub disabled: Vec<String>,
    /// More patterns, redacted as kind `name`, after the built-in ones.
    pub extra_patterns: Vec<ExtraPattern>,
    /// What a secret becomes; `{kind}` is replaced by the kind.
    pub replacement: String,
}

impl Default for Config {
    fn default() -> Self {
        Config { disabled: Vec::new(), extra_patterns: Vec::new(), replacement: "[REDACTED:{kind}]".to_owned() }
    }
}

/// A configured pattern.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExtraPattern {
    /// The kind named in the replacement and the log.
    pub name: String,
    /// A regex (Rust `regex` syntax); a group named `secret` limits what is redacted.
    pub pattern: String,
}

/// A configuration's patterns, compiled.
#[derive(Debug)]
pub struct Redactor {
    patterns: Vec<(String, Regex)>,
    replacement: String,
}

/// How many secrets of each kind were redacted.
pub type Counts = BTreeMap<String, usize>;

impl Redactor {
    /// Compiles a configuration; its problems as violations.
    pub fn new(config: &Config) -> Result<Self, Vec<Violation>> {
        let mut violations = Vec::new();
        for (i, kind) in config.disabled.iter().enumerate() {
            if !BUILTIN.iter().any(|(k, _)| k == kind) {
                let known: Vec<_> = BUILTIN.iter().map(|(k, _)| *k).collect();
                violations.push(Violation::new(
                    format!("/disabled/{i}"),
                    format!("unknown kind {kind:?} (known: {})", known.join(", ")),
                ));
            }
        }
        let mut patterns: Vec<(String, Regex)> = BUILTIN
            .iter()
            .filter(|(kind, _)| !config.disabled.iter().any(|d| d == kind))
            .map(|(kind, re)| ((*kind).to_owned(), Regex::new(re).expect("built-in patterns compile")))
            .collect();
        for (i, extra) in config.extra_patterns.iter().enumerate() {
            if extra.name.trim().is_empty() {
                violations.push(Violation::new(format!("/extra_patterns/{i}/name"), "must not be empty"));
            }
            match Regex::new(&extra.pattern) {
                Ok(re) if re.is_match("") => violations
                    .push(Violation::new(format!("/extra_patterns/{i}/pattern"), "must not match the empty string")),
                Ok(re) => patterns.push((extra.name.clone(), re)),
                Err(e) => violations
                    .push(Violation::new(format!("/extra_patterns/{i}/pattern"), format!("invalid regex: {e}"))),
            }
        }
        if violations.is_empty() {
            Ok(Redactor { patterns, replacement: config.replacement.clone() })
        } else {
            Err(violations)
        }
    }

    fn replacement(&self, kind: &str) -> String {
        self.replacement.replace("{kind}", kind)
    }

    /// `text` with every secret replaced; adds what it redacted to `counts`. Returns
    /// `None` when nothing was found.
    pub fn redact_text(&self, text: &str, counts: &mut Counts) -> Option<String> {
        // Every match of every pattern on the original text: (start, end, priority).
        let mut spans: Vec<(usize, usize, usize)> = Vec::new();
        for (priority, (kind, re)) in self.patterns.iter().enumerate() {
            for caps in re.captures_iter(text) {
                let m = ["secret", "secret2", "secret3"]
                    .iter()
                    .find_map(|name| caps.name(name))
                    .unwrap_or_else(|| caps.get(0).expect("group 0 is the match"));
                if m.is_empty() || (PLACEHOLDER_KINDS.contains(&kind.as_str()) && is_placeholder(m.as_str())) {
                    continue;
                }
                spans.push((m.start(), m.end(), priority));
            }
        }
        if spans.is_empty() {
            return None;
        }
        spans.sort();
        // Overlapping spans merge; the earliest (then highest-priority) names the kind.
        let mut merged: Vec<(usize, usize, usize)> = Vec::new();
        for (start, end, priority) in spans {
            match merged.last_mut() {
                Some(last) if start < last.1 => last.1 = last.1.max(end),
                _ => merged.push((start, end, priority)),
            }
        }
        let mut out = String::with_capacity(text.len());
        let mut at = 0;
        for (start, end, priority) in merged {
            let kind = &self.patterns[priority].0;
            out.push_str(&text[at..start]);
            out.push_str(&self.replacement(kind));
            *counts.entry(kind.clone()).or_default() += 1;
            at = end;
        }
        out.push_str(&text[at..]);
        Some(out)
    }

    /// JSON text with every string value redacted, and the value of every member whose
    /// key names a password replaced as a whole. Everything else (formatting, key order)
    /// is kept. `None` when nothing was found or the text is not JSON.
    pub fn redact_json(&self, json: &str, counts: &mut Counts) -> Option<String> {
        let password_key = self.patterns.iter().any(|(k, _)| k == "password");
        let mut local = Counts::new();
        let mut out = String::with_capacity(json.len());
        let mut changed = false;
        let mut at = 0;
        let mut after_password_key = false;
        let bytes = json.as_bytes();
        let mut i = 0;
        while i < bytes.len() {
            if bytes[i] != b'"' {
                if !bytes[i].is_ascii_whitespace() && bytes[i] != b':' {
                    after_password_key = false;
                }
                i += 1;
                continue;
            }
            // A string literal from i to end (inclusive).
            let start = i;
            i += 1;
            while i < bytes.len() && bytes[i] != b'"' {
                i += if bytes[i] == b'\\' { 2 } else { 1 };
            }
            if i >= bytes.len() {
                return None;
            }
            let end = i + 1;
            i = end;
            let literal = &json[start..end];
            let value: String = serde_json::from_str(literal).ok()?;
            let next = json[end..].trim_start().as_bytes().first().copied();
            if next == Some(b':') {
                after_password_key = password_key && is_password_key(&value);
                continue;
            }
            let replaced = if after_password_key && !value.is_empty() && !is_placeholder(&value) {
                *local.entry("password".to_owned()).or_default() += 1;
                Some(self.replacement("password"))
            } else {
                self.redact_text(&value, &mut local)
            };
            after_password_key = false;
            if let Some(replaced) = replaced {
                out.push_str(&json[at..start]);
                out.push_str(&serde_json::to_string(&replaced).expect("a string serializes"));
                at = end;
                changed = true;
            }
        }
        if !changed {
            return None;
        }
        out.push_str(&json[at..]);
        // Only count what is actually applied (the text parsed as JSON).
        serde_json::from_str::<serde::de::IgnoredAny>(&out).ok()?;
        for (kind, n) in local {
            *counts.entry(kind).or_default() += n;
        }
        Some(out)
    }

    /// A result with its `text` and `structured` redacted, and what was redacted.
    pub fn redact_result(&self, mut result: TaskResult) -> (TaskResult, Counts) {
        let mut counts = Counts::new();
        if let Some(redacted) = result.text.as_deref().and_then(|text| self.redact_text(text, &mut counts)) {
            result.text = Some(redacted);
        }
        if let Some(structured) = &result.structured {
            let redacted = self.redact_json(structured, &mut counts).or_else(|| {
                // Not valid JSON: treat it as text rather than let secrets through.
                serde_json::from_str::<serde::de::IgnoredAny>(structured)
                    .is_err()
                    .then(|| self.redact_text(structured, &mut counts))
                    .flatten()
            });
            if let Some(redacted) = redacted {
                result.structured = Some(redacted);
            }
        }
        (result, counts)
    }
}

fn is_password_key(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["password", "passwd", "passphrase"].iter().any(|p| key.contains(p))
}

/// Values that stand for a secret rather than being one: `${VAR}`, `<password>`,
/// `****`, `{{ .Password }}`, `%s`, `null`, an earlier redaction.
fn is_placeholder(value: &str) -> bool {
    let v = value.trim();
    v.is_empty()
        || v.starts_with('$')
        || v.starts_with('<')
        || v.starts_with("{{")
        || v.starts_with('%')
        || v.starts_with("[REDACTED")
        || v.chars().all(|c| c == '*' || c == 'x' || c == 'X' || c == '.')
        || ["null", "none", "nil", "undefined", "true", "false"].contains(&v.to_ascii_lowercase().as_str())
}

/// The plugin.
pub struct RedactSecrets;

impl Plugin for RedactSecrets {
    type Config = Config;
    const NAME: &'static str = "redact-secrets";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn config_schema() -> Option<&'static str> {
        Some(ccgate_plugin_sdk::schema!("../schema.json"))
    }

    fn check_config(config: &Config) -> Vec<Violation> {
        Redactor::new(config).err().unwrap_or_default()
    }
}

impl ResultProcessor for RedactSecrets {
    fn process(config: &Config, _task: TaskInfo, result: TaskResult) -> Result<TaskResult, String> {
        let redactor = Redactor::new(config).map_err(|v| format!("invalid configuration: {v:?}"))?;
        let (result, counts) = redactor.redact_result(result);
        if !counts.is_empty() {
            let values: Vec<(String, String)> = counts.iter().map(|(k, n)| (k.clone(), n.to_string())).collect();
            let fields: Vec<(&str, &str)> = values.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let total: usize = counts.values().sum();
            log::info_with(&format!("redacted {total} secret(s)"), &fields);
        }
        Ok(result)
    }
}

ccgate_plugin_sdk::export_result_processor!(RedactSecrets);

#[cfg(test)]
mod tests;
