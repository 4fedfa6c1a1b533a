//! A cgroup per run: memory (no swap), process and CPU caps the kernel enforces,
//! the run's counters, and a kill that reaches every process of the run.
//!
//! Works where the gateway can create cgroups below its own: a delegated cgroup v2
//! subtree (systemd `Delegate=yes`), or cgroup v1 hierarchies the gateway's user may
//! write (root in most containers).

use std::path::{Path, PathBuf};

/// Where runs' cgroups are created.
#[derive(Debug, Clone)]
pub enum CgroupRoot {
    /// Unified hierarchy: `<gateway's cgroup>/ccgate-runs`.
    V2 { runs: PathBuf },
    /// One directory per v1 controller, each `<mount>/<gateway's cgroup>/ccgate-runs`.
    V1 { memory: PathBuf, pids: PathBuf, cpu: PathBuf, cpuacct: PathBuf },
}

/// Limits applied to one run's cgroup.
#[derive(Debug, Clone, Copy)]
pub struct CgroupLimits {
    pub memory_bytes: u64,
    pub max_processes: u64,
    /// 0 means no cap.
    pub cpu_cores: f64,
}

/// What a run's cgroup has counted so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CgroupSample {
    /// Processes the kernel OOM-killed because the run reached its memory cap.
    pub oom_kills: u64,
    /// Forks refused because the run reached its process cap.
    pub pids_refused: u64,
    pub cpu_usec: u64,
    pub memory_bytes: u64,
}

/// One run's cgroup (one directory per hierarchy).
#[derive(Debug)]
pub struct RunCgroup {
    root: CgroupRoot,
    name: String,
}

const RUNS_DIR: &str = "ccgate-runs";

impl CgroupRoot {
    /// Finds a place to create runs' cgroups, preparing it; Err says why there is none.
    pub fn find() -> Result<Self, String> {
        let own =
            std::fs::read_to_string("/proc/self/cgroup").map_err(|e| format!("cannot read /proc/self/cgroup: {e}"))?;
        let mounts = std::fs::read_to_string("/proc/self/mountinfo")
            .map_err(|e| format!("cannot read /proc/self/mountinfo: {e}"))?;
        let unified = Path::new("/sys/fs/cgroup");
        if unified.join("cgroup.controllers").exists() {
            return Self::find_v2(unified, &own);
        }
        Self::find_v1(&own, &mounts)
    }

    /// The v2 subtree below the gateway's own cgroup (`own` is /proc/self/cgroup)
    /// in the unified hierarchy mounted at `unified`.
    fn find_v2(unified: &Path, own: &str) -> Result<Self, String> {
        let path = own.lines().find_map(|l| l.strip_prefix("0::")).ok_or("no cgroup v2 entry in /proc/self/cgroup")?;
        let mine = unified.join(path.trim_start_matches('/'));
        let available = std::fs::read_to_string(mine.join("cgroup.controllers")).unwrap_or_default();
        let missing: Vec<_> =
            ["memory", "pids", "cpu"].into_iter().filter(|c| !available.split_whitespace().any(|a| a == *c)).collect();
        if !missing.is_empty() {
            return Err(format!(
                "cgroup v2: {} not delegated to {} (run the gateway under systemd with Delegate=yes)",
                missing.join(", "),
                mine.display()
            ));
        }
        // No process may sit in a cgroup whose controllers are enabled for children:
        // the gateway moves into a leaf of its own first.
        let leaf = mine.join("ccgate-gateway");
        let runs = mine.join(RUNS_DIR);
        let prepare = || -> std::io::Result<()> {
            for dir in [&leaf, &runs] {
                if !dir.exists() {
                    std::fs::create_dir(dir)?;
                }
            }
            std::fs::write(leaf.join("cgroup.procs"), std::process::id().to_string())?;
            std::fs::write(mine.join("cgroup.subtree_control"), "+memory +pids +cpu")?;
            std::fs::write(runs.join("cgroup.subtree_control"), "+memory +pids +cpu")
        };
        prepare().map_err(|e| format!("cgroup v2: cannot prepare {}: {e}", mine.display()))?;
        Ok(Self::V2 { runs })
    }

