//! Confinement of every Claude Code run.
//!
//! Layers, strongest first, each probed at start-up ([`probe`]): bubblewrap
//! namespaces ([`bwrap`]) with the run's own network namespace; Landlock
//! ([`landlock`]) and a seccomp filter ([`seccomp`]) applied by the helper the
//! gateway executes inside the sandbox ([`helper`]); a cgroup per run ([`cgroup`])
//! and polled limits. Model traffic leaves only through the gateway's model proxy
//! ([`model_proxy`]), which holds the real API key; other traffic only through the
//! egress proxy ([`egress`]) for hosts the operator allowed.

pub mod bwrap;
pub mod cgroup;
pub mod config;
pub mod egress;
pub mod helper;
pub mod landlock;
pub mod model_policy;
pub mod model_proxy;
pub mod monitor;
pub mod probe;
mod proxy_listener;
pub mod seccomp;
mod sni;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::sync::Arc;

pub use config::{SandboxConfig, SandboxMode};
pub use helper::set_rlimit;
pub use model_proxy::{Meter, Metered, ModelProxy, RunToken, Upstream, is_credential as is_model_credential};
pub use probe::Capabilities;

use bwrap::inside;
use cgroup::{CgroupRoot, RunCgroup};

/// The confinement chosen for this gateway's runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Confinement {
    /// bubblewrap namespaces (plus Landlock and seccomp inside when available).
    Bwrap,
    /// Landlock and seccomp in the helper, without namespaces.
    Landlock,
    None,
}

/// What runs confined by Landlock and seccomp alone (no namespaces) can still do
/// that bubblewrap's would not: `ccgate doctor` prints it when that is the mode.
pub const LANDLOCK_MODE_LEAVES_OPEN: &[&str] = &[
    "runs share the host's PID space: each sees every process of the machine and its command line \
     (/proc/<pid>/cmdline: another run's model and limits, never its prompt, system prompt, output \
     schema or tool lists), not its environment, memory or files",
    "TCP rules match ports, not addresses: a run with network \"none\" or \"allowlist\" can connect \
     to any host the machine routes to, on one of its forwarders' port numbers",
    "network \"full\" runs share the host's whole network, loopback services included",
    "Unix sockets are refused outright (seccomp): tools that need one inside a run (ssh-agent, \
     tmux, a local database) fail",
];

/// Which layers `config` and `capabilities` give, or why runs cannot be confined
/// as configured.
pub fn choose(config: &SandboxConfig, capabilities: &Capabilities) -> Result<Confinement, String> {
    let landlock = capabilities.landlock.is_ok();
    let landlock_only_abi = capabilities.landlock.as_ref().is_ok_and(|abi| *abi >= probe::MIN_LANDLOCK_ONLY_ABI);
    let seccomp = capabilities.seccomp.is_ok();
    let bwrap = capabilities.bwrap.is_ok();
    match config.mode {
        SandboxMode::None => Ok(Confinement::None),
        SandboxMode::Bwrap => match &capabilities.bwrap {
            Ok(_) => Ok(Confinement::Bwrap),
            Err(why) => Err(format!("sandbox.mode = \"bwrap\" but bubblewrap cannot be used: {why}")),
        },
        SandboxMode::Landlock => match (&capabilities.landlock, &capabilities.seccomp) {
            (Ok(abi), Ok(())) if *abi >= probe::MIN_LANDLOCK_ONLY_ABI => Ok(Confinement::Landlock),
            (Ok(abi), Ok(())) => Err(format!(
                "sandbox.mode = \"landlock\" needs Landlock ABI {} (signal scoping) without namespaces; this kernel has {abi}",
                probe::MIN_LANDLOCK_ONLY_ABI
            )),
            (Err(why), _) | (_, Err(why)) => Err(format!("sandbox.mode = \"landlock\" cannot be enforced: {why}")),
        },
        SandboxMode::Auto if bwrap => Ok(Confinement::Bwrap),
        SandboxMode::Auto if landlock && seccomp && landlock_only_abi => Ok(Confinement::Landlock),
        SandboxMode::Auto if config.allow_unsandboxed => Ok(Confinement::None),
        SandboxMode::Auto => Err(format!(
            "no sandbox layer works on this machine, so no task may run:\n{}\nInstall bubblewrap, enable Landlock, \
             or set sandbox.allow_unsandboxed = true to run tasks without confinement (see `ccgate doctor`)",
            capabilities.report()
        )),
    }
}

