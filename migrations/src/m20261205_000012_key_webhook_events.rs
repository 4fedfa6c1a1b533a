//! The events a key's default webhook receives (a JSON list); `NULL` keeps the
//! defaults (`task.completed`, `task.failed`, `task.cancelled`).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("api_keys").add_column(text_null("webhook_events")).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("api_keys").drop_column("webhook_events").to_owned()).await
    }
}
