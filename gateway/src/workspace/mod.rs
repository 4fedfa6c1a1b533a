//! A task's workspace: built from the client's inputs (`inputs`), and read on
//! behalf of clients without trusting what the agent left in it: symlinks are
//! never followed, every open resolves beneath the workspace (`openat2` with
//! `RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS`), and only regular files are served,
//! so a planted link, FIFO or device can neither leak another file nor hang the
//! server.

mod archive;
pub mod inputs;
mod open;
mod snapshot;

use std::path::{Path, PathBuf};

pub use archive::{ArchiveFormat, stream_archive};
pub use open::open_beneath;
pub use snapshot::snapshot;

/// One file of a workspace listing.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct WorkspaceFile {
    pub path: String,
    pub size: u64,
    pub modified_at: String,
}

/// A workspace listing.
#[derive(Debug, Clone)]
pub struct Listing {
    pub files: Vec<WorkspaceFile>,
    /// The workspace has more entries than a listing walks.
    pub truncated: bool,
}

/// Why a workspace file cannot be served.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceError {
    #[error("no such file in the workspace")]
    NotFound,
    #[error("{0}")]
    NotServed(&'static str),
    #[error("workspace I/O failed: {0}")]
    Io(#[from] std::io::Error),
}

/// Most entries a listing walks, so a workspace with millions of files cannot stall a request.
const MAX_LISTED: usize = 100_000;

/// Regular files below `root`, sorted by path; links and special files are skipped.
/// Past `MAX_LISTED` entries the walk stops and `Listing::truncated` says so.
pub fn list(root: &Path) -> Result<Listing, WorkspaceError> {
    let mut files = Vec::new();
    let mut pending: Vec<PathBuf> = vec![PathBuf::new()];
    let mut visited = 0usize;
    while let Some(relative) = pending.pop() {
        let entries = match std::fs::read_dir(root.join(&relative)) {
            Ok(entries) => entries,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound && relative.as_os_str().is_empty() => {
                return Ok(Listing { files, truncated: false });
            }
            Err(e) => return Err(e.into()),
        };
        for entry in entries {
            visited += 1;
            if visited > MAX_LISTED {
                files.sort_by(|a, b| a.path.cmp(&b.path));
                return Ok(Listing { files, truncated: true });
            }
            let entry = entry?;
            let path = relative.join(entry.file_name());
            // file_type() does not follow links.
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(path);
            } else if kind.is_file() {
                let meta = entry.metadata()?;
                let modified = meta
                    .modified()
                    .ok()
                    .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                    .map_or(0, |d| d.as_millis() as i64);
                files.push(WorkspaceFile {
                    path: path.to_string_lossy().into_owned(),
                    size: meta.len(),
                    modified_at: crate::timestamp::format_ms(modified),
                });
            }
        }
    }
    files.sort_by(|a, b| a.path.cmp(&b.path));
    Ok(Listing { files, truncated: false })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    #[test]
    fn lists_and_opens_only_regular_files_beneath_the_root() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("src/a.txt"), "hello").unwrap();
        std::fs::write(dir.path().join("secret"), "outside").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), root.join("link")).unwrap();
        std::os::unix::fs::symlink("/etc", root.join("src/etc")).unwrap();
        let listed: Vec<String> = list(&root).unwrap().files.into_iter().map(|f| f.path).collect();
        assert_eq!(listed, ["src/a.txt"]);

        let mut text = String::new();
        open_beneath(&root, "src/a.txt").unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "hello");
        for refused in ["link", "src/etc/passwd", "../secret", "/etc/passwd", "src"] {
            assert!(open_beneath(&root, refused).is_err(), "{refused} must not open");
        }
        assert!(matches!(open_beneath(&root, "missing.txt"), Err(WorkspaceError::NotFound)));
    }
}
