//! WebAssembly plugins end to end, with the real Claude Code CLI and the scripted
//! model: the four example plugins shaping real tasks (policy denial and
//! rewrite, a redacted result, selected artifacts with a diff, a Slack payload at
//! a receiver), hostile plugins costing only their own call, reload, and
//! `ccgate plugins check`.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::http::HeaderMap;
use serde_json::{Value, json};

use crate::support::*;

/// Records every POST it gets: (path, headers, body).
struct Receiver {
    url: String,
    got: Arc<Mutex<Vec<(String, HeaderMap, String)>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Receiver {
    async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let got: Arc<Mutex<Vec<(String, HeaderMap, String)>>> = Arc::default();
        let log = got.clone();
        let app = axum::Router::new().fallback(move |uri: axum::http::Uri, headers: HeaderMap, body: String| {
            let log = log.clone();
            async move {
                log.lock().unwrap().push((uri.path().to_string(), headers, body));
                "ok"
            }
        });
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Receiver { url, got, task }
    }

    async fn wait_for(&self, path: &str) -> (HeaderMap, String) {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some((_, headers, body)) = self.got.lock().unwrap().iter().find(|(p, _, _)| p == path).cloned() {
                return (headers, body);
            }
            assert!(Instant::now() < deadline, "no delivery to {path}");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.task.abort();
    }
}

pub(crate) fn toml_path(path: &std::path::Path) -> String {
    json!(path.display().to_string()).to_string()
}

pub(crate) async fn gateway_with(model: &Model, config: &tempfile::NamedTempFile, toml: &str) -> Gateway {
    std::fs::write(config.path(), toml).unwrap();
    let env = vec![
        ("CCGATE_CONFIG".to_string(), config.path().display().to_string()),
        ("CCGATE_WEBHOOK_ALLOWED_HOSTS".to_string(), "127.0.0.1".to_string()),
    ];
    Gateway::start(model, GatewayOptions { env, ..Default::default() }).await
}

/// A GET's body as text.
async fn get_text(gateway: &Gateway, key: &str, path: &str) -> String {
    gateway.request(reqwest::Method::GET, path, key).send().await.unwrap().text().await.unwrap()
}

pub(crate) fn events_of_type<'a>(events: &'a [(i64, String, Value)], kind: &str) -> Vec<&'a Value> {
    events.iter().filter(|(_, t, _)| t == kind).map(|(_, _, data)| data).collect()
}

