//! An API key: only a keyed hash of its secret is stored.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "api_keys")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: String,
    pub name: String,
    /// The first characters of the secret, for people to recognise a key.
    pub prefix: String,
    #[sea_orm(unique)]
    pub secret_hash: String,
    /// `live` or `test`.
    pub environment: crate::store::entities::Environment,
    /// Comma-separated scopes.
    pub scopes: String,
    pub rate_limit_per_minute: i32,
    pub max_concurrent_tasks: i32,
    pub max_queued_tasks: i32,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub revoked_at: Option<i64>,
    /// Where this key's tasks report by default (a task's own `webhook` wins).
    pub webhook_url: Option<String>,
    /// `whsec_…`: signs this key's webhooks. Kept (not hashed): signing needs it.
    pub webhook_secret: Option<String>,
    /// The secret before the last rotation; deliveries carry both signatures for a day.
    pub webhook_secret_previous: Option<String>,
    pub webhook_secret_rotated_at: Option<i64>,
    /// The events the default webhook receives, a JSON list; `None`: the defaults.
    pub webhook_events: Option<String>,
    /// Spending caps in millionths of a US dollar; `None`: no cap.
    pub budget_micros_per_day: Option<i64>,
    pub budget_micros_per_month: Option<i64>,
    /// Caps on the tokens (input, cache and output together) of the key's runs;
    /// `None`: no cap.
    pub token_budget_per_day: Option<i64>,
    pub token_budget_per_month: Option<i64>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
