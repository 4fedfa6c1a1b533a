//! The usage rollup the dashboard's overview reads: per five-minute bucket, the
//! runs that finished (by outcome), their tokens and cost, and histograms of run
//! and queue-wait times. Each run's outcome adds to its bucket in the same
//! transaction that records it, so the figures need no scan of tasks: a window of
//! 7 days reads at most 2016 bucket rows however many tasks there were.
//!
//! Times are binned four bins per doubling (each bin about 19 % wide), so a
//! percentile is the upper edge of the bin it falls in: never under the truth,
//! at most a bin over.

use std::collections::BTreeMap;

use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, QuerySelect, Set};

use super::entities::{TaskStatus, usage_bucket, usage_latency};
use super::{Context, Result, Store};

/// The width of a bucket.
pub const BUCKET_MS: i64 = 5 * 60 * 1000;
/// The highest bin: 2^(200/4) ms is far past any run.
const MAX_BIN: i32 = 200;

/// What a time histogram measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Measure {
    /// From a run's start to its outcome.
    Run,
    /// From a turn's submission to the start of the run that finished it.
    QueueWait,
}

impl Measure {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Run => "run",
            Self::QueueWait => "queue_wait",
        }
    }

    fn parse(text: &str) -> Option<Self> {
        match text {
            "run" => Some(Self::Run),
            "queue_wait" => Some(Self::QueueWait),
            _ => None,
        }
    }
}

/// One finished run, as the rollup counts it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RunSample {
    /// How it ended: `completed`, `failed` or `cancelled`.
    pub status: TaskStatus,
    pub run_ms: Option<i64>,
    pub queue_wait_ms: Option<i64>,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_micros: i64,
}

/// The bin of a time in milliseconds: `floor(4 · log2(ms))`, 0 for a millisecond or less.
pub fn bin_of(ms: i64) -> i32 {
    if ms <= 1 { 0 } else { ((4.0 * (ms as f64).log2()).floor() as i32).clamp(0, MAX_BIN) }
}

/// The upper edge of a bin, in milliseconds.
pub fn bin_upper_ms(bin: i32) -> i64 {
    2f64.powf(f64::from(bin.clamp(0, MAX_BIN) + 1) / 4.0).ceil() as i64
}

/// Counts per bin.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Histogram(BTreeMap<i32, i64>);

impl Histogram {
    pub fn add(&mut self, bin: i32, count: i64) {
        *self.0.entry(bin).or_default() += Ord::max(count, 0);
    }

    pub fn total(&self) -> i64 {
        self.0.values().sum()
    }

    /// The time under which a share `q` (0–1) of the samples fall, in milliseconds.
    pub fn quantile(&self, q: f64) -> Option<i64> {
        let total = self.total();
        if total == 0 {
            return None;
        }
        let rank = Ord::max((q.clamp(0.0, 1.0) * total as f64).ceil() as i64, 1);
        let mut seen = 0;
        self.0.iter().find_map(|(bin, count)| {
            seen += count;
            (seen >= rank).then(|| bin_upper_ms(*bin))
        })
    }
}

/// What finished in a window of time.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageWindow {
    pub runs: i64,
    pub completed: i64,
    pub failed: i64,
    pub cancelled: i64,
    pub input_tokens: i64,
    pub output_tokens: i64,
    pub cost_micros: i64,
    pub run: Histogram,
    pub queue_wait: Histogram,
}

impl UsageWindow {
    /// Completed runs as a share of those that finished.
    pub fn success_rate(&self) -> Option<f64> {
        (self.runs > 0).then(|| self.completed as f64 / self.runs as f64)
    }

    fn add_bucket(&mut self, row: &usage_bucket::Model) {
        self.runs += row.runs;
        self.completed += row.completed;
        self.failed += row.failed;
        self.cancelled += row.cancelled;
        self.input_tokens += row.input_tokens;
        self.output_tokens += row.output_tokens;
        self.cost_micros += row.cost_micros;
    }
}

/// The first millisecond of the bucket `ms` falls in.
pub fn bucket_of(ms: i64) -> i64 {
    ms - ms.rem_euclid(BUCKET_MS)
}

