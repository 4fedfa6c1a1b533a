//! The five hooks as the rest of the gateway calls them, and the conversions
//! between the gateway's types and the WIT records. Each hook runs the chain of
//! plugins that serve it for the task's key, records each call as a `plugin`
//! event, and applies `on_error` to a failed call.

mod artifacts;
mod policy;
mod result;
mod tool_approval;
mod webhook;

use std::collections::BTreeMap;

pub use artifacts::{ArtifactChoice, Selection};
pub use policy::PolicyRefusal;
pub use result::Processed;
pub use tool_approval::{ToolApproval, ToolApprovers};
pub use webhook::{FormattedWebhook, WebhookEvent};

use super::bindings::current::types;
use crate::task::{TaskResult, TaskStatus};

/// What a hook knows of the task it runs for.
#[derive(Debug, Clone)]
pub struct TaskFacts {
    pub id: String,
    pub status: TaskStatus,
    pub prompt: String,
    pub metadata: BTreeMap<String, String>,
    pub key_id: String,
    pub key_name: String,
}

impl TaskFacts {
    fn to_wit(&self) -> types::TaskInfo {
        types::TaskInfo {
            id: self.id.clone(),
            status: status_to_wit(self.status),
            prompt: self.prompt.clone(),
            metadata: pairs(&self.metadata),
            key_name: self.key_name.clone(),
        }
    }
}

/// The WIT spelling of a task status: the one place the two meet.
fn status_to_wit(status: TaskStatus) -> types::TaskStatus {
    match status {
        TaskStatus::Queued => types::TaskStatus::Queued,
        TaskStatus::Running => types::TaskStatus::Running,
        TaskStatus::Completed => types::TaskStatus::Completed,
        TaskStatus::Failed => types::TaskStatus::Failed,
        TaskStatus::Cancelled => types::TaskStatus::Cancelled,
    }
}

fn pairs(map: &BTreeMap<String, String>) -> Vec<(String, String)> {
    map.iter().map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn result_to_wit(result: &TaskResult) -> types::TaskResult {
    types::TaskResult {
        text: result.text.clone(),
        structured: result.structured.as_ref().map(|v| v.to_string()),
        session_id: result.session_id.clone(),
        num_turns: result.num_turns,
        usage: types::Usage {
            input_tokens: result.usage.input_tokens,
            output_tokens: result.usage.output_tokens,
            cache_read_input_tokens: result.usage.cache_read_input_tokens,
            cache_creation_input_tokens: result.usage.cache_creation_input_tokens,
        },
        cost_usd: result.cost_usd,
        duration_ms: result.duration_ms,
        partial: result.partial,
    }
}

#[cfg(test)]
mod tests {
    use super::super::bindings::status_name;
    use crate::task::TaskStatus;

    #[test]
    fn older_plugins_see_the_status_as_the_api_spells_it() {
        for status in TaskStatus::ALL {
            assert_eq!(status_name(super::status_to_wit(status)), status.as_str());
        }
    }
}
