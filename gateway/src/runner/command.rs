//! The argv and environment of one Claude Code run, and the directories it uses.
//!
//! No free-form task content appears on the command line, because argv is readable by
//! every process of the machine through `/proc/<pid>/cmdline` (other runs included,
//! where runs share the host's PID space): the prompt, the appended system prompt and
//! the output schema go to the process on stdin ([`opening_lines`]), the tool lists
//! to a settings file the run can read but not change ([`settings`]). The model name
//! and the turn and budget limits stay flags (a model in settings would yield to an
//! `ANTHROPIC_MODEL` the operator passes through).

use std::path::{Path, PathBuf};

use serde_json::{Map, Value, json};

use crate::approvals::ApprovalMode;
use crate::config::ClaudeConfig;
use crate::task::TaskOptions;

/// Where a task's files live: the workspace the agent works in, and private state
/// (home, Claude's config and session transcripts, temp files) beside it.
#[derive(Debug, Clone)]
pub struct TaskDirs {
    pub root: PathBuf,
    pub workspace: PathBuf,
    /// Everything of the run's but its workspace: home, Claude's config, temp files
    /// and the turn's settings.
    pub state: PathBuf,
    pub home: PathBuf,
    pub claude_config: PathBuf,
    pub tmp: PathBuf,
    /// The turn's Claude Code settings ([`settings`]): beside the run's directories,
    /// never in one it can write.
    pub settings: PathBuf,
    /// The input files as the client sent them, kept for artifact plugins (diffs)
    /// when one is loaded; never visible to the run.
    pub baseline: PathBuf,
}

impl TaskDirs {
    pub fn new(data_dir: &Path, task_id: &str) -> Self {
        Self::at(data_dir.join("tasks").join(task_id))
    }

    /// The directories of a run rooted at `root` (a task's, or a warm process's
    /// before a task takes it).
    pub fn at(root: PathBuf) -> Self {
        let state = root.join("state");
        Self {
            workspace: root.join("workspace"),
            home: state.join("home"),
            claude_config: state.join("home").join(".claude"),
            tmp: state.join("tmp"),
            settings: state.join("settings.json"),
            baseline: root.join("baseline"),
            state,
            root,
        }
    }

    pub fn create(&self) -> std::io::Result<()> {
        for dir in [&self.workspace, &self.home, &self.claude_config, &self.tmp] {
            std::fs::create_dir_all(dir)?;
        }
        Ok(())
    }

    /// Whether this copy holds Claude Code's transcript of `session` where a run
    /// working in `cwd` (as the run sees it) looks for it, which `--resume` needs (it
    /// is not there when the session began on another node). A session id is the
    /// CLI's word: one that is not a plain id is never looked up.
    pub fn has_transcript(&self, session: &str, cwd: &Path) -> bool {
        if session.is_empty() || !session.chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_') {
            return false;
        }
        let file = self.claude_config.join("projects").join(project_folder(cwd)).join(format!("{session}.jsonl"));
        std::fs::symlink_metadata(file).is_ok_and(|meta| meta.is_file())
    }
}

/// The folder of `projects/` where Claude Code keeps the sessions of a working
/// directory: its path with every character but ASCII letters and digits as `-`.
fn project_folder(cwd: &Path) -> String {
    cwd.to_string_lossy().chars().map(|c| if c.is_ascii_alphanumeric() { c } else { '-' }).collect()
}

#[derive(Debug, Clone)]
pub struct TurnInput<'a> {
    pub options: &'a TaskOptions,
    /// The Claude session to continue (follow-up turns and retried runs).
    pub resume_session: Option<&'a str>,
}

