//! `GET /v1/audit` (scope `admin`): the audit log, newest first, with filters and a cursor.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query, State};
use serde_json::{Value, json};

use super::extract::Caller;
use super::problem::ApiError;
use super::{AppState, paging};
use crate::auth::Scope;
use crate::store::AuditFilter;
use crate::task::FieldError;

pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<Value>, ApiError> {
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
    let mut rows = state.tasks.store().audit_entries(&filter, cursor, limit + 1).await?;
    let next_cursor = paging::page(&mut rows, limit, |r| r.id.to_string());
    let data: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({
                "id": r.id.to_string(),
                "at": crate::timestamp::format_ms(r.at),
                "key_id": r.key_id,
                "action": r.action,
                "target": r.target,
                "outcome": r.outcome,
                "request_id": r.request_id,
                "client_addr": r.client_addr,
                "details": r.details.as_deref().and_then(|d| serde_json::from_str::<Value>(d).ok()),
            })
        })
        .collect();
    Ok(Json(json!({"data": data, "next_cursor": next_cursor})))
}
