//! Where prompts wait for a person: a prompt of an `ask` task is stored pending,
//! its run waits on it (with the task's deadline), and a client's decision over the
//! API wakes the run. The store decides who wins: a decision is a conditional
//! update of a pending row, so a client and the deadline cannot both decide. A
//! prompt the run decided at once is stored as decided, off the run's path.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use serde_json::Value;
use tokio::sync::oneshot;

use super::{DecidedBy, Decision, PermissionPrompt};
use crate::store::entities::approval::{self, ApprovalState};
use crate::store::{ApprovalDecision, NewApproval, Runs, Store, StoreError};

/// The answer a waiting run gets.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub decision: Decision,
    pub decided_by: DecidedBy,
    /// What to run instead of the tool's input, when the client gave it.
    pub updated_input: Option<Value>,
}

/// Why a client's decision was not taken.
#[derive(Debug, thiserror::Error)]
pub enum DecideError {
    #[error("no such approval for this task")]
    NotFound,
    #[error("this approval was already decided")]
    AlreadyDecided,
    #[error("this approval expired: its run ended before a decision")]
    Expired,
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// A client's decision.
#[derive(Debug, Clone)]
pub struct ClientDecision {
    pub allow: bool,
    pub updated_input: Option<Value>,
    pub message: Option<String>,
    /// Answers to an `AskUserQuestion` prompt, by question (become `updated_input`).
    pub answers: Option<serde_json::Map<String, Value>>,
}

/// Prompts waiting on this node, by approval id, with their run.
pub struct Desk {
    store: Store,
    waiting: Mutex<HashMap<String, (String, oneshot::Sender<()>)>>,
}

/// How often a waiting prompt looks at its row: a decision taken on another node
/// wakes no waiter here.
const RECHECK: Duration = Duration::from_secs(1);

impl Desk {
    pub fn new(store: Store) -> Self {
        Self { store, waiting: Mutex::new(HashMap::new()) }
    }

    /// Records `prompt` of the run `run_id`, decided at once as `id` at `at`, in the
    /// background: the run never waits on the database for a prompt it answered
    /// itself. (A prompt not recorded is still in the task's events.)
    #[allow(clippy::too_many_arguments)]
    pub fn record_decided(
        &self,
        task_id: &str,
        run_id: &str,
        turn: i32,
        prompt: &PermissionPrompt,
        (id, at): (&str, i64),
        decision: &Decision,
        (by, updated_input): (DecidedBy, Option<&Value>),
    ) {
        let (verdict, message) = match decision {
            Decision::Allow => ("allow", None),
            Decision::Deny { message } => ("deny", Some(message.clone())),
        };
        let new = new_approval(id, (task_id, run_id, turn), prompt, (at, at));
        let decided = ApprovalDecision {
            decision: verdict,
            decided_by: by.as_str(),
            message,
            updated_input: updated_input.map(|input| super::bounded_input(input).to_string()),
        };
        let store = self.store.clone();
        tokio::spawn(async move {
            let task_id = new.task_id.clone();
            if let Err(e) = store.record_decided_approval(new, decided).await {
                tracing::warn!(task_id, error = %e, "could not record a permission prompt decided at once");
            }
        });
    }

    /// Records `prompt` of the run `run_id` as pending and returns its row; `wait`
    /// then waits for it.
    pub async fn open(
        &self,
        task_id: &str,
        run_id: &str,
        turn: i32,
        prompt: &PermissionPrompt,
        timeout: Duration,
    ) -> Result<(approval::Model, oneshot::Receiver<()>), StoreError> {
        let id = crate::ids::new_id("apr");
        let (wake, woken) = oneshot::channel();
        // Registered before the row exists, so no decision can come before the waiter.
        self.lock().insert(id.clone(), (run_id.to_string(), wake));
        let now = crate::timestamp::now_ms();
        let times = (now, now + timeout.as_millis() as i64);
        let row = self.store.insert_approval(new_approval(&id, (task_id, run_id, turn), prompt, times)).await;
        match row {
            Ok(row) => Ok((row, woken)),
            Err(e) => {
                self.lock().remove(&id);
                Err(e)
            }
        }
    }

