//! Building a new task's workspace from what the client sent — files inline in
//! JSON, uploaded file parts, uploaded archives — so that nothing lands unless all
//! of it is acceptable. Every entry of every source is listed and checked first
//! (paths, link targets, file types, duplicates, counts, sizes, compression ratio);
//! only then is anything written, into a staging directory beside the uploads that
//! becomes the workspace with one rename. Links are created last, so no write goes
//! through one.

mod archive;
pub mod paths;
mod plan;
mod staging;

use std::io::{self, Read, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::Path;

pub use archive::UploadArchive;
pub use staging::{Upload, UploadedPart};

use archive::ArchiveSource;
use plan::{EntryKind, Origin, Plan};

/// Caps on what one request may put in a workspace.
#[derive(Debug, Clone)]
pub struct Limits {
    /// Files and links (and, separately, directories).
    pub max_files: usize,
    /// Expanded bytes of all files together.
    pub max_bytes: u64,
    /// Expanded size over compressed size of an archive.
    pub max_ratio: u64,
}

/// One offending field, part or archive entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub pointer: String,
    pub message: String,
}

impl Refusal {
    fn new(origin: &Origin, message: String) -> Self {
        Self { pointer: origin.pointer.clone(), message }
    }
}

/// Why a workspace could not be built.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("the upload was refused: {}", .0.first().map_or("", |r| r.message.as_str()))]
    Refused(Vec<Refusal>),
    #[error("writing the workspace failed: {0}")]
    Io(#[from] io::Error),
}

/// A file given inline in the JSON request, already decoded.
#[derive(Debug, Clone)]
pub struct InputFile {
    pub path: String,
    pub content: Vec<u8>,
}

/// Checks everything `inline` and `upload` would create, then writes it and moves
/// it into place as `workspace` (which must not exist yet). On any refusal or
/// error nothing is left behind: the staging directory is removed.
pub fn build_workspace(
    inline: &[InputFile],
    upload: Upload,
    limits: Limits,
    workspace: &Path,
) -> Result<(), InputError> {
    let mut plan = Plan::new(limits);
    for (i, file) in inline.iter().enumerate() {
        let origin = Origin { pointer: format!("/files/{i}/path"), label: format!("file {:?}", file.path) };
        plan.add(&file.path, EntryKind::File { size: file.content.len() as u64 }, origin)
            .map_err(|r| InputError::Refused(vec![r]))?;
    }
    for part in upload.parts() {
        match part.archive {
            Some(format) => archive_of(part, format).scan(&mut plan)?,
            // Stored as a plain file, it would look like success to a client that meant an archive.
            None if part.name == "archive" => {
                let message = format!(
                    "an archive part must be named *.tar.gz, *.tgz or *.zip (its filename is {:?})",
                    part.filename
                );
                return Err(InputError::Refused(vec![Refusal { pointer: part.pointer().to_string(), message }]));
            }
            None => {
                let origin =
                    Origin { pointer: part.pointer().to_string(), label: format!("file part {:?}", part.filename) };
                plan.add(&part.filename, EntryKind::File { size: part.size }, origin)
                    .map_err(|r| InputError::Refused(vec![r]))?;
            }
        }
    }
    let refusals = plan.check();
    if !refusals.is_empty() {
        return Err(InputError::Refused(refusals));
    }

    let root = upload.staging().join("workspace");
    std::fs::create_dir(&root)?;
    for file in inline {
        write_new_file(&root, &file.path, &mut file.content.as_slice(), file.content.len() as u64, false)?;
    }
    for part in upload.parts() {
        match part.archive {
            Some(format) => archive_of(part, format).extract(&root)?,
            None => {
                let target = root.join(paths::normalize(&part.filename));
                create_parent(&target)?;
                std::fs::rename(&part.stored, &target)?;
                std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o644))?;
            }
        }
    }
    for entry in plan.entries() {
        if let EntryKind::HardLink(target) = &entry.kind {
            let path = root.join(&entry.path);
            create_parent(&path)?;
            std::fs::hard_link(root.join(paths::normalize(target)), path)?;
        }
    }
    for entry in plan.entries() {
        if let EntryKind::Symlink(target) = &entry.kind {
            let path = root.join(&entry.path);
            create_parent(&path)?;
            std::os::unix::fs::symlink(target, path)?;
        }
    }
    if let Some(parent) = workspace.parent() {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::rename(&root, workspace)?;
    Ok(())
}

fn archive_of(part: &UploadedPart, format: UploadArchive) -> ArchiveSource<'_> {
    ArchiveSource {
        format,
        stored: &part.stored,
        compressed_size: part.size,
        pointer: part.pointer(),
        filename: &part.filename,
    }
}

fn create_parent(path: &Path) -> io::Result<()> {
    match path.parent() {
        Some(parent) => std::fs::create_dir_all(parent),
        None => Ok(()),
    }
}

/// Creates `root/path` (which must not exist) with exactly `size` bytes from
/// `content`; more or fewer bytes than announced is `InvalidData`.
fn write_new_file(
    root: &Path,
    path: &str,
    content: &mut impl Read,
    size: u64,
    executable: bool,
) -> Result<(), InputError> {
    let target = root.join(paths::normalize(path));
    create_parent(&target)?;
    let mode = if executable { 0o755 } else { 0o644 };
    let mut out = std::fs::OpenOptions::new().write(true).create_new(true).mode(mode).open(&target)?;
    let copied = io::copy(&mut content.by_ref().take(size), &mut out)?;
    let mut extra = [0u8; 1];
    if copied != size || content.read(&mut extra)? != 0 {
        let why = format!("{path:?} holds a different number of bytes than its header says ({size})");
        return Err(io::Error::new(io::ErrorKind::InvalidData, why).into());
    }
    out.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests;
