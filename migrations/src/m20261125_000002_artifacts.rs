//! Artifacts: the glob patterns a task collects, the collected files, and when a
//! task's workspace and artifacts expired under the retention policy.

use sea_orm_migration::{prelude::*, schema::*};

#[derive(DeriveMigrationName)]
pub struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // One column per statement: SQLite alters a table one change at a time.
        for column in [
            text("artifact_patterns").default("[]").to_owned(),
            big_integer_null("workspace_expired_at").to_owned(),
            big_integer_null("artifacts_expired_at").to_owned(),
        ] {
            manager.alter_table(Table::alter().table("tasks").add_column(column).to_owned()).await?;
        }
        // The retention sweeper looks for finished tasks by age.
        manager
            .create_index(Index::create().name("tasks_finished").table("tasks").col("finished_at").to_owned())
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("task_artifacts")
                    .col(string("task_id"))
                    .col(string("name"))
                    .col(text("path"))
                    .col(big_integer("size"))
                    .col(string("sha256"))
                    .col(string("content_type"))
                    .col(big_integer("created_at"))
                    .primary_key(Index::create().col("task_id").col("name"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager.drop_table(Table::drop().table("task_artifacts").to_owned()).await?;
        manager.drop_index(Index::drop().name("tasks_finished").table("tasks").to_owned()).await?;
        for column in ["artifacts_expired_at", "workspace_expired_at", "artifact_patterns"] {
            manager.alter_table(Table::alter().table("tasks").drop_column(column).to_owned()).await?;
        }
        Ok(())
    }
}