    /// Waits for a decision on `row` until its `expires_at`, then denies it; `None`
    /// only when its run ended first (nobody is left to answer). Whatever else goes
    /// wrong, the run gets an answer: a CLI left waiting would hold its task.
    pub async fn wait(&self, row: &approval::Model, mut woken: oneshot::Receiver<()>) -> Option<Answer> {
        let deadline = tokio::time::Instant::now()
            + Duration::from_millis((row.expires_at - crate::timestamp::now_ms()).max(0) as u64);
        loop {
            tokio::select! {
                woke = &mut woken => {
                    if woke.is_err() {
                        return None; // the waiter was dropped: the run ended
                    }
                    break;
                }
                () = tokio::time::sleep_until(deadline) => {
                    let seconds = (row.expires_at - row.requested_at).max(1000) / 1000;
                    let timed_out = ApprovalDecision {
                        decision: "deny",
                        decided_by: "timeout",
                        message: Some(format!(
                            "nobody decided within the task's {seconds} s (options.approvals.timeout_seconds)"
                        )),
                        updated_input: None,
                    };
                    // A decision that came in at the same moment wins; it is read below.
                    let _ = self.store.decide_approval(&row.task_id, &row.id, timed_out).await;
                    break;
                }
                () = tokio::time::sleep(RECHECK) => {
                    if let Ok(Some(now)) = self.store.approval(&row.task_id, &row.id).await
                        && now.state != ApprovalState::Pending
                    {
                        break;
                    }
                }
            }
        }
        self.lock().remove(&row.id);
        match self.store.approval(&row.task_id, &row.id).await {
            Ok(Some(decided)) => answer_of(&decided),
            Ok(None) | Err(_) => Some(Answer {
                decision: Decision::Deny { message: "the decision on this tool call could not be read".into() },
                decided_by: DecidedBy::Mode,
                updated_input: None,
            }),
        }
    }

    /// The answer a client gave an earlier run of this turn for the same call, and
    /// that prompt's id (`None` for a call whose input was too large to keep: two
    /// such inputs cannot be told apart).
    pub async fn earlier_answer(
        &self,
        task_id: &str,
        run_id: &str,
        turn: i32,
        prompt: &PermissionPrompt,
    ) -> Option<(String, Answer)> {
        let input = super::bounded_input(&prompt.input);
        if input.get("withheld").is_some() {
            return None;
        }
        let found = self.store.earlier_decision(task_id, turn, run_id, &prompt.tool, &input.to_string()).await;
        match found {
            Ok(Some(row)) => answer_of(&row).map(|answer| (row.id, answer)),
            Ok(None) => None,
            Err(e) => {
                tracing::warn!(task_id, error = %e, "could not look for an earlier decision; asking again");
                None
            }
        }
    }

    /// A client decides; the waiting run (if on this node) is woken.
    pub async fn decide(
        &self,
        task_id: &str,
        id: &str,
        decision: ClientDecision,
    ) -> Result<approval::Model, DecideError> {
        let recorded = ApprovalDecision {
            decision: if decision.allow { "allow" } else { "deny" },
            decided_by: "client",
            message: decision.message,
            updated_input: decision.updated_input.map(|v| v.to_string()),
        };
        match self.store.decide_approval(task_id, id, recorded).await? {
            Some(row) => {
                if let Some((_, wake)) = self.lock().remove(id) {
                    let _ = wake.send(());
                }
                Ok(row)
            }
            None => match self.store.approval(task_id, id).await? {
                None => Err(DecideError::NotFound),
                Some(row) if row.state == ApprovalState::Expired => Err(DecideError::Expired),
                Some(_) => Err(DecideError::AlreadyDecided),
            },
        }
    }

    /// The run `run_id` of `task_id` ended: its pending prompts expire and their
    /// waiters end (another run's, after a lost lease, are left alone).
    pub async fn expire(&self, task_id: &str, run_id: &str) {
        self.lock().retain(|_, (run, _)| run != run_id);
        if let Err(e) = self.store.expire_approvals(task_id, Runs::Only(run_id)).await {
            tracing::error!(task_id, error = %e, "could not expire the run's permission prompts");
        }
    }

