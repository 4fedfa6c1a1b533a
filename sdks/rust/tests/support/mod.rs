//! A live gateway for the SDK's tests, started as the Python and TypeScript SDKs'
//! tests start theirs: the real `ccgate serve` (`CCGATE_BIN`, which
//! scripts/test-sdks.sh sets) with the real Claude Code from `.tools`
//! (`CCGATE_TEST_CLAUDE_BIN` overrides it), a temporary data directory, an admin key
//! and a test key, and a webhook receiver on loopback. One gateway serves every test
//! of the binary; it stops when the tests end.

pub mod proxy;
pub mod receiver;

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

pub use receiver::Receiver;

pub struct Gateway {
    pub url: String,
    pub admin_key: String,
    pub key: String,
    pub webhook_secret: String,
    pub receiver: Receiver,
}

/// The gateway, started by the first test that asks; `None` (the test skips) only
/// when `CCGATE_BIN` is not set, as outside scripts/test-sdks.sh.
pub fn gateway() -> Option<&'static Gateway> {
    static GATEWAY: OnceLock<Option<Gateway>> = OnceLock::new();
    GATEWAY
        .get_or_init(|| {
            let bin = std::env::var_os("CCGATE_BIN").filter(|b| !b.is_empty())?;
            Some(start(PathBuf::from(bin)))
        })
        .as_ref()
}

/// The gateway, or a note that the test did not run.
#[macro_export]
macro_rules! live_gateway {
    () => {
        support::gateway().expect("set CCGATE_BIN to a ccgate binary (scripts/test-sdks.sh does)")
    };
}

fn claude_bin() -> PathBuf {
    std::env::var_os("CCGATE_TEST_CLAUDE_BIN").map(PathBuf::from).unwrap_or_else(|| {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../.tools/node_modules/@anthropic-ai/claude-code/bin/claude.exe")
    })
}

fn start(bin: PathBuf) -> Gateway {
    let receiver = Receiver::start();
    let data = tempfile::Builder::new().prefix("ccgate-sdk-rust-").tempdir().expect("a temporary directory");
    let envs: Vec<(&str, std::ffi::OsString)> = vec![
        ("PATH", std::env::var_os("PATH").unwrap_or_else(|| "/usr/bin:/bin".into())),
        ("CCGATE_DATA_DIR", data.path().into()),
        ("CCGATE_LISTEN", "127.0.0.1:0".into()),
        ("CCGATE_CLAUDE_BIN", claude_bin().into()),
        ("CCGATE_WORKERS", "2".into()),
        ("CCGATE_LOG_FORMAT", "json".into()),
        ("CCGATE_SHUTDOWN_GRACE_SECONDS", "2".into()),
        ("CCGATE_WEBHOOK_ALLOWED_HOSTS", receiver.address.clone().into()),
        // Test keys never reach the configured upstream: nothing listens here.
        ("ANTHROPIC_BASE_URL", "http://127.0.0.1:9".into()),
        ("ANTHROPIC_API_KEY", "sk-ant-unused".into()),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
    ];
    let command = |program: &std::path::Path, args: &[&std::ffi::OsStr]| {
        let mut command = Command::new(program);
        command.args(args).env_clear().envs(envs.iter().map(|(k, v)| (k, v)));
        command
    };
    let create_key = |args: &[&str]| -> serde_json::Value {
        let args: Vec<&std::ffi::OsStr> = ["keys", "create"].iter().chain(args).map(std::ffi::OsStr::new).collect();
        let output = command(&bin, &args).output().expect("ccgate keys create runs");
        assert!(output.status.success(), "ccgate keys create: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).expect("ccgate keys create prints JSON")
    };
    let admin = create_key(&["--name", "admin", "--scope", "admin"]);
    let key = create_key(&["--name", "sdk", "--test"]);

    // The gateway runs under a shell that stops it when its standard input closes:
    // when this test process exits, however it exits, the gateway goes too; then the
    // shell removes the data directory (a static is never dropped).
    let data = data.keep();
    let script = "\"$0\" serve & pid=$!; cat >/dev/null; kill -TERM $pid; wait $pid; rm -rf \"$1\"";
    let args = ["-c".as_ref(), script.as_ref(), bin.as_os_str(), data.as_os_str()];
    let mut shell = command(std::path::Path::new("sh"), &args);
    shell.stdin(Stdio::piped()).stdout(Stdio::null()).stderr(Stdio::piped());
    let mut child = shell.spawn().expect("the gateway starts");
    // Kept open for the life of the process (never closed, so never EOF before exit).
    std::mem::forget(child.stdin.take());
    let stderr = child.stderr.take().expect("stderr is piped");
    let (found, address) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut log = String::new();
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(at) = line.find("ccgate listening on http://") {
                let rest = &line[at + "ccgate listening on http://".len()..];
                let end = rest.find(|c: char| !(c.is_ascii_digit() || c == '.' || c == ':')).unwrap_or(rest.len());
                let _ = found.send(Ok(rest[..end].to_string()));
            }
            log.push_str(&line);
            log.push('\n');
        }
        let _ = found.send(Err(log));
    });
    let url = match address.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(address)) => format!("http://{address}"),
        Ok(Err(log)) => panic!("the gateway exited before listening:\n{log}"),
        Err(_) => panic!("the gateway did not listen within 60 s"),
    };
    std::mem::forget(child);
    let text = |value: &serde_json::Value, field: &str| value[field].as_str().expect(field).to_string();
    Gateway {
        url,
        admin_key: text(&admin, "secret"),
        key: text(&key, "secret"),
        webhook_secret: text(&key, "webhook_secret"),
        receiver,
    }
}

/// A prompt for the scripted model: Bash steps run in the workspace, then `answer`.
pub fn script(title: &str, commands: &[&str], answer: &str) -> String {
    let mut steps: Vec<serde_json::Value> =
        commands.iter().map(|command| serde_json::json!({"tool": "Bash", "input": {"command": command}})).collect();
    steps.push(serde_json::json!({ "text": answer }));
    format!("{title}\n\n```ccgate-script\n{}\n```", serde_json::json!({ "steps": steps }))
}
