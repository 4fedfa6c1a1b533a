//! Each key's queue in claim order: a claim picks every key's next task with one
//! index seek, so a long backlog behind a key at its concurrency cap is never read.
//! On PostgreSQL the index is built in the upgrade's transaction: writes to `tasks`
//! wait while it builds, which takes longer the more tasks the table holds.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create()
                    .name("tasks_key_queue")
                    .table("tasks")
                    .col("key_id")
                    .col("status")
                    .col((Alias::new("priority"), IndexOrder::Desc))
                    .col("enqueued_at")
                    .col("id")
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("tasks_key_queue").table("tasks").to_owned()).await
    }
}
