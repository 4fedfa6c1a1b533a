//! How a finished run maps to the task: its status, its result (complete or
//! partial) and, when it did not complete, the error kind and details.

use serde_json::{Map, Value, json};

use super::run::{RunReport, Stop};
use super::stream::add_usage;
use crate::task::{ErrorKind, TaskError, TaskResult, TaskStatus, Usage};

/// What to do with the task after a run.
#[derive(Debug, Clone, PartialEq)]
#[allow(clippy::large_enum_variant)] // built once per run
pub enum Outcome {
    Finished {
        status: TaskStatus,
        result: TaskResult,
        error: Option<TaskError>,
    },
    /// Put it back in the queue without counting the attempt (gateway shutdown).
    Requeue,
    /// The run lost its lease: another node owns the task now; write nothing.
    Abandon,
    /// A transient failure (API overload, rate limit, a CLI that died before it
    /// started): run the turn again after a backoff, at `not_before` if known; if no
    /// attempt is left, `fallback` is what happens.
    Retry {
        reason: String,
        not_before: Option<i64>,
        fallback: Box<Outcome>,
    },
}

/// API statuses worth waiting out: rate limits and server-side trouble.
const TRANSIENT_STATUSES: [u64; 5] = [429, 500, 502, 503, 529];

/// Decides the outcome of a run that was given `timeout_seconds`.
pub fn decide(report: &RunReport, timeout_seconds: u64) -> Outcome {
    let outcome = decide_once(report, timeout_seconds);
    match (&outcome, transient(report)) {
        (Outcome::Finished { .. }, Some(reason)) => {
            // The API's own word on when to come back: a rate limit's reset, else the
            // delay the CLI last waited (its `Retry-After`).
            let retry_after = report.state.last_retry_delay_ms.map(|ms| crate::timestamp::now_ms() + ms as i64);
            let not_before = report.state.rate_limited_until.or(retry_after);
            Outcome::Retry { reason, not_before, fallback: Box::new(outcome) }
        }
        _ => outcome,
    }
}

/// Why the run's failure is worth a retry, if it is.
fn transient(report: &RunReport) -> Option<String> {
    if report.stop.is_some() || report.spawn_error.is_some() {
        return None;
    }
    // The task's own limits are final, whatever else happened in the run.
    const FINAL: [&str; 3] = ["error_max_turns", "error_max_budget_usd", "error_max_structured_output_retries"];
    match &report.state.result {
        Some(event) if FINAL.contains(&event.get("subtype").and_then(Value::as_str).unwrap_or("")) => None,
        Some(event) if event.get("is_error").and_then(Value::as_bool) == Some(true) => {
            let status = event.get("api_error_status").and_then(Value::as_u64);
            if let Some(status) = status.filter(|s| TRANSIENT_STATUSES.contains(s)) {
                Some(format!("the model API answered {status}"))
            } else {
                report.state.rate_limited_until.map(|_| "the model API's rate limit was reached".to_string())
            }
        }
        Some(_) => None,
        None if !report.state.saw_init => Some(match report.exit_code {
            Some(code) => format!("Claude Code exited ({code}) before it started"),
            None => "Claude Code exited before it started".to_string(),
        }),
        None => None,
    }
}

