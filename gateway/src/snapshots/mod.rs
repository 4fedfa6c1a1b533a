//! Workspace snapshots in shared storage, so that a task is not tied to the node
//! that ran it: after each turn (and, for input files, when the task is created)
//! the node packs the task's workspace and Claude's session transcripts into one
//! object, and the database names it as the task's latest snapshot. A node that
//! claims the task's next turn, or serves its files, and whose local copy is not
//! that snapshot restores it first. The local copy is a cache.
//!
//! # Layout
//! - `pack`: the archive: packing a local copy, unpacking one with the checks of an upload.
//! - this file: the objects in storage, `workspaces/<task>/<snapshot>.tar.gz`, and
//!   the marker (`<task>/snapshot` in the data directory, out of every run's
//!   reach) naming the snapshot the local copy is.
//!
//! A snapshot object is written whole under a new name, and only then recorded
//! (fenced, by the run that holds the task) in the database; a run that lost its
//! task deletes what it wrote, and a replaced snapshot is deleted once the new
//! one is recorded. So a reader never sees half a snapshot, and a node that
//! lost its lease cannot replace the state of the node that took over.

mod pack;

use std::path::PathBuf;
use std::sync::Arc;

use tokio::sync::Mutex;

pub use self::pack::{Manifest, PackError, Packed, SnapshotLimits};
use crate::queue::ByTask;
use crate::runner::TaskDirs;
use crate::storage::{Key, Storage, StorageError};
use crate::workspace::inputs::Upload;

/// The top-level folder of snapshots in storage.
const TOP: &str = "workspaces";
/// The marker file in a task's directory.
const MARKER: &str = "snapshot";

