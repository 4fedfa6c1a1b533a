//! A copy of a workspace's regular files (links never followed) into a directory
//! outside it: the baseline artifact plugins diff a turn's changes against.

use std::path::Path;

use super::Root;

/// Copies the regular files of `workspace` into `into` (created), keeping paths.
pub fn snapshot(workspace: &Path, into: &Path) -> std::io::Result<()> {
    let Some(root) = Root::open_if_present(workspace)? else { return Ok(()) };
    let listing = root.list()?;
    std::fs::create_dir_all(into)?;
    root.read_each(&listing.files, |file, mut source, _| {
        let target = into.join(&file.path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let mut copy = std::fs::OpenOptions::new().write(true).create_new(true).open(&target)?;
        std::io::copy(&mut source, &mut copy).map(drop)
    })
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
