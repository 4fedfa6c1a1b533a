//! After a run: the task's artifact globs applied to its workspace, on a blocking
//! thread; what was left out becomes a gateway notice in the event log.

use std::sync::Arc;

use super::Queue;
use crate::artifacts::{self, Artifact, ArtifactStore, CollectLimits, Glob};
use crate::runner::TaskDirs;
use crate::store::EventRecord;
use crate::store::entities::task;

/// A staged artifact set: committed once `finish_run` has recorded it, else discarded.
pub(super) struct StagedSet {
    pub set: String,
    pub artifacts: Vec<Artifact>,
}

/// Where artifacts go and how much of them.
#[derive(Clone)]
pub struct ArtifactCollection {
    pub store: Arc<dyn ArtifactStore>,
    pub limits: CollectLimits,
}

impl Queue {
    /// The task's artifacts after this run, staged (`None`: it collects none), and notices.
    pub(super) async fn collect_artifacts(&self, task: &task::Model) -> (Option<StagedSet>, Vec<EventRecord>) {
        let patterns: Vec<String> = serde_json::from_str(&task.artifact_patterns).unwrap_or_default();
        let globs: Vec<Glob> = patterns.iter().filter_map(|p| Glob::parse(p).ok()).collect();
        if globs.is_empty() {
            return (None, Vec::new());
        }
        let collection = self.artifacts.clone();
        let (id, workspace) = (task.id.clone(), TaskDirs::new(&self.data_dir, &task.id).workspace);
        let collected = tokio::task::spawn_blocking(move || {
            artifacts::collect(collection.store.as_ref(), &id, &workspace, &globs, &collection.limits)
        })
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        match collected {
            Ok(collected) => {
                let notices = collected
                    .skipped
                    .iter()
                    .map(|why| crate::runner::gateway_notice(&format!("artifact not collected: {why}")))
                    .collect();
                (Some(StagedSet { set: collected.set, artifacts: collected.artifacts }), notices)
            }
            Err(e) => {
                tracing::error!(task_id = %task.id, error = %e, "collecting artifacts failed");
                (None, vec![crate::runner::gateway_notice(&format!("artifacts could not be collected: {e}"))])
            }
        }
    }

    /// Commits the staged set when its rows were stored (`recorded`), else drops it.
    pub(super) async fn settle_artifacts(&self, task_id: &str, staged: Option<StagedSet>, recorded: bool) {
        let Some(StagedSet { set, .. }) = staged else { return };
        let (store, id) = (self.artifacts.store.clone(), task_id.to_string());
        let settled =
            tokio::task::spawn_blocking(
                move || {
                    if recorded { store.commit(&id, &set) } else { store.discard(&id, &set) }
                },
            )
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        if let Err(e) = settled {
            tracing::error!(task_id = %task_id, error = %e, recorded, "settling collected artifacts failed");
        }
    }
}
