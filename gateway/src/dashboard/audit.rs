//! The audit log (admin): newest first, filtered by action and key.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Html;
use minijinja::context;
use serde_json::json;

use super::page::{Frame, render, when};
use super::viewer::Viewer;
use crate::api::{ApiError, AppState};
use crate::store::AuditFilter;
use crate::task::FieldError;

/// Entries on the page.
const PAGE: u64 = 200;
/// The longest filter value taken.
const MAX_FILTER_BYTES: usize = 128;

/// `GET /dashboard/audit`: `action` and `key` filters.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Html<String>, ApiError> {
    viewer.require_admin()?;
    let mut errors = Vec::new();
    let mut filter = AuditFilter::default();
    for (name, value) in &params {
        let value = value.trim();
        if value.len() > MAX_FILTER_BYTES {
            errors.push(FieldError::new(format!("/query/{name}"), format!("must be at most {MAX_FILTER_BYTES} bytes")));
            continue;
        }
        match name.as_str() {
            "action" => filter.action = Some(value.to_string()).filter(|v| !v.is_empty()),
            "key" => filter.key_id = Some(value.to_string()).filter(|v| !v.is_empty()),
            other => errors.push(FieldError::new(format!("/query/{other}"), "unknown parameter")),
        }
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let entries: Vec<_> = state
        .audit
        .entries(&filter, None, PAGE)
        .await?
        .iter()
        .map(|e| {
            json!({"at": when(e.at), "action": e.action, "outcome": e.outcome, "key_id": e.key_id,
                   "target": e.target, "client_addr": e.client_addr})
        })
        .collect();
    let shown = json!({"action": filter.action.unwrap_or_default(), "key": filter.key_id.unwrap_or_default()});
    render("audit.html", context! { frame => Frame::of(&viewer, "audit"), filter => shown, entries })
}
