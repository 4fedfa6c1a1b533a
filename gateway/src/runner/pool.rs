//! The warm pool: Claude Code processes started ahead of work, each in its own
//! sandbox, cgroup and empty workspace under `data/pool/<id>/`, reading stream-json
//! on stdin and waiting for a first prompt. The CLI loads its code and reads its
//! settings before that and calls the model for nothing, so a run that takes one
//! skips its start-up.
//!
//! A first turn whose start-up inputs match the pool's ([`Profile`]) takes one: the
//! task's input files move into the waiting workspace, the waiting directories
//! become the task's (the process sees the same paths inside its sandbox either
//! way), the process's model-proxy token is handed to the run, and a replacement
//! starts in the background. Until then the proxy refuses the process every model
//! request. A new process is warmed up first (`warm_up`): it is taken only once
//! it has answered. A process serves one task and is never reused; one that waited
//! `pool.idle_seconds`, exited, or was started from a Claude Code binary that has
//! changed since is stopped and replaced.

use std::collections::VecDeque;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::net::UnixStream;
use tokio::process::Child;

use super::command::{TaskDirs, TurnInput};
use super::orphans::{self, ProcessId, RunRecord};
use super::profile::{Found, Miss, Profile, eligible};
use super::run::{Metering, Runner, TurnRequest};
use super::run::{terminate, wait_exit};
use super::stdio::GatewayStdio;
use super::warm_up::WarmUp;
use crate::sandbox::{Confinement, Launch};
use crate::task::TaskOptions;

/// How often the pool is looked over when nothing wakes it (idle and dead processes).
const LOOK_OVER: Duration = Duration::from_secs(5);
/// A started process that has not answered its warm-up by then is taken anyway (a
/// CLI that ignores the request).
const WARM_UP_WAIT: Duration = Duration::from_secs(10);

/// Warm processes of one profile, and what keeps the pool filled.
pub struct WarmPool {
    size: usize,
    idle: Duration,
    /// What warm processes start with: a task's options when it names none.
    options: TaskOptions,
    profile: Profile,
    /// `data/pool`: each process's directories until a task takes them.
    root: PathBuf,
    ready: Mutex<VecDeque<WarmProcess>>,
    wake: tokio::sync::Notify,
    /// A process exited before any task took it: starting the next waits a while.
    exited: std::sync::atomic::AtomicBool,
}

/// A started process waiting for a task.
pub(super) struct WarmProcess {
    pub run_id: String,
    pub dirs: TaskDirs,
    pub child: Child,
    pub launch: Launch,
    stdin: UnixStream,
    stderr: UnixStream,
    /// Holds stdout until a task takes the process (`None` once it has).
    warm_up: Option<WarmUp>,
    pub started: Instant,
    /// The UTC day it started on: Claude Code's context names today's date, which it
    /// may fix as it starts, so a process from yesterday could tell the model the
    /// wrong one.
    day: String,
    binary: Option<BinaryStamp>,
    record: Option<RunRecord>,
}

/// The Claude Code binary a process was started from, as the file system saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct BinaryStamp {
    device: u64,
    inode: u64,
    len: u64,
    modified_ns: i64,
}

impl BinaryStamp {
    fn of(path: &Path) -> Option<Self> {
        let meta = std::fs::metadata(path).ok()?;
        Some(Self {
            device: meta.dev(),
            inode: meta.ino(),
            len: meta.len(),
            modified_ns: meta.mtime().saturating_mul(1_000_000_000).saturating_add(meta.mtime_nsec()),
        })
    }
}

/// Why a warm process was stopped without serving a task.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Discard {
    Exited,
    BinaryChanged,
    Idle,
    /// Its directories could not become a task's.
    Failed,
    /// The node stopped claiming work (a drain, a shutdown, a shortage).
    Paused,
    /// It started on an earlier (UTC) day.
    DayChanged,
}

impl Discard {
    fn as_str(self) -> &'static str {
        match self {
            Self::Exited => "exited",
            Self::BinaryChanged => "binary_changed",
            Self::Idle => "idle",
            Self::Failed => "failed",
            Self::Paused => "paused",
            Self::DayChanged => "day_changed",
        }
    }
}

