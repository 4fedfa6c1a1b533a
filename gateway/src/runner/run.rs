//! One turn of Claude Code, start to finish: spawn it under the supervisor, send
//! the prompt on stdin, turn every stdout and stderr line into events, and stop it
//! on cancel, timeout, shutdown or a lost lease.

use std::collections::VecDeque;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;
use tokio::io::{AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::net::UnixStream;
use tokio::process::Child;
use tokio::sync::{mpsc, watch};

use super::command::{
    TaskDirs, TurnInput, claude_args, environment, interrupt_line, opening_lines, pinned_models, settings,
};
use super::lines::{Line, next_line};
use super::orphans::{self, ProcessId, RunRecord};
use super::pool::Started;
use super::quota::TurnQuota;
use super::spare::{Spare, SpareSlot};
use super::stdio::{GatewayStdio, socket_stdio};
use super::steering::{LiveMessage, Steering};
use super::stream::{RunState, log_event};
use super::supervisor::Plan;
use crate::approvals::desk::Desk;
use crate::approvals::{
    ApprovalMode, ApprovalOptions, Asked, DecidedBy, Decision, PermissionPrompt, TaskTools, Verdict, control_response,
    events, requested_event, resolved_event, verdict,
};
use crate::config::ClaudeConfig;
use crate::plugins::{ToolApproval, ToolApprovers};
use crate::sandbox::monitor::{Exceeded, Monitor};
use crate::sandbox::{Launch, RunSpec, Sandbox};
use crate::store::EventRecord;
use crate::task::TaskOptions;

const STDERR_TAIL_LINES: usize = 20;

/// Why a run was stopped from outside.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stop {
    Cancel,
    Timeout,
    /// The gateway is shutting down: the task goes back to the queue.
    Shutdown,
    /// Another node took the task over: nothing of this run may be written.
    LeaseLost,
    /// No output for `claude.stall_seconds` while no tool was running (set by the runner).
    Stalled,
    /// The run went past one of its sandbox limits (set by the runner; see `RunReport::exceeded`).
    ResourceLimit,
}

/// How far stopping a run has gone; each backstop firing goes one step further.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Escalation {
    None,
    /// The in-band interrupt was sent: the CLI ends its turn, the session stays resumable.
    Interrupted,
    /// SIGTERM to the supervisor, which signals the whole tree.
    Terminated,
    Killed,
}

/// What a run reports while it runs.
#[derive(Debug)]
pub enum RunnerMessage {
    Events(Vec<EventRecord>),
    Session(String),
    /// The CLI took a message sent into the run: its turn begins here.
    TurnStarted(i32),
}

/// One turn to run.
pub struct TurnRequest<'a> {
    pub task_id: &'a str,
    pub dirs: &'a TaskDirs,
    pub prompt: &'a str,
    pub input: TurnInput<'a>,
    pub timeout: Duration,
    /// The key's token budget, for the model proxy.
    pub tokens: Option<&'a crate::store::RunTokens>,
    /// The task's turn (what its permission prompts are recorded under).
    pub turn: i32,
    /// The tool-approval plugins of the task's key, which see each permission
    /// prompt before the task's rules and mode.
    pub approvers: Option<ToolApprovers>,
    /// A task of a test key: run against the built-in scripted model, cost 0.
    pub test: bool,
    /// Set to the run's meter once the model proxy has one for it, so that the
    /// lease keeper can record what the run has used so far.
    pub live_meter: Option<&'a LiveMeter>,
}

/// Whom a process's model requests are metered for.
pub(super) enum Metering<'a> {
    /// A run's: its key's token budget, and the scripted model for a test key.
    Run(Option<&'a crate::store::RunTokens>, Option<crate::sandbox::Upstream>),
    /// A warm process no run has taken yet: the model proxy refuses its requests.
    Parked,
}

/// Where a run's meter is found while the run lasts (empty for an unconfined run,
/// which the model proxy does not serve).
pub type LiveMeter = std::sync::OnceLock<Arc<crate::sandbox::Meter>>;

/// How a run ended.
#[derive(Debug, Default)]
pub struct RunReport {
    pub state: RunState,
    pub exit_code: Option<i32>,
    pub stop: Option<Stop>,
    pub stderr_tail: Vec<String>,
    pub spawn_error: Option<String>,
    pub duration: Duration,
    /// The process was still alive after its result and had to be stopped.
    pub lingered: bool,
    /// The sandbox limit the run went past.
    pub exceeded: Option<Exceeded>,
    /// What the model proxy counted and priced, when it served the run.
    pub metered: Option<crate::sandbox::Metered>,
    /// A test run: it cost nothing, whatever its tokens.
    pub test: bool,
}

/// Starts and supervises Claude Code processes.
#[derive(Clone)]
pub struct Runner {
    pub(super) config: Arc<ClaudeConfig>,
    pub(super) claude_bin: PathBuf,
    pub(super) supervisor_exe: PathBuf,
    passthrough: Arc<Vec<(String, String)>>,
    /// Where live runs are recorded for the orphan reaper (`orphans`).
    pub(super) runs_dir: PathBuf,
    pub(super) sandbox: Arc<Sandbox>,
    /// Where prompts of `ask` tasks wait for a person.
    desk: Arc<Desk>,
    /// The built-in scripted model that test keys' runs talk to (`with_test_model`).
    test_model: Option<String>,
    /// Claude Code processes started ahead of work (`with_pool`).
    pub(super) pool: Option<Arc<super::pool::WarmPool>>,
    /// A supervisor started ahead of the next cold run (`runner::spare`).
    pub(super) spare: Arc<SpareSlot>,
}

