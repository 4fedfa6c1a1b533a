//! A run's conclusion: its outcome checked against the output schema and the
//! result plugins, then stored, retried, handed back at shutdown or abandoned.

use std::time::Duration;

use serde_json::json;

use super::finish::Ending;
use super::workers::Queue;
use crate::plugins::Processed;
use crate::runner::{Outcome, RunReport, decide};
use crate::store::{EventRecord, Fence, RunCost};
use crate::task::{ErrorKind, TaskError, TaskOptions, TaskStatus};

impl Queue {
    pub(super) async fn cancel_was_requested(&self, id: &str) -> bool {
        matches!(self.store.task(id).await, Ok(Some(task)) if task.cancel_requested)
    }

    pub(super) async fn conclude(
        &self,
        task: &crate::store::entities::task::Model,
        fence: &Fence,
        options: &TaskOptions,
        report: RunReport,
        queue_wait: Duration,
    ) {
        let id = &task.id;
        if report.lingered {
            let notice = "Claude Code stayed alive after its result; it was stopped";
            let _ = self.store.append_events(id, Some(fence), &[crate::runner::gateway_notice(notice)]).await;
        }
        let mut outcome = decide(&report, options.timeout_seconds);
        if let Outcome::Retry { reason, not_before, fallback } = outcome {
            // Past `system/init` the session holds the prompt: the retry continues it
            // (and once a retry continued, every later one does).
            // A session the CLI cannot find (the run that began it died before the
            // CLI wrote it, as 2.1.332 does while a permission prompt waits) cannot
            // be continued: the retry starts the turn afresh.
            let session_lost = crate::runner::session_not_found(&report);
            if session_lost && let Err(e) = self.store.forget_session(&task.id, fence).await {
                tracing::warn!(task_id = %task.id, error = %e, "could not forget a lost session");
            }
            let continue_turn =
                !session_lost && (task.continue_turn || (report.state.saw_init && report.state.session_id.is_some()));
            let cost = partial_cost(task, &report);
            if self.retry_later(task, fence, &reason, not_before, continue_turn, cost).await {
                return;
            }
            outcome = match *fallback {
                // A cancel that came in while the retry was being decided wins.
                Outcome::Finished { result, .. } if self.cancel_was_requested(&task.id).await => Outcome::Finished {
                    status: TaskStatus::Cancelled,
                    result,
                    error: Some(TaskError::new(ErrorKind::Cancelled, "the task was cancelled")),
                },
                Outcome::Finished { status, result, error } => Outcome::Finished {
                    status,
                    result,
                    error: error.map(|e| {
                        let mut details = e.details.clone();
                        details["transient"] = json!(reason);
                        details["attempts"] = json!(fence.attempt);
                        TaskError { details, ..e }
                    }),
                },
                other => other,
            };
        }
        match outcome {
            Outcome::Finished { status, mut result, mut error } => {
                if let (TaskStatus::Completed, Some(schema)) = (status, &options.output_schema) {
                    match self
                        .schema_checker
                        .check_answer(schema, result.structured.as_ref(), result.text.as_deref())
                        .await
                    {
                        Ok(answer) => result.structured = Some(answer),
                        Err(mismatch) => {
                            result.structured = None;
                            error = Some(
                                TaskError::new(ErrorKind::OutputSchemaMismatch, mismatch.message)
                                    .with_details(mismatch.details),
                            );
                        }
                    }
                }
                let facts = self.task_facts(task, status).await;
                let Processed { mut result, error: refused, events: plugin_events } =
                    self.plugins.process_result(&facts, result).await;
                // What a plugin answered meets the task's output schema too (and a
                // task without one has no structured answer).
                match (&options.output_schema, refused.is_none() && error.is_none()) {
                    (None, _) => result.structured = None,
                    (Some(schema), true) if result.structured.is_some() => {
                        if let Err(mismatch) =
                            self.schema_checker.check_answer(schema, result.structured.as_ref(), None).await
                        {
                            result.structured = None;
                            error = Some(
                                TaskError::new(
                                    ErrorKind::OutputSchemaMismatch,
                                    format!("after the result plugins: {}", mismatch.message),
                                )
                                .with_details(mismatch.details),
                            );
                        }
                    }
                    _ => {}
                }
                let error = refused.or(error);
                let status = concluded_status(status, error.is_some());
                let model = options.model.as_deref().unwrap_or("default");
                crate::telemetry::metrics::usage(model, &result.usage, result.cost_usd);
                crate::telemetry::metrics::key_usage(&task.key_id, &result.usage, result.cost_usd);
                crate::telemetry::metrics::run_finished(status.as_str(), report.duration, queue_wait);
                let version = report.state.claude_code_version.clone();
                let ending = Ending {
                    claude_code_version: version,
                    events: plugin_events,
                    charge: crate::runner::charge(&report),
                    facts: Some(facts),
                    time_left: Some(Duration::from_secs(options.timeout_seconds).saturating_sub(report.duration)),
                    after_run: true,
                    ..Ending::new(status, Some(result), error)
                };
                self.finish(task, fence, ending).await;
                tracing::info!(task_id = %id, status = status.as_str(), duration_ms = report.duration.as_millis() as u64, "run finished");
            }
            Outcome::Requeue if self.cancel_was_requested(id).await => {
                let error = TaskError::new(ErrorKind::Cancelled, "the task was cancelled");
                let partial = crate::runner::partial_result(&report);
                let facts = self.task_facts(task, TaskStatus::Cancelled).await;
                let processed = self.plugins.process_result(&facts, partial).await;
                let version = report.state.claude_code_version.clone();
                let ending = Ending {
                    claude_code_version: version,
                    events: processed.events,
                    charge: crate::runner::charge(&report),
                    facts: Some(facts),
                    time_left: Some(Duration::from_secs(options.timeout_seconds).saturating_sub(report.duration)),
                    after_run: true,
                    ..Ending::new(TaskStatus::Cancelled, Some(processed.result), Some(error))
                };
                self.finish(task, fence, ending).await;
            }
            Outcome::Requeue => {
                let exiting = self.shutdown.is_triggered();
                let handed_over = super::claims::hands_over(self.claims.is_paused(), exiting);
                // The first turn's session is on this node's disk, where the node that
                // takes the task cannot resume it: that node starts the turn afresh.
                if handed_over
                    && task.current_turn == 0
                    && let Err(e) = self.store.forget_session(id, fence).await
                {
                    tracing::warn!(task_id = %id, error = %e, "could not forget a handed-over session");
                }
                let notice = if exiting {
                    "the gateway is shutting down; the task goes back to the queue"
                } else {
                    "the node is draining; the task goes back to the queue"
                };
                let events = [
                    crate::runner::gateway_notice(notice),
                    EventRecord::new("status", json!({"status": TaskStatus::Queued, "attempt": fence.attempt})),
                ];
                let cost = partial_cost(task, &report);
                match self.store.requeue_run(id, fence, task.current_turn, None, cost.as_ref(), &events).await {
                    Ok(true) => tracing::info!(task_id = %id, "run stopped for shutdown; task re-queued"),
                    Ok(false) => tracing::warn!(task_id = %id, "run stopped for shutdown but no longer held the task"),
                    Err(e) => tracing::error!(task_id = %id, error = %e, "could not re-queue a task at shutdown"),
                }
            }
            Outcome::Abandon => tracing::warn!(task_id = %id, "run lost its lease; another node owns the task"),
            // A retry's fallback is always a finished outcome.
            Outcome::Retry { .. } => tracing::error!(task_id = %id, "a retry had no outcome to fall back on"),
        }
    }
}

