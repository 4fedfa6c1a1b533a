//! After a run: the turn's artifacts, chosen by the key's artifact plugin when
//! one serves it, else by the task's globs, staged in shared storage; what was
//! left out becomes a gateway notice in the event log.

use std::time::{Duration, Instant};

use super::Queue;
use crate::artifacts::{self, Artifact, ArtifactStore, CollectError, CollectLimits, Collected, Glob, Pick};
use crate::plugins::{ArtifactChoice, Hook, TaskFacts};
use crate::runner::TaskDirs;
use crate::store::EventRecord;
use crate::store::entities::task;
use crate::task::TaskResult;

/// A staged artifact set: committed once `finish_run` has recorded it, else discarded.
pub(super) struct StagedSet {
    pub set: String,
    pub artifacts: Vec<Artifact>,
}

/// Where artifacts go and how much of them.
#[derive(Clone)]
pub struct ArtifactCollection {
    pub store: ArtifactStore,
    pub limits: CollectLimits,
    /// Seconds one collection may spend matching globs.
    pub max_collect_seconds: u64,
}

impl Queue {
    /// The task's artifacts after this run, staged (`None`: it collects none), and
    /// the events to record (plugin calls, notices).
    pub(super) async fn collect_artifacts(
        &self,
        task: &task::Model,
        facts: &TaskFacts,
        result: Option<&TaskResult>,
        time_left: Option<Duration>,
    ) -> (Option<StagedSet>, Vec<EventRecord>) {
        let budget = collect_budget(Duration::from_secs(self.artifacts.max_collect_seconds), time_left);
        let deadline = Instant::now() + budget;
        if !self.plugins.serves(Hook::Artifacts) {
            return self.collect_by_globs(task, deadline).await;
        }
        let dirs = TaskDirs::new(&self.data_dir, &task.id);
        let workspace = dirs.workspace.clone();
        let listed = tokio::task::spawn_blocking(move || artifacts::workspace_files(&workspace))
            .await
            .unwrap_or_else(|e| Err(std::io::Error::other(e)));
        let files = match listed {
            // No workspace (it expired): nothing for a plugin to choose from.
            Ok(_) if !dirs.workspace.is_dir() => return (None, Vec::new()),
            Ok((files, _)) => files,
            Err(e) => return (None, vec![notice(&format!("artifacts could not be collected: {e}"))]),
        };
        let (choice, mut events) =
            self.plugins.choose_artifacts(facts, result, &dirs.workspace, Some(&dirs.baseline), &files).await;
        let picks = match choice {
            ArtifactChoice::BuiltIn => {
                let (staged, notices) = self.collect_by_globs(task, deadline).await;
                events.extend(notices);
                return (staged, events);
            }
            ArtifactChoice::Nothing(why) => {
                events.push(notice(&format!("no artifacts this turn: {why}")));
                return (None, events);
            }
            ArtifactChoice::Chosen { selections, .. } => {
                let sizes: std::collections::HashMap<&str, u64> = files.iter().map(|(p, s)| (p.as_str(), *s)).collect();
                selections
                    .into_iter()
                    .map(|s| Pick {
                        size: s
                            .content
                            .as_ref()
                            .map_or_else(|| sizes.get(s.path.as_str()).copied().unwrap_or(0), |c| c.len() as u64),
                        path: s.path,
                        content: s.content,
                        content_type: s.content_type,
                    })
                    .collect::<Vec<_>>()
            }
        };
        let collection = &self.artifacts;
        let staged = artifacts::stage(&collection.store, &task.id, &dirs.workspace, &picks, &collection.limits).await;
        let (staged, notices) = settle_collection(&task.id, staged);
        events.extend(notices);
        (staged, events)
    }

    /// The files matching the task's globs.
    async fn collect_by_globs(&self, task: &task::Model, deadline: Instant) -> (Option<StagedSet>, Vec<EventRecord>) {
        let patterns = task.artifact_patterns.parsed().map(Vec::as_slice).unwrap_or_default();
        let globs: Vec<Glob> = patterns.iter().filter_map(|p| artifacts::glob(p).ok()).collect();
        if globs.is_empty() {
            return (None, Vec::new());
        }
        let (collection, workspace) = (&self.artifacts, TaskDirs::new(&self.data_dir, &task.id).workspace);
        let collected =
            artifacts::collect(&collection.store, &task.id, &workspace, globs, &collection.limits, deadline).await;
        settle_collection(&task.id, collected)
    }

    /// Commits the staged set when its rows were stored (`recorded`), else drops it.
    pub(super) async fn settle_artifacts(&self, task_id: &str, staged: Option<StagedSet>, recorded: bool) {
        let Some(StagedSet { set, .. }) = staged else { return };
        let store = &self.artifacts.store;
        let settled = if recorded { store.commit(task_id, &set).await } else { store.discard(task_id, &set).await };
        if let Err(e) = settled {
            tracing::error!(task_id = %task_id, error = %e, recorded, "settling collected artifacts failed");
        }
    }
}

/// The least time a collection gets, even when the run used all of the task's: a
/// task that timed out still gets the artifacts a few seconds of matching find.
const MIN_COLLECT: Duration = Duration::from_secs(3);

/// How long matching globs may take: the task's time left (it is work done for the
/// task), within `cap`, and at least `MIN_COLLECT` (or `cap` when smaller).
fn collect_budget(cap: Duration, time_left: Option<Duration>) -> Duration {
    time_left.map_or(cap, |left| left.max(MIN_COLLECT)).min(cap)
}

/// A staged collection and its notices, or the notice of why there is none.
fn settle_collection(
    task_id: &str,
    collected: Result<Collected, CollectError>,
) -> (Option<StagedSet>, Vec<EventRecord>) {
    match collected {
        Ok(collected) => {
            let notices =
                collected.skipped.iter().map(|why| notice(&format!("artifact not collected: {why}"))).collect();
            (Some(StagedSet { set: collected.set, artifacts: collected.artifacts }), notices)
        }
        Err(e) => {
            tracing::error!(task_id = %task_id, error = %e, "collecting artifacts failed");
            (None, vec![notice(&format!("artifacts could not be collected: {e}"))])
        }
    }
}

fn notice(line: &str) -> EventRecord {
    crate::runner::gateway_notice(line)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_collection_gets_the_tasks_time_left_within_its_cap_and_a_floor() {
        let cap = Duration::from_secs(20);
        assert_eq!(collect_budget(cap, None), cap);
        assert_eq!(collect_budget(cap, Some(Duration::from_secs(7))), Duration::from_secs(7));
        assert_eq!(collect_budget(cap, Some(Duration::ZERO)), MIN_COLLECT, "a timed-out task still gets some");
        assert_eq!(collect_budget(Duration::from_secs(1), Some(Duration::ZERO)), Duration::from_secs(1));
        assert_eq!(collect_budget(cap, Some(Duration::from_secs(600))), cap);
    }
}