impl Runner {
    pub fn new(
        config: ClaudeConfig,
        claude_bin: PathBuf,
        supervisor_exe: PathBuf,
        passthrough: Vec<(String, String)>,
        runs_dir: PathBuf,
        sandbox: Arc<Sandbox>,
        desk: Arc<Desk>,
    ) -> Self {
        Self {
            config: Arc::new(config),
            claude_bin,
            supervisor_exe,
            passthrough: Arc::new(passthrough),
            runs_dir,
            sandbox,
            desk,
            test_model: None,
            pool: None,
            spare: Arc::default(),
        }
    }

    /// Runs of test keys' tasks go to the scripted model at `url`.
    pub fn with_test_model(self, url: String) -> Self {
        Self { test_model: Some(url), ..self }
    }

    /// The working directory a run of the task with `dirs` sees.
    pub fn workspace_seen(&self, dirs: &TaskDirs) -> PathBuf {
        self.sandbox.workspace_seen(&dirs.workspace)
    }

    /// Runs one turn, and the turns of the messages that come through `live` while
    /// it runs. Events go to `sink` as they happen; `stop` ends the run early.
    /// The sink is unbounded so that a stalled database can never keep the run's
    /// timers from firing (stdout itself stays bounded by the line channel, and every
    /// event is capped in size).
    pub async fn run(
        &self,
        request: TurnRequest<'_>,
        sink: mpsc::UnboundedSender<RunnerMessage>,
        mut stop: watch::Receiver<Option<Stop>>,
        mut live: mpsc::Receiver<LiveMessage>,
    ) -> RunReport {
        let started = Instant::now();
        let mut report = RunReport { test: request.test, ..RunReport::default() };
        let process = match self.start(&request).await {
            Ok(process) => process,
            Err(e) => {
                report.spawn_error = Some(e.to_string());
                return report;
            }
        };
        let Started { run_id, mut child, launch, stdio: GatewayStdio { stdin, stdout, stderr }, waited, read_ahead } =
            process;
        if let Some(waited) = waited {
            let notice = format!(
                "the run took a warm Claude Code process (started {:.1} s before the task)",
                waited.as_secs_f64()
            );
            let _ = sink.send(RunnerMessage::Events(vec![log_event("gateway", &notice)]));
        }
        // Only `ask` tasks have prompts waiting for a person: the others skip the desk.
        let asks = request.input.options.approvals.mode == ApprovalMode::Ask;
        if asks {
            // Prompts other runs left pending died with their gateway: nothing waits
            // on them any more (this run asks again).
            self.desk.expire_others(request.task_id, &run_id).await;
        }
        let record = self.record_run(&request, &run_id, &child, &sink).await;
        let stderr_tail = Arc::new(Mutex::new(VecDeque::new()));
        let quota =
            Arc::new(Mutex::new(TurnQuota::new(self.config.max_events_per_turn, self.config.max_event_bytes_per_turn)));
        let mut stderr_task = tokio::spawn(forward_stderr(stderr, sink.clone(), stderr_tail.clone(), quota.clone()));
        // stdout is read by its own task, so no partly read line is lost when another
        // branch of the loop below wins.
        let (line_tx, mut lines) = mpsc::channel(64);
        let max_line = self.config.max_line_bytes;
        let mut stdout_task = tokio::spawn(async move {
            // What the warm pool read of a warm process's output comes first.
            let mut stdout = BufReader::with_capacity(64 * 1024, std::io::Cursor::new(read_ahead).chain(stdout));
            loop {
                let line = next_line(&mut stdout, max_line).await;
                let end = matches!(line, Ok(Line::Eof) | Err(_));
                if line_tx.send(line).await.is_err() || end {
                    return;
                }
            }
        });
        // The prompt is written by its own task too (a large prompt may not fit the pipe
        // until Claude reads it, and a stop must not wait for that); later lines (the
        // interrupt) go through `stdin_lines`, and dropping it closes stdin, which lets
        // the CLI exit after its result.
        // Room for the answers to every prompt a turn can have open at once.
        let (stdin_tx, stdin_rx) = mpsc::channel::<String>(256);
        let mut stdin_lines = Some(stdin_tx);
        let first = opening_lines(request.input.options, request.prompt);
        tokio::spawn(feed_stdin(stdin, first, sink.clone(), stdin_rx));

        let prompts = PromptContext {
            task_id: request.task_id.to_string(),
            run_id: run_id.clone(),
            turn: request.turn,
            waiting: Arc::default(),
            recorded: Arc::default(),
            tools: TaskTools::of(request.input.options, launch.seen.clone()),
            approvals: request.input.options.approvals.clone(),
            desk: self.desk.clone(),
            approvers: request.approvers.clone(),
        };
        let grace = Duration::from_secs(self.config.kill_grace_seconds);
        let deadline = tokio::time::sleep(request.timeout);
        tokio::pin!(deadline);
        // Armed once the result is in (linger) or a stop began; each firing escalates:
        // interrupt, SIGTERM to the tree, SIGKILL, then stop reading output that
        // processes which escaped the tree may hold open.
        let mut backstop: Option<std::pin::Pin<Box<tokio::time::Sleep>>> = None;
        let mut escalation = Escalation::None;
        let mut session_sent: Option<String> = None;
        let mut steering = Steering::default();
        let stall = (self.config.stall_seconds > 0).then(|| Duration::from_secs(self.config.stall_seconds));
        let mut last_output = tokio::time::Instant::now();
        let cgroup = launch.cgroup.map(Arc::new);
        let monitor = self.monitor(&request, &child, cgroup.clone());
        let mut watching = Box::pin({
            let monitor = monitor.clone();
            async move {
                match monitor {
                    Some(monitor) => Monitor::watch(monitor).await,
                    None => std::future::pending().await,
                }
            }
        });

        loop {
            tokio::select! {
                line = lines.recv() => {
                    last_output = tokio::time::Instant::now();
                    let events = match line {
                        Some(Ok(Line::Complete(bytes))) => report.state.parse_line(&bytes, self.config.max_tool_output_bytes),
                        Some(Ok(Line::TooLong { head, length })) => {
                            let head = String::from_utf8_lossy(&head);
                            vec![EventRecord::new("log", json!({
                                "stream": "stdout",
                                "line": crate::text::clip(&head, self.config.max_tool_output_bytes),
                                "truncated": true,
                                "line_bytes": length,
                                "notice": "line longer than claude.max_line_bytes; not parsed",
                            }))]
                        }
                        Some(Ok(Line::Eof)) | None => break,
                        Some(Err(e)) => {
                            let _ = sink.send(RunnerMessage::Events(vec![log_event("gateway", &format!("reading stdout failed: {e}"))]));
                            break;
                        }
                    };
                    if report.state.session_id != session_sent {
                        if let Some(session) = &report.state.session_id {
                            let _ = sink.send(RunnerMessage::Session(session.clone()));
                        }
                        session_sent = report.state.session_id.clone();
                    }
                    let mut events = events;
                    for prompt in std::mem::take(&mut report.state.prompts) {
                        events.extend(answer_prompt(&prompt, &prompts, stdin_lines.as_ref(), &sink));
                    }
                    let events = admit(&quota, events);
                    if !events.is_empty() {
                        let _ = sink.send(RunnerMessage::Events(events));
                    }
                    for prompt in std::mem::take(&mut report.state.taken_prompts) {
                        // A stopping run starts no new turn.
                        if let Some(turn) = steering.taken(&prompt).filter(|_| report.stop.is_none()) {
                            report.state.result = None;
                            let _ = sink.send(RunnerMessage::TurnStarted(turn));
                        }
                    }
                    // Stdin stays open while a message sent into the run waits to be taken.
                    let last_turn = steering.is_idle() || report.stop.is_some();
                    if report.state.result.is_some() && last_turn && stdin_lines.take().is_some() && escalation == Escalation::None {
                        backstop = Some(Box::pin(tokio::time::sleep(Duration::from_secs(self.config.linger_seconds))));
                    }
                }
                Some(message) = live.recv(), if report.stop.is_none() => {
                    let in_progress = report.state.saw_init && report.state.result.is_none();
                    let (turn, delivered) = (message.turn, steering.deliver(message, in_progress, stdin_lines.as_ref()));
                    let notice = if delivered {
                        format!("message of turn {turn} sent into the running session")
                    } else {
                        format!("message of turn {turn} could not be sent into the session; it runs as the next turn")
                    };
                    let _ = sink.send(RunnerMessage::Events(vec![log_event("gateway", &notice)]));
                }
                () = &mut deadline, if report.stop.is_none() => {
                    let step = self.begin_stop(Stop::Timeout, &mut report, &child, &mut stdin_lines, &sink, !steering.is_idle()).await;
                    (escalation, backstop) = (step.0, Some(step.1));
                }
                () = async { tokio::time::sleep_until(last_output + stall.unwrap_or_default()).await },
                    if stall.is_some() && report.stop.is_none() && report.state.result.is_none() && !report.state.tool_running() => {
                    let step = self.begin_stop(Stop::Stalled, &mut report, &child, &mut stdin_lines, &sink, !steering.is_idle()).await;
                    (escalation, backstop) = (step.0, Some(step.1));
                }
                exceeded = &mut watching, if report.stop.is_none() => {
                    let _ = sink.send(RunnerMessage::Events(vec![log_event("gateway", &format!("{}; stopping the run", exceeded.message))]));
                    report.exceeded = Some(exceeded);
                    if let Some(cgroup) = &cgroup {
                        cgroup.kill();
                    }
                    let step = self.begin_stop(Stop::ResourceLimit, &mut report, &child, &mut stdin_lines, &sink, !steering.is_idle()).await;
                    (escalation, backstop) = (step.0, Some(step.1));
                }
                changed = stop.changed(), if report.stop.is_none() => {
                    let requested = if changed.is_ok() { *stop.borrow_and_update() } else { None };
                    if let Some(reason) = requested {
                        let step = self.begin_stop(reason, &mut report, &child, &mut stdin_lines, &sink, !steering.is_idle()).await;
                        (escalation, backstop) = (step.0, Some(step.1));
                    }
                }
                () = async { backstop.as_mut().expect("guarded by the select condition").await }, if backstop.is_some() => {
                    match escalation {
                        Escalation::None | Escalation::Interrupted => {
                            if escalation == Escalation::None {
                                report.lingered = true;
                            } else {
                                let notice = "the turn did not end after the interrupt; stopping its processes";
                                let _ = sink.send(RunnerMessage::Events(vec![log_event("gateway", notice)]));
                            }
                            stdin_lines = None;
                            terminate(&child);
                            escalation = Escalation::Terminated;
                            backstop = Some(Box::pin(tokio::time::sleep(grace + Duration::from_secs(2))));
                        }
                        Escalation::Terminated => {
                            let _ = child.start_kill();
                            escalation = Escalation::Killed;
                            backstop = Some(Box::pin(tokio::time::sleep(Duration::from_secs(2))));
                        }
                        Escalation::Killed => {
                            let _ = sink.send(RunnerMessage::Events(vec![log_event("gateway", "output stayed open after the run was killed; stopped reading it")]));
                            break;
                        }
                    }
                }
            }
        }
        drop(stdin_lines);
        // Prompts still waiting for a person end with the run.
        if asks {
            self.desk.expire(request.task_id, &run_id).await;
        }
        report.exit_code = wait_exit(&mut child, grace + Duration::from_secs(2)).await;
        for task in [&mut stderr_task, &mut stdout_task] {
            if tokio::time::timeout(Duration::from_secs(2), &mut *task).await.is_err() {
                task.abort(); // a pipe held open by something outside the tree
            }
        }
        report.stderr_tail = stderr_tail.lock().map(|t| t.iter().cloned().collect()).unwrap_or_default();
        report.duration = started.elapsed();
        if escalation == Escalation::Killed {
            // The supervisor itself was killed: sweep what it could not.
            orphans::kill_leftovers(&run_id);
        }
        if let Some(record) = &record {
            orphans::forget(&self.runs_dir, record);
        }
        // A limit reached just before the end still counts (an OOM-killed tool, a
        // workspace filled by the last command).
        if let Some(monitor) = monitor
            && report.exceeded.is_none()
            && report.stop.is_none()
            && let Ok(Some(exceeded)) = tokio::task::spawn_blocking(move || monitor.check(true)).await
        {
            let _ = sink.send(RunnerMessage::Events(vec![log_event("gateway", &exceeded.message)]));
            report.exceeded = Some(exceeded);
            report.stop = Some(Stop::ResourceLimit);
        }
        if let Some(cgroup) = cgroup {
            let _ = tokio::task::spawn_blocking(move || cgroup.remove()).await;
        }
        if let Some(token) = &launch.token {
            let meter = &token.meter;
            report.metered = Some(meter.settled(Duration::from_secs(5)).await);
            if meter.budget_spent.load(Ordering::Relaxed) && report.exceeded.is_none() {
                let message = "the API key's token budget is spent; the model proxy refused further requests";
                let _ = sink.send(RunnerMessage::Events(vec![log_event("gateway", message)]));
                report.exceeded = Some(Exceeded { limit: "tokens", message: message.to_string() });
                report.stop = Some(Stop::ResourceLimit);
            }
        }
        // The run is over: its proxy credentials end here.
        drop((launch.token, launch.egress_token));
        report
    }

