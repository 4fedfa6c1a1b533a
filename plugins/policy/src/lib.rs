//! ccgate policy plugin: enterprise rules for task requests.
//!
//! Denies prompts that match configured patterns, requires and checks metadata,
//! restricts tools to an allowlist, caps `max_turns` and `timeout_seconds`, and appends
//! a compliance line to the system prompt. See `README.md` for the configuration.

use std::collections::BTreeMap;

use ccgate_plugin_sdk::prelude::*;
use regex_lite::{Regex, RegexBuilder};
use serde::Deserialize;
use serde_json::Value;

/// The plugin's configuration.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Regexes searched for in the prompt; any match denies the request.
    pub deny_patterns: Vec<DenyPattern>,
    /// Cap on `options.max_turns`.
    pub max_turns: Option<u64>,
    /// Cap on `options.timeout_seconds`.
    pub max_timeout_seconds: Option<u64>,
    /// The tools a request may ask for.
    pub allowed_tools: Option<Vec<String>>,
    /// Metadata keys that must be present with a non-empty value.
    pub require_metadata: Vec<String>,
    /// Metadata key → regex the whole value must match (when the key is present).
    pub metadata_patterns: BTreeMap<String, String>,
    /// A line appended to `options.append_system_prompt`.
    pub compliance_line: Option<String>,
}

/// A deny rule: a bare regex, or a regex with a name and options.
#[derive(Debug, Deserialize)]
#[serde(untagged)]
pub enum DenyPattern {
    /// Just the regex; the rule is named after it.
    Regex(String),
    /// A regex with a name, a message and case-insensitivity.
    Rule(DenyRule),
}

/// A deny rule in its long form.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DenyRule {
    /// The regex (Rust `regex` syntax), searched for anywhere in the prompt.
    pub pattern: String,
    /// The rule's name, shown to the client (default: the pattern).
    #[serde(default)]
    pub name: Option<String>,
    /// Match regardless of case (default false).
    #[serde(default)]
    pub case_insensitive: bool,
    /// The violation's message (default: `the prompt matches the denied pattern "<name>"`).
    #[serde(default)]
    pub message: Option<String>,
}