/// What `/readyz` and the logs say about the sandbox.
#[derive(Debug, Clone, serde::Serialize, utoipa::ToSchema)]
pub struct SandboxStatus {
    /// `bwrap`, `landlock` or `none`.
    pub confinement: String,
    /// The layers in force, e.g. `["namespaces", "landlock", "seccomp", "cgroup"]`.
    pub layers: Vec<String>,
    /// Set when runs are not confined.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub warning: Option<String>,
}

/// The gateway's sandbox: chosen layers, proxies and limits.
pub struct Sandbox {
    confinement: Confinement,
    /// bubblewrap's path, as the probe found it.
    bwrap: Option<PathBuf>,
    landlock_abi: Option<i32>,
    seccomp: bool,
    cgroups: Option<CgroupRoot>,
    config: SandboxConfig,
    helper: PathBuf,
    sockets: PathBuf,
    /// The generated `passwd` and `group` every bubblewrap sandbox mounts in `/etc`.
    identity: PathBuf,
    model: Option<Arc<ModelProxy>>,
    egress: Option<Arc<egress::EgressProxy>>,
}

pub use crate::task::Network;

/// What the runner needs to start one confined run.
pub struct RunSpec<'a> {
    pub run_id: &'a str,
    pub workspace: &'a Path,
    pub home: &'a Path,
    /// The run's host `TMPDIR` (written to where there are no namespaces).
    pub tmp: &'a Path,
    pub claude: &'a Path,
    pub claude_args: &'a [String],
    /// The turn's Claude Code settings file (`--settings`), outside every directory
    /// the run may write; readable by this run only.
    pub settings: Option<&'a Path>,
    /// The environment the run would get unconfined (host paths, real credentials).
    pub env: &'a [(String, String)],
    pub network: Network,
    /// The key's token budget, enforced by the model proxy.
    pub tokens: Option<&'a crate::store::RunTokens>,
    /// The task's model: the only one the model proxy lets the run use, when set.
    pub model: Option<&'a str>,
    /// A test key's run: the model proxy sends it here (the built-in scripted
    /// model) instead of the configured upstream, and prices nothing.
    pub test_upstream: Option<Upstream>,
    /// A warm process no run has taken yet: its model requests are refused until a
    /// run takes it (`RunToken::assign`).
    pub parked: bool,
    /// The run's cgroup was made ahead ([`Sandbox::make_cgroup`]) under its run id.
    pub cgroup_made: bool,
}

/// How to start one run, and what to keep until it ends.
pub struct Launch {
    /// Program and arguments to give the supervisor.
    pub program: OsString,
    pub args: Vec<OsString>,
    pub env: Vec<(String, String)>,
    /// The run's model-proxy token: valid while this lives.
    pub token: Option<RunToken>,
    /// The run's egress-proxy credentials (`allowlist` runs): valid while this lives.
    pub egress_token: Option<egress::EgressToken>,
    pub cgroup: Option<RunCgroup>,
    /// Where the run sees its workspace and home (inside a bubblewrap namespace,
    /// not their paths on the host).
    pub seen: crate::approvals::rules::Place,
}

/// The run's workspace and home where they are on the host.
fn host_place(run: &RunSpec<'_>) -> crate::approvals::rules::Place {
    crate::approvals::rules::Place {
        workspace: run.workspace.display().to_string(),
        home: run.home.display().to_string(),
    }
}

