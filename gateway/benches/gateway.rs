//! Gateway benchmarks: `cargo bench --bench gateway`.
//!
//! 1. End-to-end: one scripted task (a Bash step, then a text answer) through
//!    `POST /v1/execute`, on a gateway without the warm pool and on one with it,
//!    against the same script run by spawning Claude Code directly, in its fastest
//!    form (`claude -p --bare`, the prompt on stdin) and with the flags and
//!    environment the gateway uses. Runs alternate (bare, with the gateway's flags,
//!    gateway, gateway with the pool, …) after warm-up runs of each; each begins
//!    once the pool's next process has started (an idle gateway). The scripted
//!    model notes when each gateway task's first model request arrives.
//! 2. Submit latency: `POST /v1/tasks` at a fixed rate, open loop (each request is
//!    sent at its scheduled time whatever happened to the earlier ones, and its
//!    latency counts from that time), while the key's only run slot is held by a
//!    sleeping task, so the submitted tasks stay queued and only the HTTP, auth,
//!    validation and database path is measured.
//!
//! 3. Memory with a deep queue: `BENCH_QUEUED` tasks (default 100,000) submitted to
//!    a node that claims nothing, the gateway's resident memory read as the queue
//!    grows and after the reads that touch the whole queue (list, filters, metrics).
//! 4. Idle followers: `BENCH_FOLLOWERS` SSE streams (default 1,000) of one running
//!    task that prints nothing for a while: the gateway's CPU time over 10 s and its
//!    memory, then how fast every stream ends when the task is cancelled.
//!
//! 5. Nodes on PostgreSQL: how soon a task submitted to an API-only node runs on
//!    an idle worker node (`BENCH_PICKUPS`, default 30), and how many queued tasks
//!    three worker nodes drain per second (`BENCH_DRAINED`, default 120).
//!
//! Prints a markdown report (with the commit, the Claude Code version and the
//! sandbox of the gateways measured) and writes it to `bench-report.md` in the
//! target directory (`target/bench-report.md`).
//! `BENCH_RUNS` (default 20), `BENCH_SUBMIT_RATE` (default 500 per second) and
//! `BENCH_SUBMIT_SECONDS` (default 10) change the amount of work, `BENCH_WORKERS`
//! (default 2) the gateway's workers, `BENCH_ONLY=e2e,submit,queue,followers,cluster` (any of them)
//! runs those parts. `BENCH_FAIL_FACTOR=F` exits non-zero when a figure is past F
//! times its goal (`goals`).

#[path = "gateway/cluster.rs"]
mod cluster;
#[path = "gateway/followers.rs"]
mod followers;
#[path = "gateway/goals.rs"]
mod goals;
#[path = "gateway/process.rs"]
mod process;
#[path = "../../tests/it/support/mod.rs"]
mod support;