fn decide_once(report: &RunReport, timeout_seconds: u64) -> Outcome {
    match report.stop {
        Some(Stop::Shutdown) if report.state.result.is_none() => return Outcome::Requeue,
        Some(Stop::LeaseLost) => return Outcome::Abandon,
        _ => {}
    }
    let interrupted = matches!(report.stop, Some(Stop::Cancel | Stop::Timeout | Stop::Stalled | Stop::ResourceLimit));
    if let Some(result) = &report.state.result
        && !interrupted
    {
        return finished_with_result(report, result);
    }
    // An interrupted turn may still have reported a result (the in-band interrupt
    // ends the turn cleanly): keep what it says, marked partial.
    let partial = match &report.state.result {
        Some(event) => TaskResult { partial: true, ..result_of(report, event) },
        None => partial_result(report),
    };
    let (status, error) = match (report.stop, &report.spawn_error) {
        (_, Some(spawn_error)) => (
            TaskStatus::Failed,
            TaskError::new(ErrorKind::AgentCrashed, format!("could not start Claude Code: {spawn_error}")),
        ),
        (Some(Stop::Cancel), _) => {
            (TaskStatus::Cancelled, TaskError::new(ErrorKind::Cancelled, "the task was cancelled"))
        }
        (Some(Stop::Timeout), _) => (
            TaskStatus::Failed,
            TaskError::new(ErrorKind::Timeout, format!("the run exceeded its timeout of {timeout_seconds} s"))
                .with_details(json!({"timeout_seconds": timeout_seconds})),
        ),
        (Some(Stop::ResourceLimit), _) => {
            let (limit, message) = match &report.exceeded {
                Some(exceeded) => (exceeded.limit, exceeded.message.clone()),
                None => ("unknown", "the run went past a sandbox limit".to_string()),
            };
            (
                TaskStatus::Failed,
                TaskError::new(ErrorKind::ResourceLimit, message).with_details(json!({"limit": limit})),
            )
        }
        (Some(Stop::Stalled), _) => (
            TaskStatus::Failed,
            TaskError::new(ErrorKind::Timeout, "the run stalled: no output while no tool was running")
                .with_details(json!({"stalled": true})),
        ),
        _ => {
            let message = if report.state.stdout_lines == 0 {
                "Claude Code exited without any output"
            } else {
                "Claude Code exited before finishing the turn"
            };
            (
                TaskStatus::Failed,
                TaskError::new(ErrorKind::AgentCrashed, message).with_details(json!({
                    "exit_code": report.exit_code,
                    "stderr_tail": report.stderr_tail,
                })),
            )
        }
    };
    Outcome::Finished { status, result: partial, error: Some(error) }
}

/// What a run is charged (tokens and US dollars): what the model proxy metered
/// and priced when it served the run. Only an unconfined run, which holds the
/// real credential and so could not be metered anyway, is taken at its word:
/// its `result` event's usage and cost, never a negative or non-finite one.
/// `None` when there is neither. A test run costs nothing.
pub fn charge(report: &RunReport) -> Option<(Usage, f64)> {
    let (usage, cost_usd) = metered_or_reported(report)?;
    Some((usage, if report.test { 0.0 } else { cost_usd }))
}

fn metered_or_reported(report: &RunReport) -> Option<(Usage, f64)> {
    if let Some(metered) = &report.metered {
        return Some((metered.usage.clone(), metered.cost_usd));
    }
    let event = report.state.result.as_ref()?;
    let mut usage = Usage::default();
    if let Some(reported) = event.get("usage") {
        add_usage(&mut usage, reported);
    }
    Some((usage, reported_cost(event).unwrap_or(0.0)))
}

/// The CLI's own `total_cost_usd`, if it is a plausible figure.
fn reported_cost(event: &Map<String, Value>) -> Option<f64> {
    event.get("total_cost_usd").and_then(Value::as_f64).filter(|cost| cost.is_finite() && *cost >= 0.0)
}

/// The task's result from the CLI's `result` event.
fn result_of(report: &RunReport, event: &Map<String, Value>) -> TaskResult {
    let text = event.get("result").and_then(Value::as_str).map(String::from);
    let (usage, cost_usd) = charge(report).unwrap_or_default();
    TaskResult {
        text: text.or_else(|| report.state.last_text.clone()),
        structured: event.get("structured_output").cloned().filter(|v| !v.is_null()),
        session_id: event
            .get("session_id")
            .and_then(Value::as_str)
            .map(String::from)
            .or_else(|| report.state.session_id.clone()),
        num_turns: event.get("num_turns").and_then(Value::as_u64).unwrap_or(0) as u32,
        usage,
        cost_usd,
        reported_cost_usd: reported_cost(event),
        duration_ms: event.get("duration_ms").and_then(Value::as_u64).unwrap_or(report.duration.as_millis() as u64),
        partial: false,
    }
}

