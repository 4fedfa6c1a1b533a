//! ccgate artifact plugin: selects the workspace files that become a task's artifacts
//! (globs, size limits, media types) and can add a unified diff of what the task
//! changed relative to its input files. See `README.md` for the configuration.

pub mod media;

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use ccgate_globs::Glob;
use ccgate_plugin_sdk::prelude::*;
use serde::Deserialize;

/// The plugin's configuration.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Globs of paths to select (default `["**"]`).
    pub include: Vec<String>,
    /// Globs of paths never to select (and to leave out of the diff).
    pub exclude: Vec<String>,
    /// Files larger than this are not selected.
    pub max_file_bytes: Option<u64>,
    /// Selected files (in path order) stop adding up past this; a file that does not fit is skipped.
    pub max_total_bytes: Option<u64>,
    /// At most this many files are selected (in path order).
    pub max_files: Option<usize>,
    /// Allowed media types, exact (`application/json`) or prefixes (`text/`).
    pub content_types: Option<Vec<String>>,
    /// The generated diff.
    pub diff: DiffConfig,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            include: vec!["**".to_owned()],
            exclude: Vec::new(),
            max_file_bytes: None,
            max_total_bytes: None,
            max_files: None,
            content_types: None,
            diff: DiffConfig::default(),
        }
    }
}

/// The `diff` setting.
#[derive(Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct DiffConfig {
    /// Add a unified diff of changed, added and deleted files (default false).
    pub enabled: bool,
    /// The diff artifact's name (default `changes.diff`).
    pub name: String,
    /// Globs of the paths the diff covers (default `["**"]`: every change, whatever
    /// `include` selects); `exclude` applies to the diff too.
    pub include: Vec<String>,
    /// Files larger than this (either side) are reported as differing, not diffed
    /// (default 1 MiB).
    pub max_file_bytes: u64,
}

impl Default for DiffConfig {
    fn default() -> Self {
        DiffConfig {
            enabled: false,
            name: "changes.diff".to_owned(),
            include: vec!["**".to_owned()],
            max_file_bytes: 1 << 20,
        }
    }
}

/// Where the plugin reads files.
#[derive(Debug, Clone)]
pub struct Roots {
    /// The workspace (`/workspace` in the plugin).
    pub workspace: PathBuf,
    /// The task's original input files (`/baseline`), when it had any.
    pub baseline: Option<PathBuf>,
}

impl Roots {
    /// The directories the gateway preopens.
    pub fn preopened() -> Self {
        let baseline = Path::new("/baseline");
        Roots { workspace: PathBuf::from("/workspace"), baseline: baseline.is_dir().then(|| baseline.to_path_buf()) }
    }
}

/// A configuration, checked and compiled.
#[derive(Debug)]
pub struct Selector<'a> {
    config: &'a Config,
    include: Vec<Glob>,
    exclude: Vec<Glob>,
    diff_include: Vec<Glob>,
}

impl<'a> Selector<'a> {
    /// Parses a configuration's globs; its problems as violations.
    pub fn new(config: &'a Config) -> Result<Self, Vec<Violation>> {
        let mut violations = Vec::new();
        let mut parse = |field: &str, patterns: &[String]| -> Vec<Glob> {
            let mut globs = Vec::new();
            for (i, p) in patterns.iter().enumerate() {
                match Glob::parse(p) {
                    Ok(g) => globs.push(g),
                    Err(e) => violations.push(Violation::new(format!("/{field}/{i}"), format!("invalid glob: {e}"))),
                }
            }
            globs
        };
        let include = parse("include", &config.include);
        let exclude = parse("exclude", &config.exclude);
        let diff_include = parse("diff/include", &config.diff.include);
        if let Some(types) = &config.content_types {
            for (i, t) in types.iter().enumerate() {
                let (kind, sub) = t.split_once('/').unwrap_or((t, ""));
                if kind.is_empty() || sub.contains('/') || t.contains(char::is_whitespace) {
                    violations.push(Violation::new(
                        format!("/content_types/{i}"),
                        "must be a media type (`text/plain`) or a prefix ending in `/` (`text/`)",
                    ));
                }
            }
        }
        let name = &config.diff.name;
        if config.diff.enabled && (Glob::parse(name).is_err() || name.contains(['*', '?']) || name.ends_with('/')) {
            violations.push(Violation::new("/diff/name", "must be a relative file name"));
        }
        if violations.is_empty() { Ok(Selector { config, include, exclude, diff_include }) } else { Err(violations) }
    }

