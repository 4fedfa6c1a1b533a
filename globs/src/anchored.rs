//! Path patterns of permission rules (`Edit(src/**)`): a glob and where it starts.

use crate::{Glob, GlobError};

/// Claude Code's tools whose permission-rule pattern is a path glob.
pub const PATH_TOOLS: [&str; 8] = ["Read", "Write", "Edit", "MultiEdit", "NotebookEdit", "Glob", "Grep", "LS"];

/// Where a run sees its workspace and home (absolute paths): where relative and
/// `~/` patterns start.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Place {
    pub workspace: String,
    pub home: String,
}

/// The path a file tool's call acts on, from its input's fields (`field` reads
/// one): `file_path`, `notebook_path` or `path`; Glob, Grep and LS search the
/// workspace when they name none.
pub fn call_path<'a>(tool: &str, field: impl Fn(&str) -> Option<&'a str>, place: &'a Place) -> Option<&'a str> {
    match (["file_path", "notebook_path", "path"].into_iter().find_map(field), tool) {
        (Some(path), _) => Some(path),
        (None, "Glob" | "Grep" | "LS") => Some(place.workspace.as_str()),
        (None, _) => None,
    }
}

/// Where a rule's path pattern starts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Anchor {
    /// `//tmp/**`: from the root.
    Root,
    /// `~/notes/*`: from the home directory.
    Home,
    /// Anything else (`src/**`, `/src/**`): from the workspace.
    Workspace,
}

/// A path pattern of a permission rule: `//` starts at the root, `~/` in the home,
/// anything else in the workspace; a pattern with no `/` but a trailing one names a
/// file at any depth (`*.md`, as in `.gitignore`). Paths are normalized (`..`
/// resolved) before they are matched, so `src/../etc/x` is not under `src`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anchored {
    anchor: Anchor,
    glob: Glob,
}

impl Anchored {
    pub fn parse(pattern: &str) -> Result<Self, GlobError> {
        let (anchor, rest) = if let Some(absolute) = pattern.strip_prefix("//") {
            (Anchor::Root, absolute)
        } else if let Some(in_home) = pattern.strip_prefix("~/") {
            (Anchor::Home, in_home)
        } else {
            (Anchor::Workspace, pattern)
        };
        let relative = rest.trim_start_matches("./").trim_start_matches('/');
        let anywhere = anchor == Anchor::Workspace && !relative.trim_end_matches('/').contains('/');
        let glob = if anywhere && !relative.is_empty() {
            Glob::parse(&format!("**/{relative}"))?
        } else {
            Glob::parse(if rest.is_empty() { "/" } else { rest })?
        };
        Ok(Self { anchor, glob })
    }

    /// Whether `path` (absolute, or relative to the workspace) matches, for a run
    /// that sees its workspace and home at `place`.
    pub fn matches(&self, path: &str, place: &Place) -> bool {
        let Some(path) = normalize(path, &place.workspace) else { return false };
        let base = match self.anchor {
            Anchor::Root => "/",
            Anchor::Home => &place.home,
            Anchor::Workspace => &place.workspace,
        };
        let Some(base) = normalize(base, "/") else { return false };
        let relative = if base == "/" {
            Some(path.as_str())
        } else {
            path.strip_prefix(base.as_str()).filter(|rest| rest.is_empty() || rest.starts_with('/'))
        };
        relative.is_some_and(|relative| self.glob.matches(relative))
    }
}

/// `path` as an absolute path without `.` or `..` (a relative one starts at
/// `base`); `None` when `..` climbs past the root.
pub fn normalize(path: &str, base: &str) -> Option<String> {
    let joined = if path.starts_with('/') { path.to_string() } else { format!("{base}/{path}") };
    let mut parts: Vec<&str> = Vec::new();
    for part in joined.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop()?;
            }
            part => parts.push(part),
        }
    }
    Some(format!("/{}", parts.join("/")))
}

#[cfg(test)]
mod tests {
    use super::{Anchored, Place, call_path};

    fn place() -> Place {
        Place { workspace: "/workspace".into(), home: "/home/agent".into() }
    }

    fn edit(pattern: &str, path: &str) -> bool {
        Anchored::parse(pattern).unwrap().matches(path, &place())
    }

    #[test]
    fn a_file_tool_acts_on_its_path_or_searches_the_workspace() {
        let place = place();
        let none = |_: &str| None;
        assert_eq!(call_path("Edit", |f| (f == "file_path").then_some("a.rs"), &place), Some("a.rs"));
        assert_eq!(call_path("NotebookEdit", |f| (f == "notebook_path").then_some("n.ipynb"), &place), Some("n.ipynb"));
        assert_eq!(call_path("Grep", none, &place), Some("/workspace"));
        assert_eq!(call_path("Edit", none, &place), None);
    }

    #[test]
    fn patterns_start_in_the_workspace_the_home_or_the_root() {
        assert!(edit("src/**", "/workspace/src/a/b.rs"));
        assert!(edit("src/**", "src/lib.rs"));
        assert!(edit("/src/**", "/workspace/src/lib.rs"));
        assert!(!edit("src/**", "/workspace/tests/a.rs"));
        assert!(!edit("src/**", "/workspace/src/../tests/a.rs"), "paths are normalized first");
        assert!(!edit("src/**", "/workspace/../../etc/passwd"));
        assert!(!edit("src/**", "/workspacex/src/a"), "the workspace is a whole directory");
        assert!(edit("*.md", "/workspace/docs/deep/notes.md"), "a name pattern matches at any depth");
        assert!(!edit("*.md", "/workspace/notes.mdx"));
        assert!(!edit("*.md", "/elsewhere/notes.md"));
        assert!(edit("src/", "/workspace/src/x/y.rs"), "a directory matches what is under it");
        assert!(edit("~/notes/*", "/home/agent/notes/today"));
        assert!(edit("//tmp/**", "/tmp/scratch/file"));
        assert!(!edit("//tmp/**", "/workspace/tmp/file"));
        assert!(edit("/**", "/workspace"), "the workspace itself");
        assert!(edit("*.env", "/workspace/.env"), "hidden files match");
        assert!(Anchored::parse("src/[x]").is_err());
    }
}
