//! Watching a run's resources while it runs: the cgroup's counters where there is
//! one (memory OOM kills, refused forks, CPU time), else the resident memory and
//! process count of the run's process tree, and always the size of the run's files
//! (its trees, walked without following links, and the deleted files its processes
//! still hold open or mapped). The first limit exceeded ends the run as `failed` /
//! `resource_limit`, naming it.

use std::collections::HashSet;
use std::ops::ControlFlow;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use super::cgroup::RunCgroup;
use crate::workspace::Root;
use crate::workspace::tree::{MAX_DEPTH, WalkLimits};

/// The limit a run went past.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exceeded {
    /// `memory`, `processes`, `cpu`, `disk`, or `tokens` (the key's token budget).
    pub limit: &'static str,
    pub message: String,
}

/// The limits watched.
#[derive(Debug, Clone, Copy)]
pub struct Watched {
    pub memory_bytes: u64,
    pub max_processes: u64,
    pub cpu_seconds: u64,
    pub disk_bytes: u64,
}

/// One run's watcher.
pub struct Monitor {
    pub cgroup: Option<Arc<RunCgroup>>,
    /// The run's topmost process (the supervisor).
    pub root_pid: u32,
    /// The run's writable host directories (workspace, home, host tmp), counted together.
    pub disk: Vec<PathBuf>,
    pub limits: Watched,
    pub interval: Duration,
}

/// Workspace sizes are measured every this many polls (walking a tree costs more).
const DISK_EVERY: u32 = 4;

impl Monitor {
    /// Polls until a limit is exceeded (the future never ends otherwise).
    pub async fn watch(this: Arc<Self>) -> Exceeded {
        let mut tick: u32 = 0;
        loop {
            tokio::time::sleep(this.interval).await;
            tick = tick.wrapping_add(1);
            let check_disk = tick % DISK_EVERY == 1;
            let monitor = this.clone();
            let found = tokio::task::spawn_blocking(move || monitor.check(check_disk)).await.ok().flatten();
            if let Some(exceeded) = found {
                return exceeded;
            }
        }
    }

    /// One look at the run's counters (and its workspace when `check_disk`).
    pub fn check(&self, check_disk: bool) -> Option<Exceeded> {
        let mib = |bytes: u64| bytes / (1024 * 1024);
        let limits = &self.limits;
        if let Some(cgroup) = &self.cgroup {
            let sample = cgroup.sample();
            if sample.oom_kills > 0 {
                return Some(Exceeded {
                    limit: "memory",
                    message: format!("the run reached its memory limit of {} MiB", mib(limits.memory_bytes)),
                });
            }
            if sample.pids_refused > 0 {
                return Some(Exceeded {
                    limit: "processes",
                    message: format!("the run reached its limit of {} processes", limits.max_processes),
                });
            }
            if sample.cpu_usec / 1_000_000 >= limits.cpu_seconds {
                return Some(Exceeded {
                    limit: "cpu",
                    message: format!("the run used its {} CPU seconds", limits.cpu_seconds),
                });
            }
        } else {
            let (memory, processes) = tree_usage(&self.run_pids());
            if memory > limits.memory_bytes {
                return Some(Exceeded {
                    limit: "memory",
                    message: format!(
                        "the run used {} MiB, over its limit of {} MiB",
                        mib(memory),
                        mib(limits.memory_bytes)
                    ),
                });
            }
            if processes > limits.max_processes {
                return Some(Exceeded {
                    limit: "processes",
                    message: format!("the run had {processes} processes, over its limit of {}", limits.max_processes),
                });
            }
        }
        if check_disk {
            let message = match self.disk_used(limits.disk_bytes) {
                Ok(used) if used <= limits.disk_bytes => return None,
                Ok(_) => format!(
                    "the run's files (with deleted ones its processes still hold) hold over {} MiB, its limit",
                    mib(limits.disk_bytes)
                ),
                Err(unmeasured) => format!("the run's files cannot be measured against its disk limit: {unmeasured}"),
            };
            return Some(Exceeded { limit: "disk", message });
        }
        None
    }

