//! A snapshot's archive: a `.tar.gz` of the task's workspace (`workspace/…`),
//! Claude Code's session transcripts (`claude/projects/…`) and, when an artifact
//! plugin keeps one, the baseline of input files (`baseline/…`), with a manifest
//! (`ccgate-snapshot.json`) naming the session they hold. Packing reads both trees
//! through `workspace::Root` (links are never followed, only regular files are
//! packed, an executable stays executable); unpacking goes through the checks of
//! an uploaded archive, since what a run wrote is the tenant's input.

use std::io::{self, Write};
use std::ops::ControlFlow;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use crate::runner::TaskDirs;
use crate::workspace::inputs::{self, InputError, Limits, Upload, UploadedPart, paths};
use crate::workspace::tree::{MAX_DEPTH, WalkLimits};
use crate::workspace::{Root, WorkspaceError, append_file};

/// The manifest's name at the top of the archive (no workspace file can be there).
const MANIFEST: &str = "ccgate-snapshot.json";
const WORKSPACE: &str = "workspace";
/// Where the transcripts are kept: `projects/` of the run's Claude configuration.
const PROJECTS: &str = "claude/projects";
/// The input files as the client sent them, kept only while an artifact plugin
/// diffs against them.
const BASELINE: &str = "baseline";

/// What a snapshot says about itself.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Manifest {
    /// The Claude Code session whose transcript it holds, if any.
    pub session_id: Option<String>,
    /// The turn it was taken after (`None`: the input files, before any turn).
    pub after_turn: Option<i32>,
}

/// How much a snapshot may hold.
#[derive(Debug, Clone, Copy)]
pub struct SnapshotLimits {
    pub max_files: usize,
    pub max_bytes: u64,
}

/// Why a snapshot was not packed or unpacked.
#[derive(Debug, thiserror::Error)]
pub enum PackError {
    #[error("the workspace holds more than a snapshot may: {0}")]
    TooLarge(String),
    #[error("the workspace cannot be saved as it is: {0}")]
    Unpackable(String),
    #[error("the snapshot was refused when unpacked: {0}")]
    Refused(String),
    #[error("snapshot I/O failed: {0}")]
    Io(#[from] io::Error),
}

/// What was packed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packed {
    pub files: usize,
    pub bytes: u64,
}

/// Packs the task's workspace and transcripts into `out` (created).
pub fn pack(dirs: &TaskDirs, manifest: &Manifest, limits: SnapshotLimits, out: &Path) -> Result<Packed, PackError> {
    // The run could make `.claude` or `projects` a link: they are reached from the
    // home the gateway made, through no link.
    let projects = match Root::open_if_present(&dirs.home)? {
        Some(home) => match home.open_dir(".claude/projects") {
            Ok(projects) => Some(projects),
            Err(WorkspaceError::NotFound) => None,
            Err(WorkspaceError::NotServed(why)) => {
                return Err(PackError::Unpackable(format!(".claude/projects: {why}")));
            }
            Err(WorkspaceError::Io(e)) => return Err(e.into()),
        },
        None => None,
    };
    let trees = [
        (WORKSPACE, Root::open_if_present(&dirs.workspace)?),
        (PROJECTS, projects),
        (BASELINE, Root::open_if_present(&dirs.baseline)?),
    ];
    let mut listed = Vec::new();
    let mut packed = Packed { files: 0, bytes: 0 };
    for (prefix, root) in trees {
        let Some(root) = root else { continue };
        let mut files = Vec::new();
        // Entries of every kind count: a walk past twice the files is cut short.
        let walk = WalkLimits { max_entries: limits.max_files.saturating_mul(2), max_depth: MAX_DEPTH };
        let mut unpackable = None;
        let walked = root.walk(walk, |file| {
            // What an upload could not hold could not be restored.
            if let Err(why) = paths::check_relative_path(&format!("{prefix}/{}", file.path)) {
                unpackable = Some(format!("{:?} {why}", file.path));
                return ControlFlow::Break(());
            }
            packed.files += 1;
            packed.bytes = packed.bytes.saturating_add(file.size);
            files.push(file.path);
            ControlFlow::Continue(())
        })?;
        if let Some(why) = unpackable {
            return Err(PackError::Unpackable(why));
        }
        if walked.truncated {
            return Err(PackError::TooLarge(format!("{prefix} has too many entries or is nested too deep")));
        }
        if walked.unreadable {
            return Err(PackError::Unpackable(format!("a folder of {prefix} cannot be read")));
        }
        listed.push((prefix, root, files));
    }
    if packed.files > limits.max_files || packed.bytes > limits.max_bytes {
        return Err(PackError::TooLarge(format!(
            "{} files of {} bytes (at most {} files of {} bytes)",
            packed.files, packed.bytes, limits.max_files, limits.max_bytes
        )));
    }
    let file = std::fs::OpenOptions::new().write(true).create_new(true).open(out)?;
    let mut tar =
        tar::Builder::new(flate2::write::GzEncoder::new(io::BufWriter::new(file), flate2::Compression::fast()));
    let manifest = serde_json::to_vec(manifest).map_err(io::Error::other)?;
    append_file(&mut tar, MANIFEST, 0o644, manifest.len() as u64, manifest.as_slice())?;
    for (prefix, root, files) in listed {
        for path in files {
            let file = match root.open_file(&path) {
                Ok(file) => file,
                // Gone since it was listed: left out.
                Err(WorkspaceError::NotFound) => continue,
                Err(WorkspaceError::NotServed(why)) => return Err(PackError::Unpackable(format!("{path:?}: {why}"))),
                Err(WorkspaceError::Io(e)) => return Err(e.into()),
            };
            let meta = file.metadata()?;
            let mode = if meta.permissions().mode() & 0o111 != 0 { 0o755 } else { 0o644 };
            append_file(&mut tar, &format!("{prefix}/{path}"), mode, meta.len(), file)?;
        }
    }
    let mut out = tar.into_inner()?.finish()?;
    out.flush()?;
    out.get_ref().sync_all()?;
    Ok(packed)
}

