//! Where an upload waits while it is received and checked: a directory of its own
//! under `<data>/uploads/`, removed when the upload is dropped, whatever happened.

use std::path::{Path, PathBuf};

use super::UploadArchive;

/// The parts of one request received so far, stored on disk.
#[derive(Debug)]
pub struct Upload {
    staging: PathBuf,
    parts: Vec<UploadedPart>,
}

/// One file or archive part, as stored.
#[derive(Debug)]
pub struct UploadedPart {
    /// The form field name.
    pub name: String,
    /// The part's filename: its path in the workspace, or the archive's name.
    pub filename: String,
    pub stored: PathBuf,
    pub size: u64,
    /// Set when the part is an archive to unpack.
    pub archive: Option<UploadArchive>,
    pointer: String,
}

impl UploadedPart {
    pub fn new(name: String, filename: String, stored: PathBuf, size: u64) -> Self {
        let archive = if name == "archive" { UploadArchive::from_filename(&filename) } else { None };
        let pointer = Self::pointer_of(&name);
        Self { name, filename, stored, size, archive, pointer }
    }

    /// JSON Pointer naming the part called `name` in errors.
    pub fn pointer_of(name: &str) -> String {
        format!("/parts/{}", crate::task::pointer_token(name))
    }

    /// JSON Pointer naming the part in errors.
    pub fn pointer(&self) -> &str {
        &self.pointer
    }
}

impl Upload {
    /// A fresh staging directory under `uploads_dir`.
    pub fn create(uploads_dir: &Path) -> std::io::Result<Self> {
        let staging = uploads_dir.join(crate::ids::new_id("upl"));
        std::fs::create_dir_all(staging.join("parts"))?;
        Ok(Self { staging, parts: Vec::new() })
    }

    /// Where the next part's bytes go.
    pub fn next_part_path(&self) -> PathBuf {
        self.staging.join("parts").join(self.parts.len().to_string())
    }

    pub fn push(&mut self, part: UploadedPart) {
        self.parts.push(part);
    }

    pub fn parts(&self) -> &[UploadedPart] {
        &self.parts
    }

    pub fn staging(&self) -> &Path {
        &self.staging
    }

    /// Removes what a crashed gateway left in `uploads_dir`: staging directories
    /// untouched for an hour (younger ones may belong to another gateway sharing
    /// the data directory, still receiving).
    pub fn clean_up_leftovers(uploads_dir: &Path) -> std::io::Result<()> {
        let entries = match std::fs::read_dir(uploads_dir) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            other => other?,
        };
        // Judged by the newest part, not the directory: a long upload keeps writing parts.
        let mut first_error = None;
        for entry in entries.flatten() {
            let newest = std::fs::read_dir(entry.path().join("parts"))
                .into_iter()
                .flatten()
                .flatten()
                .filter_map(|part| part.metadata().ok()?.modified().ok())
                .chain(entry.metadata().ok().and_then(|m| m.modified().ok()))
                .max();
            let age = newest.and_then(|t| t.elapsed().ok()).unwrap_or_default();
            if age > std::time::Duration::from_secs(3600)
                && let Err(e) = std::fs::remove_dir_all(entry.path())
            {
                first_error.get_or_insert(e);
            }
        }
        first_error.map_or(Ok(()), Err)
    }
}

impl Drop for Upload {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.staging);
    }
}
