//! A spare supervisor: started ahead of the next cold run, already inside that
//! run's cgroups, waiting on stdin for what to run.
//!
//! Joining a cgroup is the slowest step of a cold start that the gateway owns:
//! moving a process between cgroups waits for an RCU grace period when none is
//! under way, 13–20 ms on this project's machines (cgroup v1), before the sandbox
//! can start. A spare pays that while the node is idle. A run that takes it writes
//! its [`Plan`] (the sandbox's command line, environment and working directory) on
//! the spare's stdin and goes on as if it had started the supervisor itself; the
//! next spare is made in the background. A spare is a few MB of a sleeping
//! process and one empty cgroup, and serves one run.

use std::path::PathBuf;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use tokio::process::{Child, Command};

use super::orphans::{self, RunRecord};
use super::run::{Runner, wait_exit};
use super::stdio::{ChildStdio, GatewayStdio, socket_stdio, write_now};
use super::supervisor::Plan;
use crate::sandbox::cgroup::RunCgroup;

/// The spare supervisor of a node, if it has one.
#[derive(Default)]
pub struct SpareSlot {
    ready: Mutex<Option<Spare>>,
    /// A spare is being made.
    making: AtomicBool,
    /// The node runs tasks (`Runner::start_pool`) and is not stopping.
    active: AtomicBool,
}

pub(super) struct Spare {
    pub(super) run_id: String,
    cgroup: RunCgroup,
    child: Child,
    stdio: GatewayStdio,
    record: Option<RunRecord>,
}

impl SpareSlot {
    fn ready(&self) -> std::sync::MutexGuard<'_, Option<Spare>> {
        self.ready.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Runner {
    /// Keeps a spare supervisor ready from now on.
    pub(super) fn start_spares(&self) {
        self.spare.active.store(true, Ordering::Relaxed);
        self.refill_spare();
    }

    /// Stops the spare and makes no more (at shutdown).
    pub(super) async fn stop_spares(&self) {
        self.spare.active.store(false, Ordering::Relaxed);
        let spare = self.spare.ready().take();
        if let Some(spare) = spare {
            spare.discard(self.runs_dir.clone()).await;
        }
    }

    /// The spare, if one is ready and alive; a new one is made in the background.
    pub(super) fn take_spare(&self) -> Option<Spare> {
        if !self.spare.active.load(Ordering::Relaxed) {
            return None;
        }
        let taken = self.spare.ready().take();
        self.refill_spare();
        let taken = taken.and_then(|mut spare| {
            if matches!(spare.child.try_wait(), Ok(None)) {
                return Some(spare);
            }
            tracing::warn!(run_id = %spare.run_id, "the spare supervisor had exited; starting one for the run");
            spare.abandon(self.runs_dir.clone());
            None
        });
        let Some(mut spare) = taken else {
            count_take(false);
            return None;
        };
        if let Some(record) = spare.record.take() {
            // The run records itself, with its task.
            orphans::forget(&self.runs_dir, &record);
        }
        Some(spare)
    }

    fn refill_spare(&self) {
        let slot = &self.spare;
        if !slot.active.load(Ordering::Relaxed) || slot.ready().is_some() || slot.making.swap(true, Ordering::AcqRel) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            slot.making.store(false, Ordering::Release);
            return;
        };
        let runner = self.clone();
        // On a worker thread of the runtime, not the blocking pool: the supervisor's
        // parent-death signal follows the thread that started it, and the blocking
        // pool ends idle threads after a few seconds (the spare, or the run it went
        // on to serve, would get SIGTERM). Making one is quick: the slow cgroup join
        // happens in the spare itself.
        runtime.spawn(async move {
            let made = match runner.make_spare() {
                Ok(Some(made)) => Some(made),
                Ok(None) => {
                    // Runs get no cgroup here: there is nothing to do ahead.
                    runner.spare.active.store(false, Ordering::Relaxed);
                    None
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot start a spare supervisor; runs start their own");
                    None
                }
            };
            // Kept unless the node stopped meanwhile (or, somehow, one is ready).
            let unwanted = made.and_then(|spare| {
                let mut ready = runner.spare.ready();
                if runner.spare.active.load(Ordering::Relaxed) && ready.is_none() {
                    *ready = Some(spare);
                    return None;
                }
                Some(spare)
            });
            if let Some(spare) = unwanted {
                spare.discard(runner.runs_dir.clone()).await;
            }
            runner.spare.making.store(false, Ordering::Release);
        });
    }

