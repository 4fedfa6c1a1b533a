//! Everything an upload would put in a workspace, listed before any of it is
//! written, and the checks that need the whole list: duplicates, a file under a
//! file, paths through links, link targets, and the count and size caps.

use std::collections::HashMap;
use std::collections::hash_map::Entry as Slot;

use super::paths::{ancestors, check_relative_path, normalize, resolve_link};
use super::{Limits, Refusal};

/// At most this many refusals are reported for one request.
const MAX_REFUSALS: usize = 20;

/// What an entry is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    Dir,
    File {
        size: u64,
    },
    /// A symbolic link and its target, as written in the archive.
    Symlink(String),
    /// A hard link to another entry of the upload (its archive path).
    HardLink(String),
}

/// Where an entry comes from, in the client's terms.
#[derive(Debug, Clone)]
pub struct Origin {
    /// JSON Pointer of the request field or part (`/files/2/path`, `/parts/archive`).
    pub pointer: String,
    /// How the client names it: `file "a.txt"`, `entry "x/y" of src.tar.gz`.
    pub label: String,
}

/// One planned entry; `path` is normalized and relative to the workspace.
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: String,
    pub kind: EntryKind,
    pub origin: Origin,
}

/// The entries of every input source, with running totals for the caps.
#[derive(Debug)]
pub struct Plan {
    limits: Limits,
    entries: Vec<Entry>,
    files: usize,
    dirs: usize,
    bytes: u64,
}

impl Plan {
    pub fn new(limits: Limits) -> Self {
        Self { limits, entries: Vec::new(), files: 0, dirs: 0, bytes: 0 }
    }

    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    pub fn entries(&self) -> &[Entry] {
        &self.entries
    }

    /// Adds an entry named `raw` by its source (archive names may end in `/` or
    /// start with `./`). Refuses a bad path at once, and a cap as soon as it is
    /// passed, so scanning a hostile archive stops early. A bare `.` directory
    /// (the archive's root) adds nothing.
    pub fn add(&mut self, raw: &str, kind: EntryKind, origin: Origin) -> Result<(), Refusal> {
        let trimmed = if kind == EntryKind::Dir { raw.trim_end_matches('/') } else { raw };
        if kind == EntryKind::Dir && trimmed.split('/').all(|p| p == "." || p.is_empty()) && !trimmed.starts_with('/') {
            return Ok(());
        }
        check_relative_path(trimmed).map_err(|why| Refusal::new(&origin, format!("{} {why}", origin.label)))?;
        match kind {
            EntryKind::Dir => self.dirs += 1,
            EntryKind::File { size } => {
                self.files += 1;
                self.bytes = self.bytes.saturating_add(size);
            }
            EntryKind::Symlink(_) | EntryKind::HardLink(_) => self.files += 1,
        }
        if self.files > self.limits.max_files || self.dirs > self.limits.max_files {
            let message = format!(
                "{}: the upload has more than {} files or directories (the server's cap tasks.max_input_files)",
                origin.label, self.limits.max_files
            );
            return Err(Refusal::new(&origin, message));
        }
        if self.bytes > self.limits.max_bytes {
            let message = format!(
                "{}: the upload expands past {} bytes (the server's cap tasks.max_input_bytes)",
                origin.label, self.limits.max_bytes
            );
            return Err(Refusal::new(&origin, message));
        }
        self.entries.push(Entry { path: normalize(trimmed), kind, origin });
        Ok(())
    }

