//! `ccgate plugins check FILE.wasm [--config JSON]`: loads a plugin the way the
//! gateway would, lists what it exports, validates the configuration, and runs
//! each hook it exports once on a sample input, printing what came back.

use std::fmt::Write as _;
use std::path::PathBuf;

use serde_json::json;

use super::{ArtifactChoice, Hook, PluginSpec, Plugins, PluginsConfig, TaskFacts, WebhookEvent};
use crate::auth::{Principal, Scope};
use crate::config::TaskLimits;
use crate::task::TaskResult;

/// The report, or why the plugin cannot be used (every problem listed).
pub async fn check_file(path: PathBuf, config: Option<serde_json::Value>) -> Result<String, String> {
    let spec = PluginSpec::for_file(path, config)?;
    let name = spec.name.clone();
    let guard = Scratch::create()?;
    let scratch = guard.0.clone();
    let settings = PluginsConfig {
        cache_dir: Some(scratch.join("cache")),
        max_concurrent_calls: 2,
        chain: vec![spec],
        ..PluginsConfig::default()
    };
    let plugins = Plugins::start(settings, &scratch, None)
        .await
        .map_err(|errors| errors.0.iter().map(|e| format!("error: {e}")).collect::<Vec<_>>().join("\n"))?;
    let mut report = String::new();
    let set = plugins.current();
    let Some(entry) = set.entries.first() else { return Err("the plugin did not load".into()) };
    let plugin = &entry.plugin;
    let _ = writeln!(report, "plugin:   {} {} ({})", plugin.declared_name, plugin.version, plugin.digest);
    let hooks: Vec<&str> = plugin.exported.iter().map(|h| h.as_str()).collect();
    let _ = writeln!(report, "exports:  meta, {}", hooks.join(", "));
    let _ = writeln!(report, "config:   valid {}", plugin.config);
    let _ = writeln!(report, "load:     {:.1} ms", plugin.load_time.as_secs_f64() * 1e3);
    let mut failed = false;
    for hook in plugin.exported.clone() {
        let (line, ok) = sample_call(&plugins, hook, &scratch).await;
        failed |= !ok;
        let _ = writeln!(report, "{:<9} {line}", format!("{}:", hook.as_str()));
    }
    if failed {
        return Err(format!("{report}a sample call of `{name}` failed"));
    }
    Ok(report)
}

/// A scratch directory, removed when the check ends however it ends.
struct Scratch(PathBuf);

