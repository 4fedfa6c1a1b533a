//! Database schema of ccgate, as forward-only SeaORM migrations.
//!
//! Every migration is written with the sea-query builder (never raw SQL) so one
//! definition serves SQLite, the embedded default, and PostgreSQL. Timestamps are
//! stored as BIGINT milliseconds since the Unix epoch: portable, cheap to compare,
//! and formatted as RFC 3339 only at the API edge.

pub use sea_orm_migration::prelude::*;

mod m20261125_000001_initial;
mod m20261125_000002_artifacts;
mod m20261125_000003_webhooks;
mod m20261125_000004_retry_after;
mod m20261125_000005_turn_cli;
mod m20261125_000006_budgets;
mod m20261125_000007_token_budgets;
mod m20261205_000008_audit_hardening;
mod m20261205_000009_approvals;
mod m20261205_000010_task_environment;
mod m20261205_000011_usage_rollup;
mod m20261205_000012_key_webhook_events;
mod m20261206_000013_live_spend;
mod m20261206_000014_nodes;
mod m20261206_000015_workspace_snapshots;
mod m20261206_000016_live_held_tokens;
mod m20261206_000017_artifact_set;
mod m20261206_000018_key_queue_index;
mod m20261206_000019_drop_key_status_index;

/// Applies every migration in order.
pub struct Migrator;

#[async_trait::async_trait]
impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261125_000001_initial::Migration),
            Box::new(m20261125_000002_artifacts::Migration),
            Box::new(m20261125_000003_webhooks::Migration),
            Box::new(m20261125_000004_retry_after::Migration),
            Box::new(m20261125_000005_turn_cli::Migration),
            Box::new(m20261125_000006_budgets::Migration),
            Box::new(m20261125_000007_token_budgets::Migration),
            Box::new(m20261205_000008_audit_hardening::Migration),
            Box::new(m20261205_000009_approvals::Migration),
            Box::new(m20261205_000010_task_environment::Migration),
            Box::new(m20261205_000011_usage_rollup::Migration),
            Box::new(m20261205_000012_key_webhook_events::Migration),
            Box::new(m20261206_000013_live_spend::Migration),
            Box::new(m20261206_000014_nodes::Migration),
            Box::new(m20261206_000015_workspace_snapshots::Migration),
            Box::new(m20261206_000016_live_held_tokens::Migration),
            Box::new(m20261206_000017_artifact_set::Migration),
            Box::new(m20261206_000018_key_queue_index::Migration),
            Box::new(m20261206_000019_drop_key_status_index::Migration),
        ]
    }
}
