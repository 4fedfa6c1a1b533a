//! Plugin call costs: `cargo bench --bench plugins` (after `scripts/build-plugins.sh`).
//!
//! For the example `policy` plugin (a deny pattern, caps, required metadata, a
//! compliance line), a minimal one (`hostile-policy` told to allow) and the
//! JavaScript `js-policy` (QuickJS):
//! - a fresh-instance validation call, as the gateway makes each one: a new
//!   store, instantiation from the pre-linked `InstancePre`, `validate`, the store
//!   dropped; `BENCH_CALLS` (default 5000) calls after 200 of warm-up;
//! - memory per instance: the process's private memory (USS: private clean +
//!   dirty pages, so pages of the compiled code and memory images that every
//!   instance maps are not counted once per mapping) added by 1000 live instances
//!   (each has answered one call), divided by 1000; resident memory (RSS) too;
//! - loading a plugin whose compiled form is in the on-disk cache (read, sha256,
//!   map the cached code, check the interfaces, pre-link, check the config).
//!
//! Prints a markdown report and writes it to `target/bench-plugins.md`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use ccgate::plugins::bindings::{PolicyPre, current::types};
use ccgate::plugins::call::{self, CallSite};
use ccgate::plugins::{LoadedPlugin, PluginEngine, PluginSpec, load};
use serde_json::json;

const LIVE_INSTANCES: usize = 1000;

fn main() {
    let calls: usize = std::env::var("BENCH_CALLS").ok().and_then(|v| v.parse().ok()).unwrap_or(5000);
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    let engine = Arc::new(PluginEngine::new(LIVE_INSTANCES as u32 + 8).expect("engine"));
    let cache = tempfile::tempdir().expect("temp dir");
    let mut report = String::from(
        "| plugin | call p50 | call p90 | call p99 | memory / instance (USS) | RSS / instance | cached load p50 |\n",
    );
    report.push_str("| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n");
    let plugins = [
        (
            "policy (example)",
            "ccgate_plugin_policy",
            json!({"deny_patterns": ["(?i)drop\\s+table"], "max_turns": 20, "max_timeout_seconds": 600,
                   "require_metadata": ["ticket"], "compliance_line": "Follow the ACME coding policy."}),
        ),
        ("minimal (allow)", "ccgate_test_hostile_policy", json!({"behaviour": "allow"})),
        (
            "js-policy (JavaScript, QuickJS)",
            "ccgate_plugin_js_policy",
            json!({"forbidden_word": "password", "require_metadata": ["ticket"]}),
        ),
    ];
    for (label, file, config) in plugins {
        let spec = PluginSpec::for_file(wasm(file), Some(config)).expect("spec");
        runtime.block_on(load(&engine, &spec, Some(cache.path()))).expect("first load compiles and caches");
        let loads: Vec<Duration> = (0..50)
            .map(|_| {
                let plugin = runtime.block_on(load(&engine, &spec, Some(cache.path()))).expect("cached load");
                assert!(plugin.from_cache);
                plugin.load_time
            })
            .collect();
        let plugin = runtime.block_on(load(&engine, &spec, Some(cache.path()))).expect("load");
        let times = time_calls(&runtime, &engine, &plugin, calls);
        let (private, resident) = memory_per_instance(&runtime, &engine, &plugin);
        report.push_str(&format!(
            "| {label} | {} | {} | {} | {:.1} KiB | {:.1} KiB | {} |\n",
            micros(percentile(&times, 0.5)),
            micros(percentile(&times, 0.9)),
            micros(percentile(&times, 0.99)),
            private / 1024.0,
            resident / 1024.0,
            micros(percentile(&loads, 0.5)),
        ));
    }
    report.push_str(&format!(
        "\n{calls} calls each after 200 of warm-up; pooling allocator: {}; goals: call p50 < 50 µs, p99 < 100 µs, \
         < 50 KiB per instance, cached load < 1 ms.\n",
        engine.pooling
    ));
    println!("{report}");
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/bench-plugins.md");
    if let Err(e) = std::fs::write(&path, &report) {
        eprintln!("could not write {}: {e}", path.display());
    }
}

