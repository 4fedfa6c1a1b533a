//! `GET /v1/tasks/{id}/approvals` and `POST /v1/tasks/{id}/approvals/{approval_id}`:
//! the permission prompts of a task whose `options.approvals.mode` is `ask`, and a
//! client's decision on one, which the waiting run takes at once.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use serde_json::Value;

use super::extract::{Caller, JsonBody, Path, Query};
use super::paging::{Order, PageQuery, page_of};
use super::problem::ApiError;
use super::schema::{ApprovalDecisionRequest, ApprovalList, Problem};
use super::{AppState, paging};
use crate::approvals::desk::{ApprovalView, ClientDecision};
use crate::auth::Scope;
use crate::task::{FieldError, unknown_fields};

/// The longest denial message a client may give.
const MAX_MESSAGE_BYTES: usize = 4096;
/// The largest `updated_input`, as JSON.
const MAX_UPDATED_INPUT_BYTES: usize = 256 * 1024;
/// Most answers in one decision (the CLI asks at most four questions at once).
const MAX_ANSWERS: usize = 16;

#[utoipa::path(get, path = "/tasks/{id}/approvals", operation_id = "listApprovals", tag = "tasks",
    summary = "List a task's permission prompts",
    description = "Every permission prompt of the task: those that waited for a person (`options.approvals.mode = \
        \"ask\"`), pending, decided or expired, and those decided at once by the task's mode or rules or a plugin \
        (`decided_by`), newest first, a page at a time. Example: `GET /v1/tasks/tsk_…/approvals` → `{\"data\": \
        [{\"id\": \"apr_…\", \"tool\": \"Bash\", \"state\": \"pending\", …}], \"next_cursor\": null}`.",
    params(
        ("id" = String, Path, description = "Task id"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "Page size (default 50)"),
        ("cursor" = Option<String>, Query, pattern = "^apr_[0-9A-HJKMNP-TV-Z]{26}$", nullable = false,
            description = "`next_cursor` of the previous page"),
    ),
    responses((status = 200, description = "A page of the task's prompts, newest first", body = ApprovalList)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<ApprovalList>, ApiError> {
    let principal = caller.require(Scope::Tasks)?;
    let query = PageQuery::parse(&params, paging::DEFAULT_LIMIT, |c| crate::ids::looks_like(c, "apr"))?;
    let approvals = state.tasks.approvals(principal, &id).await?;
    let (data, next_cursor) = page_of(approvals, &query, Order::NewestFirst, |a| &a.id);
    Ok(Json(ApprovalList { data, next_cursor }))
}

#[utoipa::path(post, path = "/tasks/{id}/approvals/{approval_id}", operation_id = "decideApproval", tag = "tasks",
    summary = "Allow or deny a waiting tool call",
    description = "Decides a pending permission prompt: `allow` runs the tool call (with `updated_input` instead of \
        its input when given), `deny` makes it fail with `message`, which the model sees. A prompt is decided once. \
        Example: `{\"decision\": \"deny\", \"message\": \"not on a Friday\"}` → the decided prompt.",
    params(("id" = String, Path, description = "Task id"), ("approval_id" = String, Path, description = "Approval id")),
    request_body(content = ApprovalDecisionRequest, examples(
        ("allow" = (value = json!({"decision": "allow"}))),
        ("deny" = (value = json!({"decision": "deny", "message": "not on a Friday"}))),
        ("answer" = (value = json!({"decision": "allow", "answers": {"Which database?": "PostgreSQL"}}))),
    )),
    responses(
        (status = 200, description = "The decided prompt", body = ApprovalView),
        (status = 409, description = "Already decided, or expired with its run", body = Problem,
            content_type = "application/problem+json"),
        (status = 422, description = "A field of the decision is invalid (each is named)", body = Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn decide(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, approval_id)): Path<(String, String)>,
    JsonBody(body): JsonBody,
) -> Result<Json<ApprovalView>, ApiError> {
    let principal = caller.require(Scope::Tasks)?;
    // An unknown task is 404 even when the body is also wrong.
    state.tasks.owned(principal, &id).await?;
    let decision = parse_decision(&body).map_err(ApiError::validation)?;
    let view = state.tasks.decide_approval(principal, &id, &approval_id, decision, &caller.context).await?;
    Ok(Json(view))
}

/// `{"decision": "allow" | "deny", "updated_input": {…}?, "message": "…"?,
/// "answers": {question: answer}?}`.
pub(crate) fn parse_decision(body: &Value) -> Result<ClientDecision, Vec<FieldError>> {
    let mut errors = Vec::new();
    let Some(object) = body.as_object() else {
        return Err(vec![FieldError::new("", "the request body must be a JSON object")]);
    };
    unknown_fields(object, &["decision", "updated_input", "message", "answers"], "", &mut errors);
    let allow = match object.get("decision").and_then(Value::as_str) {
        Some("allow") => Some(true),
        Some("deny") => Some(false),
        _ => {
            errors.push(FieldError::new("/decision", "is required: \"allow\" or \"deny\""));
            None
        }
    };
    let updated_input = match object.get("updated_input") {
        None | Some(Value::Null) => None,
        Some(_) if allow == Some(false) => {
            errors.push(FieldError::new("/updated_input", "goes with \"allow\" only"));
            None
        }
        Some(Value::Object(input)) if crate::text::json_size(input) <= MAX_UPDATED_INPUT_BYTES => {
            Some(Value::Object(input.clone()))
        }
        Some(Value::Object(_)) => {
            errors.push(FieldError::new("/updated_input", format!("must be at most {MAX_UPDATED_INPUT_BYTES} bytes")));
            None
        }
        Some(_) => {
            errors.push(FieldError::new("/updated_input", "must be the tool's input: a JSON object"));
            None
        }
    };
    let message = match object.get("message") {
        None | Some(Value::Null) => None,
        Some(Value::String(text)) if text.len() <= MAX_MESSAGE_BYTES && !text.contains('\0') => Some(text.clone()),
        Some(_) => {
            errors.push(FieldError::new("/message", format!("must be a string of at most {MAX_MESSAGE_BYTES} bytes")));
            None
        }
    };
    let answers = match object.get("answers") {
        None | Some(Value::Null) => None,
        Some(_) if allow == Some(false) => {
            errors.push(FieldError::new("/answers", "goes with \"allow\" only"));
            None
        }
        Some(_) if updated_input.is_some() => {
            errors.push(FieldError::new("/answers", "cannot go with updated_input: the answers become the input"));
            None
        }
        Some(Value::Object(answers)) if answers.len() <= MAX_ANSWERS => Some(answers.clone()),
        Some(_) => {
            errors.push(FieldError::new(
                "/answers",
                format!("must be an object of at most {MAX_ANSWERS} answers, keyed by the question's text"),
            ));
            None
        }
    };
    match (allow, errors.is_empty()) {
        (Some(allow), true) => Ok(ClientDecision { allow, updated_input, message, answers }),
        _ => Err(errors),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn decisions_are_checked_field_by_field() {
        let allow = parse_decision(&json!({"decision": "allow", "updated_input": {"command": "pwd"}})).unwrap();
        assert!(allow.allow && allow.updated_input.is_some());
        let deny = parse_decision(&json!({"decision": "deny", "message": "not today"})).unwrap();
        assert_eq!((deny.allow, deny.message.as_deref()), (false, Some("not today")));
        let errors = parse_decision(&json!({"decision": "maybe", "updated_input": "pwd", "x": 1})).unwrap_err();
        let pointers: Vec<&str> = errors.iter().map(|e| e.pointer.as_str()).collect();
        assert_eq!(pointers, ["/x", "/decision", "/updated_input"]);
        let errors = parse_decision(&json!({"decision": "deny", "updated_input": {}})).unwrap_err();
        assert_eq!(errors[0].pointer, "/updated_input");
    }
}
