//! What a running task's run has used so far, written with each lease renewal, so
//! that a gateway that dies mid-run does not lose it: the node that recovers the
//! task charges it to the key.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

const COLUMNS: [&str; 3] = ["live_cost_micros", "live_input_tokens", "live_output_tokens"];

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters one column at a time.
        for column in COLUMNS {
            manager
                .alter_table(Table::alter().table("tasks").add_column(big_integer(column).default(0)).to_owned())
                .await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in COLUMNS {
            manager.alter_table(Table::alter().table("tasks").drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
