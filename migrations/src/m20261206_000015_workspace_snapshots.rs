//! The task's latest workspace snapshot in shared storage: the workspace and
//! Claude's session transcripts as they were after its last turn (or its inputs,
//! before the first), so that any node can run its next turn or serve its files.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("tasks").add_column(string_null("snapshot")).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("tasks").drop_column("snapshot").to_owned()).await
    }
}
