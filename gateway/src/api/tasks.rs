//! `/v1/tasks` and `/v1/execute`.

use std::collections::HashMap;
use std::time::Duration;

use axum::Json;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::AppState;
use super::extract::{Caller, JsonBody};
use super::problem::ApiError;
use crate::auth::Scope;
use crate::store::TaskFilter;
use crate::task::{FieldError, TaskStatus, TaskView, parse_follow_up, parse_new_task};

/// `POST /v1/tasks`: 202 + the queued task.
pub async fn create(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let principal = caller.require(Scope::Tasks)?;
    let request = parse_new_task(&body, &state.config.tasks, false).map_err(ApiError::validation)?;
    let created = state.tasks.create(principal, request, &caller.context).await?;
    let view = state.tasks.view_of(&created.task).await?;
    Ok(accepted(view))
}

/// `POST /v1/execute`: create, then wait up to `wait_seconds` for the task to finish.
pub async fn execute(
    State(state): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let principal = caller.require(Scope::Tasks)?;
    let request = parse_new_task(&body, &state.config.tasks, true).map_err(ApiError::validation)?;
    let wait = request
        .wait_seconds
        .unwrap_or(state.config.tasks.default_wait_seconds)
        .min(state.config.tasks.max_wait_seconds);
    let created = state.tasks.create(principal, request, &caller.context).await?;
    let task = state.tasks.wait_until_finished(&created.task.id, Duration::from_secs(wait)).await?;
    let view = state.tasks.view_of(&task).await?;
    if TaskStatus::parse(&view.status).is_some_and(TaskStatus::is_terminal) {
        Ok((StatusCode::OK, Json(view)).into_response())
    } else {
        Ok(accepted(view))
    }
}

/// `GET /v1/tasks/{id}`.
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TaskView>, ApiError> {
    let principal = caller.require(Scope::Tasks)?;
    Ok(Json(state.tasks.view(principal, &id).await?))
}

/// `POST /v1/tasks/{id}/cancel`: idempotent; a finished task comes back unchanged.
pub async fn cancel(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<TaskView>, ApiError> {
    let principal = caller.require(Scope::Tasks)?;
    Ok(Json(state.tasks.cancel(principal, &id, &caller.context).await?))
}

/// `POST /v1/tasks/{id}/messages`: the next turn, same workspace and session.
pub async fn follow_up(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> Result<Response, ApiError> {
    let principal = caller.require(Scope::Tasks)?;
    // An unknown task is 404 even when the body is also wrong.
    state.tasks.owned(principal, &id).await?;
    let prompt = parse_follow_up(&body, &state.config.tasks).map_err(ApiError::validation)?;
    let view = state.tasks.follow_up(principal, &id, prompt, &caller.context).await?;
    Ok(accepted(view))
}

/// `GET /v1/tasks`: the key's tasks, newest first, filtered, paged by cursor.
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<serde_json::Value>, ApiError> {
    let principal = caller.require(Scope::Tasks)?;
    let mut errors = Vec::new();
    let mut filter = TaskFilter::default();
    let mut limit = 50u64;
    let mut cursor = None;
    for (name, value) in &params {
        match name.as_str() {
            "limit" => match value.parse::<u64>() {
                Ok(n) if (1..=200).contains(&n) => limit = n,
                _ => errors.push(FieldError::new("/query/limit", "must be a whole number from 1 to 200")),
            },
            "cursor" if crate::ids::looks_like(value, "tsk") => cursor = Some(value.clone()),
            "cursor" => errors.push(FieldError::new("/query/cursor", "is not a cursor this API returned")),
            "status" => match TaskStatus::parse(value) {
                Some(status) => filter.status = Some(status.as_str().to_string()),
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
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    // One extra row tells whether there is a next page.
    let mut rows = state.tasks.store().list_tasks(&principal.key_id, &filter, cursor.as_deref(), limit + 1).await?;
    let next_cursor = (rows.len() as u64 > limit).then(|| {
        rows.truncate(limit as usize);
        rows.last().map(|t| t.id.clone())
    });
    let mut data = Vec::with_capacity(rows.len());
    for task in &rows {
        data.push(state.tasks.view_of(task).await?);
    }
    Ok(Json(json!({"data": data, "next_cursor": next_cursor.flatten()})))
}

fn accepted(view: TaskView) -> Response {
    let location = HeaderValue::from_str(&format!("/v1/tasks/{}", view.id)).ok();
    let mut response = (StatusCode::ACCEPTED, Json(view)).into_response();
    if let Some(location) = location {
        response.headers_mut().insert(header::LOCATION, location);
    }
    response
}
