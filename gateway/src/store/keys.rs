//! API key rows.

use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, Set, TransactionTrait};

use super::entities::{Environment, api_key, task};
use super::{AuditEntry, Context, Result, Store, audit};

/// A key to insert (the secret itself is never stored).
#[derive(Debug, Clone)]
pub struct NewKey {
    pub id: String,
    pub prefix: String,
    pub secret_hash: String,
    pub environment: Environment,
    pub webhook_secret: String,
    pub fields: KeyFields,
}

/// What an admin sets on a key, and may change later.
#[derive(Debug, Clone)]
pub struct KeyFields {
    pub name: String,
    pub scopes: Vec<String>,
    pub rate_limit_per_minute: u32,
    pub max_concurrent_tasks: u32,
    pub max_queued_tasks: u32,
    pub webhook_url: Option<String>,
    /// The default webhook's events (a JSON list); `None`: the defaults.
    pub webhook_events: Option<String>,
    pub budget_micros_per_day: Option<i64>,
    pub budget_micros_per_month: Option<i64>,
    pub token_budget_per_day: Option<i64>,
    pub token_budget_per_month: Option<i64>,
}

impl Store {
    pub async fn insert_key(&self, key: NewKey, audit_entry: AuditEntry) -> Result<api_key::Model> {
        let now = crate::timestamp::now_ms();
        let txn = self.writer.begin().await.during("starting a transaction")?;
        let fields = key.fields;
        let model = api_key::ActiveModel {
            id: Set(key.id),
            name: Set(fields.name),
            prefix: Set(key.prefix),
            secret_hash: Set(key.secret_hash),
            environment: Set(key.environment),
            scopes: Set(fields.scopes.join(",")),
            rate_limit_per_minute: Set(fields.rate_limit_per_minute as i32),
            max_concurrent_tasks: Set(fields.max_concurrent_tasks as i32),
            max_queued_tasks: Set(fields.max_queued_tasks as i32),
            created_at: Set(now),
            last_used_at: Set(None),
            revoked_at: Set(None),
            webhook_url: Set(fields.webhook_url),
            webhook_events: Set(fields.webhook_events),
            webhook_secret: Set(Some(key.webhook_secret)),
            webhook_secret_previous: Set(None),
            webhook_secret_rotated_at: Set(None),
            budget_micros_per_day: Set(fields.budget_micros_per_day),
            budget_micros_per_month: Set(fields.budget_micros_per_month),
            token_budget_per_day: Set(fields.token_budget_per_day),
            token_budget_per_month: Set(fields.token_budget_per_month),
        }
        .insert(&txn)
        .await
        .during("creating a key")?;
        audit::record(&txn, AuditEntry { target: Some(model.id.clone()), ..audit_entry }, now).await?;
        txn.commit().await.during("creating a key")?;
        Ok(model)
    }

    pub async fn key_by_hash(&self, secret_hash: &str) -> Result<Option<api_key::Model>> {
        api_key::Entity::find()
            .filter(api_key::Column::SecretHash.eq(secret_hash))
            .one(&self.reader)
            .await
            .during("looking up a key")
    }

    pub async fn key(&self, id: &str) -> Result<Option<api_key::Model>> {
        api_key::Entity::find_by_id(id).one(&self.reader).await.during("reading a key")
    }

    pub async fn keys(&self) -> Result<Vec<api_key::Model>> {
        api_key::Entity::find().order_by_desc(api_key::Column::Id).all(&self.reader).await.during("listing keys")
    }

    /// Revokes a key; `false` when there is no such active key.
    pub async fn revoke_key(&self, id: &str, audit_entry: AuditEntry) -> Result<bool> {
        let now = crate::timestamp::now_ms();
        let txn = self.writer.begin().await.during("starting a transaction")?;
        let changed = api_key::Entity::update_many()
            .col_expr(api_key::Column::RevokedAt, sea_orm::sea_query::Expr::value(now))
            .filter(api_key::Column::Id.eq(id))
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(&txn)
            .await
            .during("revoking a key")?
            .rows_affected
            == 1;
        if changed {
            audit::record(&txn, AuditEntry { target: Some(id.to_string()), ..audit_entry }, now).await?;
        }
        txn.commit().await.during("revoking a key")?;
        Ok(changed)
    }

    /// Records that a key was used (callers throttle this).
    pub async fn touch_key(&self, id: &str, at: i64) -> Result<()> {
        api_key::Entity::update_many()
            .col_expr(api_key::Column::LastUsedAt, sea_orm::sea_query::Expr::value(at))
            .filter(api_key::Column::Id.eq(id))
            .exec(&self.writer)
            .await
            .during("recording key use")?;
        Ok(())
    }