    /// The watcher of the run's resources (none for unconfined runs).
    fn monitor(
        &self,
        request: &TurnRequest<'_>,
        child: &Child,
        cgroup: Option<Arc<crate::sandbox::cgroup::RunCgroup>>,
    ) -> Option<Arc<Monitor>> {
        let confined = self.sandbox.confinement() != crate::sandbox::Confinement::None;
        let config = self.sandbox.config();
        child.id().filter(|_| confined).map(|root_pid| {
            Arc::new(Monitor {
                cgroup,
                root_pid,
                disk: vec![request.dirs.workspace.clone(), request.dirs.home.clone(), request.dirs.tmp.clone()],
                limits: config.watched(),
                interval: Duration::from_millis(config.poll_interval_ms),
            })
        })
    }

    /// Records the run so that a later gateway can kill it if this one dies badly.
    async fn record_run(
        &self,
        request: &TurnRequest<'_>,
        run_id: &str,
        child: &Child,
        sink: &mpsc::UnboundedSender<RunnerMessage>,
    ) -> Option<RunRecord> {
        match self.record_process(request.task_id, run_id, child) {
            Ok(record) => record,
            Err(e) => {
                let notice = format!("could not record the run for the orphan reaper: {e}");
                let _ = sink.send(RunnerMessage::Events(vec![log_event("gateway", &notice)]));
                None
            }
        }
    }

