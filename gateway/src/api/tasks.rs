//! `/v1/tasks` and `/v1/execute`.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use std::convert::Infallible;

use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use futures_util::{Stream, StreamExt};

use super::extract::{Caller, JsonBody, Path, Query};
use super::problem::ApiError;
use super::schema::{
    ExecuteRequest, ExecuteUpload, FollowUpRequest, Problem, SseEvent, TaskPage, TaskRequest, TaskUpload,
};
use super::task_body::TaskBody;
use super::webhooks::vet_webhook;
use super::{AppState, paging};
use crate::auth::Scope;
use crate::store::{IdempotencyClaim, TaskFilter};
use crate::task::{FieldError, NewTask, TaskStatus, TaskView, parse_follow_up, parse_new_task};

/// `POST /v1/tasks`: 202 + the queued task.
#[utoipa::path(post, path = "/tasks", operation_id = "createTask", tag = "tasks",
    summary = "Create a task",
    description = "Queues a task: a prompt for Claude Code, optional input files (inline, uploaded, or an \
        archive), options, metadata, artifact globs and a webhook. 202 with the task and `Location`; the same \
        `Idempotency-Key` and body return the same task. Example: `{\"prompt\": \"Add a test for parse_date\", \
        \"metadata\": {\"ticket\": \"ENG-42\"}}` → 202 `{\"id\": \"tsk_…\", \"status\": \"queued\", …}`.",
    request_body(description = "The task as JSON, or as a multipart form with files and an archive", content(
        (TaskRequest = "application/json", example = json!({
            "prompt": "Add a test for parse_date and make it pass",
            "priority": 5,
            "options": {"max_turns": 20, "timeout_seconds": 900},
            "metadata": {"ticket": "ENG-42"},
            "files": [{"path": "notes/context.md", "content": "parse_date fails on leap days"}]
        })),
        (TaskUpload = "multipart/form-data"),
    )),
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[\\x21-\\x7e]{1,255}$", nullable = false,
        description = "Repeat the same request with the same key to get the same task (kept 24 h)")),
    responses(
        (status = 202, description = "The task, queued", body = TaskView,
            headers(("Location" = String, description = "The task's URL"))),
        (status = 402, description = "The key spent its daily or monthly budget", body = Problem,
            content_type = "application/problem+json"),
        (status = 503, description = "The gateway is shutting down", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: TaskBody,
) -> Result<Response, ApiError> {
    let principal = caller.require(Scope::Tasks)?;
    let (request, idempotency) = new_task(&state, &headers, &body, "POST /v1/tasks", false).await?;
    let created = state.tasks.create(principal, request, body.upload, idempotency, &caller.context).await?;
    let view = state.tasks.view_of(&created.task).await?;
    Ok(mark_replay(accepted(view), created.replayed))
}

/// `POST /v1/execute`: create, then wait up to `wait_seconds` for the task to finish.
#[utoipa::path(post, path = "/execute", operation_id = "executeTask", tag = "tasks",
    summary = "Run a task and wait for it",
    description = "Creates a task as `POST /v1/tasks` does, then waits up to `wait_seconds` (cut to \
        `tasks.max_wait_seconds`): 200 with the finished task, or 202 if it is still running. With `Accept: \
        text/event-stream`, streams its events and ends with a `task` event. Example: `{\"prompt\": \"Say hi\", \
        \"wait_seconds\": 60}` → 200 `{\"status\": \"completed\", \"result\": {\"text\": \"…\"}}`.",
    request_body(description = "As for `POST /v1/tasks`, plus `wait_seconds`", content(
        (ExecuteRequest = "application/json", example = json!({"prompt": "Summarise README.md", "wait_seconds": 60})),
        (ExecuteUpload = "multipart/form-data"),
    )),
    params(("Idempotency-Key" = Option<String>, Header, pattern = "^[\\x21-\\x7e]{1,255}$", nullable = false,
        description = "Repeat the same request with the same key to get the same task (kept 24 h)")),
    responses(
        (status = 200, description = "The finished task; with `Accept: text/event-stream`, the task's events \
            as they happen and a final `task` event", content(
            (TaskView = "application/json"),
            (SseEvent = "text/event-stream"),
        )),
        (status = 202, description = "Still running when the wait ended", body = TaskView,
            headers(("Location" = String, description = "The task's URL"))),
        (status = 402, description = "The key spent its daily or monthly budget", body = Problem,
            content_type = "application/problem+json"),
        (status = 503, description = "The gateway is shutting down", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn execute(
    State(state): State<AppState>,
    caller: Caller,
    headers: HeaderMap,
    body: TaskBody,
) -> Result<Response, ApiError> {
    let principal = caller.require(Scope::Tasks)?;
    let (request, idempotency) = new_task(&state, &headers, &body, "POST /v1/execute", true).await?;
    let wait = request
        .wait_seconds
        .unwrap_or(state.config.tasks.default_wait_seconds)
        .min(state.config.tasks.max_wait_seconds);
    // A stream's places are taken first: no task is created for a stream that cannot open.
    let slots = if wants_event_stream(&headers) {
        Some(super::events::StreamSlots::take(&state, &principal.key_id)?)
    } else {
        None
    };
    let created = state.tasks.create(principal, request, body.upload, idempotency, &caller.context).await?;
    if let Some(slots) = slots {
        return Ok(mark_replay(stream_then_task(state, created.task.id, slots).into_response(), created.replayed));
    }
    let task = state.tasks.wait_until_finished(&created.task.id, Duration::from_secs(wait)).await?;
    let view = state.tasks.view_of(&task).await?;
    let response =
        if view.status.is_terminal() { (StatusCode::OK, Json(view)).into_response() } else { accepted(view) };
    Ok(mark_replay(response, created.replayed))
}

/// `GET /v1/tasks/{id}`.
#[utoipa::path(get, path = "/tasks/{id}", operation_id = "getTask", tag = "tasks",
    summary = "Get a task",
    description = "The task: status, turns, result (text, structured output, usage, cost), error, artifacts so \
        far and pending permission prompts. Example: `GET /v1/tasks/tsk_…` → `{\"id\": \"tsk_…\", \"status\": \
        \"completed\", \"result\": {\"text\": \"Wrote hello.txt\", …}}`.",
    params(("id" = String, Path, description = "Task id")),
    responses((status = 200, description = "The task", body = TaskView)))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TaskView>, ApiError> {
    let principal = caller.require(Scope::Tasks)?;
    Ok(Json(state.tasks.view(principal, &id).await?))
}

/// `POST /v1/tasks/{id}/cancel`: idempotent; a finished task comes back unchanged.
#[utoipa::path(post, path = "/tasks/{id}/cancel", operation_id = "cancelTask", tag = "tasks",
    summary = "Cancel a task",
    description = "Stops a queued or running task: its whole process tree is killed and it ends `cancelled` with \
        a partial result. A finished task comes back unchanged. Example: `POST /v1/tasks/tsk_…/cancel` → \
        `{\"status\": \"cancelled\", \"error\": {\"kind\": \"cancelled\"}, …}`.",
    params(("id" = String, Path, description = "Task id")),
    responses((status = 200, description = "The task: cancelled, or unchanged if it had finished", body = TaskView)))]
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TaskView>, ApiError> {
    let principal = caller.require(Scope::Tasks)?;
    Ok(Json(state.tasks.cancel(principal, &id, &caller.context).await?))
}

