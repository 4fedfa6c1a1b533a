//! The storage set that holds a task's recorded artifacts, written in the same
//! transaction as their rows: a download reads that set, so a client that sees the
//! task finished never finds the files missing while the set is still being
//! made current in storage.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("tasks").add_column(string_null("artifact_set")).to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("tasks").drop_column("artifact_set").to_owned()).await
    }
}