    /// Bytes the run holds on disk: its directories' files, and files its
    /// processes keep open or mapped after deleting them (gone from every tree,
    /// but still taking their space). Counting stops past `cap`.
    fn disk_used(&self, cap: u64) -> Result<u64, Unmeasured> {
        let mut used = 0u64;
        for dir in &self.disk {
            used = used.saturating_add(tree_bytes(dir, cap)?);
            if used > cap {
                return Ok(used);
            }
        }
        let devices: Vec<u64> =
            self.disk.iter().filter_map(|dir| std::fs::metadata(dir).ok()).map(|m| m.dev()).collect();
        Ok(used.saturating_add(held_deleted_bytes(&self.run_pids(), &devices)?))
    }

    /// The run's processes: its topmost one and everything below it.
    fn run_pids(&self) -> Vec<i32> {
        let root = self.root_pid as i32;
        let mut pids = crate::runner::supervisor::descendants_of(root);
        pids.push(root);
        pids
    }
}

/// Why a run's files could not all be counted: a part of its tree the walk
/// cannot enter could hide any amount, so the run is stopped rather than trusted.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum Unmeasured {
    #[error("a directory is nested deeper than {MAX_DEPTH} levels")]
    TooDeep,
    #[error("a directory cannot be read")]
    Unreadable,
}

/// Resident bytes and threads of `pids`.
fn tree_usage(pids: &[i32]) -> (u64, u64) {
    let page = 4096u64;
    let (mut memory, mut threads) = (0u64, 0u64);
    for pid in pids {
        let statm = std::fs::read_to_string(format!("/proc/{pid}/statm")).unwrap_or_default();
        memory += statm.split_whitespace().nth(1).and_then(|r| r.parse::<u64>().ok()).unwrap_or(0) * page;
        threads += std::fs::read_dir(format!("/proc/{pid}/task")).map(|d| d.count() as u64).unwrap_or(1);
    }
    (memory, threads)
}

/// Bytes allocated to regular files under `dir` (walked from descriptors, links
/// never followed); stops counting past `cap`. A missing `dir` holds nothing; a
/// walk that fails counts what it saw (the next poll walks again).
fn tree_bytes(dir: &Path, cap: u64) -> Result<u64, Unmeasured> {
    let Ok(Some(root)) = Root::open_if_present(dir) else { return Ok(0) };
    let mut total = 0u64;
    let walked = root.walk(WalkLimits::ALL, |file| {
        total = total.saturating_add(file.allocated);
        if total > cap { ControlFlow::Break(()) } else { ControlFlow::Continue(()) }
    });
    match walked {
        Ok(walked) if walked.truncated => Err(Unmeasured::TooDeep),
        Ok(walked) if walked.unreadable => Err(Unmeasured::Unreadable),
        _ => Ok(total),
    }
}

/// Bytes allocated to files that `pids` keep after deleting them — held open
/// (`/proc/<pid>/fd`) or mapped (`/proc/<pid>/maps`) — on the file systems
/// `devices` (files in memory, such as a tmpfs `/tmp` or a memfd, count against
/// the memory limit instead). Each file counts once however often it is held.
/// A process that hides its `/proc` entries from the gateway (it made itself
/// non-dumpable, which a run can in landlock mode) cannot be measured: `Unreadable`.
fn held_deleted_bytes(pids: &[i32], devices: &[u64]) -> Result<u64, Unmeasured> {
    let hidden = |e: &std::io::Error| e.kind() == std::io::ErrorKind::PermissionDenied;
    let mut held = Held { devices, counted: HashSet::new(), bytes: 0 };
    for pid in pids {
        let descriptors = match std::fs::read_dir(format!("/proc/{pid}/fd")) {
            Ok(descriptors) => descriptors,
            Err(e) if hidden(&e) => return Err(Unmeasured::Unreadable),
            Err(_) => continue, // the process is gone
        };
        for entry in descriptors.flatten() {
            // Following the descriptor's magic link stats the open file itself.
            if let Ok(meta) = std::fs::metadata(entry.path()) {
                held.file(&meta);
            }
        }
        let maps = match std::fs::read_to_string(format!("/proc/{pid}/maps")) {
            Ok(maps) => maps,
            Err(e) if hidden(&e) => return Err(Unmeasured::Unreadable),
            Err(_) => continue,
        };
        for mapping in deleted_mappings(&maps) {
            match std::fs::metadata(format!("/proc/{pid}/map_files/{}", mapping.range)) {
                Ok(meta) => held.file(&meta),
                // Looking through map_files takes a privilege the gateway may lack:
                // then the mapped part is what is known to be held.
                Err(_) => held.add(mapping.device, mapping.inode, mapping.length),
            }
        }
    }
    Ok(held.bytes)
}

