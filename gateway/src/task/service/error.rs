//! Why an operation on a task was refused.

use crate::store::{MAX_WAITING_MESSAGES, StoreError};
use crate::task::request::FieldError;
use crate::task::{Delivery, TaskStatus};

/// Why an operation on a task was refused.
#[derive(Debug, thiserror::Error)]
pub enum TaskServiceError {
    #[error("no such task")]
    NotFound,
    #[error("plugin `{plugin}` rejected the request")]
    Rejected { plugin: String, violations: Vec<FieldError> },
    #[error("{0}")]
    PluginFailed(String),
    #[error("the key already has {queued} queued tasks, its limit (max_queued_tasks)")]
    QueueFull { queued: u64 },
    #[error("the task is {}; {action} needs a finished task", status.as_str())]
    Conflict { status: TaskStatus, action: &'static str },
    #[error("the task is {}; delivery \"{}\" needs a running task (send \"next_turn\" to a finished one)", status.as_str(), delivery.as_str())]
    NotRunning { status: TaskStatus, delivery: Delivery },
    #[error("{} messages sent into the run are waiting already; wait until it takes them", MAX_WAITING_MESSAGES)]
    TooManyMessages,
    #[error("{0}")]
    BudgetExceeded(crate::budget::Reached),
    #[error("the task's workspace expired and was deleted (retention.workspace_ttl)")]
    WorkspaceExpired,
    #[error("this Idempotency-Key was used in the last 24 h with a different request")]
    IdempotencyKeyReused,
    #[error("the gateway is shutting down")]
    ShuttingDown,
    #[error("{queued} tasks are queued, the gateway's cap (queue.max_depth is {max_depth}); try again later")]
    Overloaded { queued: u64, max_depth: u64 },
    #[error("this key may not give tasks the host's network (options.network = \"full\" needs the network:full scope)")]
    NetworkNotAllowed,
    #[error("the input files were refused")]
    InputsRefused(Vec<FieldError>),
    #[error("{0}")]
    SchemaChecker(String),
    #[error("{}", crate::task::structured::CheckError::Busy)]
    SchemaCheckerBusy,
    #[error("no such approval for this task")]
    ApprovalNotFound,
    #[error("{0}")]
    ApprovalClosed(String),
    #[error("the decision does not fit the prompt")]
    InvalidDecision(Vec<FieldError>),
    #[error("cannot prepare the task's workspace: {0}")]
    Workspace(std::io::Error),
    #[error("cannot save or restore the task's workspace snapshot: {0}")]
    Snapshot(crate::snapshots::SnapshotError),
    #[error(transparent)]
    Store(#[from] StoreError),
}