fn finished_with_result(report: &RunReport, event: &Map<String, Value>) -> Outcome {
    let text = event.get("result").and_then(Value::as_str).map(String::from);
    let result = result_of(report, event);
    let subtype = event.get("subtype").and_then(Value::as_str).unwrap_or("");
    let is_error = event.get("is_error").and_then(Value::as_bool).unwrap_or(false);
    if subtype == "success" && !is_error {
        return Outcome::Finished { status: TaskStatus::Completed, result, error: None };
    }
    let kind = match subtype {
        "error_max_turns" => ErrorKind::MaxTurns,
        "error_max_budget_usd" => ErrorKind::ResourceLimit,
        "error_max_structured_output_retries" => ErrorKind::OutputSchemaMismatch,
        _ => ErrorKind::AgentError,
    };
    let message = match kind {
        ErrorKind::MaxTurns => "the agent reached its max_turns limit".to_string(),
        ErrorKind::ResourceLimit => "the run reached its max_budget_usd limit".to_string(),
        ErrorKind::OutputSchemaMismatch => "the agent did not produce output matching output_schema".to_string(),
        _ => text
            .clone()
            .filter(|t| !t.is_empty())
            .unwrap_or_else(|| format!("Claude Code reported an error ({subtype})")),
    };
    let details = json!({
        "subtype": subtype,
        "api_error_status": event.get("api_error_status"),
        "terminal_reason": event.get("terminal_reason"),
        "permission_denials": event.get("permission_denials"),
    });
    Outcome::Finished {
        status: TaskStatus::Failed,
        result,
        error: Some(TaskError::new(kind, message).with_details(details)),
    }
}

/// Whether the run ended before it started because the CLI could not find the
/// session it was told to resume.
pub fn session_not_found(report: &RunReport) -> bool {
    !report.state.saw_init
        && report.stderr_tail.iter().any(|line| line.contains("No conversation found with session ID"))
}

