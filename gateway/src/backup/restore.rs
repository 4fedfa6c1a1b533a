//! `ccgate restore --from FILE --data-dir DIR`: a backup unpacked, checked against its
//! manifest, and only then put in place.

use std::collections::HashMap;
use std::path::Path;

use super::create::sibling;
use super::{BackupError, DATABASE, FORMAT, MANIFEST, Manifest, archived_path_ok};

/// The largest manifest read (its file list grows with the tasks).
const MAX_MANIFEST_BYTES: u64 = 256 * 1024 * 1024;

/// Restores the archive `from` into `data_dir`, which must be missing or empty
/// unless `force` (then what it holds is replaced). Returns the archive's manifest.
pub async fn restore(from: &Path, data_dir: &Path, force: bool) -> Result<Manifest, BackupError> {
    let occupied = std::fs::read_dir(data_dir).map(|mut entries| entries.next().is_some()).unwrap_or(false);
    if occupied && !force {
        return Err(BackupError::Refused(format!(
            "{} is not empty; restore into an empty directory, or pass --force to replace what it holds",
            data_dir.display()
        )));
    }
    let staging = sibling(data_dir, "restore")?;
    let unpacked = {
        let (from, staging) = (from.to_path_buf(), staging.clone());
        tokio::task::spawn_blocking(move || unpack(&from, &staging))
            .await
            .unwrap_or_else(|e| Err(BackupError::Io { action: "unpacking".into(), source: std::io::Error::other(e) }))
    };
    let manifest = match unpacked {
        Ok(manifest) => manifest,
        Err(e) => {
            let _ = std::fs::remove_dir_all(&staging);
            return Err(e);
        }
    };
    if data_dir.exists() {
        std::fs::remove_dir_all(data_dir).map_err(BackupError::io(format!("clearing {}", data_dir.display())))?;
    }
    std::fs::rename(&staging, data_dir).map_err(BackupError::io(format!("moving into {}", data_dir.display())))?;
    let url = format!("sqlite://{}?mode=rwc", data_dir.join(DATABASE).display());
    let store = crate::store::Store::connect(&url).await?;
    store.migrate().await?;
    let requeued = store.requeue_restored().await?;
    if requeued > 0 {
        tracing::info!(requeued, "tasks that were running at backup time are queued again");
    }
    Ok(manifest)
}

/// Unpacks `from` into `staging` and checks it: every entry a regular file in a
/// place a backup writes, the manifest last, and every file's size and SHA-256 as
/// the manifest says, none missing and none extra.
fn unpack(from: &Path, staging: &Path) -> Result<Manifest, BackupError> {
    let corrupt = |why: String| BackupError::Corrupt(why);
    let file = std::fs::File::open(from).map_err(BackupError::io(format!("opening {}", from.display())))?;
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(file));
    let mut seen: HashMap<String, (u64, String)> = HashMap::new();
    let mut manifest: Option<Manifest> = None;
    let entries = archive.entries().map_err(|e| corrupt(e.to_string()))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| corrupt(format!("an entry cannot be read: {e}")))?;
        let path = entry.path().map_err(|e| corrupt(e.to_string()))?.to_string_lossy().into_owned();
        if manifest.is_some() {
            return Err(corrupt(format!("{path} comes after the manifest")));
        }
        if entry.header().entry_type() != tar::EntryType::Regular {
            return Err(corrupt(format!("{path} is not a regular file")));
        }
        if path == MANIFEST {
            let mut json = Vec::new();
            std::io::Read::read_to_end(&mut std::io::Read::take(&mut entry, MAX_MANIFEST_BYTES), &mut json)
                .map_err(|e| corrupt(format!("the manifest cannot be read: {e}")))?;
            manifest = Some(serde_json::from_slice(&json).map_err(|e| corrupt(format!("the manifest: {e}")))?);
            continue;
        }
        if !archived_path_ok(&path) || seen.contains_key(&path) {
            return Err(corrupt(format!("{path} is not a place a backup writes, or comes twice")));
        }
        let target = staging.join(&path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent).map_err(BackupError::io(format!("creating {}", parent.display())))?;
        }
        let out = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&target)
            .map_err(BackupError::io(format!("writing {path}")))?;
        let (size, sha256) =
            crate::hashing::copy_hashed(&mut entry, out).map_err(|e| corrupt(format!("{path}: {e}")))?;
        seen.insert(path, (size, sha256));
    }
    let manifest = manifest.ok_or_else(|| corrupt("it has no manifest (truncated?)".into()))?;
    if manifest.format != FORMAT {
        return Err(corrupt(format!("its format is {}, this gateway reads {FORMAT}", manifest.format)));
    }
    if seen.len() != manifest.files.len() {
        return Err(corrupt(format!("it holds {} files, its manifest lists {}", seen.len(), manifest.files.len())));
    }
    for file in &manifest.files {
        match seen.get(&file.path) {
            Some((size, sha256)) if *size == file.size && *sha256 == file.sha256 => {}
            Some(_) => return Err(corrupt(format!("{} does not match its checksum", file.path))),
            None => return Err(corrupt(format!("{} is listed but missing", file.path))),
        }
    }
    if !seen.contains_key(DATABASE) {
        return Err(corrupt("it holds no database".into()));
    }
    Ok(manifest)
}
