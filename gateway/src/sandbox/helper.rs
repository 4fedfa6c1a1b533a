//! `ccgate sandbox-exec`: the small helper the gateway starts inside a run's
//! sandbox. It opens the run's local forwarders (127.0.0.1 ports that lead to the
//! gateway's model and egress proxies over Unix sockets), sets its resource limits,
//! confines itself with Landlock and seccomp, then starts Claude Code, which
//! inherits all of it, and forwards connections until Claude Code exits.

#![allow(unsafe_code)] // setrlimit, prctl, the child's seccomp filter

use std::ffi::OsString;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::net::UnixStream;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

/// The variable that carries the run's egress-proxy token to the helper (which
/// removes it before starting Claude Code).
pub const EGRESS_TOKEN_VARIABLE: &str = "CCGATE_EGRESS_TOKEN";

/// What the gateway asks of the helper.
#[derive(Debug, Default)]
pub struct HelperPlan {
    pub landlock: Option<super::landlock::Rules>,
    pub seccomp: bool,
    /// Also refuse UDP and raw sockets (runs that share the host's network).
    pub no_datagrams: bool,
    pub limits: Rlimits,
    /// The gateway's model proxy socket: `ANTHROPIC_BASE_URL` leads there.
    pub model_socket: Option<PathBuf>,
    /// The gateway's egress proxy socket and the run's credentials for it:
    /// `HTTP(S)_PROXY` lead there.
    pub egress: Option<(PathBuf, String)>,
    /// Empty the capability bounding set, so that what the helper executes has no
    /// capabilities even as root (runs without a user namespace).
    pub drop_capabilities: bool,
    /// Refuse Unix sockets to what the helper executes (runs that share the host's
    /// file system, where every pathname socket the user can open is in reach).
    pub no_unix_sockets: bool,
}

/// Per-process limits.
#[derive(Debug, Default, Clone, Copy)]
pub struct Rlimits {
    pub cpu_seconds: u64,
    pub file_bytes: u64,
    pub open_files: u64,
}

/// Sets everything up and runs `program`; returns the exit code to use.
pub fn exec(mut plan: HelperPlan, program: &OsString, args: &[OsString]) -> i32 {
    let fail = |what: &str, why: String| {
        eprintln!("ccgate sandbox: {what}: {why}");
        126
    };
    // Other runs of the same user may look at this process (without namespaces): its
    // memory and environment, which hold the egress token, are then out of their reach.
    // SAFETY: prctl with plain integer arguments on this process.
    unsafe { libc::prctl(libc::PR_SET_DUMPABLE, 0, 0, 0, 0) };
    let mut command = Command::new(program);
    command.args(args).env_remove(EGRESS_TOKEN_VARIABLE);
    let mut forwarders = Vec::new();
    let egress = plan.egress.take().map(|(socket, token)| (socket, Kind::Egress(token)));
    for (socket, kind) in plan.model_socket.take().map(|s| (s, Kind::Model)).into_iter().chain(egress) {
        let bound = TcpListener::bind("127.0.0.1:0").and_then(|listener| {
            let port = listener.local_addr()?.port();
            Ok((listener, port))
        });
        let (listener, port) = match bound {
            Ok(bound) => bound,
            Err(e) => return fail("cannot open a local forwarder", e.to_string()),
        };
        kind.point(&mut command, port);
        forwarders.push((listener, socket, port));
    }
    if let Err(e) = set_rlimits(plan.limits) {
        return fail("cannot set resource limits", e.to_string());
    }
    if plan.drop_capabilities
        && let Err(e) = drop_capabilities()
    {
        return fail("cannot drop capabilities", e.to_string());
    }
    if let Some(mut rules) = plan.landlock.take() {
        if rules.tcp_connect.is_some() {
            rules.tcp_connect = Some(forwarders.iter().map(|(_, _, port)| *port).collect());
        }
        if let Err(why) = super::landlock::restrict(&rules) {
            return fail("cannot apply Landlock", why);
        }
    }
    if plan.seccomp
        && let Err(why) = super::seccomp::install(plan.no_datagrams)
    {
        return fail("cannot install the seccomp filter", why);
    }
    if plan.no_unix_sockets {
        let filter = match super::seccomp::no_unix_sockets() {
            Ok(filter) => filter,
            Err(why) => return fail("cannot build the Unix socket filter", why),
        };
        // In the child only: the helper's forwarders reach the proxies over Unix sockets.
        // SAFETY: between fork and exec the closure only makes the prctl and seccomp
        // calls, on a program built before the fork.
        unsafe {
            command.pre_exec(move || seccompiler::apply_filter(&filter).map_err(|_| std::io::Error::last_os_error()));
        }
    }
    let mut child = match command.spawn() {
        Ok(child) => child,
        Err(e) => return fail(&format!("cannot start {}", program.to_string_lossy()), e.to_string()),
    };
    for (listener, socket, _) in forwarders {
        std::thread::spawn(move || forward_all(listener, socket));
    }
    match child.wait() {
        Ok(status) => crate::runner::exit_code(status).unwrap_or(1),
        Err(e) => fail("lost the child", e.to_string()),
    }
}