use std::fmt::Write as _;
use std::io::{BufRead, BufReader, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ccgate::approvals::{Decision, PermissionPrompt, control_response};
use goals::Figure;
use serde_json::{Value, json};
use support::{Gateway, GatewayOptions, Model, bash, say, scripted};

const WARMUP_RUNS: usize = 2;
/// The flags the gateway gives Claude Code for a task with default options.
fn claude_flags() -> Vec<String> {
    let defaults = ccgate::config::Config::default();
    let task = ccgate::task::parse_new_task(&json!({"prompt": "x"}), &defaults.tasks, false).expect("a valid request");
    let input = ccgate::runner::TurnInput { options: &task.options, resume_session: None };
    ccgate::runner::claude_args(&input, &defaults.claude)
}
/// The PATH the gateway gives runs by default (`claude.path`).
fn run_path() -> String {
    ccgate::config::ClaudeConfig::default().path
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let factor = goals::fail_factor();
    let (mut report, figures) = runtime.block_on(run_all());
    report.push_str(&goals::to_markdown(&figures, factor));
    println!("{report}");
    // CARGO_BIN_EXE_ccgate is <target>/<profile>/ccgate: the report goes to <target>.
    let binary = Path::new(env!("CARGO_BIN_EXE_ccgate"));
    let path = binary.parent().and_then(Path::parent).unwrap_or(binary).join("bench-report.md");
    match std::fs::write(&path, &report) {
        Ok(()) => eprintln!("report written to {}", path.display()),
        Err(e) => eprintln!("could not write {}: {e}", path.display()),
    }
    let Some(factor) = factor else { return };
    let failed = goals::regressions(&figures, factor);
    if !failed.is_empty() {
        eprintln!("\nBENCHMARK REGRESSION: {} figure(s) past {factor}× their goal:", failed.len());
        for line in &failed {
            eprintln!("  - {line}");
        }
        std::process::exit(1);
    }
}

async fn run_all() -> (String, Vec<Figure>) {
    let runs = env_number("BENCH_RUNS", 20);
    let rate = env_number("BENCH_SUBMIT_RATE", 500);
    let seconds = env_number("BENCH_SUBMIT_SECONDS", 10);
    let workers = env_number("BENCH_WORKERS", 2);
    let mut report = String::from("# ccgate benchmarks\n\n");
    report.push_str(&machine_section());

    let only = std::env::var("BENCH_ONLY").unwrap_or_default();
    let wanted = |part: &str| only.is_empty() || only.split(',').any(|p| p.trim() == part);
    let model = Model::start().await;
    let mut figures = Vec::new();
    if wanted("e2e") {
        eprintln!("end-to-end: {WARMUP_RUNS} warm-up + {runs} runs each, two direct forms and the gateway");
        let e2e = end_to_end(runs).await;
        report.push_str(&e2e.to_markdown());
        figures.extend(e2e.figures());
    }
    if wanted("submit") {
        eprintln!("submit latency: {rate} requests/s for {seconds} s, {workers} workers");
        let submit = submit_latency(&model, rate, Duration::from_secs(seconds as u64), workers).await;
        report.push_str(&submit.to_markdown());
        figures.extend(submit.figures());
    }
    if wanted("queue") {
        let queued = env_number("BENCH_QUEUED", 100_000);
        eprintln!("memory with a deep queue: {queued} queued tasks");
        let memory = queued_memory(&model, queued).await;
        report.push_str(&memory.to_markdown());
        figures.push(memory.figure());
    }
    if wanted("followers") {
        let followers = env_number("BENCH_FOLLOWERS", 1_000);
        eprintln!("idle followers: {followers} SSE streams of one quiet task");
        let idle = followers::idle_followers(&model, followers).await;
        report.push_str(&idle.to_markdown());
        figures.extend(idle.figures());
    }
    if wanted("cluster") {
        let (pickups, drained) = (env_number("BENCH_PICKUPS", 30), env_number("BENCH_DRAINED", 120));
        eprintln!("nodes on PostgreSQL: {pickups} pickups across nodes, {drained} queued tasks drained by 3 nodes");
        match cluster::cluster(&model, pickups, drained).await {
            Some(cluster) => {
                report.push_str(&cluster.to_markdown());
                figures.extend(cluster.figures());
            }
            None => report.push_str(
                "## Nodes on PostgreSQL

Not run: PostgreSQL is not installed here.

",
            ),
        }
    }
    (report, figures)
}

fn env_number(name: &str, default: usize) -> usize {
    match std::env::var(name) {
        Ok(v) => v.trim().parse().unwrap_or_else(|_| panic!("{name} must be a whole number, not {v:?}")),
        Err(_) => default,
    }
}

// ---------------------------------------------------------------------------
// The machine

fn machine_section() -> String {
    let cores = std::thread::available_parallelism().map_or(0, |n| n.get());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|info| {
            info.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split_once(':'))
                .map(|(_, v)| v.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into());
    let kernel =
        std::fs::read_to_string("/proc/sys/kernel/osrelease").map(|s| s.trim().to_string()).unwrap_or_default();
    let gateway_bin = env!("CARGO_BIN_EXE_ccgate");
    let build = if gateway_bin.contains("/release/") { "optimized (release/bench profile)" } else { "NOT optimized" };
    let mut out = String::from("## Machine\n\n| | |\n| --- | --- |\n");
    let _ = writeln!(out, "| CPU | {cpu} |");
    let _ = writeln!(out, "| cores (nproc) | {cores} |");
    let _ = writeln!(out, "| Linux | {kernel} |");
    let _ = writeln!(out, "| Claude Code | {} |", claude_version());
    let _ = writeln!(out, "| ccgate commit | {} |", commit());
    let _ = writeln!(out, "| ccgate binary | `{gateway_bin}`, {build} |");
    out.push('\n');
    out
}

/// The checked-out commit, and whether the tree differs from it.
fn commit() -> String {
    let git = |args: &[&str]| {
        Command::new("git")
            .args(args)
            .current_dir(support::repo_root())
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
    };
    match (git(&["rev-parse", "--short=12", "HEAD"]), git(&["status", "--porcelain", "--untracked-files=no"])) {
        (Some(head), Some(changes)) if changes.is_empty() => format!("`{head}`"),
        (Some(head), _) => format!("`{head}` with uncommitted changes"),
        (None, _) => "unknown (not a git checkout)".into(),
    }
}

/// The sandbox a gateway reports in `/readyz`: its confinement and layers.
async fn sandbox_of(gateway: &Gateway) -> String {
    let (_, ready) = gateway.get("/readyz", "").await;
    let sandbox = &ready["checks"]["sandbox"];
    let layers: Vec<&str> = sandbox["layers"].as_array().into_iter().flatten().filter_map(Value::as_str).collect();
    format!("{} ({})", sandbox["confinement"].as_str().unwrap_or("unknown"), layers.join(", "))
}

fn claude_version() -> String {
    let home = tempfile::tempdir().expect("temp dir");
    let output = Command::new(support::claude_bin())
        .arg("--version")
        .env_clear()
        .env("PATH", run_path())
        .env("HOME", home.path())
        .env("CLAUDE_CONFIG_DIR", home.path().join(".claude"))
        .env("DISABLE_AUTOUPDATER", "1")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .stdin(Stdio::null())
        .output();
    match output {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        Ok(o) => format!("unknown (exit {:?})", o.status.code()),
        Err(e) => format!("unknown ({e})"),
    }
}

// ---------------------------------------------------------------------------
// 1. End to end

fn e2e_steps() -> Vec<ccgate::scripted_model::Step> {
    vec![bash("echo hi > a.txt"), say("done")]
}

struct EndToEnd {
    runs: usize,
    /// `claude -p --bare`, the prompt on stdin: the CLI in its fastest form.
    bare: Vec<Duration>,
    /// Claude Code with the gateway's flags and environment, without the gateway.
    direct: Vec<Duration>,
    /// Through a gateway without the warm pool.
    gateway: Vec<GatewayRun>,
    /// Through a gateway whose first turns take warm processes.
    warm: Vec<GatewayRun>,
    sandbox: String,
}

/// When the model first saw each benchmark task's prompt (microseconds since the
/// epoch), by the task's marker.
type FirstSeen = std::sync::Arc<std::sync::Mutex<std::collections::HashMap<String, i64>>>;

/// What a benchmark task's prompt starts with, then a number.
const MARKER: &str = "bench-marker-";

fn now_us() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_micros() as i64)
}

