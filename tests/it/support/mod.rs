//! The integration-test harness: a scripted model server, a real `ccgate serve`
//! process on a free port with its own data directory, keys, an HTTP client, and
//! helpers to wait for task states and read event streams.

#![allow(dead_code)] // each test file uses its own part of the harness

mod live;
mod nodes;
pub use nodes::cluster_env;
mod release;
#[allow(unused_imports)] // the benches include this harness and use neither
pub use {live::LiveEvents, release::UNTIL_RELEASED};
pub mod postgres;

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use ccgate::scripted_model::{Script, Step, embed};
use serde_json::{Value, json};

pub mod s3;

/// The real Claude Code CLI: `CCGATE_TEST_CLAUDE_BIN`, else the project-local
/// install made by `scripts/setup.sh`.
pub fn claude_bin() -> PathBuf {
    if let Some(path) = std::env::var_os("CCGATE_TEST_CLAUDE_BIN") {
        return PathBuf::from(path);
    }
    let local = repo_root().join(".tools/node_modules/@anthropic-ai/claude-code/bin/claude.exe");
    assert!(local.exists(), "Claude Code is not installed at {}: run scripts/setup.sh", local.display());
    local
}

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("gateway/ has a parent").to_path_buf()
}

/// The model API key the gateways under test hold.
pub const MODEL_KEY: &str = "sk-ant-test-dummy";

/// The scripted Messages API, served in this test process.
pub struct Model {
    pub url: String,
    task: tokio::task::JoinHandle<()>,
}

impl Model {
    pub async fn start() -> Model {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the scripted model");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let task = tokio::spawn(async move {
            // The gateway's own key: a run that reached the model with anything else
            // (its per-run proxy token, say) is refused.
            let _ = ccgate::scripted_model::serve(listener, Some(MODEL_KEY.to_string())).await;
        });
        Model { url, task }
    }

    /// A scripted model served by `router` (the scripted model's own router with
    /// layers of a benchmark's, say).
    pub async fn serve(router: axum::Router) -> Model {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind the scripted model");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, router).await;
        });
        Model { url, task }
    }
}

impl Drop for Model {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// How to start a gateway.
#[derive(Clone)]
pub struct GatewayOptions {
    pub workers: usize,
    pub env: Vec<(String, String)>,
    pub claude_bin: Option<PathBuf>,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        Self { workers: 2, env: Vec::new(), claude_bin: None }
    }
}

/// A real `ccgate serve` process.
pub struct Gateway {
    pub url: String,
    pub data: Arc<tempfile::TempDir>,
    pub http: reqwest::Client,
    pub admin_key: String,
    model_url: String,
    options: GatewayOptions,
    /// The gateway's database on the throwaway PostgreSQL (`CCGATE_TEST_BACKEND=postgres`);
    /// `None`: SQLite in its data directory.
    database: Option<postgres::TestDatabase>,
    child: Option<Child>,
    log: Arc<Mutex<Vec<String>>>,
}

impl Gateway {
    pub async fn start(model: &Model, options: GatewayOptions) -> Gateway {
        Self::start_in(model, options, Arc::new(tempfile::tempdir().expect("temp dir"))).await
    }

