//! Artifacts: after every turn, the workspace's regular files that match the
//! task's globs are copied out (links are never followed, devices and FIFOs never
//! read), hashed, typed, and kept in artifact storage, replacing the previous
//! turn's set. Caps on count and bytes keep one task from filling the disk.

pub mod glob;
mod store;

use std::collections::HashSet;
use std::path::Path;

pub use glob::Glob;
pub use store::{ArtifactStore, LocalArtifacts};

use crate::workspace::{list, open_beneath};

/// Caps of one task's collection.
#[derive(Debug, Clone)]
pub struct CollectLimits {
    pub max_files: usize,
    pub max_bytes: u64,
}

/// One collected file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, utoipa::ToSchema)]
pub struct Artifact {
    /// Unique within the task: the file's name, or its path with `/` as `_` when
    /// two collected files share a name.
    #[schema(example = "report.md")]
    pub name: String,
    /// Where it was in the workspace.
    #[schema(example = "out/report.md")]
    pub path: String,
    pub size: u64,
    pub sha256: String,
    #[schema(example = "text/markdown")]
    pub content_type: String,
}

/// What a collection staged (as `set`, to commit or discard), and what it left
/// out and why.
#[derive(Debug, Default)]
pub struct Collected {
    pub set: String,
    pub artifacts: Vec<Artifact>,
    pub skipped: Vec<String>,
}

/// Stages the files of `workspace` that match `patterns` as a new set in `store`.
pub fn collect(
    store: &dyn ArtifactStore,
    task_id: &str,
    workspace: &Path,
    patterns: &[Glob],
    limits: &CollectLimits,
) -> std::io::Result<Collected> {
    let mut collected = Collected { set: crate::ids::new_id("set"), ..Default::default() };
    let listing = match list(workspace) {
        Ok(listing) => listing,
        Err(crate::workspace::WorkspaceError::NotFound) => return Ok(collected),
        Err(e) => return Err(std::io::Error::other(e.to_string())),
    };
    if listing.truncated {
        collected.skipped.push("the workspace has more entries than a collection walks".into());
    }
    let matching: Vec<_> = listing.files.iter().filter(|f| patterns.iter().any(|g| g.matches(&f.path))).collect();
    let names = unique_names(matching.iter().map(|f| f.path.as_str()));
    let mut bytes = 0u64;
    for (file, name) in matching.iter().zip(names) {
        if collected.artifacts.len() >= limits.max_files {
            collected
                .skipped
                .push(format!("{}: past the cap of {} files (artifacts.max_files)", file.path, limits.max_files));
            continue;
        }
        if bytes + file.size > limits.max_bytes {
            collected
                .skipped
                .push(format!("{}: past the cap of {} bytes (artifacts.max_bytes)", file.path, limits.max_bytes));
            continue;
        }
        // Opened without following links; it may have changed since the listing.
        let Ok(mut source) = open_beneath(workspace, &file.path) else {
            collected.skipped.push(format!("{}: no longer a regular file", file.path));
            continue;
        };
        let mut content = std::io::Read::take(&mut source, limits.max_bytes - bytes + 1);
        let (size, sha256) = match store.stage(task_id, &collected.set, &name, &mut content) {
            Ok(stored) => stored,
            Err(e) => {
                store.discard(task_id, &collected.set)?;
                return Err(e);
            }
        };
        bytes += size;
        collected.artifacts.push(Artifact {
            content_type: content_type(&name).to_string(),
            name,
            path: file.path.clone(),
            size,
            sha256,
        });
    }
    if bytes > limits.max_bytes {
        store.discard(task_id, &collected.set)?;
        return Err(std::io::Error::other("a file grew past artifacts.max_bytes while it was collected"));
    }
    Ok(collected)
}

/// A name per path: the file name, or the whole path with `_` for `/` when the
/// file name is taken (then `-2`, `-3`… if even that is).
fn unique_names<'a>(paths: impl Iterator<Item = &'a str>) -> Vec<String> {
    let paths: Vec<&str> = paths.collect();
    let mut base_counts = std::collections::HashMap::new();
    for path in &paths {
        *base_counts.entry(path.rsplit('/').next().unwrap_or(path)).or_insert(0) += 1;
    }
    let mut taken = HashSet::new();
    paths
        .iter()
        .map(|path| {
            let base = path.rsplit('/').next().unwrap_or(path);
            let preferred = safe_name(if base_counts[base] == 1 { base.to_string() } else { path.replace('/', "_") });
            let mut name = preferred.clone();
            let mut n = 2;
            while !taken.insert(name.clone()) {
                name = format!("{preferred}-{n}");
                n += 1;
            }
            name
        })
        .collect()
}

