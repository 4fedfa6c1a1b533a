//! The first schema: API keys, tasks with their turns, metadata and event log,
//! the audit log and idempotency records.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("api_keys")
                    .col(string("id").primary_key())
                    .col(string("name"))
                    .col(string("prefix"))
                    .col(string_uniq("secret_hash"))
                    .col(string("environment"))
                    .col(string("scopes"))
                    .col(integer("rate_limit_per_minute"))
                    .col(integer("max_concurrent_tasks"))
                    .col(integer("max_queued_tasks"))
                    .col(big_integer("created_at"))
                    .col(big_integer_null("last_used_at"))
                    .col(big_integer_null("revoked_at"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("tasks")
                    .col(string("id").primary_key())
                    .col(string("key_id"))
                    .col(string("status"))
                    .col(integer("priority"))
                    .col(text("prompt"))
                    .col(text("options"))
                    .col(text("metadata"))
                    .col(big_integer("created_at"))
                    .col(big_integer("enqueued_at"))
                    .col(big_integer_null("started_at"))
                    .col(big_integer_null("finished_at"))
                    .col(integer("current_turn"))
                    .col(integer("attempts"))
                    .col(string_null("lease_owner"))
                    .col(big_integer_null("lease_expires_at"))
                    .col(boolean("cancel_requested"))
                    .col(string_null("session_id"))
                    .col(text_null("result"))
                    .col(text_null("error"))
                    .col(big_integer("event_seq"))
                    .to_owned(),
            )
            .await?;
        // The claim query scans queued tasks by priority, then FIFO.
        manager
            .create_index(
                Index::create()
                    .name("tasks_queue")
                    .table("tasks")
                    .col("status")
                    .col("priority")
                    .col("enqueued_at")
                    .to_owned(),
            )
            .await?;
        // Listing a key's own tasks, newest first (ids sort by creation time).
        manager
            .create_index(Index::create().name("tasks_key").table("tasks").col("key_id").col("id").to_owned())
            .await?;

        // Per-key quota checks count a key's queued and running tasks.
        manager
            .create_index(
                Index::create().name("tasks_key_status").table("tasks").col("key_id").col("status").to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("task_turns")
                    .col(string("task_id"))
                    .col(integer("turn_index"))
                    .col(text("prompt"))
                    .col(string("status"))
                    .col(big_integer("created_at"))
                    .col(big_integer_null("started_at"))
                    .col(big_integer_null("finished_at"))
                    .primary_key(Index::create().col("task_id").col("turn_index"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("task_metadata")
                    .col(string("task_id"))
                    .col(string("name"))
                    .col(text("value"))
                    .primary_key(Index::create().col("task_id").col("name"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("task_metadata_lookup").table("task_metadata").col("name").col("value").to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("task_events")
                    .col(string("task_id"))
                    .col(big_integer("seq"))
                    .col(string("event_type"))
                    .col(big_integer("at"))
                    .col(text("data"))
                    .primary_key(Index::create().col("task_id").col("seq"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("audit_events")
                    .col(big_pk_auto("id"))
                    .col(big_integer("at"))
                    .col(string_null("key_id"))
                    .col(string("action"))
                    .col(string_null("target"))
                    .col(string("outcome"))
                    .col(string_null("request_id"))
                    .col(string_null("client_addr"))
                    .col(text_null("details"))
                    .to_owned(),
            )
            .await?;

        manager
            .create_table(
                Table::create()
                    .table("idempotency_records")
                    .col(string("key_id"))
                    .col(string("idempotency_key"))
                    .col(string("request_hash"))
                    .col(string("task_id"))
                    .col(big_integer("created_at"))
                    .primary_key(Index::create().col("key_id").col("idempotency_key"))
                    .to_owned(),
            )
            .await?;
        Ok(())
    }
}
