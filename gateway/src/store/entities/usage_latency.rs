//! One bin of a time histogram (run or queue wait) in one five-minute bucket.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "usage_latency")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub bucket_start: i64,
    /// `run` or `queue_wait`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub measure: String,
    /// See `store::rollup::bin_of`.
    #[sea_orm(primary_key, auto_increment = false)]
    pub bin: i32,
    pub count: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
