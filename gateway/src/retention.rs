//! The retention sweeper: deletes the workspaces (with Claude's session state)
//! and the artifacts of tasks finished longer ago than the configured times, and
//! audit log entries and buckets of the usage rollup older than theirs.
//! Each deletion is recorded on the task row first, so a follow-up cannot race
//! it: a task whose workspace expired takes no more turns, and its file
//! endpoints answer 410.
//!
//! With several nodes on one database, one of them leads the sweep (it holds an
//! advisory lock; another takes over when it dies) and deletes from storage;
//! every node deletes its own local copies of expired workspaces.

use std::collections::HashMap;
use std::path::PathBuf;
use std::time::Duration;

use crate::artifacts::ArtifactStore;
use crate::config::{RetentionConfig, Ttl};
use crate::runner::TaskDirs;
use crate::snapshots::Snapshots;
use crate::store::{Expiring, Leadership, Store};

/// Tasks handled per query; a sweep repeats until none are left.
const BATCH: u64 = 200;

/// Rows kept for a time of their own: audit log entries, and the usage rollup.
#[derive(Debug, Clone, Copy)]
enum Rows {
    Audit,
    Usage,
}

/// What is older than this at `now` has outlived `ttl`: a task finished (a row
/// written) before it expires, one at it or later is kept.
fn cutoff(now: i64, ttl: Duration) -> i64 {
    now.saturating_sub(i64::try_from(ttl.as_millis()).unwrap_or(i64::MAX))
}

/// A local copy younger than this is never taken for the leftover of a task the
/// database does not know: its task may still be being created.
const LOCAL_COPY_GRACE: Duration = Duration::from_secs(3600);

pub struct Sweeper {
    pub store: Store,
    pub artifacts: ArtifactStore,
    pub snapshots: Snapshots,
    pub data_dir: PathBuf,
    pub config: RetentionConfig,
    pub leadership: Leadership,
}