impl Scratch {
    fn create() -> Result<Self, String> {
        let dir = std::env::temp_dir().join(crate::ids::new_id("ccgate-plugin-check"));
        std::fs::create_dir_all(&dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
        Ok(Self(dir))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn sample_facts() -> TaskFacts {
    TaskFacts {
        id: "tsk_sample".into(),
        status: "completed".into(),
        prompt: "Add a unit test for parse_config in src/config.py".into(),
        metadata: [("ticket".to_string(), "DEMO-1".to_string())].into_iter().collect(),
        key_id: "key_sample".into(),
        key_name: "sample".into(),
    }
}

fn sample_result() -> TaskResult {
    TaskResult {
        text: Some("Added tests/test_config.py; all 12 tests pass.".into()),
        session_id: Some("00000000-0000-0000-0000-000000000000".into()),
        num_turns: 3,
        cost_usd: 0.0123,
        duration_ms: 8200,
        ..TaskResult::default()
    }
}

/// One call of `hook` on a sample input: what it answered, and whether it worked.
async fn sample_call(plugins: &Plugins, hook: Hook, scratch: &std::path::Path) -> (String, bool) {
    let facts = sample_facts();
    match hook {
        Hook::Policy => {
            let limits = TaskLimits::default();
            let body = json!({"prompt": facts.prompt, "metadata": facts.metadata});
            let Ok(mut request) = crate::task::parse_new_task(&body, &limits, false) else {
                return ("the sample request is invalid".into(), false);
            };
            let principal = Principal {
                key_id: facts.key_id.clone(),
                name: facts.key_name.clone(),
                environment: crate::auth::Environment::Test,
                scopes: vec![Scope::Tasks],
                rate_limit_per_minute: 60,
                max_concurrent_tasks: 1,
                max_queued_tasks: 1,
                budget_micros_per_day: None,
                budget_micros_per_month: None,
                token_budget_per_day: None,
                token_budget_per_month: None,
            };
            match plugins.check_request(&mut request, &principal, &limits, &[], None).await {
                Ok(events) => (describe_events(&events), true),
                Err(super::PolicyRefusal::Denied { violations, .. }) => {
                    let listed: Vec<String> =
                        violations.iter().map(|v| format!("{} {}", v.pointer, v.message)).collect();
                    (format!("denied the sample request: {}", listed.join("; ")), true)
                }
                Err(e) => (e.to_string(), false),
            }
        }
        Hook::Result => match plugins.process_result(&facts, sample_result()).await {
            super::Processed { result, error: None, events } => {
                (format!("{} → text {:?}", describe_events(&events), result.text.unwrap_or_default()), true)
            }
            super::Processed { error: Some(error), .. } => (error.message, false),
        },
        Hook::Artifacts => {
            let workspace = scratch.join("workspace");
            let baseline = scratch.join("baseline");
            let written = (|| {
                std::fs::create_dir_all(workspace.join("src"))?;
                std::fs::create_dir_all(workspace.join("out"))?;
                std::fs::create_dir_all(baseline.join("src"))?;
                std::fs::write(baseline.join("src/config.py"), "def parse_config(text):\n    return {}\n")?;
                std::fs::write(
                    workspace.join("src/config.py"),
                    "def parse_config(text):\n    return dict(line.split('=') for line in text.splitlines())\n",
                )?;
                std::fs::write(workspace.join("out/report.md"), "# Report\n")?;
                std::io::Result::Ok(())
            })();
            if let Err(e) = written {
                return (format!("cannot write the sample workspace: {e}"), false);
            }
            let files = vec![("out/report.md".to_string(), 9), ("src/config.py".to_string(), 77)];
            let (choice, events) =
                plugins.choose_artifacts(&facts, Some(&sample_result()), &workspace, Some(&baseline), &files).await;
            match choice {
                ArtifactChoice::Chosen { selections, .. } => {
                    let names: Vec<String> = selections
                        .iter()
                        .map(|s| match &s.content {
                            Some(bytes) => format!("{} (generated, {} bytes)", s.path, bytes.len()),
                            None => s.path.clone(),
                        })
                        .collect();
                    (format!("selected [{}]", names.join(", ")), true)
                }
                ArtifactChoice::BuiltIn => {
                    (format!("failed, the built-in globs would be used: {}", describe_events(&events)), false)
                }
                ArtifactChoice::Nothing(why) => (why, false),
            }
        }
        Hook::Webhook => {
            let payload = json!({"type": "task.completed", "timestamp": "2026-01-01T00:00:00Z",
                "data": {"id": facts.id, "status": "completed", "prompt": facts.prompt, "metadata": facts.metadata,
                         "result": sample_result()}})
            .to_string();
            let event = WebhookEvent {
                key_id: &facts.key_id,
                key_name: &facts.key_name,
                task_id: &facts.id,
                delivery_id: "msg_sample",
                event_type: "task.completed",
                timestamp: "2026-01-01T00:00:00Z",
                payload: &payload,
                url: "https://hooks.example.com/ccgate",
            };
            match plugins.format_webhook(&event).await.0 {
                Ok(Some(formatted)) => {
                    (format!("{} body of {} bytes", formatted.content_type, formatted.body.len()), true)
                }
                Ok(None) => ("failed; the built-in body would be sent".into(), false),
                Err(e) => (e, false),
            }
        }
    }
}

fn describe_events(events: &[crate::store::EventRecord]) -> String {
    events
        .iter()
        .map(|e| {
            let outcome = e.data["outcome"].as_str().unwrap_or("?");
            match e.data["message"].as_str() {
                Some(message) => format!("{outcome} ({message})"),
                None => outcome.to_string(),
            }
        })
        .collect::<Vec<_>>()
        .join(", ")
}
