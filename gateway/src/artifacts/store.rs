//! Where collected artifacts are kept. A small trait so that an object store can
//! stand in for the local directory when gateways scale out.

use std::fs::File;
use std::io::{self, Read};
use std::path::PathBuf;

/// Storage of artifacts, per task. A collection stages every file in a set of
/// its own, and the set is committed (replacing what an earlier turn collected)
/// once the database has recorded it, or discarded.
pub trait ArtifactStore: Send + Sync + 'static {
    /// Stores `content` as `name` in the staged `set`; returns (size, sha256 hex).
    fn stage(&self, task_id: &str, set: &str, name: &str, content: &mut dyn Read) -> io::Result<(u64, String)>;
    /// Makes the staged `set` the task's artifacts.
    fn commit(&self, task_id: &str, set: &str) -> io::Result<()>;
    /// Drops a staged `set` that will not be committed.
    fn discard(&self, task_id: &str, set: &str) -> io::Result<()>;
    /// Opens a committed artifact for reading.
    fn open(&self, task_id: &str, name: &str) -> io::Result<File>;
    /// Deletes every artifact of the task (retention).
    fn delete(&self, task_id: &str) -> io::Result<()>;
}

/// Artifacts as files: `<root>/<task>/current/<name>`, staged in `<task>/staging-<set>/`.
pub struct LocalArtifacts {
    root: PathBuf,
}

impl LocalArtifacts {
    pub fn new(root: PathBuf) -> Self {
        Self { root }
    }

    fn task_dir(&self, task_id: &str) -> io::Result<PathBuf> {
        // Ids come from the database, but a path is built from them: check anyway.
        if task_id.is_empty() || !task_id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a task id"));
        }
        Ok(self.root.join(task_id))
    }

    fn staging(&self, task_id: &str, set: &str) -> io::Result<PathBuf> {
        if set.is_empty() || !set.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_') {
            return Err(io::Error::new(io::ErrorKind::InvalidInput, "not a set id"));
        }
        Ok(self.task_dir(task_id)?.join(format!("staging-{set}")))
    }
}

fn check_name(name: &str) -> io::Result<&str> {
    if matches!(name, "" | "." | "..") || name.contains(['/', '\\', '\0']) || name.len() > 255 {
        return Err(io::Error::new(io::ErrorKind::NotFound, "no such artifact"));
    }
    Ok(name)
}

fn remove_dir_if_present(path: &std::path::Path) -> io::Result<()> {
    match std::fs::remove_dir_all(path) {
        Err(e) if e.kind() != io::ErrorKind::NotFound => Err(e),
        _ => Ok(()),
    }
}

impl ArtifactStore for LocalArtifacts {
    fn stage(&self, task_id: &str, set: &str, name: &str, content: &mut dyn Read) -> io::Result<(u64, String)> {
        let staging = self.staging(task_id, set)?;
        std::fs::create_dir_all(&staging)?;
        let mut out = std::fs::OpenOptions::new().write(true).create_new(true).open(staging.join(check_name(name)?))?;
        let (size, sha256) = crate::hashing::copy_hashed(content, &mut out)?;
        out.sync_all()?;
        Ok((size, sha256))
    }

    fn commit(&self, task_id: &str, set: &str) -> io::Result<()> {
        let dir = self.task_dir(task_id)?;
        let (staging, current, previous) = (self.staging(task_id, set)?, dir.join("current"), dir.join("previous"));
        std::fs::create_dir_all(&staging)?;
        remove_dir_if_present(&previous)?;
        if current.exists() {
            std::fs::rename(&current, &previous)?;
        }
        std::fs::rename(&staging, &current)?;
        remove_dir_if_present(&previous)
    }

    fn discard(&self, task_id: &str, set: &str) -> io::Result<()> {
        remove_dir_if_present(&self.staging(task_id, set)?)
    }

    fn open(&self, task_id: &str, name: &str) -> io::Result<File> {
        File::open(self.task_dir(task_id)?.join("current").join(check_name(name)?))
    }

    fn delete(&self, task_id: &str) -> io::Result<()> {
        remove_dir_if_present(&self.task_dir(task_id)?)
    }
}
