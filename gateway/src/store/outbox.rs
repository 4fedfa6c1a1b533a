//! The webhook outbox: deliveries written in the transaction that changes a task,
//! claimed with a lease by the delivery workers of any node, and every attempt.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};
use serde_json::json;

use super::entities::{api_key, approval, task, webhook_attempt, webhook_delivery};
use super::tasks::{artifacts_of, turns_of};
use super::{Context, Result, Store};
use crate::approvals::desk::ApprovalView;
use crate::task::TaskView;
use crate::webhooks::{APPROVAL_REQUESTED, TaskWebhook, event_for_status, key_events};

/// Writes a delivery for the task's new `status` if its webhook, or its key's
/// default webhook, wants that event. The payload is the task as it is now.
pub(super) async fn enqueue(conn: &impl ConnectionTrait, task_id: &str, status: &str, now: i64) -> Result<()> {
    if event_for_status(status).is_none() {
        return Ok(());
    }
    match task::Entity::find_by_id(task_id).one(conn).await.during("reading a task")? {
        Some(task) => enqueue_for(conn, &task, status, now).await,
        None => Ok(()),
    }
}

/// [`enqueue`] for a task row the caller has just read in the same transaction.
pub(super) async fn enqueue_for(conn: &impl ConnectionTrait, task: &task::Model, status: &str, now: i64) -> Result<()> {
    let Some(event_type) = event_for_status(status) else { return Ok(()) };
    // Webhooks of a state go out when a run ends, and its prompts end with it: none pending.
    enqueue_event(conn, task, event_type, None, now).await
}

/// Writes a `task.approval_requested` delivery for the prompt `approval` of `task`,
/// if its webhook subscribes to it (or, without one, its key's default webhook does).
pub(super) async fn enqueue_approval(
    conn: &impl ConnectionTrait,
    task: &task::Model,
    approval: &approval::Model,
    now: i64,
) -> Result<()> {
    enqueue_event(conn, task, APPROVAL_REQUESTED, Some(approval), now).await
}

/// The delivery of `event_type` for `task`, to its own webhook when that subscribes,
/// else to its key's default webhook when that does (`webhook_events`). The payload's `data` is
/// the task as it is now; for a prompt, with the prompt as `data.approval`.
async fn enqueue_event(
    conn: &impl ConnectionTrait,
    task: &task::Model,
    event_type: &'static str,
    approval: Option<&approval::Model>,
    now: i64,
) -> Result<()> {
    let url = match task.webhook.as_deref().and_then(|w| serde_json::from_str::<TaskWebhook>(w).ok()) {
        Some(webhook) if webhook.disabled => None,
        Some(webhook) => webhook.events.iter().any(|e| e == event_type).then_some(webhook.url),
        None => api_key::Entity::find_by_id(&task.key_id)
            .one(conn)
            .await
            .during("reading a key")?
            .filter(|key| key_events(key.webhook_events.as_deref()).iter().any(|e| e == event_type))
            .and_then(|key| key.webhook_url),
    };
    let Some(url) = url else { return Ok(()) };
    let turns = turns_of(conn, &task.id).await?;
    let artifacts = artifacts_of(conn, &task.id).await?;
    let pending = approval.map(|row| vec![ApprovalView::from(row)]).unwrap_or_default();
    let mut data = serde_json::to_value(TaskView::new(task, &turns, artifacts, pending)).unwrap_or_default();
    if let (Some(row), Some(object)) = (approval, data.as_object_mut()) {
        object.insert("approval".into(), serde_json::to_value(ApprovalView::from(row)).unwrap_or_default());
    }
    let payload = json!({"type": event_type, "timestamp": crate::timestamp::format_ms(now), "data": data});
    webhook_delivery::ActiveModel {
        id: Set(crate::ids::new_id("msg")),
        task_id: Set(task.id.clone()),
        key_id: Set(task.key_id.clone()),
        event_type: Set(event_type.to_string()),
        url: Set(url),
        payload: Set(payload.to_string()),
        status: Set("pending".into()),
        attempts: Set(0),
        next_attempt_at: Set(now),
        claimed_by: Set(None),
        claimed_until: Set(None),
        created_at: Set(now),
        finished_at: Set(None),
    }
    .insert(conn)
    .await
    .during("queueing a webhook")?;
    Ok(())
}

/// What one attempt came to.
#[derive(Debug, Clone)]
pub struct AttemptRecord {
    pub at: i64,
    pub status_code: Option<u16>,
    pub error: Option<String>,
    pub duration_ms: i64,
}

/// Where a delivery goes after an attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryState {
    Delivered,
    RetryAt(i64),
    GaveUp,
    /// The receiver answered 410: this and every later delivery of the task stop.
    Disabled,
}

/// A delivery with its attempts, as listed to clients.
#[derive(Debug, Clone)]
pub struct DeliveryLog {
    pub delivery: webhook_delivery::Model,
    pub attempts: Vec<webhook_attempt::Model>,
}

