//! Tool permission prompts a run waits on: one row per prompt asked of a person,
//! pending until a client decides, it times out, or its run ends.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("approvals")
                    .col(string("id").primary_key())
                    .col(string("task_id"))
                    .col(string("run_id"))
                    .col(integer("turn"))
                    .col(string("tool"))
                    .col(text("input"))
                    .col(text_null("reason"))
                    .col(string("state"))
                    .col(string_null("decision"))
                    .col(string_null("decided_by"))
                    .col(text_null("message"))
                    .col(text_null("updated_input"))
                    .col(big_integer("requested_at"))
                    .col(big_integer("expires_at"))
                    .col(big_integer_null("decided_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create().name("approvals_task").table("approvals").col("task_id").col("requested_at").to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("approvals").to_owned()).await
    }
}