fn wasm(file_stem: &str) -> PathBuf {
    let binary = PathBuf::from(env!("CARGO_BIN_EXE_ccgate"));
    let target = binary.parent().and_then(Path::parent).expect("target dir");
    let path = target.join("wasm32-wasip2/release").join(format!("{file_stem}.wasm"));
    assert!(path.exists(), "{} is missing: run scripts/build-plugins.sh", path.display());
    path
}

fn request() -> types::TaskRequest {
    types::TaskRequest {
        prompt: "Add a unit test for parse_config in src/config.py".into(),
        priority: 0,
        options: json!({"max_turns": 10, "timeout_seconds": 300, "allowed_tools": [], "disallowed_tools": [],
                        "network": "none", "model": null, "append_system_prompt": null})
        .to_string(),
        metadata: vec![("ticket".into(), "DEMO-1".into())],
        files: vec![types::InputFile { path: "src/config.py".into(), size: 120 }],
        key_name: "bench".into(),
        key_id: "key_bench".into(),
        follow_up_of: None,
    }
}

fn site() -> CallSite {
    CallSite { plugin: Arc::from("bench"), hook: "policy", task_id: None }
}

fn time_calls(
    runtime: &tokio::runtime::Runtime,
    engine: &PluginEngine,
    plugin: &LoadedPlugin,
    calls: usize,
) -> Vec<Duration> {
    let Some(PolicyPre::Current(pre)) = plugin.policy.clone() else { panic!("a policy plugin of the current WIT") };
    let asked = request();
    let mut times = Vec::with_capacity(calls);
    for i in 0..calls + 200 {
        let (pre, asked) = (pre.clone(), asked.clone());
        let started = Instant::now();
        runtime
            .block_on(call::run(engine, site(), plugin.config.clone(), &plugin.limits, &[], move |store| {
                Box::pin(async move {
                    let instance = pre.instantiate_async(&mut *store).await?;
                    instance.ccgate_plugin_policy().call_validate(&mut *store, &asked).await
                })
            }))
            .expect("validate");
        if i >= 200 {
            times.push(started.elapsed());
        }
    }
    times
}

/// Bytes of private and of resident memory each live instance adds.
fn memory_per_instance(runtime: &tokio::runtime::Runtime, engine: &PluginEngine, plugin: &LoadedPlugin) -> (f64, f64) {
    let Some(PolicyPre::Current(pre)) = plugin.policy.clone() else { panic!("a policy plugin of the current WIT") };
    let asked = request();
    let (before_private, before) = (private_bytes(), resident_bytes());
    let mut live = Vec::with_capacity(LIVE_INSTANCES);
    for _ in 0..LIVE_INSTANCES {
        let mut call = call::new_store(engine, site(), plugin.config.clone(), &plugin.limits, &[]).expect("store");
        let instance = runtime.block_on(pre.instantiate_async(&mut call.store)).expect("instantiate");
        runtime.block_on(instance.ccgate_plugin_policy().call_validate(&mut call.store, &asked)).expect("validate");
        live.push((call, instance));
    }
    let (after_private, after) = (private_bytes(), resident_bytes());
    drop(live);
    let per = |after: u64, before: u64| after.saturating_sub(before) as f64 / LIVE_INSTANCES as f64;
    (per(after_private, before_private), per(after, before))
}

/// Private_Clean + Private_Dirty of the whole process.
fn private_bytes() -> u64 {
    let rollup = std::fs::read_to_string("/proc/self/smaps_rollup").unwrap_or_default();
    rollup
        .lines()
        .filter(|l| l.starts_with("Private_Clean:") || l.starts_with("Private_Dirty:"))
        .filter_map(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        .sum::<u64>()
        * 1024
}

fn resident_bytes() -> u64 {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap_or_default();
    let pages: u64 = statm.split_whitespace().nth(1).and_then(|v| v.parse().ok()).unwrap_or(0);
    pages * 4096
}

fn percentile(times: &[Duration], p: f64) -> Duration {
    let mut sorted = times.to_vec();
    sorted.sort_unstable();
    sorted[((sorted.len() as f64 * p).ceil() as usize).clamp(1, sorted.len()) - 1]
}

fn micros(d: Duration) -> String {
    if d >= Duration::from_millis(1) {
        format!("{:.2} ms", d.as_secs_f64() * 1e3)
    } else {
        format!("{:.1} µs", d.as_secs_f64() * 1e6)
    }
}
