//! Compiling and validating output schemas in a child process (`ccgate
//! check-output-schema`) with a wall-clock deadline and limits on its memory and CPU
//! time. A schema is the client's code as much as data: within the static caps a
//! chain of `anyOf` references still validates in exponential time, and regular
//! expressions can take seconds and gigabytes to compile. In a child, such a schema
//! costs the gateway one killed process, never its memory or its async runtime.

use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Semaphore;

use super::{Mismatch, OutputSchemaLimits};

/// The hidden subcommand the child runs.
pub const SUBCOMMAND: &str = "check-output-schema";

/// Most bytes read back from a child: the answer it echoes, and some JSON around it.
const MAX_VERDICT_BYTES: u64 = 64 * 1024 * 1024;

/// What the child is asked to do.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "job", rename_all = "snake_case")]
enum Job {
    /// Compile the schema (a client submits it).
    Compile { schema: Value },
    /// Check a run's answer against it.
    Answer { schema: Value, structured: Option<Value>, text: Option<String> },
}

/// What the child answers.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
enum Verdict {
    Valid { answer: Option<Value> },
    Invalid { message: String, details: Value },
}

/// Why a check did not come to a verdict.
#[derive(Debug, thiserror::Error)]
pub enum CheckError {
    #[error("took longer than its budget of {0} ms (tasks.output_schema.check_timeout_ms)")]
    Timeout(u64),
    #[error("needed more than its budget of {0} MiB of memory or its CPU time (tasks.output_schema.check_memory_mb)")]
    OverBudget(u64),
    #[error("the schema checker could not run: {0}")]
    Unavailable(String),
    #[error(
        "this gateway is checking as many output schemas as it may at once \
             (tasks.output_schema.max_concurrent_checks); try again shortly"
    )]
    Busy,
}

impl CheckError {
    /// Whether the schema itself is to blame (it blew its budget), not the gateway.
    pub fn is_over_budget(&self) -> bool {
        matches!(self, Self::Timeout(_) | Self::OverBudget(_))
    }
}

/// Runs checks in a child process of `program` (the `ccgate` executable), a few at
/// a time: each may take its whole CPU and memory budget.
#[derive(Debug, Clone)]
pub struct SchemaChecker {
    program: PathBuf,
    limits: OutputSchemaLimits,
    running: Arc<Semaphore>,
}

impl SchemaChecker {
    pub fn new(program: PathBuf, limits: OutputSchemaLimits) -> Self {
        let running = Arc::new(Semaphore::new(limits.max_concurrent_checks.max(1)));
        Self { program, limits, running }
    }

    /// Whether `schema` compiles within budget; the error says why not. A submission
    /// finding every checker busy is refused (`Busy`) rather than queued.
    pub async fn compile(&self, schema: &Value) -> Result<Result<(), String>, CheckError> {
        let _permit = self.running.clone().try_acquire_owned().map_err(|_| CheckError::Busy)?;
        match self.run(&Job::Compile { schema: schema.clone() }).await? {
            Verdict::Valid { .. } => Ok(Ok(())),
            Verdict::Invalid { message, .. } => Ok(Err(message)),
        }
    }

    /// [`super::check_answer`] in the child: a schema that blows its budget is a
    /// mismatch that says so.
    pub async fn check_answer(
        &self,
        schema: &Value,
        structured: Option<&Value>,
        text: Option<&str>,
    ) -> Result<Value, Mismatch> {
        let job = Job::Answer { schema: schema.clone(), structured: structured.cloned(), text: text.map(String::from) };
        // Runs end at most one per worker at a time: these wait their turn.
        let permit = self.running.clone().acquire_owned().await;
        let verdict = self.run(&job).await;
        drop(permit);
        match verdict {
            Ok(Verdict::Valid { answer: Some(answer) }) => Ok(answer),
            Ok(Verdict::Valid { answer: None }) => {
                Err(Mismatch { message: "the schema checker gave no answer".into(), details: json!({}) })
            }
            Ok(Verdict::Invalid { message, details }) => Err(Mismatch { message, details }),
            Err(e) => Err(Mismatch {
                message: format!("the answer could not be checked against output_schema: checking {e}"),
                details: json!({"reason": if e.is_over_budget() { "budget" } else { "unavailable" }}),
            }),
        }
    }

