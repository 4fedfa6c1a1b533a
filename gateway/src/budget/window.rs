//! Budget windows: the UTC day and the UTC month, and when each resets.

use super::{Budgets, Spend};

/// `YYYY-MM-DD` (UTC) of a millisecond timestamp.
pub fn day_of(ms: i64) -> String {
    let date = utc(ms).date();
    format!("{:04}-{:02}-{:02}", date.year(), u8::from(date.month()), date.day())
}

/// The next UTC midnight after `ms`, and the first instant of the next UTC month:
/// when the daily and the monthly budgets reset.
pub fn next_day_and_month(ms: i64) -> (i64, i64) {
    let midnight = |date: time::Date| date.midnight().assume_utc().unix_timestamp() * 1000;
    let date = utc(ms).date();
    let tomorrow = date.next_day().map_or(ms + 86_400_000, midnight);
    let (year, month) = if date.month() == time::Month::December {
        (date.year() + 1, time::Month::January)
    } else {
        (date.year(), date.month().next())
    };
    let next_month = time::Date::from_calendar_date(year, month, 1).map_or(tomorrow, midnight);
    (tomorrow, next_month)
}

/// Until when a task of a key waits in the queue, if its budget is spent: the
/// reset of the budget `spend` reached (the monthly one if both), or, when the
/// database has not recorded it yet but what the key's live runs hold spends its
/// token budget (`live_spent`), the reset of its tightest token budget.
pub fn deferred_until(spend: &Spend, budgets: &Budgets, live_spent: bool, now: i64) -> Option<i64> {
    let (tomorrow, next_month) = next_day_and_month(now);
    let live_spent = live_spent && budgets.has_tokens();
    match spend.reached(budgets) {
        Some(reached) if reached.monthly => Some(next_month),
        Some(_) => Some(tomorrow),
        None if live_spent && budgets.tokens_per_day.is_some() => Some(tomorrow),
        None if live_spent => Some(next_month),
        None => None,
    }
}

fn utc(ms: i64) -> time::OffsetDateTime {
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000)
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH)
}

#[cfg(test)]
mod tests {
    use super::{day_of, deferred_until, next_day_and_month};
    use crate::budget::{Budgets, Spend, SpendTotals};

    /// Milliseconds of a UTC date and time.
    fn at(year: i32, month: u8, day: u8, h: u8, m: u8, s: u8) -> i64 {
        let month = time::Month::try_from(month).unwrap();
        let date = time::Date::from_calendar_date(year, month, day).unwrap();
        date.with_hms(h, m, s).unwrap().assume_utc().unix_timestamp() * 1000
    }

    #[test]
    fn the_day_turns_at_utc_midnight() {
        let last_second = at(2026, 12, 5, 23, 59, 59);
        assert_eq!(day_of(last_second), "2026-12-05");
        assert_eq!(day_of(last_second + 999), "2026-12-05", "the last millisecond is still today");
        assert_eq!(day_of(last_second + 1000), "2026-12-06");
        assert_eq!(next_day_and_month(last_second).0, at(2026, 12, 6, 0, 0, 0));
        assert_eq!(next_day_and_month(at(2026, 12, 6, 0, 0, 0)).0, at(2026, 12, 7, 0, 0, 0), "midnight is the new day");
        assert_eq!(day_of(0), "1970-01-01");
    }

    #[test]
    fn months_reset_on_their_first_whatever_their_length() {
        let cases = [
            (at(2026, 1, 31, 23, 59, 59), at(2026, 2, 1, 0, 0, 0)),
            (at(2026, 2, 28, 23, 59, 59), at(2026, 3, 1, 0, 0, 0)),
            (at(2028, 2, 28, 23, 59, 59), at(2028, 3, 1, 0, 0, 0)),
            (at(2028, 2, 29, 12, 0, 0), at(2028, 3, 1, 0, 0, 0)),
            (at(2026, 4, 30, 23, 59, 59), at(2026, 5, 1, 0, 0, 0)),
            (at(2026, 12, 31, 23, 59, 59), at(2027, 1, 1, 0, 0, 0)),
            (at(2027, 1, 1, 0, 0, 0), at(2027, 2, 1, 0, 0, 0)),
        ];
        for (now, reset) in cases {
            assert_eq!(next_day_and_month(now).1, reset, "month of {}", day_of(now));
        }
        // 2028 is a leap year (the 29th is a day of February), 2100 is not.
        assert_eq!(next_day_and_month(at(2028, 2, 28, 23, 59, 59)).0, at(2028, 2, 29, 0, 0, 0));
        assert_eq!(next_day_and_month(at(2100, 2, 28, 23, 59, 59)).0, at(2100, 3, 1, 0, 0, 0));
        // On the last day of a month, both budgets reset at the same midnight.
        let (tomorrow, next_month) = next_day_and_month(at(2026, 12, 31, 23, 0, 0));
        assert_eq!((day_of(tomorrow), next_month), ("2027-01-01".to_string(), tomorrow));
    }

    #[test]
    fn a_spent_key_waits_for_the_reset_of_the_budget_it_reached() {
        let now = at(2026, 12, 5, 12, 0, 0);
        let (tomorrow, next_month) = (at(2026, 12, 6, 0, 0, 0), at(2027, 1, 1, 0, 0, 0));
        let spent = |tokens| Spend {
            today: SpendTotals { input_tokens: tokens, ..Default::default() },
            this_month: SpendTotals { input_tokens: tokens, ..Default::default() },
        };
        let daily = Budgets { tokens_per_day: Some(100), ..Default::default() };
        let monthly = Budgets { tokens_per_month: Some(100), ..Default::default() };
        let both = Budgets { tokens_per_day: Some(100), tokens_per_month: Some(100), ..Default::default() };
        let rows = [
            (spent(50), daily, false, None),
            (spent(100), daily, false, Some(tomorrow)),
            (spent(100), monthly, false, Some(next_month)),
            (spent(100), both, false, Some(next_month)),
            (spent(50), daily, true, Some(tomorrow)),
            (spent(50), monthly, true, Some(next_month)),
            (spent(50), Budgets { micros_per_day: Some(1), ..Default::default() }, true, None),
        ];
        for (spend, budgets, live_spent, until) in rows {
            assert_eq!(deferred_until(&spend, &budgets, live_spent, now), until, "{budgets:?} live {live_spent}");
        }
    }
}
