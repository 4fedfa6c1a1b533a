//! Backup and restore of an embedded gateway (SQLite and a local data directory).
//!
//! `ccgate backup --to FILE` writes one `.tar.gz` while the gateway keeps serving:
//! a consistent copy of the database (SQLite's `VACUUM INTO`, never a file copy),
//! the key pepper, every task's files (workspace, Claude's session state, baseline)
//! and the artifacts (the storage directory when `storage.url` is `file://`; a
//! bucket is left to its own versioning), walked from directory descriptors like every read of a run's
//! files (links are not followed, and not kept), and last a manifest with the
//! version, the schema, counts and a SHA-256 of every file.
//!
//! `ccgate restore --from FILE --data-dir DIR` unpacks into a staging directory
//! beside `DIR`, checks every entry against the manifest, and only then moves it into
//! place: a corrupt or truncated archive writes nothing. The database is migrated
//! forward, and tasks that were running at backup time are queued again.

mod archive;
mod create;
mod restore;

pub use create::backup;
pub use restore::restore;

use serde::{Deserialize, Serialize};

/// The manifest's name in the archive: always its last entry.
pub const MANIFEST: &str = "manifest.json";
/// The database's name in the archive.
pub const DATABASE: &str = "ccgate.db";
/// The archive format this gateway writes and reads.
pub const FORMAT: u32 = 1;

/// What an archive holds.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Manifest {
    pub format: u32,
    pub ccgate_version: String,
    /// The last migration applied to the copied database.
    pub schema: String,
    pub created_at: String,
    pub counts: Counts,
    pub files: Vec<FileEntry>,
}

/// Rows of the copied database.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Counts {
    pub tasks: u64,
    pub keys: u64,
    pub events: u64,
    pub artifacts: u64,
    pub files: u64,
    pub bytes: u64,
}

/// One file of the archive.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct FileEntry {
    pub path: String,
    pub size: u64,
    pub sha256: String,
}

/// Why a backup or a restore did not happen.
#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0}")]
    Refused(String),
    #[error("the archive is not a usable backup: {0}")]
    Corrupt(String),
    #[error("{action}: {source}")]
    Io { action: String, source: std::io::Error },
    #[error(transparent)]
    Store(#[from] crate::store::StoreError),
}

impl BackupError {
    fn io(action: impl Into<String>) -> impl FnOnce(std::io::Error) -> Self {
        let action = action.into();
        move |source| Self::Io { action, source }
    }
}

/// Whether `path` may be written under a data directory from an archive: relative,
/// `/`-separated normal parts, under one of the places a backup writes.
fn archived_path_ok(path: &str) -> bool {
    let top_level_ok = matches!(path, DATABASE | "key-pepper")
        || path.starts_with("tasks/")
        || path.starts_with("artifacts/")
        || path.starts_with("storage/");
    top_level_ok
        && !path.starts_with('/')
        && path.split('/').all(|part| !matches!(part, "" | "." | "..") && !part.contains('\0'))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_places_a_backup_writes_may_be_restored() {
        for ok in [
            "ccgate.db",
            "key-pepper",
            "tasks/tsk_1/workspace/a.txt",
            "artifacts/tsk_1/current/r.md",
            "storage/artifacts/tsk_1/set_1/r.md",
        ] {
            assert!(archived_path_ok(ok), "{ok}");
        }
        for bad in ["/etc/passwd", "tasks/../../etc/x", "tasks//x", "other/x", "tasks/./x", "manifest.json"] {
            assert!(!archived_path_ok(bad), "{bad}");
        }
    }
}