    async fn run(&self, job: &Job) -> Result<Verdict, CheckError> {
        let input = serde_json::to_vec(job).map_err(|e| CheckError::Unavailable(e.to_string()))?;
        let timeout = Duration::from_millis(self.limits.check_timeout_ms);
        let cpu_seconds = self.limits.check_timeout_ms.div_ceil(1000).max(1);
        let mut child = tokio::process::Command::new(&self.program)
            .arg(SUBCOMMAND)
            .arg(format!("--memory-mb={}", self.limits.check_memory_mb))
            .arg(format!("--cpu-seconds={cpu_seconds}"))
            .env_clear()
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::null())
            .kill_on_drop(true)
            .spawn()
            .map_err(|e| CheckError::Unavailable(format!("{}: {e}", self.program.display())))?;
        let (Some(mut stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(CheckError::Unavailable("the child's pipes are missing".into()));
        };
        let exchange = async {
            // Written while the answer is read: a large job must not fill both pipes.
            let write = async move {
                let written = stdin.write_all(&input).await;
                drop(stdin);
                written
            };
            let mut output = Vec::new();
            let mut limited = stdout.take(MAX_VERDICT_BYTES);
            let read = limited.read_to_end(&mut output);
            let (_, read) = tokio::join!(write, read);
            read.map_err(|e| CheckError::Unavailable(e.to_string()))?;
            let status = child.wait().await.map_err(|e| CheckError::Unavailable(e.to_string()))?;
            Ok::<_, CheckError>((status, output))
        };
        // On a timeout the child is dropped, and with it killed.
        let (status, output) = tokio::time::timeout(timeout, exchange)
            .await
            .map_err(|_| CheckError::Timeout(self.limits.check_timeout_ms))??;
        match status.code() {
            Some(0) => {}
            // Killed by a signal: the CPU limit, or an abort when an allocation failed.
            None => return Err(CheckError::OverBudget(self.limits.check_memory_mb)),
            Some(code) => return Err(CheckError::Unavailable(format!("the checker exited with {code}"))),
        }
        serde_json::from_slice(&output).map_err(|e| CheckError::Unavailable(format!("unreadable verdict: {e}")))
    }
}

/// The child: limits itself, reads one job from stdin, prints its verdict. Runs
/// before any thread or runtime exists. Exits non-zero only when it could not
/// finish (its limits ended it first).
pub fn child_main(memory_mb: u64, cpu_seconds: u64) -> i32 {
    let memory = memory_mb.saturating_mul(1024 * 1024);
    let limited = crate::sandbox::set_rlimit(libc::RLIMIT_DATA, memory, memory)
        .and_then(|()| crate::sandbox::set_rlimit(libc::RLIMIT_CPU, cpu_seconds, cpu_seconds + 1))
        .and_then(|()| crate::sandbox::set_rlimit(libc::RLIMIT_CORE, 0, 0));
    if limited.is_err() {
        return 3;
    }
    let mut input = Vec::new();
    if std::io::stdin().read_to_end(&mut input).is_err() {
        return 4;
    }
    let verdict = match serde_json::from_slice::<Job>(&input) {
        Ok(Job::Compile { schema }) => match super::check_schema(&schema) {
            Ok(()) => Verdict::Valid { answer: None },
            Err(message) => Verdict::Invalid { message, details: json!({}) },
        },
        Ok(Job::Answer { schema, structured, text }) => {
            match super::check_answer(&schema, structured.as_ref(), text.as_deref()) {
                Ok(answer) => Verdict::Valid { answer: Some(answer) },
                Err(Mismatch { message, details }) => Verdict::Invalid { message, details },
            }
        }
        Err(e) => Verdict::Invalid { message: format!("unreadable job: {e}"), details: json!({}) },
    };
    let mut stdout = std::io::stdout().lock();
    match serde_json::to_writer(&mut stdout, &verdict).and_then(|()| stdout.flush().map_err(serde_json::Error::io)) {
        Ok(()) => 0,
        Err(_) => 5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_submission_finding_every_checker_busy_is_refused_at_once() {
        let limits = OutputSchemaLimits { max_concurrent_checks: 1, ..OutputSchemaLimits::default() };
        let checker = SchemaChecker::new(PathBuf::from("/nonexistent/ccgate"), limits);
        let held = checker.running.clone().try_acquire_owned().unwrap();
        assert!(matches!(checker.compile(&serde_json::json!({})).await, Err(CheckError::Busy)));
        drop(held);
        // With a place free it runs (and here fails to start: no such program).
        assert!(matches!(checker.compile(&serde_json::json!({})).await, Err(CheckError::Unavailable(_))));
    }
}