/// A process a run takes: the warm one, or one started for it.
pub(super) struct Started {
    pub run_id: String,
    pub child: Child,
    pub launch: Launch,
    pub stdio: GatewayStdio,
    /// How long the process had waited, when it came from the pool.
    pub waited: Option<Duration>,
    /// What was read of stdout before the run (a warm process's): read first.
    pub read_ahead: Vec<u8>,
}

impl WarmPool {
    fn ready(&self) -> std::sync::MutexGuard<'_, VecDeque<WarmProcess>> {
        self.ready.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Runner {
    /// Keeps `size` processes warm, started with a task's default `options`, in
    /// directories under `pools` (one folder per gateway process: several may share a
    /// data directory). Off with a size of 0, and without bubblewrap: only in its
    /// namespace does a run see the same paths wherever its directories are, which
    /// Claude Code's session files depend on.
    pub fn with_pool(mut self, size: usize, idle: Duration, options: Option<TaskOptions>, pools: &Path) -> Self {
        clear_dead_pools(pools);
        let Some(options) = options.filter(|_| size > 0) else { return self };
        if self.sandbox.confinement() != Confinement::Bwrap {
            tracing::info!("the warm pool is off: it needs the bwrap sandbox");
            return self;
        }
        let Some(profile) = Profile::of(&options, &self.config) else {
            tracing::warn!("the warm pool is off: claude.settings cannot take a task's tool rules");
            return self;
        };
        let Some(me) = ProcessId::of(std::process::id()) else {
            tracing::warn!("the warm pool is off: this process's start time cannot be read");
            return self;
        };
        self.pool = Some(Arc::new(WarmPool {
            size,
            idle,
            options,
            profile,
            root: pools.join(format!("{}-{}", me.pid, me.started)),
            ready: Mutex::default(),
            wake: tokio::sync::Notify::new(),
            exited: std::sync::atomic::AtomicBool::new(false),
        }));
        self
    }

    /// Keeps the pool filled until the gateway stops (a no-op without a pool), and
    /// empty while `paused` says so (a drain, a shutdown, a shortage of memory or
    /// disk: warm processes would only take what the node lacks).
    pub fn start_pool(&self, paused: impl Fn() -> bool + Send + Sync + 'static) {
        self.start_spares();
        if self.pool.is_some() {
            tokio::spawn(self.clone().keep_pool(paused));
        }
    }

    async fn keep_pool(self, paused: impl Fn() -> bool) {
        let Some(pool) = self.pool.clone() else { return };
        loop {
            let mut wait = LOOK_OVER;
            if paused() {
                self.empty_pool(&pool, Discard::Paused);
            } else {
                self.look_over(&pool);
                if pool.exited.swap(false, std::sync::atomic::Ordering::Relaxed) {
                    // A CLI that exits as it starts would otherwise be restarted at once, forever.
                    wait = LOOK_OVER * 6;
                } else {
                    while pool.ready().len() < pool.size {
                        match self.start_warm(&pool) {
                            Ok(warm) => pool.ready().push_back(warm),
                            Err(e) => {
                                tracing::warn!(error = %e, "cannot start a warm Claude Code process");
                                wait = LOOK_OVER * 6;
                                break;
                            }
                        }
                    }
                }
            }
            let ready = pool.ready().iter().filter(|warm| has_started(warm)).count();
            metrics::gauge!("ccgate_pool_ready").set(ready as f64);
            tokio::select! {
                () = pool.wake.notified() => {}
                () = tokio::time::sleep(wait) => {}
            }
        }
    }

    /// Stops every warm process, and waits for them (at shutdown).
    pub async fn stop_pool(&self) {
        self.stop_spares().await;
        if let Some(pool) = &self.pool {
            let stopping = self.empty_pool(pool, Discard::Paused);
            let _ = tokio::time::timeout(Duration::from_secs(10), futures_util::future::join_all(stopping)).await;
        }
    }

    fn empty_pool(&self, pool: &WarmPool, why: Discard) -> Vec<tokio::task::JoinHandle<()>> {
        let all: Vec<WarmProcess> = pool.ready().drain(..).collect();
        all.into_iter().map(|warm| self.discard(warm, why, true)).collect()
    }

    /// Stops the processes that cannot serve a task any more.
    fn look_over(&self, pool: &WarmPool) {
        self.sort_out(pool, false);
    }

    /// Stops the processes that cannot serve a task any more and, with `take`, takes
    /// the first whose CLI has started. Returns it, and whether one was still
    /// starting when none had.
    fn sort_out(&self, pool: &WarmPool, take: bool) -> (Option<WarmProcess>, bool) {
        let binary = BinaryStamp::of(&self.claude_bin);
        let (mut taken, mut starting, mut unfit_ones) = (None, false, Vec::new());
        {
            let mut ready = pool.ready();
            let mut kept = VecDeque::new();
            while let Some(mut warm) = ready.pop_front() {
                match unfit(&mut warm, binary.as_ref(), pool.idle) {
                    Some(why) => unfit_ones.push((warm, why)),
                    None if take && taken.is_none() && has_started(&warm) => taken = Some(warm),
                    None => {
                        starting |= taken.is_none();
                        kept.push_back(warm);
                    }
                }
            }
            *ready = kept;
        }
        for (warm, why) in unfit_ones {
            self.discard(warm, why, true);
        }
        (taken, starting)
    }

    fn start_warm(&self, pool: &Arc<WarmPool>) -> std::io::Result<WarmProcess> {
        let id = crate::ids::new_id("warm");
        let dirs = TaskDirs::at(pool.root.join(&id));
        let input = TurnInput { options: &pool.options, resume_session: None };
        let binary = BinaryStamp::of(&self.claude_bin);
        let (child, launch, GatewayStdio { stdin, stdout, stderr }) =
            match self.spawn_process(&dirs, &input, Metering::Parked, &id, None) {
                Ok(spawned) => spawned,
                Err(e) => {
                    let _ = std::fs::remove_dir_all(&dirs.root);
                    return Err(e);
                }
            };
        // Its answer makes the process one to take, and one that may count tokens: the
        // pool looks again then.
        let waker = Arc::downgrade(pool);
        let warming = launch.token.as_ref().map(|token| token.warm_up_flag());
        let warm_up = WarmUp::start(&stdin, stdout, move || {
            metrics::counter!("ccgate_pool_warmed_up_total").increment(1);
            if let Some(warming) = warming {
                warming.store(false, std::sync::atomic::Ordering::Release);
            }
            if let Some(pool) = waker.upgrade() {
                pool.wake.notify_one();
            }
        });
        let warm_up = match warm_up {
            Ok(warm_up) => warm_up,
            Err(e) => {
                // Dropping the child kills it; its sandbox goes with `launch`.
                if let Some(cgroup) = &launch.cgroup {
                    cgroup.remove();
                }
                let _ = std::fs::remove_dir_all(&dirs.root);
                return Err(e);
            }
        };
        // Recorded like a run, so that the orphan reaper stops it if the gateway dies.
        let record = self.record_process(&id, &id, &child).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot record a warm process for the orphan reaper");
            None
        });
        metrics::counter!("ccgate_pool_started_total").increment(1);
        let day = crate::budget::day_of(crate::timestamp::now_ms());
        Ok(WarmProcess {
            run_id: id,
            dirs,
            child,
            launch,
            stdin,
            stderr,
            warm_up: Some(warm_up),
            started: Instant::now(),
            day,
            binary,
            record,
        })
    }

    /// Stops a warm process, and removes its directories unless `remove` is false
    /// (they hold a task's files).
    fn discard(&self, warm: WarmProcess, why: Discard, remove: bool) -> tokio::task::JoinHandle<()> {
        metrics::counter!("ccgate_pool_discarded_total", "reason" => why.as_str()).increment(1);
        tracing::debug!(run_id = %warm.run_id, reason = why.as_str(), "warm Claude Code process stopped");
        if why == Discard::Exited
            && let Some(pool) = &self.pool
        {
            pool.exited.store(true, std::sync::atomic::Ordering::Relaxed);
        }
        let runs_dir = self.runs_dir.clone();
        tokio::spawn(async move {
            let WarmProcess { mut child, launch, dirs, record, .. } = warm;
            terminate(&child);
            wait_exit(&mut child, Duration::from_secs(5)).await;
            let _ = tokio::task::spawn_blocking(move || {
                if let Some(cgroup) = &launch.cgroup {
                    cgroup.remove();
                }
                if remove {
                    let _ = std::fs::remove_dir_all(&dirs.root);
                }
                if let Some(record) = &record {
                    orphans::forget(&runs_dir, record);
                }
                drop(launch);
            })
            .await;
        })
    }

    /// A warm process for `request`'s run, or why it starts cold (`None`: there is
    /// no pool).
    fn take_warm(&self, request: &TurnRequest<'_>) -> Option<Result<WarmProcess, Miss>> {
        let pool = self.pool.as_ref()?;
        let found = Found {
            earlier_session: request.dirs.claude_config.join("projects").exists(),
            git_repository: std::fs::symlink_metadata(request.dirs.workspace.join(".git")).is_ok(),
        };
        let (options, resume) = (request.input.options, request.input.resume_session);
        if let Err(miss) = eligible(&pool.profile, options, resume, found, &self.config) {
            return Some(Err(miss));
        }
        let (taken, starting) = self.sort_out(pool, true);
        // A replacement, or a first one: start it now.
        pool.wake.notify_one();
        Some(taken.ok_or(if starting { Miss::Starting } else { Miss::Empty }))
    }

    /// The process `request`'s run takes: a warm one when the pool has one for it,
    /// else one started now.
    pub(super) async fn start(&self, request: &TurnRequest<'_>) -> std::io::Result<Started> {
        if let Some(taken) = self.take_warm(request) {
            let outcome = match taken {
                Ok(warm) => match self.adopt(warm, request).await {
                    Ok(started) => {
                        metrics::counter!("ccgate_pool_takes_total", "outcome" => "hit", "reason" => "").increment(1);
                        return Ok(started);
                    }
                    Err(HandOverError::Undone(e)) => {
                        tracing::warn!(task_id = request.task_id, error = %e, "could not hand a warm process to a run; starting one");
                        "failed"
                    }
                    Err(e @ HandOverError::Stranded { .. }) => {
                        // Started cold it would run without its files: the run fails instead.
                        tracing::error!(task_id = request.task_id, error = %e, "a warm process's hand-over failed half-way");
                        metrics::counter!("ccgate_pool_takes_total", "outcome" => "miss", "reason" => "failed")
                            .increment(1);
                        return Err(std::io::Error::other(e.to_string()));
                    }
                },
                Err(miss) => miss.as_str(),
            };
            metrics::counter!("ccgate_pool_takes_total", "outcome" => "miss", "reason" => outcome).increment(1);
        }
        let (run_id, child, launch, stdio) = self.spawn(request)?;
        Ok(Started { run_id, child, launch, stdio, waited: None, read_ahead: Vec::new() })
    }

    /// Makes a warm process `request`'s: its directories become the task's, with
    /// the task's input files in its workspace, and its model requests are metered
    /// for the run.
    async fn adopt(&self, mut warm: WarmProcess, request: &TurnRequest<'_>) -> Result<Started, HandOverError> {
        // Before anything moves: without its stdout the process is of no use.
        let Some(warm_up) = warm.warm_up.take() else {
            self.discard(warm, Discard::Failed, true);
            return Err(HandOverError::Undone(std::io::Error::other("the warm process's output was taken before")));
        };
        let (stdout, read_ahead) = match warm_up.finish().await {
            Ok(stdout) => stdout,
            Err(e) => {
                self.discard(warm, Discard::Failed, true);
                return Err(HandOverError::Undone(std::io::Error::other(format!("reading the warm-up failed: {e}"))));
            }
        };
        let test = match request.test.then(|| self.test_upstream()).transpose() {
            Ok(test) => test,
            Err(e) => {
                self.discard(warm, Discard::Failed, true);
                return Err(HandOverError::Undone(e));
            }
        };
        if let Err(e) = hand_over(&warm.dirs, request.dirs) {
            let remove = matches!(e, HandOverError::Undone(_));
            self.discard(warm, Discard::Failed, remove);
            return Err(e);
        }
        if let Some(token) = &mut warm.launch.token {
            token.assign(request.tokens.cloned(), test);
            if let Some(slot) = request.live_meter {
                let _ = slot.set(token.meter.clone());
            }
        }
        if let Some(record) = warm.record.take() {
            orphans::forget(&self.runs_dir, &record);
        }
        let waited = warm.started.elapsed();
        Ok(Started {
            run_id: warm.run_id,
            child: warm.child,
            launch: warm.launch,
            stdio: GatewayStdio { stdin: warm.stdin, stdout, stderr: warm.stderr },
            waited: Some(waited),
            read_ahead,
        })
    }
}