/// What a run produced so far, as a partial result.
pub fn partial_result(report: &RunReport) -> TaskResult {
    TaskResult {
        text: report.state.last_text.clone(),
        structured: None,
        session_id: report.state.session_id.clone(),
        num_turns: report.state.assistant_messages,
        usage: report.metered.as_ref().map_or_else(|| report.state.usage.clone(), |m| m.usage.clone()),
        cost_usd: report.metered.as_ref().map_or(0.0, |m| m.cost_usd),
        reported_cost_usd: None,
        duration_ms: report.duration.as_millis() as u64,
        partial: true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report_with(lines: &[&str]) -> RunReport {
        let mut report = RunReport::default();
        for line in lines {
            report.state.parse_line(line.as_bytes(), 1000);
        }
        report
    }

    #[test]
    fn success_max_turns_and_crash() {
        let ok = report_with(&[
            r#"{"type":"system","subtype":"init","session_id":"s"}"#,
            r#"{"type":"result","subtype":"success","is_error":false,"result":"done","session_id":"s","num_turns":2,"total_cost_usd":0.5,"usage":{"input_tokens":3}}"#,
        ]);
        let Outcome::Finished { status, result, error } = decide(&ok, 10) else { panic!() };
        assert_eq!(status, TaskStatus::Completed);
        assert_eq!(result.text.as_deref(), Some("done"));
        assert_eq!(result.usage.input_tokens, 3);
        assert!(error.is_none());

        let max = report_with(&[
            r#"{"type":"system","subtype":"init","session_id":"s"}"#,
            r#"{"type":"result","subtype":"error_max_turns","is_error":true,"session_id":"s"}"#,
        ]);
        let Outcome::Finished { error, .. } = decide(&max, 10) else { panic!() };
        assert_eq!(error.unwrap().kind, ErrorKind::MaxTurns);

        let mut crashed = report_with(&[
            r#"{"type":"system","subtype":"init","session_id":"s","claude_code_version":"2.1.197"}"#,
            r#"{"type":"assistant","message":{"id":"m","content":[{"type":"text","text":"half"}]}}"#,
        ]);
        crashed.exit_code = Some(1);
        crashed.stderr_tail = vec!["boom".into()];
        let Outcome::Finished { status, result, error } = decide(&crashed, 10) else { panic!() };
        assert_eq!(status, TaskStatus::Failed);
        assert!(result.partial);
        assert_eq!(result.text.as_deref(), Some("half"));
        let error = error.unwrap();
        assert_eq!(error.kind, ErrorKind::AgentCrashed);
        assert_eq!(error.details["stderr_tail"][0], "boom");
    }

    #[test]
    fn transient_failures_are_retried_and_others_are_not() {
        let overloaded = report_with(&[
            r#"{"type":"system","subtype":"init","session_id":"s"}"#,
            r#"{"type":"result","subtype":"success","is_error":true,"session_id":"s","api_error_status":529,"result":"API Error: 529"}"#,
        ]);
        let Outcome::Retry { reason, not_before, fallback } = decide(&overloaded, 10) else { panic!() };
        assert!(reason.contains("529") && not_before.is_none());
        let waited = report_with(&[
            r#"{"type":"system","subtype":"init","session_id":"s"}"#,
            r#"{"type":"system","subtype":"api_retry","attempt":1,"retry_delay_ms":60000.0,"error_status":429}"#,
            r#"{"type":"result","subtype":"success","is_error":true,"session_id":"s","api_error_status":429,"result":"API Error: 429"}"#,
        ]);
        let Outcome::Retry { not_before, .. } = decide(&waited, 10) else { panic!() };
        assert!(not_before.unwrap() >= crate::timestamp::now_ms() + 59_000, "the Retry-After the CLI saw");
        assert!(matches!(*fallback, Outcome::Finished { status: TaskStatus::Failed, .. }));

        let limited = report_with(&[
            r#"{"type":"system","subtype":"init","session_id":"s"}"#,
            r#"{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":1900000000}}"#,
            r#"{"type":"result","subtype":"success","is_error":true,"session_id":"s","result":"limit reached"}"#,
        ]);
        let Outcome::Retry { not_before, .. } = decide(&limited, 10) else { panic!() };
        assert_eq!(not_before, Some(1_900_000_000_000));
        let over_budget = report_with(&[
            r#"{"type":"system","subtype":"init","session_id":"s"}"#,
            r#"{"type":"rate_limit_event","rate_limit_info":{"status":"rejected","resetsAt":1900000000}}"#,
            r#"{"type":"result","subtype":"error_max_budget_usd","is_error":true,"session_id":"s"}"#,
        ]);
        assert!(matches!(decide(&over_budget, 10), Outcome::Finished { .. }), "the task's own limit is final");

        let bad_request = report_with(&[
            r#"{"type":"system","subtype":"init","session_id":"s"}"#,
            r#"{"type":"result","subtype":"success","is_error":true,"session_id":"s","api_error_status":400,"result":"API Error: 400"}"#,
        ]);
        let Outcome::Finished { error, .. } = decide(&bad_request, 10) else { panic!() };
        assert_eq!(error.unwrap().kind, ErrorKind::AgentError);

        let mut died_early = report_with(&[]);
        died_early.exit_code = Some(1);
        let Outcome::Retry { reason, .. } = decide(&died_early, 10) else { panic!() };
        assert!(reason.contains("before it started"), "{reason}");
    }

    #[test]
    fn the_metered_cost_counts_and_the_printed_one_is_only_information() {
        let lines = [
            r#"{"type":"system","subtype":"init","session_id":"s"}"#,
            r#"{"type":"result","subtype":"success","is_error":false,"session_id":"s","total_cost_usd":-1000,"usage":{"input_tokens":1}}"#,
        ];
        let unmetered = report_with(&lines);
        let Outcome::Finished { result, .. } = decide(&unmetered, 10) else { panic!() };
        assert_eq!((result.cost_usd, result.reported_cost_usd), (0.0, None), "a negative figure is no figure");
        let mut metered = report_with(&[lines[0], &lines[1].replace("-1000", "0.01")]);
        let usage = Usage { input_tokens: 100, output_tokens: 10, ..Usage::default() };
        metered.metered = Some(crate::sandbox::Metered { usage: usage.clone(), cost_usd: 0.25 });
        let Outcome::Finished { result, .. } = decide(&metered, 10) else { panic!() };
        assert_eq!((result.cost_usd, result.reported_cost_usd), (0.25, Some(0.01)));
        assert_eq!(result.usage, usage);
        assert_eq!(charge(&metered), Some((usage, 0.25)));
    }

    #[test]
    fn stops_from_outside() {
        let mut report = RunReport { stop: Some(Stop::Timeout), ..Default::default() };
        let Outcome::Finished { error, .. } = decide(&report, 5) else { panic!() };
        assert_eq!(error.unwrap().kind, ErrorKind::Timeout);
        report.stop = Some(Stop::Shutdown);
        assert_eq!(decide(&report, 5), Outcome::Requeue);
        report.stop = Some(Stop::LeaseLost);
        assert_eq!(decide(&report, 5), Outcome::Abandon);
    }

    #[test]
    fn a_session_the_cli_cannot_find_is_told_apart() {
        let mut report = RunReport {
            stderr_tail: vec!["No conversation found with session ID: 44daa41f".into()],
            ..RunReport::default()
        };
        assert!(session_not_found(&report));
        report.state.saw_init = true;
        assert!(!session_not_found(&report), "a run that started found its session");
        assert!(!session_not_found(&RunReport::default()));
    }
}