/// The scripted model, noting when the first request of each marked prompt arrives.
async fn recording_model() -> (Model, FirstSeen) {
    let seen = FirstSeen::default();
    let record = seen.clone();
    let router = ccgate::scripted_model::router(Some(support::MODEL_KEY.to_string())).layer(axum::middleware::from_fn(
        move |request: axum::extract::Request, next: axum::middleware::Next| {
            let record = record.clone();
            async move {
                let at = now_us();
                let (parts, body) = request.into_parts();
                let bytes = axum::body::to_bytes(body, 64 << 20).await.unwrap_or_default();
                if let Some(marker) = marker_in(&bytes) {
                    record.lock().expect("first-seen map").entry(marker).or_insert(at);
                }
                next.run(axum::extract::Request::from_parts(parts, axum::body::Body::from(bytes))).await
            }
        },
    ));
    (Model::serve(router).await, seen)
}

fn marker_in(body: &[u8]) -> Option<String> {
    let start = body.windows(MARKER.len()).position(|w| w == MARKER.as_bytes())? + MARKER.len();
    let digits: String = body[start..].iter().take_while(|b| b.is_ascii_digit()).map(|b| *b as char).collect();
    (!digits.is_empty()).then(|| format!("{MARKER}{digits}"))
}

/// Waits until the gateway's warm pool has a process ready to take (its CLI started
/// and warmed up: `ccgate_pool_ready`), and a moment more for the machine to settle.
async fn wait_for_warm(gateway: &Gateway) {
    gateway.wait_metric("ccgate_pool_ready", 1.0).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
}

/// How the benchmark starts Claude Code itself.
#[derive(Clone, Copy)]
enum Direct {
    /// `-p --bare --allowedTools Bash` (the task's one tool), the prompt as text on
    /// stdin, stdin closed at once.
    Bare,
    /// The gateway's flags; the prompt as a stream-json line, permission prompts
    /// answered on stdin, stdin closed once the `result` line is in.
    GatewayFlags,
}

impl Direct {
    fn args(self) -> Vec<String> {
        match self {
            Self::Bare => ["-p", "--bare", "--allowedTools", "Bash"].map(String::from).to_vec(),
            Self::GatewayFlags => claude_flags(),
        }
    }
}

async fn end_to_end(runs: usize) -> EndToEnd {
    let (model, seen) = recording_model().await;
    let pool = |size: &str| GatewayOptions {
        env: vec![("CCGATE_POOL_SIZE".into(), size.into())],
        ..GatewayOptions::default()
    };
    let cold = Gateway::start(&model, pool("0")).await;
    let warm = Gateway::start(&model, pool("1")).await;
    let key_args = ["--name", "bench-e2e", "--rate-limit", "1000000", "--max-queued", "1000000"];
    let (cold_key, warm_key) = (cold.create_key(&key_args), warm.create_key(&key_args));
    let sandbox = sandbox_of(&cold).await;
    let mut result =
        EndToEnd { runs, bare: Vec::new(), direct: Vec::new(), gateway: Vec::new(), warm: Vec::new(), sandbox };
    for i in 0..WARMUP_RUNS + runs {
        wait_for_warm(&warm).await;
        let bare = direct_run(&model, Direct::Bare).await;
        let direct = direct_run(&model, Direct::GatewayFlags).await;
        let through_gateway = run_gateway(&cold, &cold_key, &seen, 2 * i).await;
        wait_for_warm(&warm).await;
        let through_warm = run_gateway(&warm, &warm_key, &seen, 2 * i + 1).await;
        eprintln!(
            "  {} {:>2}: bare {:>6.1} ms, direct {:>6.1} ms, gateway {:>6.1} ms, with the pool {:>6.1} ms",
            if i < WARMUP_RUNS { "warm-up" } else { "run    " },
            i + 1,
            ms(bare),
            ms(direct),
            ms(through_gateway.total),
            ms(through_warm.total)
        );
        if i >= WARMUP_RUNS {
            result.bare.push(bare);
            result.direct.push(direct);
            result.gateway.push(through_gateway);
            result.warm.push(through_warm);
        }
    }
    // Stopped now rather than dropped later: their warm processes and spare
    // supervisors end (a CLI takes a while to tear down) before the next part measures.
    let stopped = tokio::task::spawn_blocking(move || {
        let (mut cold, mut warm) = (cold, warm);
        (cold.stop(), warm.stop())
    });
    let _ = stopped.await;
    tokio::time::sleep(Duration::from_secs(1)).await;
    result
}

async fn direct_run(model: &Model, form: Direct) -> Duration {
    let (claude, model_url) = (support::claude_bin(), model.url.clone());
    tokio::task::spawn_blocking(move || run_direct(&claude, &model_url, form)).await.expect("direct run")
}

