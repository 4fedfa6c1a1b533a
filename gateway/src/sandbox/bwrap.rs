//! The bubblewrap command line of one run: its own user, PID, IPC, UTS, cgroup and
//! network namespaces; read-only system directories; the workspace, a private home
//! and a size-limited `/tmp` as the only writable places; `/` read-only last.

use std::path::Path;

/// Where things are inside every sandbox.
pub mod inside {
    pub const WORKSPACE: &str = "/workspace";
    pub const HOME: &str = "/home/agent";
    pub const TMP: &str = "/tmp";
    pub const RUN: &str = "/run/ccgate";
    pub const HELPER: &str = "/run/ccgate/ccgate";
    pub const CLAUDE: &str = "/run/ccgate/claude";
    pub const SOCKETS: &str = "/run/ccgate/sockets";
    /// The turn's Claude Code settings file, read-only.
    pub const SETTINGS: &str = "/run/ccgate/settings.json";
    /// The sandbox's user (the gateway's user outside).
    pub const UID: u32 = 1000;
}

/// Files under `/etc` that programs need; never `shadow`, keys or the host's users.
pub(super) const ETC_FILES: [&str; 18] = [
    "alternatives",
    "ca-certificates",
    "ca-certificates.conf",
    "ssl",
    "pki",
    "ld.so.cache",
    "ld.so.conf",
    "ld.so.conf.d",
    "localtime",
    "timezone",
    "nsswitch.conf",
    "hosts",
    "mime.types",
    "os-release",
    "profile",
    "bash.bashrc",
    "inputrc",
    "gitconfig",
];

/// The host's system directories, mounted read-only (merged-/usr systems link the rest).
fn system_binds() -> Vec<(String, String)> {
    let mut binds = vec![("/usr".to_string(), "/usr".to_string())];
    for dir in ["/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"] {
        let path = Path::new(dir);
        if path.is_dir() && !path.is_symlink() {
            binds.push((dir.to_string(), dir.to_string()));
        }
    }
    binds
}

/// `(target, link)` for the top-level directories that are links on the host.
fn system_links() -> Vec<(String, String)> {
    ["/bin", "/sbin", "/lib", "/lib64", "/lib32", "/libx32"]
        .into_iter()
        .filter_map(|dir| std::fs::read_link(dir).ok().map(|target| (target.display().to_string(), dir.to_string())))
        .collect()
}

/// The host paths one run's sandbox is built from.
#[derive(Debug, Clone)]
pub struct BwrapSpec<'a> {
    pub workspace: &'a Path,
    pub home: &'a Path,
    /// Generated `/etc/passwd` and `/etc/group`.
    pub passwd: &'a Path,
    pub group: &'a Path,
    pub helper: &'a Path,
    pub claude: &'a Path,
    /// The directory holding the gateway's model (and egress) sockets.
    pub sockets: &'a Path,
    /// The turn's settings file, if it has one.
    pub settings: Option<&'a Path>,
    pub tmp_bytes: u64,
    pub extra_read_only: &'a [String],
}

/// The namespaces, identity and system directories of every sandbox (also what the
/// probe tries).
pub fn base_args() -> Vec<String> {
    let mut args: Vec<String> = [
        "--unshare-all",
        "--unshare-user",
        "--disable-userns",
        "--die-with-parent",
        "--new-session",
        "--cap-drop",
        "ALL",
        "--hostname",
        "ccgate",
    ]
    .map(String::from)
    .to_vec();
    let uid = inside::UID.to_string();
    args.extend(["--uid".into(), uid.clone(), "--gid".into(), uid]);
    for (source, target) in system_binds() {
        args.extend(["--ro-bind".into(), source, target]);
    }
    for (target, link) in system_links() {
        args.extend(["--symlink".into(), target, link]);
    }
    args
}

/// bubblewrap's arguments up to (not including) the command to run.
pub fn args(spec: &BwrapSpec<'_>) -> Vec<String> {
    let mut args = base_args();
    let mut push = |words: &[&str]| args.extend(words.iter().map(|w| w.to_string()));
    for name in ETC_FILES {
        let host = format!("/etc/{name}");
        push(&["--ro-bind-try", &host, &host]);
    }
    push(&["--ro-bind", &path(spec.passwd), "/etc/passwd", "--ro-bind", &path(spec.group), "/etc/group"]);
    for extra in spec.extra_read_only {
        push(&["--ro-bind-try", extra, extra]);
    }
    push(&["--proc", "/proc", "--dev", "/dev"]);
    // Both in memory, both sized: neither can take the host's RAM.
    push(&["--size", &spec.tmp_bytes.to_string(), "--tmpfs", inside::TMP]);
    push(&["--size", &spec.tmp_bytes.to_string(), "--tmpfs", "/dev/shm"]);
    push(&["--bind", &path(spec.workspace), inside::WORKSPACE, "--bind", &path(spec.home), inside::HOME]);
    push(&["--dir", inside::RUN]);
    push(&["--ro-bind", &path(spec.helper), inside::HELPER, "--ro-bind", &path(spec.claude), inside::CLAUDE]);
    push(&["--ro-bind", &path(spec.sockets), inside::SOCKETS]);
    if let Some(settings) = spec.settings {
        push(&["--ro-bind", &path(settings), inside::SETTINGS]);
    }
    push(&["--remount-ro", "/", "--chdir", inside::WORKSPACE]);
    args
}

/// `/etc/passwd` and `/etc/group` of a sandbox: its user and nothing of the host's.
pub fn identity_files() -> (String, String) {
    let uid = inside::UID;
    let passwd = format!(
        "root:x:0:0:root:/root:/usr/sbin/nologin\nagent:x:{uid}:{uid}:agent:{}:/bin/bash\nnobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n",
        inside::HOME
    );
    let group = format!("root:x:0:\nagent:x:{uid}:\nnogroup:x:65534:\n");
    (passwd, group)
}

fn path(p: &Path) -> String {
    p.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_the_workspace_home_and_tmp_are_writable_and_root_goes_read_only_last() {
        let (ws, home, pw, gr, helper, claude, sockets) = (
            Path::new("/d/t/workspace"),
            Path::new("/d/t/state/home"),
            Path::new("/d/t/state/passwd"),
            Path::new("/d/t/state/group"),
            Path::new("/bin/ccgate"),
            Path::new("/opt/claude"),
            Path::new("/d/sockets"),
        );
        let spec = BwrapSpec {
            workspace: ws,
            home,
            passwd: pw,
            group: gr,
            helper,
            claude,
            sockets,
            settings: Some(Path::new("/d/t/state/settings.json")),
            tmp_bytes: 1 << 20,
            extra_read_only: &[],
        };
        let args = args(&spec);
        let rw: Vec<_> = args.windows(3).filter(|w| w[0] == "--bind").map(|w| (w[1].as_str(), w[2].as_str())).collect();
        assert_eq!(rw, [("/d/t/workspace", "/workspace"), ("/d/t/state/home", "/home/agent")]);
        assert_eq!(args[args.len() - 4..], ["--remount-ro", "/", "--chdir", "/workspace"]);
        for flag in ["--unshare-all", "--unshare-user", "--disable-userns", "--die-with-parent", "--new-session"] {
            assert!(args.iter().any(|a| a == flag), "{flag}");
        }
        assert!(!args.iter().any(|a| a.contains("shadow")));
        assert!(args.windows(3).any(|w| w[0] == "--ro-bind" && w[2] == inside::SETTINGS), "settings read-only");
        assert!(args.windows(2).any(|w| w[0] == "--size" && w[1] == "1048576"));
    }
}
