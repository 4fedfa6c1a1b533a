//! `ccgate backup --to FILE`: a consistent archive of a live embedded gateway.

use std::ops::ControlFlow;
use std::path::{Path, PathBuf};

use sea_orm::{ConnectionTrait, Statement};

use super::archive::Exactly;
use super::{BackupError, Counts, DATABASE, FORMAT, FileEntry, MANIFEST, Manifest};
use crate::config::Config;
use crate::workspace::tree::{Root, WalkLimits};

/// Writes the backup of the gateway `config` describes to `to` (replaced whole,
/// never half-written: the archive is written beside it and renamed at the end).
pub async fn backup(config: &Config, to: &Path) -> Result<Manifest, BackupError> {
    let url = config.database_url();
    if !url.starts_with("sqlite:") {
        return Err(BackupError::Refused(
            "this gateway's database is not the embedded SQLite one: back it up with the database's own tools \
             (pg_dump) and its object store's versioning; see docs/operations.md"
                .into(),
        ));
    }
    let data_dir = std::path::absolute(&config.data_dir).map_err(BackupError::io("resolving the data directory"))?;
    let storage = config.storage_url().map_err(|e| BackupError::Refused(e.to_string()))?;
    // Artifacts in a bucket are not copied: the bucket's versioning keeps them.
    let mut trees = vec![("tasks", data_dir.join("tasks")), ("artifacts", data_dir.join("artifacts"))];
    match storage.local_dir() {
        Some(dir) => trees.push(("storage", dir.to_path_buf())),
        None => tracing::warn!(
            storage = %storage,
            "the artifacts are in an object store and not in this archive: keep versioning on for its bucket"
        ),
    }
    let work = sibling(to, "backup")?;
    let result = backup_into(&url, &data_dir, trees, &work, to, config.keys.pepper.is_empty()).await;
    let _ = std::fs::remove_dir_all(&work);
    result
}

async fn backup_into(
    url: &str,
    data_dir: &Path,
    trees: Vec<(&'static str, PathBuf)>,
    work: &Path,
    to: &Path,
    pepper_in_data_dir: bool,
) -> Result<Manifest, BackupError> {
    let copy = work.join(DATABASE);
    let (counts, schema) = snapshot_database(url, &copy).await?;
    let pepper = pepper_in_data_dir.then(|| data_dir.join("key-pepper")).filter(|p| p.is_file());
    let (partial, to_owned) = (work.join("archive.tar.gz"), to.to_path_buf());
    tokio::task::spawn_blocking(move || {
        let manifest = write_archive(&partial, &copy, pepper.as_deref(), &trees, counts, schema)?;
        std::fs::rename(&partial, &to_owned)
            .map_err(BackupError::io(format!("moving the archive to {}", to_owned.display())))?;
        Ok(manifest)
    })
    .await
    .map_err(|e| BackupError::Io { action: "writing the archive".into(), source: std::io::Error::other(e) })?
}

/// Copies the live database into `copy` with `VACUUM INTO` (a consistent snapshot
/// the gateway keeps writing through) and counts what it holds.
async fn snapshot_database(url: &str, copy: &Path) -> Result<(Counts, String), BackupError> {
    let store = crate::store::Store::connect(url).await?;
    let connection = store.writer();
    let target = copy.to_str().ok_or_else(|| BackupError::Refused("the backup path is not UTF-8".into()))?;
    let sql = format!("VACUUM INTO '{}'", target.replace('\'', "''"));
    connection
        .execute_unprepared(&sql)
        .await
        .map_err(|e| BackupError::Io { action: "copying the database".into(), source: std::io::Error::other(e) })?;
    let snapshot = crate::store::Store::connect(&format!("sqlite://{target}?mode=rwc")).await?;
    let count = |table: &'static str| {
        let snapshot = snapshot.clone();
        async move { scalar(&snapshot, &format!("SELECT COUNT(*) FROM {table}")).await.map(|n| n as u64) }
    };
    let counts = Counts {
        tasks: count("tasks").await?,
        keys: count("api_keys").await?,
        events: count("task_events").await?,
        artifacts: count("task_artifacts").await?,
        ..Counts::default()
    };
    let schema = snapshot
        .writer()
        .query_one_raw(Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "SELECT version FROM seaql_migrations ORDER BY version DESC LIMIT 1",
        ))
        .await
        .map_err(|e| BackupError::Io { action: "reading the schema version".into(), source: std::io::Error::other(e) })?
        .and_then(|row| row.try_get::<String>("", "version").ok())
        .unwrap_or_default();
    Ok((counts, schema))
}