/// Claude Code run without the gateway: fresh home/config/tmp directories, a clean
/// environment as the gateway gives runs, the prompt on stdin in `form`. Timed from
/// before the directories are made until the process has exited.
fn run_direct(claude: &Path, model_url: &str, form: Direct) -> Duration {
    let root = tempfile::tempdir().expect("temp dir");
    let started = Instant::now();
    let dirs = RunDirs::create(root.path());
    let mut child = Command::new(claude)
        .args(form.args())
        .current_dir(&dirs.workspace)
        .env_clear()
        .env("PATH", run_path())
        .env("HOME", &dirs.home)
        .env("CLAUDE_CONFIG_DIR", &dirs.config)
        .env("TMPDIR", &dirs.tmp)
        .env("LANG", "C.UTF-8")
        .env("DISABLE_AUTOUPDATER", "1")
        .env("ANTHROPIC_BASE_URL", model_url)
        .env("ANTHROPIC_API_KEY", "sk-ant-test-dummy")
        .env("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start Claude Code");
    let mut stdin = child.stdin.take();
    let prompt = scripted(e2e_steps());
    let mut line = match form {
        Direct::Bare => prompt,
        Direct::GatewayFlags => json!({"type": "user", "message": {"role": "user", "content": prompt}}).to_string(),
    };
    line.push('\n');
    let input = stdin.as_mut().expect("stdin");
    input.write_all(line.as_bytes()).and_then(|()| input.flush()).expect("send the prompt");
    if matches!(form, Direct::Bare) {
        stdin = None;
    }
    let mut answer: Option<String> = None;
    for line in BufReader::new(child.stdout.take().expect("stdout")).lines() {
        let line = line.expect("read stdout");
        match form {
            Direct::Bare => answer.get_or_insert_with(String::new).push_str(&line),
            Direct::GatewayFlags => {
                let Ok(value) = serde_json::from_str::<Value>(&line) else { continue };
                if let Some(prompt) = value.as_object().and_then(PermissionPrompt::parse) {
                    // The gateway's default rules allow this call; answer on stdin as it does.
                    let reply = control_response(&prompt, &Decision::Allow, None);
                    let input = stdin.as_mut().expect("stdin is open while the turn runs");
                    input.write_all(reply.as_bytes()).and_then(|()| input.flush()).expect("answer the prompt");
                } else if answer.is_none() && value["type"] == "result" {
                    assert_eq!(value["subtype"], "success", "direct run failed: {value}");
                    answer = value["result"].as_str().map(String::from);
                    stdin = None; // closing stdin lets the CLI exit
                }
            }
        }
    }
    drop(stdin);
    let status = child.wait().expect("wait for Claude Code");
    let elapsed = started.elapsed();
    let answer = answer.expect("Claude Code printed no result");
    assert!(status.success() && answer.trim() == "done", "direct run failed ({status}): {answer}");
    let written = std::fs::read_to_string(dirs.workspace.join("a.txt")).unwrap_or_default();
    assert_eq!(written.trim(), "hi", "the direct run did not write a.txt");
    elapsed
}

struct RunDirs {
    workspace: PathBuf,
    home: PathBuf,
    config: PathBuf,
    tmp: PathBuf,
}

impl RunDirs {
    fn create(root: &Path) -> Self {
        let dirs = Self {
            workspace: root.join("workspace"),
            home: root.join("state/home"),
            config: root.join("state/home/.claude"),
            tmp: root.join("state/tmp"),
        };
        for dir in [&dirs.workspace, &dirs.home, &dirs.config, &dirs.tmp] {
            std::fs::create_dir_all(dir).expect("create run directories");
        }
        dirs
    }
}

/// One run through the gateway: the wall time, and where it went according to the
/// task's own timestamps (milliseconds, wall clock).
struct GatewayRun {
    total: Duration,
    /// Request sent → task stored (`created_at`).
    submit_ms: f64,
    /// Stored → claimed by a worker (`started_at`).
    queued_ms: f64,
    /// Claimed → finished (`finished_at`): supervisor, Claude Code, events, outcome.
    run_ms: f64,
    /// Finished → answer received.
    answer_ms: f64,
    /// Request sent → the model's first request for the task.
    first_request_ms: f64,
}

/// `POST /v1/execute`, timed from just before the request until the 200 answer's body is in.
async fn run_gateway(gateway: &Gateway, key: &str, seen: &FirstSeen, n: usize) -> GatewayRun {
    let marker = format!("{MARKER}{n}");
    let prompt = ccgate::scripted_model::embed(&ccgate::scripted_model::Script::new(e2e_steps()), &marker);
    let body = json!({"prompt": prompt, "wait_seconds": 120});
    let sent_us = now_us();
    let sent_at = ccgate::timestamp::now_ms();
    let started = Instant::now();
    let response =
        gateway.request(reqwest::Method::POST, "/v1/execute", key).json(&body).send().await.expect("POST /v1/execute");
    let status = response.status().as_u16();
    let task: Value = response.json().await.unwrap_or(Value::Null);
    let total = started.elapsed();
    let answered_at = ccgate::timestamp::now_ms();
    assert!(status == 200 && task["status"] == "completed", "execute answered {status}: {task}");
    let id = task["id"].as_str().expect("task id");
    let written = std::fs::read_to_string(gateway.data.path().join("tasks").join(id).join("workspace/a.txt"));
    assert_eq!(written.unwrap_or_default().trim(), "hi", "the gateway run did not write a.txt");
    let at = |field: &str| {
        task[field].as_str().and_then(ccgate::timestamp::parse_rfc3339).unwrap_or_else(|| panic!("task {field}"))
    };
    let (created, claimed, finished) = (at("created_at"), at("started_at"), at("finished_at"));
    let first_request = seen.lock().expect("first-seen map").get(&marker).copied().expect("the model saw the task");
    GatewayRun {
        first_request_ms: (first_request - sent_us) as f64 / 1000.0,
        total,
        submit_ms: (created - sent_at) as f64,
        queued_ms: (claimed - created) as f64,
        run_ms: (finished - claimed) as f64,
        answer_ms: (answered_at - finished) as f64,
    }
}

/// Goals of the overhead at the median over Claude Code run with the gateway's flags,
/// for a cold start in the full sandbox (bubblewrap, seccomp, cgroup, model proxy):
/// about 90 ms / 13 % measured on a quiet 2-core machine.
const OVERHEAD_GOAL_MS: f64 = 100.0;
const OVERHEAD_GOAL_PERCENT: f64 = 15.0;
/// A task submitted to an idle gateway with the warm pool finishes sooner than the
/// bare CLI run by hand; without the pool, at most 5 % later.
const WARM_RATIO_GOAL: f64 = 1.0;
const COLD_RATIO_GOAL: f64 = 1.05;
/// Submit → the model's first request with a warm process waiting.
const FIRST_REQUEST_GOAL_MS: f64 = 50.0;

