//! One hook of a plugin called on a given input, outside a gateway: what
//! `ccgate plugins check` runs on its sample inputs and `ccgate plugins call`
//! on an author's own (`--input request.json`), through the same code the
//! gateway uses, so what it answers here is what it answers in service.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use serde_json::{Value, json};

use super::{ArtifactChoice, Hook, Plugins, Processed, TaskFacts, ToolApproval, ToolApprovers, WebhookEvent};
use crate::approvals::rules::Place;
use crate::approvals::{Decision, PermissionPrompt};
use crate::auth::{Principal, Scope};
use crate::config::TaskLimits;
use crate::store::EventRecord;
use crate::task::TaskResult;

/// Most workspace files listed for an artifacts call.
const MAX_LISTED_FILES: usize = 10_000;

/// What a hook is called with.
pub enum HookInput {
    /// A `POST /v1/tasks` body.
    Policy(Value),
    /// A turn's `result` as `GET /v1/tasks/{id}` shows it.
    Result(TaskResult),
    /// A workspace (every file in it listed) and the task's original inputs.
    Artifacts { workspace: PathBuf, baseline: Option<PathBuf>, result: TaskResult },
    /// The built-in webhook body (`{"type", "timestamp", "data"}`) and where it goes.
    Webhook { payload: Value, url: String },
    /// A permission prompt: the tool, its input, the CLI's reason.
    ToolApproval(PermissionPrompt),
}

/// How a call came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Allowed, rewritten, processed, selected, formatted, or no opinion.
    Allowed,
    /// Denied or refused.
    Denied,
    /// The plugin failed (trap, time-out, unusable answer, …).
    Failed,
}

/// A call's verdict, what the plugin answered, and its `plugin` events.
pub struct Trial {
    pub verdict: Verdict,
    pub answer: String,
    pub events: Vec<EventRecord>,
}

impl HookInput {
    /// The input for `hook` from JSON (`--input`): what each field means is in
    /// `ccgate plugins call --help`.
    pub fn parse(hook: Hook, input: Value) -> Result<Self, String> {
        let text = |field: &str| input.get(field).and_then(Value::as_str).map(str::to_string);
        let result = |value: Option<&Value>| -> Result<TaskResult, String> {
            value.map_or(Ok(TaskResult::default()), |v| {
                serde_json::from_value(v.clone()).map_err(|e| format!("/result: {e}"))
            })
        };
        Ok(match hook {
            Hook::Policy => HookInput::Policy(input),
            Hook::Result => HookInput::Result(result(Some(&input))?),
            Hook::Artifacts => HookInput::Artifacts {
                workspace: text("workspace").map(PathBuf::from).ok_or("/workspace: a directory is required")?,
                baseline: text("baseline").map(PathBuf::from),
                result: result(input.get("result"))?,
            },
            Hook::Webhook => HookInput::Webhook {
                url: text("url").unwrap_or_else(|| "https://hooks.example.com/ccgate".into()),
                payload: input.get("payload").cloned().ok_or("/payload: the built-in webhook body is required")?,
            },
            Hook::ToolApproval => HookInput::ToolApproval(PermissionPrompt {
                request_id: "req_trial".into(),
                tool: text("tool").ok_or("/tool: the tool's name is required")?,
                input: input.get("input").cloned().unwrap_or_else(|| json!({})),
                reason: text("reason"),
            }),
        })
    }
}

