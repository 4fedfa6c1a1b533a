//! What each key's runs cost, per UTC day, written with the run's outcome; the
//! totals for today and this month decide whether a key may submit more.

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set};

use super::entities::key_spend;
use super::{Context, Result, Store};

/// What one run cost.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RunCost {
    pub key_id: String,
    pub cost_micros: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
}

impl RunCost {
    /// What a run reported: its `total_cost_usd` and token usage.
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

/// Millionths of a US dollar, as spend and budgets are kept.
pub fn usd_to_micros(usd: f64) -> i64 {
    (usd * 1e6).round() as i64
}

/// A budget as given by people: a positive number of US dollars, up to a billion.
pub fn budget_micros(usd: f64) -> Option<i64> {
    (usd > 0.0 && usd <= 1e9).then(|| usd_to_micros(usd))
}

/// Spending over a period.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct SpendTotals {
    pub cost_micros: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub runs: i64,
}

/// A key's spending today and this month (UTC).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Spend {
    pub today: SpendTotals,
    pub this_month: SpendTotals,
}

/// A budget that spending has reached, in millionths of a US dollar.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reached {
    pub spent: i64,
    pub budget: i64,
}

impl Spend {
    /// Today's budget and this month's, each if this spending has reached it.
    pub fn over(&self, per_day: Option<i64>, per_month: Option<i64>) -> (Option<Reached>, Option<Reached>) {
        let reached =
            |spent: i64, budget: Option<i64>| budget.filter(|b| spent >= *b).map(|budget| Reached { spent, budget });
        (reached(self.today.cost_micros, per_day), reached(self.this_month.cost_micros, per_month))
    }
}

/// `YYYY-MM-DD` (UTC) of a millisecond timestamp.
pub fn day_of(ms: i64) -> String {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let date = at.date();
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// The next UTC midnight after `ms`, and the first instant of the next UTC month.
pub fn next_day_and_month(ms: i64) -> (i64, i64) {
    let at = time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let midnight = |date: time::Date| date.midnight().assume_utc().unix_timestamp() * 1000;
    let date = at.date();
    let tomorrow = date.next_day().map_or(ms + 86_400_000, midnight);
    let (year, month) = if date.month() == time::Month::December {
        (date.year() + 1, time::Month::January)
    } else {
        (date.year(), date.month().next())
    };
    let next_month = time::Date::from_calendar_date(year, month, 1).map_or(tomorrow, midnight);
    (tomorrow, next_month)
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
            add(&mut spend.this_month, totals);
            if row.day == today {
                add(&mut spend.today, totals);
            }
        }
        Ok(spend)
    }
}

fn add(into: &mut SpendTotals, more: SpendTotals) {
    into.cost_micros += more.cost_micros;
    into.input_tokens += more.input_tokens;
    into.output_tokens += more.output_tokens;
    into.runs += more.runs;
}

#[cfg(test)]
mod tests {
    #[test]
    fn budgets_reset_at_utc_midnight_and_month_start() {
        // 2026-12-31T23:00:00Z
        let (tomorrow, next_month) = super::next_day_and_month(1_798_758_000_000);
        assert_eq!(super::day_of(tomorrow), "2027-01-01");
        assert_eq!(tomorrow, 1_798_761_600_000);
        assert_eq!(next_month, tomorrow);
    }

    #[test]
    fn days_are_utc_dates() {
        assert_eq!(super::day_of(0), "1970-01-01");
        assert_eq!(super::day_of(1_795_000_000_000), "2026-11-18");
    }
}