impl Sweeper {
    pub async fn run_forever(self) {
        let mut tick = tokio::time::interval(Duration::from_secs(self.config.sweep_interval_seconds));
        loop {
            tick.tick().await;
            if self.snapshots.enabled() {
                match self.sweep_local_copies().await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, "retention sweep deleted local copies of expired workspaces"),
                    Err(e) => tracing::error!(error = %e, "retention sweep of local copies failed"),
                }
            }
            if !self.leadership.is_leader().await {
                continue;
            }
            for (what, ttl) in
                [(Expiring::Workspace, self.config.workspace_ttl), (Expiring::Artifacts, self.config.artifact_ttl)]
            {
                let Ttl(Some(ttl)) = ttl else { continue };
                match self.sweep(what, ttl, crate::timestamp::now_ms()).await {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(expired = n, kind = ?what, "retention sweep deleted files"),
                    Err(e) => tracing::error!(error = %e, kind = ?what, "retention sweep failed"),
                }
            }
            for (what, ttl) in [(Rows::Audit, self.config.audit_ttl), (Rows::Usage, self.config.usage_ttl)] {
                let Ttl(Some(ttl)) = ttl else { continue };
                let cutoff = cutoff(crate::timestamp::now_ms(), ttl);
                let deleted = match what {
                    Rows::Audit => self.store.delete_audit_before(cutoff).await,
                    Rows::Usage => self.store.delete_usage_before(cutoff).await,
                };
                match deleted {
                    Ok(0) => {}
                    Ok(n) => tracing::info!(deleted = n, kind = ?what, "retention sweep deleted old rows"),
                    Err(e) => tracing::error!(error = %e, kind = ?what, "retention sweep of old rows failed"),
                }
            }
        }
    }

    /// Expires `what` of every task finished more than `ttl` before `now`, oldest
    /// first; returns how many.
    pub async fn sweep(&self, what: Expiring, ttl: Duration, now: i64) -> Result<usize, String> {
        let cutoff = cutoff(now, ttl);
        let mut expired = 0;
        loop {
            let ids = self.store.expirable(what, cutoff, BATCH).await.map_err(|e| e.to_string())?;
            if ids.is_empty() {
                return Ok(expired);
            }
            for id in ids {
                if !self.store.mark_expired(what, &id, cutoff).await.map_err(|e| e.to_string())? {
                    continue;
                }
                let deleted = match what {
                    Expiring::Workspace => {
                        let root = TaskDirs::new(&self.data_dir, &id).root;
                        let local = remove_local_copy(root).await;
                        let stored = self.snapshots.delete(&id).await.map_err(|e| e.to_string());
                        local.and(stored)
                    }
                    Expiring::Artifacts => self.artifacts.delete(&id).await.map_err(|e| e.to_string()),
                };
                if let Err(e) = deleted {
                    tracing::error!(task_id = %id, kind = ?what, error = %e, "could not delete expired files");
                }
                expired += 1;
            }
        }
    }

    /// Deletes this node's copies of workspaces that expired (another node's
    /// sweep marked them), and of tasks the database does not know (restored
    /// from a backup older than them); returns how many.
    pub async fn sweep_local_copies(&self) -> Result<usize, String> {
        let tasks = self.data_dir.join("tasks");
        let listed = tokio::task::spawn_blocking(move || local_copies(&tasks)).await.map_err(|e| e.to_string())?;
        let mut deleted = 0;
        for chunk in listed.map_err(|e| e.to_string())?.chunks(BATCH as usize) {
            let ids: Vec<String> = chunk.iter().map(|(id, _)| id.clone()).collect();
            let known: HashMap<String, bool> =
                self.store.workspaces_expired(&ids).await.map_err(|e| e.to_string())?.into_iter().collect();
            for (id, age) in chunk {
                remove_leftovers(&TaskDirs::new(&self.data_dir, id).root).await;
                let delete = match known.get(id) {
                    Some(expired) => *expired,
                    None => *age >= LOCAL_COPY_GRACE,
                };
                if !delete {
                    continue;
                }
                match remove_local_copy(TaskDirs::new(&self.data_dir, id).root).await {
                    Ok(()) => deleted += 1,
                    Err(e) => tracing::error!(task_id = %id, error = %e, "could not delete a local copy"),
                }
            }
        }
        Ok(deleted)
    }
}

/// The task directories under `tasks`, with how long ago each last changed.
fn local_copies(tasks: &std::path::Path) -> std::io::Result<Vec<(String, Duration)>> {
    let entries = match std::fs::read_dir(tasks) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        other => other?,
    };
    let mut copies = Vec::new();
    for entry in entries.flatten() {
        let Ok(id) = entry.file_name().into_string() else { continue };
        if !crate::ids::looks_like(&id, "tsk") {
            continue;
        }
        let age = entry.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok()).unwrap_or_default();
        copies.push((id, age));
    }
    Ok(copies)
}

/// What a node that died while saving or restoring a snapshot left in a task's
/// folder (`*.tar.gz.part`, `restoring-*`), once it is an hour old.
async fn remove_leftovers(root: &std::path::Path) {
    let root = root.to_path_buf();
    let _ = tokio::task::spawn_blocking(move || {
        for entry in std::fs::read_dir(&root).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !(name.starts_with("restoring-") || name.ends_with(".tar.gz.part")) {
                continue;
            }
            let age = entry.metadata().and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok());
            if age.is_some_and(|age| age >= LOCAL_COPY_GRACE) {
                let path = entry.path();
                let _ = std::fs::remove_dir_all(&path).or_else(|_| std::fs::remove_file(&path));
            }
        }
    })
    .await;
}

async fn remove_local_copy(root: PathBuf) -> Result<(), String> {
    tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&root) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
        _ => Ok(()),
    })
    .await
    .unwrap_or_else(|e| Err(e.to_string()))
}