#[tokio::test]
async fn the_example_plugins_shape_real_tasks() {
    let model = Model::start().await;
    let receiver = Receiver::start().await;
    let config = tempfile::NamedTempFile::new().unwrap();
    let toml = format!(
        r#"
[webhooks]
retry_schedule_seconds = [1, 1]
timeout_seconds = 2
poll_interval_ms = 100

[[plugins.chain]]
name = "policy"
path = {policy}
[plugins.chain.config]
deny_patterns = ["(?i)drop\\s+table"]
max_turns = 5
require_metadata = ["ticket"]
compliance_line = "Follow the ACME coding policy."

[[plugins.chain]]
name = "redact"
path = {redact}
filter_events = true

[[plugins.chain]]
name = "artifacts"
path = {artifacts}
[plugins.chain.config]
include = ["out/**"]
diff = {{ enabled = true, name = "changes.diff" }}

[[plugins.chain]]
name = "slack"
path = {slack}
[plugins.chain.config]
format = "slack"
task_url = "https://dash.example.com/tasks/{{task_id}}"
"#,
        policy = toml_path(&plugin_wasm("ccgate_plugin_policy")),
        redact = toml_path(&plugin_wasm("ccgate_plugin_redact_secrets")),
        artifacts = toml_path(&plugin_wasm("ccgate_plugin_artifact_select")),
        slack = toml_path(&plugin_wasm("ccgate_plugin_chat_webhook")),
    );
    let gateway = gateway_with(&model, &config, &toml).await;
    let key = gateway.create_key(&["--name", "team-a"]);

    // Denied: the policy's violations reach the client; nothing is stored.
    let (status, problem) = gateway.post("/v1/tasks", &key, &json!({"prompt": "fix the bug"})).await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem["type"].as_str().unwrap().ends_with("/rejected-by-plugin"), "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/metadata/ticket", "{problem}");
    let (status, problem) = gateway
        .post("/v1/tasks", &key, &json!({"prompt": "then DROP  TABLE users", "metadata": {"ticket": "T-1"}}))
        .await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/prompt", "{problem}");
    let (_, listed) = gateway.get("/v1/tasks", &key).await;
    assert_eq!(listed["data"].as_array().unwrap().len(), 0, "a denied request stores nothing: {listed}");

    // Rewritten, run, redacted, artifacts chosen with a diff, Slack payload sent.
    let aws = "AKIAZ7QWERTYUIOPLKJH";
    let github = "ghp_0123456789abcdefghijABCDEFGHIJ012345";
    let prompt = scripted(vec![
        bash(
            "mkdir -p out && printf '# Report\\n' > out/report.md && printf \"print('v2')\\n\" > src/app.py && echo n > notes.txt",
        ),
        say(&format!("Done. Deploy with {aws} and {github}.")),
    ]);
    let task = gateway
        .submit(
            &key,
            json!({
                "prompt": prompt,
                "metadata": {"ticket": "T-2"},
                "options": {"max_turns": 50},
                "files": [{"path": "src/app.py", "content": "print('v1')\n"}],
                "webhook": {"url": format!("{}/slack", receiver.url)},
            }),
        )
        .await;
    let id = task["id"].as_str().unwrap();
    assert_eq!(task["options"]["max_turns"], 5, "capped by the policy: {task}");
    let appended = task["options"]["append_system_prompt"].as_str().unwrap_or_default();
    assert!(appended.contains("Follow the ACME coding policy."), "{task}");
    let done = gateway.wait_done(&key, id).await;
    assert_eq!(done["status"], "completed", "{done}\n{}", gateway.log());
    let text = done["result"]["text"].as_str().unwrap();
    assert!(!text.contains(aws) && !text.contains(github), "secrets survived: {text}");
    assert!(text.contains("[REDACTED"), "{text}");

    let names: Vec<&str> = done["artifacts"].as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert!(names.contains(&"report.md") && names.contains(&"changes.diff"), "{names:?}");
    assert!(!names.contains(&"notes.txt"), "{names:?}");
    let diff = get_text(&gateway, &key, &format!("/v1/tasks/{id}/artifacts/changes.diff")).await;
    assert!(diff.contains("-print('v1')") && diff.contains("+print('v2')"), "{diff}");

    let events = gateway.events(&key, id, None).await;
    let streamed = serde_json::to_string(&events.iter().map(|(_, _, data)| data).collect::<Vec<_>>()).unwrap();
    assert!(!streamed.contains(aws) && !streamed.contains(github), "the events are filtered too: {streamed}");
    assert!(streamed.contains("[REDACTED"), "{streamed}");
    let calls: Vec<(String, String)> = events_of_type(&events, "plugin")
        .iter()
        .map(|e| (e["plugin"].as_str().unwrap().to_string(), e["outcome"].as_str().unwrap().to_string()))
        .collect();
    for expected in [("policy", "rewritten"), ("redact", "changed"), ("artifacts", "selected")] {
        assert!(calls.contains(&(expected.0.into(), expected.1.into())), "{calls:?}");
    }

    // Follow-up messages pass the policy too, with the task's metadata.
    let (status, problem) =
        gateway.post(&format!("/v1/tasks/{id}/messages"), &key, &json!({"prompt": "now drop table users"})).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/prompt", "{problem}");

    let (headers, body) = receiver.wait_for("/slack").await;
    assert!(headers.contains_key("webhook-signature"), "the host signs plugin bodies: {headers:?}");
    let slack: Value = serde_json::from_str(&body).unwrap();
    assert!(slack["blocks"].as_array().is_some_and(|b| !b.is_empty()), "{slack}");
    assert!(body.contains(id), "{body}");
    assert!(!body.contains(aws), "the webhook carries the redacted result: {body}");
    let events = gateway.events(&key, id, None).await;
    let formatted = events_of_type(&events, "plugin").into_iter().find(|e| e["plugin"] == "slack").cloned();
    assert_eq!(formatted.map(|e| e["outcome"].clone()), Some(json!("formatted")), "{events:?}");

    let (status, plugins) = gateway.get("/v1/plugins", &gateway.admin_key).await;
    assert_eq!(status, 200);
    let plugins = plugins["data"].as_array().unwrap();
    assert_eq!(plugins.len(), 4, "{plugins:?}");
    for plugin in plugins {
        assert!(plugin["calls"].as_u64().unwrap() >= 1, "{plugin}");
        assert_eq!(plugin["state"], "active", "{plugin}");
        assert!(plugin["digest"].as_str().unwrap().starts_with("sha256:"), "{plugin}");
    }
    let (_, seen_by_team) = gateway.get("/v1/plugins", &key).await;
    assert_eq!(seen_by_team["data"][0]["path"], "", "{seen_by_team}");
    let metrics = gateway.http.get(format!("{}/metrics", gateway.url)).send().await.unwrap().text().await.unwrap();
    // What each plugin decided, not just that it answered.
    for (hook, outcome) in
        [("policy", "denied"), ("policy", "rewritten"), ("result", "rewritten"), ("artifacts", "selected")]
    {
        let labels = format!("hook=\"{hook}\",outcome=\"{outcome}\",error=\"\"");
        assert!(metrics.contains(&labels), "{labels} missing in {metrics}");
    }
}