impl Sandbox {
    /// Probes the machine, chooses the layers and starts the proxies the runs need.
    pub async fn start(
        config: &SandboxConfig,
        data_dir: &Path,
        helper: PathBuf,
        run_env: &[(String, String)],
        pricing: &crate::pricing::Pricing,
    ) -> Result<Self, String> {
        let capabilities = tokio::task::spawn_blocking({
            let (bwrap, mode) = (config.bwrap.clone(), config.mode);
            move || match mode {
                SandboxMode::None => Capabilities::unconfined(),
                _ => Capabilities::probe(&bwrap),
            }
        })
        .await
        .map_err(|e| e.to_string())?;
        let confinement = choose(config, &capabilities)?;
        let sockets = data_dir.join("run").join("sockets");
        let identity = data_dir.join("run").join("identity");
        let mut sandbox = Self {
            confinement,
            bwrap: capabilities.bwrap.ok().map(|(path, _)| path),
            landlock_abi: capabilities.landlock.as_ref().ok().copied(),
            seccomp: capabilities.seccomp.is_ok(),
            cgroups: capabilities.cgroups.ok(),
            config: config.clone(),
            helper,
            sockets: sockets.clone(),
            identity: identity.clone(),
            model: None,
            egress: None,
        };
        if confinement == Confinement::None {
            return Ok(sandbox);
        }
        std::fs::create_dir_all(&sockets).map_err(|e| format!("cannot create {}: {e}", sockets.display()))?;
        if confinement == Confinement::Bwrap {
            let (passwd, group) = bwrap::identity_files();
            let written = std::fs::create_dir_all(&identity)
                .and_then(|()| std::fs::write(identity.join("passwd"), passwd))
                .and_then(|()| std::fs::write(identity.join("group"), group));
            written.map_err(|e| format!("cannot write {}: {e}", identity.display()))?;
        }
        let upstream = Upstream::from_env(run_env);
        let model = ModelProxy::start(&sockets.join("model.sock"), upstream, config.proxy_limits(), pricing.clone())
            .await
            .map_err(|e| format!("cannot start the model proxy: {e}"))?;
        let egress =
            egress::EgressProxy::start(&sockets.join("egress.sock"), &config.allowed_hosts, &config.private_hosts)
                .map_err(|e| format!("cannot start the egress proxy: {e}"))?;
        (sandbox.model, sandbox.egress) = (Some(model), Some(egress));
        Ok(sandbox)
    }

    pub fn confinement(&self) -> Confinement {
        self.confinement
    }

    /// The working directory a run with its workspace at `workspace` on the host
    /// sees (Claude Code names the folder of its session transcripts after it).
    pub fn workspace_seen(&self, workspace: &Path) -> PathBuf {
        match self.confinement {
            Confinement::Bwrap => PathBuf::from(inside::WORKSPACE),
            _ => workspace.to_path_buf(),
        }
    }

    pub fn status(&self) -> SandboxStatus {
        let mut layers = Vec::new();
        match self.confinement {
            Confinement::Bwrap => layers.push("namespaces"),
            Confinement::Landlock => {}
            Confinement::None => {
                return SandboxStatus {
                    confinement: "none".into(),
                    layers: Vec::new(),
                    warning: Some("runs are NOT sandboxed: Claude Code runs with the gateway's own rights".into()),
                };
            }
        }
        if self.landlock_abi.is_some() {
            layers.push("landlock");
        }
        if self.seccomp {
            layers.push("seccomp");
        }
        layers.push("rlimits");
        layers.push(if self.cgroups.is_some() { "cgroup" } else { "polled-limits" });
        layers.push("model-proxy");
        let confinement = if self.confinement == Confinement::Bwrap { "bwrap" } else { "landlock" };
        SandboxStatus {
            confinement: confinement.into(),
            layers: layers.into_iter().map(String::from).collect(),
            warning: None,
        }
    }

    pub fn config(&self) -> &SandboxConfig {
        &self.config
    }

    /// Removes the cgroups runs of a dead gateway left (their processes are killed
    /// first if any are left); `runs` are the reaper's run ids.
    pub fn remove_cgroups_of(&self, runs: &[String]) {
        if let Some(root) = &self.cgroups {
            for run in runs {
                root.run(run).remove();
            }
        }
    }

    /// The model upstream runs reach through the proxy, and how it has answered
    /// lately; `None` when runs are unconfined (they call it themselves).
    pub fn model_upstream(&self) -> Option<(String, model_proxy::UpstreamState)> {
        self.model.as_ref().map(|m| m.upstream_state())
    }

    /// Makes the cgroup of a run ahead of its launch; `None` where runs get none.
    pub fn make_cgroup(&self, run_id: &str) -> std::io::Result<Option<RunCgroup>> {
        match &self.cgroups {
            Some(root) if self.confinement != Confinement::None => {
                root.create(run_id, self.config.cgroup_limits()).map(Some)
            }
            _ => Ok(None),
        }
    }

