//! Permission prompts answered by the gateway: the real CLI asks before tool calls
//! it will not make on its own, and the gateway allows a tool the task allows by
//! name, denies the rest, and records both sides.

use ccgate::scripted_model::Step;
use serde_json::{Value, json};

use crate::support::*;

/// The `approval_*` events of a finished task, and its tool results.
async fn prompts_of(gateway: &Gateway, key: &str, id: &str) -> (Vec<Value>, Vec<Value>) {
    let events = gateway.events(key, id, None).await;
    let approvals = events.iter().filter(|(_, kind, _)| kind.starts_with("approval_")).map(|e| e.2.clone()).collect();
    let results = events.iter().filter(|(_, kind, _)| kind == "tool_result").map(|e| e.2.clone()).collect();
    (approvals, results)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sensitive_write_of_an_allowed_tool_is_allowed_and_recorded() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    // The CLI asks before writing files it calls sensitive, even with Write allowed;
    // in don't-ask mode that write was denied.
    let write = Step::tool("Write", json!({"file_path": "/workspace/.vscode/settings.json", "content": "{\"a\": 1}"}));
    let task = gateway.submit(&key, task_body(vec![write, say("written")])).await;
    let id = task["id"].as_str().unwrap();
    let task = gateway.wait_done(&key, id).await;
    assert_eq!(task["status"], "completed", "{task}");
    let (approvals, results) = prompts_of(&gateway, &key, id).await;
    assert_eq!(approvals.len(), 2, "{approvals:?}");
    assert_eq!(approvals[0]["tool"], "Write");
    assert_eq!(approvals[0]["input"]["file_path"], "/workspace/.vscode/settings.json");
    assert!(approvals[0]["reason"].as_str().is_some_and(|r| r.contains("sensitive")), "{approvals:?}");
    assert_eq!(approvals[1]["decision"], "allow");
    assert_eq!(approvals[1]["decided_by"], "mode");
    assert_eq!(approvals[0]["approval_id"], approvals[1]["approval_id"]);
    assert_eq!(results[0]["is_error"], false, "{results:?}");
    let (status, _) = gateway.get(&format!("/v1/tasks/{id}/files"), &key).await;
    assert_eq!(status, 200);
    let file = gateway.request(reqwest::Method::GET, &format!("/v1/tasks/{id}/files/.vscode/settings.json"), &key);
    assert_eq!(file.send().await.unwrap().text().await.unwrap(), "{\"a\": 1}");
}

#[tokio::test(flavor = "multi_thread")]
async fn prompts_outside_what_the_task_allows_are_denied_with_a_reason_the_model_sees() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let steps = vec![
        // Outside the only Bash the task allows.
        bash("(echo a; echo b) > out.txt"),
        // Claude Code's own settings: denied even though Write is allowed.
        Step::tool("Write", json!({"file_path": "/workspace/.claude/settings.json", "content": "{}"})),
        // A tool the task does not allow.
        Step::tool("WebFetch", json!({"url": "https://example.com", "prompt": "read"})),
        say("done"),
    ];
    let body = json!({"prompt": scripted(steps), "options": {"allowed_tools": ["Read", "Write", "Bash(echo:*)"]}});
    let task = gateway.submit(&key, body).await;
    let id = task["id"].as_str().unwrap();
    let task = gateway.wait_done(&key, id).await;
    assert_eq!(task["status"], "completed", "{task}");
    let (approvals, results) = prompts_of(&gateway, &key, id).await;
    let resolved: Vec<&Value> = approvals.iter().filter(|a| a["decision"].is_string()).collect();
    let messages: Vec<&str> = resolved.iter().map(|a| a["message"].as_str().unwrap_or_default()).collect();
    assert_eq!(resolved.len(), 3, "{approvals:?}");
    assert!(resolved.iter().all(|a| a["decision"] == "deny"), "{approvals:?}");
    assert!(messages[0].contains("only as Bash(echo:*)"), "{messages:?}");
    assert!(messages[1].contains("Claude Code's own configuration"), "{messages:?}");
    assert!(messages[2].contains("does not allow the WebFetch tool"), "{messages:?}");
    // The model saw each denial as the tool's error; nothing was written.
    assert_eq!(results.len(), 3, "{results:?}");
    for (result, message) in results.iter().zip(&messages) {
        assert_eq!(result["is_error"], true, "{result}");
        assert!(result["output"].as_str().unwrap().contains(message), "{result} / {message}");
    }
    let listing = gateway.get(&format!("/v1/tasks/{id}/files"), &key).await.1;
    assert!(!listing.to_string().contains("out.txt") && !listing.to_string().contains("settings.json"), "{listing}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_compound_command_a_newer_cli_asks_about_runs_in_auto_mode() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    // Claude Code 2.1.332 asks before this ("This command reaches …/.credentials.json");
    // in don't-ask mode it was denied, and 2.1.197 runs it without asking.
    let command = "mkdir -p real && ln -s ../../.. data && (echo a; echo b) > real/out.txt && echo ran > ran.txt";
    let task = gateway.submit(&key, task_body(vec![bash(command), say("done")])).await;
    let id = task["id"].as_str().unwrap();
    let task = gateway.wait_done(&key, id).await;
    assert_eq!(task["status"], "completed", "{task}");
    let (approvals, results) = prompts_of(&gateway, &key, id).await;
    assert_eq!(results[0]["is_error"], false, "{results:?} {approvals:?}");
    assert!(approvals.iter().filter(|a| a["decision"].is_string()).all(|a| a["decision"] == "allow"), "{approvals:?}");
    let ran = gateway.request(reqwest::Method::GET, &format!("/v1/tasks/{id}/files/ran.txt"), &key).send().await;
    assert_eq!(ran.unwrap().text().await.unwrap(), "ran\n");
}
