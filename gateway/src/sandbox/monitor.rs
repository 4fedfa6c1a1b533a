//! Watching a run's resources while it runs: the cgroup's counters where there is
//! one (memory OOM kills, refused forks, CPU time), else the resident memory and
//! process count of the run's process tree, and always the workspace's size. The
//! first limit exceeded ends the run as `failed` / `resource_limit`, naming it.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::cgroup::RunCgroup;

/// The limit a run went past.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceeded {
    /// `memory`, `processes`, `cpu`, `disk`, or `tokens` (the key's token budget).
    pub limit: &'static str,
    pub message: String,
}

/// The limits watched.
#[derive(Debug, Clone, Copy)]
pub struct Watched {
    pub memory_bytes: u64,
    pub max_processes: u64,
    pub cpu_seconds: u64,
    pub disk_bytes: u64,
}

/// One run's watcher.
pub struct Monitor {
    pub cgroup: Option<Arc<RunCgroup>>,
    /// The run's topmost process (the supervisor).
    pub root_pid: u32,
    /// The run's writable host directories (workspace, home, host tmp), counted together.
    pub disk: Vec<PathBuf>,
    pub limits: Watched,
    pub interval: Duration,
}

/// Workspace sizes are measured every this many polls (walking a tree costs more).
const DISK_EVERY: u32 = 4;

impl Monitor {
    /// Polls until a limit is exceeded (the future never ends otherwise).
    pub async fn watch(this: Arc<Self>) -> Exceeded {
        let mut tick: u32 = 0;
        loop {
            tokio::time::sleep(this.interval).await;
            tick = tick.wrapping_add(1);
            let check_disk = tick % DISK_EVERY == 1;
            let monitor = this.clone();
            let found = tokio::task::spawn_blocking(move || monitor.check(check_disk)).await.ok().flatten();
            if let Some(exceeded) = found {
                return exceeded;
            }
        }
    }

    /// One look at the run's counters (and its workspace when `check_disk`).
    pub fn check(&self, check_disk: bool) -> Option<Exceeded> {
        let mib = |bytes: u64| bytes / (1024 * 1024);
        let limits = &self.limits;
        if let Some(cgroup) = &self.cgroup {
            let sample = cgroup.sample();
            if sample.oom_kills > 0 {
                return Some(Exceeded {
                    limit: "memory",
                    message: format!("the run reached its memory limit of {} MiB", mib(limits.memory_bytes)),
                });
            }
            if sample.pids_refused > 0 {
                return Some(Exceeded {
                    limit: "processes",
                    message: format!("the run reached its limit of {} processes", limits.max_processes),
                });
            }
            if sample.cpu_usec / 1_000_000 >= limits.cpu_seconds {
                return Some(Exceeded {
                    limit: "cpu",
                    message: format!("the run used its {} CPU seconds", limits.cpu_seconds),
                });
            }
        } else {
            let (memory, processes) = tree_usage(self.root_pid);
            if memory > limits.memory_bytes {
                return Some(Exceeded {
                    limit: "memory",
                    message: format!(
                        "the run used {} MiB, over its limit of {} MiB",
                        mib(memory),
                        mib(limits.memory_bytes)
                    ),
                });
            }
            if processes > limits.max_processes {
                return Some(Exceeded {
                    limit: "processes",
                    message: format!("the run had {processes} processes, over its limit of {}", limits.max_processes),
                });
            }
        }
        if check_disk {
            let used = self.disk.iter().map(|dir| tree_bytes(dir, limits.disk_bytes)).sum::<u64>();
            if used > limits.disk_bytes {
                return Some(Exceeded {
                    limit: "disk",
                    message: format!("the run's files hold over {} MiB, its limit", mib(limits.disk_bytes)),
                });
            }
        }
        None
    }
}

/// Resident bytes and threads of `root` and all its live descendants.
fn tree_usage(root: u32) -> (u64, u64) {
    let page = 4096u64;
    let (mut memory, mut threads) = (0u64, 0u64);
    let tree = crate::runner::supervisor::descendants_of(root as i32);
    for pid in tree.into_iter().chain([root as i32]) {
        let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap_or_default();
        memory += statm.split_whitespace().nth(1).and_then(|r| r.parse::<u64>().ok()).unwrap_or(0) * page;
        threads += std::fs::read_dir(format!("/proc/{pid}/task")).map(|d| d.count() as u64).unwrap_or(1);
    }
    (memory, threads)
}

/// Bytes of regular files under `dir` (links not followed); stops counting past `cap`.
fn tree_bytes(dir: &Path, cap: u64) -> u64 {
    let mut total = 0u64;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let Ok(kind) = entry.file_type() else { continue };
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() {
                use std::os::unix::fs::MetadataExt;
                // Allocated blocks, so sparse files count what they really use.
                total += entry.metadata().map(|m| m.blocks() * 512).unwrap_or(0);
                if total > cap {
                    return total;
                }
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_bytes_are_counted_without_following_links() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a"), vec![1u8; 64 * 1024]).unwrap();
        std::os::unix::fs::symlink("/usr", dir.path().join("link")).unwrap();
        let used = tree_bytes(dir.path(), u64::MAX);
        assert!((64 * 1024..=80 * 1024).contains(&used), "{used}");
        assert!(tree_bytes(dir.path(), 1000) > 1000, "stops once past the cap");
    }

    #[test]
    fn this_process_tree_is_measured() {
        let (memory, threads) = tree_usage(std::process::id());
        assert!(memory > 1024 * 1024 && threads >= 1, "{memory} {threads}");
    }
}