/// Calls `hook` of the (only) plugin in `plugins` on `input`, for a task with `facts`.
pub async fn call_hook(plugins: &Arc<Plugins>, facts: &TaskFacts, input: HookInput) -> Trial {
    let (verdict, answer, events) = match input {
        HookInput::Policy(body) => policy(plugins, facts, &body).await,
        HookInput::Result(result) => match plugins.process_result(facts, result).await {
            Processed { result, error: None, events } => {
                let text = result.text.unwrap_or_default();
                (Verdict::Allowed, format!("{} → text {text:?}", outcomes(&events)), events)
            }
            Processed { error: Some(error), events, .. } => {
                let refused = events.iter().any(|e| e.data["outcome"] == "refused");
                (if refused { Verdict::Denied } else { Verdict::Failed }, error.message, events)
            }
        },
        HookInput::Artifacts { workspace, baseline, result } => {
            let files = match list_files(&workspace) {
                Ok(files) => files,
                Err(e) => return failed(format!("cannot list {}: {e}", workspace.display())),
            };
            let (choice, events) =
                plugins.choose_artifacts(facts, Some(&result), &workspace, baseline.as_deref(), &files).await;
            match choice {
                ArtifactChoice::Chosen { selections, .. } => {
                    let names: Vec<String> = selections
                        .iter()
                        .map(|s| match &s.content {
                            Some(bytes) => format!("{} (generated, {} bytes)", s.path, bytes.len()),
                            None => s.path.clone(),
                        })
                        .collect();
                    (Verdict::Allowed, format!("selected [{}]", names.join(", ")), events)
                }
                ArtifactChoice::BuiltIn => {
                    let why = format!("failed, the built-in globs would be used: {}", outcomes(&events));
                    (Verdict::Failed, why, events)
                }
                ArtifactChoice::Nothing(why) => (Verdict::Failed, why, events),
            }
        }
        HookInput::Webhook { payload, url } => {
            let kind = payload["type"].as_str().unwrap_or("task.completed").to_string();
            let (payload, timestamp) = (payload.to_string(), payload["timestamp"].as_str().unwrap_or("").to_string());
            let event = WebhookEvent {
                key_id: &facts.key_id,
                key_name: &facts.key_name,
                task_id: &facts.id,
                delivery_id: "whd_trial",
                event_type: &kind,
                timestamp: &timestamp,
                payload: &payload,
                url: &url,
            };
            let (formatted, events) = plugins.format_webhook(&event).await;
            match formatted {
                Ok(Some(formatted)) => {
                    (Verdict::Allowed, format!("{}: {}", formatted.content_type, formatted.body), events)
                }
                Ok(None) => (Verdict::Failed, "failed; the built-in body would be sent".into(), events),
                Err(e) => (Verdict::Failed, e, events),
            }
        }
        HookInput::ToolApproval(prompt) => {
            let approvers = ToolApprovers::for_task(plugins, &facts.id, &facts.key_id, &facts.key_name);
            // Where a sandboxed run sees them.
            let place = Place { workspace: "/workspace".into(), home: "/home/agent".into() };
            let (approval, events) = approvers.decide(&prompt, &place).await;
            let failed = events.iter().any(|e| matches!(e.data["outcome"].as_str(), Some("failed" | "skipped")));
            match approval {
                _ if failed => (Verdict::Failed, outcomes(&events), events),
                ToolApproval::Decided { decision: Decision::Deny { message }, .. } => {
                    (Verdict::Denied, format!("denied: {message}"), events)
                }
                ToolApproval::Decided { updated_input: Some(input), .. } => {
                    (Verdict::Allowed, format!("allowed with input {input}"), events)
                }
                ToolApproval::Decided { .. } => (Verdict::Allowed, "allowed".into(), events),
                ToolApproval::NoOpinion => (Verdict::Allowed, "no opinion".into(), events),
            }
        }
    };
    Trial { verdict, answer, events }
}

/// `ccgate plugins call`'s exit status for each verdict: like grep, 0 for yes,
/// 1 for no, 2 for trouble.
pub fn exit_code(verdict: Verdict) -> i32 {
    match verdict {
        Verdict::Allowed => 0,
        Verdict::Denied => 1,
        Verdict::Failed => 2,
    }
}

/// `ccgate plugins call FILE --hook H --input FILE [--config JSON]`: loads the
/// plugin, calls `hook` once on `input`, and reports what it decided, what it
/// answered and how long it took (its log lines go to the log, on stderr); an
/// error when it could not be called at all.
pub async fn call_file(
    path: PathBuf,
    hook: Hook,
    input: Value,
    config: Option<Value>,
) -> Result<(Verdict, String), String> {
    let input = HookInput::parse(hook, input).map_err(|e| format!("--input: {e}"))?;
    let (plugins, _scratch) = super::check::load_file(path, config).await?;
    let set = plugins.current();
    let plugin = &set.entries.first().ok_or("the plugin did not load")?.plugin;
    if !plugin.serves(hook) {
        let exported: Vec<&str> = plugin.exported.iter().map(|h| h.as_str()).collect();
        return Err(format!(
            "the plugin does not export the `{}` interface (it exports {})",
            hook.interface(),
            exported.join(", ")
        ));
    }
    let started = std::time::Instant::now();
    let trial = call_hook(&plugins, &super::check::sample_facts(), input).await;
    let total_ms = started.elapsed().as_secs_f64() * 1e3;
    // The plugin's own share, from its `plugin` events (a denied request has none).
    let call_ms: Vec<f64> = trial.events.iter().filter_map(|e| e.data["duration_ms"].as_f64()).collect();
    let time = match call_ms.is_empty() {
        true => format!("{total_ms:.3} ms"),
        false => format!("{:.3} ms in the plugin, {total_ms:.3} ms in all", call_ms.iter().sum::<f64>()),
    };
    let decision = match trial.verdict {
        Verdict::Allowed => "allowed",
        Verdict::Denied => "denied",
        Verdict::Failed => "failed",
    };
    let report = format!(
        "plugin:   {} {} ({})\nhook:     {}\ndecision: {decision}\nanswer:   {}\ntime:     {time}\n",
        plugin.declared_name,
        plugin.version,
        plugin.digest,
        hook.as_str(),
        trial.answer
    );
    Ok((trial.verdict, report))
}