    /// Starts a supervisor in the cgroup of a new run id; `None` where runs get no
    /// cgroup (nothing to gain).
    fn make_spare(&self) -> std::io::Result<Option<Spare>> {
        let run_id = crate::ids::new_id("run");
        let Some(cgroup) = self.sandbox.make_cgroup(&run_id)? else { return Ok(None) };
        let started = socket_stdio().and_then(|(child_stdio, stdio)| {
            let child = self.supervisor_command(cgroup.procs_files(), child_stdio).arg("--plan-on-stdin").spawn()?;
            Ok((child, stdio))
        });
        let (child, stdio) = match started {
            Ok(started) => started,
            Err(e) => {
                cgroup.remove();
                return Err(e);
            }
        };
        // Recorded like a run, so that the orphan reaper removes it if the gateway dies.
        let record = self.record_process(&run_id, &run_id, &child).unwrap_or_else(|e| {
            tracing::warn!(error = %e, "cannot record a spare supervisor for the orphan reaper");
            None
        });
        Ok(Some(Spare { run_id, cgroup, child, stdio, record }))
    }

    /// The supervisor's command line up to its program: its grace, its gateway,
    /// the cgroups it joins, and the run's stdio.
    pub(super) fn supervisor_command(&self, cgroup_procs: Vec<PathBuf>, stdio: ChildStdio) -> Command {
        let mut command = Command::new(&self.supervisor_exe);
        command
            .arg("supervise")
            .arg("--grace-ms")
            .arg((self.config.kill_grace_seconds * 1000).to_string())
            .arg("--parent-pid")
            .arg(std::process::id().to_string());
        for procs in cgroup_procs {
            command.arg("--cgroup-procs").arg(procs);
        }
        command
            .env_clear()
            .stdin(stdio.stdin)
            .stdout(stdio.stdout)
            .stderr(stdio.stderr)
            .process_group(0)
            .kill_on_drop(true);
        command
    }
}

/// Counts a cold run that started through a spare (`hit`) or without one.
fn count_take(hit: bool) {
    let outcome = if hit { "hit" } else { "miss" };
    metrics::counter!("ccgate_spare_supervisor_takes_total", "outcome" => outcome).increment(1);
}

impl Spare {
    /// Names the spare after the task that takes it, as runs started without one
    /// are (`<task>-<run>`), where cgroups can be renamed (v1) and the spare has
    /// joined its cgroup (it finds the cgroup by its first name); else it keeps its id.
    pub(super) fn name_for(mut self, task_id: &str) -> Self {
        if !self.child.id().is_some_and(|pid| self.cgroup.holds(pid)) {
            return self;
        }
        let name = format!("{task_id}-{}", self.run_id);
        self.cgroup = match self.cgroup.renamed(&name) {
            Ok(renamed) => {
                self.run_id = name;
                renamed
            }
            Err(unchanged) => unchanged,
        };
        self
    }

    /// Hands `plan` to the spare: it starts the run. On an error the spare is
    /// stopped; its cgroup stays for the run.
    pub(super) fn start(self, plan: &Plan) -> std::io::Result<(Child, GatewayStdio)> {
        // The spare's stdin is empty and the plan a few KiB.
        let written = write_now(&self.stdio.stdin, &plan.encode());
        count_take(written.is_ok());
        written?;
        Ok((self.child, self.stdio))
    }

    /// Stops the spare and removes its cgroup and record, in the background.
    pub(super) fn abandon(self, runs_dir: PathBuf) {
        tokio::spawn(self.discard(runs_dir));
    }

    /// Stops the spare and removes its cgroup and record.
    async fn discard(mut self, runs_dir: PathBuf) {
        // It runs nothing yet: nothing to give a grace period.
        let _ = self.child.start_kill();
        drop(self.stdio);
        wait_exit(&mut self.child, Duration::from_secs(1)).await;
        let (cgroup, record) = (self.cgroup, self.record);
        let _ = tokio::task::spawn_blocking(move || {
            cgroup.remove();
            if let Some(record) = &record {
                orphans::forget(&runs_dir, record);
            }
        })
        .await;
    }
}
