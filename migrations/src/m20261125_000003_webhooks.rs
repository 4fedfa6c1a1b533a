//! Webhooks: a task's webhook, a key's default webhook and signing secrets, and
//! the delivery outbox with every attempt.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one change at a time.
        let columns = [
            ("tasks", text_null("webhook").to_owned()),
            ("api_keys", text_null("webhook_url").to_owned()),
            ("api_keys", text_null("webhook_secret").to_owned()),
            ("api_keys", text_null("webhook_secret_previous").to_owned()),
            ("api_keys", big_integer_null("webhook_secret_rotated_at").to_owned()),
        ];
        for (table, column) in columns {
            manager.alter_table(Table::alter().table(table).add_column(column).to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("webhook_deliveries")
                    // The `webhook-id` header: one per delivery, the same on every retry.
                    .col(string("id").primary_key())
                    .col(string("task_id"))
                    .col(string("key_id"))
                    .col(string("event_type"))
                    .col(text("url"))
                    .col(text("payload"))
                    // pending, delivered, failed (gave up) or disabled (410).
                    .col(string("status"))
                    .col(integer("attempts"))
                    .col(big_integer("next_attempt_at"))
                    .col(string_null("claimed_by"))
                    .col(big_integer_null("claimed_until"))
                    .col(big_integer("created_at"))
                    .col(big_integer_null("finished_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("webhook_deliveries_due")
                    .table("webhook_deliveries")
                    .col("status")
                    .col("next_attempt_at")
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("webhook_deliveries_task").table("webhook_deliveries").col("task_id").to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("webhook_attempts")
                    .col(big_pk_auto("id"))
                    .col(string("delivery_id"))
                    .col(big_integer("at"))
                    .col(integer_null("status_code"))
                    .col(text_null("error"))
                    .col(big_integer("duration_ms"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("webhook_attempts_delivery")
                    .table("webhook_attempts")
                    .col("delivery_id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("webhook_attempts").to_owned()).await?;
        manager.drop_table(Table::drop().table("webhook_deliveries").to_owned()).await?;
        let columns = [
            ("api_keys", "webhook_secret_rotated_at"),
            ("api_keys", "webhook_secret_previous"),
            ("api_keys", "webhook_secret"),
            ("api_keys", "webhook_url"),
            ("tasks", "webhook"),
        ];
        for (table, column) in columns {
            manager.alter_table(Table::alter().table(table).drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