impl EndToEnd {
    fn totals(&self) -> Vec<Duration> {
        self.gateway.iter().map(|g| g.total).collect()
    }

    /// (absolute ms, percent) of the gateway's median over the direct run's.
    fn overhead(&self) -> (f64, f64) {
        let (direct, gateway) = (Summary::of(&self.direct).p50, Summary::of(&self.totals()).p50);
        (gateway - direct, 100.0 * (gateway - direct) / direct)
    }

    fn warm_totals(&self) -> Vec<Duration> {
        self.warm.iter().map(|g| g.total).collect()
    }

    /// The median of `runs` over the bare CLI's median.
    fn ratio_to_bare(&self, runs: &[Duration]) -> f64 {
        Summary::of(runs).p50 / Summary::of(&self.bare).p50
    }

    fn first_request_p50(runs: &[GatewayRun]) -> f64 {
        percentile(&runs.iter().map(|g| g.first_request_ms).collect::<Vec<_>>(), 0.5)
    }

    fn figures(&self) -> Vec<Figure> {
        let (absolute, percent) = self.overhead();
        vec![
            Figure { name: "end-to-end overhead at the median", value: absolute, goal: OVERHEAD_GOAL_MS, unit: "ms" },
            Figure {
                name: "end-to-end overhead at the median, relative",
                value: percent,
                goal: OVERHEAD_GOAL_PERCENT,
                unit: "%",
            },
            Figure {
                name: "end to end over the bare CLI, warm pool (median ratio)",
                value: self.ratio_to_bare(&self.warm_totals()),
                goal: WARM_RATIO_GOAL,
                unit: "×",
            },
            Figure {
                name: "end to end over the bare CLI, no pool (median ratio)",
                value: self.ratio_to_bare(&self.totals()),
                goal: COLD_RATIO_GOAL,
                unit: "×",
            },
            Figure {
                name: "submit → first model request, warm pool (p50)",
                value: Self::first_request_p50(&self.warm),
                goal: FIRST_REQUEST_GOAL_MS,
                unit: "ms",
            },
        ]
    }

    fn to_markdown(&self) -> String {
        let bare = Summary::of(&self.bare);
        let direct = Summary::of(&self.direct);
        let gateway = Summary::of(&self.totals());
        let warm = Summary::of(&self.warm_totals());
        let (overhead, percent) = self.overhead();
        let paired: Vec<f64> = self.direct.iter().zip(&self.gateway).map(|(d, g)| ms(g.total) - ms(*d)).collect();
        let paired_median = percentile(&paired, 0.5);
        let mut out = String::from("## End to end: one scripted task (Bash `echo hi > a.txt`, then `done`)\n\n");
        let _ = writeln!(
            out,
            "{} runs of each after {WARMUP_RUNS} warm-up runs, alternating. Bare: `claude -p --bare --allowedTools \
             Bash`, the prompt as text on stdin (the CLI in its fastest form). Gateway's flags: Claude Code spawned \
             with the flags and environment the gateway gives it (`{}`), without the gateway, its permission \
             prompts answered on stdin. Both timed until the process exits. Gateway: `POST /v1/execute`, timed \
             until the 200 answer; its sandbox: {}.\n",
            self.runs,
            claude_flags().join(" "),
            self.sandbox
        );
        out.push_str("| | median | p90 | min | max |\n| --- | ---: | ---: | ---: | ---: |\n");
        for (name, s) in [
            ("Claude Code bare (`-p --bare`)", &bare),
            ("Claude Code with the gateway's flags", &direct),
            ("through the gateway, no pool", &gateway),
            ("through the gateway, warm pool", &warm),
        ] {
            let _ = writeln!(out, "| {name} | {:.1} ms | {:.1} ms | {:.1} ms | {:.1} ms |", s.p50, s.p90, s.min, s.max);
        }
        out.push('\n');
        out.push_str("| at the median | value | goal | |\n| --- | ---: | ---: | --- |\n");
        let _ = writeln!(
            out,
            "| overhead: gateway − gateway's flags | {overhead:.1} ms | ≤ {OVERHEAD_GOAL_MS} ms | {} |",
            verdict(overhead <= OVERHEAD_GOAL_MS)
        );
        let _ = writeln!(
            out,
            "| overhead, relative | {percent:.1} % | ≤ {OVERHEAD_GOAL_PERCENT} % | {} |",
            verdict(percent <= OVERHEAD_GOAL_PERCENT)
        );
        let _ =
            writeln!(out, "| median of per-pair differences (gateway − gateway's flags) | {paired_median:.1} ms | | |");
        let _ = writeln!(out, "| the gateway's flags − bare | {:.1} ms | | |", direct.p50 - bare.p50);
        let _ = writeln!(out, "| gateway − bare | {:.1} ms | | |", gateway.p50 - bare.p50);
        let (warm_ratio, cold_ratio) = (self.ratio_to_bare(&self.warm_totals()), self.ratio_to_bare(&self.totals()));
        let _ = writeln!(
            out,
            "| gateway with the warm pool ÷ bare | {warm_ratio:.2}× | < {WARM_RATIO_GOAL}× | {} |",
            verdict(warm_ratio < WARM_RATIO_GOAL)
        );
        let _ = writeln!(
            out,
            "| gateway without the pool ÷ bare | {cold_ratio:.2}× | ≤ {COLD_RATIO_GOAL}× | {} |",
            verdict(cold_ratio <= COLD_RATIO_GOAL)
        );
        let (warm_first, cold_first) = (Self::first_request_p50(&self.warm), Self::first_request_p50(&self.gateway));
        let _ = writeln!(
            out,
            "| submit → first model request, warm pool | {warm_first:.1} ms | < {FIRST_REQUEST_GOAL_MS} ms | {} |",
            verdict(warm_first < FIRST_REQUEST_GOAL_MS)
        );
        let _ = writeln!(out, "| submit → first model request, no pool | {cold_first:.1} ms | | |");
        out.push('\n');
        out.push_str(
            "Where a gateway run's time goes (medians, from the task's millisecond timestamps):\n\n\
             | gateway | request → stored | stored → claimed | claimed → finished (the run) | finished → answer |\n\
             | --- | ---: | ---: | ---: | ---: |\n",
        );
        for (name, runs) in [("no pool", &self.gateway), ("warm pool", &self.warm)] {
            let part = |f: fn(&GatewayRun) -> f64| percentile(&runs.iter().map(f).collect::<Vec<_>>(), 0.5);
            let _ = writeln!(
                out,
                "| {name} | {:.0} ms | {:.0} ms | {:.0} ms | {:.0} ms |",
                part(|g| g.submit_ms),
                part(|g| g.queued_ms),
                part(|g| g.run_ms),
                part(|g| g.answer_ms)
            );
        }
        out.push('\n');
        out
    }
}

