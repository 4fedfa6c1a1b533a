//! What each key's runs cost, per UTC day, written with the run's outcome, and
//! summed for today and this month (what `budget` judges).

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::entities::key_spend;
use super::{Context, Result, Store};
use crate::budget::{Spend, SpendTotals, day_of, usd_to_micros};

/// What one run cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunCost {
    pub key_id: String,
    pub cost_micros: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

impl RunCost {
    /// What a run is charged: its cost and token usage (see `runner::charge`).
    pub fn of(key_id: &str, cost_usd: f64, usage: &crate::task::Usage) -> Self {
        Self {
            key_id: key_id.to_string(),
            cost_micros: usd_to_micros(cost_usd),
            input_tokens: (usage.input_tokens + usage.cache_creation_input_tokens + usage.cache_read_input_tokens)
                as i64,
            output_tokens: usage.output_tokens as i64,
        }
    }
}

/// Adds a run's cost to its key's day.
pub(super) async fn record(conn: &impl ConnectionTrait, cost: &RunCost, now: i64) -> Result<()> {
    let row = key_spend::ActiveModel {
        key_id: Set(cost.key_id.clone()),
        day: Set(day_of(now)),
        cost_micros: Set(cost.cost_micros),
        input_tokens: Set(cost.input_tokens),
        output_tokens: Set(cost.output_tokens),
        runs: Set(1),
    };
    let add = |column: key_spend::Column, amount: i64| (column, Expr::col((key_spend::Entity, column)).add(amount));
    let mut on_conflict = OnConflict::columns([key_spend::Column::KeyId, key_spend::Column::Day]);
    for (column, sum) in [
        add(key_spend::Column::CostMicros, cost.cost_micros),
        add(key_spend::Column::InputTokens, cost.input_tokens),
        add(key_spend::Column::OutputTokens, cost.output_tokens),
        add(key_spend::Column::Runs, 1),
    ] {
        on_conflict.value(column, sum);
    }
    key_spend::Entity::insert(row)
        .on_conflict(on_conflict.to_owned())
        .exec_without_returning(conn)
        .await
        .during("recording spend")?;
    Ok(())
}

impl Store {
    /// The key's spending today and this month, as of `now`.
    pub async fn spend(&self, key_id: &str, now: i64) -> Result<Spend> {
        let today = day_of(now);
        let month = &today[..8]; // `YYYY-MM-`
        let rows = key_spend::Entity::find()
            .filter(key_spend::Column::KeyId.eq(key_id))
            .filter(key_spend::Column::Day.starts_with(month))
            .all(&self.reader)
            .await
            .during("reading spend")?;
        let mut spend = Spend::default();
        for row in rows {
            let totals = SpendTotals {
                cost_micros: row.cost_micros,
                input_tokens: row.input_tokens,
                output_tokens: row.output_tokens,
                runs: row.runs,
            };
            spend.this_month.add(totals);
            if row.day == today {
                spend.today.add(totals);
            }
        }
        Ok(spend)
    }
}