/// A name fit for a URL segment and a file: no backslashes or control
/// characters, at most 200 bytes (long names keep their end, with the extension).
fn safe_name(name: String) -> String {
    let cleaned: String = name.chars().map(|c| if c == '\\' || c.is_control() { '_' } else { c }).collect();
    let cleaned = if matches!(cleaned.as_str(), "." | "..") { cleaned.replace('.', "_") } else { cleaned };
    if cleaned.len() <= 200 {
        return cleaned;
    }
    let mut start = cleaned.len() - 190;
    while !cleaned.is_char_boundary(start) {
        start += 1;
    }
    let digest = blake3::hash(cleaned.as_bytes()).to_hex();
    format!("{}-{}", &digest[..8], &cleaned[start..])
}

/// The media type of a file, from its extension.
pub fn content_type(name: &str) -> &'static str {
    let extension = name.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase()).unwrap_or_default();
    match extension.as_str() {
        "md" | "markdown" => "text/markdown",
        "txt" | "log" => "text/plain; charset=utf-8",
        "patch" | "diff" => "text/x-diff",
        "html" | "htm" => "text/html; charset=utf-8",
        "css" => "text/css",
        "csv" => "text/csv",
        "js" | "mjs" => "text/javascript",
        "json" => "application/json",
        "yaml" | "yml" => "application/yaml",
        "toml" => "application/toml",
        "xml" => "application/xml",
        "rs" | "py" | "go" | "java" | "c" | "h" | "cpp" | "ts" | "sh" | "rb" => "text/plain; charset=utf-8",
        "pdf" => "application/pdf",
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "svg" => "image/svg+xml",
        "zip" => "application/zip",
        "gz" | "tgz" => "application/gzip",
        "tar" => "application/x-tar",
        "wasm" => "application/wasm",
        _ => "application/octet-stream",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_readable() {
        let names = unique_names(["out/report.md", "a/x.txt", "b/x.txt", "a_x.txt"].into_iter());
        assert_eq!(names, ["report.md", "a_x.txt", "b_x.txt", "a_x.txt-2"]);
        let long = format!("out/{}.md", "n".repeat(300));
        let odd = unique_names([long.as_str(), "out/a\\b\n.md"].into_iter());
        assert!(odd[0].len() <= 200 && odd[0].ends_with("nnn.md"), "{odd:?}");
        assert_eq!(odd[1], "a_b_.md");
    }

    #[test]
    fn collection_follows_globs_caps_and_never_a_link() {
        let dir = tempfile::tempdir().unwrap();
        let workspace = dir.path().join("ws");
        std::fs::create_dir_all(workspace.join("out/deep")).unwrap();
        std::fs::write(workspace.join("out/report.md"), "# report").unwrap();
        std::fs::write(workspace.join("out/deep/data.json"), "{}").unwrap();
        std::fs::write(workspace.join("fix.patch"), vec![b'x'; 100]).unwrap();
        std::fs::write(workspace.join("notes.txt"), "not collected").unwrap();
        std::os::unix::fs::symlink("/etc/passwd", workspace.join("out/passwd")).unwrap();
        let store = LocalArtifacts::new(dir.path().join("artifacts"));
        let patterns = [Glob::parse("out/**").unwrap(), Glob::parse("*.patch").unwrap()];
        let limits = CollectLimits { max_files: 10, max_bytes: 50 };
        let collected = collect(&store, "tsk_1", &workspace, &patterns, &limits).unwrap();
        assert!(store.open("tsk_1", "report.md").is_err(), "staged, not committed yet");
        store.commit("tsk_1", &collected.set).unwrap();
        let paths: Vec<&str> = collected.artifacts.iter().map(|a| a.path.as_str()).collect();
        assert_eq!(paths, ["out/deep/data.json", "out/report.md"], "{collected:?}");
        assert!(collected.skipped[0].starts_with("fix.patch: past the cap of 50 bytes"), "{collected:?}");
        let report = &collected.artifacts[1];
        assert_eq!(
            (report.name.as_str(), report.content_type.as_str(), report.size),
            ("report.md", "text/markdown", 8)
        );
        assert_eq!(std::fs::read_to_string(dir.path().join("artifacts/tsk_1/current/report.md")).unwrap(), "# report");
        // The next turn's collection replaces the set.
        std::fs::remove_file(workspace.join("out/report.md")).unwrap();
        let again = collect(&store, "tsk_1", &workspace, &patterns, &limits).unwrap();
        assert_eq!(again.artifacts.len(), 1);
        store.commit("tsk_1", &again.set).unwrap();
        assert!(store.open("tsk_1", "report.md").is_err());
    }
}