    fn find_v1(own: &str, mounts: &str) -> Result<Self, String> {
        let dir = |controller: &str| -> Result<PathBuf, String> {
            let mount = mounts
                .lines()
                .filter_map(|line| {
                    let (fields, tail) = line.split_once(" - ")?;
                    let mut tail = tail.split_whitespace();
                    let (fstype, options) = (tail.next()?, tail.nth(1)?);
                    let mount_point = fields.split_whitespace().nth(4)?;
                    (fstype == "cgroup" && options.split(',').any(|o| o == controller)).then(|| mount_point.to_string())
                })
                .next()
                .ok_or_else(|| format!("no cgroup v1 {controller} hierarchy is mounted"))?;
            let path = own
                .lines()
                .filter_map(|l| l.split_once(':').and_then(|(_, rest)| rest.split_once(':')))
                .find(|(controllers, _)| controllers.split(',').any(|c| c == controller))
                .map(|(_, path)| path)
                .ok_or_else(|| format!("/proc/self/cgroup has no {controller} entry"))?;
            let runs = Path::new(&mount).join(path.trim_start_matches('/')).join(RUNS_DIR);
            if !runs.exists() {
                std::fs::create_dir(&runs).map_err(|e| format!("cgroup v1: cannot create {}: {e}", runs.display()))?;
            }
            Ok(runs)
        };
        Ok(Self::V1 { memory: dir("memory")?, pids: dir("pids")?, cpu: dir("cpu")?, cpuacct: dir("cpuacct")? })
    }

    pub fn describe(&self) -> String {
        match self {
            Self::V2 { runs } => format!("v2, runs under {}", runs.display()),
            Self::V1 { memory, .. } => format!("v1 (memory, pids, cpu, cpuacct), runs under {}", memory.display()),
        }
    }

    /// The runs' directory in each hierarchy, once each: co-mounted controllers
    /// (`cpu,cpuacct`) share one.
    fn dirs(&self) -> Vec<&Path> {
        let all: Vec<&Path> = match self {
            Self::V2 { runs } => vec![runs],
            Self::V1 { memory, pids, cpu, cpuacct } => vec![memory, pids, cpu, cpuacct],
        };
        let mut unique: Vec<&Path> = Vec::with_capacity(all.len());
        for dir in all {
            if !unique.contains(&dir) {
                unique.push(dir);
            }
        }
        unique
    }

    /// The cgroup of run `name` (which may not exist).
    pub fn run(&self, name: &str) -> RunCgroup {
        RunCgroup { root: self.clone(), name: name.to_string() }
    }

    /// Creates the cgroup of run `name` with `limits`.
    pub fn create(&self, name: &str, limits: CgroupLimits) -> std::io::Result<RunCgroup> {
        let run = self.run(name);
        for dir in run.dirs() {
            match std::fs::create_dir(&dir) {
                Err(e) if e.kind() != std::io::ErrorKind::AlreadyExists => return Err(e),
                _ => {}
            }
        }
        let quota = (limits.cpu_cores > 0.0).then(|| (limits.cpu_cores * 100_000.0).round() as u64);
        match &run.root {
            Self::V2 { runs } => {
                let dir = runs.join(name);
                std::fs::write(dir.join("memory.max"), limits.memory_bytes.to_string())?;
                let _ = std::fs::write(dir.join("memory.swap.max"), "0");
                std::fs::write(dir.join("pids.max"), limits.max_processes.to_string())?;
                if let Some(quota) = quota {
                    std::fs::write(dir.join("cpu.max"), format!("{quota} 100000"))?;
                }
            }
            Self::V1 { memory, pids, cpu, .. } => {
                std::fs::write(memory.join(name).join("memory.limit_in_bytes"), limits.memory_bytes.to_string())?;
                // Only present with swap accounting; without it there is nothing to cap.
                let _ = std::fs::write(
                    memory.join(name).join("memory.memsw.limit_in_bytes"),
                    limits.memory_bytes.to_string(),
                );
                let _ = std::fs::write(memory.join(name).join("memory.swappiness"), "0");
                std::fs::write(pids.join(name).join("pids.max"), limits.max_processes.to_string())?;
                if let Some(quota) = quota {
                    std::fs::write(cpu.join(name).join("cpu.cfs_period_us"), "100000")?;
                    std::fs::write(cpu.join(name).join("cpu.cfs_quota_us"), quota.to_string())?;
                }
            }
        }
        Ok(run)
    }
}

impl RunCgroup {
    fn dirs(&self) -> Vec<PathBuf> {
        self.root.dirs().into_iter().map(|d| d.join(&self.name)).collect()
    }

