//! The per-run supervisor: a tiny process between the gateway and Claude Code
//! that guarantees no process of a run outlives it.
//!
//! The gateway starts `ccgate supervise -- <claude argv>`. The supervisor marks
//! itself a child subreaper, so every process Claude Code starts — including
//! `setsid`/`nohup` daemons that leave its process group — stays below it. When
//! Claude Code exits, or the gateway asks it to stop (SIGTERM), or the gateway
//! dies (parent-death signal), it sends SIGTERM to Claude's process group, waits
//! the grace period, then SIGKILLs every descendant until none is left, and exits
//! with Claude's status. This runs before any tokio runtime exists, so plain
//! blocking code and a signal mask are the right tools.

#![allow(unsafe_code)]

use std::ffi::{OsStr, OsString};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// What the supervisor runs: `program args`, or the plan read from stdin.
pub enum Program {
    Given {
        program: OsString,
        args: Vec<OsString>,
    },
    /// A spare supervisor: started before its run, it joins the run's cgroups and
    /// then waits for its [`Plan`] on stdin (see `runner::spare`).
    OnStdin,
}

/// Runs the program under supervision and returns the exit code to use.
/// `cgroups`: the `cgroup.procs` files of the run's cgroups, joined before Claude starts.
pub fn supervise(grace: Duration, parent_pid: Option<i32>, cgroups: &[std::path::PathBuf], program: Program) -> i32 {
    // SAFETY: plain prctl/sigprocmask calls on this single-threaded process.
    unsafe {
        libc::prctl(libc::PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0);
        libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM, 0, 0, 0);
    }
    if parent_pid.is_some_and(|p| p != unsafe { libc::getppid() }) {
        return 125; // the gateway died before we could notice it
    }
    for procs in cgroups {
        if let Err(e) = std::fs::write(procs, std::process::id().to_string()) {
            eprintln!("ccgate supervise: cannot join the run's cgroup {}: {e}", procs.display());
            return 125;
        }
    }
    // Read before the signals are blocked: a spare the gateway stops while it
    // waits ends at once.
    let mut command = match program {
        Program::Given { program, args } => {
            let mut command = std::process::Command::new(program);
            command.args(args);
            command
        }
        Program::OnStdin => match Plan::read(&mut *unbuffered_stdin()) {
            Ok(Some(plan)) => plan.command(),
            // The gateway let the spare go unused.
            Ok(None) => return 0,
            Err(e) => {
                eprintln!("ccgate supervise: cannot read the plan: {e}");
                return 125;
            }
        },
    };
    let signals = watched_signals();
    // SAFETY: blocks the watched signals so that sigtimedwait receives them.
    unsafe { libc::sigprocmask(libc::SIG_BLOCK, &signals, std::ptr::null_mut()) };

    // std resets the signal mask in the child before exec.
    let child = match command.process_group(0).spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("ccgate supervise: cannot start {}: {e}", command.get_program().to_string_lossy());
            return 127;
        }
    };
    let child_pid = child.id() as i32;
    let mut child_status: Option<i32> = None;
    let mut kill_at: Option<Instant> = None;

    loop {
        let signal = wait_signal(&signals, Duration::from_millis(200));
        if matches!(signal, Some(libc::SIGTERM | libc::SIGINT | libc::SIGHUP)) && kill_at.is_none() {
            kill_at = Some(Instant::now() + grace);
            signal_tree(child_pid, libc::SIGTERM);
        }
        reap(child_pid, &mut child_status);
        if let Some(status) = child_status {
            // Claude Code is gone: whatever it left behind is not wanted.
            kill_descendants();
            return status;
        }
        if kill_at.is_some_and(|at| Instant::now() >= at) {
            kill_descendants();
            reap(child_pid, &mut child_status);
            return child_status.unwrap_or(128 + libc::SIGKILL);
        }
    }
}

/// The command a spare supervisor runs, sent on its stdin: the length of what
/// follows (4 bytes, little-endian), then NUL-terminated fields: the working
/// directory, the number of arguments, the program, the arguments, and the
/// environment as `NAME=value` (none of which can hold a NUL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    pub cwd: PathBuf,
    pub program: OsString,
    pub args: Vec<OsString>,
    pub env: Vec<(OsString, OsString)>,
}

/// More than any command line the gateway builds (bubblewrap's is a few KiB).
const MAX_PLAN_BYTES: usize = 4 << 20;