    /// Records the process `child` runs for `owner` (a task, or a warm process) for
    /// the orphan reaper; `None` when its ids cannot be read.
    pub(super) fn record_process(
        &self,
        owner: &str,
        run_id: &str,
        child: &Child,
    ) -> std::io::Result<Option<RunRecord>> {
        let ids = (ProcessId::of(std::process::id()), child.id().and_then(ProcessId::of));
        let (Some(gateway), Some(supervisor)) = ids else { return Ok(None) };
        let record = RunRecord::new(owner, gateway, supervisor, run_id);
        orphans::record(&self.runs_dir, &record)?;
        Ok(Some(record))
    }

    /// Starts stopping the run for `reason`: a cancel, timeout or stall first asks
    /// the CLI to end its turn in-band (the session stays resumable); shutdown, a
    /// lost lease, or a CLI that cannot take the interrupt get SIGTERM at once, and
    /// so does a CLI holding messages sent into the run (`messages_waiting`): after
    /// an interrupt it would go on with them.
    /// Returns the escalation reached and when to escalate further.
    async fn begin_stop(
        &self,
        reason: Stop,
        report: &mut RunReport,
        child: &Child,
        stdin_lines: &mut Option<mpsc::Sender<String>>,
        sink: &mpsc::UnboundedSender<RunnerMessage>,
        messages_waiting: bool,
    ) -> (Escalation, std::pin::Pin<Box<tokio::time::Sleep>>) {
        let grace = Duration::from_secs(self.config.kill_grace_seconds);
        let interruptible = matches!(reason, Stop::Cancel | Stop::Timeout | Stop::Stalled);
        if interruptible && report.state.result.is_some() {
            // The turn is over and its result stands; what is left is a process slow to exit.
            report.lingered = true;
            *stdin_lines = None;
            terminate(child);
            return (Escalation::Terminated, Box::pin(tokio::time::sleep(grace + Duration::from_secs(2))));
        }
        report.stop = Some(reason);
        if interruptible && !messages_waiting && report.state.result.is_none() && report.state.saw_init {
            let interrupt = interrupt_line();
            if let Some(lines) = stdin_lines
                && lines.try_send(interrupt).is_ok()
            {
                let why = match reason {
                    Stop::Cancel => "the task was cancelled",
                    Stop::Timeout => "the run reached its timeout",
                    _ => "the run stalled: no output while no tool was running",
                };
                let notice = format!("{why}; interrupting the turn");
                let _ = sink.send(RunnerMessage::Events(vec![log_event("gateway", &notice)]));
                let wait = Duration::from_secs(self.config.interrupt_grace_seconds);
                return (Escalation::Interrupted, Box::pin(tokio::time::sleep(wait)));
            }
        }
        *stdin_lines = None;
        terminate(child);
        (Escalation::Terminated, Box::pin(tokio::time::sleep(grace + Duration::from_secs(2))))
    }

