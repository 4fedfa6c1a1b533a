//! Runs left behind by an earlier life of the gateway. Every run is recorded in
//! `<data>/runs/<task>.json` while it lives: the gateway's and the supervisor's
//! pid with their start times (so a recycled pid is never mistaken for ours) and
//! the run's own `CCGATE_RUN=<run id>` variable, which every process of the run
//! inherits (sandboxed ones too, where paths like `CLAUDE_CONFIG_DIR` are the same
//! for every run). The
//! supervisor normally cleans up even when the gateway dies; if it was killed as
//! well, the next start finds the record of a dead gateway and kills every
//! process that still carries the run's environment — `setsid` daemons included.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// A process, told apart from a later one with the same pid by its start time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcessId {
    pub pid: u32,
    /// Clock ticks after boot (`/proc/<pid>/stat`, field 22).
    pub started: u64,
}

impl ProcessId {
    pub fn of(pid: u32) -> Option<Self> {
        start_ticks(pid).map(|started| Self { pid, started })
    }

    pub(crate) fn alive(&self) -> bool {
        start_ticks(self.pid) == Some(self.started)
    }
}

/// What is recorded about a live run.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunRecord {
    pub task_id: String,
    /// The machine and boot the pids belong to (a data directory may be shared).
    pub host: String,
    pub boot_id: String,
    pub gateway: ProcessId,
    pub supervisor: ProcessId,
    /// The run's id, in every process's environment as `CCGATE_RUN`.
    pub run_id: String,
}

/// The variable that marks every process of a run.
pub const RUN_VARIABLE: &str = "CCGATE_RUN";

impl RunRecord {
    pub fn new(task_id: &str, gateway: ProcessId, supervisor: ProcessId, run_id: &str) -> Self {
        let (host, boot_id) = (host(), boot_id());
        Self { task_id: task_id.to_string(), host, boot_id, gateway, supervisor, run_id: run_id.to_string() }
    }
}

/// The record file of a run: one per task and gateway process, so a gateway only
/// ever removes its own.
pub fn record_path(runs_dir: &Path, task_id: &str, gateway: ProcessId) -> PathBuf {
    runs_dir.join(format!("{task_id}.{}-{}.json", gateway.pid, gateway.started))
}

/// The machine's hostname.
pub fn host() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default().trim().to_string()
}

fn boot_id() -> String {
    std::fs::read_to_string("/proc/sys/kernel/random/boot_id").unwrap_or_default().trim().to_string()
}

/// Writes the record of a run that just started.
pub fn record(runs_dir: &Path, record: &RunRecord) -> std::io::Result<()> {
    std::fs::create_dir_all(runs_dir)?;
    let path = record_path(runs_dir, &record.task_id, record.gateway);
    let partial = path.with_extension("partial");
    std::fs::write(&partial, serde_json::to_vec(record).map_err(std::io::Error::other)?)?;
    std::fs::rename(partial, path)
}

/// Forgets a run that ended.
pub fn forget(runs_dir: &Path, record: &RunRecord) {
    let _ = std::fs::remove_file(record_path(runs_dir, &record.task_id, record.gateway));
}

/// Kills every process still carrying the run's environment (after its supervisor
/// had to be killed, its descendants may have been left to init).
pub fn kill_leftovers(run_id: &str) -> usize {
    let marker = format!("{RUN_VARIABLE}={run_id}");
    let pids = processes_with_env(marker.as_bytes());
    for pid in &pids {
        crate::sandbox::signal(*pid as i32, libc::SIGKILL);
    }
    pids.len()
}

/// What the reaper found of runs whose gateway is gone.
#[derive(Debug, Default)]
pub struct Reaped {
    /// Tasks whose runs still had processes (now killed).
    pub tasks: Vec<String>,
    /// Every such run's id: what else is named after it (its cgroup) is left to remove.
    pub runs: Vec<String>,
}

/// Kills what is left of runs whose gateway is gone. Records of a gateway that is
/// still alive (another node sharing the data directory) are left alone.
pub fn reap(runs_dir: &Path) -> Reaped {
    let Ok(entries) = std::fs::read_dir(runs_dir) else { return Reaped::default() };
    let (here, this_boot) = (host(), boot_id());
    let mut reaped = Reaped::default();
    for entry in entries.flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|e| e != "json") {
            continue; // another gateway may be writing it
        }
        let Some(record) = std::fs::read(&path).ok().and_then(|b| serde_json::from_slice::<RunRecord>(&b).ok()) else {
            continue;
        };
        if record.host != here {
            continue; // another machine's run: not ours to judge
        }
        if record.boot_id != this_boot {
            let _ = std::fs::remove_file(&path); // its processes died with the machine
            continue;
        }
        if record.gateway.alive() {
            continue;
        }
        let mut killed = kill_leftovers(&record.run_id);
        if record.supervisor.alive() {
            // The dead gateway's own supervisor, checked by pid and start time.
            crate::sandbox::signal(record.supervisor.pid as i32, libc::SIGKILL);
            killed += 1;
        }
        if killed > 0 {
            tracing::warn!(task_id = %record.task_id, processes = killed, "killed processes of a run left by an earlier gateway");
            reaped.tasks.push(record.task_id.clone());
        }
        reaped.runs.push(record.run_id);
        let _ = std::fs::remove_file(&path);
    }
    reaped
}

/// Pids of this user's processes whose environment contains `entry` exactly.
fn processes_with_env(entry: &[u8]) -> Vec<u32> {
    let mut found = Vec::new();
    let own = std::process::id();
    for proc_entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = proc_entry.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if pid == own {
            continue;
        }
        let Ok(environ) = std::fs::read(proc_entry.path().join("environ")) else { continue };
        if environ.split(|b| *b == 0).any(|variable| variable == entry) {
            found.push(pid);
        }
    }
    found
}

/// A process's start time from `/proc/<pid>/stat`.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name (field 2) may contain spaces and parentheses: skip past its end.
    let after_name = &stat[stat.rfind(')')? + 1..];
    after_name.split_whitespace().nth(19)?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_process_is_known_by_pid_and_start_time() {
        let me = ProcessId::of(std::process::id()).unwrap();
        assert!(me.alive());
        assert!(!ProcessId { started: me.started + 1, ..me }.alive(), "a recycled pid is not ours");
    }

    #[test]
    fn records_of_live_gateways_are_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let me = ProcessId::of(std::process::id()).unwrap();
        let record = RunRecord::new("tsk_1", me, me, "tsk_1-run_nowhere");
        super::record(dir.path(), &record).unwrap();
        let reaped = reap(dir.path());
        assert!(reaped.tasks.is_empty() && reaped.runs.is_empty());
        assert!(record_path(dir.path(), "tsk_1", me).exists(), "kept while its gateway lives");
        forget(dir.path(), &record);
        assert!(!record_path(dir.path(), "tsk_1", me).exists());
        let elsewhere = RunRecord { host: "another-host".into(), gateway: ProcessId { started: 1, ..me }, ..record };
        super::record(dir.path(), &elsewhere).unwrap();
        let reaped = reap(dir.path());
        assert!(reaped.tasks.is_empty() && reaped.runs.is_empty());
        assert!(record_path(dir.path(), "tsk_1", elsewhere.gateway).exists(), "another machine's record is left alone");
    }
}
