//! Creating, running, reading and listing tasks.

use std::time::Duration;

use serde_json::json;

use crate::support::*;
use ccgate::scripted_model::Step;

#[tokio::test(flavor = "multi_thread")]
async fn a_task_runs_bash_write_and_edit_in_its_workspace() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let body = json!({
        "prompt": scripted(vec![
            bash("echo hello > hello.txt && cat input/data.txt >> hello.txt"),
            Step::tool("Write", json!({"file_path": "notes.txt", "content": "one\n"})),
            Step::tool("Edit", json!({"file_path": "notes.txt", "old_string": "one", "new_string": "two"})),
            say("all done"),
        ]),
        "priority": 3,
        "metadata": {"ticket": "ENG-42"},
        "files": [{"path": "input/data.txt", "content": "from the client\n"}],
        "options": {"max_turns": 10, "timeout_seconds": 120},
    });
    let response = gateway.request(reqwest::Method::POST, "/v1/tasks", &key).json(&body).send().await.unwrap();
    assert_eq!(response.status(), 202);
    let id = response.json::<serde_json::Value>().await.unwrap()["id"].as_str().unwrap().to_string();
    assert!(id.starts_with("tsk_"));

    let task = gateway.wait_done(&key, &id).await;
    let (_, ready) = gateway.get("/readyz", &key).await;
    let installed = ready["checks"]["claude"]["version"].as_str().unwrap().to_string();
    let ran = task["turns"][0]["claude_code_version"].as_str().expect("the turn records the CLI version");
    assert!(installed.starts_with(ran), "{installed} vs {ran}");
    assert_eq!(task["status"], "completed", "{task}");
    assert_eq!(task["result"]["text"], "all done");
    assert_eq!(task["result"]["partial"], false);
    assert!(task["result"]["session_id"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(task["result"]["usage"]["input_tokens"].as_u64().unwrap() > 0);
    assert_eq!(task["metadata"]["ticket"], "ENG-42");
    assert_eq!(task["priority"], 3);
    assert_eq!(task["attempts"], 1);
    assert_eq!(task["turns"][0]["status"], "completed");
    let workspace = gateway.data.path().join("tasks").join(&id).join("workspace");
    assert_eq!(std::fs::read_to_string(workspace.join("hello.txt")).unwrap(), "hello\nfrom the client\n");
    assert_eq!(std::fs::read_to_string(workspace.join("notes.txt")).unwrap(), "two\n");

    // The event log has the run in order.
    let events = gateway.events(&key, &id, None).await;
    let types: Vec<&str> = events.iter().map(|(_, t, _)| t.as_str()).collect();
    for expected in ["status", "system", "tool_use", "tool_result", "assistant", "result"] {
        assert!(types.contains(&expected), "{expected} missing from {types:?}");
    }
    assert_eq!(events.last().unwrap().2["status"], "completed");
    assert!(events.windows(2).all(|w| w[1].0 == w[0].0 + 1), "sequence numbers are gap-free");
    let tool_use = events.iter().find(|(_, t, _)| t == "tool_use").unwrap();
    assert_eq!(tool_use.2["tool"], "Bash");
    assert_eq!(tool_use.2["task_id"], id.as_str());
}

#[tokio::test(flavor = "multi_thread")]
async fn execute_waits_for_the_result_or_answers_202() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    // One task at a time for this key, so a blocker holds the next one in the queue.
    let key = gateway.create_key(&["--name", "dev", "--max-concurrent", "1"]);
    let (status, task) = gateway.post("/v1/execute", &key, &json!({"prompt": scripted(vec![say("quick")])})).await;
    assert_eq!(status, 200, "{task}");
    assert_eq!(task["status"], "completed");
    assert_eq!(task["result"]["text"], "quick");

    let blocker = gateway.submit(&key, json!({"prompt": scripted(vec![bash(UNTIL_RELEASED), say("released")])})).await;
    let blocker_id = blocker["id"].as_str().unwrap();
    gateway.wait_for(&key, blocker_id, &["running"], Duration::from_secs(60)).await;
    let held = json!({"prompt": scripted(vec![say("held")]), "wait_seconds": 1});
    let (status, task) = gateway.post("/v1/execute", &key, &held).await;
    assert_eq!(status, 202, "{task}");
    assert_eq!(task["status"], "queued", "{task}");
    gateway.release(blocker_id).await;
    let done = gateway.wait_done(&key, task["id"].as_str().unwrap()).await;
    assert_eq!(done["result"]["text"], "held", "{done}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_sees_only_its_own_tasks_and_lists_page_and_filter() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let alice = gateway.create_key(&["--name", "alice"]);
    let bob = gateway.create_key(&["--name", "bob"]);
    let mut ids = Vec::new();
    for i in 0..5 {
        let team = if i % 2 == 0 { "red" } else { "blue" };
        let task =
            gateway.submit(&alice, json!({"prompt": scripted(vec![say("hi")]), "metadata": {"team": team}})).await;
        ids.push(task["id"].as_str().unwrap().to_string());
    }
    for id in &ids {
        gateway.wait_done(&alice, id).await;
    }
    // Another key gets 404 for every task route, exactly like a missing task.
    let (status, body) = gateway.get(&format!("/v1/tasks/{}", ids[0]), &bob).await;
    assert_eq!(status, 404);
    assert_eq!(body["type"], "https://ccgate.dev/errors/not-found");
    let (status, _) = gateway.post(&format!("/v1/tasks/{}/cancel", ids[0]), &bob, &json!({})).await;
    assert_eq!(status, 404);
    let (_, list) = gateway.get("/v1/tasks", &bob).await;
    assert_eq!(list["data"].as_array().unwrap().len(), 0);

    // Newest first, two per page, cursor to the end.
    let mut seen = Vec::new();
    let mut path = "/v1/tasks?limit=2".to_string();
    loop {
        let (status, page) = gateway.get(&path, &alice).await;
        assert_eq!(status, 200, "{page}");
        seen.extend(page["data"].as_array().unwrap().iter().map(|t| t["id"].as_str().unwrap().to_string()));
        match page["next_cursor"].as_str() {
            Some(cursor) => path = format!("/v1/tasks?limit=2&cursor={cursor}"),
            None => break,
        }
    }
    let mut newest_first = ids.clone();
    newest_first.reverse();
    assert_eq!(seen, newest_first);

    let (_, red) = gateway.get("/v1/tasks?metadata.team=red&status=completed", &alice).await;
    assert_eq!(red["data"].as_array().unwrap().len(), 3);
    let (_, none) = gateway.get("/v1/tasks?status=running", &alice).await;
    assert_eq!(none["data"].as_array().unwrap().len(), 0);
    let (_, later) = gateway.get("/v1/tasks?created_after=2999-01-01T00:00:00Z", &alice).await;
    assert_eq!(later["data"].as_array().unwrap().len(), 0);
    let (status, bad) = gateway.get("/v1/tasks?limit=0&status=done&bogus=1", &alice).await;
    assert_eq!(status, 422);
    assert_eq!(bad["errors"].as_array().unwrap().len(), 3, "{bad}");
}
