//! One task: its status, result, turns, permission prompts, artifacts and event
//! log (following live over the same stream as `GET /v1/tasks/{id}/events`), and
//! the actions on it (cancel, follow up, allow or deny a tool call), each through
//! the task service as the API's are, so each is checked and audited the same.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, Response};
use futures_util::Stream;
use minijinja::context;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::files::href_path;
use super::page::{Frame, dollars, render, see_other, when};
use super::viewer::{SignedForm, Viewer};
use crate::api::{ApiError, AppState, OnBehalf, StreamSlots, follow_events, parse_decision, workspace_files};
use crate::approvals::desk::ApprovalView;
use crate::store::entities::{approval::ApprovalState, task};
use crate::task::{TaskResult, parse_follow_up};

/// Events the page shows before the live ones (the rest are in the API).
const SHOWN_EVENTS: u64 = 500;
/// Workspace files the page lists, the first by path: one page of the API's
/// listing (the archive has them all).
const SHOWN_FILES: usize = 200;
/// How much of an event's data its line shows.
const EVENT_SUMMARY_CHARS: usize = 200;

/// The task, if the viewer may see it: an admin any task, another key its own.
async fn visible(state: &AppState, viewer: &Viewer, id: &str) -> Result<task::Model, ApiError> {
    if viewer.is_admin() {
        state.tasks.find(id).await?.ok_or_else(|| ApiError::not_found("no such task"))
    } else {
        Ok(state.tasks.owned(viewer.principal(), id).await?)
    }
}

#[derive(Serialize)]
struct Summary {
    id: String,
    status: String,
    active: bool,
    key_id: String,
    created: String,
    finished: String,
    cost: String,
    result: Option<String>,
    error: Option<String>,
}

impl Summary {
    fn of(task: &task::Model) -> Self {
        let result: Option<&TaskResult> = task.result.as_ref().and_then(|r| r.parsed());
        let error: Option<&crate::task::TaskError> = task.error.as_ref().and_then(|e| e.parsed());
        Self {
            id: task.id.clone(),
            status: task.status.as_str().into(),
            active: !task.status.is_terminal(),
            key_id: task.key_id.clone(),
            created: when(task.created_at),
            finished: task.finished_at.map(when).unwrap_or_default(),
            cost: result
                .map(|r| dollars(crate::store::RunCost::of("", r.cost_usd, &r.usage).cost_micros))
                .unwrap_or_default(),
            result: result.map(|r| match (&r.text, &r.structured) {
                (_, Some(structured)) => serde_json::to_string_pretty(structured).unwrap_or_default(),
                (Some(text), None) => text.clone(),
                (None, None) => String::new(),
            }),
            error: error.map(|e| e.message.clone()),
        }
    }
}

/// A prompt as the page lists it.
fn approval_row(view: &ApprovalView) -> Value {
    let input = crate::text::clip(&view.input.to_string(), EVENT_SUMMARY_CHARS).to_string();
    json!({
        "id": view.id,
        "tool": view.tool,
        "input": input,
        "state": view.state,
        "pending": view.state == ApprovalState::Pending,
        "decision": view.decision,
    })
}

