//! Drops `tasks_key_status` (key, status): it is a prefix of `tasks_key_queue`
//! (migration 18), which answers the same per-key counts, so every write to a task
//! no longer updates two indexes for one question.

use sea_orm_migration::prelude::*;

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("tasks_key_status").table("tasks").to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_index(
                Index::create().name("tasks_key_status").table("tasks").col("key_id").col("status").to_owned(),
            )
            .await
    }
}
