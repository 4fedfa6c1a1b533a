//! A tenant's tree, walked and opened from directory file descriptors, never by
//! joining paths: a directory is entered by one name from its parent's
//! descriptor with `O_NOFOLLOW | O_DIRECTORY`, a file is opened by path with
//! `openat2(RESOLVE_BENEATH | RESOLVE_NO_SYMLINKS | RESOLVE_NO_MAGICLINKS)` (one
//! `O_NOFOLLOW` component at a time where the kernel has no `openat2`). A
//! directory swapped for a link while the gateway reads the tree is skipped, so
//! nothing the run does can lead a walk or an open out of the root.

use std::fs::File;
use std::io;
use std::ops::ControlFlow;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::path::Path;
use std::rc::Rc;

use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags, ResolveFlags};
use rustix::io::Errno;

use super::WorkspaceError;

/// How deep a walk goes. A walk holds one descriptor per level it is in, so this
/// also bounds the descriptors one walk can take.
pub const MAX_DEPTH: usize = 128;

/// An open directory that walks and opens stay beneath.
pub struct Root {
    dir: OwnedFd,
}

/// One regular file a walk met.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileEntry {
    /// `/`-separated, relative to the root (lossy where a name is not UTF-8).
    pub path: String,
    pub size: u64,
    /// Bytes allocated on disk: what a sparse file really uses.
    pub allocated: u64,
    pub modified_ms: i64,
}

/// How far a walk may go.
#[derive(Debug, Clone, Copy)]
pub struct WalkLimits {
    /// Directory entries (of every kind) read before the walk stops.
    pub max_entries: usize,
    /// Directories nested deeper than this are not entered.
    pub max_depth: usize,
}

impl WalkLimits {
    /// Every entry, `MAX_DEPTH` levels deep.
    pub const ALL: Self = Self { max_entries: usize::MAX, max_depth: MAX_DEPTH };
}

/// What a walk left out.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Walked {
    /// A limit cut the walk short: too many entries, or a directory too deep.
    pub truncated: bool,
    /// A directory could not be read (its permissions, say); the walk went on without it.
    pub unreadable: bool,
}

/// A directory still to read: `name` in `parent`, at `path`, `depth` levels down.
struct Pending {
    parent: Rc<OwnedFd>,
    name: std::ffi::CString,
    path: String,
    depth: usize,
}

impl Root {
    /// Opens the directory at `path`, which the gateway made (its last component
    /// must not be a link).
    pub fn open(path: &Path) -> Result<Self, WorkspaceError> {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rustix::fs::open(path, flags, Mode::empty()) {
            Ok(dir) => Ok(Self { dir }),
            Err(Errno::NOENT) => Err(WorkspaceError::NotFound),
            Err(e) => Err(WorkspaceError::Io(e.into())),
        }
    }

    /// `open`, with `None` for a missing directory.
    pub fn open_if_present(path: &Path) -> io::Result<Option<Self>> {
        match Self::open(path) {
            Ok(root) => Ok(Some(root)),
            Err(WorkspaceError::NotFound) => Ok(None),
            Err(e) => Err(io::Error::other(e)),
        }
    }