    fn path_wanted(&self, path: &str) -> bool {
        self.include.iter().any(|g| g.matches(path)) && !self.exclude.iter().any(|g| g.matches(path))
    }

    fn path_diffed(&self, path: &str) -> bool {
        self.diff_include.iter().any(|g| g.matches(path)) && !self.exclude.iter().any(|g| g.matches(path))
    }

    /// The artifacts: the selected workspace files (in path order, `content: None`),
    /// then the diff when enabled.
    pub fn collect(&self, roots: &Roots, files: &[WorkspaceFile]) -> Vec<Artifact> {
        let config = self.config;
        let mut files: Vec<&WorkspaceFile> = files.iter().filter(|f| safe_relative(&f.path)).collect();
        files.sort_by(|a, b| a.path.cmp(&b.path));
        files.dedup_by(|a, b| a.path == b.path);

        let mut artifacts = Vec::new();
        let mut total: u64 = 0;
        for file in &files {
            if config.max_files.is_some_and(|max| artifacts.len() >= max) {
                break;
            }
            if !self.path_wanted(&file.path) || config.max_file_bytes.is_some_and(|max| file.size > max) {
                continue;
            }
            if config.max_total_bytes.is_some_and(|max| total.saturating_add(file.size) > max) {
                continue;
            }
            if let Some(types) = &config.content_types {
                let head = match read_head(&roots.workspace.join(&file.path)) {
                    Ok(head) => head,
                    Err(e) => {
                        log::warn_with(
                            "cannot read a workspace file",
                            &[("path", &file.path), ("error", &e.to_string())],
                        );
                        continue;
                    }
                };
                if !media::allowed(media::classify(&file.path, Some(&head)), types) {
                    continue;
                }
            }
            total += file.size;
            artifacts.push(Artifact::workspace(file.path.clone()));
        }

        if config.diff.enabled {
            let diff = self.diff(roots, &files);
            artifacts.push(Artifact::generated(config.diff.name.clone(), diff, Some("text/x-diff")));
        }
        artifacts
    }

    /// A unified diff (git style) of the files the diff covers, relative to the baseline.
    pub fn diff(&self, roots: &Roots, files: &[&WorkspaceFile]) -> String {
        let current: BTreeSet<&str> = files.iter().map(|f| f.path.as_str()).filter(|p| self.path_diffed(p)).collect();
        let baseline: BTreeSet<String> = roots
            .baseline
            .as_deref()
            .map(|dir| {
                let mut found = Vec::new();
                walk(dir, "", &mut found);
                found
            })
            .unwrap_or_default()
            .into_iter()
            .filter(|p| self.path_diffed(p))
            .collect();

        let mut paths: BTreeMap<&str, (bool, bool)> = BTreeMap::new();
        for p in &current {
            paths.entry(p).or_default().1 = true;
        }
        for p in &baseline {
            paths.entry(p.as_str()).or_default().0 = true;
        }

        let limit = self.config.diff.max_file_bytes;
        let mut out = String::new();
        for (path, (in_old, in_new)) in paths {
            let old =
                in_old.then(|| read_limited(&roots.baseline.as_deref().expect("baseline exists").join(path), limit));
            let new = in_new.then(|| read_limited(&roots.workspace.join(path), limit));
            out.push_str(&file_diff(path, old, new));
        }
        out
    }
}

/// What a file holds for the diff.
#[derive(Debug, PartialEq, Eq)]
pub enum Content {
    /// UTF-8 text without NUL bytes.
    Text(String),
    /// Anything else, or too large; with a digest to compare.
    Opaque { len: u64, digest: u64 },
    /// Could not be read.
    Unreadable(String),
}

fn read_limited(path: &Path, limit: u64) -> Content {
    let metadata = match fs::metadata(path) {
        Ok(m) => m,
        Err(e) => return Content::Unreadable(e.to_string()),
    };
    let mut bytes = Vec::new();
    let read = fs::File::open(path).and_then(|f| f.take(limit.saturating_add(1)).read_to_end(&mut bytes));
    if let Err(e) = read {
        return Content::Unreadable(e.to_string());
    }
    if metadata.len() > limit || bytes.len() as u64 > limit {
        // Too large to diff: compare a digest of the whole file.
        let mut all = Vec::new();
        let digest = match fs::File::open(path).and_then(|mut f| f.read_to_end(&mut all)) {
            Ok(_) => fnv(&all),
            Err(e) => return Content::Unreadable(e.to_string()),
        };
        return Content::Opaque { len: all.len() as u64, digest };
    }
    if bytes.contains(&0) {
        return Content::Opaque { len: bytes.len() as u64, digest: fnv(&bytes) };
    }
    match String::from_utf8(bytes) {
        Ok(text) => Content::Text(text),
        Err(e) => {
            let bytes = e.into_bytes();
            Content::Opaque { len: bytes.len() as u64, digest: fnv(&bytes) }
        }
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, &b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3))
}