/// Unpacks the snapshot `archive` (its bytes already in `upload`'s first part)
/// over the task's local copy: the workspace and the transcripts are replaced
/// whole, each by one rename. Returns the manifest.
pub fn unpack(upload: Upload, dirs: &TaskDirs, limits: SnapshotLimits) -> Result<Manifest, PackError> {
    let staging = dirs.root.join(format!("restoring-{}", crate::ids::new_id("snp")));
    let checks = Limits {
        // The manifest and the folders above the two trees come on top.
        max_files: limits.max_files + 1,
        max_bytes: limits.max_bytes.saturating_add(64 * 1024),
        // The gateway compressed it: any ratio a real workspace has is fine.
        max_ratio: u64::MAX,
    };
    let unpacked = inputs::build_workspace(&[], upload, checks, &staging);
    let result = unpacked.map_err(|e| match e {
        InputError::Refused(refusals) => {
            PackError::Refused(refusals.into_iter().map(|r| r.message).collect::<Vec<_>>().join("; "))
        }
        InputError::Io(e) => PackError::Io(e),
    });
    let result = result.and_then(|()| replace_local_copy(&staging, dirs));
    let _ = std::fs::remove_dir_all(&staging);
    result
}

fn replace_local_copy(staging: &Path, dirs: &TaskDirs) -> Result<Manifest, PackError> {
    let manifest: Manifest = serde_json::from_slice(&std::fs::read(staging.join(MANIFEST))?)
        .map_err(|e| PackError::Refused(format!("its manifest does not parse: {e}")))?;
    // An earlier run may have left `.claude` as a link or a file: never written through.
    match std::fs::symlink_metadata(&dirs.claude_config) {
        Ok(meta) if !meta.is_dir() => std::fs::remove_file(&dirs.claude_config)?,
        _ => {}
    }
    dirs.create()?;
    let projects = dirs.claude_config.join("projects");
    let replaced = staging.join("replaced");
    std::fs::create_dir(&replaced)?;
    for (from, to, aside, always) in [
        (staging.join(WORKSPACE), &dirs.workspace, replaced.join(WORKSPACE), true),
        (staging.join("claude").join("projects"), &projects, replaced.join("projects"), true),
        // A task with no baseline in its snapshot has none anywhere.
        (staging.join(BASELINE), &dirs.baseline, replaced.join(BASELINE), false),
    ] {
        if !from.exists() {
            if !always {
                match std::fs::rename(to, &aside) {
                    Err(e) if e.kind() != io::ErrorKind::NotFound => return Err(e.into()),
                    _ => continue,
                }
            }
            std::fs::create_dir_all(&from)?;
        }
        // The old copy is moved aside, not deleted first: a failure leaves it whole.
        match std::fs::rename(to, &aside) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            other => other?,
        }
        if let Err(e) = std::fs::rename(&from, to) {
            let _ = std::fs::rename(&aside, to);
            return Err(e.into());
        }
    }
    Ok(manifest)
}