/// Whether the CLI in `warm` has started and is warmed up.
fn has_started(warm: &WarmProcess) -> bool {
    ready_since(warm).is_some()
}

/// Since when `warm` may be taken: since it answered the warm-up request, or, for a
/// CLI that does not answer, since it had [`WARM_UP_WAIT`] after it started and wrote
/// its configuration (at start-up, inside its sandbox: before that, the sandbox may
/// not have mounted the process's directories yet, and moving them would leave it
/// without).
fn ready_since(warm: &WarmProcess) -> Option<Instant> {
    if let Some(at) = warm.warm_up.as_ref().and_then(WarmUp::answered_at) {
        return Some(at);
    }
    let waited = warm.started + WARM_UP_WAIT;
    let configured = || std::fs::read_dir(&warm.dirs.claude_config).is_ok_and(|mut entries| entries.next().is_some());
    (Instant::now() >= waited && configured()).then_some(waited)
}

/// Removes the pool folders of gateway processes that are gone (their processes
/// died with them), and what an older layout left there.
fn clear_dead_pools(pools: &Path) {
    for entry in std::fs::read_dir(pools).into_iter().flatten().flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        let owner = name
            .split_once('-')
            .and_then(|(pid, started)| Some(ProcessId { pid: pid.parse().ok()?, started: started.parse().ok()? }));
        if owner.is_some_and(|owner| owner.alive()) {
            continue;
        }
        if let Err(e) = std::fs::remove_dir_all(entry.path()) {
            tracing::warn!(error = %e, path = %entry.path().display(), "cannot clear a dead gateway's warm pool");
        }
    }
}