    /// The checks that need every entry; empty when the plan can be written.
    pub fn check(&self) -> Vec<Refusal> {
        let mut refusals = Vec::new();
        let mut by_path: HashMap<&str, &Entry> = HashMap::with_capacity(self.entries.len());
        for entry in &self.entries {
            match by_path.entry(entry.path.as_str()) {
                Slot::Vacant(slot) => {
                    slot.insert(entry);
                }
                Slot::Occupied(earlier) if earlier.get().kind == EntryKind::Dir && entry.kind == EntryKind::Dir => {}
                Slot::Occupied(earlier) => refusals.push(Refusal::new(
                    &entry.origin,
                    format!("{} has the same path as {}", entry.origin.label, earlier.get().origin.label),
                )),
            }
        }
        let is_link = |path: &str| by_path.get(path).is_some_and(|e| matches!(e.kind, EntryKind::Symlink(_)));
        for entry in &self.entries {
            let label = &entry.origin.label;
            for ancestor in ancestors(&entry.path) {
                let why = match by_path.get(ancestor).map(|e| &e.kind) {
                    None | Some(EntryKind::Dir) => continue,
                    Some(EntryKind::Symlink(_)) => format!("{label} would be written through the link {ancestor:?}"),
                    Some(_) => format!("{label} is placed under {ancestor:?}, which is a file"),
                };
                refusals.push(Refusal::new(&entry.origin, why));
                break;
            }
            match &entry.kind {
                EntryKind::Symlink(target) => {
                    if let Err(why) = resolve_link(&entry.path, target, is_link) {
                        refusals.push(Refusal::new(&entry.origin, format!("{label} {why}")));
                    }
                }
                EntryKind::HardLink(target) => {
                    let points_at_file = check_relative_path(target).is_ok()
                        && matches!(
                            by_path.get(normalize(target).as_str()).map(|e| &e.kind),
                            Some(EntryKind::File { .. })
                        );
                    if !points_at_file {
                        refusals.push(Refusal::new(
                            &entry.origin,
                            format!("{label} is a hard link to {target:?}, which is not a regular file of the upload"),
                        ));
                    }
                }
                EntryKind::Dir | EntryKind::File { .. } => {}
            }
        }
        refusals.truncate(MAX_REFUSALS);
        refusals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin(label: &str) -> Origin {
        Origin { pointer: "/parts/archive".into(), label: format!("entry {label:?}") }
    }

    fn plan(entries: &[(&str, EntryKind)]) -> Result<Plan, Refusal> {
        let mut plan = Plan::new(Limits { max_files: 10, max_bytes: 100, max_ratio: 100 });
        for (path, kind) in entries {
            plan.add(path, kind.clone(), origin(path))?;
        }
        Ok(plan)
    }

    fn refused(entries: &[(&str, EntryKind)]) -> Vec<String> {
        plan(entries).unwrap().check().into_iter().map(|r| r.message).collect()
    }

    #[test]
    fn hostile_layouts_are_refused_by_name() {
        let file = EntryKind::File { size: 1 };
        let link = |t: &str| EntryKind::Symlink(t.into());
        assert!(plan(&[("../evil", file.clone())]).unwrap_err().message.contains("entry \"../evil\""));
        assert!(plan(&[("/etc/passwd", file.clone())]).unwrap_err().message.contains("absolute"));
        let through_link = refused(&[("evil", link(".")), ("evil/x", file.clone())]);
        assert!(through_link[0].contains("through the link \"evil\""), "{through_link:?}");
        let outside = refused(&[("up", link("../../etc"))]);
        assert!(outside[0].contains("outside the workspace"), "{outside:?}");
        let dupes =
            refused(&[("a", file.clone()), ("./a", file.clone()), ("d/", EntryKind::Dir), ("d", EntryKind::Dir)]);
        assert_eq!(dupes.len(), 1, "{dupes:?}");
        let under_file = refused(&[("a/b", file.clone()), ("a", file.clone())]);
        assert!(under_file[0].contains("under \"a\", which is a file"), "{under_file:?}");
        let bad_hard = refused(&[("h", EntryKind::HardLink("/etc/shadow".into()))]);
        assert!(bad_hard[0].contains("hard link"), "{bad_hard:?}");
        assert!(refused(&[("f", file.clone()), ("h", EntryKind::HardLink("./f".into())), ("l", link("f"))]).is_empty());
    }

    #[test]
    fn caps_stop_the_scan() {
        let big = plan(&[("a", EntryKind::File { size: 60 }), ("b", EntryKind::File { size: 60 })]).unwrap_err();
        assert!(big.message.contains("tasks.max_input_bytes"), "{big:?}");
        let many: Vec<(String, EntryKind)> = (0..11).map(|i| (format!("f{i}"), EntryKind::File { size: 0 })).collect();
        let many: Vec<(&str, EntryKind)> = many.iter().map(|(p, k)| (p.as_str(), k.clone())).collect();
        assert!(plan(&many).unwrap_err().message.contains("tasks.max_input_files"));
        assert!(plan(&[("./", EntryKind::Dir)]).unwrap().entries().is_empty());
    }
}
