//! `GET /v1/audit` (scope `admin`): the audit log, newest first, with filters and a cursor.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;

use super::extract::{Caller, Query};
use super::problem::ApiError;
use super::schema::{AuditEvent, AuditPage};
use super::{AppState, paging};
use crate::auth::Scope;
use crate::store::AuditFilter;
use crate::task::FieldError;

#[utoipa::path(get, path = "/audit", operation_id = "listAuditEvents", tag = "audit",
    summary = "Read the audit log",
    description = "Who did what, newest first: task and key changes, decisions, refusals of valid keys and of \
        clients without one. Filters combine; scope `admin`. Example: `GET \
        /v1/audit?action=key.revoke&limit=20`.",
    params(
        ("action" = Option<String>, Query, description = "e.g. `task.create`, `run.finish`, `auth.denied`"),
        ("key_id" = Option<String>, Query, description = "Only events of this key"),
        ("target" = Option<String>, Query, description = "Only events about this task or key"),
        ("outcome" = Option<String>, Query, description = "e.g. `ok`, `denied`"),
        ("after" = Option<String>, Query, format = DateTime, description = "Only events after"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "Page size (default 50)"),
        ("cursor" = Option<String>, Query, pattern = "^[1-9][0-9]{0,17}$", nullable = false,
            description = "`next_cursor` of the previous page"),
    ),
    responses((status = 200, description = "A page of the audit log", body = AuditPage)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<AuditPage>, ApiError> {
    caller.require(Scope::Admin)?;
    let mut errors = Vec::new();
    let mut filter = AuditFilter::default();
    let mut limit = paging::DEFAULT_LIMIT;
    let mut cursor = None;
    for (name, value) in &params {
        match name.as_str() {
            "limit" => limit = paging::parse_limit(value, &mut errors),
            "cursor" => match value.parse::<i64>() {
                Ok(id) if id > 0 => cursor = Some(id),
                _ => paging::bad_cursor(&mut errors),
            },
            "action" => filter.action = Some(value.clone()),
            "key_id" => filter.key_id = Some(value.clone()),
            "target" => filter.target = Some(value.clone()),
            "outcome" => filter.outcome = Some(value.clone()),
            "after" => match crate::timestamp::parse_rfc3339(value) {
                Some(ms) => filter.after = Some(ms),
                None => errors.push(FieldError::new("/query/after", "must be an RFC 3339 timestamp")),
            },
            other => errors.push(FieldError::new(format!("/query/{other}"), "unknown parameter")),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let mut rows = state.audit.entries(&filter, cursor, limit + 1).await?;
    let next_cursor = paging::page(&mut rows, limit, |r| r.id.to_string());
    Ok(Json(AuditPage { data: rows.iter().map(AuditEvent::from).collect(), next_cursor }))
}
