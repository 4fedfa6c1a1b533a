//! Uploaded archives (`.tar.gz`, `.tgz`, `.zip`), read twice: once to list every
//! entry into the plan without writing anything, once to write the regular files
//! and directories of an accepted plan. Links are left to the caller, which makes
//! them last, so no write ever goes through one.

use std::cell::Cell;
use std::fs::File;
use std::io::{self, Read};
use std::path::Path;
use std::rc::Rc;

use super::plan::{EntryKind, Origin, Plan};
use super::{InputError, Refusal, write_new_file};

/// Archive formats accepted as uploads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UploadArchive {
    TarGz,
    Zip,
}

impl UploadArchive {
    /// The format a file name announces, if it is one of ours.
    pub fn from_filename(name: &str) -> Option<Self> {
        let lower = name.to_ascii_lowercase();
        if lower.ends_with(".tar.gz") || lower.ends_with(".tgz") {
            Some(Self::TarGz)
        } else if lower.ends_with(".zip") {
            Some(Self::Zip)
        } else {
            None
        }
    }
}

/// Compression ratios are only judged past this many expanded bytes: small archives
/// of repetitive text legitimately compress far better than large ones.
const RATIO_FLOOR: u64 = 1024 * 1024;

/// The longest symbolic link target read from a zip entry.
const MAX_LINK_TARGET: u64 = 4096;

/// One uploaded archive: where it is stored and how the client named it.
pub struct ArchiveSource<'a> {
    pub format: UploadArchive,
    pub stored: &'a Path,
    pub compressed_size: u64,
    pub pointer: &'a str,
    pub filename: &'a str,
}