impl Plan {
    pub fn encode(&self) -> Vec<u8> {
        let mut fields: Vec<&[u8]> = Vec::new();
        let count = self.args.len().to_string();
        fields.extend([self.cwd.as_os_str().as_bytes(), count.as_bytes(), self.program.as_bytes()]);
        fields.extend(self.args.iter().map(|a| a.as_bytes()));
        let pairs: Vec<Vec<u8>> = self.env.iter().map(|(k, v)| [k.as_bytes(), b"=", v.as_bytes()].concat()).collect();
        fields.extend(pairs.iter().map(Vec::as_slice));
        let body: Vec<u8> = fields.iter().flat_map(|f| f.iter().copied().chain([0])).collect();
        let mut out = (body.len() as u32).to_le_bytes().to_vec();
        out.extend(body);
        out
    }

    /// Reads exactly one plan (nothing past it: the rest of stdin is the CLI's).
    /// `None` when the stream ends before it begins.
    pub fn read(from: &mut impl Read) -> std::io::Result<Option<Self>> {
        let mut length = [0u8; 4];
        match from.read_exact(&mut length) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
        let length = u32::from_le_bytes(length) as usize;
        if length > MAX_PLAN_BYTES {
            return Err(invalid(format!("a plan of {length} bytes")));
        }
        let mut body = vec![0u8; length];
        from.read_exact(&mut body)?;
        Self::decode(&body).map(Some)
    }

    fn decode(body: &[u8]) -> std::io::Result<Self> {
        let Some(body) = body.strip_suffix(&[0]) else { return Err(invalid("an unterminated plan".into())) };
        let mut fields = body.split(|b| *b == 0).map(|f| OsString::from(OsStr::from_bytes(f)));
        let mut next = |what: &str| fields.next().ok_or_else(|| invalid(format!("a plan without {what}")));
        let cwd = PathBuf::from(next("a working directory")?);
        let count: usize = next("an argument count")?
            .to_str()
            .and_then(|c| c.parse().ok())
            .ok_or_else(|| invalid("a bad count".into()))?;
        let program = next("a program")?;
        let args = (0..count).map(|_| next("an argument")).collect::<std::io::Result<Vec<_>>>()?;
        let env = fields
            .map(|pair| {
                let bytes = pair.as_bytes();
                let at = bytes.iter().position(|b| *b == b'=').ok_or_else(|| invalid("a variable without =".into()))?;
                Ok((OsStr::from_bytes(&bytes[..at]).into(), OsStr::from_bytes(&bytes[at + 1..]).into()))
            })
            .collect::<std::io::Result<Vec<_>>>()?;
        Ok(Self { cwd, program, args, env })
    }

    fn command(self) -> std::process::Command {
        let mut command = std::process::Command::new(self.program);
        command.args(self.args).env_clear().envs(self.env).current_dir(self.cwd);
        command
    }
}

/// Stdin read straight from the descriptor: `std::io::stdin()` buffers, and would
/// take lines past the plan that are the CLI's.
fn unbuffered_stdin() -> std::mem::ManuallyDrop<std::fs::File> {
    use std::os::fd::FromRawFd;
    // SAFETY: descriptor 0 is open for the process's life; ManuallyDrop never closes it.
    std::mem::ManuallyDrop::new(unsafe { std::fs::File::from_raw_fd(0) })
}

fn invalid(what: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidData, what)
}

fn watched_signals() -> libc::sigset_t {
    // SAFETY: sigset_t is plain data initialised by sigemptyset.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        for signal in [libc::SIGTERM, libc::SIGINT, libc::SIGHUP, libc::SIGCHLD] {
            libc::sigaddset(&mut set, signal);
        }
        set
    }
}

fn wait_signal(set: &libc::sigset_t, timeout: Duration) -> Option<i32> {
    let timeout = libc::timespec { tv_sec: timeout.as_secs() as libc::time_t, tv_nsec: timeout.subsec_nanos() as _ };
    // SAFETY: valid set and timeout pointers; a null info pointer is allowed.
    let signal = unsafe { libc::sigtimedwait(set, std::ptr::null_mut(), &timeout) };
    (signal > 0).then_some(signal)
}

