//! The retention sweeper: deletes the workspaces (with Claude's session state)
//! and the artifacts of tasks finished longer ago than the configured times, and
//! audit log entries and buckets of the usage rollup older than theirs.
//! Each deletion is recorded on the task row first, so a follow-up cannot race
//! it: a task whose workspace expired takes no more turns, and its file
//! endpoints answer 410.

use std::path::PathBuf;
use std::time::Duration;

use crate::artifacts::ArtifactStore;
use crate::config::{RetentionConfig, Ttl};
use crate::runner::TaskDirs;
use crate::store::{Expiring, Store};

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

pub struct Sweeper {
    pub store: Store,
    pub artifacts: ArtifactStore,
    pub data_dir: PathBuf,
    pub config: RetentionConfig,
}

impl Sweeper {
    pub async fn run_forever(self) {
        let mut tick = tokio::time::interval(Duration::from_secs(self.config.sweep_interval_seconds));
        loop {
            tick.tick().await;
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
                        tokio::task::spawn_blocking(move || match std::fs::remove_dir_all(&root) {
                            Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(e.to_string()),
                            _ => Ok(()),
                        })
                        .await
                        .unwrap_or_else(|e| Err(e.to_string()))
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
}