impl ArchiveSource<'_> {
    fn origin(&self, entry: &str) -> Origin {
        Origin { pointer: self.pointer.to_string(), label: format!("entry {entry:?} of {}", self.filename) }
    }

    fn refuse(&self, message: String) -> InputError {
        InputError::Refused(vec![Refusal { pointer: self.pointer.to_string(), message }])
    }

    fn corrupt(&self, e: impl std::fmt::Display) -> InputError {
        self.refuse(format!("{} is not a readable archive: {e}", self.filename))
    }

    fn check_ratio(&self, expanded: u64, max_ratio: u64) -> Result<(), InputError> {
        if expanded > RATIO_FLOOR && expanded / self.compressed_size.max(1) > max_ratio {
            return Err(self.refuse(format!(
                "{} expands {} times ({expanded} bytes from {}); at most {max_ratio} is allowed \
                 (the server's cap tasks.max_archive_ratio)",
                self.filename,
                expanded / self.compressed_size.max(1),
                self.compressed_size
            )));
        }
        Ok(())
    }

    /// Lists every entry into `plan`; writes nothing.
    pub fn scan(&self, plan: &mut Plan) -> Result<(), InputError> {
        match self.format {
            UploadArchive::TarGz => self.scan_tar(plan),
            UploadArchive::Zip => self.scan_zip(plan),
        }
    }

    /// Writes the archive's directories and regular files under `root`.
    pub fn extract(&self, root: &Path) -> Result<(), InputError> {
        match self.format {
            UploadArchive::TarGz => self.extract_tar(root),
            UploadArchive::Zip => self.extract_zip(root),
        }
    }

    fn open_tar(&self, cap: u64) -> Result<(tar::Archive<Counted>, Rc<Cell<u64>>), InputError> {
        let file = File::open(self.stored)?;
        let expanded = Rc::new(Cell::new(0));
        let reader = Counted { inner: flate2::read::MultiGzDecoder::new(file), expanded: expanded.clone(), cap };
        Ok((tar::Archive::new(reader), expanded))
    }

    fn scan_tar(&self, plan: &mut Plan) -> Result<(), InputError> {
        // Headers and padding come on top of the file bytes the plan counts.
        let limits = plan.limits().clone();
        let cap = limits.max_bytes + 2048 * (2 * limits.max_files as u64 + 64) + RATIO_FLOOR;
        let (mut archive, expanded) = self.open_tar(cap)?;
        let entries = archive.entries().map_err(|e| self.corrupt(e))?;
        for entry in entries {
            let entry = entry.map_err(|e| self.tar_error(e, expanded.get(), cap))?;
            let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            let header = entry.header();
            let link = || entry.link_name_bytes().map(|t| String::from_utf8_lossy(&t).into_owned()).unwrap_or_default();
            let kind = match header.entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => EntryKind::File { size: entry.size() },
                tar::EntryType::Directory => EntryKind::Dir,
                tar::EntryType::Symlink => EntryKind::Symlink(link()),
                tar::EntryType::Link => EntryKind::HardLink(link()),
                tar::EntryType::XGlobalHeader => continue,
                tar::EntryType::Char | tar::EntryType::Block | tar::EntryType::Fifo => {
                    return Err(self.refuse(format!(
                        "entry {path:?} of {} is a device or FIFO; only files, directories and links are accepted",
                        self.filename
                    )));
                }
                other => {
                    return Err(self.refuse(format!(
                        "entry {path:?} of {} has the unsupported tar type {other:?}",
                        self.filename
                    )));
                }
            };
            plan.add(&path, kind, self.origin(&path)).map_err(|r| InputError::Refused(vec![r]))?;
        }
        self.check_ratio(expanded.get(), limits.max_ratio)
    }

    fn tar_error(&self, e: io::Error, expanded: u64, cap: u64) -> InputError {
        if expanded > cap {
            self.refuse(format!(
                "{} expands past {cap} bytes (the server's cap tasks.max_input_bytes plus headers)",
                self.filename
            ))
        } else {
            self.corrupt(e)
        }
    }

    fn extract_tar(&self, root: &Path) -> Result<(), InputError> {
        let (mut archive, _) = self.open_tar(u64::MAX)?;
        for entry in archive.entries().map_err(|e| self.corrupt(e))? {
            let mut entry = entry.map_err(|e| self.corrupt(e))?;
            let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {
                    let executable = entry.header().mode().is_ok_and(|m| m & 0o111 != 0);
                    let size = entry.size();
                    self.write_entry(root, &path, &mut entry, size, executable)?;
                }
                tar::EntryType::Directory => create_dir(root, &path)?,
                _ => {}
            }
        }
        Ok(())
    }

    /// Writes one entry's data; a read error or a size other than the declared one
    /// is a broken archive (422), not a gateway fault.
    fn write_entry(
        &self,
        root: &Path,
        path: &str,
        data: &mut impl Read,
        size: u64,
        executable: bool,
    ) -> Result<(), InputError> {
        write_new_file(root, path, &mut ReadErrorsAreInvalidData(data), size, executable).map_err(|e| match e {
            InputError::Io(io) if io.kind() == io::ErrorKind::InvalidData => self.corrupt(io),
            other => other,
        })
    }

    fn open_zip(&self) -> Result<zip::ZipArchive<File>, InputError> {
        zip::ZipArchive::new(File::open(self.stored)?).map_err(|e| self.corrupt(e))
    }

    fn scan_zip(&self, plan: &mut Plan) -> Result<(), InputError> {
        let max_entries = 2 * plan.limits().max_files;
        // The central directory is read whole by the zip reader: judge its size first.
        if let Some(entries) = central_directory_entries(self.stored)?
            && entries > max_entries as u64
        {
            return Err(self.refuse(format!(
                "{} has about {entries} entries; at most {max_entries} are allowed (the server's cap tasks.max_input_files)",
                self.filename
            )));
        }
        let mut archive = self.open_zip()?;
        if archive.len() > max_entries {
            return Err(self.refuse(format!(
                "{} has {} entries; at most {max_entries} are allowed (the server's cap tasks.max_input_files)",
                self.filename,
                archive.len()
            )));
        }
        let mut expanded = 0u64;
        for index in 0..archive.len() {
            let entry = archive.by_index_raw(index).map_err(|e| self.corrupt(e))?;
            let path = entry.name().map_err(|e| self.corrupt(e))?.into_owned();
            if entry.encrypted() {
                return Err(self.refuse(format!("entry {path:?} of {} is encrypted", self.filename)));
            }
            let file_type = entry.unix_mode().map(|m| m & libc::S_IFMT);
            if file_type.is_some_and(|t| ![0, libc::S_IFREG, libc::S_IFDIR, libc::S_IFLNK].contains(&t)) {
                return Err(self.refuse(format!(
                    "entry {path:?} of {} is a device, FIFO or socket; only files, directories and links are accepted",
                    self.filename
                )));
            }
            expanded = expanded.saturating_add(entry.size());
            let kind = if entry.is_dir() {
                EntryKind::Dir
            } else if entry.is_symlink() {
                drop(entry);
                let mut target = String::new();
                let link = archive.by_index(index).map_err(|e| self.corrupt(e))?;
                link.take(MAX_LINK_TARGET).read_to_string(&mut target).map_err(|e| self.corrupt(e))?;
                EntryKind::Symlink(target)
            } else {
                EntryKind::File { size: entry.size() }
            };
            plan.add(&path, kind, self.origin(&path)).map_err(|r| InputError::Refused(vec![r]))?;
        }
        self.check_ratio(expanded, plan.limits().max_ratio)
    }

    fn extract_zip(&self, root: &Path) -> Result<(), InputError> {
        let mut archive = self.open_zip()?;
        for index in 0..archive.len() {
            let mut entry = archive.by_index(index).map_err(|e| self.corrupt(e))?;
            let path = entry.name().map_err(|e| self.corrupt(e))?.into_owned();
            if entry.is_dir() {
                create_dir(root, &path)?;
            } else if !entry.is_symlink() {
                let executable = entry.unix_mode().is_some_and(|m| m & 0o111 != 0);
                let size = entry.size();
                // The declared size was checked against the caps; the data may not exceed it.
                self.write_entry(root, &path, &mut entry, size, executable)?;
            }
        }
        Ok(())
    }
}

