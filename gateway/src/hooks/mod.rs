//! Extension points of a task's life, as small traits with the built-in
//! behaviour. The WebAssembly plugin host implements the same traits, so the rest
//! of the gateway does not know whether a policy is built in or a plugin.

use crate::auth::Principal;
use crate::task::{FieldError, NewTask, TaskResult};

/// Decides whether a task request may be queued: allow (possibly rewriting the
/// request in place) or deny with violations, which the client gets as a 422
/// `rejected_by_plugin` problem.
pub trait TaskValidator: Send + Sync {
    fn validate(&self, request: &mut NewTask, principal: &Principal) -> Result<(), Vec<FieldError>>;
}

/// Turns a run's result into the result that is stored and sent (e.g. redacted).
/// An error fails the task with kind `internal` and the message given.
pub trait ResultProcessor: Send + Sync {
    fn process(&self, task_id: &str, result: TaskResult) -> Result<TaskResult, String>;
}

/// Built in: every request that passed the gateway's own validation is allowed.
pub struct AllowAll;

impl TaskValidator for AllowAll {
    fn validate(&self, _request: &mut NewTask, _principal: &Principal) -> Result<(), Vec<FieldError>> {
        Ok(())
    }
}

/// Built in: the result is stored as Claude Code reported it.
pub struct KeepResult;

impl ResultProcessor for KeepResult {
    fn process(&self, _task_id: &str, result: TaskResult) -> Result<TaskResult, String> {
        Ok(result)
    }
}
