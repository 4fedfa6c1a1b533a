//! A copy of a workspace's regular files (links never followed) into a directory
//! outside it: the baseline artifact plugins diff a turn's changes against.

use std::path::Path;

use super::{WorkspaceError, list, open_beneath};

/// Copies the regular files of `workspace` into `into` (created), keeping paths.
pub fn snapshot(workspace: &Path, into: &Path) -> std::io::Result<()> {
    let listing = match list(workspace) {
        Ok(listing) => listing,
        Err(WorkspaceError::NotFound) => return Ok(()),
        Err(e) => return Err(std::io::Error::other(e.to_string())),
    };
    std::fs::create_dir_all(into)?;
    for file in &listing.files {
        let target = into.join(&file.path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        // A file replaced by a link since the listing is skipped, not followed.
        let Ok(mut source) = open_beneath(workspace, &file.path) else { continue };
        let mut copy = std::fs::OpenOptions::new().write(true).create_new(true).open(&target)?;
        std::io::copy(&mut source, &mut copy)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    #[test]
    fn regular_files_are_copied_and_links_are_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let workspace = dir.path().join("ws");
        std::fs::create_dir_all(workspace.join("src")).unwrap();
        std::fs::write(workspace.join("src/a.py"), "print(1)\n").unwrap();
        std::os::unix::fs::symlink("/etc/hostname", workspace.join("link")).unwrap();
        let baseline = dir.path().join("baseline");
        super::snapshot(&workspace, &baseline).unwrap();
        assert_eq!(std::fs::read_to_string(baseline.join("src/a.py")).unwrap(), "print(1)\n");
        assert!(!baseline.join("link").exists());
    }
}