async fn policy(plugins: &Plugins, facts: &TaskFacts, body: &Value) -> (Verdict, String, Vec<EventRecord>) {
    let limits = TaskLimits::default();
    let mut request = match crate::task::parse_new_task(body, &limits, false) {
        Ok(request) => request,
        Err(errors) => {
            let listed: Vec<String> = errors.iter().map(|e| format!("{} {}", e.pointer, e.message)).collect();
            return (Verdict::Failed, format!("the request is invalid: {}", listed.join("; ")), Vec::new());
        }
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
        Ok(events) if events.iter().any(|e| e.data["outcome"] == "rewritten") => {
            let rewritten = json!({"prompt": request.prompt, "priority": request.priority,
                                   "options": request.options, "metadata": request.metadata});
            (Verdict::Allowed, format!("{} → {rewritten}", outcomes(&events)), events)
        }
        Ok(events) => (Verdict::Allowed, outcomes(&events), events),
        Err(super::PolicyRefusal::Denied { violations, .. }) => {
            let listed: Vec<String> = violations.iter().map(|v| format!("{} {}", v.pointer, v.message)).collect();
            (Verdict::Denied, format!("denied: {}", listed.join("; ")), Vec::new())
        }
        Err(e) => (Verdict::Failed, e.to_string(), Vec::new()),
    }
}

fn failed(why: String) -> Trial {
    Trial { verdict: Verdict::Failed, answer: why, events: Vec::new() }
}

/// The calls' outcomes, with their messages: `allowed, skipped (trapped: …)`.
pub fn outcomes(events: &[EventRecord]) -> String {
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

/// Every regular file under `root`, relative and `/`-separated, with its size.
fn list_files(root: &Path) -> std::io::Result<Vec<(String, u64)>> {
    let mut files = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let entry = entry?;
            let kind = entry.file_type()?;
            if kind.is_dir() {
                pending.push(entry.path());
            } else if kind.is_file() && files.len() < MAX_LISTED_FILES {
                let path = entry.path();
                let relative = path.strip_prefix(root).unwrap_or(&path).to_string_lossy().replace('\\', "/");
                files.push((relative, entry.metadata()?.len()));
            }
        }
    }
    files.sort();
    Ok(files)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inputs_name_what_is_missing() {
        let error = |hook, input| HookInput::parse(hook, input).err().unwrap_or_default();
        assert!(error(Hook::ToolApproval, json!({"input": {}})).starts_with("/tool"));
        assert!(error(Hook::Artifacts, json!({})).starts_with("/workspace"));
        assert!(error(Hook::Webhook, json!({"url": "https://x"})).starts_with("/payload"));
        assert!(error(Hook::Result, json!({"num_turns": "many"})).starts_with("/result"));
        let Ok(HookInput::ToolApproval(prompt)) =
            HookInput::parse(Hook::ToolApproval, json!({"tool": "Bash", "input": {"command": "ls"}}))
        else {
            panic!()
        };
        assert_eq!((prompt.tool.as_str(), &prompt.input), ("Bash", &json!({"command": "ls"})));
    }

    #[test]
    fn a_workspace_is_listed_relative_and_sorted() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("src")).unwrap();
        std::fs::write(dir.path().join("src/a.rs"), "fn a() {}").unwrap();
        std::fs::write(dir.path().join("README.md"), "#").unwrap();
        let files = list_files(dir.path()).unwrap();
        assert_eq!(files, [("README.md".to_string(), 1), ("src/a.rs".to_string(), 9)]);
    }
}