/// Why `warm` cannot serve a task now, if it cannot.
fn unfit(warm: &mut WarmProcess, binary: Option<&BinaryStamp>, idle: Duration) -> Option<Discard> {
    if !matches!(warm.child.try_wait(), Ok(None)) {
        return Some(Discard::Exited);
    }
    if warm.binary.as_ref() != binary {
        return Some(Discard::BinaryChanged);
    }
    if warm.day != crate::budget::day_of(crate::timestamp::now_ms()) {
        return Some(Discard::DayChanged);
    }
    // Idle from when it could first be taken: a short `pool.idle_seconds` still leaves
    // time to warm up.
    let since = ready_since(warm).unwrap_or(warm.started + WARM_UP_WAIT);
    (since.elapsed() >= idle).then_some(Discard::Idle)
}

/// A hand-over that did not happen.
#[derive(Debug, thiserror::Error)]
enum HandOverError {
    /// Undone: the task's input files are where they were.
    #[error("{0}")]
    Undone(std::io::Error),
    /// The input files could not be put back: they are in the warm workspace.
    #[error("{error}; the task's input files were left in {}", .workspace.display())]
    Stranded { error: std::io::Error, workspace: PathBuf },
}

/// Makes the warm directories the task's: first its state (home, settings), then
/// its workspace, into which the task's input files move. A failure before the
/// workspace is the task's puts the inputs back.
fn hand_over(warm: &TaskDirs, task: &TaskDirs) -> Result<(), HandOverError> {
    use HandOverError::Undone;
    // A first turn's state holds nothing of its own (`eligible` saw no session).
    match std::fs::remove_dir_all(&task.state) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(Undone(e)),
        _ => {}
    }
    std::fs::create_dir_all(&task.workspace).map_err(Undone)?;
    std::fs::rename(&warm.state, &task.state).map_err(Undone)?;
    let inputs = std::fs::read_dir(&task.workspace).and_then(|d| d.collect::<Result<Vec<_>, _>>()).map_err(Undone)?;
    let mut moved: Vec<std::ffi::OsString> = Vec::new();
    let mut done = Ok(());
    for entry in inputs {
        if let Err(e) = std::fs::rename(entry.path(), warm.workspace.join(entry.file_name())) {
            done = Err(e);
            break;
        }
        moved.push(entry.file_name());
    }
    let done = done
        .and_then(|()| std::fs::remove_dir(&task.workspace))
        .and_then(|()| std::fs::rename(&warm.workspace, &task.workspace));
    if let Err(error) = done {
        let back = std::fs::create_dir_all(&task.workspace).and_then(|()| {
            moved.iter().try_for_each(|name| std::fs::rename(warm.workspace.join(name), task.workspace.join(name)))
        });
        return Err(match back {
            Ok(()) => Undone(error),
            Err(_) => HandOverError::Stranded { error, workspace: warm.workspace.clone() },
        });
    }
    if let Err(e) = std::fs::remove_dir(&warm.root) {
        tracing::warn!(error = %e, path = %warm.root.display(), "a warm process's directory stays behind");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handing_over_puts_the_inputs_in_the_warm_workspace_and_makes_it_the_tasks() {
        let data = tempfile::tempdir().unwrap();
        let warm = TaskDirs::at(data.path().join("pool/warm_1"));
        warm.create().unwrap();
        std::fs::write(&warm.settings, "{}").unwrap();
        let marker = warm.workspace.metadata().unwrap().ino();
        let task = TaskDirs::new(data.path(), "tsk_1");
        std::fs::create_dir_all(task.workspace.join("src")).unwrap();
        std::fs::write(task.workspace.join("src/main.rs"), "fn main() {}").unwrap();
        std::fs::write(task.workspace.join("README"), "hi").unwrap();
        std::fs::create_dir_all(&task.tmp).unwrap();

        hand_over(&warm, &task).unwrap();
        assert_eq!(task.workspace.metadata().unwrap().ino(), marker, "the directory the process works in");
        assert_eq!(std::fs::read_to_string(task.workspace.join("src/main.rs")).unwrap(), "fn main() {}");
        assert_eq!(std::fs::read_to_string(task.workspace.join("README")).unwrap(), "hi");
        assert_eq!(std::fs::read_to_string(&task.settings).unwrap(), "{}", "the warm state is the task's");
        assert!(task.claude_config.is_dir());
        assert!(!warm.root.exists());
    }

    #[test]
    fn a_task_without_input_files_takes_the_warm_directories_as_they_are() {
        let data = tempfile::tempdir().unwrap();
        let warm = TaskDirs::at(data.path().join("pool/1-2/warm_1"));
        warm.create().unwrap();
        let task = TaskDirs::new(data.path(), "tsk_1");
        hand_over(&warm, &task).unwrap();
        assert!(task.workspace.is_dir() && task.claude_config.is_dir());
        assert!(!warm.root.exists());
    }

    #[test]
    fn a_hand_over_that_fails_leaves_the_inputs_where_they_were() {
        let data = tempfile::tempdir().unwrap();
        let warm = TaskDirs::at(data.path().join("pool/warm_1"));
        warm.create().unwrap();
        // A name the warm workspace already holds as a non-empty directory: the rename fails.
        std::fs::create_dir_all(warm.workspace.join("b/inside")).unwrap();
        let task = TaskDirs::new(data.path(), "tsk_1");
        std::fs::create_dir_all(&task.workspace).unwrap();
        std::fs::write(task.workspace.join("a"), "1").unwrap();
        std::fs::create_dir_all(task.workspace.join("b")).unwrap();
        std::fs::write(task.workspace.join("b/file"), "2").unwrap();

        assert!(hand_over(&warm, &task).is_err());
        assert_eq!(std::fs::read_to_string(task.workspace.join("a")).unwrap(), "1");
        assert_eq!(std::fs::read_to_string(task.workspace.join("b/file")).unwrap(), "2");
        assert!(!warm.workspace.join("a").exists());
    }
}
