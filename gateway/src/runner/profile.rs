//! What a warm Claude Code process was started with, and whether a run may take
//! it: the start-up inputs a task can change (its arguments: model, turn and budget
//! limits, permission mode, setting sources; its settings file: tool rules and
//! approval mode; its network), and the reasons a run starts cold instead.
//!
//! The appended system prompt and the output schema are not part of it: they go
//! on stdin with the prompt, which a warm process has not read yet. The workspace
//! is, in one way: Claude Code reads the git status of its working directory when it
//! starts, so a task whose files are a git repository starts its own process.

use serde_json::Value;

use super::command::{TurnInput, claude_args, settings};
use crate::config::ClaudeConfig;
use crate::task::{Network, TaskOptions};

/// The start-up inputs of one kind of run.
#[derive(Debug, Clone, PartialEq)]
pub struct Profile {
    args: Vec<String>,
    settings: Option<Value>,
    network: Network,
}

impl Profile {
    /// The profile of a first turn with `options` (`None` when its settings cannot
    /// be written: such a run fails when it starts, cold).
    pub fn of(options: &TaskOptions, config: &ClaudeConfig) -> Option<Self> {
        let input = TurnInput { options, resume_session: None };
        Some(Self {
            args: claude_args(&input, config),
            settings: settings(options, config).ok()?,
            network: options.network,
        })
    }
}

/// Why a run did not take a warm process: the `reason` label of the pool's
/// metrics, and what the run's events say.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Miss {
    /// A later turn, or a retry that resumes a session: it needs `--resume`.
    Resumes,
    /// The task's options start the CLI differently from the pool's processes.
    Options,
    /// The task's state holds a session from an earlier attempt.
    EarlierAttempt,
    /// The task's workspace is a git repository, whose status the CLI reads as it starts.
    GitRepository,
    /// No warm process was ready.
    Empty,
    /// The warm processes were still starting.
    Starting,
}

impl Miss {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Resumes => "resumes",
            Self::Options => "options",
            Self::EarlierAttempt => "earlier_attempt",
            Self::GitRepository => "git_repository",
            Self::Empty => "empty",
            Self::Starting => "starting",
        }
    }
}

/// What a task's directories hold that a warm process cannot take on.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Found {
    /// Claude session files of an earlier attempt.
    pub earlier_session: bool,
    /// A git repository at the root of the workspace.
    pub git_repository: bool,
}

/// Whether a turn may take a warm process of `pool`'s profile, before looking for
/// one: only a first turn that resumes nothing, with the pool's options, in a task
/// no earlier attempt left a session in and whose files are no git repository.
pub fn eligible(
    pool: &Profile,
    options: &TaskOptions,
    resume_session: Option<&str>,
    found: Found,
    config: &ClaudeConfig,
) -> Result<(), Miss> {
    if resume_session.is_some() {
        return Err(Miss::Resumes);
    }
    if found.earlier_session {
        return Err(Miss::EarlierAttempt);
    }
    if found.git_repository {
        return Err(Miss::GitRepository);
    }
    if Profile::of(options, config).as_ref() != Some(pool) {
        return Err(Miss::Options);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::approvals::ApprovalMode;
    use crate::config::TaskLimits;

    fn options(body: serde_json::Value) -> TaskOptions {
        crate::task::parse_new_task(&body, &TaskLimits::default(), false).unwrap().options
    }

    #[test]
    fn a_first_turn_with_the_pools_options_takes_a_warm_process_and_nothing_else_does() {
        let config = ClaudeConfig::default();
        let plain = options(serde_json::json!({"prompt": "p"}));
        let pool = Profile::of(&plain, &config).unwrap();
        assert_eq!(eligible(&pool, &plain, None, Found::default(), &config), Ok(()));
        // What goes on stdin with the prompt does not matter.
        let on_stdin = options(serde_json::json!({"prompt": "p", "options": {
            "append_system_prompt": "be brief", "timeout_seconds": 60, "output_schema": {"type": "object"}
        }}));
        assert_eq!(eligible(&pool, &on_stdin, None, Found::default(), &config), Ok(()));
        assert_eq!(eligible(&pool, &plain, Some("session"), Found::default(), &config), Err(Miss::Resumes));
        let earlier = Found { earlier_session: true, ..Found::default() };
        assert_eq!(eligible(&pool, &plain, None, earlier, &config), Err(Miss::EarlierAttempt));
        let git = Found { git_repository: true, ..Found::default() };
        assert_eq!(eligible(&pool, &plain, None, git, &config), Err(Miss::GitRepository));
        for different in [
            serde_json::json!({"model": "claude-haiku-4-5"}),
            serde_json::json!({"max_turns": 3}),
            serde_json::json!({"allowed_tools": ["Read"]}),
            serde_json::json!({"disallowed_tools": ["Bash"]}),
            serde_json::json!({"network": "allowlist"}),
            serde_json::json!({"project_context": true}),
            serde_json::json!({"max_budget_usd": 1.5}),
        ] {
            let task = options(serde_json::json!({"prompt": "p", "options": different.clone()}));
            assert_eq!(eligible(&pool, &task, None, Found::default(), &config), Err(Miss::Options), "{different}");
        }
        let mut asks = plain.clone();
        asks.approvals.mode = ApprovalMode::Ask;
        assert_eq!(
            eligible(&pool, &asks, None, Found::default(), &config),
            Err(Miss::Options),
            "ask mode writes other rules"
        );
    }
}