/// `POST /v1/tasks/{id}/messages`: the next turn (same workspace and session), or a
/// message into the running session (`delivery`).
#[utoipa::path(post, path = "/tasks/{id}/messages", operation_id = "sendMessage", tag = "tasks",
    summary = "Send a follow-up, or steer a running task",
    description = "With `delivery: \"next_turn\"` (default), the next turn of a finished task, in the same \
        workspace and Claude session: 202 and `queued`; 409 while the task is still queued or running. With \
        `queue`, the message is written into the running session and taken when the current step ends; with \
        `interrupt`, the current step is interrupted first. Each message is a turn of its own. Example: \
        `{\"prompt\": \"Now also handle time zones\"}` → 202.",
    params(("id" = String, Path, description = "Task id")),
    request_body(content = FollowUpRequest, content_type = "application/json"),
    responses(
        (status = 202, description = "The task: queued for its next turn, or running with the message \
            recorded as a turn of its own (`queue`, `interrupt`)", body = TaskView,
            headers(("Location" = String, description = "The task's URL"))),
        (status = 402, description = "The key spent its daily or monthly budget", body = Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "`next_turn` to a task still queued or running; `queue` or `interrupt` \
            to a task that is not running (`errors` names `/delivery`), or with too many messages waiting",
            body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The gateway is shutting down", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn follow_up(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let principal = caller.require(Scope::Tasks)?;
    // An unknown task is 404 even when the body is also wrong.
    state.tasks.owned(principal, &id).await?;
    let message = parse_follow_up(&body, &state.config.tasks).map_err(ApiError::validation)?;
    let view = state.tasks.message(principal, &id, message, &caller.context).await?;
    Ok(accepted(view))
}

/// `metadata.<key>` filters one list request may combine.
const MAX_METADATA_FILTERS: usize = 16;

/// `GET /v1/tasks`: the key's tasks, newest first, filtered, paged by cursor.
#[utoipa::path(get, path = "/tasks", operation_id = "listTasks", tag = "tasks",
    summary = "List tasks",
    description = "Also filters by metadata: `metadata.<key>=<value>`, repeatable (at most 16). A page stops \
        early, with a `next_cursor`, once its tasks add up to 4 MiB of JSON. Example: \
        `GET /v1/tasks?status=completed&metadata.ticket=ENG-42&limit=20` → `{\"data\": [...], \"next_cursor\": \"tsk_…\"}`.",
    params(
        ("status" = Option<TaskStatus>, Query, description = "Only tasks in this status"),
        ("created_after" = Option<String>, Query, format = DateTime, description = "Only tasks created after"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "Page size (default 50)"),
        ("cursor" = Option<String>, Query, pattern = "^tsk_[0-9A-HJKMNP-TV-Z]{26}$", nullable = false,
            description = "`next_cursor` of the previous page"),
    ),
    responses((status = 200, description = "A page of the key's tasks", body = TaskPage)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<TaskPage>, ApiError> {
    let principal = caller.require(Scope::Tasks)?;
    let mut errors = Vec::new();
    let mut filter = TaskFilter::default();
    let mut limit = paging::DEFAULT_LIMIT;
    let mut cursor = None;
    for (name, value) in &params {
        match name.as_str() {
            "limit" => limit = paging::parse_limit(value, &mut errors),
            "cursor" if crate::ids::looks_like(value, "tsk") => cursor = Some(value.clone()),
            "cursor" => paging::bad_cursor(&mut errors),
            "status" => match TaskStatus::parse(value) {
                Some(status) => filter.status = Some(status),
                None => errors.push(FieldError::new(
                    "/query/status",
                    "must be one of queued, running, completed, failed, cancelled",
                )),
            },
            "created_after" => match crate::timestamp::parse_rfc3339(value) {
                Some(ms) => filter.created_after = Some(ms),
                None => errors.push(FieldError::new("/query/created_after", "must be an RFC 3339 timestamp")),
            },
            other => match other.strip_prefix("metadata.") {
                Some(key) if !key.is_empty() => filter.metadata.push((key.to_string(), value.clone())),
                _ => errors.push(FieldError::new(format!("/query/{other}"), "unknown parameter")),
            },
        }
    }
    if filter.metadata.len() > MAX_METADATA_FILTERS {
        errors.push(FieldError::new(
            "/query",
            format!("has {} metadata filters; at most {MAX_METADATA_FILTERS} are accepted", filter.metadata.len()),
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    // One extra row tells whether there is a next page.
    let mut rows = state.tasks.list(Some(&principal.key_id), &filter, cursor.as_deref(), limit + 1).await?;
    let mut next_cursor = paging::page(&mut rows, limit, |t| t.id.clone());
    let mut data = Vec::with_capacity(rows.len());
    let mut bytes = 0;
    for (i, task) in rows.iter().enumerate() {
        let view = state.tasks.view_of(task).await?;
        bytes += crate::text::json_size(&view);
        data.push(view);
        if bytes >= paging::MAX_PAGE_BYTES && i + 1 < rows.len() {
            // The rest of the page comes with the next one.
            next_cursor = Some(task.id.clone());
            break;
        }
    }
    Ok(Json(TaskPage { data, next_cursor }))
}

/// The validated task of a create (`execute`: with `wait_seconds`) and the
/// request's idempotency claim.
async fn new_task(
    state: &AppState,
    headers: &HeaderMap,
    body: &TaskBody,
    endpoint: &str,
    execute: bool,
) -> Result<(NewTask, Option<IdempotencyClaim>), ApiError> {
    // Every invalid field at once: the header's, the body's, and the webhook URL's
    // once the body reads.
    let idempotency = idempotency_claim(headers, endpoint, &body.digest);
    let parsed = parse_new_task(&body.json, &state.config.tasks, execute);
    let webhook = match &parsed {
        Ok(request) => vet_webhook(state, request).await.err(),
        Err(_) => None,
    };
    match (parsed, idempotency, webhook) {
        (Ok(request), Ok(claim), None) => Ok((request, claim)),
        (parsed, idempotency, webhook) => {
            let mut errors = idempotency.err().map(|e| e.errors).unwrap_or_default();
            errors.extend(parsed.err().unwrap_or_default());
            errors.extend(webhook.map(|e| e.errors).unwrap_or_default());
            Err(ApiError::validation(errors))
        }
    }
}

/// The `Idempotency-Key` header with a hash of what it is used for: the endpoint
/// and the body (serde_json orders object keys, so key order does not matter).
fn idempotency_claim(
    headers: &HeaderMap,
    endpoint: &str,
    body: &blake3::Hash,
) -> Result<Option<IdempotencyClaim>, ApiError> {
    let Some(value) = headers.get("idempotency-key") else { return Ok(None) };
    let key = value
        .to_str()
        .ok()
        .filter(|k| !k.is_empty() && k.len() <= 255 && k.bytes().all(|b| b.is_ascii_graphic()))
        .ok_or_else(|| {
            ApiError::validation(vec![FieldError::new(
                "/headers/idempotency-key",
                "must be 1-255 visible ASCII characters",
            )])
        })?;
    let mut hasher = blake3::Hasher::new();
    hasher.update(endpoint.as_bytes());
    hasher.update(b"\n");
    hasher.update(body.as_bytes());
    Ok(Some(IdempotencyClaim { key: key.to_string(), request_hash: hasher.finalize().to_hex().to_string() }))
}

fn wants_event_stream(headers: &HeaderMap) -> bool {
    headers.get_all(header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).any(|v| v.contains("text/event-stream"))
}

/// The task's events as they happen, then one `task` event with the finished task.
/// (`wait_seconds` does not apply: the stream lasts as long as the task.)
fn stream_then_task(
    state: AppState,
    id: String,
    slots: super::events::StreamSlots,
) -> Sse<impl Stream<Item = Result<Event, Infallible>>> {
    let last = {
        let state = state.clone();
        let id = id.clone();
        futures_util::stream::once(async move {
            let view = match state.tasks.find(&id).await {
                Ok(Some(task)) => state.tasks.view_of(&task).await.ok(),
                _ => None,
            };
            let data = view.and_then(|v| serde_json::to_string(&v).ok()).unwrap_or_else(|| "null".into());
            Ok(Event::default().event("task").data(data))
        })
    };
    Sse::new(super::events::follow(state, id, 0, slots).chain(last))
        .keep_alive(KeepAlive::new().interval(Duration::from_secs(15)))
}

/// Tells the client its `Idempotency-Key` matched an earlier request.
fn mark_replay(mut response: Response, replayed: bool) -> Response {
    if replayed {
        response.headers_mut().insert("idempotent-replayed", HeaderValue::from_static("true"));
    }
    response
}

fn accepted(view: TaskView) -> Response {
    let location = HeaderValue::from_str(&format!("/v1/tasks/{}", view.id)).ok();
    let mut response = (StatusCode::ACCEPTED, Json(view)).into_response();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}
