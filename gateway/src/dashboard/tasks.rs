//! The task list: newest first, filtered by status, key (admin), metadata and
//! creation time. `?rows=1` answers the table's rows alone, which the page's
//! script fetches every few seconds to follow new and finishing tasks.

use std::collections::HashMap;

use axum::extract::{Query, State};
use axum::response::Html;
use minijinja::context;
use serde::Serialize;

use super::page::{Frame, render, when};
use super::viewer::Viewer;
use crate::api::{ApiError, AppState};
use crate::store::TaskFilter;
use crate::store::entities::task;
use crate::task::{FieldError, TaskStatus};

/// Tasks on one page.
const PAGE: u64 = 50;
/// How much of a prompt the list shows.
const PROMPT_CHARS: usize = 120;

/// The list's filters, as given (echoed into the form) and as parsed.
#[derive(Debug, Default, Serialize, PartialEq)]
struct Filters {
    status: String,
    key: String,
    metadata: String,
    created_after: String,
    before: String,
}

/// Reads the filters; an admin may name any key, others see their own tasks only.
fn parse(params: &HashMap<String, String>, admin: bool) -> Result<(Filters, TaskFilter), Vec<FieldError>> {
    let given = |name: &str| params.get(name).map(|v| v.trim().to_string()).unwrap_or_default();
    let shown = Filters {
        status: given("status"),
        key: if admin { given("key") } else { String::new() },
        metadata: given("metadata"),
        created_after: given("created_after"),
        before: given("before"),
    };
    let mut errors = Vec::new();
    let mut filter = TaskFilter::default();
    for name in params.keys() {
        if !["status", "key", "metadata", "created_after", "before", "rows"].contains(&name.as_str()) {
            errors.push(FieldError::new(format!("/query/{name}"), "unknown parameter"));
        }
    }
    if !shown.status.is_empty() {
        match TaskStatus::parse(&shown.status) {
            Some(status) => filter.status = Some(status),
            None => {
                errors.push(FieldError::new("/query/status", "must be queued, running, completed, failed or cancelled"))
            }
        }
    }
    if !shown.metadata.is_empty() {
        match shown.metadata.split_once('=') {
            Some((name, value)) if !name.is_empty() => filter.metadata.push((name.to_string(), value.to_string())),
            _ => errors.push(FieldError::new("/query/metadata", "must be name=value")),
        }
    }
    if !shown.created_after.is_empty() {
        match crate::timestamp::parse_rfc3339(&shown.created_after) {
            Some(ms) => filter.created_after = Some(ms),
            None => errors.push(FieldError::new("/query/created_after", "must be an RFC 3339 timestamp")),
        }
    }
    if !shown.before.is_empty() && !crate::ids::looks_like(&shown.before, "tsk") {
        errors.push(FieldError::new("/query/before", "must be a task id"));
    }
    if !shown.key.is_empty() && !crate::ids::looks_like(&shown.key, "key") {
        errors.push(FieldError::new("/query/key", "must be a key id"));
    }
    if errors.is_empty() { Ok((shown, filter)) } else { Err(errors) }
}

/// A row of the list.
#[derive(Serialize)]
struct Row {
    id: String,
    status: String,
    key_id: String,
    prompt: String,
    created: String,
    finished: String,
}

impl From<&task::Model> for Row {
    fn from(task: &task::Model) -> Self {
        let prompt: String = task.prompt.chars().take(PROMPT_CHARS).collect();
        Self {
            id: task.id.clone(),
            status: task.status.as_str().into(),
            key_id: task.key_id.clone(),
            prompt,
            created: when(task.created_at),
            finished: task.finished_at.map(when).unwrap_or_default(),
        }
    }
}

/// `GET /dashboard/tasks`.
pub async fn page(
    State(state): State<AppState>,
    viewer: Viewer,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Html<String>, ApiError> {
    let (shown, filter) = parse(&params, viewer.is_admin()).map_err(ApiError::validation)?;
    let key = match (viewer.is_admin(), shown.key.as_str()) {
        (true, "") => None,
        (true, key) => Some(key),
        (false, _) => Some(viewer.principal().key_id.as_str()),
    };
    let before = Some(shown.before.as_str()).filter(|b| !b.is_empty());
    let mut found = state.tasks.list(key, &filter, before, PAGE + 1).await?;
    let next = (found.len() as u64 > PAGE).then(|| {
        found.truncate(PAGE as usize);
        let last = found.last().map(|t| t.id.as_str()).unwrap_or_default();
        page_url(&shown, Some(last), false)
    });
    let tasks: Vec<Row> = found.iter().map(Row::from).collect();
    if params.contains_key("rows") {
        return render("task_rows.html", context! { tasks });
    }
    render(
        "tasks.html",
        context! {
            frame => Frame::of(&viewer, "tasks"),
            statuses => TaskStatus::ALL.map(TaskStatus::as_str),
            live_url => page_url(&shown, None, true),
            filter => shown,
            tasks,
            next,
        },
    )
}

/// The list's URL with the same filters: from `before`, or the rows alone.
fn page_url(shown: &Filters, before: Option<&str>, rows: bool) -> String {
    let mut query = url::form_urlencoded::Serializer::new(String::new());
    for (name, value) in [
        ("status", shown.status.as_str()),
        ("key", &shown.key),
        ("metadata", &shown.metadata),
        ("created_after", &shown.created_after),
    ] {
        if !value.is_empty() {
            query.append_pair(name, value);
        }
    }
    if let Some(before) = before {
        query.append_pair("before", before);
    }
    if rows {
        query.append_pair("rows", "1");
    }
    format!("/dashboard/tasks?{}", query.finish())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn params(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect()
    }

    #[test]
    fn filters_are_checked_and_only_admins_name_a_key() {
        let (shown, filter) =
            parse(&params(&[("status", "running"), ("metadata", "ticket=ENG-1"), ("key", "key_x")]), false).unwrap();
        assert_eq!(filter.status, Some(TaskStatus::Running));
        assert_eq!(filter.metadata, [("ticket".to_string(), "ENG-1".to_string())]);
        assert_eq!(shown.key, "", "a tasks key cannot look at another key's list");
        let errors =
            parse(&params(&[("status", "done"), ("created_after", "yesterday"), ("x", "1")]), true).unwrap_err();
        let mut pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        pointers.sort();
        assert_eq!(pointers, ["/query/created_after", "/query/status", "/query/x"]);
    }

    #[test]
    fn the_live_url_keeps_the_filters() {
        let shown = Filters { status: "queued".into(), metadata: "a=b c".into(), ..Default::default() };
        assert_eq!(page_url(&shown, None, true), "/dashboard/tasks?status=queued&metadata=a%3Db+c&rows=1");
    }
}
