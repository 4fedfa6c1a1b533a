//! `GET /v1/tasks/{id}/webhook-deliveries`: every delivery of the task's webhook
//! with each attempt, so a client can see what its receiver was sent and said.

use axum::Json;
use axum::extract::State;

use super::AppState;
use super::extract::{Caller, Path};
use super::problem::ApiError;
use super::schema::{DeliveryList, WebhookDelivery};
use crate::auth::Scope;
use crate::task::{FieldError, NewTask};
use crate::webhooks::guard::{Allowlist, check_url_resolving};

#[utoipa::path(get, path = "/tasks/{id}/webhook-deliveries", operation_id = "listWebhookDeliveries", tag = "tasks",
    summary = "List a task's webhook deliveries",
    description = "Each delivery of the task's webhook (event, URL, status) and every attempt (status code or \
        error, duration), oldest first. Example: `GET /v1/tasks/tsk_…/webhook-deliveries` → `{\"data\": \
        [{\"event_type\": \"task.completed\", \"status\": \"delivered\", \"attempts\": [{\"status_code\": 200, \
        …}]}]}`.",
    params(("id" = String, Path, description = "Task id")),
    responses((status = 200, description = "The task's webhook deliveries, oldest first", body = DeliveryList)))]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<DeliveryList>, ApiError> {
    let principal = caller.require(Scope::Tasks)?;
    let task = state.tasks.owned(principal, &id).await?;
    let logs = state.tasks.deliveries(&task).await?;
    Ok(Json(DeliveryList { data: logs.into_iter().map(WebhookDelivery::from).collect() }))
}

/// Refuses a task whose webhook URL leads somewhere webhooks may not go.
pub async fn vet_webhook(state: &AppState, request: &NewTask) -> Result<(), ApiError> {
    let Some(webhook) = &request.webhook else { return Ok(()) };
    webhooks_enabled(state, "/webhook")?;
    let allowlist = Allowlist::new(&state.config.webhooks.allowed_hosts);
    check_url_resolving(&webhook.url, &allowlist)
        .await
        .map(|_| ())
        .map_err(|why| ApiError::validation(vec![FieldError::new("/webhook/url", why)]))
}

/// 422 naming `pointer` when this gateway sends no webhooks.
pub fn webhooks_enabled(state: &AppState, pointer: &str) -> Result<(), ApiError> {
    if state.config.webhooks.enabled {
        return Ok(());
    }
    Err(ApiError::validation(vec![FieldError::new(
        pointer,
        "webhooks are disabled on this gateway (webhooks.enabled)",
    )]))
}
