//! Load shedding. A node whose free memory or disk falls below its floor stops
//! claiming work (and says why on `/readyz` and in metrics) until it recovers, so a
//! struggling node does not take on runs it would fail; and the queue as a whole has
//! a depth past which submissions are refused with 503 instead of piling up.

use std::path::{Path, PathBuf};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// What a node is short of.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shortage {
    Memory { free_mb: u64, floor_mb: u64 },
    Disk { free_mb: u64, floor_mb: u64 },
}

impl std::fmt::Display for Shortage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Memory { free_mb, floor_mb } => write!(
                f,
                "available memory ({free_mb} MiB) is below queue.min_free_memory_mb ({floor_mb} MiB); not claiming work"
            ),
            Self::Disk { free_mb, floor_mb } => write!(
                f,
                "free disk in the data directory ({free_mb} MiB) is below queue.min_free_disk_mb ({floor_mb} MiB); \
                 not claiming work"
            ),
        }
    }
}

impl Shortage {
    pub fn resource(&self) -> &'static str {
        match self {
            Self::Memory { .. } => "memory",
            Self::Disk { .. } => "disk",
        }
    }
}

/// Floors of free memory and disk, in MiB; 0 turns a floor off.
#[derive(Debug, Clone, Copy, Default)]
pub struct Floors {
    pub memory_mb: u64,
    pub disk_mb: u64,
}

/// The shortage, if free memory or disk (MiB; `None`: unknown) is below its floor.
/// An unknown reading never stops the node: a probe that fails is not a shortage.
pub fn shortage(free_memory_mb: Option<u64>, free_disk_mb: Option<u64>, floors: Floors) -> Option<Shortage> {
    if let Some(free_mb) = free_memory_mb
        && floors.memory_mb > 0
        && free_mb < floors.memory_mb
    {
        return Some(Shortage::Memory { free_mb, floor_mb: floors.memory_mb });
    }
    if let Some(free_mb) = free_disk_mb
        && floors.disk_mb > 0
        && free_mb < floors.disk_mb
    {
        return Some(Shortage::Disk { free_mb, floor_mb: floors.disk_mb });
    }
    None
}

/// `MemAvailable` of `/proc/meminfo`, in MiB.
pub fn available_memory_mb(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemAvailable:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// Free space of the file system holding `path`, in MiB (what an unprivileged
/// process may use).
#[allow(unsafe_code)]
fn free_disk_mb(path: &Path) -> Option<u64> {
    use std::os::unix::ffi::OsStrExt;
    let path = std::ffi::CString::new(path.as_os_str().as_bytes()).ok()?;
    // SAFETY: statvfs fills the zeroed struct it is given; the path is NUL-terminated.
    let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut stats) } != 0 {
        return None;
    }
    Some(stats.f_bavail.saturating_mul(stats.f_frsize) / (1024 * 1024))
}

/// A node's view of its own pressure, read at most once a second.
pub struct Pressure {
    floors: Floors,
    data_dir: PathBuf,
    last: Mutex<Option<(Instant, Option<Shortage>)>>,
}

impl Pressure {
    pub fn new(floors: Floors, data_dir: PathBuf) -> Self {
        Self { floors, data_dir, last: Mutex::new(None) }
    }

    /// What the node is short of now (a reading at most a second old).
    pub fn current(&self) -> Option<Shortage> {
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((at, shortage)) = *last
            && at.elapsed() < Duration::from_secs(1)
        {
            return shortage;
        }
        let memory = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| available_memory_mb(&m));
        let found = shortage(memory, free_disk_mb(&self.data_dir), self.floors);
        let was = last.and_then(|(_, s)| s);
        match (was, found) {
            (None, Some(now)) => tracing::warn!(%now, "load shedding: this node stops claiming work"),
            (Some(_), None) => tracing::info!("load shedding over: this node claims work again"),
            _ => {}
        }
        crate::telemetry::metrics::shortage(found.map(|s| s.resource()));
        *last = Some((Instant::now(), found));
        found
    }
}

/// The number of queued tasks, read from the database at most every `refresh`, so
/// the depth check costs a submission nothing most of the time.
pub struct QueueDepth {
    refresh: Duration,
    last: tokio::sync::Mutex<Option<(Instant, u64)>>,
}

impl QueueDepth {
    pub fn new(refresh: Duration) -> Self {
        Self { refresh, last: tokio::sync::Mutex::new(None) }
    }

    /// Queued tasks, counted by `count` when the last count is older than `refresh`.
    pub async fn queued<E>(&self, count: impl std::future::Future<Output = Result<u64, E>>) -> Result<u64, E> {
        let mut last = self.last.lock().await;
        if let Some((at, queued)) = *last
            && at.elapsed() < self.refresh
        {
            return Ok(queued);
        }
        let queued = count.await?;
        *last = Some((Instant::now(), queued));
        Ok(queued)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_floor_is_a_shortage_only_when_passed_and_known() {
        let floors = Floors { memory_mb: 256, disk_mb: 1024 };
        assert_eq!(shortage(Some(300), Some(2000), floors), None);
        assert_eq!(shortage(Some(100), Some(2000), floors), Some(Shortage::Memory { free_mb: 100, floor_mb: 256 }));
        assert_eq!(shortage(Some(300), Some(10), floors), Some(Shortage::Disk { free_mb: 10, floor_mb: 1024 }));
        assert_eq!(shortage(None, None, floors), None, "an unknown reading is not a shortage");
        assert_eq!(shortage(Some(0), Some(0), Floors::default()), None, "0 turns a floor off");
        let named = Shortage::Disk { free_mb: 10, floor_mb: 1024 }.to_string();
        assert!(named.contains("queue.min_free_disk_mb"), "{named}");
    }

    #[test]
    fn available_memory_is_read_from_meminfo() {
        let meminfo = "MemTotal:       24576000 kB\nMemFree:         1000000 kB\nMemAvailable:    2097152 kB\n";
        assert_eq!(available_memory_mb(meminfo), Some(2048));
        assert_eq!(available_memory_mb("MemTotal: 1 kB\n"), None);
    }

    #[test]
    fn this_machine_has_a_disk_reading() {
        assert!(free_disk_mb(Path::new("/")).is_some());
    }

    #[tokio::test]
    async fn the_depth_is_counted_once_per_refresh() {
        let depth = QueueDepth::new(Duration::from_secs(60));
        assert_eq!(depth.queued(async { Ok::<_, ()>(7) }).await, Ok(7));
        assert_eq!(depth.queued(async { Ok::<_, ()>(9) }).await, Ok(7), "within the refresh the count is reused");
        let fresh = QueueDepth::new(Duration::ZERO);
        assert_eq!(fresh.queued(async { Ok::<_, ()>(9) }).await, Ok(9));
    }
}
