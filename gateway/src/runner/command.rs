//! The argv and environment of one Claude Code run, and the directories it uses.
//!
//! The prompt never appears here: it goes to the process on stdin, because argv is
//! readable by every user of the machine through `/proc/<pid>/cmdline`.

use std::path::{Path, PathBuf};

use crate::config::ClaudeConfig;
use crate::task::TaskOptions;

/// Where a task's files live: the workspace the agent works in, and private state
/// (home, Claude's config and session transcripts, temp files) beside it.
#[derive(Debug, Clone)]
pub struct TaskDirs {
    pub root: PathBuf,
    pub workspace: PathBuf,
    pub home: PathBuf,
    pub claude_config: PathBuf,
    pub tmp: PathBuf,
    /// The input files as the client sent them, kept for artifact plugins (diffs)
    /// when one is loaded; never visible to the run.
    pub baseline: PathBuf,
}

impl TaskDirs {
    pub fn new(data_dir: &Path, task_id: &str) -> Self {
        let root = data_dir.join("tasks").join(task_id);
        let state = root.join("state");
        Self {
            workspace: root.join("workspace"),
            home: state.join("home"),
            claude_config: state.join("home").join(".claude"),
            tmp: state.join("tmp"),
            baseline: root.join("baseline"),
            root,
        }
    }

    pub fn create(&self) -> std::io::Result<()> {
        for dir in [&self.workspace, &self.home, &self.claude_config, &self.tmp] {
            std::fs::create_dir_all(dir)?;
        }
        Ok(())
    }
}

/// What a turn needs from the task.
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
        "--permission-mode",
        &config.permission_mode,
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
    if !config.settings.trim().is_empty() {
        args.extend(["--settings".into(), config.settings.clone()]);
    }
    if let Some(model) = &options.model {
        args.extend(["--model".into(), model.clone()]);
    }
    if !options.allowed_tools.is_empty() {
        args.extend(["--allowedTools".into(), options.allowed_tools.join(",")]);
    }
    if !options.disallowed_tools.is_empty() {
        args.extend(["--disallowedTools".into(), options.disallowed_tools.join(",")]);
    }
    if let Some(prompt) = &options.append_system_prompt {
        args.extend(["--append-system-prompt".into(), prompt.clone()]);
    }
    if let Some(schema) = &options.output_schema {
        args.extend(["--json-schema".into(), schema.to_string()]);
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
    fn options_become_flags_and_the_environment_is_clean() {
        let options = TaskOptions {
            model: Some("claude-sonnet-4-5".into()),
            max_turns: 7,
            timeout_seconds: 60,
            allowed_tools: vec!["Read".into(), "Bash(git *)".into()],
            disallowed_tools: vec!["WebFetch".into()],
            append_system_prompt: Some("be brief".into()),
            network: "none".into(),
            output_schema: None,
            max_budget_usd: Some(1.5),
            project_context: false,
        };
        let args = claude_args(&TurnInput { options: &options, resume_session: Some("abc") }, &ClaudeConfig::default());
        let joined = args.join(" ");
        assert!(joined.contains("--max-turns 7"));
        assert!(joined.contains("--allowedTools Read,Bash(git *)"));
        assert!(joined.contains("--disallowedTools WebFetch"));
        assert!(joined.contains("--resume abc"));
        assert!(joined.contains("--max-budget-usd 1.5"));
        assert!(joined.contains("--setting-sources user --strict-mcp-config"), "no project context by default");
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
    }
}