    /// Starts the run's process cold (through the spare supervisor when one is
    /// ready); returns its run id too.
    pub(super) fn spawn(&self, request: &TurnRequest<'_>) -> std::io::Result<(String, Child, Launch, GatewayStdio)> {
        let test = if request.test { Some(self.test_upstream()?) } else { None };
        let spare = self.take_spare().map(|spare| spare.name_for(request.task_id));
        let run_id = match &spare {
            Some(spare) => spare.run_id.clone(),
            None => format!("{}-{}", request.task_id, crate::ids::new_id("run")),
        };
        let metering = Metering::Run(request.tokens, test);
        let (child, launch, stdio) = self.spawn_process(request.dirs, &request.input, metering, &run_id, spare)?;
        if let (Some(slot), Some(token)) = (request.live_meter, &launch.token) {
            let _ = slot.set(token.meter.clone());
        }
        Ok((run_id, child, launch, stdio))
    }

    /// Where a test key's runs send their model requests: the built-in scripted model.
    pub(super) fn test_upstream(&self) -> std::io::Result<crate::sandbox::Upstream> {
        let url = self.test_model.as_deref().ok_or_else(|| std::io::Error::other("no test model is running"))?;
        Ok(crate::sandbox::Upstream::from_env(&test_model_environment(Vec::new(), url)))
    }

    /// Starts Claude Code in `dirs` under the supervisor and the sandbox; through
    /// `spare` when given (its run id is `run_id`).
    pub(super) fn spawn_process(
        &self,
        dirs: &TaskDirs,
        input: &TurnInput<'_>,
        metering: Metering<'_>,
        run_id: &str,
        spare: Option<Spare>,
    ) -> std::io::Result<(Child, Launch, GatewayStdio)> {
        let cgroup_made = spare.is_some();
        let prepared = (|| {
            dirs.create()?;
            let args = claude_args(input, &self.config);
            let settings = write_settings(dirs, input.options, &self.config)?;
            let mut env = environment(dirs, &self.config, &self.passthrough);
            if let Metering::Run(_, Some(test)) = &metering {
                env = test_model_environment(env, &test.base_url);
            }
            env.extend(pinned_models(input.options.model.as_deref()));
            env.push((orphans::RUN_VARIABLE.to_string(), run_id.to_string()));
            let (tokens, test_upstream, parked) = match metering {
                Metering::Run(tokens, test) => (tokens, test, false),
                Metering::Parked => (None, None, true),
            };
            self.sandbox.launch(&RunSpec {
                run_id,
                workspace: &dirs.workspace,
                home: &dirs.home,
                tmp: &dirs.tmp,
                claude: &self.claude_bin,
                claude_args: &args,
                settings: settings.as_deref(),
                env: &env,
                network: input.options.network,
                tokens,
                model: input.options.model.as_deref(),
                test_upstream,
                parked,
                cgroup_made,
            })
        })();
        let launch = match prepared {
            Ok(launch) => launch,
            Err(e) => {
                if let Some(spare) = spare {
                    spare.abandon(self.runs_dir.clone());
                }
                return Err(e);
            }
        };
        if let Some(spare) = spare {
            let plan = Plan {
                cwd: dirs.workspace.clone(),
                program: launch.program.clone(),
                args: launch.args.clone(),
                env: launch.env.iter().map(|(k, v)| (k.into(), v.into())).collect(),
            };
            match spare.start(&plan) {
                Ok((child, stdio)) => return Ok((child, launch, stdio)),
                // The spare's cgroup is the run's: a supervisor started now joins it.
                Err(e) => tracing::warn!(run_id, error = %e, "the spare supervisor did not take its plan"),
            }
        }
        let started = socket_stdio().and_then(|(child_stdio, gateway_stdio)| {
            let procs = launch.cgroup.iter().flat_map(|c| c.procs_files()).collect();
            let mut command = self.supervisor_command(procs, child_stdio);
            command
                .arg("--")
                .arg(&launch.program)
                .args(&launch.args)
                .current_dir(&dirs.workspace)
                .envs(launch.env.iter().cloned());
            Ok((command.spawn()?, gateway_stdio))
        });
        match started {
            Ok((child, stdio)) => Ok((child, launch, stdio)),
            Err(e) => {
                if let Some(cgroup) = &launch.cgroup {
                    cgroup.remove();
                }
                Err(e)
            }
        }
    }
}