    /// Whether process `pid` is in the run's cgroup in every hierarchy.
    pub fn holds(&self, pid: u32) -> bool {
        let pid = pid.to_string();
        self.procs_files()
            .iter()
            .all(|file| std::fs::read_to_string(file).is_ok_and(|procs| procs.split_whitespace().any(|p| p == pid)))
    }

    /// The cgroup under a new name, processes and limits kept. Only cgroup v1
    /// renames; on v2, or on an error, the name is unchanged (`Err` gives it back).
    pub fn renamed(self, name: &str) -> Result<RunCgroup, RunCgroup> {
        if matches!(self.root, CgroupRoot::V2 { .. }) {
            return Err(self);
        }
        let parents = self.root.dirs();
        for (done, parent) in parents.iter().enumerate() {
            if std::fs::rename(parent.join(&self.name), parent.join(name)).is_err() {
                for undo in &parents[..done] {
                    let _ = std::fs::rename(undo.join(name), undo.join(&self.name));
                }
                return Err(self);
            }
        }
        Ok(RunCgroup { root: self.root, name: name.to_string() })
    }

    /// The `cgroup.procs` files a process writes its pid into to join the run.
    pub fn procs_files(&self) -> Vec<PathBuf> {
        self.dirs().into_iter().map(|d| d.join("cgroup.procs")).collect()
    }

    /// The run's counters.
    pub fn sample(&self) -> CgroupSample {
        let read = |path: PathBuf| std::fs::read_to_string(path).unwrap_or_default();
        let field = |text: &str, name: &str| {
            text.lines().find_map(|l| l.strip_prefix(name)?.trim().parse::<u64>().ok()).unwrap_or(0)
        };
        match &self.root {
            CgroupRoot::V2 { runs } => {
                let dir = runs.join(&self.name);
                CgroupSample {
                    oom_kills: field(&read(dir.join("memory.events")), "oom_kill "),
                    pids_refused: field(&read(dir.join("pids.events")), "max "),
                    cpu_usec: field(&read(dir.join("cpu.stat")), "usage_usec "),
                    memory_bytes: read(dir.join("memory.current")).trim().parse().unwrap_or(0),
                }
            }
            CgroupRoot::V1 { memory, pids, cpuacct, .. } => CgroupSample {
                oom_kills: field(&read(memory.join(&self.name).join("memory.oom_control")), "oom_kill "),
                pids_refused: field(&read(pids.join(&self.name).join("pids.events")), "max "),
                cpu_usec: read(cpuacct.join(&self.name).join("cpuacct.usage")).trim().parse::<u64>().unwrap_or(0)
                    / 1000,
                memory_bytes: read(memory.join(&self.name).join("memory.usage_in_bytes")).trim().parse().unwrap_or(0),
            },
        }
    }