/// What a run that ends in a retry cost (what the model proxy counted counts
/// even when the run printed no result).
pub(super) fn partial_cost(
    task: &crate::store::entities::task::Model,
    report: &crate::runner::RunReport,
) -> Option<RunCost> {
    crate::runner::charge(report).map(|(usage, cost_usd)| RunCost::of(&task.key_id, cost_usd, &usage))
}

/// The status a finished run is stored with: a run that completed but whose
/// answer was refused (output schema, result plugins) failed.
fn concluded_status(status: TaskStatus, refused: bool) -> TaskStatus {
    if refused && status == TaskStatus::Completed { TaskStatus::Failed } else { status }
}

#[cfg(test)]
mod tests {
    use super::concluded_status;
    use crate::task::TaskStatus;

    #[test]
    fn a_completed_run_whose_answer_was_refused_failed() {
        let rows = [
            (TaskStatus::Completed, false, TaskStatus::Completed),
            (TaskStatus::Completed, true, TaskStatus::Failed),
            (TaskStatus::Failed, true, TaskStatus::Failed),
            (TaskStatus::Cancelled, true, TaskStatus::Cancelled),
        ];
        for (status, refused, stored) in rows {
            assert_eq!(concluded_status(status, refused), stored, "{status:?}, refused {refused}");
        }
    }
}
