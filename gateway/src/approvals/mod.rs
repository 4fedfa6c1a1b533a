//! Tool permission prompts. Every run is started with `--permission-prompt-tool
//! stdio`, so a tool call the CLI will not make on its own (a tool the task does not
//! pre-approve, or a Bash command newer CLIs cannot read with confidence) comes to
//! the gateway as a `can_use_tool` control request on stdout instead of being denied
//! in place. The gateway answers on stdin and records both sides as events.
//!
//! The decision (`verdict`): the sandbox is the boundary, so a prompt for a tool the
//! task allows by name is allowed — the newest CLI then runs what the pinned one
//! ran, and a write to a file the CLI calls sensitive (`.git/hooks`, `.vscode/`,
//! `.bashrc`) no longer fails. A prompt for a tool the task allows only in part
//! (`Bash(git status:*)`) means the CLI found the call outside that part: denied,
//! as is a tool the task does not allow at all, and any change to Claude Code's
//! own configuration, which could widen what later calls may do.
//!
//! With `options.approvals.mode = "ask"`, a prompt that `auto` would allow waits
//! for a person instead (`desk`): it is listed on the task, decided over the API,
//! and denied when nobody decides within `options.approvals.timeout_seconds`.
//!
//! A prompt line is tenant input like everything on stdout (the agent can write to
//! the CLI's stdout): it only ever yields an answer to the CLI, events, and in `ask`
//! mode a pending approval of its own task.

pub mod desk;
pub mod questions;
pub mod rules;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::store::EventRecord;

/// The largest tool input kept in an event, as JSON.
const MAX_INPUT_BYTES: usize = 16 * 1024;

/// A `can_use_tool` request of the CLI.
#[derive(Debug, Clone, PartialEq)]
pub struct PermissionPrompt {
    /// The CLI's id of the request, echoed in the answer.
    pub request_id: String,
    pub tool: String,
    pub input: Value,
    /// Why the CLI asks (`decision_reason`), when it says.
    pub reason: Option<String>,
}

impl PermissionPrompt {
    /// The prompt in a stdout line's object, if it is one.
    pub fn parse(object: &serde_json::Map<String, Value>) -> Option<Self> {
        let request = object.get("request")?.as_object()?;
        if request.get("subtype").and_then(Value::as_str) != Some("can_use_tool") {
            return None;
        }
        Some(Self {
            request_id: crate::text::clip(object.get("request_id")?.as_str()?, 256).to_string(),
            tool: crate::text::clip(request.get("tool_name")?.as_str()?, 256).to_string(),
            input: request.get("input").cloned().unwrap_or(Value::Null),
            reason: request
                .get("decision_reason")
                .and_then(Value::as_str)
                .map(|r| crate::text::clip(r, 1024).to_string()),
        })
    }
}

/// The answer to a prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decision {
    Allow,
    Deny { message: String },
}

/// Who decided.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DecidedBy {
    /// The task's approval mode (`auto`, or a tool `ask` does not ask about).
    Mode,
    /// One of the task's `auto_allow` / `auto_deny` rules.
    Rule,
    /// A client over the API.
    Client,
    /// Nobody decided in time.
    Timeout,
    /// A tool-approval plugin of the key (named in the event).
    Plugin,
}

impl DecidedBy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Mode => "mode",
            Self::Rule => "rule",
            Self::Client => "client",
            Self::Timeout => "timeout",
            Self::Plugin => "plugin",
        }
    }
}

/// How a task's prompts are answered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ApprovalMode {
    /// Allow what the task allows by name, deny the rest.
    #[default]
    Auto,
    /// What `auto` would allow waits for a client's decision.
    Ask,
}

/// `options.approvals`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(default)]
pub struct ApprovalOptions {
    #[serde(default)]
    pub mode: ApprovalMode,
    /// How long an `ask` prompt waits before it is denied.
    pub timeout_seconds: u64,
    /// Prompts these rules match are allowed without asking (CLI rule syntax:
    /// `Bash(git status:*)`, `Edit(src/**)`). A Bash rule matches one plain command
    /// only, never a compound line.
    pub auto_allow: Vec<String>,
    /// Prompts these rules match are denied, before `auto_allow` is looked at. A Bash
    /// rule matches when any command of a compound line does.
    pub auto_deny: Vec<String>,
}

impl Default for ApprovalOptions {
    fn default() -> Self {
        Self { mode: ApprovalMode::Auto, timeout_seconds: 600, auto_allow: Vec::new(), auto_deny: Vec::new() }
    }
}