#[tokio::test]
async fn hostile_plugins_cost_only_their_own_call() {
    let model = Model::start().await;
    let config = tempfile::NamedTempFile::new().unwrap();
    let hostile = toml_path(&plugin_wasm("ccgate_test_hostile_policy"));
    let escape = toml_path(&plugin_wasm("ccgate_test_hostile_artifacts"));
    let entry = |name: &str, behaviour: &str, extra: &str| {
        format!(
            "[[plugins.chain]]\nname = \"{name}\"\npath = {hostile}\nkeys = [\"k-{name}\"]\n{extra}\n\
             [plugins.chain.config]\nbehaviour = \"{behaviour}\"\n"
        )
    };
    let toml = [
        "[plugins]\nquarantine_after_failures = 3\nquarantine_seconds = 600\n".to_string(),
        entry("trap", "trap", ""),
        entry("loop", "loop", "timeout_ms = 200"),
        entry("alloc", "allocate", "memory_mb = 16\ntimeout_ms = 5000"),
        entry("sleep", "sleep", "timeout_ms = 300"),
        entry("chatty", "flood", "timeout_ms = 10000"),
        entry("flood", "flood", "max_log_lines = 10\nmax_host_calls = 1000000\ntimeout_ms = 10000"),
        entry("open", "trap", "on_error = \"fail_open\""),
        format!("[[plugins.chain]]\nname = \"escape\"\npath = {escape}\nkeys = [\"k-escape\"]\n"),
    ]
    .join("\n");
    let gateway = gateway_with(&model, &config, &toml).await;
    let key = |name: &str| gateway.create_key(&["--name", &format!("k-{name}")]);
    let body = || json!({"prompt": scripted(vec![say("fine")])});

    // Fail closed: the request is refused with the plugin named; nothing stored.
    let refusals = [
        // The panic's message and place, not a wasm backtrace.
        ("trap", "trapped: panicked at "),
        ("loop", "time budget"),
        ("alloc", "memory limit"),
        // Waiting inside a host call (a sleep) ends at the deadline too.
        ("sleep", "time budget"),
        ("chatty", "budget of 10000 host calls"),
    ];
    for (name, says) in refusals {
        let key = key(name);
        let started = Instant::now();
        let (status, problem) = gateway.post("/v1/tasks", &key, &body()).await;
        assert_eq!(status, 503, "{name}: {problem}");
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(name) && detail.contains(says), "{name}: {detail}");
        assert!(!detail.contains("wasm backtrace"), "{name}: {detail}");
        if name == "trap" {
            assert!(detail.contains("src/lib.rs:") && detail.contains("traps on purpose"), "{detail}");
        }
        assert!(started.elapsed() < Duration::from_secs(10), "{name} took {:?}", started.elapsed());
        let (_, listed) = gateway.get("/v1/tasks", &key).await;
        assert!(listed["data"].as_array().unwrap().is_empty(), "{name}: {listed}");
    }

    // A flood of logs and output is capped; the call still answers.
    let flood_key = key("flood");
    let flooded = gateway.submit(&flood_key, body()).await;
    assert_eq!(gateway.wait_done(&flood_key, flooded["id"].as_str().unwrap()).await["status"], "completed");
    let log = gateway.log();
    assert!(log.contains("max_log_lines"), "dropped lines are reported");
    assert!(log.len() < 4 * 1024 * 1024, "the flood reached the gateway's log: {} bytes", log.len());

    // Fail open: the task goes on, and its events say the plugin was skipped.
    let open_key = key("open");
    let opened = gateway.submit(&open_key, body()).await;
    let open_id = opened["id"].as_str().unwrap();
    assert_eq!(gateway.wait_done(&open_key, open_id).await["status"], "completed");
    let events = gateway.events(&open_key, open_id, None).await;
    let skipped = events_of_type(&events, "plugin");
    assert_eq!(skipped[0]["outcome"], "skipped", "{skipped:?}");
    assert!(skipped[0]["message"].as_str().unwrap().contains("trapped"), "{skipped:?}");

    // An artifact plugin cannot read or write outside its read-only preopens, not
    // even through a link the run left in the workspace.
    let escape_key = key("escape");
    let plant = bash("echo hi > kept.txt && ln -s ../.. escape");
    let escaping = gateway.submit(&escape_key, json!({"prompt": scripted(vec![plant, say("done")])})).await;
    let escape_id = escaping["id"].as_str().unwrap();
    let done = gateway.wait_done(&escape_key, escape_id).await;
    assert_eq!(done["status"], "completed", "{done}");
    let link = gateway.data.path().join(format!("tasks/{escape_id}/workspace/escape"));
    assert!(link.join(escape_id).is_dir(), "on the host the link leads to every task");
    let report = get_text(&gateway, &escape_key, &format!("/v1/tasks/{escape_id}/artifacts/report.txt")).await;
    assert!(report.contains("blocked:follow-workspace-link") && !report.contains("ESCAPED"), "{report}");
    let (_, files) = gateway.get(&format!("/v1/tasks/{escape_id}/files"), &escape_key).await;
    assert!(!files.to_string().contains("planted.txt"), "the plugin wrote into the workspace: {files}");

    // Other tasks are unaffected, and the gateway is fine.
    let clean_key = gateway.create_key(&["--name", "clean"]);
    let clean = gateway.submit(&clean_key, body()).await;
    assert_eq!(gateway.wait_done(&clean_key, clean["id"].as_str().unwrap()).await["status"], "completed");
    let health = gateway.http.get(format!("{}/healthz", gateway.url)).send().await.unwrap();
    assert_eq!(health.status(), 200);

    // The trapping plugin is quarantined after three failures in a row.
    let trap_key = key("trap");
    for _ in 0..3 {
        let (status, _) = gateway.post("/v1/tasks", &trap_key, &body()).await;
        assert_eq!(status, 503);
    }
    let (_, plugins) = gateway.get("/v1/plugins", &gateway.admin_key).await;
    let trap = plugins["data"].as_array().unwrap().iter().find(|p| p["name"] == "trap").unwrap().clone();
    assert_eq!(trap["state"], "quarantined", "{trap}");
    assert!(trap["failures"].as_u64().unwrap() >= 4, "{trap}");
    let last_error = trap["last_error"].as_str().unwrap_or_default();
    assert!(last_error.contains("panicked at ") && last_error.contains("traps on purpose"), "{trap}");
    let (status, problem) = gateway.post("/v1/tasks", &trap_key, &body()).await;
    assert_eq!(status, 503);
    assert!(problem["detail"].as_str().unwrap().contains("quarantined"), "{problem}");
    let (_, ready) = gateway.get("/readyz", &gateway.admin_key).await;
    assert_eq!(ready["checks"]["plugins"]["quarantined"], json!(["trap"]), "{ready}");
    // It fails closed: every submission of its key gets 503, which degrades the node.
    assert_eq!(ready["status"], "degraded", "{ready}");
    assert_eq!(ready["checks"]["plugins"]["failing_closed"], json!(["trap"]), "{ready}");
    assert_eq!((ready["checks"]["plugins"]["ok"].as_bool(), ready["reason"].as_str()), (Some(false), Some("plugins")));
    let metrics = gateway.http.get(format!("{}/metrics", gateway.url)).send().await.unwrap().text().await.unwrap();
    for error in ["trap", "timeout", "memory", "host_calls", "quarantined"] {
        let labels = format!("outcome=\"failed\",error=\"{error}\"");
        assert!(metrics.contains(&labels), "{labels} missing in metrics");
    }
}