/// Adds a finished run to its bucket.
pub(super) async fn record(conn: &impl ConnectionTrait, sample: &RunSample, now: i64) -> Result<()> {
    let bucket_start = bucket_of(now);
    let outcome = |status: TaskStatus| i64::from(sample.status == status);
    let row = usage_bucket::ActiveModel {
        bucket_start: Set(bucket_start),
        runs: Set(1),
        completed: Set(outcome(TaskStatus::Completed)),
        failed: Set(outcome(TaskStatus::Failed)),
        cancelled: Set(outcome(TaskStatus::Cancelled)),
        input_tokens: Set(sample.input_tokens),
        output_tokens: Set(sample.output_tokens),
        cost_micros: Set(sample.cost_micros),
    };
    let mut on_conflict = OnConflict::column(usage_bucket::Column::BucketStart);
    for (column, amount) in [
        (usage_bucket::Column::Runs, 1),
        (usage_bucket::Column::Completed, outcome(TaskStatus::Completed)),
        (usage_bucket::Column::Failed, outcome(TaskStatus::Failed)),
        (usage_bucket::Column::Cancelled, outcome(TaskStatus::Cancelled)),
        (usage_bucket::Column::InputTokens, sample.input_tokens),
        (usage_bucket::Column::OutputTokens, sample.output_tokens),
        (usage_bucket::Column::CostMicros, sample.cost_micros),
    ] {
        on_conflict.value(column, Expr::col((usage_bucket::Entity, column)).add(amount));
    }
    usage_bucket::Entity::insert(row)
        .on_conflict(on_conflict.to_owned())
        .exec_without_returning(conn)
        .await
        .during("recording usage")?;
    for (measure, ms) in [(Measure::Run, sample.run_ms), (Measure::QueueWait, sample.queue_wait_ms)] {
        let Some(ms) = ms else { continue };
        let row = usage_latency::ActiveModel {
            bucket_start: Set(bucket_start),
            measure: Set(measure.as_str().to_string()),
            bin: Set(bin_of(ms)),
            count: Set(1),
        };
        let on_conflict = OnConflict::columns([
            usage_latency::Column::BucketStart,
            usage_latency::Column::Measure,
            usage_latency::Column::Bin,
        ])
        .value(usage_latency::Column::Count, Expr::col((usage_latency::Entity, usage_latency::Column::Count)).add(1))
        .to_owned();
        usage_latency::Entity::insert(row)
            .on_conflict(on_conflict)
            .exec_without_returning(conn)
            .await
            .during("recording usage")?;
    }
    Ok(())
}

impl Store {
    /// What finished from `from` (milliseconds) on, bucket by bucket, oldest first.
    pub async fn usage_buckets(&self, from: i64) -> Result<Vec<usage_bucket::Model>> {
        use sea_orm::QueryOrder;
        usage_bucket::Entity::find()
            .filter(usage_bucket::Column::BucketStart.gte(bucket_of(from)))
            .order_by_asc(usage_bucket::Column::BucketStart)
            .all(&self.reader)
            .await
            .during("reading usage")
    }

    /// What finished from `from` (milliseconds) on, added up.
    pub async fn usage_since(&self, from: i64) -> Result<UsageWindow> {
        let mut window = UsageWindow::default();
        for row in self.usage_buckets(from).await? {
            window.add_bucket(&row);
        }
        let bins: Vec<(String, i32, i64)> = usage_latency::Entity::find()
            .select_only()
            .column(usage_latency::Column::Measure)
            .column(usage_latency::Column::Bin)
            .column(usage_latency::Column::Count)
            .filter(usage_latency::Column::BucketStart.gte(bucket_of(from)))
            .into_tuple()
            .all(&self.reader)
            .await
            .during("reading usage")?;
        for (measure, bin, count) in bins {
            match Measure::parse(&measure) {
                Some(Measure::Run) => window.run.add(bin, count),
                Some(Measure::QueueWait) => window.queue_wait.add(bin, count),
                None => {}
            }
        }
        Ok(window)
    }

    /// Deletes the rollup's buckets that ended before `cutoff`; returns how many.
    pub async fn delete_usage_before(&self, cutoff: i64) -> Result<u64> {
        let before = bucket_of(cutoff);
        let latency = usage_latency::Entity::delete_many()
            .filter(usage_latency::Column::BucketStart.lt(before))
            .exec(&self.writer)
            .await
            .during("deleting old usage")?;
        let buckets = usage_bucket::Entity::delete_many()
            .filter(usage_bucket::Column::BucketStart.lt(before))
            .exec(&self.writer)
            .await
            .during("deleting old usage")?;
        Ok(latency.rows_affected + buckets.rows_affected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bins_grow_four_per_doubling_and_their_edges_bound_the_time() {
        assert_eq!(bin_of(0), 0);
        assert_eq!(bin_of(1), 0);
        assert_eq!(bin_of(1024), 40);
        assert_eq!(bin_of(2048), 44);
        for ms in [2, 3, 17, 999, 1000, 1001, 60_000, 3_600_000] {
            let upper = bin_upper_ms(bin_of(ms));
            assert!(upper >= ms, "{ms} ms is under its bin's edge {upper}");
            assert!((upper as f64) <= (ms as f64) * 1.2 + 1.0, "{ms} ms: edge {upper} is more than a bin over");
        }
        assert_eq!(bin_of(i64::MAX), MAX_BIN);
    }

    #[test]
    fn quantiles_walk_the_bins_in_order() {
        let mut histogram = Histogram::default();
        assert_eq!(histogram.quantile(0.5), None);
        for ms in [100, 100, 100, 100, 100, 100, 100, 100, 100, 10_000] {
            histogram.add(bin_of(ms), 1);
        }
        assert_eq!(histogram.quantile(0.5), Some(bin_upper_ms(bin_of(100))));
        assert_eq!(histogram.quantile(0.9), Some(bin_upper_ms(bin_of(100))));
        assert_eq!(histogram.quantile(0.95), Some(bin_upper_ms(bin_of(10_000))));
        assert_eq!(histogram.total(), 10);
    }

    #[test]
    fn buckets_start_on_five_minute_boundaries() {
        assert_eq!(bucket_of(BUCKET_MS * 7 + 1234), BUCKET_MS * 7);
        assert_eq!(bucket_of(BUCKET_MS * 7), BUCKET_MS * 7);
    }
}