async fn scalar(store: &crate::store::Store, sql: &str) -> Result<i64, BackupError> {
    let row = store
        .writer()
        .query_one_raw(Statement::from_string(sea_orm::DbBackend::Sqlite, sql))
        .await
        .map_err(|e| BackupError::Io { action: format!("running {sql}"), source: std::io::Error::other(e) })?;
    Ok(row.and_then(|row| row.try_get_by_index::<i64>(0).ok()).unwrap_or(0))
}

/// The archive: the database copy, the pepper, the files of `trees` (every task's
/// files, artifacts, local storage) each under its name, then the manifest.
fn write_archive(
    partial: &Path,
    database: &Path,
    pepper: Option<&Path>,
    trees: &[(&str, PathBuf)],
    mut counts: Counts,
    schema: String,
) -> Result<Manifest, BackupError> {
    let file = std::fs::File::create(partial).map_err(BackupError::io("creating the archive"))?;
    let mut tar = tar::Builder::new(flate2::write::GzEncoder::new(file, flate2::Compression::fast()));
    let mut files = Vec::new();
    let mut add = |tar: &mut tar::Builder<_>, path: String, source: std::fs::File| -> Result<(), BackupError> {
        let size = source.metadata().map_err(BackupError::io(format!("reading {path}")))?.len();
        let mut reader = Exactly::new(source, size);
        let mut header = tar::Header::new_gnu();
        header.set_size(size);
        header.set_mode(0o600);
        header.set_cksum();
        tar.append_data(&mut header, &path, &mut reader).map_err(BackupError::io(format!("archiving {path}")))?;
        files.push(FileEntry { path, size, sha256: reader.sha256() });
        Ok(())
    };
    let open = |path: &Path| std::fs::File::open(path).map_err(BackupError::io(format!("opening {}", path.display())));
    add(&mut tar, DATABASE.into(), open(database)?)?;
    if let Some(pepper) = pepper {
        add(&mut tar, "key-pepper".into(), open(pepper)?)?;
    }
    for (top, dir) in trees {
        let Some(root) = Root::open_if_present(dir).map_err(BackupError::io(format!("opening {top}")))? else {
            continue;
        };
        let mut found = Vec::new();
        root.walk(WalkLimits::ALL, |file| {
            found.push(file.path);
            ControlFlow::Continue(())
        })
        .map_err(BackupError::io(format!("walking {top}")))?;
        for relative in found {
            // Gone or no longer a regular file since the walk: a running task's.
            let Ok(source) = root.open_file(&relative) else { continue };
            add(&mut tar, format!("{top}/{relative}"), source)?;
        }
    }
    counts.files = files.len() as u64;
    counts.bytes = files.iter().map(|f| f.size).sum();
    let manifest = Manifest {
        format: FORMAT,
        ccgate_version: env!("CARGO_PKG_VERSION").into(),
        schema,
        created_at: crate::timestamp::format_ms(crate::timestamp::now_ms()),
        counts,
        files,
    };
    let json = serde_json::to_vec_pretty(&manifest).map_err(|e| BackupError::Corrupt(e.to_string()))?;
    let mut header = tar::Header::new_gnu();
    header.set_size(json.len() as u64);
    header.set_mode(0o600);
    header.set_cksum();
    tar.append_data(&mut header, MANIFEST, json.as_slice()).map_err(BackupError::io("archiving the manifest"))?;
    let encoder = tar.into_inner().map_err(BackupError::io("finishing the archive"))?;
    let file = encoder.finish().map_err(BackupError::io("finishing the archive"))?;
    file.sync_all().map_err(BackupError::io("syncing the archive"))?;
    Ok(manifest)
}

/// A fresh directory beside `path` for work in progress.
pub(super) fn sibling(path: &Path, what: &str) -> Result<PathBuf, BackupError> {
    let parent = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let work = parent.join(format!(".{name}.{what}-{}", crate::ids::new_id("tmp")));
    std::fs::create_dir_all(&work).map_err(BackupError::io(format!("creating {}", work.display())))?;
    Ok(work)
}