/// Writes an answer to the CLI without waiting: a CLI that stops reading its stdin
/// must not stall the run's loop (its deadline, cancel and limits). An answer that
/// does not fit leaves the tool call unanswered until the run ends.
fn answer(stdin_lines: Option<&mpsc::Sender<String>>, line: String) {
    if let Some(lines) = stdin_lines
        && lines.try_send(line).is_err()
    {
        tracing::warn!("the CLI is not reading its stdin; a permission prompt stays unanswered");
    }
}

/// What a run needs to answer permission prompts.
struct PromptContext {
    task_id: String,
    run_id: String,
    turn: i32,
    /// Prompts of this run waiting for a person now.
    waiting: Arc<AtomicUsize>,
    /// Prompts of this run decided at once and recorded so far.
    recorded: Arc<AtomicUsize>,
    tools: TaskTools,
    approvals: ApprovalOptions,
    desk: Arc<Desk>,
    approvers: Option<ToolApprovers>,
}

/// Most prompts of one run decided at once that are recorded (the task's list
/// shows its newest 1,000): past it, only the run's events tell of them, which the
/// run's event caps bound, so a run cannot grow the prompts table without end.
const MAX_RECORDED_AT_ONCE: usize = 1000;

/// Most prompts of one run waiting for a person at once; past it, a prompt is denied.
const MAX_WAITING_PROMPTS: usize = 16;

/// Answers a permission prompt of the CLI on its stdin (when stdin is still open:
/// once the run is stopping, the CLI gets no answer and fails the tool call) and
/// returns the events that record it. A prompt for the key's tool-approval plugins,
/// or one that waits for a person (`ask`), is decided and answered by a task of its
/// own, which sends its events itself: the run's loop never waits on a plugin, the
/// database or a person.
fn answer_prompt(
    prompt: &PermissionPrompt,
    context: &PromptContext,
    stdin_lines: Option<&mpsc::Sender<String>>,
    sink: &mpsc::UnboundedSender<RunnerMessage>,
) -> Vec<EventRecord> {
    let admitted = context.waiting.load(Ordering::Relaxed) < MAX_WAITING_PROMPTS;
    let decided = match &context.approvers {
        Some(_) if !admitted => Some((too_many_waiting(), DecidedBy::Mode)),
        Some(_) => None,
        None => task_decision(prompt, &context.tools, context.approvals.mode, admitted),
    };
    let place = PromptRecorder {
        desk: context.desk.clone(),
        run: (context.task_id.clone(), context.run_id.clone(), context.turn),
        recorded: context.recorded.clone(),
    };
    if let Some((decision, by)) = decided {
        answer(stdin_lines, control_response(prompt, &decision, None));
        let asked = place.record(prompt, &decision, by, None);
        return events(prompt, &asked.0, asked.1, &decision, by);
    }
    // Weak handles: a prompt still waiting must not keep the CLI's stdin or the
    // run's event channel open after the run ends.
    let (lines, sink) = (stdin_lines.map(mpsc::Sender::downgrade), sink.downgrade());
    let (desk, prompt, approvers) = (context.desk.clone(), prompt.clone(), context.approvers.clone());
    let (tools, mode) = (context.tools.clone(), context.approvals.mode);
    let (task_id, run_id, turn) = (context.task_id.clone(), context.run_id.clone(), context.turn);
    let timeout = Duration::from_secs(context.approvals.timeout_seconds);
    let counted = WaitingPrompt::new(context.waiting.clone());
    tokio::spawn(async move {
        let _counted = counted;
        let send = |events: Vec<EventRecord>| {
            if let Some(sink) = sink.upgrade() {
                let _ = sink.send(RunnerMessage::Events(events));
            }
        };
        let reply = |line: String| {
            if let Some(lines) = lines.as_ref().and_then(mpsc::WeakSender::upgrade) {
                answer(Some(&lines), line);
            }
        };
        if let Some(approvers) = approvers {
            let (approval, calls) = approvers.decide(&prompt, &tools.place).await;
            send(calls);
            if let ToolApproval::Decided { plugin, decision, updated_input } = approval {
                reply(control_response(&prompt, &decision, updated_input.as_ref()));
                let asked = place.record(&prompt, &decision, DecidedBy::Plugin, updated_input.as_ref());
                return send(events_noting(&prompt, asked, &decision, DecidedBy::Plugin, ("plugin", json!(plugin))));
            }
            // Admitted above: this prompt is already counted among those waiting.
            if let Some((decision, by)) = task_decision(&prompt, &tools, mode, true) {
                reply(control_response(&prompt, &decision, None));
                let asked = place.record(&prompt, &decision, by, None);
                return send(events(&prompt, &asked.0, asked.1, &decision, by));
            }
        }
        // A decision reused from an earlier run is that prompt's row: not recorded again.
        if let Some((earlier, answer)) = desk.earlier_answer(&task_id, &run_id, turn, &prompt).await {
            reply(control_response(&prompt, &answer.decision, answer.updated_input.as_ref()));
            let (asked, noted) = (fresh_prompt_id(), ("reused_from", json!(earlier)));
            return send(events_noting(&prompt, asked, &answer.decision, answer.decided_by, noted));
        }
        let (row, woken) = match desk.open(&task_id, &run_id, turn, &prompt, timeout).await {
            Ok(opened) => opened,
            Err(e) => {
                let decision =
                    Decision::Deny { message: format!("the prompt could not be recorded for approval: {e}") };
                reply(control_response(&prompt, &decision, None));
                let (id, at) = fresh_prompt_id();
                return send(events(&prompt, &id, at, &decision, DecidedBy::Mode));
            }
        };
        let asked = Asked { requested_at: row.requested_at, expires_at: Some(row.expires_at) };
        send(vec![requested_event(&prompt, &row.id, asked)]);
        let Some(answer) = desk.wait(&row, woken).await else { return };
        reply(control_response(&prompt, &answer.decision, answer.updated_input.as_ref()));
        send(vec![resolved_event(&prompt, &row.id, &answer.decision, answer.decided_by)]);
    });
    Vec::new()
}

