//! Sandbox start-up cost: `cargo bench --bench sandbox`.
//!
//! Times `/usr/bin/true` started the way the gateway starts Claude Code: under the
//! per-run supervisor alone (no sandbox), and under the supervisor inside the full
//! sandbox this machine supports (the cgroup created and removed, bubblewrap's
//! namespaces and mounts, the helper's forwarder, rlimits, Landlock and seccomp).
//! The difference is what confinement adds to every run. Runs alternate after
//! warm-up; `BENCH_RUNS` (default 50) sets how many of each.
//! Prints a markdown report and writes it to `target/bench-sandbox.md`.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use ccgate::sandbox::{Network, RunSpec, Sandbox, SandboxConfig};

const GOAL_MS: f64 = 50.0;

fn main() {
    let runs: usize = std::env::var("BENCH_RUNS").ok().and_then(|v| v.parse().ok()).unwrap_or(50);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    let report = runtime.block_on(measure(runs));
    println!("{report}");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-sandbox.md");
    if let Err(e) = std::fs::write(&path, &report) {
        eprintln!("could not write {}: {e}", path.display());
    }
}

async fn measure(runs: usize) -> String {
    let data = tempfile::tempdir().expect("temp dir");
    let helper = Path::new(env!("CARGO_BIN_EXE_ccgate")).to_path_buf();
    let sandbox = Sandbox::start(&SandboxConfig::default(), data.path(), helper.clone(), &[], &Default::default())
        .await
        .expect("this machine must support a sandbox (see `ccgate doctor`)");
    let status = sandbox.status();
    let (workspace, home, tmp) = (data.path().join("ws"), data.path().join("home"), data.path().join("tmp"));
    for dir in [&workspace, &home, &tmp] {
        std::fs::create_dir_all(dir).expect("create dirs");
    }
    let env = vec![("PATH".to_string(), "/usr/bin:/bin".to_string())];
    let mut plain = Vec::new();
    let mut confined = Vec::new();
    for i in 0..runs + 3 {
        let started = Instant::now();
        supervise(&helper, "/usr/bin/true".as_ref(), &[], &env, &workspace, &[]);
        let plain_time = started.elapsed();
        let started = Instant::now();
        let launch = sandbox
            .launch(&RunSpec {
                run_id: &format!("bench-{i}"),
                workspace: &workspace,
                home: &home,
                tmp: &tmp,
                claude: Path::new("/usr/bin/true"),
                claude_args: &[],
                settings: None,
                env: &env,
                network: Network::None,
                tokens: None,
                model: None,
                test_upstream: None,
                parked: false,
                cgroup_made: false,
            })
            .expect("launch");
        let cgroups: Vec<_> = launch.cgroup.iter().flat_map(|c| c.procs_files()).collect();
        let args: Vec<&std::ffi::OsStr> = launch.args.iter().map(|a| a.as_os_str()).collect();
        supervise(&helper, &launch.program, &args, &launch.env, &workspace, &cgroups);
        if let Some(cgroup) = &launch.cgroup {
            cgroup.remove();
        }
        let confined_time = started.elapsed();
        if i >= 3 {
            plain.push(ms(plain_time));
            confined.push(ms(confined_time));
        }
    }
    let added: Vec<f64> = confined.iter().zip(&plain).map(|(c, p)| c - p).collect();
    let mut out = String::from("# Sandbox start-up cost\n\n");
    out.push_str(&format!(
        "Confinement: {} ({}); {runs} runs of `/usr/bin/true` each way, alternating.\n\n",
        status.confinement,
        status.layers.join(", ")
    ));
    out.push_str("| | p50 | p90 | max |\n| --- | --- | --- | --- |\n");
    for (name, values) in
        [("supervisor only", &plain), ("supervisor + sandbox", &confined), ("added by the sandbox", &added)]
    {
        out.push_str(&format!(
            "| {name} | {:.1} ms | {:.1} ms | {:.1} ms |\n",
            percentile(values, 0.5),
            percentile(values, 0.9),
            percentile(values, 1.0)
        ));
    }
    let met = percentile(&added, 0.5) < GOAL_MS;
    out.push_str(&format!(
        "\nGoal: the sandbox adds < {GOAL_MS} ms at the median: {}.\n",
        if met { "met" } else { "**missed**" }
    ));
    out
}

fn supervise(
    exe: &Path,
    program: &std::ffi::OsStr,
    args: &[&std::ffi::OsStr],
    env: &[(String, String)],
    cwd: &Path,
    cgroups: &[std::path::PathBuf],
) {
    let mut command = Command::new(exe);
    command.arg("supervise");
    for procs in cgroups {
        command.arg("--cgroup-procs").arg(procs);
    }
    let status = command
        .arg("--")
        .arg(program)
        .args(args)
        .current_dir(cwd)
        .env_clear()
        .envs(env.iter().cloned())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .status()
        .expect("run the supervisor");
    assert!(status.success(), "the run failed: {status}");
}

fn percentile(values: &[f64], q: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[rank - 1]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}