#[tokio::test]
async fn plugins_reload_atomically_and_bad_sets_are_refused() {
    let model = Model::start().await;
    let config = tempfile::NamedTempFile::new().unwrap();
    let hostile = toml_path(&plugin_wasm("ccgate_test_hostile_policy"));
    let chain = |behaviour: &str| {
        format!(
            "[[plugins.chain]]\nname = \"gate\"\npath = {hostile}\n[plugins.chain.config]\nbehaviour = \"{behaviour}\"\n"
        )
    };
    let gateway = gateway_with(&model, &config, &chain("deny")).await;
    let key = gateway.create_key(&["--name", "k"]);
    let body = json!({"prompt": scripted(vec![say("fine")])});
    assert_eq!(gateway.post("/v1/tasks", &key, &body).await.0, 422);
    let (_, before) = gateway.get("/v1/plugins", &gateway.admin_key).await;
    assert!(before["config_digest"].as_str().unwrap().starts_with("sha256:"), "{before}");
    assert_eq!(gateway.get("/v1/plugins", &key).await.1["config_digest"], Value::Null, "for admins");

    // A configuration the plugin's schema refuses: 422 naming it, the old set stays.
    std::fs::write(config.path(), chain("nonsense")).unwrap();
    let (status, problem) = gateway.post("/v1/plugins/reload", &gateway.admin_key, &json!({})).await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem["errors"][0]["message"].as_str().unwrap().contains("gate"), "{problem}");
    assert_eq!(gateway.post("/v1/plugins/reload", &key, &json!({})).await.0, 403, "admin only");
    assert_eq!(gateway.post("/v1/tasks", &key, &body).await.0, 422, "still the old plugin");

    // A good one over the API, then another by SIGHUP.
    std::fs::write(config.path(), chain("allow")).unwrap();
    let (status, reloaded) = gateway.post("/v1/plugins/reload", &gateway.admin_key, &json!({})).await;
    assert_eq!(status, 200, "{reloaded}");
    // The answer says what is in effect now: the same component, another configuration.
    assert_eq!(reloaded["data"][0]["digest"], before["data"][0]["digest"], "{reloaded}");
    assert_ne!(reloaded["data"][0]["config_digest"], before["data"][0]["config_digest"], "{reloaded}");
    assert_ne!(reloaded["config_digest"], before["config_digest"], "{reloaded}");
    assert_eq!(gateway.post("/v1/tasks", &key, &body).await.0, 202);
    std::fs::write(config.path(), chain("rewrite")).unwrap();
    let _ = std::process::Command::new("kill").arg("-HUP").arg(gateway.pid().to_string()).status();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let task = gateway.submit(&key, body.clone()).await;
        if task["prompt"].as_str().unwrap().starts_with("rewritten: ") {
            break;
        }
        assert!(Instant::now() < deadline, "SIGHUP did not reload: {task}\n{}", gateway.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test]
