//! What a key's runs cost on one UTC day.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "key_spend")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub key_id: String,
    /// `YYYY-MM-DD`, UTC.
    #[sea_orm(primary_key, auto_increment = false)]
    pub day: String,
    /// Millionths of a US dollar: the metered tokens at the gateway's `[pricing]`.
    pub cost_micros: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub runs: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