/// Claude Code's arguments for a turn.
pub fn claude_args(input: &TurnInput<'_>, config: &ClaudeConfig) -> Vec<String> {
    let options = input.options;
    let mut args: Vec<String> = [
        "-p",
        "--input-format",
        "stream-json",
        "--output-format",
        "stream-json",
        "--verbose",
        // The CLI echoes each user message when it takes it: where a message sent
        // into the running session begins its turn (`steering`).
        "--replay-user-messages",
        "--permission-mode",
        &config.permission_mode,
        // Prompts the CLI would deny in place come to the gateway (`approvals`).
        "--permission-prompt-tool",
        "stdio",
        "--max-turns",
    ]
    .map(String::from)
    .to_vec();
    args.push(options.max_turns.to_string());
    // Only the gateway's own settings (the run's private HOME) unless the task asks
    // for its project's: uploaded `.claude/` hooks and settings, `.mcp.json` servers
    // and `CLAUDE.md` are otherwise never read. (`--bare` would do it too, but in
    // CLI 2.1.197 it also drops the Write, Glob and Grep tools.)
    if options.project_context {
        args.extend(["--setting-sources".into(), "user,project,local".into()]);
    } else {
        args.extend(["--setting-sources".into(), "user".into(), "--strict-mcp-config".into()]);
    }
    if let Some(model) = &options.model {
        args.extend(["--model".into(), model.clone()]);
    }
    if let Some(budget) = options.max_budget_usd {
        args.extend(["--max-budget-usd".into(), budget.to_string()]);
    }
    if let Some(session) = input.resume_session {
        args.extend(["--resume".into(), session.to_string()]);
    }
    args.extend(config.extra_args.iter().cloned());
    args
}

/// The settings a turn's Claude Code reads from its `--settings` file: the operator's
/// `claude.settings` with the task's tool lists added as permission rules (what
/// `--allowedTools` and `--disallowedTools` would put on the command line, with the
/// same effect); `None` when there is nothing to set. Operator settings whose
/// `permissions` cannot take the rules are an error, never a task without its limits.
pub fn settings(options: &TaskOptions, config: &ClaudeConfig) -> Result<Option<Value>, String> {
    let mut settings = match config.settings.trim() {
        "" => Map::new(),
        text => serde_json::from_str(text).map_err(|e| format!("claude.settings is not a JSON object: {e}"))?,
    };
    // In `ask` mode the CLI must ask before using a tool the task allows by name, so
    // only the partial rules (`Bash(git status:*)`) are pre-approved.
    let allowed: Vec<String> = match options.approvals.mode {
        ApprovalMode::Auto => options.allowed_tools.clone(),
        ApprovalMode::Ask => options.allowed_tools.iter().filter(|rule| rule.contains('(')).cloned().collect(),
    };
    for (rule, tools) in [("allow", &allowed), ("deny", &options.disallowed_tools)] {
        if tools.is_empty() {
            continue;
        }
        let permissions = settings.entry("permissions").or_insert_with(|| json!({}));
        let list = permissions.as_object_mut().map(|p| p.entry(rule).or_insert_with(|| json!([])));
        let Some(list) = list.and_then(Value::as_array_mut) else {
            return Err(format!("claude.settings.permissions.{rule} must be a list to take the task's tools"));
        };
        list.extend(tools.iter().cloned().map(Value::from));
    }
    Ok((!settings.is_empty()).then_some(Value::Object(settings)))
}

/// The `request_id` of the gateway's `initialize` control request; the CLI's answer
/// to it is the gateway's own business, not an event of the run.
pub const INITIALIZE_REQUEST_ID: &str = "ccgate-initialize";

/// The stream-json lines a turn starts with: an `initialize` control request with
/// the appended system prompt and the output schema (what `--append-system-prompt`
/// and `--json-schema` would put on the command line), when the task has either,
/// then the prompt as a user message.
pub fn opening_lines(options: &TaskOptions, prompt: &str) -> Vec<String> {
    let mut lines = Vec::new();
    if options.append_system_prompt.is_some() || options.output_schema.is_some() {
        let mut request = serde_json::Map::new();
        request.insert("subtype".into(), "initialize".into());
        if let Some(prompt) = &options.append_system_prompt {
            request.insert("appendSystemPrompt".into(), prompt.clone().into());
        }
        if let Some(schema) = &options.output_schema {
            request.insert("jsonSchema".into(), schema.clone());
        }
        let line = json!({"type": "control_request", "request_id": INITIALIZE_REQUEST_ID, "request": request});
        lines.push(format!("{line}\n"));
    }
    lines.push(user_line(prompt));
    lines
}

/// A prompt as a stream-json user message, one line.
pub fn user_line(prompt: &str) -> String {
    format!("{}\n", json!({"type": "user", "message": {"role": "user", "content": prompt}}))
}

/// The in-band interrupt of the turn in progress, one line.
pub fn interrupt_line() -> String {
    let interrupt = json!({"type": "control_request", "request_id": crate::ids::new_id("req"), "request": {"subtype": "interrupt"}});
    format!("{interrupt}\n")
}

