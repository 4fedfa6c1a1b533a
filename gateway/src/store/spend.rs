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

/// Millionths of a US dollar, as spend and budgets are kept; nothing for a
/// negative or non-finite figure (spending never gives money back).
pub fn usd_to_micros(usd: f64) -> i64 {
    if usd.is_finite() && usd > 0.0 { (usd * 1e6).round() as i64 } else { 0 }
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

/// A key's caps: cost in millionths of a US dollar and tokens (input, cache and
/// output together), per UTC day and month; `None`: no cap.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Budgets {
    pub micros_per_day: Option<i64>,
    pub micros_per_month: Option<i64>,
    pub tokens_per_day: Option<i64>,
    pub tokens_per_month: Option<i64>,
}

impl Budgets {
    pub fn of_key(key: &super::entities::api_key::Model) -> Self {
        Self {
            micros_per_day: key.budget_micros_per_day,
            micros_per_month: key.budget_micros_per_month,
            tokens_per_day: key.token_budget_per_day,
            tokens_per_month: key.token_budget_per_month,
        }
    }

    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    pub fn has_tokens(&self) -> bool {
        self.tokens_per_day.is_some() || self.tokens_per_month.is_some()
    }
}

/// A budget that spending has reached.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reached {
    /// `today` or `this month`.
    pub period: &'static str,
    /// True for the monthly budget (it resets later).
    pub monthly: bool,
    pub tokens: bool,
    pub spent: i64,
    pub budget: i64,
}

impl std::fmt::Display for Reached {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let period = self.period;
        if self.tokens {
            write!(f, "the key has used {} tokens {period}; its budget is {} tokens", self.spent, self.budget)
        } else {
            let (spent, budget) = (self.spent as f64 / 1e6, self.budget as f64 / 1e6);
            write!(f, "the key has spent {spent:.4} USD {period}; its budget is {budget:.4} USD")
        }
    }
}

impl SpendTotals {
    pub fn tokens(&self) -> i64 {
        self.input_tokens + self.output_tokens
    }
}

impl Spend {
    /// The budget this spending has reached, if any: a monthly one first (it
    /// lasts longer), cost before tokens.
    pub fn reached(&self, budgets: &Budgets) -> Option<Reached> {
        let (today, month) = (&self.today, &self.this_month);
        [
            ("this month", true, false, month.cost_micros, budgets.micros_per_month),
            ("this month", true, true, month.tokens(), budgets.tokens_per_month),
            ("today", false, false, today.cost_micros, budgets.micros_per_day),
            ("today", false, true, today.tokens(), budgets.tokens_per_day),
        ]
        .into_iter()
        .find_map(|(period, monthly, tokens, spent, budget)| {
            budget.filter(|b| spent >= *b).map(|budget| Reached { period, monthly, tokens, spent, budget })
        })
    }

    /// Tokens left before a token budget is reached (`None`: no token budget).
    pub fn tokens_left(&self, budgets: &Budgets) -> Option<i64> {
        let day = budgets.tokens_per_day.map(|b| b - self.today.tokens());
        let month = budgets.tokens_per_month.map(|b| b - self.this_month.tokens());
        match (day, month) {
            (Some(d), Some(m)) => Some(Ord::min(d, m)),
            (d, m) => d.or(m),
        }
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
    use super::{Budgets, Spend, SpendTotals};

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

    #[test]
    fn budgets_reached_name_the_cap_and_tokens_left_take_the_tighter_one() {
        let totals = |cost_micros, input_tokens, output_tokens| SpendTotals {
            cost_micros,
            input_tokens,
            output_tokens,
            runs: 1,
        };
        let spend = Spend { today: totals(500, 300, 100), this_month: totals(9_000, 3_000, 1_000) };
        let none = Budgets::default();
        assert_eq!(spend.reached(&none), None);
        assert_eq!(spend.tokens_left(&none), None);
        let tokens = Budgets { tokens_per_day: Some(1_000), tokens_per_month: Some(4_500), ..none };
        assert_eq!(spend.reached(&tokens), None);
        assert_eq!(spend.tokens_left(&tokens), Some(500), "the month has 500 left, the day 600");
        let over = Budgets { tokens_per_day: Some(400), ..none };
        let reached = spend.reached(&over).unwrap();
        assert_eq!(reached.to_string(), "the key has used 400 tokens today; its budget is 400 tokens");
        assert!(!reached.monthly);
        let money = Budgets { micros_per_month: Some(9_000), tokens_per_day: Some(400), ..none };
        let reached = spend.reached(&money).unwrap();
        assert!(reached.monthly && !reached.tokens, "the monthly budget first: {reached:?}");
        assert_eq!(reached.to_string(), "the key has spent 0.0090 USD this month; its budget is 0.0090 USD");
    }
}
