//! The runs that finished in one five-minute bucket, for the dashboard's rollup.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_buckets")]
pub struct Model {
    /// The bucket's first millisecond (a multiple of five minutes).
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket_start: i64,
    pub runs: i64,
    pub completed: i64,
    pub failed: i64,
    pub cancelled: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    /// Millionths of a US dollar.
    pub cost_micros: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
