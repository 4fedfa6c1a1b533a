//! A task's permission prompts, and a client's decision on one.

use serde_json::json;

use super::{RequestContext, TaskService, TaskServiceError, audit_entry};
use crate::approvals::desk::{ApprovalView, ClientDecision, DecideError};
use crate::approvals::questions;
use crate::auth::Principal;
use crate::task::request::FieldError;

impl TaskService {
    /// The task's permission prompts, oldest first.
    pub async fn approvals(&self, principal: &Principal, id: &str) -> Result<Vec<ApprovalView>, TaskServiceError> {
        let task = self.owned(principal, id).await?;
        Ok(self.store.approvals_of(&task.id, false).await?.iter().map(ApprovalView::from).collect())
    }

    /// A client's decision on one of the task's prompts.
    pub async fn decide_approval(
        &self,
        principal: &Principal,
        id: &str,
        approval_id: &str,
        decision: ClientDecision,
        ctx: &RequestContext,
    ) -> Result<ApprovalView, TaskServiceError> {
        let task = self.owned(principal, id).await?;
        let allow = decision.allow;
        let decision = self.with_answers(&task.id, approval_id, decision).await?;
        let row = self.desk.decide(&task.id, approval_id, decision).await.map_err(|e| match e {
            DecideError::NotFound => TaskServiceError::ApprovalNotFound,
            DecideError::Store(e) => TaskServiceError::Store(e),
            e => TaskServiceError::ApprovalClosed(e.to_string()),
        })?;
        let mut audit = audit_entry(principal, ctx, "approval.decide", "ok");
        audit.target = Some(task.id.clone());
        audit.details = Some(json!({"approval_id": approval_id, "decision": if allow { "allow" } else { "deny" }}));
        if let Err(e) = self.store.audit(audit).await {
            tracing::warn!(error = %e, "could not audit an approval decision");
        }
        Ok(ApprovalView::from(&row))
    }

    /// A decision whose `answers` are turned into the `AskUserQuestion` input the
    /// CLI reads (checked against the questions the prompt asked).
    pub(super) async fn with_answers(
        &self,
        task_id: &str,
        approval_id: &str,
        mut decision: ClientDecision,
    ) -> Result<ClientDecision, TaskServiceError> {
        let Some(answers) = decision.answers.take() else { return Ok(decision) };
        let row = self.store.approval(task_id, approval_id).await?.ok_or(TaskServiceError::ApprovalNotFound)?;
        let invalid = |message: String| TaskServiceError::InvalidDecision(vec![FieldError::new("/answers", message)]);
        if row.tool != questions::TOOL {
            return Err(invalid(format!("go with {} prompts only; this one is for {}", questions::TOOL, row.tool)));
        }
        let input: serde_json::Value = serde_json::from_str(&row.input).unwrap_or_default();
        if input.get("withheld").is_some() {
            return Err(invalid("cannot be given: the questions were too large to keep (over 16 KiB)".into()));
        }
        let answered = questions::answered_input(&input, &answers).map_err(|errors| {
            TaskServiceError::InvalidDecision(
                errors.into_iter().map(|e| FieldError::new(e.pointer, e.message)).collect(),
            )
        })?;
        decision.updated_input = Some(answered);
        Ok(decision)
    }
}