/// The diff of one file: `old` is none when added, `new` none when deleted. Empty
/// when unchanged.
pub fn file_diff(path: &str, old: Option<Content>, new: Option<Content>) -> String {
    let (a, b) = (format!("a/{path}"), format!("b/{path}"));
    let mut head = format!("diff --git {a} {b}\n");
    match (&old, &new) {
        (None, Some(_)) => head.push_str("new file mode 100644\n"),
        (Some(_), None) => head.push_str("deleted file mode 100644\n"),
        _ => {}
    }
    let (from, to) =
        (if old.is_some() { a.as_str() } else { "/dev/null" }, if new.is_some() { b.as_str() } else { "/dev/null" });
    let text = |c: &Option<Content>| match c {
        None => Some(String::new()),
        Some(Content::Text(t)) => Some(t.clone()),
        _ => None,
    };
    match (text(&old), text(&new)) {
        (Some(o), Some(n)) => {
            if old.is_some() && new.is_some() && o == n {
                return String::new();
            }
            if o.is_empty() && n.is_empty() {
                // An empty file added or deleted: git shows only the header.
                return head;
            }
            let diff = similar::TextDiff::from_lines(&o, &n);
            head + &diff.unified_diff().context_radius(3).header(from, to).to_string()
        }
        _ => {
            if old == new {
                return String::new();
            }
            for content in [&old, &new].into_iter().flatten() {
                if let Content::Unreadable(e) = content {
                    log::warn_with("cannot read a file for the diff", &[("path", path), ("error", e)]);
                }
            }
            head + &format!("Binary files {from} and {to} differ\n")
        }
    }
}

/// Whether a listed path is a plain relative path (no `..`, not absolute).
fn safe_relative(path: &str) -> bool {
    !path.is_empty() && !path.starts_with('/') && !path.split('/').any(|s| s == ".." || s == ".")
}

fn read_head(path: &Path) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(media::SNIFF_BYTES);
    fs::File::open(path)?.take(media::SNIFF_BYTES as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// Every regular file below `dir`, as `/`-separated paths relative to it (symlinks are not followed).
fn walk(dir: &Path, prefix: &str, found: &mut Vec<String>) {
    let entries = match fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) => {
            log::warn_with(
                "cannot list the baseline",
                &[("dir", &dir.display().to_string()), ("error", &e.to_string())],
            );
            return;
        }
    };
    for entry in entries.flatten() {
        let Ok(name) = entry.file_name().into_string() else { continue };
        let Ok(kind) = entry.file_type() else { continue };
        let rel = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
        if kind.is_dir() {
            walk(&entry.path(), &rel, found);
        } else if kind.is_file() {
            found.push(rel);
        }
    }
}

/// The plugin.
pub struct ArtifactSelect;

impl Plugin for ArtifactSelect {
    type Config = Config;
    const NAME: &'static str = "artifact-select";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");

    fn config_schema() -> Option<&'static str> {
        Some(ccgate_plugin_sdk::schema!("../schema.json"))
    }

    fn check_config(config: &Config) -> Vec<Violation> {
        Selector::new(config).err().unwrap_or_default()
    }
}

impl ArtifactCollector for ArtifactSelect {
    fn collect(
        config: &Config,
        _task: TaskInfo,
        _result: TaskResult,
        files: Vec<WorkspaceFile>,
    ) -> Result<Vec<Artifact>, String> {
        let selector = Selector::new(config).map_err(|v| format!("invalid configuration: {v:?}"))?;
        let artifacts = selector.collect(&Roots::preopened(), &files);
        log::debug_with(
            "artifacts selected",
            &[("listed", &files.len().to_string()), ("artifacts", &artifacts.len().to_string())],
        );
        Ok(artifacts)
    }
}

ccgate_plugin_sdk::export_artifact_collector!(ArtifactSelect);

#[cfg(test)]
mod tests;