/// Reaps every exited child (adopted orphans included), noting Claude's status.
fn reap(child_pid: i32, child_status: &mut Option<i32>) {
    loop {
        let mut status = 0;
        // SAFETY: waitpid with a valid status pointer.
        let pid = unsafe { libc::waitpid(-1, &mut status, libc::WNOHANG) };
        if pid <= 0 {
            return;
        }
        if pid == child_pid {
            *child_status =
                Some(if libc::WIFEXITED(status) { libc::WEXITSTATUS(status) } else { 128 + libc::WTERMSIG(status) });
        }
    }
}

/// Signals Claude's process group and every other descendant.
fn signal_tree(child_pid: i32, signal: i32) {
    // A negative pid signals the process group.
    crate::sandbox::signal(-child_pid, signal);
    for pid in descendants() {
        crate::sandbox::signal(pid, signal);
    }
}

/// SIGKILLs descendants until none is left (a fork bomb loses the race eventually:
/// every round kills all it finds, and new ones can only come from those).
fn kill_descendants() {
    for _ in 0..200 {
        let found = descendants();
        if found.is_empty() {
            return;
        }
        for pid in &found {
            crate::sandbox::signal(*pid, libc::SIGKILL);
        }
        let mut ignored = None;
        reap(-1, &mut ignored);
        std::thread::sleep(Duration::from_millis(5));
        reap(-1, &mut ignored);
    }
}

/// Every live process below this one.
fn descendants() -> Vec<i32> {
    descendants_of(std::process::id() as i32)
}

/// Every live process below `root`, found through `/proc/<pid>/stat`.
pub(crate) fn descendants_of(root: i32) -> Vec<i32> {
    let mut parents = Vec::new();
    if let Ok(entries) = std::fs::read_dir("/proc") {
        for entry in entries.flatten() {
            let Some(pid) = entry.file_name().to_str().and_then(|n| n.parse::<i32>().ok()) else { continue };
            if let Some(ppid) = parent_of(pid) {
                parents.push((pid, ppid));
            }
        }
    }
    let mut below = vec![root];
    let mut changed = true;
    while changed {
        changed = false;
        for (pid, ppid) in &parents {
            if below.contains(ppid) && !below.contains(pid) {
                below.push(*pid);
                changed = true;
            }
        }
    }
    below.retain(|pid| *pid != root);
    below
}

fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // The command name may contain spaces and parentheses: parse after the last ')'.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace();
    let state = fields.next()?;
    if state == "Z" || state == "X" {
        return None; // already dead, only waiting to be reaped
    }
    fields.next()?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan() -> Plan {
        Plan {
            cwd: "/data/tasks/t/workspace".into(),
            program: "/usr/bin/bwrap".into(),
            args: vec!["--ro-bind".into(), "/usr".into(), "".into(), "a=b".into()],
            env: vec![("PATH".into(), "/usr/bin".into()), ("EMPTY".into(), "".into()), ("EQ".into(), "x=y".into())],
        }
    }

    #[test]
    fn a_plan_reads_back_as_written_and_nothing_past_it() {
        let mut stream = plan().encode();
        stream.extend(b"{\"type\":\"user\"}\n");
        let mut reader = std::io::Cursor::new(stream);
        assert_eq!(Plan::read(&mut reader).unwrap(), Some(plan()));
        let mut rest = String::new();
        reader.read_to_string(&mut rest).unwrap();
        assert_eq!(rest, "{\"type\":\"user\"}\n", "the CLI's stdin is left whole");
    }

    #[test]
    fn a_closed_stdin_is_no_plan_and_a_broken_one_is_an_error() {
        assert_eq!(Plan::read(&mut std::io::empty()).unwrap(), None);
        let encoded = plan().encode();
        assert!(Plan::read(&mut &encoded[..encoded.len() - 1]).is_err(), "cut short");
        let mut huge = (MAX_PLAN_BYTES as u32 + 1).to_le_bytes().to_vec();
        huge.extend([0; 8]);
        assert!(Plan::read(&mut &huge[..]).is_err(), "too long");
        for body in
            [&b"/w\x00x\x00p\x00"[..], b"/w\x003\x00p\x00a\x00", b"/w\x000\x00p\x00NOEQUALS\x00", b"/w\x000\x00p"]
        {
            let mut framed = (body.len() as u32).to_le_bytes().to_vec();
            framed.extend(body);
            assert!(Plan::read(&mut &framed[..]).is_err(), "{:?}", String::from_utf8_lossy(body));
        }
    }
}
