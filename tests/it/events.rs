//! The SSE event stream: replay, live follow, resume with Last-Event-ID.

use serde_json::json;

use crate::support::*;
use ccgate::scripted_model::{Block, Step};

#[tokio::test(flavor = "multi_thread")]
async fn events_stream_live_and_resume_after_the_last_event_seen() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    // The Bash step holds the run until the test has seen its call on the stream.
    let hold = format!("{UNTIL_RELEASED}; echo two");
    let body = json!({"prompt": scripted(vec![
        Step::blocks(vec![Block::text("one"), Block::tool("Bash", json!({"command": hold}))]),
        say("three"),
    ])});
    let task = gateway.submit(&key, body).await;
    let id = task["id"].as_str().unwrap().to_string();

    // Follow from the start: the tool call arrives while the task is still running.
    let mut stream = LiveEvents::open(&gateway, &key, &id).await;
    stream.until(|(_, t, _)| t == "tool_use").await;
    let (_, running) = gateway.get(&format!("/v1/tasks/{id}"), &key).await;
    assert_eq!(running["status"], "running", "{running}");
    assert!(!stream.events().iter().any(|(_, t, _)| t == "tool_result"), "{:?}", stream.events());
    gateway.release(&id).await;
    // The same stream goes on, and ends when the task finishes.
    let (live, _) = stream.rest().await;
    assert_eq!(live.first().unwrap().2["status"], "queued");
    assert_eq!(live.last().unwrap().2["status"], "completed");
    let seqs: Vec<i64> = live.iter().map(|e| e.0).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    assert!(live.iter().any(|(_, t, d)| t == "tool_result" && d["output"].as_str().unwrap_or("").contains("two")));

    // Resume after event 3: exactly the rest, same ids and payloads.
    let rest = gateway.events(&key, &id, Some(3)).await;
    assert_eq!(rest, live[3..].to_vec());
    let (status, problem) = gateway.get(&format!("/v1/tasks/{id}/events?after=minus-one"), &key).await;
    assert_eq!(status, 422, "{problem}");
}

#[tokio::test(flavor = "multi_thread")]
async fn execute_with_accept_event_stream_streams_the_run_and_ends_with_the_task() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let hold = format!("{UNTIL_RELEASED}; echo streamed");
    let body = json!({"prompt": scripted(vec![bash(&hold), say("finished")])});
    let response = gateway
        .request(reqwest::Method::POST, "/v1/execute", &key)
        .header("Accept", "text/event-stream")
        .json(&body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"].to_str().unwrap().starts_with("text/event-stream"));
    // The run's tool call is streamed while the run waits for the test to release it.
    let mut stream = LiveEvents::from_response(response);
    let (_, _, tool_use) = stream.until(|(_, t, _)| t == "tool_use").await;
    let id = tool_use["task_id"].as_str().expect("events name their task").to_string();
    let (_, running) = gateway.get(&format!("/v1/tasks/{id}"), &key).await;
    assert_eq!(running["status"], "running", "{running}");
    gateway.release(&id).await;
    let (events, text) = stream.rest().await;
    assert!(
        events.iter().any(|(_, t, d)| t == "tool_result" && d["output"].as_str().unwrap_or("").contains("streamed"))
    );
    assert_eq!(events.last().unwrap().2["status"], "completed");
    let last_block = text.trim_end().rsplit("\n\n").next().unwrap();
    assert!(last_block.starts_with("event: task"), "{last_block}");
    let task: serde_json::Value = serde_json::from_str(last_block.split("data: ").nth(1).unwrap()).unwrap();
    assert_eq!(task["status"], "completed");
    assert_eq!(task["result"]["text"], "finished");
}
