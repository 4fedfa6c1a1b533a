//! The audit log under attack: the id a client sent with a request is kept apart
//! from the gateway's own (a client chooses its id; the gateway's is unique), and
//! entries are indexed by time so the retention sweep deletes old ones cheaply.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .alter_table(Table::alter().table("audit_events").add_column(string_null("client_request_id")).to_owned())
            .await?;
        manager.create_index(Index::create().name("audit_events_at").table("audit_events").col("at").to_owned()).await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_index(Index::drop().name("audit_events_at").table("audit_events").to_owned()).await?;
        manager.alter_table(Table::alter().table("audit_events").drop_column("client_request_id").to_owned()).await
    }
}