    /// Replaces the key's webhook secret; the old one keeps signing for a day.
    pub async fn rotate_webhook_secret(&self, id: &str, secret: &str, audit_entry: AuditEntry) -> Result<bool> {
        let now = crate::timestamp::now_ms();
        let txn = self.writer.begin().await.during("starting a transaction")?;
        let Some(key) = api_key::Entity::find_by_id(id).one(&txn).await.during("reading a key")? else {
            txn.rollback().await.during("rotating a webhook secret")?;
            return Ok(false);
        };
        let changed = api_key::Entity::update_many()
            .col_expr(api_key::Column::WebhookSecretPrevious, sea_orm::sea_query::Expr::value(key.webhook_secret))
            .col_expr(api_key::Column::WebhookSecret, sea_orm::sea_query::Expr::value(secret))
            .col_expr(api_key::Column::WebhookSecretRotatedAt, sea_orm::sea_query::Expr::value(now))
            .filter(api_key::Column::Id.eq(id))
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(&txn)
            .await
            .during("rotating a webhook secret")?
            .rows_affected
            == 1;
        if changed {
            audit::record(&txn, AuditEntry { target: Some(id.to_string()), ..audit_entry }, now).await?;
        }
        txn.commit().await.during("rotating a webhook secret")?;
        Ok(changed)
    }

    /// Changes an active key's name, scopes, limits, default webhook and budgets, and
    /// releases its tasks deferred until its budget resets.
    pub async fn update_key(
        &self,
        id: &str,
        fields: &KeyFields,
        audit_entry: AuditEntry,
    ) -> Result<Option<api_key::Model>> {
        use sea_orm::sea_query::Expr;
        let now = crate::timestamp::now_ms();
        let txn = self.writer.begin().await.during("starting a transaction")?;
        let spec = fields;
        let changed = api_key::Entity::update_many()
            .col_expr(api_key::Column::Name, Expr::value(spec.name.clone()))
            .col_expr(api_key::Column::Scopes, Expr::value(spec.scopes.join(",")))
            .col_expr(api_key::Column::RateLimitPerMinute, Expr::value(spec.rate_limit_per_minute as i32))
            .col_expr(api_key::Column::MaxConcurrentTasks, Expr::value(spec.max_concurrent_tasks as i32))
            .col_expr(api_key::Column::MaxQueuedTasks, Expr::value(spec.max_queued_tasks as i32))
            .col_expr(api_key::Column::WebhookUrl, Expr::value(spec.webhook_url.clone()))
            .col_expr(api_key::Column::WebhookEvents, Expr::value(spec.webhook_events.clone()))
            .col_expr(api_key::Column::BudgetMicrosPerDay, Expr::value(spec.budget_micros_per_day))
            .col_expr(api_key::Column::BudgetMicrosPerMonth, Expr::value(spec.budget_micros_per_month))
            .col_expr(api_key::Column::TokenBudgetPerDay, Expr::value(spec.token_budget_per_day))
            .col_expr(api_key::Column::TokenBudgetPerMonth, Expr::value(spec.token_budget_per_month))
            .filter(api_key::Column::Id.eq(id))
            .filter(api_key::Column::RevokedAt.is_null())
            .exec(&txn)
            .await
            .during("updating a key")?
            .rows_affected
            == 1;
        if !changed {
            txn.rollback().await.during("updating a key")?;
            return Ok(None);
        }
        // Tasks deferred for the key's budget wait until exactly the next UTC day or
        // month start; a changed budget may let them run now (their claim checks the
        // budget again). A retry's backoff keeps its own time.
        let (tomorrow, next_month) = crate::budget::next_day_and_month(now);
        task::Entity::update_many()
            .col_expr(task::Column::NotBefore, Expr::value(Option::<i64>::None))
            .filter(task::Column::KeyId.eq(id))
            .filter(task::Column::Status.eq(super::entities::TaskStatus::Queued))
            .filter(task::Column::NotBefore.is_in([tomorrow, next_month]))
            .exec(&txn)
            .await
            .during("releasing tasks deferred for the key's budget")?;
        audit::record(&txn, AuditEntry { target: Some(id.to_string()), ..audit_entry }, now).await?;
        let key = api_key::Entity::find_by_id(id).one(&txn).await.during("reading a key")?;
        txn.commit().await.during("updating a key")?;
        Ok(key)
    }
}
