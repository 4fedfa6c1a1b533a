//! The overview: readiness of each check, this node's workers, the nodes running
//! tasks, the queue, and
//! what finished over the last hour, day and week, from the usage rollup.

use axum::extract::State;
use axum::response::Html;
use minijinja::context;
use serde::Serialize;
use serde_json::Value;

use super::page::{Frame, dollars, duration, render};
use super::viewer::Viewer;
use crate::api::{ApiError, AppState};
use crate::store::rollup::UsageWindow;
use crate::task::TaskStatus;

const HOUR_MS: i64 = 3_600_000;
const WINDOWS: [(&str, i64); 3] =
    [("Last hour", HOUR_MS), ("Last 24 h", 24 * HOUR_MS), ("Last 7 days", 7 * 24 * HOUR_MS)];

/// `GET /dashboard`.
pub async fn page(State(state): State<AppState>, viewer: Viewer) -> Result<Html<String>, ApiError> {
    let (_, report) = crate::api::readiness_report(&state).await;
    let stats = &state.stats;
    let now_ms = crate::timestamp::now_ms();
    let mut windows = Vec::new();
    for (label, span) in WINDOWS {
        windows.push(WindowView::of(label, span, &stats.usage_since(now_ms - span).await?));
    }
    let chart = chart::hourly(&stats.usage_buckets(now_ms - 24 * HOUR_MS).await?, now_ms);
    let nodes: Vec<_> = stats
        .running_by_node()
        .await?
        .into_iter()
        .map(|(node, running)| context! { this => node == state.queue.node_id(), node, running })
        .collect();
    let now = context! {
        node => state.queue.node_id(),
        nodes,
        workers => state.config.queue.workers,
        running_here => state.queue.running_count(),
        queued => stats.count_by_status(TaskStatus::Queued).await?,
        running => stats.count_by_status(TaskStatus::Running).await?,
    };
    render(
        "overview.html",
        context! {
            frame => Frame::of(&viewer, "overview"),
            readiness => readiness(&report),
            now,
            windows,
            chart,
        },
    )
}

/// `/readyz`'s report as rows: each check, whether it passes, and what it said.
fn readiness(report: &Value) -> Value {
    let checks: Vec<Value> = report["checks"]
        .as_object()
        .into_iter()
        .flatten()
        .map(|(name, check)| {
            let detail = check
                .as_object()
                .into_iter()
                .flatten()
                .filter(|(field, value)| *field != "ok" && !value.is_null())
                .map(|(field, value)| match value {
                    Value::String(text) => format!("{field}: {text}"),
                    other => format!("{field}: {other}"),
                })
                .collect::<Vec<_>>()
                .join(", ");
            serde_json::json!({"name": name, "ok": check["ok"] == true, "detail": detail})
        })
        .collect();
    serde_json::json!({"status": report["status"], "checks": checks})
}

/// One column of the usage table, formatted.
#[derive(Debug, Serialize, PartialEq)]
struct WindowView {
    label: &'static str,
    runs: i64,
    throughput: String,
    success_rate: String,
    failed: i64,
    cancelled: i64,
    run_p50: String,
    run_p95: String,
    wait_p50: String,
    wait_p95: String,
    input_tokens: i64,
    output_tokens: i64,
    cost: String,
}

impl WindowView {
    fn of(label: &'static str, span_ms: i64, window: &UsageWindow) -> Self {
        let time = |ms: Option<i64>| ms.map_or_else(|| "—".to_string(), duration);
        let hours = span_ms as f64 / HOUR_MS as f64;
        Self {
            label,
            runs: window.runs,
            throughput: format!("{:.1} runs/h", window.runs as f64 / hours),
            success_rate: window.success_rate().map_or_else(|| "—".to_string(), |r| format!("{:.1} %", r * 100.0)),
            failed: window.failed,
            cancelled: window.cancelled,
            run_p50: time(window.run.quantile(0.5)),
            run_p95: time(window.run.quantile(0.95)),
            wait_p50: time(window.queue_wait.quantile(0.5)),
            wait_p95: time(window.queue_wait.quantile(0.95)),
            input_tokens: window.input_tokens,
            output_tokens: window.output_tokens,
            cost: dollars(window.cost_micros),
        }
    }
}