impl Store {
    /// Claims up to `limit` due deliveries for `owner` until `lease_until`.
    pub async fn claim_deliveries(
        &self,
        owner: &str,
        lease_until: i64,
        limit: u64,
    ) -> Result<Vec<webhook_delivery::Model>> {
        let now = crate::timestamp::now_ms();
        let due = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::Status.eq("pending"))
            .filter(webhook_delivery::Column::NextAttemptAt.lte(now))
            .filter(webhook_delivery::Column::ClaimedUntil.is_null().or(webhook_delivery::Column::ClaimedUntil.lt(now)))
            .order_by_asc(webhook_delivery::Column::NextAttemptAt)
            .limit(limit)
            .all(&self.reader)
            .await
            .during("finding due webhooks")?;
        let mut claimed = Vec::with_capacity(due.len());
        for delivery in due {
            // Conditional on the claim we saw: another node may have taken it.
            let taken = webhook_delivery::Entity::update_many()
                .col_expr(webhook_delivery::Column::ClaimedBy, Expr::value(owner))
                .col_expr(webhook_delivery::Column::ClaimedUntil, Expr::value(lease_until))
                .filter(webhook_delivery::Column::Id.eq(delivery.id.clone()))
                .filter(webhook_delivery::Column::Status.eq("pending"))
                .filter(
                    webhook_delivery::Column::ClaimedUntil.is_null().or(webhook_delivery::Column::ClaimedUntil.lt(now)),
                )
                .exec(&self.writer)
                .await
                .during("claiming a webhook")?
                .rows_affected
                == 1;
            if taken {
                claimed.push(delivery);
            }
        }
        Ok(claimed)
    }

    /// Records an attempt and moves the delivery on, if `owner` still holds it.
    pub async fn record_attempt(
        &self,
        delivery: &webhook_delivery::Model,
        owner: &str,
        attempt: AttemptRecord,
        state: DeliveryState,
    ) -> Result<bool> {
        let txn = self.writer.begin().await.during("starting a transaction")?;
        let (status, next, finished) = match state {
            DeliveryState::Delivered => ("delivered", delivery.next_attempt_at, Some(attempt.at)),
            DeliveryState::RetryAt(at) => ("pending", at, None),
            DeliveryState::GaveUp => ("failed", delivery.next_attempt_at, Some(attempt.at)),
            DeliveryState::Disabled => ("disabled", delivery.next_attempt_at, Some(attempt.at)),
        };
        let updated = webhook_delivery::Entity::update_many()
            .col_expr(webhook_delivery::Column::Status, Expr::value(status))
            .col_expr(webhook_delivery::Column::Attempts, Expr::col(webhook_delivery::Column::Attempts).add(1))
            .col_expr(webhook_delivery::Column::NextAttemptAt, Expr::value(next))
            .col_expr(webhook_delivery::Column::FinishedAt, Expr::value(finished))
            .col_expr(webhook_delivery::Column::ClaimedBy, Expr::value(Option::<String>::None))
            .col_expr(webhook_delivery::Column::ClaimedUntil, Expr::value(Option::<i64>::None))
            .filter(webhook_delivery::Column::Id.eq(delivery.id.clone()))
            .filter(webhook_delivery::Column::ClaimedBy.eq(owner))
            // A 410 seen by another worker may have disabled it meanwhile.
            .filter(webhook_delivery::Column::Status.eq("pending"))
            .exec(&txn)
            .await
            .during("recording a webhook attempt")?
            .rows_affected
            == 1;
        if !updated {
            txn.rollback().await.during("recording a webhook attempt")?;
            return Ok(false);
        }
        webhook_attempt::ActiveModel {
            delivery_id: Set(delivery.id.clone()),
            at: Set(attempt.at),
            status_code: Set(attempt.status_code.map(i32::from)),
            error: Set(attempt.error),
            duration_ms: Set(attempt.duration_ms),
            ..Default::default()
        }
        .insert(&txn)
        .await
        .during("recording a webhook attempt")?;
        if state == DeliveryState::Disabled {
            disable_task_webhook(&txn, &delivery.task_id, attempt.at).await?;
        }
        txn.commit().await.during("recording a webhook attempt")?;
        Ok(true)
    }

    /// The task's deliveries, oldest first, each with its attempts.
    pub async fn deliveries(&self, task_id: &str) -> Result<Vec<DeliveryLog>> {
        let deliveries = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::TaskId.eq(task_id))
            .order_by_asc(webhook_delivery::Column::CreatedAt)
            .order_by_asc(webhook_delivery::Column::Id)
            .all(&self.reader)
            .await
            .during("reading webhook deliveries")?;
        let ids: Vec<String> = deliveries.iter().map(|d| d.id.clone()).collect();
        let mut attempts = webhook_attempt::Entity::find()
            .filter(webhook_attempt::Column::DeliveryId.is_in(ids))
            .order_by_asc(webhook_attempt::Column::Id)
            .all(&self.reader)
            .await
            .during("reading webhook attempts")?;
        Ok(deliveries
            .into_iter()
            .map(|delivery| {
                let (mine, rest): (Vec<_>, Vec<_>) = attempts.drain(..).partition(|a| a.delivery_id == delivery.id);
                attempts = rest;
                DeliveryLog { delivery, attempts: mine }
            })
            .collect())
    }
}

/// The receiver answered 410: the task's webhook stops, pending deliveries included.
async fn disable_task_webhook(conn: &impl ConnectionTrait, task_id: &str, now: i64) -> Result<()> {
    if let Some(task) = task::Entity::find_by_id(task_id).one(conn).await.during("reading a task")?
        && let Some(mut webhook) = task.webhook.as_deref().and_then(|w| serde_json::from_str::<TaskWebhook>(w).ok())
    {
        webhook.disabled = true;
        task::Entity::update_many()
            .col_expr(task::Column::Webhook, Expr::value(serde_json::to_string(&webhook).ok()))
            .filter(task::Column::Id.eq(task_id))
            .exec(conn)
            .await
            .during("disabling a webhook")?;
    }
    webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Status, Expr::value("disabled"))
        .col_expr(webhook_delivery::Column::FinishedAt, Expr::value(now))
        .filter(webhook_delivery::Column::TaskId.eq(task_id))
        .filter(webhook_delivery::Column::Status.eq("pending"))
        .exec(conn)
        .await
        .during("disabling a webhook")?;
    Ok(())
}