    /// Prepares one run: its token, cgroup and command line.
    pub fn launch(&self, run: &RunSpec<'_>) -> std::io::Result<Launch> {
        let mut program: OsString = run.claude.into();
        let mut args: Vec<OsString> = run.claude_args.iter().map(OsString::from).collect();
        if let Some(settings) = run.settings {
            let seen = if self.confinement == Confinement::Bwrap { Path::new(inside::SETTINGS) } else { settings };
            args.extend(["--settings".into(), seen.into()]);
        }
        if self.confinement == Confinement::None {
            let seen = host_place(run);
            return Ok(Launch {
                program,
                args,
                env: run.env.to_vec(),
                token: None,
                egress_token: None,
                cgroup: None,
                seen,
            });
        }
        let token = self
            .model
            .as_ref()
            .map(|m| m.register(run.tokens.cloned(), run.model, run.test_upstream.clone(), run.parked));
        let mut env: Vec<(String, String)> =
            run.env.iter().filter(|(k, _)| !model_proxy::is_credential(k)).cloned().collect();
        if let Some(token) = &token {
            env.push(("ANTHROPIC_API_KEY".into(), token.token.clone()));
        }
        let cgroup = match &self.cgroups {
            Some(root) if run.cgroup_made => Some(root.run(run.run_id)),
            _ => self.make_cgroup(run.run_id)?,
        };
        let bwrapped = self.confinement == Confinement::Bwrap;
        let (helper, claude, sockets) = if bwrapped {
            (PathBuf::from(inside::HELPER), PathBuf::from(inside::CLAUDE), PathBuf::from(inside::SOCKETS))
        } else {
            (self.helper.clone(), run.claude.to_path_buf(), self.sockets.clone())
        };
        let mut helper_args: Vec<OsString> = vec!["sandbox-exec".into()];
        let mut flag = |name: &str, value: String| helper_args.extend([OsString::from(name), OsString::from(value)]);
        flag("--cpu-seconds", self.config.cpu_seconds.to_string());
        flag("--file-bytes", self.config.disk_bytes().to_string());
        flag("--open-files", self.config.max_open_files.to_string());
        flag("--model-socket", sockets.join("model.sock").display().to_string());
        let egress_token = match (&self.egress, run.network) {
            (Some(egress), Network::Allowlist) => Some(egress.register()),
            _ => None,
        };
        if let Some(token) = &egress_token {
            // In the environment, not argv: argv is readable by every process of the host.
            flag("--egress-socket", sockets.join("egress.sock").display().to_string());
            env.push((helper::EGRESS_TOKEN_VARIABLE.into(), token.token.clone()));
        }
        if let Some(abi) = self.landlock_abi {
            flag("--landlock-abi", abi.to_string());
            let (read, write) = if bwrapped { bwrapped_paths() } else { self.host_paths(run) };
            for path in read {
                flag("--read", path.display().to_string());
            }
            for path in write {
                flag("--write", path.display().to_string());
            }
        }
        if self.seccomp {
            helper_args.push("--seccomp".into());
        }
        if !bwrapped {
            if run.network != Network::Full {
                // Without a network namespace: TCP only to the forwarders, no UDP or raw sockets.
                helper_args.push("--restrict-inet".into());
            }
            // Without a user namespace the run keeps the gateway's user: no capabilities,
            // and no Unix sockets (Landlock does not govern connecting to one by path).
            helper_args.push("--drop-capabilities".into());
            helper_args.push("--no-unix-sockets".into());
        }
        helper_args.push("--".into());
        helper_args.push(claude.into_os_string());
        helper_args.append(&mut args);
        if let Some(bwrap_path) = self.bwrap.as_ref().filter(|_| bwrapped) {
            for (name, value) in [("HOME", inside::HOME), ("TMPDIR", inside::TMP)] {
                set(&mut env, name, value);
            }
            set(&mut env, "CLAUDE_CONFIG_DIR", &format!("{}/.claude", inside::HOME));
            let mut extra = self.config.read_only_paths.clone();
            if run.network != Network::None {
                extra.push("/etc/resolv.conf".into());
            }
            let spec = bwrap::BwrapSpec {
                workspace: run.workspace,
                home: run.home,
                passwd: &self.identity.join("passwd"),
                group: &self.identity.join("group"),
                helper: &self.helper,
                claude: run.claude,
                sockets: &self.sockets,
                settings: run.settings,
                tmp_bytes: self.config.tmp_bytes(),
                extra_read_only: &extra,
            };
            let mut bwrap_args = bwrap::args(&spec);
            if run.network == Network::Full {
                bwrap_args.insert(1, "--share-net".into());
            }
            program = bwrap_path.into();
            args = bwrap_args.into_iter().map(OsString::from).collect();
            args.push("--".into());
            args.push(helper.into_os_string());
        } else {
            program = helper.into_os_string();
            args = Vec::new();
        }
        args.append(&mut helper_args);
        let seen = if bwrapped {
            crate::approvals::rules::Place { workspace: inside::WORKSPACE.into(), home: inside::HOME.into() }
        } else {
            host_place(run)
        };
        Ok(Launch { program, args, env, token, egress_token, cgroup, seen })
    }

