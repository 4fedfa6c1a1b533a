//! The webhook outbox: deliveries written in the transaction that changes a task,
//! claimed with a lease by the delivery workers of any node, and every attempt.

use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set,
    TransactionTrait,
};

use std::sync::Arc;

use super::entities::webhook_delivery::DeliveryStatus;
use super::entities::{JsonText, TaskStatus, api_key, approval, task, task_turn, webhook_attempt, webhook_delivery};
use super::tasks::{artifacts_of, turns_of};
use super::{Context, Result, Store};
use crate::artifacts::Artifact;

/// The prefix of a delivery's id (its `webhook-id`). Deliveries made before it
/// was `whd` are `msg_…`: a list by id puts them after every newer one.
pub const DELIVERY_ID_PREFIX: &str = "whd";
/// The prefix of deliveries made by earlier versions.
pub const OLDER_DELIVERY_ID_PREFIX: &str = "msg";

/// What a delivery is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutboxEvent<'a> {
    /// The task entered this status.
    Status(TaskStatus),
    /// A permission prompt of the task waits for a client.
    ApprovalRequested(&'a approval::Model),
}

/// The task as it is in the transaction that writes its delivery.
pub struct TaskSnapshot<'a> {
    pub task: &'a task::Model,
    pub turns: Vec<task_turn::Model>,
    pub artifacts: Vec<Artifact>,
}

/// What the webhooks decide for the outbox: whether an event is sent, where, and
/// its body. The store writes deliveries in the transaction that changes a task
/// and gives the rules the rows it read; the rules own the formats.
pub trait WebhookRules: Send + Sync {
    /// The event type sent for `event`, if any is.
    fn event_type(&self, event: OutboxEvent<'_>) -> Option<&'static str>;
    /// Where `event_type` of `task` goes: its own webhook if it has one, else
    /// its key's default webhook (`key`), if either subscribes.
    fn destination(&self, task: &task::Model, key: Option<&api_key::Model>, event_type: &str) -> Option<String>;
    /// The delivery's body.
    fn payload(&self, snapshot: &TaskSnapshot<'_>, event: OutboxEvent<'_>, event_type: &str, now: i64) -> String;
}

/// Writes a delivery for the task's new `status` if its webhook, or its key's
/// default webhook, wants that event. The payload is the task as it is now.
pub(super) async fn enqueue(
    conn: &impl ConnectionTrait,
    rules: Option<&Arc<dyn WebhookRules>>,
    task_id: &str,
    status: TaskStatus,
    now: i64,
) -> Result<()> {
    let Some(rules) = rules else { return Ok(()) };
    if rules.event_type(OutboxEvent::Status(status)).is_none() {
        return Ok(());
    }
    match task::Entity::find_by_id(task_id).one(conn).await.during("reading a task")? {
        Some(task) => enqueue_event(conn, rules, &task, OutboxEvent::Status(status), now).await,
        None => Ok(()),
    }
}

/// [`enqueue`] for a task row the caller has just read in the same transaction.
/// Webhooks of a state go out when a run ends, and its prompts end with it: none pending.
pub(super) async fn enqueue_for(
    conn: &impl ConnectionTrait,
    rules: Option<&Arc<dyn WebhookRules>>,
    task: &task::Model,
    event: OutboxEvent<'_>,
    now: i64,
) -> Result<()> {
    match rules {
        Some(rules) => enqueue_event(conn, rules, task, event, now).await,
        None => Ok(()),
    }
}

/// The delivery of `event` for `task`, where the rules send it, with the task
/// as it is now.
async fn enqueue_event(
    conn: &impl ConnectionTrait,
    rules: &Arc<dyn WebhookRules>,
    task: &task::Model,
    event: OutboxEvent<'_>,
    now: i64,
) -> Result<()> {
    let Some(event_type) = rules.event_type(event) else { return Ok(()) };
    let key = api_key::Entity::find_by_id(&task.key_id).one(conn).await.during("reading a key")?;
    let Some(url) = rules.destination(task, key.as_ref(), event_type) else { return Ok(()) };
    let snapshot =
        TaskSnapshot { task, turns: turns_of(conn, &task.id).await?, artifacts: artifacts_of(conn, &task.id).await? };
    let payload = rules.payload(&snapshot, event, event_type, now);
    webhook_delivery::ActiveModel {
        id: Set(crate::ids::new_id(DELIVERY_ID_PREFIX)),
        task_id: Set(task.id.clone()),
        key_id: Set(task.key_id.clone()),
        event_type: Set(event_type.to_string()),
        url: Set(url),
        payload: Set(payload),
        status: Set(DeliveryStatus::Pending),
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
            .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending))
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
                .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending))
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
            DeliveryState::Delivered => (DeliveryStatus::Delivered, delivery.next_attempt_at, Some(attempt.at)),
            DeliveryState::RetryAt(at) => (DeliveryStatus::Pending, at, None),
            DeliveryState::GaveUp => (DeliveryStatus::Failed, delivery.next_attempt_at, Some(attempt.at)),
            DeliveryState::Disabled => (DeliveryStatus::Disabled, delivery.next_attempt_at, Some(attempt.at)),
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
            .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending))
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
        && let Some(mut webhook) = task.webhook.as_ref().and_then(|w| w.parsed()).cloned()
    {
        webhook.disabled = true;
        task::Entity::update_many()
            .col_expr(task::Column::Webhook, Expr::value(JsonText::new(webhook)))
            .filter(task::Column::Id.eq(task_id))
            .exec(conn)
            .await
            .during("disabling a webhook")?;
    }
    webhook_delivery::Entity::update_many()
        .col_expr(webhook_delivery::Column::Status, Expr::value(DeliveryStatus::Disabled))
        .col_expr(webhook_delivery::Column::FinishedAt, Expr::value(now))
        .filter(webhook_delivery::Column::TaskId.eq(task_id))
        .filter(webhook_delivery::Column::Status.eq(DeliveryStatus::Pending))
        .exec(conn)
        .await
        .during("disabling a webhook")?;
    Ok(())
}