/// The deleted files found so far, each counted once.
struct Held<'a> {
    devices: &'a [u64],
    counted: HashSet<(u64, u64)>,
    bytes: u64,
}

impl Held<'_> {
    fn file(&mut self, meta: &std::fs::Metadata) {
        if meta.is_file() && meta.nlink() == 0 {
            self.add(meta.dev(), meta.ino(), meta.blocks().saturating_mul(512));
        }
    }

    fn add(&mut self, device: u64, inode: u64, bytes: u64) {
        if self.devices.contains(&device) && self.counted.insert((device, inode)) {
            self.bytes = self.bytes.saturating_add(bytes);
        }
    }
}

/// A mapping of a deleted file, from a `/proc/<pid>/maps` line.
#[derive(Debug, PartialEq, Eq)]
struct DeletedMapping<'a> {
    range: &'a str,
    length: u64,
    device: u64,
    inode: u64,
}

/// The mappings of deleted files in `maps` (`start-end perms offset major:minor inode path (deleted)`).
fn deleted_mappings(maps: &str) -> Vec<DeletedMapping<'_>> {
    maps.lines().filter_map(deleted_mapping).collect()
}

fn deleted_mapping(line: &str) -> Option<DeletedMapping<'_>> {
    line.strip_suffix(" (deleted)")?;
    let mut fields = line.split_whitespace();
    let range = fields.next()?;
    let (start, end) = range.split_once('-')?;
    let length = u64::from_str_radix(end, 16).ok()?.checked_sub(u64::from_str_radix(start, 16).ok()?)?;
    let (major, minor) = fields.nth(2)?.split_once(':')?;
    let device = rustix::fs::makedev(u32::from_str_radix(major, 16).ok()?, u32::from_str_radix(minor, 16).ok()?);
    let inode = fields.next()?.parse().ok().filter(|inode| *inode != 0)?;
    Some(DeletedMapping { range, length, device, inode })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn workspace_bytes_are_counted_without_following_links() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/a"), vec![1u8; 64 * 1024]).unwrap();
        std::os::unix::fs::symlink("/usr", dir.path().join("link")).unwrap();
        let used = tree_bytes(dir.path(), u64::MAX).unwrap();
        assert!((64 * 1024..=80 * 1024).contains(&used), "{used}");
        assert!(tree_bytes(dir.path(), 1000).unwrap() > 1000, "stops once past the cap");
        assert_eq!(tree_bytes(&dir.path().join("missing"), 1000), Ok(0));
    }

    #[test]
    fn a_tree_too_deep_to_walk_is_not_trusted() {
        let dir = tempfile::tempdir().unwrap();
        let deep: PathBuf = (0..=MAX_DEPTH).map(|_| "d").collect();
        std::fs::create_dir_all(dir.path().join(&deep)).unwrap();
        std::fs::write(dir.path().join(&deep).join("hidden"), vec![1u8; 64 * 1024]).unwrap();
        assert_eq!(tree_bytes(dir.path(), u64::MAX), Err(Unmeasured::TooDeep));
    }

    #[test]
    fn deleted_files_held_open_are_counted_once() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("held");
        std::fs::write(&path, vec![1u8; 1024 * 1024]).unwrap();
        // A process of its own holds the file twice (stdin and stdout), so that
        // no other test's files are counted.
        let mut holder = std::process::Command::new("sleep")
            .arg("30")
            .stdin(std::fs::File::open(&path).unwrap())
            .stdout(std::fs::OpenOptions::new().append(true).open(&path).unwrap())
            .spawn()
            .unwrap();
        let device = std::fs::metadata(dir.path()).unwrap().dev();
        let pids = [holder.id() as i32];
        assert_eq!(held_deleted_bytes(&pids, &[device]), Ok(0), "a file with a name is the tree walk's to count");
        std::fs::remove_file(&path).unwrap();
        let held = held_deleted_bytes(&pids, &[device]).unwrap();
        assert!((1024 * 1024..=1100 * 1024).contains(&held), "{held}");
        assert_eq!(held_deleted_bytes(&pids, &[device + 1]), Ok(0), "other file systems are not the run's disk");
        holder.kill().unwrap();
        holder.wait().unwrap();
    }

    #[test]
    fn deleted_mapped_files_are_counted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("mapped");
        std::fs::write(&path, vec![1u8; 1024 * 1024]).unwrap();
        // Mapped, then closed and deleted: only the mapping keeps the file (ctypes,
        // since Python's own mmap keeps a descriptor).
        let script = "import ctypes, os, sys, time\n\
                      libc = ctypes.CDLL(None)\n\
                      libc.mmap.restype = ctypes.c_void_p\n\
                      libc.mmap.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int, ctypes.c_int, ctypes.c_int, ctypes.c_long]\n\
                      fd = os.open(sys.argv[1], os.O_RDWR)\n\
                      assert libc.mmap(None, os.fstat(fd).st_size, 3, 1, fd, 0) not in (None, 2**64 - 1)\n\
                      os.close(fd); os.unlink(sys.argv[1])\n\
                      print('mapped', flush=True); time.sleep(30)";
        let mut holder = std::process::Command::new("python3")
            .args(["-c", script])
            .arg(&path)
            .stdout(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut line = String::new();
        std::io::BufRead::read_line(&mut std::io::BufReader::new(holder.stdout.take().unwrap()), &mut line).unwrap();
        assert_eq!(line, "mapped\n");
        let device = std::fs::metadata(dir.path()).unwrap().dev();
        let descriptors = std::fs::read_dir(format!("/proc/{}/fd", holder.id())).unwrap();
        assert!(
            descriptors.flatten().all(|fd| std::fs::read_link(fd.path()).is_ok_and(|to| !to.starts_with(dir.path())))
        );
        let held = held_deleted_bytes(&[holder.id() as i32], &[device]).unwrap();
        holder.kill().unwrap();
        holder.wait().unwrap();
        assert!((1024 * 1024..=1100 * 1024).contains(&held), "{held}");
    }

    #[test]
    fn maps_lines_of_deleted_files_are_parsed() {
        let maps = "7f0000000000-7f0000100000 rw-s 00000000 fe:01 1234  /workspace/big (deleted)\n\
                    7f0000100000-7f0000200000 r--p 00000000 fe:01 99  /usr/lib/libc.so\n\
                    7f0000200000-7f0000300000 rw-s 00000000 00:01 7  /memfd:x (deleted)\n\
                    7f0000300000-7f0000301000 rw-p 00000000 00:00 0 \n";
        let found = deleted_mappings(maps);
        assert_eq!(found.len(), 2, "{found:?}");
        assert_eq!(
            found[0],
            DeletedMapping {
                range: "7f0000000000-7f0000100000",
                length: 1 << 20,
                device: rustix::fs::makedev(0xfe, 1),
                inode: 1234
            }
        );
    }

    #[test]
    fn this_process_tree_is_measured() {
        let (memory, threads) = tree_usage(&[std::process::id() as i32]);
        assert!(memory > 1024 * 1024 && threads >= 1, "{memory} {threads}");
    }
}