/// `GET /dashboard/tasks/{id}`.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
) -> Result<Html<String>, ApiError> {
    let task = visible(&state, &viewer, &id).await?;
    let history = state.tasks.history(&task, SHOWN_EVENTS).await?;
    let approvals: Vec<Value> = history.approvals.iter().map(approval_row).collect();
    let turns: Vec<Value> = history.turns.iter().map(|t| json!({"status": t.status, "prompt": t.prompt})).collect();
    let artifacts: Vec<Value> =
        history.artifacts.iter().map(|a| json!({"path": a.path, "size": a.size, "href": href_path(&a.name)})).collect();
    let own = task.key_id == viewer.principal().key_id;
    // Files are served to the task's own key, as by the API; a listing that fails
    // (the workspace expired) shows as none.
    let files: Vec<Value> = match own.then_some(()) {
        Some(()) => {
            let on_behalf = OnBehalf(viewer.session.key_hash.clone());
            let listed = workspace_files(&state, &viewer.caller, &task.id, &on_behalf, SHOWN_FILES).await;
            listed.map(|l| l.files).unwrap_or_default()
        }
        None => Vec::new(),
    }
    .iter()
    .map(|f| json!({"path": f.path, "size": f.size, "href": href_path(&f.path)}))
    .collect();
    let stored = history.events;
    let last_seq = stored.last().map_or(0, |e| e.seq);
    let events: Vec<Value> = stored
        .iter()
        .map(|e| {
            let summary = crate::text::clip(&e.data.to_string(), EVENT_SUMMARY_CHARS).to_string();
            json!({"seq": e.seq, "kind": e.event_type, "summary": summary})
        })
        .collect();
    render(
        "task.html",
        context! {
            frame => Frame::of(&viewer, "tasks"),
            actions => own,
            files,
            task => Summary::of(&task),
            approvals,
            turns,
            artifacts,
            events,
            last_seq,
        },
    )
}

#[derive(Deserialize)]
pub struct EventsQuery {
    after: Option<i64>,
}

/// `GET /dashboard/tasks/{id}/events`: the task's events after `after`, live, as
/// Server-Sent Events (the API's stream, under the same caps).
pub async fn events(
    State(state): State<AppState>,
    viewer: Viewer,
    Path(id): Path<String>,
    Query(query): Query<EventsQuery>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let task = visible(&state, &viewer, &id).await?;
    let slots = StreamSlots::take(&state, &viewer.principal().key_id)?;
    let after = query.after.unwrap_or(0).max(0);
    Ok(Sse::new(follow_events(state, task.id, after, slots))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// `POST /dashboard/tasks/{id}/cancel`.
pub async fn cancel(
    State(state): State<AppState>,
    Path(id): Path<String>,
    signed: SignedForm,
) -> Result<Response, ApiError> {
    let caller = &signed.viewer.caller;
    let view = state.tasks.cancel(&caller.principal, &id, &caller.context).await?;
    Ok(see_other(&format!("/dashboard/tasks/{}", view.id)))
}

/// `POST /dashboard/tasks/{id}/messages`: `prompt`, the next turn.
pub async fn follow_up(
    State(state): State<AppState>,
    Path(id): Path<String>,
    signed: SignedForm,
) -> Result<Response, ApiError> {
    let caller = &signed.viewer.caller;
    state.tasks.owned(&caller.principal, &id).await?;
    let body = json!({"prompt": signed.form.get("prompt").unwrap_or("")});
    let prompt = parse_follow_up(&body, &state.config.tasks).map_err(ApiError::validation)?;
    let view = state.tasks.message(&caller.principal, &id, prompt, &caller.context).await?;
    Ok(see_other(&format!("/dashboard/tasks/{}", view.id)))
}

/// `POST /dashboard/tasks/{id}/approvals/{approval_id}`: `decision` (`allow` or
/// `deny`) and an optional `message`.
pub async fn decide(
    State(state): State<AppState>,
    Path((id, approval_id)): Path<(String, String)>,
    signed: SignedForm,
) -> Result<Response, ApiError> {
    let caller = &signed.viewer.caller;
    state.tasks.owned(&caller.principal, &id).await?;
    let mut body = json!({"decision": signed.form.get("decision").unwrap_or("")});
    if let Some(message) = signed.form.get("message").filter(|m| !m.trim().is_empty()) {
        body["message"] = json!(message);
    }
    let decision = parse_decision(&body).map_err(ApiError::validation)?;
    state.tasks.decide_approval(&caller.principal, &id, &approval_id, decision, &caller.context).await?;
    Ok(see_other(&format!("/dashboard/tasks/{id}")))
}