// ---------------------------------------------------------------------------
// 2. Submit latency

struct SubmitLatency {
    rate: usize,
    planned: usize,
    duration: Duration,
    workers: usize,
    /// (second of the schedule the request belongs to, latency) of every 202.
    latencies: Vec<(usize, Duration)>,
    errors: usize,
    error_sample: Option<String>,
    achieved_rate: f64,
    running_after: usize,
    sandbox: String,
    /// CPU time the gateway used from the first request to the last answer, s.
    cpu_seconds: f64,
}

enum Answer {
    Accepted(Duration),
    Refused(String),
}

async fn submit_latency(model: &Model, rate: usize, duration: Duration, workers: usize) -> SubmitLatency {
    // One address stands in for many clients: let it have as many connections as
    // the node takes (its own cap would refuse the load generator, not a client).
    let config = tempfile::NamedTempFile::new().expect("config file");
    std::fs::write(config.path(), "[http]\nmax_connections_per_address = 4096\n").expect("write config");
    let env = vec![("CCGATE_CONFIG".to_string(), config.path().display().to_string())];
    let gateway = Gateway::start(model, GatewayOptions { workers, env, ..GatewayOptions::default() }).await;
    let key = gateway.create_key(&[
        "--name",
        "bench",
        "--rate-limit",
        "1000000",
        "--max-queued",
        "1000000",
        "--max-concurrent",
        "1",
    ]);
    // Hold the key's only run slot with a task that sleeps; wait until its Bash runs,
    // so Claude Code's start-up is over before the measurement begins.
    let blocker =
        gateway.submit(&key, json!({"prompt": scripted(vec![bash("touch started && sleep 600"), say("done")])})).await;
    let blocker_id = blocker["id"].as_str().expect("task id").to_string();
    let marker = gateway.data.path().join("tasks").join(&blocker_id).join("workspace/started");
    let waiting = Instant::now();
    while !marker.exists() {
        assert!(waiting.elapsed() < Duration::from_secs(60), "the blocker task did not start:\n{}", gateway.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tokio::time::sleep(Duration::from_secs(1)).await;

    let client = reqwest::Client::builder()
        .pool_max_idle_per_host(4096)
        .timeout(Duration::from_secs(30))
        .build()
        .expect("http client");
    let url = format!("{}/v1/tasks", gateway.url);
    let body = json!({"prompt": "a queued task that never runs during the benchmark"}).to_string();
    // Open the connections once, outside the measurement.
    let _ = open_connections(&client, &gateway.url, &key, 32).await;

    let planned = rate * duration.as_secs() as usize;
    let cpu_before = process::cpu_seconds(gateway.pid());
    let period = Duration::from_secs_f64(1.0 / rate as f64);
    let start = tokio::time::Instant::now() + Duration::from_millis(50);
    let mut handles = Vec::with_capacity(planned);
    for i in 0..planned {
        let scheduled = start + period.mul_f64(i as f64);
        tokio::time::sleep_until(scheduled).await;
        let (client, url, key, body) = (client.clone(), url.clone(), key.clone(), body.clone());
        handles.push(tokio::spawn(async move {
            let sent =
                client.post(&url).bearer_auth(&key).header("content-type", "application/json").body(body).send().await;
            let answer = match sent {
                Ok(response) if response.status().as_u16() == 202 => {
                    let _ = response.bytes().await;
                    Answer::Accepted(scheduled.elapsed())
                }
                Ok(response) => {
                    let status = response.status();
                    Answer::Refused(format!("{status}: {}", response.text().await.unwrap_or_default()))
                }
                Err(e) => Answer::Refused(e.to_string()),
            };
            (i / rate, answer, tokio::time::Instant::now())
        }));
    }
    let mut latencies = Vec::with_capacity(planned);
    let (mut errors, mut error_sample) = (0, None);
    let mut last_done = start;
    for handle in handles {
        let (second, answer, done) = handle.await.expect("request task");
        last_done = last_done.max(done);
        match answer {
            Answer::Accepted(latency) => latencies.push((second, latency)),
            Answer::Refused(why) => {
                errors += 1;
                error_sample.get_or_insert(why);
            }
        }
    }
    let elapsed = last_done - start;
    let cpu_seconds = process::cpu_seconds(gateway.pid()) - cpu_before;
    let achieved_rate = latencies.len() as f64 / elapsed.as_secs_f64();

    // Only the blocker may have run: the measurement must not include Claude Code runs.
    let (_, running) = gateway.get("/v1/tasks?status=running&limit=200", &key).await;
    let running_after = running["data"].as_array().map_or(0, Vec::len);
    let _ = gateway.post(&format!("/v1/tasks/{blocker_id}/cancel"), &key, &json!({})).await;
    let sandbox = sandbox_of(&gateway).await;
    SubmitLatency {
        rate,
        planned,
        duration,
        workers,
        latencies,
        errors,
        error_sample,
        achieved_rate,
        running_after,
        sandbox,
        cpu_seconds,
    }
}

/// A few requests to open pooled connections before the clock starts.
async fn open_connections(client: &reqwest::Client, base: &str, key: &str, n: usize) -> usize {
    let mut handles = Vec::new();
    for _ in 0..n {
        let request = client.get(format!("{base}/v1/tasks?limit=1")).bearer_auth(key);
        handles.push(tokio::spawn(async move { request.send().await.map(|r| r.status().is_success()) }));
    }
    let mut ok = 0;
    for handle in handles {
        if matches!(handle.await, Ok(Ok(true))) {
            ok += 1;
        }
    }
    ok
}

/// The goal of the submit latency's p99.
const SUBMIT_P99_GOAL_MS: f64 = 10.0;

impl SubmitLatency {
    fn p99(&self) -> f64 {
        percentile(&self.latencies.iter().map(|(_, l)| ms(*l)).collect::<Vec<_>>(), 0.99)
    }

    fn figures(&self) -> Vec<Figure> {
        vec![
            Figure { name: "submit latency p99", value: self.p99(), goal: SUBMIT_P99_GOAL_MS, unit: "ms" },
            Figure { name: "submits refused (not 202)", value: self.errors as f64, goal: 0.0, unit: "" },
        ]
    }

    fn to_markdown(&self) -> String {
        let mut out = String::from("## Submit latency: `POST /v1/tasks`, open loop\n\n");
        let _ = writeln!(
            out,
            "{} requests/s for {} s ({} requests), one key, each request sent at its scheduled time \
             on its own task; latency from the scheduled send time to the end of the 202 answer. \
             The key's one run slot is held by a sleeping task, so every submitted task stays queued. \
             The gateway runs {} workers; its sandbox: {}.\n",
            self.rate,
            self.duration.as_secs(),
            self.planned,
            self.workers,
            self.sandbox
        );
        out.push_str("| p50 | p90 | p99 | max | achieved rate | errors (not 202) |\n");
        out.push_str("| ---: | ---: | ---: | ---: | ---: | ---: |\n");
        if self.latencies.is_empty() {
            let _ = writeln!(out, "| – | – | – | – | 0/s | {} |", self.errors);
        } else {
            let all: Vec<Duration> = self.latencies.iter().map(|(_, l)| *l).collect();
            let s = Summary::of(&all);
            let _ = writeln!(
                out,
                "| {:.2} ms | {:.2} ms | {:.2} ms | {:.2} ms | {:.0}/s | {} |",
                s.p50, s.p90, s.p99, s.max, self.achieved_rate, self.errors
            );
            out.push('\n');
            let _ = writeln!(
                out,
                "Goal: p99 ≤ {SUBMIT_P99_GOAL_MS} ms at {} requests/s — {} (p99 {:.2} ms).",
                self.rate,
                verdict(s.p99 <= SUBMIT_P99_GOAL_MS && self.errors == 0),
                s.p99
            );
            out.push_str("\nBy second of the schedule (as the queue grows):\n\n| second |");
            let seconds = self.duration.as_secs() as usize;
            for second in 1..=seconds {
                let _ = write!(out, " {second} |");
            }
            out.push_str("\n| --- |");
            out.push_str(&" ---: |".repeat(seconds));
            for (name, q) in [("p50", 0.5), ("p99", 0.99)] {
                let _ = write!(out, "\n| {name} |");
                for second in 0..seconds {
                    let values: Vec<f64> =
                        self.latencies.iter().filter(|(s, _)| *s == second).map(|(_, l)| ms(*l)).collect();
                    let _ = write!(out, " {:.1} |", percentile(&values, q));
                }
            }
            out.push('\n');
        }
        if let Some(sample) = &self.error_sample {
            let _ =
                writeln!(out, "\nFirst error: `{}`", sample.replace('`', "'").chars().take(300).collect::<String>());
        }
        let _ =
            writeln!(out, "\nTasks running when the measurement ended: {} (1 = the blocker only).", self.running_after);
        // Idle workers look for work after each submit: with every queued task behind
        // a key at its cap, what a look costs shows here.
        let _ = writeln!(
            out,
            "\nThe gateway's CPU time over the schedule: {:.2} s ({:.2} ms per submit).",
            self.cpu_seconds,
            self.cpu_seconds * 1000.0 / self.planned.max(1) as f64
        );
        out.push('\n');
        out
    }
}

// ---------------------------------------------------------------------------
// Statistics

struct Summary {
    p50: f64,
    p90: f64,
    p99: f64,
    min: f64,
    max: f64,
}

impl Summary {
    fn of(samples: &[Duration]) -> Self {
        let values: Vec<f64> = samples.iter().map(|d| ms(*d)).collect();
        Self {
            p50: percentile(&values, 0.5),
            p90: percentile(&values, 0.9),
            p99: percentile(&values, 0.99),
            min: values.iter().copied().fold(f64::INFINITY, f64::min),
            max: values.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        }
    }
}

/// Nearest-rank percentile; the median of an even count is the mean of the middle two.
fn percentile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let n = sorted.len();
    if n == 0 {
        return f64::NAN;
    }
    if q == 0.5 && n.is_multiple_of(2) {
        return (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0;
    }
    let rank = (q * n as f64).ceil() as usize;
    sorted[rank.clamp(1, n) - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn verdict(met: bool) -> &'static str {
    if met { "met" } else { "**missed**" }
}

// ---------------------------------------------------------------------------
// 3. Memory with a deep queue

/// Most the gateway's memory may grow between 1,000 and all the queued tasks.
const QUEUE_GROWTH_GOAL_MB: f64 = 64.0;

struct QueuedMemory {
    queued: usize,
    elapsed: Duration,
    /// (queued tasks, what was just done, resident MiB)
    samples: Vec<(usize, &'static str, f64)>,
}

impl QueuedMemory {
    /// Growth from 1,000 queued to the peak, MiB.
    fn growth(&self) -> f64 {
        let at = |what: &str| self.samples.iter().find(|s| s.1 == what).map_or(f64::NAN, |s| s.2);
        let peak = self.samples.iter().map(|s| s.2).fold(0.0, f64::max);
        peak - at("1,000 submitted")
    }

    fn figure(&self) -> Figure {
        Figure { name: "memory growth with the queue", value: self.growth(), goal: QUEUE_GROWTH_GOAL_MB, unit: "MiB" }
    }

    fn to_markdown(&self) -> String {
        let mut out = format!(
            "## Memory with {} queued tasks\n\nTasks submitted with 64 requests in flight to a node that claims \
             nothing (its free-memory floor is set out of reach), {:.0} submissions/s. Resident memory \
             (`VmRSS`) of `ccgate serve`:\n\n| queued | after | RSS (MiB) |\n| ---: | --- | ---: |\n",
            self.queued,
            self.queued as f64 / self.elapsed.as_secs_f64()
        );
        for (queued, after, rss) in &self.samples {
            let _ = writeln!(out, "| {queued} | {after} | {rss:.1} |");
        }
        let growth = self.growth();
        let _ = writeln!(
            out,
            "\nGrowth from 1,000 queued to the peak: {growth:.1} MiB (goal: under {QUEUE_GROWTH_GOAL_MB} MiB): {}\n",
            verdict(growth < QUEUE_GROWTH_GOAL_MB)
        );
        out
    }
}

async fn queued_memory(model: &Model, queued: usize) -> QueuedMemory {
    let config = tempfile::NamedTempFile::new().expect("config file");
    std::fs::write(
        config.path(),
        format!("[queue]\nmax_depth = {}\nmin_free_memory_mb = 100000000\nmin_free_disk_mb = 0\n", queued * 2),
    )
    .expect("write config");
    let env = vec![("CCGATE_CONFIG".to_string(), config.path().display().to_string())];
    let gateway = Gateway::start(model, GatewayOptions { env, ..GatewayOptions::default() }).await;
    let key = gateway.create_key(&["--name", "bench", "--rate-limit", "1000000", "--max-queued", "1000000"]);
    let rss = process::rss_mib;
    let pid = gateway.pid();
    let mut samples = vec![(0, "start", rss(pid))];
    let client = reqwest::Client::builder().timeout(Duration::from_secs(60)).build().expect("http client");
    let url = format!("{}/v1/tasks", gateway.url);
    let body = json!({"prompt": "a queued task that never runs", "metadata": {"team": "bench"}}).to_string();
    let started = Instant::now();
    let mut sent = 0;
    for mark in [1_000, queued / 4, queued / 2, queued * 3 / 4, queued] {
        let mark = mark.max(sent);
        let next = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(sent));
        let mut senders = Vec::new();
        for _ in 0..64 {
            let (client, url, key, body, next) = (client.clone(), url.clone(), key.clone(), body.clone(), next.clone());
            senders.push(tokio::spawn(async move {
                while next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) < mark {
                    let response = client
                        .post(&url)
                        .bearer_auth(&key)
                        .header("content-type", "application/json")
                        .body(body.clone())
                        .send()
                        .await
                        .expect("submit");
                    let status = response.status().as_u16();
                    assert_eq!(status, 202, "{}", response.text().await.unwrap_or_default());
                }
            }));
        }
        for sender in senders {
            sender.await.expect("sender");
        }
        sent = mark;
        let label = match mark {
            1_000 => "1,000 submitted",
            m if m == queued => "all submitted",
            _ => "submitted",
        };
        samples.push((sent, label, rss(pid)));
    }
    let elapsed = started.elapsed();
    // Reads that see the whole queue.
    for (path, what) in [
        ("/v1/tasks?limit=200", "a page of the list"),
        ("/v1/tasks?status=queued&limit=200", "the queued filter"),
        ("/v1/tasks?metadata.team=bench&limit=200", "a metadata filter"),
    ] {
        let (status, _) = gateway.get(path, &key).await;
        assert_eq!(status, 200, "{path}");
        samples.push((sent, what, rss(pid)));
    }
    let metrics = client.get(format!("{}/metrics", gateway.url)).send().await.expect("metrics");
    assert!(metrics.status().is_success());
    let _ = metrics.bytes().await;
    let readyz = client.get(format!("{}/readyz", gateway.url)).send().await.expect("readyz");
    let _ = readyz.bytes().await;
    samples.push((sent, "/metrics and /readyz", rss(pid)));
    tokio::time::sleep(Duration::from_secs(2)).await;
    samples.push((sent, "2 s idle", rss(pid)));
    QueuedMemory { queued, elapsed, samples }
}
