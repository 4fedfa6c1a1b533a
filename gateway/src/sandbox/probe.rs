//! What this machine can enforce, layer by layer, and why not: the basis of
//! `sandbox.mode = "auto"` and of `ccgate doctor`.

#![allow(unsafe_code)] // two read-only syscalls: the Landlock ABI and the seccomp mode

use std::path::PathBuf;
use std::process::{Command, Stdio};

use super::cgroup::CgroupRoot;

/// One layer's verdict: what works (with a detail), or why it does not.
pub type Verdict<T> = Result<T, String>;

/// Everything the probes found.
#[derive(Debug)]
pub struct Capabilities {
    /// bubblewrap's path and version, when it can create a sandbox here.
    pub bwrap: Verdict<(PathBuf, String)>,
    /// The kernel's Landlock ABI version.
    pub landlock: Verdict<i32>,
    pub seccomp: Verdict<()>,
    pub cgroups: Verdict<CgroupRoot>,
}

/// The oldest Landlock ABI the file rules need (truncate and device ioctls: ABI 5);
/// TCP port rules need 4.
pub const MIN_LANDLOCK_ABI: i32 = 5;

/// Without namespaces Landlock must also keep runs from signalling other processes
/// (scopes: ABI 6).
pub const MIN_LANDLOCK_ONLY_ABI: i32 = 6;

impl Capabilities {
    /// Runs every probe (about 10 ms: one trial bubblewrap sandbox).
    pub fn probe(bwrap: &str) -> Self {
        Self {
            bwrap: probe_bwrap(bwrap),
            landlock: probe_landlock(),
            seccomp: probe_seccomp(),
            cgroups: CgroupRoot::find(),
        }
    }

    /// For `sandbox.mode = "none"`: no layer is used, so none is tried (no trial
    /// sandbox process); cgroups are still found, to remove those earlier runs left.
    pub fn unconfined() -> Self {
        fn unused<T>() -> Verdict<T> {
            Err("not probed: sandbox.mode = \"none\"".into())
        }
        Self { bwrap: unused(), landlock: unused(), seccomp: unused(), cgroups: CgroupRoot::find() }
    }

    /// The report `ccgate doctor` prints.
    pub fn report(&self) -> String {
        let mut lines = Vec::new();
        let mut line = |name: &str, verdict: Result<String, &String>| {
            lines.push(match verdict {
                Ok(detail) => format!("{name:<12} yes  {detail}"),
                Err(why) => format!("{name:<12} no   {why}"),
            });
        };
        line("bubblewrap", self.bwrap.as_ref().map(|(path, version)| format!("{version} at {}", path.display())));
        line("landlock", self.landlock.as_ref().map(|abi| format!("ABI {abi}")));
        line("seccomp", self.seccomp.as_ref().map(|()| "filters can be installed".to_string()));
        line("cgroups", self.cgroups.as_ref().map(|root| root.describe()));
        lines.join("\n")
    }
}

fn probe_bwrap(name: &str) -> Verdict<(PathBuf, String)> {
    let path = crate::runner::resolve_program(name, std::env::var_os("PATH").as_deref())
        .ok_or_else(|| format!("{name:?} is not installed (Debian/Ubuntu: apt-get install bubblewrap)"))?;
    let version = Command::new(&path)
        .arg("--version")
        .env_clear()
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
    // The same namespaces a run gets; fails where user namespaces are blocked
    // (AppArmor's restriction on Ubuntu 24.04, many containers).
    let mut trial = Command::new(&path);
    trial.args(super::bwrap::base_args());
    let output = trial
        .args(["--proc", "/proc", "--dev", "/dev", "--", "/usr/bin/true"])
        .env_clear()
        .stdin(Stdio::null())
        .output()
        .map_err(|e| format!("cannot run {}: {e}", path.display()))?;
    if !output.status.success() {
        let stderr = String::from_utf8_lossy(&output.stderr);
        return Err(format!("{version} cannot create a sandbox here: {}", stderr.trim()));
    }
    Ok((path, version))
}

fn probe_landlock() -> Verdict<i32> {
    const LANDLOCK_CREATE_RULESET_VERSION: libc::c_uint = 1;
    // SAFETY: with a null attribute and the VERSION flag the call only reports the ABI.
    let abi = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0usize,
            LANDLOCK_CREATE_RULESET_VERSION,
        )
    };
    if abi < 0 {
        let error = std::io::Error::last_os_error();
        return Err(match error.raw_os_error() {
            Some(libc::ENOSYS) => "the kernel was built without Landlock (needs 5.13+)".into(),
            Some(libc::EOPNOTSUPP) => {
                "Landlock is built in but not enabled (add landlock to the lsm= boot option)".into()
            }
            _ => format!("Landlock is not usable: {error}"),
        });
    }
    let abi = abi as i32;
    if abi < MIN_LANDLOCK_ABI {
        return Err(format!(
            "Landlock ABI {abi} is older than the {MIN_LANDLOCK_ABI} the file rules need (Linux 6.10+)"
        ));
    }
    Ok(abi)
}

fn probe_seccomp() -> Verdict<()> {
    // SAFETY: PR_GET_SECCOMP only reads this process's mode.
    let mode = unsafe { libc::prctl(libc::PR_GET_SECCOMP, 0, 0, 0, 0) };
    match mode {
        0 => Ok(()),
        2 => Ok(()), // already filtered (a container): filters stack
        _ => Err(format!("seccomp is not usable here (PR_GET_SECCOMP = {mode}: {})", std::io::Error::last_os_error())),
    }
}
