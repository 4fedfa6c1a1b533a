//! A task's workspace: built from the client's inputs (`inputs`), and read on
//! behalf of clients without trusting what the agent left in it: every walk and
//! open goes through `tree`, from directory descriptors beneath the workspace,
//! so links are never followed (not even one swapped in while the tree is read)
//! and only regular files are served: a planted link, FIFO or device can neither
//! leak another file nor hang the server.

mod archive;
pub mod inputs;
mod snapshot;
pub mod tree;

use std::ops::ControlFlow;
use std::path::Path;

pub(crate) use archive::append_file;
pub use archive::{ArchiveFormat, stream_archive};
pub use snapshot::snapshot;
pub use tree::Root;

/// One file of a workspace listing.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize, utoipa::ToSchema)]
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

/// Regular files below `root`, sorted by path; links and special files are skipped
/// (a missing workspace lists as empty).
pub fn list(root: &Path) -> Result<Listing, WorkspaceError> {
    match Root::open_if_present(root)? {
        Some(root) => Ok(root.list()?),
        None => Ok(Listing { files: Vec::new(), truncated: false }),
    }
}

/// Opens the regular file `relative` below `root` for reading.
pub fn open_beneath(root: &Path, relative: &str) -> Result<std::fs::File, WorkspaceError> {
    Root::open(root)?.open_file(relative)
}

impl Root {
    /// The listing of this tree: past `MAX_LISTED` entries or `tree::MAX_DEPTH`
    /// levels the walk stops and `Listing::truncated` says so.
    pub fn list(&self) -> std::io::Result<Listing> {
        let mut files = Vec::new();
        let limits = tree::WalkLimits { max_entries: MAX_LISTED, max_depth: tree::MAX_DEPTH };
        let walked = self.walk(limits, |file| {
            files.push(WorkspaceFile {
                path: file.path,
                size: file.size,
                modified_at: crate::timestamp::format_ms(file.modified_ms.max(0)),
            });
            ControlFlow::Continue(())
        })?;
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(Listing { files, truncated: walked.truncated })
    }

    /// Opens each of `files` in turn (beneath the root) for `read`, with its size
    /// now; one that is no longer a regular file since it was listed is left out.
    pub fn read_each(
        &self,
        files: &[WorkspaceFile],
        mut read: impl FnMut(&WorkspaceFile, std::fs::File, u64) -> std::io::Result<()>,
    ) -> std::io::Result<()> {
        for listed in files {
            let Ok(file) = self.open_file(&listed.path) else { continue };
            let size = file.metadata()?.len();
            read(listed, file, size)?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_listing_is_sorted_with_sizes_and_a_missing_workspace_is_empty() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        std::fs::create_dir_all(root.join("b")).unwrap();
        std::fs::write(root.join("b/x.txt"), "hello").unwrap();
        std::fs::write(root.join("a.txt"), "").unwrap();
        std::os::unix::fs::symlink("/etc", root.join("etc")).unwrap();
        let listing = list(&root).unwrap();
        let listed: Vec<(&str, u64)> = listing.files.iter().map(|f| (f.path.as_str(), f.size)).collect();
        assert_eq!(listed, [("a.txt", 0), ("b/x.txt", 5)]);
        assert!(!listing.truncated);
        assert!(crate::timestamp::parse_rfc3339(&listing.files[0].modified_at).is_some_and(|ms| ms > 0));

        let missing = dir.path().join("missing");
        let empty = list(&missing).unwrap();
        assert!(empty.files.is_empty() && !empty.truncated);
        assert!(matches!(open_beneath(&missing, "a.txt"), Err(WorkspaceError::NotFound)));
    }
}
