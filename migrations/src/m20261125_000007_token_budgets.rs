//! Token budgets per key: daily and monthly caps on the tokens its runs use,
//! enforced when tasks are submitted and, live, by the model proxy.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one change at a time.
        for column in
            [big_integer_null("token_budget_per_day").to_owned(), big_integer_null("token_budget_per_month").to_owned()]
        {
            manager.alter_table(Table::alter().table("api_keys").add_column(column).to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        for column in ["token_budget_per_month", "token_budget_per_day"] {
            manager.alter_table(Table::alter().table("api_keys").drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