/// The task's tool rules, as the CLI was given them, and its own answers.
#[derive(Debug, Clone, Default)]
pub struct TaskTools {
    pub allowed: Vec<String>,
    pub disallowed: Vec<String>,
    /// `options.approvals.auto_allow` and `auto_deny`, parsed.
    pub auto_allow: Vec<rules::Rule>,
    pub auto_deny: Vec<rules::Rule>,
    /// Where the run sees its workspace and home, for path rules.
    pub place: rules::Place,
}

impl TaskTools {
    /// The tools of a task's options, for a run that sees its files at `place`.
    /// Rules were checked when the task was submitted; one that no longer parses
    /// (stored before a change of syntax) matches nothing.
    pub fn of(options: &crate::task::TaskOptions, place: rules::Place) -> Self {
        let parse = |texts: &[String]| texts.iter().filter_map(|t| rules::Rule::parse(t).ok()).collect();
        Self {
            allowed: options.allowed_tools.clone(),
            disallowed: options.disallowed_tools.clone(),
            auto_allow: parse(&options.approvals.auto_allow),
            auto_deny: parse(&options.approvals.auto_deny),
            place,
        }
    }
}

/// What to do with a prompt.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    Decided(Decision, DecidedBy),
    /// Wait for a client (mode `ask`).
    Ask,
}

/// The verdict on `prompt` for a task with `tools` answering in `mode`: its
/// `auto_deny` rules; what no rule can allow (`disallowed_tools`, Claude's own
/// configuration); its `auto_allow` rules (which may allow calls outside a partial
/// `allowed_tools` rule: submission checks they name an allowed tool); then the mode.
pub fn verdict(prompt: &PermissionPrompt, tools: &TaskTools, mode: ApprovalMode) -> Verdict {
    use rules::{Side, first_match};
    if let Some(rule) = first_match(&tools.auto_deny, &prompt.tool, &prompt.input, Side::Deny, &tools.place) {
        let message = format!("the task denies this call (options.approvals.auto_deny: {})", rule.text());
        return Verdict::Decided(Decision::Deny { message }, DecidedBy::Rule);
    }
    if let Some(refused) = refusal(prompt, &tools.disallowed) {
        return Verdict::Decided(refused, DecidedBy::Mode);
    }
    if first_match(&tools.auto_allow, &prompt.tool, &prompt.input, Side::Allow, &tools.place).is_some() {
        return Verdict::Decided(Decision::Allow, DecidedBy::Rule);
    }
    match (by_name(prompt, &tools.allowed), mode) {
        (Decision::Allow, ApprovalMode::Ask) => Verdict::Ask,
        // Allowing it would tell the model "the user did not answer".
        (Decision::Allow, ApprovalMode::Auto) if prompt.tool == questions::TOOL => {
            Verdict::Decided(Decision::Deny { message: questions::NOBODY_TO_ASK.into() }, DecidedBy::Mode)
        }
        (decision, _) => Verdict::Decided(decision, DecidedBy::Mode),
    }
}

/// What no rule of the task's own can allow: a tool its `disallowed_tools` name,
/// and changes to Claude Code's configuration.
fn refusal(prompt: &PermissionPrompt, disallowed_tools: &[String]) -> Option<Decision> {
    let tool = prompt.tool.as_str();
    // The CLI asks about calls it cannot read (`echo $(rm -rf x)`), which may be
    // ones a disallowed rule (`Bash(rm:*)`) means: a tool with any such rule is denied.
    let disallowed: Vec<&str> =
        disallowed_tools.iter().filter(|rule| tool_of(rule) == tool).map(String::as_str).collect();
    if !disallowed.is_empty() {
        return Some(Decision::Deny {
            message: format!(
                "the task disallows {} (options.disallowed_tools), and this call may be one of them",
                disallowed.join(", ")
            ),
        });
    }
    touches_claude_configuration(prompt).then(|| Decision::Deny {
        message: "changing Claude Code's own configuration (.claude/, .claude.json, .mcp.json) is not allowed \
                  without approval: it could widen what this task's tools may do"
            .into(),
    })
}

/// Allowed when the task allows the tool by name; denied, saying why, when it
/// allows it only in part (the CLI found the call outside that part) or not at all.
fn by_name(prompt: &PermissionPrompt, allowed_tools: &[String]) -> Decision {
    let tool = prompt.tool.as_str();
    if allowed_tools.iter().any(|rule| rule.trim() == tool) {
        return Decision::Allow;
    }
    let partial: Vec<&str> = allowed_tools.iter().filter(|rule| tool_of(rule) == tool).map(String::as_str).collect();
    let message = if partial.is_empty() {
        format!("the task does not allow the {tool} tool (options.allowed_tools)")
    } else {
        format!(
            "the task allows {tool} only as {} (options.allowed_tools), and this call is outside that",
            partial.join(", ")
        )
    };
    Decision::Deny { message }
}

