//! Runs a page's examples one after another as a reader would in one terminal: each
//! block in `bash` with `set -euo pipefail`, the variables of the blocks before it
//! kept, in a working directory whose `data` is the gateway's data directory.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// One terminal's state: its directory and the processes its blocks started.
pub struct Shell {
    pub dir: tempfile::TempDir,
    env: Vec<(String, String)>,
    /// Process groups of the blocks, whose background jobs (a webhook receiver) are
    /// ended with the shell.
    groups: Vec<u32>,
}

/// What one block did.
pub struct Ran {
    pub ok: bool,
    pub stdout: String,
    pub stderr: String,
}

impl Shell {
    /// A terminal in a fresh directory holding `data` (a link to `data_dir`).
    pub fn new(data_dir: &Path, env: Vec<(String, String)>) -> Shell {
        let dir = tempfile::tempdir().expect("temp dir");
        std::os::unix::fs::symlink(data_dir, dir.path().join("data")).expect("link data");
        Shell { dir, env, groups: Vec::new() }
    }

    /// Runs `script` after the variables the blocks before it left; at most `limit`.
    pub fn run(&mut self, script: &str, limit: std::time::Duration) -> Ran {
        let dir = self.dir.path();
        std::fs::write(dir.join("block.sh"), script).expect("write block.sh");
        // `set -a` exports every variable a block assigns, so `export -p` keeps them.
        let wrapper = "set -a; [ -f .vars.sh ] && . ./.vars.sh; set -euo pipefail; . ./block.sh; export -p > .vars.sh";
        let mut command = Command::new("timeout");
        command
            .arg(limit.as_secs().to_string())
            .args(["bash", "-c", wrapper])
            .current_dir(dir)
            .env_clear()
            .envs(self.env.iter().cloned())
            .stdin(Stdio::null());
        std::os::unix::process::CommandExt::process_group(&mut command, 0);
        let child = command.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().expect("run bash");
        self.groups.push(child.id());
        let output = child.wait_with_output().expect("wait for bash");
        Ran {
            ok: output.status.success(),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        }
    }
}

impl Drop for Shell {
    fn drop(&mut self) {
        for group in &self.groups {
            let _ = Command::new("kill").arg("--").arg(format!("-{group}")).stderr(Stdio::null()).status();
        }
    }
}

/// `PATH` with the `ccgate` under test first, so examples can call `ccgate`.
pub fn path_with_ccgate() -> String {
    let bin = PathBuf::from(env!("CARGO_BIN_EXE_ccgate"));
    let dir = bin.parent().expect("the binary's directory");
    format!("{}:{}", dir.display(), std::env::var("PATH").unwrap_or_default())
}