    /// The run `run_id` of `task_id` starts: prompts other runs left pending (they
    /// died with their gateway) expire; this run asks again.
    pub async fn expire_others(&self, task_id: &str, run_id: &str) {
        if let Err(e) = self.store.expire_approvals(task_id, Runs::Except(run_id)).await {
            tracing::error!(task_id, error = %e, "could not expire earlier runs' permission prompts");
        }
    }

    /// How many prompts of the run `run_id` wait on this node.
    pub fn waiting_for(&self, run_id: &str) -> usize {
        self.lock().values().filter(|(run, _)| run == run_id).count()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, (String, oneshot::Sender<()>)>> {
        self.waiting.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// The answer a decided row gives its run.
/// The row to store of `prompt` `id` of the run at (task, run, turn), asked and
/// due at `(requested_at, expires_at)`.
fn new_approval(
    id: &str,
    (task_id, run_id, turn): (&str, &str, i32),
    prompt: &PermissionPrompt,
    (requested_at, expires_at): (i64, i64),
) -> NewApproval {
    NewApproval {
        id: id.to_string(),
        task_id: task_id.to_string(),
        run_id: run_id.to_string(),
        turn,
        tool: prompt.tool.clone(),
        input: super::bounded_input(&prompt.input).to_string(),
        reason: prompt.reason.clone(),
        requested_at,
        expires_at,
    }
}

fn answer_of(row: &approval::Model) -> Option<Answer> {
    if row.state != ApprovalState::Decided {
        return None;
    }
    let decided_by = match row.decided_by.as_deref() {
        Some("timeout") => DecidedBy::Timeout,
        _ => DecidedBy::Client,
    };
    let decision = match row.decision.as_deref() {
        Some("allow") => Decision::Allow,
        _ => Decision::Deny {
            message: row.message.clone().unwrap_or_else(|| "the tool call was denied by the task's client".into()),
        },
    };
    let updated_input = row.updated_input.as_deref().and_then(|v| serde_json::from_str(v).ok());
    Some(Answer { decision, decided_by, updated_input })
}

/// A permission prompt as the API shows it.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct ApprovalView {
    #[schema(example = "apr_01JD…")]
    pub id: String,
    pub task_id: String,
    /// The task's turn it came up in.
    pub turn: i32,
    #[schema(example = "Bash")]
    pub tool: String,
    /// The tool's input (withheld past 16 KiB of JSON).
    #[schema(value_type = Object)]
    pub input: Value,
    /// Why the CLI asked, when it said.
    pub reason: Option<String>,
    pub state: ApprovalState,
    /// `allow` or `deny`, once decided.
    pub decision: Option<String>,
    /// `client` or `timeout`, once decided.
    pub decided_by: Option<String>,
    /// The denial's message the model sees, or the client's note.
    pub message: Option<String>,
    /// What the client had run instead of `input` (withheld past 16 KiB of JSON).
    #[schema(value_type = Option<Object>)]
    pub updated_input: Option<Value>,
    pub requested_at: String,
    pub expires_at: String,
    pub decided_at: Option<String>,
}

impl From<&approval::Model> for ApprovalView {
    fn from(row: &approval::Model) -> Self {
        let json = |text: &str| serde_json::from_str::<Value>(text).unwrap_or(Value::Null);
        Self {
            id: row.id.clone(),
            task_id: row.task_id.clone(),
            turn: row.turn,
            tool: row.tool.clone(),
            input: super::bounded_input(&json(&row.input)),
            reason: row.reason.clone(),
            state: row.state,
            decision: row.decision.clone(),
            decided_by: row.decided_by.clone(),
            message: row.message.clone(),
            updated_input: row.updated_input.as_deref().map(|text| super::bounded_input(&json(text))),
            requested_at: crate::timestamp::format_ms(row.requested_at),
            expires_at: crate::timestamp::format_ms(row.expires_at),
            decided_at: row.decided_at.map(crate::timestamp::format_ms),
        }
    }
}