/// The tool a rule string names: `Bash` of `Bash(git status:*)`.
pub fn tool_of(rule: &str) -> &str {
    rule.split_once('(').map_or(rule, |(name, _)| name).trim()
}

/// Whether the call names Claude Code's configuration — settings, hooks, commands,
/// MCP servers — which decide what later calls may do. The CLI asks before writing
/// there even when the tool is allowed; those stay denied. A courtesy, not a
/// boundary: a command can reach the same files without naming them.
fn touches_claude_configuration(prompt: &PermissionPrompt) -> bool {
    fn names_configuration(text: &str) -> bool {
        text.split(|c: char| {
            c == '/' || c.is_whitespace() || matches!(c, '>' | '<' | '=' | '"' | '\'' | ';' | '&' | '|')
        })
        .any(|part| matches!(part, ".claude" | ".claude.json" | ".mcp.json"))
    }
    fn strings(value: &Value, found: &mut dyn FnMut(&str) -> bool) -> bool {
        match value {
            Value::String(text) => found(text),
            Value::Array(items) => items.iter().any(|item| strings(item, found)),
            Value::Object(object) => object.values().any(|item| strings(item, found)),
            _ => false,
        }
    }
    // The input only: the CLI's own reason may name Claude's files for a command
    // that merely could reach them (2.1.332 says so of `ln -s ../../.. data`).
    strings(&prompt.input, &mut |text| names_configuration(text))
}

/// The line to write on the CLI's stdin that answers `prompt` (an allowed call runs
/// with `updated_input` when given).
pub fn control_response(prompt: &PermissionPrompt, decision: &Decision, updated_input: Option<&Value>) -> String {
    let response = match decision {
        Decision::Allow => json!({"behavior": "allow", "updatedInput": updated_input.unwrap_or(&prompt.input)}),
        Decision::Deny { message } => json!({"behavior": "deny", "message": message}),
    };
    let line = json!({
        "type": "control_response",
        "response": {"subtype": "success", "request_id": prompt.request_id, "response": response},
    });
    format!("{line}\n")
}

/// The `approval_requested` and `approval_resolved` events of prompt `approval_id`,
/// decided at once (`requested_at`: when).
pub fn events(
    prompt: &PermissionPrompt,
    approval_id: &str,
    requested_at: i64,
    decision: &Decision,
    by: DecidedBy,
) -> Vec<EventRecord> {
    let asked = Asked { requested_at, expires_at: None };
    vec![requested_event(prompt, approval_id, asked), resolved_event(prompt, approval_id, decision, by)]
}

/// When a prompt was asked, and until when a client may decide it (`ask` mode
/// only: one decided at once never waits).
#[derive(Debug, Clone, Copy)]
pub struct Asked {
    pub requested_at: i64,
    pub expires_at: Option<i64>,
}

/// `approval_requested`: the approval's id (also as `approval_id`, the name the
/// `approval_resolved` event uses), the tool, its input (withheld past 16 KiB),
/// why the CLI asks, when, and until when a client may decide.
pub fn requested_event(prompt: &PermissionPrompt, approval_id: &str, asked: Asked) -> EventRecord {
    EventRecord::new(
        "approval_requested",
        json!({"id": approval_id, "approval_id": approval_id, "tool": prompt.tool,
               "input": bounded_input(&prompt.input), "reason": prompt.reason,
               "requested_at": crate::timestamp::format_ms(asked.requested_at),
               "expires_at": asked.expires_at.map(crate::timestamp::format_ms)}),
    )
}

/// `approval_resolved`: the decision, who made it, and the message the model sees.
pub fn resolved_event(prompt: &PermissionPrompt, approval_id: &str, decision: &Decision, by: DecidedBy) -> EventRecord {
    let (verdict, message) = match decision {
        Decision::Allow => ("allow", None),
        Decision::Deny { message } => ("deny", Some(message.as_str())),
    };
    EventRecord::new(
        "approval_resolved",
        json!({"approval_id": approval_id, "tool": prompt.tool, "decision": verdict, "decided_by": by,
               "message": message}),
    )
}

