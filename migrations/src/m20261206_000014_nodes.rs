//! The gateway nodes sharing the database: each registers at start, heartbeats
//! while it runs, and says when it is asked to drain and when it has drained or
//! stopped. Rows of nodes unseen for a day are deleted by the nodes themselves.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("nodes")
                    .col(string("id").primary_key())
                    .col(string("name"))
                    .col(string("version"))
                    .col(string_null("advertise_url"))
                    .col(integer("workers"))
                    .col(integer("running"))
                    .col(big_integer("pid"))
                    .col(string("state"))
                    .col(big_integer("started_at"))
                    .col(big_integer("last_seen_at"))
                    .col(big_integer_null("drain_requested_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(Index::create().name("idx_nodes_last_seen_at").table("nodes").col("last_seen_at").to_owned())
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("nodes").to_owned()).await
    }
}
