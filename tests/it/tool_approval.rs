//! The tool-approval plugin hook end to end, with the real Claude Code CLI: the
//! example `tool-guard` plugin decides permission prompts before the task's own
//! rules, a plugin with no opinion leaves them to the task, a plugin may rewrite a
//! call's input, and a failing plugin denies the call. A plugin built for WIT 0.1.0
//! keeps working beside them.

use serde_json::{Value, json};

use crate::plugins::{events_of_type, gateway_with, toml_path};
use crate::support::*;

/// The `approval_resolved` events and the tool results of a finished task.
async fn resolved_and_results(gateway: &Gateway, key: &str, id: &str) -> (Vec<Value>, Vec<Value>) {
    let events = gateway.events(key, id, None).await;
    let resolved = events_of_type(&events, "approval_resolved").into_iter().cloned().collect();
    let results = events_of_type(&events, "tool_result").into_iter().cloned().collect();
    (resolved, results)
}

#[tokio::test(flavor = "multi_thread")]
async fn tool_approval_plugins_decide_prompts_before_the_task() {
    let model = Model::start().await;
    let config = tempfile::NamedTempFile::new().unwrap();
    let hostile = toml_path(&plugin_wasm("ccgate_test_hostile_approval"));
    let toml = format!(
        "[[plugins.chain]]\nname = \"legacy\"\npath = {legacy}\n\n\
         [[plugins.chain]]\nname = \"guard\"\npath = {guard}\n\
         [plugins.chain.config]\ndeny = [\"Bash(curl:*)\"]\nallow = [\"Bash(touch:*)\"]\n\
         message = \"network tools are not allowed\"\n\n\
         [[plugins.chain]]\nname = \"trap\"\npath = {hostile}\nkeys = [\"broken\"]\n\
         [plugins.chain.config]\nbehaviour = \"trap\"\n\n\
         [[plugins.chain]]\nname = \"rewrite\"\npath = {hostile}\nkeys = [\"rewriting\"]\n\
         [plugins.chain.config]\nbehaviour = \"rewrite\"\n",
        legacy = toml_path(&plugin_wasm("ccgate_test_wit_0_1_0")),
        guard = toml_path(&plugin_wasm("ccgate_plugin_tool_guard")),
    );
    let gateway = gateway_with(&model, &config, &toml).await;
    let (dev, broken, rewriting) = (
        gateway.create_key(&["--name", "dev"]),
        gateway.create_key(&["--name", "broken"]),
        gateway.create_key(&["--name", "rewriting"]),
    );
    // The task allows no Bash at all: every command comes as a prompt.
    let options = json!({"allowed_tools": ["Read"]});
    let steps = vec![
        bash("curl -s http://127.0.0.1:9/"),
        bash("touch allowed.txt"),
        bash("mkdir left-to-the-task"),
        say("done"),
    ];
    let task = gateway.submit(&dev, json!({"prompt": scripted(steps), "options": options})).await;
    let steps = vec![bash("mkdir x"), say("done")];
    let failing = gateway.submit(&broken, json!({"prompt": scripted(steps), "options": options})).await;
    let steps = vec![bash("cp /etc/hostname original.txt"), say("done")];
    let rewritten = gateway.submit(&rewriting, json!({"prompt": scripted(steps), "options": options})).await;

    // A 0.1.0 policy plugin still loads and decides.
    let (status, problem) = gateway.post("/v1/tasks", &dev, &json!({"prompt": "a forbidden prompt"})).await;
    assert_eq!(status, 422, "{problem}");
    assert!(problem.to_string().contains("a 0.1.0 plugin says no"), "{problem}");

    let id = task["id"].as_str().unwrap();
    let done = gateway.wait_done(&dev, id).await;
    assert_eq!(done["status"], "completed", "{done}");
    let (resolved, results) = resolved_and_results(&gateway, &dev, id).await;
    let by: Vec<(&str, &str, &str)> = resolved
        .iter()
        .map(|r| {
            let plugin = r["plugin"].as_str().unwrap_or("-");
            (r["decision"].as_str().unwrap(), r["decided_by"].as_str().unwrap(), plugin)
        })
        .collect();
    assert_eq!(by, [("deny", "plugin", "guard"), ("allow", "plugin", "guard"), ("deny", "mode", "-")], "{resolved:?}");
    let denial = resolved[0]["message"].as_str().unwrap();
    assert!(denial.contains("network tools are not allowed") && denial.contains("Bash(curl:*)"), "{denial}");
    // The model saw the plugin's denial as the tool's error; the allowed call ran.
    assert_eq!(results.len(), 3, "{results:?}");
    assert_eq!(results[0]["is_error"], true, "{results:?}");
    assert!(results[0]["output"].as_str().unwrap().contains(denial), "{results:?}");
    assert_eq!(results[1]["is_error"], false, "{results:?}");
    assert!(results[2]["output"].as_str().unwrap().contains("does not allow the Bash tool"), "{results:?}");
    let listing = gateway.get(&format!("/v1/tasks/{id}/files"), &dev).await.1.to_string();
    assert!(listing.contains("allowed.txt") && !listing.contains("left-to-the-task"), "{listing}");
    let events = gateway.events(&dev, id, None).await;
    let calls: Vec<(&str, &str)> = events_of_type(&events, "plugin")
        .into_iter()
        .map(|e| (e["plugin"].as_str().unwrap(), e["outcome"].as_str().unwrap()))
        .collect();
    assert_eq!(
        calls,
        [("legacy", "allowed"), ("guard", "denied"), ("guard", "allowed"), ("guard", "no_opinion")],
        "{events:?}"
    );

    // A plugin that traps fails closed: the call is denied, saying the plugin failed.
    let id = failing["id"].as_str().unwrap();
    assert_eq!(gateway.wait_done(&broken, id).await["status"], "completed");
    let (resolved, results) = resolved_and_results(&gateway, &broken, id).await;
    assert_eq!((resolved[0]["decided_by"].as_str(), resolved[0]["plugin"].as_str()), (Some("plugin"), Some("trap")));
    let message = resolved[0]["message"].as_str().unwrap();
    assert!(message.contains("plugin `trap` failed") && message.contains("denied"), "{message}");
    assert!(results[0]["output"].as_str().unwrap().contains(message), "{results:?}");

    // A plugin may allow a call with another input: that is what runs.
    let id = rewritten["id"].as_str().unwrap();
    assert_eq!(gateway.wait_done(&rewriting, id).await["status"], "completed");
    let (resolved, results) = resolved_and_results(&gateway, &rewriting, id).await;
    assert_eq!((resolved[0]["decision"].as_str(), resolved[0]["plugin"].as_str()), (Some("allow"), Some("rewrite")));
    assert!(results[0]["output"].as_str().unwrap().contains("rewritten"), "{results:?}");
    let listing = gateway.get(&format!("/v1/tasks/{id}/files"), &rewriting).await.1.to_string();
    assert!(!listing.contains("original.txt"), "{listing}");
}