    /// Landlock's read and write sets on the host (no namespaces to hide the rest).
    fn host_paths(&self, run: &RunSpec<'_>) -> (Vec<PathBuf>, Vec<PathBuf>) {
        let mut read: Vec<PathBuf> =
            ["/usr", "/bin", "/sbin", "/lib", "/lib64", "/lib32", "/opt", "/proc", "/sys/devices/system/cpu"]
                .iter()
                .map(PathBuf::from)
                .collect();
        read.extend(bwrap::ETC_FILES.iter().map(|name| Path::new("/etc").join(name)));
        read.extend(["/etc/passwd", "/etc/group", "/etc/resolv.conf"].map(PathBuf::from));
        read.extend(self.config.read_only_paths.iter().map(PathBuf::from));
        read.push(self.helper.clone());
        read.push(run.claude.to_path_buf());
        read.push(self.sockets.clone());
        read.extend(run.settings.map(Path::to_path_buf));
        let mut write = vec![run.workspace.to_path_buf(), run.home.to_path_buf(), run.tmp.to_path_buf()];
        write.extend(WRITABLE_DEVICES.map(PathBuf::from));
        (read, write)
    }
}

/// Inside bubblewrap everything mounted is meant to be read; writes go only to the
/// run's own directories.
fn bwrapped_paths() -> (Vec<PathBuf>, Vec<PathBuf>) {
    let mut write = [inside::WORKSPACE, inside::HOME, inside::TMP, "/dev/shm"].map(PathBuf::from).to_vec();
    write.extend(WRITABLE_DEVICES.map(PathBuf::from));
    (vec![PathBuf::from("/")], write)
}

/// Devices a run may write to (never `/dev/tty`, or the host's shared `/dev/shm`).
const WRITABLE_DEVICES: [&str; 7] =
    ["/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom", "/dev/ptmx", "/dev/pts"];

fn set(env: &mut Vec<(String, String)>, name: &str, value: &str) {
    env.retain(|(k, _)| k != name);
    env.push((name.to_string(), value.to_string()));
}

/// Binds a Unix socket at `path`, replacing a stale one.
fn bind_socket(path: &Path) -> std::io::Result<tokio::net::UnixListener> {
    if path.as_os_str().len() >= 100 {
        return Err(std::io::Error::other(format!(
            "{} is too long for a Unix socket path; use a shorter data_dir",
            path.display()
        )));
    }
    match std::fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e),
        _ => {}
    }
    let listener = tokio::net::UnixListener::bind(path)?;
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
    Ok(listener)
}

/// Makes the gateway's own process non-dumpable: its memory, environment and file
/// descriptors under `/proc/<pid>` are then out of reach of processes of the same
/// user without `CAP_SYS_PTRACE` (runs confined without a user namespace).
#[allow(unsafe_code)]
pub fn protect_gateway_process() {
    // SAFETY: prctl with plain integer arguments on this process.
    unsafe {
        libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0);
    }
}

/// Sends `signal` to `pid` (a negative pid: to that process group). Every signal
/// the gateway and a run's supervisor send to a run's processes goes through here.
#[allow(unsafe_code)]
pub(crate) fn signal(pid: i32, signal: i32) {
    // SAFETY: kill(2) with a plain pid and signal number.
    unsafe {
        libc::kill(pid, signal);
    }
}