mod chart {
    //! Runs per hour as stacked SVG bars, laid out here so the page needs no script.

    use serde::Serialize;

    use super::HOUR_MS;
    use crate::store::entities::usage_bucket;

    const HOURS: usize = 24;
    const WIDTH: i64 = 720;
    const HEIGHT: i64 = 160;
    const TOP: i64 = 16;
    const GAP: i64 = 4;

    #[derive(Debug, Serialize)]
    pub struct Chart {
        width: i64,
        height: i64,
        base: i64,
        bar_width: i64,
        max: i64,
        bars: Vec<Bar>,
    }

    #[derive(Debug, Serialize)]
    pub struct Bar {
        label: String,
        x: i64,
        completed: i64,
        other: i64,
        completed_y: i64,
        completed_height: i64,
        other_y: i64,
        other_height: i64,
    }

    /// The last 24 hours up to `now`, an hour a bar, oldest on the left.
    pub fn hourly(buckets: &[usage_bucket::Model], now: i64) -> Chart {
        let first_hour = now - now.rem_euclid(HOUR_MS) - (HOURS as i64 - 1) * HOUR_MS;
        let mut hours = [(0i64, 0i64); HOURS];
        for bucket in buckets {
            let index = (bucket.bucket_start - first_hour).div_euclid(HOUR_MS);
            if let Some(hour) = usize::try_from(index).ok().and_then(|i| hours.get_mut(i)) {
                hour.0 += bucket.completed;
                hour.1 += bucket.runs - bucket.completed;
            }
        }
        let max = hours.iter().map(|(c, o)| c + o).max().unwrap_or(0).max(1);
        let slot = WIDTH / HOURS as i64;
        let scale = |n: i64| n * (HEIGHT - TOP) / max;
        let bars = hours
            .iter()
            .enumerate()
            .map(|(i, &(completed, other))| {
                let (completed_height, other_height) = (scale(completed), scale(other));
                let hour_start = first_hour + i as i64 * HOUR_MS;
                Bar {
                    label: super::super::page::when(hour_start),
                    x: i as i64 * slot + GAP / 2,
                    completed,
                    other,
                    completed_y: HEIGHT - completed_height,
                    completed_height,
                    other_y: HEIGHT - completed_height - other_height,
                    other_height,
                }
            })
            .collect();
        Chart { width: WIDTH, height: HEIGHT, base: HEIGHT, bar_width: slot - GAP, max, bars }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        fn bucket(at: i64, runs: i64, completed: i64) -> usage_bucket::Model {
            usage_bucket::Model {
                bucket_start: at,
                runs,
                completed,
                failed: runs - completed,
                cancelled: 0,
                input_tokens: 0,
                output_tokens: 0,
                cost_micros: 0,
            }
        }

        #[test]
        fn bars_stack_per_hour_and_the_tallest_fills_the_chart() {
            let now = 100 * HOUR_MS + 10 * 60_000;
            let chart = hourly(&[bucket(now - 5 * 60_000, 4, 3), bucket(now - 2 * HOUR_MS, 2, 2)], now);
            assert_eq!(chart.bars.len(), HOURS);
            let last = &chart.bars[HOURS - 1];
            assert_eq!((last.completed, last.other, chart.max), (3, 1, 4));
            assert_eq!(last.completed_height + last.other_height, HEIGHT - TOP);
            assert_eq!(chart.bars[HOURS - 3].completed, 2);
            // Older than the window: not drawn.
            let chart = hourly(&[bucket(now - 30 * HOUR_MS, 9, 9)], now);
            assert!(chart.bars.iter().all(|b| b.completed == 0));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_empty_window_shows_dashes_not_zeros() {
        let view = WindowView::of("Last hour", HOUR_MS, &UsageWindow::default());
        assert_eq!((view.success_rate.as_str(), view.run_p95.as_str()), ("—", "—"));
        let mut window = UsageWindow { runs: 4, completed: 3, ..Default::default() };
        window.run.add(crate::store::rollup::bin_of(1000), 4);
        let view = WindowView::of("Last hour", HOUR_MS, &window);
        assert_eq!((view.success_rate.as_str(), view.throughput.as_str()), ("75.0 %", "4.0 runs/h"));
        assert_eq!(view.run_p50, "1.0 s");
    }
}