/// The task's own decision on a prompt (its rules, then its mode); none when it
/// waits for a person. `admitted`: there is room for one more waiting prompt.
fn task_decision(
    prompt: &PermissionPrompt,
    tools: &TaskTools,
    mode: ApprovalMode,
    admitted: bool,
) -> Option<(Decision, DecidedBy)> {
    match verdict(prompt, tools, mode) {
        Verdict::Decided(decision, by) => Some((decision, by)),
        Verdict::Ask if !admitted => Some((too_many_waiting(), DecidedBy::Mode)),
        Verdict::Ask => None,
    }
}

fn too_many_waiting() -> Decision {
    Decision::Deny { message: format!("more than {MAX_WAITING_PROMPTS} permission prompts of this run are waiting") }
}

/// A new prompt id, and the time it was asked.
fn fresh_prompt_id() -> (String, i64) {
    (crate::ids::new_id("apr"), crate::timestamp::now_ms())
}

/// Where a run's prompts decided at once are recorded.
struct PromptRecorder {
    desk: Arc<Desk>,
    /// Task, run and turn.
    run: (String, String, i32),
    recorded: Arc<AtomicUsize>,
}

impl PromptRecorder {
    /// A prompt decided at once: its new id and time, the prompt recorded as decided
    /// in the background (the task's list of prompts has every one, up to
    /// `MAX_RECORDED_AT_ONCE` a run).
    fn record(
        &self,
        prompt: &PermissionPrompt,
        decision: &Decision,
        by: DecidedBy,
        updated_input: Option<&serde_json::Value>,
    ) -> (String, i64) {
        let (id, at) = fresh_prompt_id();
        if self.recorded.fetch_add(1, Ordering::Relaxed) < MAX_RECORDED_AT_ONCE {
            let (task_id, run_id, turn) = &self.run;
            self.desk.record_decided(task_id, run_id, *turn, prompt, (&id, at), decision, (by, updated_input));
        }
        (id, at)
    }
}

/// The events of a prompt decided at once, `approval_resolved` with one more field:
/// the plugin that decided, or the earlier prompt whose decision was reused.
fn events_noting(
    prompt: &PermissionPrompt,
    (id, at): (String, i64),
    decision: &Decision,
    by: DecidedBy,
    (field, value): (&str, serde_json::Value),
) -> Vec<EventRecord> {
    let mut recorded = events(prompt, &id, at, decision, by);
    for event in recorded.iter_mut().filter(|e| e.event_type == "approval_resolved") {
        event.data[field] = value.clone();
    }
    recorded
}

/// One prompt of a run waiting for a person, counted while its task lives.
struct WaitingPrompt(Arc<AtomicUsize>);

impl WaitingPrompt {
    fn new(count: Arc<AtomicUsize>) -> Self {
        count.fetch_add(1, Ordering::Relaxed);
        Self(count)
    }
}

