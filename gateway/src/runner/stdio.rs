//! Claude Code's standard streams as Unix socket pairs, not pipes.
//!
//! Every process of a run (the agent's Bash tool included) runs as the same user
//! as the CLI, in its PID namespace: a pipe of the CLI can be reopened through
//! `/proc/<pid>/fd/1` and forged lines written into what the gateway reads as the
//! run's output. Opening a socket through `/proc` fails (`ENXIO`), so with sockets
//! only the CLI itself (and what inherits its descriptors) writes there.

use std::os::fd::OwnedFd;
use std::process::Stdio;

use tokio::net::UnixStream;

/// The child's ends, to give to the command.
pub struct ChildStdio {
    pub stdin: Stdio,
    pub stdout: Stdio,
    pub stderr: Stdio,
}

/// The gateway's ends: it writes the prompt to `stdin` and reads the other two.
pub struct GatewayStdio {
    pub stdin: UnixStream,
    pub stdout: UnixStream,
    pub stderr: UnixStream,
}

/// Three connected socket pairs.
pub fn socket_stdio() -> std::io::Result<(ChildStdio, GatewayStdio)> {
    let (stdin, gateway_stdin) = pair()?;
    let (stdout, gateway_stdout) = pair()?;
    let (stderr, gateway_stderr) = pair()?;
    Ok((
        ChildStdio { stdin, stdout, stderr },
        GatewayStdio { stdin: gateway_stdin, stdout: gateway_stdout, stderr: gateway_stderr },
    ))
}

/// Writes `bytes` to `stream` now, through its descriptor: the runtime's `try_write`
/// answers "would block" until its reactor has seen the socket writable, which a
/// socket made a moment ago may not have been. For a few KiB into a socket nobody
/// has written to yet: they fit its buffer.
pub fn write_now(stream: &UnixStream, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    use std::os::fd::AsFd;
    let fd = stream.as_fd().try_clone_to_owned()?;
    std::fs::File::from(fd).write_all(bytes)
}

fn pair() -> std::io::Result<(Stdio, UnixStream)> {
    // Both ends are close-on-exec; the command's dup onto 0, 1 or 2 is not.
    let (gateway, child) = std::os::unix::net::UnixStream::pair()?;
    gateway.set_nonblocking(true)?;
    Ok((Stdio::from(OwnedFd::from(child)), UnixStream::from_std(gateway)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::AsyncReadExt;

    #[tokio::test]
    async fn a_child_writes_to_the_socket_and_proc_cannot_reopen_it() {
        let (child, mut gateway) = socket_stdio().unwrap();
        let mut command = tokio::process::Command::new("sh");
        command
            .arg("-c")
            .arg("echo hello; if echo forged > /proc/$$/fd/1; then echo REOPENED; fi")
            .stdin(child.stdin)
            .stdout(child.stdout)
            .stderr(child.stderr);
        let status = command.spawn().unwrap().wait().await.unwrap();
        drop(command); // closes the command's copies, so that the read ends
        assert!(status.success());
        let mut out = String::new();
        gateway.stdout.read_to_string(&mut out).await.unwrap();
        assert_eq!(out, "hello\n", "the reopen must fail");
    }
}