/// Why a snapshot could not be saved or restored.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error(transparent)]
    Storage(#[from] StorageError),
    #[error(transparent)]
    Pack(#[from] PackError),
    #[error("snapshot I/O failed: {0}")]
    Io(#[from] std::io::Error),
}

impl SnapshotError {
    /// Whether trying again later may work: storage that did not answer.
    pub fn is_unavailable(&self) -> bool {
        matches!(self, Self::Storage(StorageError::Unavailable { .. }))
    }
}

/// A task's local copy, made current by [`Snapshots::ensure_local`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LocalCopy {
    /// It is the task's latest snapshot, which holds `session_id`: a turn run on
    /// it resumes that session, with its own prompt.
    Snapshot { session_id: Option<String> },
    /// Snapshots are off, the task has none, or a run here went past it: the copy
    /// goes with the session the task row names.
    AsStored,
}

/// Saving and restoring snapshots; does nothing when they are turned off.
#[derive(Clone)]
pub struct Snapshots {
    inner: Option<Arc<Inner>>,
}

struct Inner {
    storage: Storage,
    data_dir: PathBuf,
    limits: SnapshotLimits,
    /// One restore of a task's local copy at a time on this node.
    restoring: ByTask<Mutex<()>>,
}

impl Snapshots {
    /// Snapshots turned off: tasks keep their files on the node that ran them.
    pub fn off() -> Self {
        Self { inner: None }
    }

    pub fn new(storage: Storage, data_dir: PathBuf, limits: SnapshotLimits) -> Self {
        Self { inner: Some(Arc::new(Inner { storage, data_dir, limits, restoring: ByTask::default() })) }
    }

    pub fn enabled(&self) -> bool {
        self.inner.is_some()
    }

    /// Packs the task's local copy and stores it under a new name, which it
    /// returns (`None` when snapshots are off). The snapshot is not the task's
    /// until the database records it ([`Self::committed`]), or it is discarded.
    pub async fn save(&self, task_id: &str, manifest: Manifest) -> Result<Option<String>, SnapshotError> {
        let Some(inner) = &self.inner else { return Ok(None) };
        let dirs = TaskDirs::new(&inner.data_dir, task_id);
        let name = crate::ids::new_id("snp");
        let file = dirs.root.join(format!("{name}.tar.gz.part"));
        let limits = inner.limits;
        let (packing, target) = (dirs.clone(), file.clone());
        let packed = tokio::task::spawn_blocking(move || {
            std::fs::create_dir_all(&packing.root)?;
            pack::pack(&packing, &manifest, limits, &target)
        })
        .await
        .map_err(|e| SnapshotError::Io(std::io::Error::other(e)));
        let stored = match packed {
            Ok(Ok(_)) => match tokio::fs::File::open(&file).await {
                Ok(reader) => inner.storage.put(&key(task_id, &name), reader).await.map(drop).map_err(Into::into),
                Err(e) => Err(e.into()),
            },
            Ok(Err(e)) => Err(e.into()),
            Err(e) => Err(e),
        };
        let _ = tokio::fs::remove_file(&file).await;
        stored.map(|()| Some(name))
    }

    /// Deletes a saved snapshot the database did not record.
    pub async fn discard(&self, task_id: &str, name: &str) {
        let Some(inner) = &self.inner else { return };
        if let Err(e) = inner.storage.delete(&key(task_id, name)).await {
            tracing::warn!(task_id, snapshot = name, error = %e, "could not delete an unused snapshot");
        }
    }

    /// The database recorded `name` (holding `session_id`) as the task's snapshot
    /// in place of `previous`: the local copy is that snapshot, and the replaced one
    /// is deleted.
    pub async fn committed(&self, task_id: &str, name: &str, session_id: Option<String>, previous: Option<String>) {
        let Some(inner) = &self.inner else { return };
        let marker = Marker { snapshot: name.to_string(), session_id, changed: false };
        if let Err(e) = write_marker(&TaskDirs::new(&inner.data_dir, task_id), &marker).await {
            tracing::warn!(task_id, error = %e, "could not mark the local copy's snapshot");
        }
        if let Some(previous) = previous.filter(|p| p != name) {
            self.discard(task_id, &previous).await;
        }
    }

    /// A run begins in the local copy: from now on it is ahead of its snapshot
    /// (a rerun here continues from it, with the session the task row names).
    pub async fn mark_changed(&self, task_id: &str) {
        let Some(inner) = &self.inner else { return };
        let dirs = TaskDirs::new(&inner.data_dir, task_id);
        let Some(marker) = read_marker(&dirs).await else { return };
        if let Err(e) = write_marker(&dirs, &Marker { changed: true, ..marker }).await {
            tracing::warn!(task_id, error = %e, "could not mark the local copy changed");
        }
    }

    /// Makes the task's local copy its latest snapshot `latest` (the task row's):
    /// restores it from storage unless the local copy already is it, or is ahead
    /// of it. A failed restore leaves the local copy as it was.
    pub async fn ensure_local(&self, task_id: &str, latest: Option<&str>) -> Result<LocalCopy, SnapshotError> {
        let (Some(inner), Some(latest)) = (&self.inner, latest) else { return Ok(LocalCopy::AsStored) };
        let (lock, _) = inner.restoring.get_or_insert(task_id, Arc::default);
        let _restoring = lock.lock_owned().await;
        let dirs = TaskDirs::new(&inner.data_dir, task_id);
        match read_marker(&dirs).await {
            Some(marker) if marker.snapshot == latest && marker.changed => return Ok(LocalCopy::AsStored),
            Some(marker) if marker.snapshot == latest => {
                return Ok(LocalCopy::Snapshot { session_id: marker.session_id });
            }
            _ => {}
        }
        let started = std::time::Instant::now();
        let uploads = inner.data_dir.join("uploads");
        let mut upload = tokio::task::spawn_blocking(move || Upload::create(&uploads))
            .await
            .map_err(|e| SnapshotError::Io(std::io::Error::other(e)))??;
        let stored = upload.next_part_path();
        let size = download(&inner.storage, &key(task_id, latest), &stored).await?;
        pack::archive_part(&mut upload, stored, size);
        let (limits, target) = (inner.limits, dirs.clone());
        // The lock goes with the unpacking, which goes on if this caller gives up.
        let manifest = tokio::task::spawn_blocking(move || {
            let _restoring = _restoring;
            pack::unpack(upload, &target, limits)
        })
        .await
        .map_err(|e| SnapshotError::Io(std::io::Error::other(e)))??;
        let marker = Marker { snapshot: latest.to_string(), session_id: manifest.session_id.clone(), changed: false };
        write_marker(&dirs, &marker).await?;
        tracing::info!(
            task_id,
            snapshot = latest,
            bytes = size,
            ms = started.elapsed().as_millis() as u64,
            "restored a workspace snapshot"
        );
        Ok(LocalCopy::Snapshot { session_id: manifest.session_id })
    }

    /// Deletes every snapshot of the task (retention).
    pub async fn delete(&self, task_id: &str) -> Result<(), StorageError> {
        let Some(inner) = &self.inner else { return Ok(()) };
        inner.storage.delete_prefix(&Key::new([TOP, task_id])).await.map(drop)
    }
}

fn key(task_id: &str, name: &str) -> Key {
    Key::new([TOP, task_id, &format!("{name}.tar.gz")])
}

/// What the marker file says of the local copy.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
struct Marker {
    /// The snapshot it was restored from or saved as.
    snapshot: String,
    /// The session that snapshot holds.
    session_id: Option<String>,
    /// A run began in it since: it is ahead of the snapshot.
    changed: bool,
}

async fn read_marker(dirs: &TaskDirs) -> Option<Marker> {
    let text = tokio::fs::read(dirs.root.join(MARKER)).await.ok()?;
    serde_json::from_slice(&text).ok()
}

/// Written beside, then renamed: a crash leaves the old marker or the new one.
async fn write_marker(dirs: &TaskDirs, marker: &Marker) -> std::io::Result<()> {
    tokio::fs::create_dir_all(&dirs.root).await?;
    let partial = dirs.root.join(format!("{MARKER}.part"));
    tokio::fs::write(&partial, serde_json::to_vec(marker).map_err(std::io::Error::other)?).await?;
    tokio::fs::rename(partial, dirs.root.join(MARKER)).await
}

/// Copies the object at `key` into the new file `to`; returns its size.
async fn download(storage: &Storage, key: &Key, to: &std::path::Path) -> Result<u64, SnapshotError> {
    use futures_util::StreamExt;
    use tokio::io::AsyncWriteExt;
    let mut bytes = storage.get(key, None).await?;
    let mut out = tokio::fs::OpenOptions::new().write(true).create_new(true).open(to).await?;
    let mut size = 0u64;
    while let Some(chunk) = bytes.next().await {
        let chunk = chunk?;
        size += chunk.len() as u64;
        out.write_all(&chunk).await?;
    }
    out.flush().await?;
    Ok(size)
}

#[cfg(test)]
mod tests;