impl Drop for WaitingPrompt {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

/// Writes the turn's Claude Code settings to their file (removing a stale one when
/// there are none); returns the file to give the CLI.
fn write_settings(dirs: &TaskDirs, options: &TaskOptions, config: &ClaudeConfig) -> std::io::Result<Option<PathBuf>> {
    match settings(options, config).map_err(std::io::Error::other)? {
        Some(settings) => {
            std::fs::write(&dirs.settings, settings.to_string())?;
            Ok(Some(dirs.settings.clone()))
        }
        None => match std::fs::remove_file(&dirs.settings) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e),
            _ => Ok(None),
        },
    }
}

/// Writes the turn's `first` lines (the prompt as a stream-json user message, after
/// the task's initialize request if any), then each line that comes through `more`
/// (control requests); stdin closes when `more` is dropped.
async fn feed_stdin(
    mut stdin: UnixStream,
    first: Vec<String>,
    sink: mpsc::UnboundedSender<RunnerMessage>,
    mut more: mpsc::Receiver<String>,
) {
    let written = async {
        stdin.write_all(first.concat().as_bytes()).await?;
        stdin.flush().await
    };
    tokio::select! {
        biased;
        result = written => {
            if let Err(e) = result {
                let _ = sink.send(RunnerMessage::Events(vec![log_event("gateway", &format!("could not send the prompt: {e}"))]));
            }
        }
        // Stopped before the CLI even read its prompt: nothing to interrupt, just close.
        _ = more.recv() => return,
    }
    while let Some(line) = more.recv().await {
        if stdin.write_all(line.as_bytes()).await.is_err() || stdin.flush().await.is_err() {
            return;
        }
    }
}

/// Asks the supervisor to stop the run: it signals Claude's whole process tree,
/// waits the grace period, then kills what is left.
pub(super) fn terminate(child: &Child) {
    if let Some(pid) = child.id() {
        crate::sandbox::signal(pid as i32, libc::SIGTERM);
    }
}

pub(super) async fn wait_exit(child: &mut Child, limit: Duration) -> Option<i32> {
    let status = match tokio::time::timeout(limit, child.wait()).await {
        Ok(status) => status.ok(),
        Err(_) => {
            let _ = child.start_kill();
            child.wait().await.ok()
        }
    }?;
    super::exit_code(status)
}

/// What of `events` the turn's quota still lets through.
fn admit(quota: &Mutex<TurnQuota>, events: Vec<EventRecord>) -> Vec<EventRecord> {
    if events.is_empty() {
        return events;
    }
    quota.lock().unwrap_or_else(|p| p.into_inner()).admit(events)
}

async fn forward_stderr(
    stderr: UnixStream,
    sink: mpsc::UnboundedSender<RunnerMessage>,
    tail: Arc<Mutex<VecDeque<String>>>,
    quota: Arc<Mutex<TurnQuota>>,
) {
    let mut reader = BufReader::new(stderr);
    loop {
        let bytes = match next_line(&mut reader, 8 * 1024).await {
            Ok(Line::Complete(bytes)) | Ok(Line::TooLong { head: bytes, .. }) => bytes,
            Ok(Line::Eof) | Err(_) => break,
        };
        let line = String::from_utf8_lossy(&bytes).trim_end().to_string();
        if let Ok(mut tail) = tail.lock() {
            if tail.len() == STDERR_TAIL_LINES {
                tail.pop_front();
            }
            tail.push_back(line.clone());
        }
        let events = admit(&quota, vec![log_event("stderr", &line)]);
        if !events.is_empty() {
            let _ = sink.send(RunnerMessage::Events(events));
        }
    }
}

/// A test run's environment: no model credential or endpoint of the gateway's, the
/// built-in scripted model instead (which takes any key).
fn test_model_environment(env: Vec<(String, String)>, url: &str) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> =
        env.into_iter().filter(|(name, _)| !crate::sandbox::is_model_credential(name)).collect();
    env.push(("ANTHROPIC_BASE_URL".into(), url.into()));
    env.push(("ANTHROPIC_API_KEY".into(), "ccgate-test-key".into()));
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_run_records_at_most_its_cap_of_prompts_decided_at_once() {
        let (store, _dir) = crate::store::tests::store().await;
        let recorder = PromptRecorder {
            desk: Arc::new(Desk::new(store.clone())),
            run: ("tsk_1".into(), "run_1".into(), 0),
            recorded: Arc::new(AtomicUsize::new(MAX_RECORDED_AT_ONCE - 2)),
        };
        let prompt = PermissionPrompt {
            request_id: "r".into(),
            tool: "Bash".into(),
            input: serde_json::json!({"command": "ls"}),
            reason: None,
        };
        let ids: Vec<String> =
            (0..4).map(|_| recorder.record(&prompt, &Decision::Allow, DecidedBy::Mode, None).0).collect();
        let started = std::time::Instant::now();
        while store.approvals_of("tsk_1", false).await.unwrap().len() < 2 {
            assert!(started.elapsed() < Duration::from_secs(10), "the first two were not recorded");
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        tokio::time::sleep(Duration::from_millis(200)).await; // any over the cap would be written by now
        let mut stored: Vec<String> =
            store.approvals_of("tsk_1", false).await.unwrap().into_iter().map(|a| a.id).collect();
        stored.sort();
        assert_eq!(stored, ids[..2], "past the cap, only the events tell of a prompt");
    }
}
