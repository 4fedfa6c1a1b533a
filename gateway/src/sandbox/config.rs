//! The `[sandbox]` section of the gateway configuration.

use serde::{Deserialize, Serialize};

/// Which confinement runs get.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SandboxMode {
    /// The strongest layers this machine can enforce (see `ccgate doctor`).
    Auto,
    /// bubblewrap namespaces, plus Landlock and seccomp inside where available.
    Bwrap,
    /// Landlock and seccomp only: for hosts where user namespaces are blocked.
    Landlock,
    /// No confinement at all (a loud warning in logs and `/readyz`).
    None,
}

impl SandboxMode {
    pub fn parse(text: &str) -> Option<Self> {
        match text {
            "auto" => Some(Self::Auto),
            "bwrap" => Some(Self::Bwrap),
            "landlock" => Some(Self::Landlock),
            "none" => Some(Self::None),
            _ => None,
        }
    }
}

/// How every run is confined and what it may use.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// `auto` (the strongest layers this machine can enforce, see `ccgate doctor`),
    /// `bwrap`, `landlock` (where user namespaces are blocked) or `none`.
    pub mode: SandboxMode,
    /// In `auto` mode, run tasks without confinement when no layer works (instead of
    /// refusing to start).
    pub allow_unsandboxed: bool,
    /// The bubblewrap executable; a bare name is looked up on `PATH`.
    pub bwrap: String,
    /// Host paths mounted read-only into every sandbox besides `/usr` and the few
    /// system files tools need (e.g. `/opt/toolchains`); missing ones are skipped.
    pub read_only_paths: Vec<String>,
    /// Size of the private `/tmp` of a run, in MiB.
    pub tmp_mb: u64,
    /// CPU seconds any one process of a run may use (`RLIMIT_CPU`), and the whole
    /// run's CPU seconds where a cgroup measures them.
    pub cpu_seconds: u64,
    /// Memory of the whole run (cgroup `memory.max`, else the polled resident size), MiB.
    pub memory_mb: u64,
    /// Processes and threads of the whole run (cgroup `pids.max`, else polled).
    pub max_processes: u64,
    /// CPU cores a run may use at once (cgroup `cpu.max`); 0 means no cap.
    pub cpu_cores: f64,
    /// Bytes the run's files may hold (polled, deleted files still held open or
    /// mapped included) and the largest file a process may write (`RLIMIT_FSIZE`), MiB.
    pub disk_mb: u64,
    /// Open files per process (`RLIMIT_NOFILE`).
    pub max_open_files: u64,
    /// How often a run's memory, processes and workspace size are checked, ms.
    pub poll_interval_ms: u64,
    /// Host names runs with `options.network = "allowlist"` may reach (exact, or
    /// `*.example.com` for subdomains).
    pub allowed_hosts: Vec<String>,
    /// Allowed hosts that may resolve to private, loopback or otherwise non-public
    /// addresses (an internal package mirror). Link-local and metadata addresses stay
    /// refused whatever this says.
    pub private_hosts: Vec<String>,
    /// The largest `max_tokens` a run's model request may ask for (Claude Code 2.1.332
    /// asks for 128000 by default; 2.1.197 for 64000).
    pub model_max_tokens: u64,
    /// Model requests one run may have in flight at once.
    pub model_max_concurrent_requests: usize,
    /// Connections one run may hold open to the model proxy (counted where runs have cgroups).
    pub model_max_connections: usize,
    /// The largest model request body, MiB (the Messages API takes 32 MB).
    pub model_max_request_mb: u64,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            mode: SandboxMode::Auto,
            allow_unsandboxed: false,
            bwrap: "bwrap".into(),
            read_only_paths: Vec::new(),
            tmp_mb: 1024,
            cpu_seconds: 3600,
            memory_mb: 8192,
            max_processes: 1024,
            cpu_cores: 0.0,
            disk_mb: 4096,
            max_open_files: 8192,
            poll_interval_ms: 500,
            allowed_hosts: Vec::new(),
            private_hosts: Vec::new(),
            model_max_tokens: 128_000,
            model_max_concurrent_requests: 4,
            model_max_connections: 16,
            model_max_request_mb: 32,
        }
    }
}

/// Mebibytes to bytes.
fn mib(n: u64) -> u64 {
    n.saturating_mul(1024 * 1024)
}

impl SandboxConfig {
    pub fn tmp_bytes(&self) -> u64 {
        mib(self.tmp_mb)
    }

    pub fn disk_bytes(&self) -> u64 {
        mib(self.disk_mb)
    }

    /// What a run's cgroup enforces.
    pub fn cgroup_limits(&self) -> super::cgroup::CgroupLimits {
        super::cgroup::CgroupLimits {
            memory_bytes: mib(self.memory_mb),
            max_processes: self.max_processes,
            cpu_cores: self.cpu_cores,
        }
    }

    /// What the runner watches while a run runs.
    pub fn watched(&self) -> super::monitor::Watched {
        super::monitor::Watched {
            memory_bytes: mib(self.memory_mb),
            max_processes: self.max_processes,
            cpu_seconds: self.cpu_seconds,
            disk_bytes: self.disk_bytes(),
        }
    }

    /// What the model proxy lets one run do.
    pub fn proxy_limits(&self) -> super::model_policy::ProxyLimits {
        super::model_policy::ProxyLimits {
            max_tokens: self.model_max_tokens,
            max_concurrent_requests: self.model_max_concurrent_requests,
            max_connections: self.model_max_connections,
            max_request_bytes: usize::try_from(mib(self.model_max_request_mb)).unwrap_or(usize::MAX),
        }
    }

    /// Why these settings cannot work, if they cannot.
    pub fn problem(&self) -> Option<String> {
        if self.tmp_mb == 0 || self.memory_mb == 0 || self.disk_mb == 0 {
            return Some("tmp_mb, memory_mb and disk_mb must be at least 1".into());
        }
        if self.cpu_seconds == 0 || self.max_processes < 16 || self.max_open_files < 64 {
            return Some(
                "cpu_seconds must be at least 1, max_processes at least 16, max_open_files at least 64".into(),
            );
        }
        if !(self.cpu_cores == 0.0 || self.cpu_cores >= 0.01) {
            return Some("cpu_cores must be 0 (no cap) or at least 0.01".into());
        }
        if !(1..=1_000_000).contains(&self.model_max_tokens) {
            return Some("model_max_tokens must be from 1 to 1000000".into());
        }
        if !(1..=64).contains(&self.model_max_concurrent_requests) {
            return Some("model_max_concurrent_requests must be from 1 to 64".into());
        }
        if !(1..=1024).contains(&self.model_max_connections) {
            return Some("model_max_connections must be from 1 to 1024".into());
        }
        if !(1..=256).contains(&self.model_max_request_mb) {
            return Some("model_max_request_mb must be from 1 to 256".into());
        }
        if self.poll_interval_ms < 50 {
            return Some("poll_interval_ms must be at least 50".into());
        }
        for (key, hosts) in [("allowed_hosts", &self.allowed_hosts), ("private_hosts", &self.private_hosts)] {
            for host in hosts {
                if let Err(why) = super::egress::HostPattern::parse(host) {
                    return Some(format!("{key}: {host:?} {why}"));
                }
            }
        }
        None
    }
}