enum Kind {
    Model,
    /// With the run's egress token.
    Egress(String),
}

impl Kind {
    fn point(&self, command: &mut Command, port: u16) {
        match self {
            Kind::Model => {
                command.env("ANTHROPIC_BASE_URL", format!("http://127.0.0.1:{port}"));
            }
            Kind::Egress(token) => {
                let user = super::egress::PROXY_USER;
                let url = format!("http://{user}:{token}@127.0.0.1:{port}");
                for name in ["HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY", "all_proxy"] {
                    command.env(name, &url);
                }
                command.env("NO_PROXY", "127.0.0.1").env("no_proxy", "127.0.0.1");
            }
        }
    }
}

/// Sets one resource limit of this process.
pub fn set_rlimit(resource: libc::__rlimit_resource_t, soft: u64, hard: u64) -> std::io::Result<()> {
    let limit = libc::rlimit { rlim_cur: soft, rlim_max: hard };
    // SAFETY: setrlimit with a valid struct on this process.
    if unsafe { libc::setrlimit(resource, &limit) } != 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

fn set_rlimits(limits: Rlimits) -> std::io::Result<()> {
    let set = set_rlimit;
    set(libc::RLIMIT_CORE, 0, 0)?;
    if limits.cpu_seconds > 0 {
        // SIGXCPU at the soft limit gives a process the chance to report; SIGKILL at the hard one.
        set(libc::RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 5)?;
    }
    if limits.file_bytes > 0 {
        set(libc::RLIMIT_FSIZE, limits.file_bytes, limits.file_bytes)?;
    }
    if limits.open_files > 0 {
        set(libc::RLIMIT_NOFILE, limits.open_files, limits.open_files)?;
    }
    Ok(())
}

fn drop_capabilities() -> std::io::Result<()> {
    // SAFETY: prctl with plain integer arguments.
    unsafe { libc::prctl(libc::PR_CAP_AMBIENT, libc::PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) };
    // Capabilities the kernel knows: PR_CAPBSET_READ fails (EINVAL) past the last one.
    for capability in 0..64 {
        // SAFETY: prctl with plain integer arguments.
        if unsafe { libc::prctl(libc::PR_CAPBSET_READ, capability, 0, 0, 0) } < 0 {
            break;
        }
        // SAFETY: as above; needs CAP_SETPCAP, which a process without it has nothing to drop.
        if unsafe { libc::prctl(libc::PR_CAPBSET_DROP, capability, 0, 0, 0) } != 0 {
            let error = std::io::Error::last_os_error();
            if error.raw_os_error() != Some(libc::EPERM) {
                return Err(error);
            }
        }
    }
    Ok(())
}

/// Accepts connections on `listener` and joins each to a new connection to `socket`.
fn forward_all(listener: TcpListener, socket: PathBuf) {
    for stream in listener.incoming() {
        let Ok(tcp) = stream else { continue };
        let socket = socket.clone();
        std::thread::spawn(move || {
            let Ok(unix) = UnixStream::connect(&socket) else { return };
            let (Ok(tcp_back), Ok(unix_back)) = (tcp.try_clone(), unix.try_clone()) else { return };
            let upstream = std::thread::spawn(move || pump(tcp, unix, |u| u.shutdown(Shutdown::Write)));
            pump(unix_back, tcp_back, |t: &TcpStream| t.shutdown(Shutdown::Write));
            let _ = upstream.join();
        });
    }
}

/// Copies `from` into `to` until end of stream, then half-closes `to`.
fn pump<R: Read, W: Write>(mut from: R, mut to: W, close: impl Fn(&W) -> std::io::Result<()>) {
    let mut buffer = [0u8; 16 * 1024];
    loop {
        match from.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                if to.write_all(&buffer[..n]).is_err() {
                    break;
                }
            }
        }
    }
    let _ = close(&to);
}