    /// Calls `visit` with every regular file beneath the root, depth first, until
    /// it breaks or a limit is reached. Links, sockets, FIFOs and devices are
    /// passed over; a directory that stops being one while it is walked is skipped.
    pub fn walk(&self, limits: WalkLimits, mut visit: impl FnMut(FileEntry) -> ControlFlow<()>) -> io::Result<Walked> {
        let mut walked = Walked::default();
        let mut entries = 0usize;
        let mut pending: Vec<Pending> = Vec::new();
        let mut current = Some((Rc::new(self.dir.try_clone()?), String::new(), 0usize));
        while let Some((dir, prefix, depth)) = current.take() {
            let mut reader = Dir::read_from(dir.as_fd())?;
            while let Some(item) = reader.read() {
                let item = match item {
                    Ok(item) => item,
                    // The directory went away while it was read (only the run's doing).
                    Err(Errno::NOENT) => break,
                    Err(e) => return Err(e.into()),
                };
                let name = item.file_name();
                if matches!(name.to_bytes(), b"." | b"..") {
                    continue;
                }
                entries += 1;
                if entries > limits.max_entries {
                    walked.truncated = true;
                    return Ok(walked);
                }
                let path = join(&prefix, &String::from_utf8_lossy(name.to_bytes()));
                // The type readdir reports is a hint: the entry may change before it
                // is used, and every use below checks again without following links.
                let kind = match item.file_type() {
                    FileType::Unknown => match stat_beneath(dir.as_fd(), name) {
                        Some(stat) => FileType::from_raw_mode(stat.st_mode),
                        None => continue,
                    },
                    kind => kind,
                };
                match kind {
                    FileType::Directory if depth < limits.max_depth => {
                        pending.push(Pending { parent: dir.clone(), name: name.to_owned(), path, depth: depth + 1 })
                    }
                    FileType::Directory => walked.truncated = true,
                    FileType::RegularFile => {
                        let Some(stat) = stat_beneath(dir.as_fd(), name) else { continue };
                        if FileType::from_raw_mode(stat.st_mode) != FileType::RegularFile {
                            continue;
                        }
                        if visit(file_entry(path, &stat)).is_break() {
                            return Ok(walked);
                        }
                    }
                    _ => {}
                }
            }
            current = next_directory(&mut pending, &mut walked)?;
        }
        Ok(walked)
    }

    /// Opens `relative` beneath the root for reading; it must be a regular file
    /// reached without `..`, links or leaving the root.
    pub fn open_file(&self, relative: &str) -> Result<File, WorkspaceError> {
        let relative = relative.trim_start_matches("./");
        if relative.is_empty() || relative.contains('\0') {
            return Err(WorkspaceError::NotFound);
        }
        if relative.starts_with('/') || relative.split('/').any(|part| matches!(part, "" | "." | "..")) {
            return Err(WorkspaceError::NotServed(LEAVES));
        }
        // O_NONBLOCK: opening a FIFO must not wait for a writer.
        let flags = OFlags::RDONLY | OFlags::CLOEXEC | OFlags::NOFOLLOW | OFlags::NONBLOCK;
        let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        let opened = match rustix::fs::openat2(&self.dir, relative, flags, Mode::empty(), resolve) {
            Err(Errno::NOSYS) => open_by_components(self.dir.as_fd(), relative, flags),
            opened => opened,
        };
        let file = File::from(opened.map_err(|e| match e {
            Errno::NOENT | Errno::NOTDIR | Errno::NAMETOOLONG => WorkspaceError::NotFound,
            Errno::XDEV | Errno::LOOP => WorkspaceError::NotServed(LEAVES),
            e => WorkspaceError::Io(e.into()),
        })?);
        if !file.metadata()?.is_file() {
            return Err(WorkspaceError::NotServed("only regular files are served"));
        }
        Ok(file)
    }
}

impl Root {
    /// Opens the directory `relative` beneath the root, reached like
    /// [`Root::open_file`]: without `..`, links or leaving the root.
    pub fn open_dir(&self, relative: &str) -> Result<Root, WorkspaceError> {
        if relative.is_empty() || relative.contains('\0') {
            return Err(WorkspaceError::NotFound);
        }
        if relative.starts_with('/') || relative.split('/').any(|part| matches!(part, "" | "." | "..")) {
            return Err(WorkspaceError::NotServed(LEAVES));
        }
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
        let resolve = ResolveFlags::BENEATH | ResolveFlags::NO_SYMLINKS | ResolveFlags::NO_MAGICLINKS;
        let opened = match rustix::fs::openat2(&self.dir, relative, flags, Mode::empty(), resolve) {
            Err(Errno::NOSYS) => open_by_components(self.dir.as_fd(), relative, flags),
            opened => opened,
        };
        let dir = opened.map_err(|e| match e {
            Errno::NOENT | Errno::NAMETOOLONG => WorkspaceError::NotFound,
            Errno::XDEV | Errno::LOOP | Errno::NOTDIR => WorkspaceError::NotServed(LEAVES),
            e => WorkspaceError::Io(e.into()),
        })?;
        Ok(Root { dir })
    }
}

const LEAVES: &str = "the path leaves the workspace or passes a link";

