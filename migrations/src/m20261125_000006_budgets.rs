//! Spending per key: optional daily and monthly budgets on the key, and what its
//! runs cost, per UTC day.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one change at a time.
        for column in [
            big_integer_null("budget_micros_per_day").to_owned(),
            big_integer_null("budget_micros_per_month").to_owned(),
        ] {
            manager.alter_table(Table::alter().table("api_keys").add_column(column).to_owned()).await?;
        }
        manager
            .create_table(
                Table::create()
                    .table("key_spend")
                    .col(string("key_id"))
                    // `YYYY-MM-DD`, UTC.
                    .col(string("day"))
                    .col(big_integer("cost_micros"))
                    .col(big_integer("input_tokens"))
                    .col(big_integer("output_tokens"))
                    .col(big_integer("runs"))
                    .primary_key(Index::create().col("key_id").col("day"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("key_spend").to_owned()).await?;
        for column in ["budget_micros_per_month", "budget_micros_per_day"] {
            manager.alter_table(Table::alter().table("api_keys").drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
