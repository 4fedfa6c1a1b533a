//! Running Claude Code: one supervised process per turn, its argv and clean
//! environment, its stream-json output turned into events, and the outcome of
//! the run (completed, failed with a kind, cancelled, timed out, crashed).

mod command;
mod lines;
pub mod orphans;
mod outcome;
mod pool;
mod profile;
mod quota;
mod run;
mod spare;
mod stdio;
mod steering;
mod stream;
pub mod supervisor;
mod warm_up;

pub use command::{TaskDirs, TurnInput, claude_args, passthrough_env, resolve_program};
pub use outcome::{Outcome, charge, decide, partial_result, session_not_found};
pub use run::{LiveMeter, RunReport, Runner, RunnerMessage, Stop, TurnRequest};
pub use steering::LiveMessage;
pub use stream::{RunState, add_usage};

/// The prompt of a retried turn whose session already holds the turn's own prompt
/// (sending that again would repeat it in the conversation).
pub const CONTINUE_PROMPT: &str =
    "[ccgate] The previous attempt at this turn stopped on a transient error. Continue the task from where it stopped.";

/// A process's exit code as a shell reports it: its own code, or 128 + the signal
/// that killed it.
pub fn exit_code(status: std::process::ExitStatus) -> Option<i32> {
    use std::os::unix::process::ExitStatusExt;
    status.code().or_else(|| status.signal().map(|s| 128 + s))
}

/// A `log` event from the gateway itself (not from Claude Code).
pub fn gateway_notice(line: &str) -> crate::store::EventRecord {
    stream::log_event("gateway", line)
}