/// The whole environment of a run: nothing of the gateway's own environment but
/// `ANTHROPIC_*` and `CLAUDE_CODE_*` (in `passthrough`) reaches it.
pub fn environment(dirs: &TaskDirs, config: &ClaudeConfig, passthrough: &[(String, String)]) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), config.path.clone()),
        ("HOME".into(), dirs.home.display().to_string()),
        ("CLAUDE_CONFIG_DIR".into(), dirs.claude_config.display().to_string()),
        ("TMPDIR".into(), dirs.tmp.display().to_string()),
        ("LANG".into(), "C.UTF-8".into()),
        ("DISABLE_AUTOUPDATER".into(), "1".into()),
        // No telemetry, error reports, update checks or other side requests from a
        // run: they leave the machine and, in 2.1.197, cost a model request and
        // 80-130 ms a run. An operator's `claude.env` can still turn them back on.
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".into(), "1".into()),
        ("DISABLE_TELEMETRY".into(), "1".into()),
        ("DISABLE_ERROR_REPORTING".into(), "1".into()),
    ];
    env.extend(passthrough.iter().cloned());
    env.extend(config.env.iter().map(|(k, v)| (k.clone(), v.clone())));
    env
}

/// Keeps the CLI's own side requests (its small fast model, subagents) on the
/// task's model, the only one the model proxy lets the run use. A bare alias
/// (`sonnet`) is left to the CLI, which resolves it itself.
pub fn pinned_models(model: Option<&str>) -> Vec<(String, String)> {
    let Some(model) = model.filter(|m| m.starts_with("claude-")) else { return Vec::new() };
    ["ANTHROPIC_SMALL_FAST_MODEL", "ANTHROPIC_DEFAULT_HAIKU_MODEL", "CLAUDE_CODE_SUBAGENT_MODEL"]
        .map(|name| (name.to_string(), model.to_string()))
        .to_vec()
}

/// The variables of `vars` that runs may see.
pub fn passthrough_env(vars: impl Iterator<Item = (String, String)>) -> Vec<(String, String)> {
    vars.filter(|(name, _)| name.starts_with("ANTHROPIC_") || name.starts_with("CLAUDE_CODE_")).collect()
}

/// Resolves a bare program name on `PATH`, like a shell would.
pub fn resolve_program(program: &str, path: Option<&std::ffi::OsStr>) -> Option<PathBuf> {
    if program.contains('/') {
        let candidate = PathBuf::from(program);
        return is_executable(&candidate).then(|| std::fs::canonicalize(&candidate).unwrap_or(candidate));
    }
    std::env::split_paths(path?).map(|dir| dir.join(program)).find(|p| is_executable(p))
}

