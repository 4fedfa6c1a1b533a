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

use std::ffi::OsString;
use std::os::unix::process::CommandExt;
use std::time::{Duration, Instant};

/// Runs `program args` under supervision and returns the exit code to use.
/// `cgroups`: the `cgroup.procs` files of the run's cgroups, joined before Claude starts.
pub fn supervise(
    grace: Duration,
    parent_pid: Option<i32>,
    cgroups: &[std::path::PathBuf],
    program: &OsString,
    args: &[OsString],
) -> i32 {
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
    let signals = watched_signals();
    // SAFETY: blocks the watched signals so that sigtimedwait receives them.
    unsafe { libc::sigprocmask(libc::SIG_BLOCK, &signals, std::ptr::null_mut()) };

    // std resets the signal mask in the child before exec.
    let child = match std::process::Command::new(program).args(args).process_group(0).spawn() {
        Ok(child) => child,
        Err(e) => {
            eprintln!("ccgate supervise: cannot start {}: {e}", program.to_string_lossy());
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