/// The next pending directory that can still be entered: opened by its one name
/// from its parent's descriptor, never through a link.
fn next_directory(pending: &mut Vec<Pending>, walked: &mut Walked) -> io::Result<Option<(Rc<OwnedFd>, String, usize)>> {
    while let Some(next) = pending.pop() {
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        match rustix::fs::openat(next.parent.as_fd(), next.name.as_c_str(), flags, Mode::empty()) {
            Ok(fd) => return Ok(Some((Rc::new(fd), next.path, next.depth))),
            // Gone, or swapped for a link or a file since it was listed.
            Err(Errno::NOENT | Errno::LOOP | Errno::NOTDIR) => {}
            Err(Errno::ACCESS | Errno::PERM) => walked.unreadable = true,
            Err(e) => return Err(e.into()),
        }
    }
    Ok(None)
}

/// `relative` opened one component at a time, each directory with `O_NOFOLLOW`:
/// `openat2` where the kernel has none. `relative` holds no `.`, `..` or empty parts.
fn open_by_components(root: BorrowedFd<'_>, relative: &str, flags: OFlags) -> rustix::io::Result<OwnedFd> {
    let (dirs, file) = relative.rsplit_once('/').unwrap_or(("", relative));
    let mut dir: Option<OwnedFd> = None;
    for part in dirs.split('/').filter(|part| !part.is_empty()) {
        let at = dir.as_ref().map_or(root, |d| d.as_fd());
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        dir = Some(rustix::fs::openat(at, part, flags, Mode::empty())?);
    }
    rustix::fs::openat(dir.as_ref().map_or(root, |d| d.as_fd()), file, flags, Mode::empty())
}

/// The entry `name` of `dir` itself (a link is not followed); `None` if it is gone.
fn stat_beneath(dir: BorrowedFd<'_>, name: &std::ffi::CStr) -> Option<rustix::fs::Stat> {
    rustix::fs::statat(dir, name, AtFlags::SYMLINK_NOFOLLOW).ok()
}

fn file_entry(path: String, stat: &rustix::fs::Stat) -> FileEntry {
    let nanos = i64::try_from(stat.st_mtime_nsec).unwrap_or(0);
    FileEntry {
        path,
        size: u64::try_from(stat.st_size).unwrap_or(0),
        allocated: u64::try_from(stat.st_blocks).unwrap_or(0).saturating_mul(512),
        modified_ms: stat.st_mtime.saturating_mul(1000).saturating_add(nanos / 1_000_000),
    }
}