fn is_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_transcript_is_found_in_the_folder_of_the_runs_working_directory_only() {
        let dir = tempfile::tempdir().unwrap();
        let dirs = TaskDirs::new(dir.path(), "tsk_1");
        dirs.create().unwrap();
        let inside = Path::new("/workspace");
        assert!(!dirs.has_transcript("0d6e8879-4526", inside));
        std::fs::create_dir_all(dirs.claude_config.join("projects/-workspace")).unwrap();
        std::fs::write(dirs.claude_config.join("projects/-workspace/0d6e8879-4526.jsonl"), "{}").unwrap();
        assert!(dirs.has_transcript("0d6e8879-4526", inside));
        assert!(!dirs.has_transcript("0d6e8879-4526", Path::new("/srv/ccgate/tasks/tsk_1/workspace")), "another cwd");
        assert_eq!(
            project_folder(Path::new("/srv/cc_gate/tasks/tsk_1/work.space")),
            "-srv-cc-gate-tasks-tsk-1-work-space"
        );
        assert!(!dirs.has_transcript("other", inside));
        for odd in ["", "../-workspace/0d6e8879-4526", "0d6e8879-4526.jsonl/.."] {
            assert!(!dirs.has_transcript(odd, inside), "{odd:?}");
        }
    }

    fn sample_options() -> TaskOptions {
        TaskOptions {
            model: Some("claude-sonnet-4-5".into()),
            max_turns: 7,
            timeout_seconds: 60,
            allowed_tools: vec!["Read".into(), "Bash(git *)".into()],
            disallowed_tools: vec!["WebFetch".into()],
            append_system_prompt: Some("be brief".into()),
            network: crate::task::Network::None,
            output_schema: Some(json!({"type": "object"})),
            max_budget_usd: Some(1.5),
            project_context: false,
            approvals: Default::default(),
        }
    }

    #[test]
    fn options_become_flags_and_the_environment_is_clean() {
        let options = sample_options();
        let args = claude_args(&TurnInput { options: &options, resume_session: Some("abc") }, &ClaudeConfig::default());
        let joined = args.join(" ");
        assert!(joined.contains("--max-turns 7"));
        assert!(joined.contains("--resume abc"));
        assert!(joined.contains("--max-budget-usd 1.5"));
        assert!(joined.contains("--setting-sources user --strict-mcp-config"), "no project context by default");
        for content in ["be brief", "object", "Read", "WebFetch"] {
            assert!(!joined.contains(content), "{content} is on the command line: {joined}");
        }
        let open = TaskOptions { project_context: true, ..options };
        let joined =
            claude_args(&TurnInput { options: &open, resume_session: None }, &ClaudeConfig::default()).join(" ");
        assert!(joined.contains("--setting-sources user,project,local") && !joined.contains("--strict-mcp-config"));
        let vars = [("ANTHROPIC_API_KEY", "k"), ("CCGATE_DATABASE_URL", "secret"), ("CLAUDE_CODE_X", "1")]
            .map(|(k, v)| (k.to_string(), v.to_string()));
        let passed = passthrough_env(vars.into_iter());
        let env = environment(&TaskDirs::new(Path::new("/d"), "tsk_1"), &ClaudeConfig::default(), &passed);
        assert!(env.iter().any(|(k, _)| k == "ANTHROPIC_API_KEY"));
        assert!(!env.iter().any(|(k, _)| k == "CCGATE_DATABASE_URL"));
        assert!(env.iter().any(|(k, v)| k == "HOME" && v == "/d/tasks/tsk_1/state/home"));
        assert!(env.iter().any(|(k, v)| k == "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC" && v == "1"));
        // The operator's `claude.env` comes last: it decides.
        let config = ClaudeConfig {
            env: [("DISABLE_TELEMETRY".to_string(), "0".to_string())].into_iter().collect(),
            ..ClaudeConfig::default()
        };
        let env = environment(&TaskDirs::new(Path::new("/d"), "tsk_1"), &config, &[]);
        let telemetry: Vec<&str> =
            env.iter().filter(|(k, _)| k == "DISABLE_TELEMETRY").map(|(_, v)| v.as_str()).collect();
        assert_eq!(telemetry.last(), Some(&"0"));
    }

    #[test]
    fn tool_lists_become_permission_rules_beside_the_operators_settings() {
        let operator = ClaudeConfig {
            settings: r#"{"env": {"A": "1"}, "permissions": {"deny": ["Bash(rm *)"]}}"#.into(),
            ..ClaudeConfig::default()
        };
        let merged = settings(&sample_options(), &operator).unwrap().unwrap();
        assert_eq!(merged["env"]["A"], "1");
        assert_eq!(merged["permissions"]["allow"], json!(["Read", "Bash(git *)"]));
        assert_eq!(merged["permissions"]["deny"], json!(["Bash(rm *)", "WebFetch"]));
        let no_tools = TaskOptions { allowed_tools: vec![], disallowed_tools: vec![], ..sample_options() };
        assert_eq!(settings(&no_tools, &ClaudeConfig::default()), Ok(None));
        let odd = ClaudeConfig { settings: r#"{"permissions": {"allow": "Read"}}"#.into(), ..ClaudeConfig::default() };
        assert!(settings(&sample_options(), &odd).unwrap_err().contains("permissions.allow"));
    }

    #[test]
    fn the_system_prompt_and_schema_go_on_stdin_before_the_prompt() {
        let lines = opening_lines(&sample_options(), "hello");
        let parsed: Vec<serde_json::Value> = lines.iter().map(|l| serde_json::from_str(l).unwrap()).collect();
        assert_eq!(parsed[0]["request_id"], INITIALIZE_REQUEST_ID);
        assert_eq!(parsed[0]["request"]["appendSystemPrompt"], "be brief");
        assert_eq!(parsed[0]["request"]["jsonSchema"], json!({"type": "object"}));
        assert_eq!(parsed[1]["message"]["content"], "hello");
        assert!(lines.iter().all(|l| l.ends_with('\n') && l.matches('\n').count() == 1));
        let plain = opening_lines(
            &TaskOptions { append_system_prompt: None, output_schema: None, ..sample_options() },
            "hello",
        );
        assert_eq!(plain.len(), 1, "nothing to initialize: the prompt alone");
    }
}