fn create_dir(root: &Path, path: &str) -> Result<(), InputError> {
    let relative = super::paths::normalize(path.trim_end_matches('/'));
    if !relative.is_empty() {
        std::fs::create_dir_all(root.join(relative))?;
    }
    Ok(())
}

/// How many entries the zip's end-of-central-directory record announces (for
/// zip64, estimated from the directory's size); `None` if there is no record.
fn central_directory_entries(path: &Path) -> Result<Option<u64>, InputError> {
    use std::io::{Seek, SeekFrom};
    let mut file = File::open(path)?;
    let size = file.metadata()?.len();
    let tail_len = size.min(22 + 65_535);
    file.seek(SeekFrom::Start(size - tail_len))?;
    let mut tail = vec![0u8; tail_len as usize];
    file.read_exact(&mut tail)?;
    let Some(at) = tail.windows(4).rposition(|w| w == [0x50, 0x4b, 0x05, 0x06]) else { return Ok(None) };
    let record = &tail[at..];
    if record.len() < 22 {
        return Ok(None);
    }
    let entries = u64::from(u16::from_le_bytes([record[10], record[11]]));
    let directory_size = u64::from(u32::from_le_bytes([record[12], record[13], record[14], record[15]]));
    Ok(Some(match (entries, directory_size) {
        (0xFFFF, 0xFFFF_FFFF) => size / 46, // zip64: the file's size bounds the directory
        (0xFFFF, bytes) => bytes / 46,      // each directory entry takes at least 46 bytes
        (entries, _) => entries,
    }))
}

/// Reads through, turning any read error into `InvalidData`.
struct ReadErrorsAreInvalidData<R>(R);

impl<R: Read> Read for ReadErrorsAreInvalidData<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
    }
}

/// A reader that counts the bytes it expands and fails past `cap`, so a scan of a
/// decompression bomb stops early instead of inflating it all.
struct Counted {
    inner: flate2::read::MultiGzDecoder<File>,
    expanded: Rc<Cell<u64>>,
    cap: u64,
}

impl Read for Counted {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let read = self.inner.read(buf)?;
        let total = self.expanded.get().saturating_add(read as u64);
        self.expanded.set(total);
        if total > self.cap {
            return Err(io::Error::other("the archive expands past the cap"));
        }
        Ok(read)
    }
}
