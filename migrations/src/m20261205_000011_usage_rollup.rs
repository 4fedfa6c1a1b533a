//! The usage rollup the dashboard reads: per five-minute bucket, the runs that
//! finished, their outcomes, tokens and cost, and histograms of run and queue-wait
//! times. Written with each run's outcome; old buckets are deleted by retention.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("usage_buckets")
                    .col(big_integer("bucket_start").primary_key())
                    .col(big_integer("runs"))
                    .col(big_integer("completed"))
                    .col(big_integer("failed"))
                    .col(big_integer("cancelled"))
                    .col(big_integer("input_tokens"))
                    .col(big_integer("output_tokens"))
                    .col(big_integer("cost_micros"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("usage_latency")
                    .col(big_integer("bucket_start"))
                    .col(string("measure"))
                    .col(integer("bin"))
                    .col(big_integer("count"))
                    .primary_key(Index::create().col("bucket_start").col("measure").col("bin"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("usage_latency").to_owned()).await?;
        manager.drop_table(Table::drop().table("usage_buckets").to_owned()).await
    }
}