/// A tool input as kept in events and views: withheld past 16 KiB of JSON.
pub fn bounded_input(input: &Value) -> Value {
    let size = crate::text::json_size(input);
    if size <= MAX_INPUT_BYTES { input.clone() } else { json!({"withheld": true, "input_bytes": size}) }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tools(names: &[&str]) -> Vec<String> {
        names.iter().map(|n| n.to_string()).collect()
    }

    /// The `auto` decision for `prompt` of a task with these tool lists and no rules.
    fn decide(prompt: &PermissionPrompt, allowed_tools: &[String], disallowed_tools: &[String]) -> Decision {
        let tools = TaskTools {
            allowed: allowed_tools.to_vec(),
            disallowed: disallowed_tools.to_vec(),
            ..TaskTools::default()
        };
        match verdict(prompt, &tools, ApprovalMode::Auto) {
            Verdict::Decided(decision, _) => decision,
            Verdict::Ask => unreachable!("auto mode decides"),
        }
    }

    fn asked(tool: &str, input: Value) -> PermissionPrompt {
        PermissionPrompt { request_id: "r".into(), tool: tool.into(), input, reason: None }
    }

    #[test]
    fn a_tool_allowed_by_name_is_allowed_and_a_partial_or_missing_one_denied() {
        let bash = asked("Bash", json!({"command": "(echo a; echo b) > out.txt"}));
        assert_eq!(decide(&bash, &tools(&["Read", "Bash"]), &[]), Decision::Allow);
        let Decision::Deny { message } = decide(&bash, &tools(&["Read", "Bash(git status:*)"]), &[]) else { panic!() };
        assert!(message.contains("only as Bash(git status:*)"), "{message}");
        let Decision::Deny { message } = decide(&asked("WebFetch", json!({})), &tools(&["Read"]), &[]) else {
            panic!()
        };
        assert!(message.contains("does not allow the WebFetch tool"), "{message}");
        let bashful = asked("Bashful", json!({}));
        assert_eq!(decide(&bashful, &tools(&["Bash"]), &[]), decide(&bashful, &[], &[]), "names match whole");
        let Decision::Deny { message } = decide(&bash, &tools(&["Bash"]), &tools(&["Bash(rm:*)"])) else { panic!() };
        assert!(message.contains("disallows Bash(rm:*)"), "{message}");
        assert_eq!(decide(&bash, &tools(&["Bash"]), &tools(&["WebFetch"])), Decision::Allow);
    }

    fn task_tools(allowed: &[&str], auto_allow: &[&str], auto_deny: &[&str]) -> TaskTools {
        let parse = |texts: &[&str]| texts.iter().map(|t| rules::Rule::parse(t).unwrap()).collect();
        TaskTools {
            allowed: tools(allowed),
            disallowed: Vec::new(),
            auto_allow: parse(auto_allow),
            auto_deny: parse(auto_deny),
            place: rules::Place { workspace: "/workspace".into(), home: "/home/agent".into() },
        }
    }

    #[test]
    fn ask_mode_asks_only_what_auto_would_allow() {
        let bash = asked("Bash", json!({"command": "ls"}));
        let all = task_tools(&["Bash"], &[], &[]);
        assert_eq!(verdict(&bash, &all, ApprovalMode::Auto), Verdict::Decided(Decision::Allow, DecidedBy::Mode));
        assert_eq!(verdict(&bash, &all, ApprovalMode::Ask), Verdict::Ask);
        let read_only = task_tools(&["Read"], &[], &[]);
        assert!(matches!(verdict(&bash, &read_only, ApprovalMode::Ask), Verdict::Decided(Decision::Deny { .. }, _)));
    }

    #[test]
    fn the_tasks_rules_answer_before_its_mode() {
        let status = asked("Bash", json!({"command": "git status"}));
        let compound = asked("Bash", json!({"command": "git status && curl -s https://x"}));
        let rules = task_tools(&["Bash"], &["Bash(git status:*)"], &["Bash(curl:*)"]);
        assert_eq!(verdict(&status, &rules, ApprovalMode::Ask), Verdict::Decided(Decision::Allow, DecidedBy::Rule));
        let Verdict::Decided(Decision::Deny { message }, DecidedBy::Rule) =
            verdict(&compound, &rules, ApprovalMode::Ask)
        else {
            panic!("auto_deny first")
        };
        assert!(message.contains("auto_deny: Bash(curl:*)"), "{message}");
        // An allow rule reaches past a partial allowed_tools rule ...
        let partial = task_tools(&["Bash(git:*)"], &["Bash(make:*)"], &[]);
        let make = asked("Bash", json!({"command": "make test"}));
        assert_eq!(verdict(&make, &partial, ApprovalMode::Auto), Verdict::Decided(Decision::Allow, DecidedBy::Rule));
        // ... but not past disallowed_tools or Claude's own configuration.
        let mut disallowing = task_tools(&["Bash"], &["Bash(make:*)"], &[]);
        disallowing.disallowed = tools(&["Bash(rm:*)"]);
        assert!(matches!(verdict(&make, &disallowing, ApprovalMode::Auto), Verdict::Decided(Decision::Deny { .. }, _)));
        let settings = asked("Write", json!({"file_path": "/workspace/.claude/settings.json"}));
        let writing = task_tools(&["Write"], &["Write"], &[]);
        assert!(matches!(verdict(&settings, &writing, ApprovalMode::Auto), Verdict::Decided(Decision::Deny { .. }, _)));
    }

    #[test]
    fn claude_configuration_stays_denied_whatever_the_tool() {
        let all = tools(&["Read", "Write", "Edit", "Bash"]);
        for (tool, input) in [
            ("Write", json!({"file_path": "/workspace/.claude/settings.json", "content": "{}"})),
            ("Edit", json!({"file_path": "/home/agent/.claude.json"})),
            ("Write", json!({"file_path": ".mcp.json"})),
            ("Bash", json!({"command": "echo '{}' > ~/.claude/settings.json"})),
        ] {
            assert!(matches!(decide(&asked(tool, input.clone()), &all, &[]), Decision::Deny { .. }), "{tool} {input}");
        }
        for input in [json!({"file_path": "/workspace/.vscode/settings.json"}), json!({"file_path": "notes.claude.md"})]
        {
            assert_eq!(decide(&asked("Write", input), &all, &[]), Decision::Allow);
        }
        let by_reason = PermissionPrompt {
            reason: Some("This command reaches /home/agent/.claude/.credentials.json".into()),
            ..asked("Bash", json!({"command": "ln -s ../../.. data"}))
        };
        assert_eq!(decide(&by_reason, &all, &[]), Decision::Allow, "the CLI's reason alone is no reason to deny");
    }

    #[test]
    fn prompts_are_read_from_control_requests_only() {
        let line = json!({"type": "control_request", "request_id": "r-1", "request": {
            "subtype": "can_use_tool", "tool_name": "Bash", "input": {"command": "(ls)"},
            "decision_reason": "Contains subshell"}});
        let prompt = PermissionPrompt::parse(line.as_object().unwrap()).unwrap();
        assert_eq!((prompt.request_id.as_str(), prompt.tool.as_str()), ("r-1", "Bash"));
        assert_eq!(prompt.reason.as_deref(), Some("Contains subshell"));
        let interrupt = json!({"type": "control_request", "request_id": "r-2", "request": {"subtype": "interrupt"}});
        assert!(PermissionPrompt::parse(interrupt.as_object().unwrap()).is_none());
    }

    #[test]
    fn answers_speak_the_cli_protocol() {
        let prompt = PermissionPrompt {
            request_id: "r-1".into(),
            tool: "Bash".into(),
            input: json!({"command": "ls"}),
            reason: None,
        };
        let allow: Value = serde_json::from_str(&control_response(&prompt, &Decision::Allow, None)).unwrap();
        assert_eq!(allow["response"]["request_id"], "r-1");
        assert_eq!(allow["response"]["response"], json!({"behavior": "allow", "updatedInput": {"command": "ls"}}));
        let updated: Value =
            serde_json::from_str(&control_response(&prompt, &Decision::Allow, Some(&json!({"command": "pwd"}))))
                .unwrap();
        assert_eq!(updated["response"]["response"]["updatedInput"], json!({"command": "pwd"}));
        let deny = control_response(&prompt, &Decision::Deny { message: "no".into() }, None);
        assert!(deny.ends_with('\n'));
        let deny: Value = serde_json::from_str(&deny).unwrap();
        assert_eq!(deny["response"]["response"], json!({"behavior": "deny", "message": "no"}));
        let big = PermissionPrompt { input: json!({"content": "x".repeat(MAX_INPUT_BYTES)}), ..prompt };
        let recorded = events(&big, "apr_1", 1_000, &Decision::Allow, DecidedBy::Mode);
        assert_eq!(recorded[0].data["input"]["withheld"], true);
        assert_eq!(recorded[0].data["approval_id"], recorded[1].data["approval_id"]);
        assert_eq!(recorded[1].data["decided_by"], "mode");
    }
}
