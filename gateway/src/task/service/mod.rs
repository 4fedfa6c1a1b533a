//! What clients do with tasks — create, cancel, follow up, read — as operations
//! that tie validation, policy, quotas, the store and the queue together. HTTP
//! handlers call these and only translate requests and responses.
//!
//! One file per operation: `create`, `messages` (cancel, follow up, steer),
//! `approvals`, `read`.

mod approvals;
mod create;
mod error;
mod messages;
mod read;

use std::path::PathBuf;
use std::sync::Arc;

use super::structured::SchemaChecker;
use crate::approvals::desk::Desk;
use crate::auth::Principal;
use crate::config::TaskLimits;
use crate::plugins::{Plugins, PolicyRefusal};
use crate::queue::{Feeds, Hub, Queue};
use crate::store::entities::task;
use crate::store::{AuditEntry, Store};

pub use error::TaskServiceError;
pub use read::TaskHistory;

/// Who asked, for the audit log.
#[derive(Debug, Clone, Default)]
pub struct RequestContext {
    /// The gateway's own id of the request.
    pub request_id: Option<String>,
    /// The `X-Request-Id` the client sent, kept apart from the gateway's.
    pub client_request_id: Option<String>,
    pub client_addr: Option<String>,
}

impl RequestContext {
    /// An audit entry of this request.
    pub fn audit_entry(&self, key_id: Option<String>, action: &'static str, outcome: &'static str) -> AuditEntry {
        AuditEntry {
            key_id,
            request_id: self.request_id.clone(),
            client_request_id: self.client_request_id.clone(),
            client_addr: self.client_addr.clone(),
            ..AuditEntry::new(action, outcome)
        }
    }
}

/// What creating a task produced.
pub struct CreateOutcome {
    pub task: task::Model,
    /// An earlier request with the same `Idempotency-Key` created it.
    pub replayed: bool,
}

#[derive(Clone)]
pub struct TaskService {
    store: Store,
    queue: Arc<Queue>,
    hub: Arc<Hub>,
    /// Live event feeds of the tasks followed on this node.
    feeds: Arc<Feeds>,
    plugins: Arc<Plugins>,
    data_dir: PathBuf,
    rules: TaskRules,
    desk: Arc<Desk>,
}

/// What the service holds tasks to: the request limits, the artifact globs of tasks
/// that name none, and the checker of output schemas.
#[derive(Clone)]
pub struct TaskRules {
    pub limits: TaskLimits,
    pub default_artifacts: Vec<String>,
    pub schema_checker: SchemaChecker,
}

impl TaskService {
    pub fn new(
        store: Store,
        queue: Arc<Queue>,
        hub: Arc<Hub>,
        plugins: Arc<Plugins>,
        data_dir: PathBuf,
        rules: TaskRules,
        desk: Arc<Desk>,
    ) -> Self {
        let feeds = Arc::new(Feeds::new(store.clone(), hub.clone(), queue.poll_interval()));
        Self { store, queue, hub, feeds, plugins, data_dir, rules, desk }
    }

    pub fn feeds(&self) -> &Feeds {
        &self.feeds
    }

    /// Where multipart uploads are staged while they are received.
    pub fn uploads_dir(&self) -> PathBuf {
        self.data_dir.join("uploads")
    }
}

fn audit_entry(principal: &Principal, ctx: &RequestContext, action: &'static str, outcome: &'static str) -> AuditEntry {
    ctx.audit_entry(Some(principal.key_id.clone()), action, outcome)
}

/// A refusal of the policy chain as the service reports it.
fn refused(refusal: PolicyRefusal) -> TaskServiceError {
    match refusal {
        PolicyRefusal::Denied { plugin, violations } => TaskServiceError::Rejected { plugin, violations },
        failed @ PolicyRefusal::Failed { .. } => TaskServiceError::PluginFailed(failed.to_string()),
    }
}