async fn plugins_check_reports_what_a_plugin_is() {
    let policy = plugin_wasm("ccgate_plugin_policy");
    let (ok, out, err) =
        ccgate(&["plugins", "check", policy.to_str().unwrap(), "--config", r#"{"require_metadata": ["ticket"]}"#]);
    assert!(ok, "{out}{err}");
    assert!(out.contains("exports:  meta, policy") && out.contains("policy:"), "{out}");
    assert!(out.contains("wit:      ccgate:plugin@0.1.2"), "the examples build against the current version: {out}");

    let (ok, _, err) = ccgate(&["plugins", "check", policy.to_str().unwrap(), "--config", r#"{"max_turns": "many"}"#]);
    assert!(!ok && err.contains("/max_turns"), "{err}");

    let sockets = plugin_wasm("ccgate_test_sockets");
    let (ok, _, err) = ccgate(&["plugins", "check", sockets.to_str().unwrap()]);
    assert!(!ok && err.contains("imports network interfaces") && err.contains("wasi:sockets/"), "{err}");

    let future = plugin_wasm("ccgate_test_future_wit");
    let (ok, _, err) = ccgate(&["plugins", "check", future.to_str().unwrap()]);
    assert!(!ok && err.contains("ccgate:plugin@0.2.0") && err.contains("0.1.0, 0.1.1, 0.1.2"), "{err}");

    // A plugin built for a frozen version is called through that version's
    // bindings: a 0.1.1 result plugin still gets the status as a string.
    let old = plugin_wasm("ccgate_test_wit_0_1_1");
    let (ok, out, err) = ccgate(&["plugins", "check", old.to_str().unwrap()]);
    assert!(
        ok && out.contains("wit:      ccgate:plugin@0.1.1") && out.contains("exports:  meta, result"),
        "{out}{err}"
    );
    assert!(out.contains("[status: completed]"), "{out}");

    let guard = plugin_wasm("ccgate_plugin_tool_guard");
    let (ok, out, err) =
        ccgate(&["plugins", "check", guard.to_str().unwrap(), "--config", r#"{"deny": ["Bash(curl:*)"]}"#]);
    assert!(ok && out.contains("exports:  meta, tool_approval"), "{out}{err}");
    assert!(out.contains("tool_approval: denied: ") && out.contains("Bash(curl:*)"), "{out}");
    let trap = plugin_wasm("ccgate_test_hostile_approval");
    let (ok, out, err) = ccgate(&["plugins", "check", trap.to_str().unwrap()]);
    assert!(!ok && err.contains("trapped: panicked at") && err.contains("traps on purpose"), "{out}{err}");
    // The backtrace stays in the log; the report line has the panic.
    let line = err.lines().find(|l| l.starts_with("tool_approval:")).unwrap_or_default();
    assert!(line.contains("traps on purpose") && !line.contains("wasm"), "{err}");

    let dir = tempfile::tempdir().unwrap();
    let core = dir.path().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").unwrap();
    let (ok, _, err) = ccgate(&["plugins", "check", core.to_str().unwrap()]);
    assert!(!ok && err.contains("core WebAssembly module, not a component"), "{err}");
}

#[tokio::test]
async fn the_gateway_refuses_to_start_with_a_plugin_that_does_not_load() {
    let data = tempfile::tempdir().unwrap();
    let config = data.path().join("ccgate.toml");
    let policy = toml_path(&plugin_wasm("ccgate_plugin_policy"));
    std::fs::write(
        &config,
        format!(
            "[[plugins.chain]]\nname = \"missing\"\npath = \"/nonexistent/plugin.wasm\"\n\n\
             [[plugins.chain]]\nname = \"wrong-hook\"\npath = {policy}\nhooks = [\"webhook\"]\n\n\
             [[plugins.chain]]\nname = \"bad-config\"\npath = {policy}\n[plugins.chain.config]\nmax_turns = \"many\"\n"
        ),
    )
    .unwrap();
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_ccgate"))
        .arg("serve")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("CCGATE_CONFIG", &config)
        .env("CCGATE_DATA_DIR", data.path())
        .env("CCGATE_LISTEN", "127.0.0.1:0")
        .env("CCGATE_CLAUDE_BIN", claude_bin())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    assert!(stderr.contains("cannot read /nonexistent/plugin.wasm"), "{stderr}");
    assert!(stderr.contains("does not export the `webhook-formatter` interface"), "{stderr}");
    assert!(stderr.contains("plugin `bad-config` is invalid") && stderr.contains("/max_turns"), "{stderr}");
    assert!(!stderr.contains("ccgate listening"), "{stderr}");
}

#[tokio::test]
async fn plugins_call_tells_allow_deny_and_failure_apart() {
    let dir = tempfile::tempdir().unwrap();
    let write = |name: &str, value: Value| {
        let path = dir.path().join(name);
        std::fs::write(&path, value.to_string()).unwrap();
        path.display().to_string()
    };
    let call = |file: &str, hook: &str, input: &str, config: &str| {
        let wasm = plugin_wasm(file);
        let mut args = vec!["plugins", "call", wasm.to_str().unwrap(), "--hook", hook, "--input", input];
        if !config.is_empty() {
            args.extend(["--config", config]);
        }
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_ccgate"))
            .args(&args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .output()
            .expect("run ccgate");
        let text = |bytes: &[u8]| String::from_utf8_lossy(bytes).into_owned();
        (output.status.code(), text(&output.stdout), text(&output.stderr))
    };
    let curl = write("curl.json", json!({"tool": "Bash", "input": {"command": "ls && curl -s https://x"}}));
    let pwd = write("pwd.json", json!({"tool": "Bash", "input": {"command": "pwd"}}));
    let guard = r#"{"deny": ["Bash(curl:*)"]}"#;
    let (code, out, err) = call("ccgate_plugin_tool_guard", "tool-approval", &curl, guard);
    assert_eq!(code, Some(1), "{out}{err}");
    assert!(out.contains("decision: denied") && out.contains("Bash(curl:*)") && out.contains("time:"), "{out}");
    let (code, out, _) = call("ccgate_plugin_tool_guard", "tool-approval", &pwd, guard);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("decision: allowed") && out.contains("no opinion"), "{out}");

    let request = write("request.json", json!({"prompt": "fix the bug", "options": {"max_turns": 50}}));
    let (code, out, _) = call("ccgate_plugin_policy", "policy", &request, r#"{"max_turns": 10}"#);
    assert_eq!(code, Some(0), "{out}");
    assert!(out.contains("rewritten") && out.contains("\"max_turns\":10"), "{out}");
    let (code, out, _) = call("ccgate_plugin_policy", "policy", &request, r#"{"require_metadata": ["ticket"]}"#);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains("/metadata/ticket"), "{out}");

    // A plugin that fails, a hook it does not export, an input the hook cannot use.
    let (code, out, _) = call("ccgate_test_hostile_approval", "tool-approval", &pwd, "");
    assert_eq!(code, Some(2), "{out}");
    assert!(out.contains("decision: failed") && out.contains("traps on purpose"), "{out}");
    let (code, _, err) = call("ccgate_plugin_policy", "webhook", &request, "");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("/payload"), "{err}");
    let (code, _, err) = call("ccgate_plugin_policy", "tool-approval", &pwd, "");
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("does not export the `tool-approval` interface"), "{err}");
}

#[tokio::test(flavor = "multi_thread")]
async fn plugins_watch_reloads_a_rebuilt_plugin() {
    let model = Model::start().await;
    let config = tempfile::NamedTempFile::new().unwrap();
    let dir = tempfile::tempdir().unwrap();
    let wasm = dir.path().join("gate.wasm");
    // Files are replaced whole, as a build does (a rename, never a half-written file).
    let replace = |with: &[u8]| {
        let partial = dir.path().join("gate.wasm.partial");
        std::fs::write(&partial, with).unwrap();
        std::fs::rename(&partial, &wasm).unwrap();
    };
    replace(&std::fs::read(plugin_wasm("ccgate_test_wit_0_1_0")).unwrap());
    let toml = format!("[plugins]\nwatch = true\n[[plugins.chain]]\nname = \"gate\"\npath = {}\n", toml_path(&wasm));
    let gateway = gateway_with(&model, &config, &toml).await;
    let key = gateway.create_key(&["--name", "k"]);
    let forbidden = json!({"prompt": scripted(vec![say("forbidden fruit")])});
    assert_eq!(gateway.post("/v1/tasks", &key, &forbidden).await.0, 422, "the 0.1.0 plugin denies it");
    let digest = |plugins: &Value| plugins["data"][0]["digest"].as_str().unwrap_or_default().to_string();
    let first = digest(&gateway.get("/v1/plugins", &gateway.admin_key).await.1);

    // A rebuilt plugin (here another one that allows everything) is picked up.
    replace(&std::fs::read(plugin_wasm("ccgate_test_hostile_policy")).unwrap());
    let deadline = Instant::now() + Duration::from_secs(20);
    let second = loop {
        let now = digest(&gateway.get("/v1/plugins", &gateway.admin_key).await.1);
        if now != first {
            break now;
        }
        assert!(Instant::now() < deadline, "the changed file was not reloaded\n{}", gateway.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    };
    assert_eq!(gateway.post("/v1/tasks", &key, &forbidden).await.0, 202, "the new plugin allows it");

    // A file that does not load leaves the loaded set in use, and says why once.
    replace(b"not a plugin");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !gateway.log().contains("plugin file changed but the chain did not load") {
        assert!(Instant::now() < deadline, "the broken file was not noticed\n{}", gateway.log());
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert_eq!(digest(&gateway.get("/v1/plugins", &gateway.admin_key).await.1), second);
}
