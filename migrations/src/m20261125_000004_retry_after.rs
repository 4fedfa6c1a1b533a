//! Transient failures re-queue a task with a backoff: it may not be claimed
//! before `not_before`, and `continue_turn` says the session already holds the
//! turn's prompt (the retry asks Claude to continue instead of repeating it).

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one change at a time.
        for column in [big_integer_null("not_before").to_owned(), boolean("continue_turn").default(false).to_owned()] {
            manager.alter_table(Table::alter().table("tasks").add_column(column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["continue_turn", "not_before"] {
            manager.alter_table(Table::alter().table("tasks").drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