    /// Starts a gateway on a data directory that may already hold something (a
    /// restored one).
    pub async fn start_in(model: &Model, options: GatewayOptions, data: Arc<tempfile::TempDir>) -> Gateway {
        // reqwest here shares the gateway's TLS set-up: rustls, with the provider chosen at run time.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut gateway = Gateway {
            url: String::new(),
            data,
            http: reqwest::Client::builder().timeout(Duration::from_secs(120)).build().expect("http client"),
            admin_key: String::new(),
            model_url: model.url.clone(),
            options,
            database: postgres::selected()
                .then(|| postgres::database().expect("CCGATE_TEST_BACKEND=postgres needs PostgreSQL")),
            child: None,
            log: Arc::new(Mutex::new(Vec::new())),
        };
        gateway.admin_key = gateway.create_key(&["--name", "admin", "--scope", "admin"]);
        gateway.spawn().await;
        gateway
    }

    fn command(&self, args: &[&str]) -> Command {
        let mut command = Command::new(env!("CARGO_BIN_EXE_ccgate"));
        let claude = self.options.claude_bin.clone().unwrap_or_else(claude_bin);
        command
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("CCGATE_DATA_DIR", self.data.path())
            .env("CCGATE_LISTEN", "127.0.0.1:0")
            .env("CCGATE_CLAUDE_BIN", claude)
            .env("CCGATE_WORKERS", self.options.workers.to_string())
            .env("CCGATE_LOG_FORMAT", "json")
            .env("CCGATE_SHUTDOWN_GRACE_SECONDS", "2")
            .env("ANTHROPIC_BASE_URL", &self.model_url)
            .env("ANTHROPIC_API_KEY", MODEL_KEY)
            .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
            .env("CCGATE_CANARY_SECRET", "canary-must-not-leak")
            // The warm pool costs a CLI start-up per gateway and per task: on only in
            // its own tests and the suite's step with CCGATE_TEST_POOL=1.
            .env("CCGATE_POOL_SIZE", if std::env::var_os("CCGATE_TEST_POOL").is_some() { "2" } else { "0" });
        if let Some(database) = &self.database {
            // A node on a shared database cannot tell its own lost runs from another
            // node's and waits for their leases: short ones keep restart tests short.
            command.env("CCGATE_DATABASE_URL", &database.url).env("CCGATE_LEASE_SECONDS", "5");
        }
        for (k, v) in &self.options.env {
            command.env(k, v);
        }
        command
    }

    /// Runs `ccgate ARGS` with this gateway's environment (its data directory).
    pub fn cli(&self, args: &[&str]) -> std::process::Output {
        self.command(args).output().expect("run ccgate")
    }

    /// Runs `ccgate keys create ARGS` and returns the secret.
    pub fn create_key(&self, args: &[&str]) -> String {
        self.create_key_json(args)["secret"].as_str().expect("a secret").to_string()
    }

    /// Runs `ccgate keys create ARGS` and returns what it printed (with both secrets).
    pub fn create_key_json(&self, args: &[&str]) -> Value {
        let mut full = vec!["keys", "create"];
        full.extend_from_slice(args);
        let output = self.command(&full).output().expect("run ccgate keys create");
        assert!(output.status.success(), "keys create failed: {}", String::from_utf8_lossy(&output.stderr));
        serde_json::from_slice(&output.stdout).expect("keys create prints JSON")
    }

    async fn spawn(&mut self) {
        let mut child = self
            .command(&["serve"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start ccgate serve");
        let stderr = child.stderr.take().expect("stderr");
        let (tx, rx) = std::sync::mpsc::channel();
        let log = self.log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) = listening_on(&line) {
                    let _ = tx.send(addr);
                }
                log.lock().unwrap().push(line);
            }
        });
        let addr = tokio::task::spawn_blocking(move || rx.recv_timeout(Duration::from_secs(60)))
            .await
            .unwrap()
            .unwrap_or_else(|_| panic!("the gateway did not start; log:\n{}", self.log.lock().unwrap().join("\n")));
        self.url = format!("http://{addr}");
        self.child = Some(child);
        if self.database.is_some() {
            // A gateway that ignored CCGATE_DATABASE_URL would pass on SQLite unseen.
            let ready: Value =
                self.http.get(format!("{}/readyz", self.url)).send().await.unwrap().json().await.unwrap();
            assert_eq!(ready["checks"]["database"]["backend"], "postgres", "{ready}");
        }
    }

    /// SIGKILL: a crash, nothing is cleaned up by the gateway itself.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// SIGTERM and wait for a clean exit.
    pub fn stop(&mut self) -> std::process::ExitStatus {
        let mut child = self.child.take().expect("gateway running");
        unsafe_signal(child.id() as i32, 15);
        let started = Instant::now();
        loop {
            if let Some(status) = child.try_wait().expect("wait") {
                return status;
            }
            assert!(started.elapsed() < Duration::from_secs(60), "the gateway did not stop");
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Starts the gateway again on the same data directory.
    pub async fn restart(&mut self) {
        self.spawn().await;
    }

    /// The gateway's database, for tests that read what it stored.
    pub fn database_url(&self) -> String {
        match &self.database {
            Some(database) => database.url.clone(),
            None => format!("sqlite://{}?mode=ro", self.data.path().join("ccgate.db").display()),
        }
    }

    pub fn log(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// The value of a metric series (its name with labels, as `/metrics` writes it);
    /// 0 when it is not there.
    pub async fn metric(&self, series: &str) -> f64 {
        let text = self.http.get(format!("{}/metrics", self.url)).send().await.unwrap().text().await.unwrap();
        text.lines().find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok()).unwrap_or(0.0)
    }

    /// Waits (up to a minute) until the metric series is at least `at_least`.
    pub async fn wait_metric(&self, series: &str, at_least: f64) {
        let started = Instant::now();
        while self.metric(series).await < at_least {
            assert!(started.elapsed() < Duration::from_secs(60), "{series} never reached {at_least}:\n{}", self.log());
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.as_ref().expect("running").id()
    }

    pub fn request(&self, method: reqwest::Method, path: &str, key: &str) -> reqwest::RequestBuilder {
        self.http.request(method, format!("{}{}", self.url, path)).bearer_auth(key)
    }

    /// POST a JSON body; returns (status, body).
    pub async fn post(&self, path: &str, key: &str, body: &Value) -> (u16, Value) {
        let response = self.request(reqwest::Method::POST, path, key).json(body).send().await.expect("POST");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    pub async fn get(&self, path: &str, key: &str) -> (u16, Value) {
        let response = self.request(reqwest::Method::GET, path, key).send().await.expect("GET");
        let status = response.status().as_u16();
        (status, response.json().await.unwrap_or(Value::Null))
    }

    /// Creates a task; panics unless 202.
    pub async fn submit(&self, key: &str, body: Value) -> Value {
        let (status, task) = self.post("/v1/tasks", key, &body).await;
        assert_eq!(status, 202, "submit failed: {task}");
        task
    }

    /// Waits until the task has one of `statuses`.
    pub async fn wait_for(&self, key: &str, id: &str, statuses: &[&str], limit: Duration) -> Value {
        let started = Instant::now();
        loop {
            let (_, task) = self.get(&format!("/v1/tasks/{id}"), key).await;
            if statuses.iter().any(|s| task["status"] == *s) {
                return task;
            }
            assert!(
                started.elapsed() < limit,
                "task {id} did not reach {statuses:?}; it is {}\nlog:\n{}",
                task,
                self.log()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }

    pub async fn wait_done(&self, key: &str, id: &str) -> Value {
        self.wait_for(key, id, &["completed", "failed", "cancelled"], Duration::from_secs(90)).await
    }

    /// The whole event stream of a task (until the server ends it), as (id, type, data).
    pub async fn events(&self, key: &str, id: &str, last_event_id: Option<i64>) -> Vec<(i64, String, Value)> {
        let mut request = self.request(reqwest::Method::GET, &format!("/v1/tasks/{id}/events"), key);
        if let Some(last) = last_event_id {
            request = request.header("Last-Event-ID", last.to_string());
        }
        let mut response = request.send().await.expect("GET events");
        assert_eq!(response.status(), 200);
        let mut text = String::new();
        while let Some(chunk) = response.chunk().await.expect("event stream chunk") {
            text.push_str(&String::from_utf8_lossy(&chunk));
        }
        parse_sse(&text)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Parses an SSE body into (id, event, data).
pub fn parse_sse(text: &str) -> Vec<(i64, String, Value)> {
    let mut events = Vec::new();
    for block in text.split("\n\n") {
        let (mut id, mut event, mut data) = (None, String::new(), String::new());
        for line in block.lines() {
            if let Some(v) = line.strip_prefix("id:") {
                id = v.trim().parse().ok();
            } else if let Some(v) = line.strip_prefix("event:") {
                event = v.trim().to_string();
            } else if let Some(v) = line.strip_prefix("data:") {
                data.push_str(v.strip_prefix(' ').unwrap_or(v));
            }
        }
        if let Some(id) = id {
            events.push((id, event, serde_json::from_str(&data).unwrap_or(Value::Null)));
        }
    }
    events
}

/// A prompt carrying a script for the scripted model.
pub fn scripted(steps: Vec<Step>) -> String {
    embed(&Script::new(steps), &format!("test task {}", ccgate::ids::new_id("x")))
}

pub fn bash(command: &str) -> Step {
    Step::tool("Bash", json!({"command": command}))
}

/// A Bash step whose tool keeps running for `seconds`. Claude Code 2.1.332 refuses a
/// command that starts with a `sleep` of more than about 20 s ("Blocked: standalone
/// sleep"), so the wait comes after a first command.
pub fn busy_for(seconds: u32) -> Step {
    bash(&format!("echo busy && sleep {seconds}"))
}

pub fn say(text: &str) -> Step {
    Step::text(text)
}

pub fn task_body(steps: Vec<Step>) -> Value {
    json!({"prompt": scripted(steps)})
}

fn unsafe_signal(pid: i32, signal: i32) {
    let _ = Command::new("kill").arg(format!("-{signal}")).arg(pid.to_string()).status();
}

/// Processes whose command line contains `marker`.
pub fn processes_with(marker: &str) -> Vec<u32> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else { continue };
        let Ok(cmdline) = std::fs::read(format!("/proc/{pid}/cmdline")) else { continue };
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        let zombie = stat.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z'));
        if !zombie && String::from_utf8_lossy(&cmdline).replace('\0', " ").contains(marker) {
            found.push(pid);
        }
    }
    found
}

/// The cgroup directories whose names start with `prefix` (a run id, or a task id:
/// runs are named `<task>-<run>` where cgroups can be renamed) that exist on this
/// machine (any hierarchy).
pub fn run_cgroups(prefix: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    let mut pending = vec![(PathBuf::from("/sys/fs/cgroup"), 0)];
    while let Some((dir, depth)) = pending.pop() {
        for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
            let path = entry.path();
            if !entry.file_type().is_ok_and(|t| t.is_dir()) {
                continue;
            }
            if dir.ends_with("ccgate-runs") && entry.file_name().to_string_lossy().starts_with(prefix) {
                found.push(path);
            } else if depth < 6 {
                pending.push((path, depth + 1));
            }
        }
    }
    found
}

/// A plugin component built by `scripts/build-plugins.sh` (crate name with `_`).
pub fn plugin_wasm(file_stem: &str) -> PathBuf {
    // CARGO_BIN_EXE_ccgate is <target>/<profile>/ccgate.
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_ccgate"));
    let target = binary.parent().and_then(Path::parent).expect("the target directory");
    let wasm = target.join("wasm32-wasip2/release").join(format!("{file_stem}.wasm"));
    assert!(wasm.exists(), "{} is missing: run scripts/build-plugins.sh", wasm.display());
    wasm
}

/// The address in the gateway's "ccgate listening on http://ADDR" log line.
pub fn listening_on(line: &str) -> Option<String> {
    let at = line.find("ccgate listening on http://")?;
    let rest = &line[at + "ccgate listening on http://".len()..];
    Some(rest.chars().take_while(|c| c.is_ascii_digit() || *c == '.' || *c == ':').collect())
}

/// Runs `ccgate ARGS` with the test environment; (exit success, stdout, stderr).
pub fn ccgate(args: &[&str]) -> (bool, String, String) {
    let output = Command::new(env!("CARGO_BIN_EXE_ccgate"))
        .args(args)
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CCGATE_LOG_FORMAT", "json")
        .output()
        .expect("run ccgate");
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

/// The (path, text) entries of a `.tar.gz` archive.
pub fn tar_gz_entries(bytes: &[u8]) -> Vec<(String, String)> {
    let mut tar = tar::Archive::new(flate2::read::GzDecoder::new(bytes));
    let mut entries = Vec::new();
    for entry in tar.entries().unwrap() {
        let mut entry = entry.unwrap();
        let mut text = String::new();
        std::io::Read::read_to_string(&mut entry, &mut text).unwrap();
        entries.push((entry.path().unwrap().display().to_string(), text));
    }
    entries
}