/// An upload holding the snapshot archive that is about to be written to its
/// first part's path (`Upload::next_part_path`), `size` bytes long.
pub fn archive_part(upload: &mut Upload, stored: std::path::PathBuf, size: u64) {
    upload.push(UploadedPart::new("archive".into(), "snapshot.tar.gz".into(), stored, size));
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: SnapshotLimits = SnapshotLimits { max_files: 100, max_bytes: 1 << 20 };

    fn task(root: &Path, id: &str) -> TaskDirs {
        let dirs = TaskDirs::new(root, id);
        dirs.create().unwrap();
        dirs
    }

    fn unpack_file(archive: &Path, uploads: &Path, dirs: &TaskDirs) -> Result<Manifest, PackError> {
        let mut upload = Upload::create(uploads).unwrap();
        let stored = upload.next_part_path();
        std::fs::copy(archive, &stored).unwrap();
        let size = std::fs::metadata(&stored).unwrap().len();
        archive_part(&mut upload, stored, size);
        unpack(upload, dirs, LIMITS)
    }

    #[test]
    fn a_snapshot_carries_files_modes_and_transcripts_but_no_links() {
        let dir = tempfile::tempdir().unwrap();
        let from = task(dir.path(), "tsk_a");
        std::fs::create_dir_all(from.workspace.join("src")).unwrap();
        std::fs::write(from.workspace.join("src/a.py"), "print(1)\n").unwrap();
        std::fs::write(from.workspace.join("run.sh"), "#!/bin/sh\n").unwrap();
        std::fs::set_permissions(from.workspace.join("run.sh"), std::fs::Permissions::from_mode(0o700)).unwrap();
        std::os::unix::fs::symlink("/etc/passwd", from.workspace.join("passwd")).unwrap();
        let project = from.claude_config.join("projects/-workspace");
        std::fs::create_dir_all(&project).unwrap();
        std::fs::write(project.join("s1.jsonl"), "{}\n").unwrap();
        std::fs::write(from.home.join(".bash_history"), "not kept").unwrap();
        std::fs::create_dir_all(&from.baseline).unwrap();
        std::fs::write(from.baseline.join("input.txt"), "as sent").unwrap();
        let manifest = Manifest { session_id: Some("s1".into()), after_turn: Some(0) };
        let archive = dir.path().join("snap.tar.gz");
        let packed = pack(&from, &manifest, LIMITS, &archive).unwrap();
        assert_eq!(packed, Packed { files: 4, bytes: 29 });

        // Unpacked over another node's stale copy: replaced whole.
        let to = task(&dir.path().join("other"), "tsk_a");
        std::fs::write(to.workspace.join("stale.txt"), "old").unwrap();
        let uploads = dir.path().join("uploads");
        assert_eq!(unpack_file(&archive, &uploads, &to).unwrap(), manifest);
        assert_eq!(std::fs::read_to_string(to.workspace.join("src/a.py")).unwrap(), "print(1)\n");
        let mode = std::fs::metadata(to.workspace.join("run.sh")).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o755);
        assert!(!to.workspace.join("stale.txt").exists() && !to.workspace.join("passwd").exists());
        assert!(!to.workspace.join(MANIFEST).exists());
        let transcript = to.claude_config.join("projects/-workspace/s1.jsonl");
        assert_eq!(std::fs::read_to_string(transcript).unwrap(), "{}\n");
        assert!(!to.home.join(".bash_history").exists());
        assert_eq!(std::fs::read_to_string(to.baseline.join("input.txt")).unwrap(), "as sent");
        // Nothing is left beside the copy.
        let left: Vec<_> = std::fs::read_dir(&to.root).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(left.len(), 3, "{left:?}");
    }

    #[test]
    fn a_workspace_past_the_limits_is_not_packed() {
        let dir = tempfile::tempdir().unwrap();
        let from = task(dir.path(), "tsk_b");
        std::fs::write(from.workspace.join("big"), vec![0u8; 2 << 20]).unwrap();
        let archive = dir.path().join("snap.tar.gz");
        let manifest = Manifest { session_id: None, after_turn: None };
        assert!(matches!(pack(&from, &manifest, LIMITS, &archive), Err(PackError::TooLarge(_))));
        assert!(!archive.exists());
        let many = SnapshotLimits { max_files: 3, max_bytes: 1 << 30 };
        std::fs::remove_file(from.workspace.join("big")).unwrap();
        for i in 0..5 {
            std::fs::write(from.workspace.join(format!("f{i}")), "x").unwrap();
        }
        assert!(matches!(pack(&from, &manifest, many, &archive), Err(PackError::TooLarge(_))));
    }

    #[test]
    fn an_archive_that_reaches_outside_is_refused_and_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("evil.tar.gz");
        let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(
            std::fs::File::create(&archive).unwrap(),
            flate2::Compression::fast(),
        ));
        let mut header = tar::Header::new_gnu();
        header.set_size(1);
        header.set_mode(0o644);
        header.set_cksum();
        tar.append_data(&mut header, "workspace/ok", &b"x"[..]).unwrap();
        let mut link = tar::Header::new_gnu();
        link.set_entry_type(tar::EntryType::Symlink);
        link.set_size(0);
        tar.append_link(&mut link, "workspace/escape", "../../../etc").unwrap();
        tar.into_inner().unwrap().finish().unwrap();

        let to = task(dir.path(), "tsk_c");
        std::fs::write(to.workspace.join("kept.txt"), "mine").unwrap();
        let refused = unpack_file(&archive, &dir.path().join("uploads"), &to);
        assert!(matches!(refused, Err(PackError::Refused(_))), "{refused:?}");
        assert_eq!(std::fs::read_to_string(to.workspace.join("kept.txt")).unwrap(), "mine");
    }
}
