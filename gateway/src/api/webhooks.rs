//! `GET /v1/tasks/{id}/webhook-deliveries`: every delivery of the task's webhook
//! with each attempt, so a client can see what its receiver was sent and said.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;

use super::extract::{Caller, Path, Query};
use super::paging::{Order, PageQuery, page_of};
use super::problem::ApiError;
use super::schema::{DeliveryList, WebhookDelivery};
use super::{AppState, paging};
use crate::auth::Scope;
use crate::store::{DELIVERY_ID_PREFIX, OLDER_DELIVERY_ID_PREFIX};
use crate::task::{FieldError, NewTask};
use crate::webhooks::guard::{Allowlist, check_url_resolving};

#[utoipa::path(get, path = "/tasks/{id}/webhook-deliveries", operation_id = "listWebhookDeliveries", tag = "tasks",
    summary = "List a task's webhook deliveries",
    description = "Each delivery of the task's webhook (event, URL, status) and every attempt (status code or \
        error, duration), newest first, a page at a time. Example: `GET /v1/tasks/tsk_…/webhook-deliveries` → \
        `{\"data\": [{\"event_type\": \"task.completed\", \"status\": \"delivered\", \"attempts\": \
        [{\"status_code\": 200, …}]}], \"next_cursor\": null}`.",
    params(
        ("id" = String, Path, description = "Task id"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "Page size (default 50)"),
        ("cursor" = Option<String>, Query, pattern = "^(whd|msg)_[0-9A-HJKMNP-TV-Z]{26}$", nullable = false,
            description = "`next_cursor` of the previous page"),
    ),
    responses((status = 200, description = "A page of the task's webhook deliveries, newest first", body = DeliveryList)))]
pub async fn deliveries(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<DeliveryList>, ApiError> {
    let principal = caller.require(Scope::Tasks)?;
    let delivery_id =
        |c: &str| [DELIVERY_ID_PREFIX, OLDER_DELIVERY_ID_PREFIX].iter().any(|p| crate::ids::looks_like(c, p));
    let query = PageQuery::parse(&params, paging::DEFAULT_LIMIT, delivery_id)?;
    let task = state.tasks.owned(principal, &id).await?;
    let deliveries = state.tasks.deliveries(&task).await?.into_iter().map(WebhookDelivery::from).collect();
    let (data, next_cursor) = page_of(deliveries, &query, Order::NewestFirst, |d: &WebhookDelivery| &d.id);
    Ok(Json(DeliveryList { data, next_cursor }))
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