/// The ready-to-use rules of a configuration.
#[derive(Debug)]
pub struct Rules<'a> {
    config: &'a Config,
    deny: Vec<(String, Option<&'a str>, Regex)>,
    metadata: Vec<(&'a str, Regex)>,
}

impl<'a> Rules<'a> {
    /// Compiles a configuration's regexes; every one that does not compile, as a
    /// violation of its configuration field.
    pub fn compile(config: &'a Config) -> Result<Self, Vec<Violation>> {
        let mut violations = Vec::new();
        let mut deny = Vec::new();
        for (i, rule) in config.deny_patterns.iter().enumerate() {
            let (pattern, name, insensitive, message, pointer) = match rule {
                DenyPattern::Regex(p) => (p, p.clone(), false, None, format!("/deny_patterns/{i}")),
                DenyPattern::Rule(r) => (
                    &r.pattern,
                    r.name.clone().unwrap_or_else(|| r.pattern.clone()),
                    r.case_insensitive,
                    r.message.as_deref(),
                    format!("/deny_patterns/{i}/pattern"),
                ),
            };
            match RegexBuilder::new(pattern).case_insensitive(insensitive).build() {
                Ok(re) => deny.push((name, message, re)),
                Err(e) => violations.push(Violation::new(pointer, format!("invalid regex: {e}"))),
            }
        }
        let mut metadata = Vec::new();
        for (key, pattern) in &config.metadata_patterns {
            match Regex::new(&format!("^(?:{pattern})$")) {
                Ok(re) => metadata.push((key.as_str(), re)),
                Err(e) => violations.push(Violation::new(
                    format!("/metadata_patterns/{}", pointer_escape(key)),
                    format!("invalid regex: {e}"),
                )),
            }
        }
        for (i, key) in config.require_metadata.iter().enumerate() {
            if key.is_empty() {
                violations.push(Violation::new(format!("/require_metadata/{i}"), "must not be empty"));
            }
        }
        if let Some(tools) = &config.allowed_tools {
            for (i, tool) in tools.iter().enumerate() {
                if tool.trim().is_empty() {
                    violations.push(Violation::new(format!("/allowed_tools/{i}"), "must not be empty"));
                }
            }
        }
        if config.compliance_line.as_deref().is_some_and(|l| l.trim().is_empty()) {
            violations.push(Violation::new("/compliance_line", "must not be empty"));
        }
        for (pointer, value) in [("/max_turns", config.max_turns), ("/max_timeout_seconds", config.max_timeout_seconds)]
        {
            if value == Some(0) {
                violations.push(Violation::new(pointer, "must be at least 1"));
            }
        }
        if violations.is_empty() { Ok(Rules { config, deny, metadata }) } else { Err(violations) }
    }

    /// Applies the rules to a request: `deny` with every violation found, else
    /// `rewrite` when a cap, the allowlist or the compliance line changed the request,
    /// else `allow`.
    pub fn evaluate(&self, request: &TaskRequest) -> Decision {
        let config = self.config;
        let mut violations = Vec::new();

        for (name, message, re) in &self.deny {
            if re.is_match(&request.prompt) {
                let message =
                    message.map_or_else(|| format!("the prompt matches the denied pattern {name:?}"), str::to_owned);
                violations.push(Violation::new("/prompt", message));
            }
        }

        for key in &config.require_metadata {
            if request.metadata_value(key).is_none_or(|v| v.trim().is_empty()) {
                violations.push(Violation::new(
                    format!("/metadata/{}", pointer_escape(key)),
                    format!("metadata {key:?} is required"),
                ));
            }
        }
        for (key, re) in &self.metadata {
            match request.metadata_value(key) {
                Some(value) if !value.is_empty() && !re.is_match(value) => violations.push(Violation::new(
                    format!("/metadata/{}", pointer_escape(key)),
                    format!("metadata {key:?} must match {:?}", config.metadata_patterns[*key]),
                )),
                _ => {}
            }
        }

        let mut options = request.options();
        let mut changed = false;

        if let Some(allowlist) = &config.allowed_tools {
            let requested = options.get("allowed_tools").and_then(Value::as_array).filter(|a| !a.is_empty());
            match requested {
                Some(tools) => {
                    for (i, tool) in tools.iter().enumerate() {
                        let tool = tool.as_str().unwrap_or_default();
                        if !tool_allowed(tool, allowlist) {
                            violations.push(Violation::new(
                                format!("/options/allowed_tools/{i}"),
                                format!("tool {tool:?} is not allowed (allowed: {})", allowlist.join(", ")),
                            ));
                        }
                    }
                }
                None => {
                    options.insert("allowed_tools".into(), allowlist.clone().into());
                    changed = true;
                }
            }
        }

        if !violations.is_empty() {
            return Decision::Deny(violations);
        }

        changed |= cap(&mut options, "max_turns", config.max_turns);
        changed |= cap(&mut options, "timeout_seconds", config.max_timeout_seconds);

        if let Some(line) = &config.compliance_line {
            let current = options.get("append_system_prompt").and_then(Value::as_str).unwrap_or_default();
            if !current.lines().any(|l| l.trim() == line.trim()) {
                let appended = if current.is_empty() { line.clone() } else { format!("{current}\n{line}") };
                options.insert("append_system_prompt".into(), appended.into());
                changed = true;
            }
        }

        if changed { Decision::rewrite_from(request, &options) } else { Decision::Allow }
    }
}

/// Lowers `options[field]` to `limit` when it is above it or missing; whether it changed.
fn cap(options: &mut Options, field: &str, limit: Option<u64>) -> bool {
    let Some(limit) = limit else { return false };
    match options.get(field).and_then(Value::as_u64) {
        Some(value) if value <= limit => false,
        _ => {
            options.insert(field.into(), limit.into());
            true
        }
    }
}

/// Whether `tool` is on the allowlist: listed exactly, or a narrowed form
/// (`Bash(git log:*)`) of a listed bare tool name (`Bash`).
fn tool_allowed(tool: &str, allowlist: &[String]) -> bool {
    let base = tool.split_once('(').map_or(tool, |(base, _)| base).trim();
    allowlist.iter().any(|allowed| allowed == tool || (!allowed.contains('(') && allowed == base))
}

/// The plugin.
pub struct PolicyPlugin;

impl Plugin for PolicyPlugin {
    type Config = Config;
    const NAME: &'static str = "policy";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn config_schema() -> Option<&'static str> {
        Some(ccgate_plugin_sdk::schema!("../schema.json"))
    }

    fn check_config(config: &Config) -> Vec<Violation> {
        Rules::compile(config).err().unwrap_or_default()
    }
}

impl Policy for PolicyPlugin {
    fn validate(config: &Config, request: TaskRequest) -> Decision {
        let rules = Rules::compile(config).unwrap_or_else(|v| panic!("the configuration was checked at load: {v:?}"));
        let decision = rules.evaluate(&request);
        match &decision {
            Decision::Deny(v) => {
                log::info_with("request denied", &[("violations", &v.len().to_string()), ("key", &request.key_name)])
            }
            Decision::Rewrite(_) => log::debug("request rewritten"),
            Decision::Allow => {}
        }
        decision
    }
}

ccgate_plugin_sdk::export_policy!(PolicyPlugin);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config(value: Value) -> Config {
        serde_json::from_value(value).unwrap()
    }

    fn request(prompt: &str, options: Value, metadata: &[(&str, &str)]) -> TaskRequest {
        let request = TaskRequest::new(prompt).with_options(options).with_key_name("ci");
        metadata.iter().fold(request, |request, (k, v)| request.with_metadata(*k, *v))
    }

    fn eval(config: &Config, request: &TaskRequest) -> Decision {
        Rules::compile(config).unwrap().evaluate(request)
    }

    fn rewritten_options(decision: Decision) -> Value {
        match decision {
            Decision::Rewrite(r) => serde_json::from_str(&r.options).unwrap(),
            other => panic!("expected a rewrite, got {other:?}"),
        }
    }

    fn pointers(decision: &Decision) -> Vec<&str> {
        match decision {
            Decision::Deny(v) => v.iter().map(|v| v.pointer.as_str()).collect(),
            other => panic!("expected a denial, got {other:?}"),
        }
    }

    #[test]
    fn empty_config_allows_everything() {
        let c = Config::default();
        assert_eq!(eval(&c, &request("anything", json!({"max_turns": 100}), &[])), Decision::Allow);
    }

    #[test]
    fn deny_patterns_name_the_rule() {
        let c = config(json!({"deny_patterns": [
            "rm -rf /",
            {"pattern": "password", "name": "no-secrets", "case_insensitive": true},
            {"pattern": "Exfiltrate", "message": "nope"}
        ]}));
        let d = eval(&c, &request("Print the PASSWORD then rm -rf /", json!({}), &[]));
        let Decision::Deny(v) = &d else { panic!("{d:?}") };
        assert_eq!(v.len(), 2);
        assert!(v.iter().all(|v| v.pointer == "/prompt"));
        assert!(v[0].message.contains("rm -rf /"));
        assert!(v[1].message.contains("no-secrets"));
        // case-sensitive by default
        assert_eq!(eval(&c, &request("exfiltrate", json!({}), &[])), Decision::Allow);
        assert_eq!(pointers(&eval(&c, &request("Exfiltrate", json!({}), &[]))), ["/prompt"]);
    }

    #[test]
    fn caps_lower_and_fill_in() {
        let c = config(json!({"max_turns": 10, "max_timeout_seconds": 600}));
        let o = rewritten_options(eval(&c, &request("p", json!({"max_turns": 50, "timeout_seconds": 60}), &[])));
        assert_eq!(o, json!({"max_turns": 10, "timeout_seconds": 60}));
        let o = rewritten_options(eval(&c, &request("p", json!({"model": "m"}), &[])));
        assert_eq!(o, json!({"model": "m", "max_turns": 10, "timeout_seconds": 600}));
        assert_eq!(eval(&c, &request("p", json!({"max_turns": 10, "timeout_seconds": 600}), &[])), Decision::Allow);
    }

    #[test]
    fn rewrite_keeps_the_rest_of_the_request() {
        let c = config(json!({"max_turns": 3}));
        let mut r = request("hello", json!({"max_turns": 9}), &[("team", "a")]);
        r.priority = 5;
        let Decision::Rewrite(rw) = eval(&c, &r) else { panic!() };
        assert_eq!((rw.prompt.as_str(), rw.priority), ("hello", 5));
        assert_eq!(rw.metadata, vec![("team".to_string(), "a".to_string())]);
    }

    #[test]
    fn allowlist_denies_others_and_fills_in() {
        let c = config(json!({"allowed_tools": ["Read", "Grep", "Bash"]}));
        let d =
            eval(&c, &request("p", json!({"allowed_tools": ["Read", "WebFetch", "Bash(git log:*)", "Write"]}), &[]));
        assert_eq!(pointers(&d), ["/options/allowed_tools/1", "/options/allowed_tools/3"]);
        let o = rewritten_options(eval(&c, &request("p", json!({"allowed_tools": []}), &[])));
        assert_eq!(o["allowed_tools"], json!(["Read", "Grep", "Bash"]));
        let o = rewritten_options(eval(&c, &request("p", json!({}), &[])));
        assert_eq!(o["allowed_tools"], json!(["Read", "Grep", "Bash"]));
        assert_eq!(eval(&c, &request("p", json!({"allowed_tools": ["Grep"]}), &[])), Decision::Allow);
        // a narrowed entry does not allow the bare tool
        let c = config(json!({"allowed_tools": ["Bash(git:*)"]}));
        assert_eq!(
            pointers(&eval(&c, &request("p", json!({"allowed_tools": ["Bash"]}), &[]))),
            ["/options/allowed_tools/0"]
        );
    }

    #[test]
    fn metadata_required_and_patterns() {
        let c = config(json!({
            "require_metadata": ["ticket", "team/unit"],
            "metadata_patterns": {"ticket": "[A-Z]+-[0-9]+"}
        }));
        let d = eval(&c, &request("p", json!({}), &[("team/unit", " ")]));
        assert_eq!(pointers(&d), ["/metadata/ticket", "/metadata/team~1unit"]);
        let d = eval(&c, &request("p", json!({}), &[("ticket", "OPS-12 extra"), ("team/unit", "x")]));
        assert_eq!(pointers(&d), ["/metadata/ticket"]);
        assert_eq!(eval(&c, &request("p", json!({}), &[("ticket", "OPS-12"), ("team/unit", "x")])), Decision::Allow);
    }

    #[test]
    fn violations_win_over_rewrites() {
        let c = config(json!({"max_turns": 1, "deny_patterns": ["x"]}));
        assert!(matches!(eval(&c, &request("x", json!({"max_turns": 5}), &[])), Decision::Deny(_)));
    }

    #[test]
    fn compliance_line_is_appended_once() {
        let c = config(json!({"compliance_line": "Follow ACME policy 7."}));
        let o = rewritten_options(eval(&c, &request("p", json!({"append_system_prompt": null}), &[])));
        assert_eq!(o["append_system_prompt"], "Follow ACME policy 7.");
        let o = rewritten_options(eval(&c, &request("p", json!({"append_system_prompt": "Be brief."}), &[])));
        assert_eq!(o["append_system_prompt"], "Be brief.\nFollow ACME policy 7.");
        let already = json!({"append_system_prompt": "Be brief.\nFollow ACME policy 7."});
        assert_eq!(eval(&c, &request("p", already, &[])), Decision::Allow);
    }

    #[test]
    fn check_config_reports_bad_regexes() {
        let c = config(json!({
            "deny_patterns": ["ok", "(unclosed", {"pattern": "[z-a]"}],
            "metadata_patterns": {"a/b": "("},
            "max_turns": 0
        }));
        let v = PolicyPlugin::check_config(&c);
        let p: Vec<_> = v.iter().map(|v| v.pointer.as_str()).collect();
        assert_eq!(p, ["/deny_patterns/1", "/deny_patterns/2/pattern", "/metadata_patterns/a~1b", "/max_turns"]);
    }

    #[test]
    fn check_config_text_reports_serde_errors() {
        let v = ccgate_plugin_sdk::check_config_text::<PolicyPlugin>(r#"{"max_turn": 3}"#);
        assert_eq!(v.len(), 1);
        assert_eq!(v[0].pointer, "");
        assert!(v[0].message.contains("max_turn"), "{}", v[0].message);
        assert!(ccgate_plugin_sdk::check_config_text::<PolicyPlugin>("{}").is_empty());
    }

    #[test]
    fn schema_is_valid_json() {
        let schema: Value = serde_json::from_str(PolicyPlugin::config_schema().unwrap()).unwrap();
        assert_eq!(schema["additionalProperties"], false);
    }
}