    /// SIGKILLs every process of the run.
    pub fn kill(&self) {
        if let CgroupRoot::V2 { runs } = &self.root
            && std::fs::write(runs.join(&self.name).join("cgroup.kill"), "1").is_ok()
        {
            return;
        }
        for _ in 0..20 {
            let procs =
                self.procs_files().into_iter().filter_map(|f| std::fs::read_to_string(f).ok()).collect::<String>();
            let pids: Vec<i32> = procs.split_whitespace().filter_map(|p| p.parse().ok()).collect();
            if pids.is_empty() {
                return;
            }
            for pid in pids {
                super::signal(pid, libc::SIGKILL);
            }
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    /// Removes the run's cgroup once its processes are gone (kills what is left).
    pub fn remove(&self) {
        for attempt in 0..50 {
            let left: Vec<_> =
                self.dirs().into_iter().filter(|d| d.exists() && std::fs::remove_dir(d).is_err()).collect();
            if left.is_empty() {
                return;
            }
            if attempt == 0 {
                self.kill();
            }
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        tracing::warn!(cgroup = %self.name, "a run's cgroup could not be removed");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The kernel is not needed to check what the gateway writes and reads: a
    /// directory tree laid out as a delegated cgroup v2 subtree stands in for it
    /// (this machine has no v2 controllers; the v1 path runs for real in the
    /// sandbox tests).
    #[test]
    fn a_delegated_v2_subtree_gets_a_cgroup_per_run_with_its_limits_and_counters() {
        let unified = tempfile::tempdir().unwrap();
        let mine = unified.path().join("system.slice/ccgate.service");
        std::fs::create_dir_all(&mine).unwrap();
        let own = "0::/system.slice/ccgate.service\n";

        std::fs::write(mine.join("cgroup.controllers"), "cpu memory").unwrap();
        let refused = CgroupRoot::find_v2(unified.path(), own).unwrap_err();
        assert!(refused.contains("pids not delegated"), "{refused}");

        std::fs::write(mine.join("cgroup.controllers"), "cpuset cpu io memory pids").unwrap();
        let root = CgroupRoot::find_v2(unified.path(), own).unwrap();
        let read = |path: PathBuf| std::fs::read_to_string(path).unwrap();
        assert_eq!(
            read(mine.join("ccgate-gateway/cgroup.procs")),
            std::process::id().to_string(),
            "the gateway moved to a leaf"
        );
        assert_eq!(read(mine.join("cgroup.subtree_control")), "+memory +pids +cpu");
        assert_eq!(read(mine.join("ccgate-runs/cgroup.subtree_control")), "+memory +pids +cpu");

        let limits = CgroupLimits { memory_bytes: 1 << 30, max_processes: 256, cpu_cores: 1.5 };
        let run = root.create("tsk_1-run_1", limits).unwrap();
        let dir = mine.join("ccgate-runs/tsk_1-run_1");
        assert_eq!(read(dir.join("memory.max")), (1u64 << 30).to_string());
        assert_eq!(read(dir.join("memory.swap.max")), "0");
        assert_eq!(read(dir.join("pids.max")), "256");
        assert_eq!(read(dir.join("cpu.max")), "150000 100000");
        assert_eq!(run.procs_files(), [dir.join("cgroup.procs")]);

        std::fs::write(dir.join("memory.events"), "low 0\nhigh 0\nmax 4\noom 1\noom_kill 1\n").unwrap();
        std::fs::write(dir.join("pids.events"), "max 3\n").unwrap();
        std::fs::write(dir.join("cpu.stat"), "usage_usec 5000\nuser_usec 4000\n").unwrap();
        std::fs::write(dir.join("memory.current"), "123456\n").unwrap();
        assert_eq!(run.sample(), CgroupSample { oom_kills: 1, pids_refused: 3, cpu_usec: 5000, memory_bytes: 123_456 });
        run.kill();
        assert_eq!(read(dir.join("cgroup.kill")), "1", "one write kills the whole run");
        assert!(run.renamed("tsk_1-run_2").is_err(), "v2 does not rename");
    }

    #[test]
    fn a_v1_cgroup_is_renamed_in_every_hierarchy_once_or_not_at_all() {
        let mounts = tempfile::tempdir().unwrap();
        let runs = |controller: &str| mounts.path().join(controller).join(RUNS_DIR);
        // `cpu` and `cpuacct` co-mounted: one directory for both.
        let root =
            CgroupRoot::V1 { memory: runs("memory"), pids: runs("pids"), cpu: runs("cpu"), cpuacct: runs("cpu") };
        for controller in ["memory", "pids", "cpu"] {
            std::fs::create_dir_all(runs(controller).join("run_1")).unwrap();
        }
        let run = root.run("run_1");
        std::fs::write(runs("memory").join("run_1/cgroup.procs"), "7\n42\n").unwrap();
        std::fs::write(runs("pids").join("run_1/cgroup.procs"), "42\n").unwrap();
        assert!(!run.holds(42), "not yet in the cpu hierarchy");
        std::fs::write(runs("cpu").join("run_1/cgroup.procs"), "42\n").unwrap();
        assert!(run.holds(42) && !run.holds(4), "in every hierarchy");
        let run = run.renamed("tsk_1-run_1").expect("renamed");
        for controller in ["memory", "pids", "cpu"] {
            assert!(runs(controller).join("tsk_1-run_1").is_dir(), "{controller}");
            assert!(!runs(controller).join("run_1").exists(), "{controller}");
        }
        assert!(run.procs_files().iter().all(|f| f.parent().unwrap().ends_with("tsk_1-run_1")));
        // A name taken in one hierarchy: the renames done are undone.
        std::fs::create_dir_all(runs("cpu").join("taken/inside")).unwrap();
        let back = run.renamed("taken").expect_err("the cpu hierarchy refuses");
        for controller in ["memory", "pids", "cpu"] {
            assert!(runs(controller).join("tsk_1-run_1").is_dir(), "{controller} keeps the old name");
        }
        assert!(back.procs_files().iter().all(|f| f.parent().unwrap().ends_with("tsk_1-run_1")));
    }
}