fn join(prefix: &str, name: &str) -> String {
    if prefix.is_empty() { name.to_string() } else { format!("{prefix}/{name}") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;

    fn walk_all(root: &Path, limits: WalkLimits) -> (Vec<String>, Walked) {
        let mut paths = Vec::new();
        let walked = Root::open(root)
            .unwrap()
            .walk(limits, |file| {
                paths.push(file.path);
                ControlFlow::Continue(())
            })
            .unwrap();
        paths.sort();
        (paths, walked)
    }

    #[test]
    fn links_are_never_followed_and_special_files_never_listed() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        std::fs::create_dir_all(root.join("a/b")).unwrap();
        std::fs::write(root.join("a/b/kept.txt"), "kept").unwrap();
        std::fs::create_dir(dir.path().join("outside")).unwrap();
        std::fs::write(dir.path().join("outside/secret.txt"), "secret").unwrap();
        std::os::unix::fs::symlink("../outside", root.join("up")).unwrap();
        std::os::unix::fs::symlink(dir.path().join("outside"), root.join("a/abs")).unwrap();
        std::os::unix::fs::symlink("../outside/secret.txt", root.join("secret-link")).unwrap();
        std::os::unix::net::UnixListener::bind(root.join("socket")).unwrap();
        let (paths, walked) = walk_all(&root, WalkLimits::ALL);
        assert_eq!(paths, ["a/b/kept.txt"]);
        assert_eq!(walked, Walked::default());
    }

    #[test]
    fn a_directory_swapped_for_a_link_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        std::fs::create_dir_all(root.join("real")).unwrap();
        std::fs::write(root.join("real/legit.txt"), "legit").unwrap();
        std::fs::write(root.join("top.txt"), "top").unwrap();
        std::fs::create_dir(dir.path().join("outside")).unwrap();
        std::fs::write(dir.path().join("outside/secret.txt"), "secret").unwrap();
        let (paths, _) = walk_all(&root, WalkLimits::ALL);
        assert_eq!(paths, ["real/legit.txt", "top.txt"]);
        // The swap lands after the root was read and before `real` is entered
        // (a walk enters directories only once it has read their parent).
        let mut paths = Vec::new();
        Root::open(&root)
            .unwrap()
            .walk(WalkLimits::ALL, |file| {
                if paths.is_empty() {
                    std::fs::rename(root.join("real"), dir.path().join("moved")).unwrap();
                    std::os::unix::fs::symlink("../outside", root.join("real")).unwrap();
                }
                paths.push(file.path);
                ControlFlow::Continue(())
            })
            .unwrap();
        assert_eq!(paths, ["top.txt"], "the link in place of `real` was not followed");
    }

    #[test]
    fn entry_and_depth_caps_are_kept() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        let deep = root.join((0..5).map(|i| format!("d{i}")).collect::<Vec<_>>().join("/"));
        std::fs::create_dir_all(&deep).unwrap();
        std::fs::write(deep.join("deep.txt"), "x").unwrap();
        std::fs::write(root.join("d0/shallow.txt"), "x").unwrap();
        let (paths, walked) = walk_all(&root, WalkLimits { max_entries: usize::MAX, max_depth: 3 });
        assert_eq!(paths, ["d0/shallow.txt"]);
        assert!(walked.truncated);
        let (paths, walked) = walk_all(&root, WalkLimits { max_entries: usize::MAX, max_depth: 5 });
        assert_eq!(paths, ["d0/d1/d2/d3/d4/deep.txt", "d0/shallow.txt"]);
        assert!(!walked.truncated);
        for i in 0..10 {
            std::fs::write(root.join(format!("f{i}")), "x").unwrap();
        }
        let (paths, walked) = walk_all(&root, WalkLimits { max_entries: 4, max_depth: 5 });
        assert!(walked.truncated && paths.len() <= 4, "{paths:?}");
    }

    #[test]
    fn a_visitor_can_stop_the_walk() {
        let dir = tempfile::tempdir().unwrap();
        for i in 0..10 {
            std::fs::write(dir.path().join(format!("f{i}")), "x").unwrap();
        }
        let mut seen = 0;
        let walked = Root::open(dir.path())
            .unwrap()
            .walk(WalkLimits::ALL, |_| {
                seen += 1;
                if seen == 3 { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
            })
            .unwrap();
        assert_eq!((seen, walked), (3, Walked::default()));
    }

    #[test]
    fn files_open_only_beneath_the_root_without_links() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("ws");
        std::fs::create_dir_all(root.join("src")).unwrap();
        std::fs::write(root.join("src/a.txt"), "hello").unwrap();
        std::fs::write(dir.path().join("secret"), "outside").unwrap();
        std::os::unix::fs::symlink(dir.path().join("secret"), root.join("link")).unwrap();
        std::os::unix::fs::symlink("..", root.join("src/up")).unwrap();
        let opened = Root::open(&root).unwrap();
        let mut text = String::new();
        opened.open_file("./src/a.txt").unwrap().read_to_string(&mut text).unwrap();
        assert_eq!(text, "hello");
        for refused in ["link", "src/up/secret", "../secret", "src/../src/a.txt", "/etc/passwd", "src", "a//b"] {
            assert!(opened.open_file(refused).is_err(), "{refused} must not open");
        }
        assert!(matches!(opened.open_file("missing.txt"), Err(WorkspaceError::NotFound)));
        assert!(matches!(opened.open_file("src/a.txt/x"), Err(WorkspaceError::NotFound)));

        // The fallback for kernels without openat2 refuses the same.
        let flags = OFlags::RDONLY | OFlags::NOFOLLOW;
        let mut text = String::new();
        File::from(open_by_components(opened.dir.as_fd(), "src/a.txt", flags).unwrap())
            .read_to_string(&mut text)
            .unwrap();
        assert_eq!(text, "hello");
        // A link as the file: ELOOP; as a directory on the way: ENOTDIR (O_DIRECTORY wins).
        assert_eq!(open_by_components(opened.dir.as_fd(), "link", flags).unwrap_err(), Errno::LOOP);
        assert_eq!(open_by_components(opened.dir.as_fd(), "src/up/secret", flags).unwrap_err(), Errno::NOTDIR);
    }
}
