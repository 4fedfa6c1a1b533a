//! ccgate tool-approval plugin: allows and denies a run's tool calls by rules in
//! Claude Code's permission syntax (`Bash(curl:*)`, `WebFetch`, `Write(//etc/**)`).
//! A call matching a deny rule is denied, one matching an allow rule allowed, and
//! any other left to the task's own rules and approval mode. See `README.md`.

mod rules;

use ccgate_globs::Place;
use ccgate_plugin_sdk::prelude::*;
use serde::Deserialize;
use serde_json::Value;

pub use rules::Rule;

/// The plugin's configuration.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// A call matching one of these is denied.
    pub deny: Vec<String>,
    /// A call matching one of these (and no deny rule) is allowed.
    pub allow: Vec<String>,
    /// What the model is told on a denial; the matching rule is appended.
    pub message: Option<String>,
}

/// The plugin.
pub struct ToolGuard;

impl Plugin for ToolGuard {
    type Config = Config;
    const NAME: &'static str = "tool-guard";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn config_schema() -> Option<&'static str> {
        Some(ccgate_plugin_sdk::schema!("../schema.json"))
    }

    fn check_config(config: &Config) -> Vec<Violation> {
        let lists = [("deny", &config.deny), ("allow", &config.allow)];
        lists
            .into_iter()
            .flat_map(|(name, rules)| {
                rules.iter().enumerate().filter_map(move |(i, text)| {
                    Rule::parse(text).err().map(|why| Violation::new(format!("/{name}/{i}"), why))
                })
            })
            .collect()
    }
}

impl ToolApproval for ToolGuard {
    fn decide(config: &Config, request: ToolRequest) -> Approval {
        let parse = |texts: &[String]| texts.iter().filter_map(|t| Rule::parse(t).ok()).collect::<Vec<_>>();
        let (deny, allow) = (parse(&config.deny), parse(&config.allow));
        let tool = request.tool_name.as_str();
        let place = Place { workspace: request.workspace.clone(), home: request.home.clone() };
        let Some(input) = request.input_json() else {
            // Too large to be shown: a rule that looks inside this tool's input
            // cannot tell, so the call is refused rather than waved through.
            return match deny.iter().find(|rule| rule.needs_input(tool) || rule.denies(tool, &Value::Null, &place)) {
                Some(rule) => denial(config, rule, "(its input is too large to check)"),
                None => Approval::Ask,
            };
        };
        if let Some(rule) = deny.iter().find(|rule| rule.denies(tool, &input, &place)) {
            log::info_with("denied a tool call", &[("tool", tool), ("rule", rule.text.as_str())]);
            return denial(config, rule, "");
        }
        if allow.iter().any(|rule| rule.allows(tool, &input, &place)) {
            return Approval::Allow(None);
        }
        Approval::Ask
    }
}

fn denial(config: &Config, rule: &Rule, note: &str) -> Approval {
    let message = config.message.as_deref().unwrap_or("this call is not allowed here");
    let note = if note.is_empty() { String::new() } else { format!(" {note}") };
    Approval::Deny(format!("{message} (tool-guard rule {}){note}", rule.text))
}

ccgate_plugin_sdk::export_tool_approval!(ToolGuard);

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn config() -> Config {
        Config { deny: vec!["Bash(curl:*)".into()], allow: vec!["Bash(ls:*)".into()], message: None }
    }

    #[test]
    fn deny_wins_allow_allows_and_the_rest_is_left_to_the_task() {
        let decide =
            |command: &str| ToolGuard::decide(&config(), ToolRequest::new("Bash", &json!({"command": command})));
        let Approval::Deny(message) = decide("ls && curl https://example.com") else { panic!() };
        assert!(message.contains("Bash(curl:*)"), "{message}");
        assert_eq!(decide("ls -la"), Approval::Allow(None));
        assert_eq!(decide("pwd"), Approval::Ask);
    }

    #[test]
    fn a_withheld_input_is_denied_by_a_rule_that_looks_inside() {
        let mut request = ToolRequest::new("Bash", &json!({}));
        (request.input, request.input_bytes) = (None, 100_000);
        assert!(matches!(ToolGuard::decide(&config(), request.clone()), Approval::Deny(_)));
        request.tool_name = "Write".into();
        assert_eq!(ToolGuard::decide(&config(), request), Approval::Ask);
    }

    #[test]
    fn bad_rules_are_named_by_their_place() {
        let config = Config { deny: vec!["Bash(".into()], allow: vec!["Read".into(), "".into()], message: None };
        let pointers: Vec<String> = ToolGuard::check_config(&config).into_iter().map(|v| v.pointer).collect();
        assert_eq!(pointers, ["/deny/0", "/allow/1"]);
    }
}
