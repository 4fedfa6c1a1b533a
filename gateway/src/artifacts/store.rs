//! Where collected artifacts are kept: in shared storage (`storage.url`), so that
//! any gateway node serves any task's artifacts.
//!
//! Under the storage root, a collection stages its files as
//! `artifacts/<task>/<set>/<name>`; `artifacts/<task>/current-set` names the
//! committed set. A set becomes visible only when that one small object is
//! replaced (a put is atomic on every backend), so a download never sees half a set.

use std::ops::Range;
use std::path::Path;

use tokio::io::AsyncRead;

use crate::storage::{ByteStream, Key, Storage, StorageError};

/// The object naming a task's committed set. Not a valid set id (it has a `-`),
/// so no set can be staged under its name.
const CURRENT: &str = "current-set";
/// The top-level folder of artifacts in storage.
const TOP: &str = "artifacts";

/// Storage of artifacts, per task. A collection stages every file in a set of
/// its own, and the set is committed (replacing what an earlier turn collected)
/// once the database has recorded it, or discarded.
#[derive(Clone)]
pub struct ArtifactStore {
    storage: Storage,
}

impl ArtifactStore {
    pub fn new(storage: Storage) -> Self {
        Self { storage }
    }

    /// Stores `content` as `name` in the staged `set`; returns (size, sha256 hex).
    pub async fn stage(
        &self,
        task_id: &str,
        set: &str,
        name: &str,
        content: impl AsyncRead + Unpin,
    ) -> Result<(u64, String), StorageError> {
        self.storage.put(&Key::new([TOP, task_id, checked_id(set)?, checked_name(name)?]), content).await
    }

    /// Makes the staged `set` the task's artifacts, then deletes the set it replaced.
    pub async fn commit(&self, task_id: &str, set: &str) -> Result<(), StorageError> {
        let previous = self.current_set(task_id).await?;
        self.storage.put_bytes(&Key::new([TOP, task_id, CURRENT]), checked_id(set)?.as_bytes().to_vec()).await?;
        match previous {
            Some(previous) if previous != set => self.discard(task_id, &previous).await,
            _ => Ok(()),
        }
    }

    /// Drops a staged `set` that will not be committed.
    pub async fn discard(&self, task_id: &str, set: &str) -> Result<(), StorageError> {
        self.storage.delete_prefix(&Key::new([TOP, task_id, checked_id(set)?])).await.map(|_| ())
    }

    /// A recorded artifact's bytes in `range` (all when `None`), from the `set` the
    /// database recorded with it, else (no set recorded, or not there: artifacts
    /// moved from an older layout) from the committed set.
    pub async fn open(
        &self,
        task_id: &str,
        set: Option<&str>,
        name: &str,
        range: Option<Range<u64>>,
    ) -> Result<ByteStream, StorageError> {
        let name = checked_name(name)?;
        if let Some(set) = set {
            match self.storage.get(&Key::new([TOP, task_id, checked_id(set)?, name]), range.clone()).await {
                Err(e) if e.is_not_found() => {}
                read => return read,
            }
        }
        let missing = || StorageError::NotFound { key: format!("{TOP}/{task_id}/{name}") };
        let set = self.current_set(task_id).await?.ok_or_else(missing)?;
        self.storage.get(&Key::new([TOP, task_id, &set, name]), range).await
    }

    /// Deletes every artifact of the task (retention).
    pub async fn delete(&self, task_id: &str) -> Result<(), StorageError> {
        self.storage.delete_prefix(&Key::new([TOP, task_id])).await.map(|_| ())
    }

    /// The committed set's id, if the task has one.
    async fn current_set(&self, task_id: &str) -> Result<Option<String>, StorageError> {
        match self.storage.get_bytes(&Key::new([TOP, task_id, CURRENT])).await {
            Ok(bytes) => {
                let set = String::from_utf8_lossy(&bytes).into_owned();
                checked_id(&set)?;
                Ok(Some(set))
            }
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Moves artifacts kept the old way, `<dir>/<task>/current/<name>` (before
    /// `storage.url`), into storage, one task at a time: a task's set is committed
    /// before its directory is removed, so an interrupted move starts over safely.
    /// Returns how many tasks' artifacts moved.
    pub async fn adopt_legacy(&self, dir: &Path) -> Result<usize, StorageError> {
        let tasks = match std::fs::read_dir(dir) {
            Ok(entries) => entries.filter_map(Result::ok).collect::<Vec<_>>(),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(0),
            Err(e) => return Err(StorageError::Source(e)),
        };
        let mut moved = 0;
        for task in tasks {
            let Some(task_id) = task.file_name().to_str().filter(|id| checked_id(id).is_ok()).map(str::to_string)
            else {
                continue;
            };
            let current = task.path().join("current");
            if current.is_dir() {
                let set = crate::ids::new_id("set");
                for file in std::fs::read_dir(&current).map_err(StorageError::Source)?.filter_map(Result::ok) {
                    let (Some(name), Ok(kind)) = (file.file_name().to_str().map(str::to_string), file.file_type())
                    else {
                        continue;
                    };
                    if kind.is_file() {
                        let content = tokio::fs::File::open(file.path()).await.map_err(StorageError::Source)?;
                        self.stage(&task_id, &set, &name, content).await?;
                    }
                }
                self.commit(&task_id, &set).await?;
                moved += 1;
            }
            std::fs::remove_dir_all(task.path()).map_err(StorageError::Source)?;
        }
        // Only once empty: anything else left there is not ours to delete.
        let _ = std::fs::remove_dir(dir);
        Ok(moved)
    }
}

/// A task or set id: letters, digits and `_` (they come from the database, but
/// keys are built from them: check anyway).
fn checked_id(id: &str) -> Result<&str, StorageError> {
    if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
        return Err(StorageError::NotFound { key: id.to_string() });
    }
    Ok(id)
}

fn checked_name(name: &str) -> Result<&str, StorageError> {
    if matches!(name, "" | "." | "..") || name.contains(['/', '\\', '\0']) || name.len() > 255 {
        return Err(StorageError::NotFound { key: name.to_string() });
    }
    Ok(name)
}
