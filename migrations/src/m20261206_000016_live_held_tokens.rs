//! The tokens a running task's run holds against its key's token budget: what its
//! model requests in flight reserved plus what its answered requests used, kept by
//! every request as it goes. Summed over a key's running tasks, it is what the
//! key's live runs on every node hold, so that one budget holds across nodes.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(
                Table::alter().table("tasks").add_column(big_integer("live_held_tokens").default(0)).to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.alter_table(Table::alter().table("tasks").drop_column("live_held_tokens").to_owned()).await
    }
}
