//! Messages sent into a running task (`delivery` `queue` and `interrupt`): written
//! into the live session, each a turn of its own with its own events.

use serde_json::{Value, json};

use crate::cancel_and_timeout::wait_until;
use crate::support::*;

/// Starts a task whose first step touches `started.txt` then waits until the test
/// releases it ([`Gateway::release`]), and waits until that step
/// has begun. Returns the task's id.
async fn task_in_a_long_step(gateway: &Gateway, key: &str) -> String {
    let command = format!("touch started.txt; {UNTIL_RELEASED}; echo slept");
    let task = gateway.submit(key, json!({"prompt": scripted(vec![bash(&command), say("the sleep is over")])})).await;
    let id = task["id"].as_str().unwrap().to_string();
    let started = gateway.data.path().join("tasks").join(&id).join("workspace/started.txt");
    wait_until(|| started.exists(), "the step to start").await;
    id
}

fn message(text: &str, delivery: &str) -> Value {
    json!({"prompt": scripted(vec![say(text)]), "delivery": delivery})
}

/// The position of the first event of `kind` whose data matches `check`.
fn position(events: &[(i64, String, Value)], kind: &str, check: impl Fn(&Value) -> bool) -> Option<usize> {
    events.iter().position(|(_, event, data)| event == kind && check(data))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_queued_message_reaches_the_model_as_a_turn_of_its_own() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let id = task_in_a_long_step(&gateway, &key).await;
    let path = format!("/v1/tasks/{id}/messages");

    let (status, conflict) = gateway.post(&path, &key, &message("too early", "next_turn")).await;
    assert_eq!(status, 409, "next_turn still needs a finished task: {conflict}");
    let (status, accepted) = gateway.post(&path, &key, &message("SAW-QUEUED", "queue")).await;
    assert_eq!(status, 202, "{accepted}");
    assert_eq!(accepted["status"], "running");
    assert_eq!(accepted["turns"][1]["status"], "queued", "recorded as the next turn: {accepted}");
    gateway.release(&id).await;

    let done = gateway.wait_done(&key, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["result"]["text"], "SAW-QUEUED", "the model answered the queued message: {done}");
    let turns: Vec<&str> = done["turns"].as_array().unwrap().iter().map(|t| t["status"].as_str().unwrap()).collect();
    assert_eq!(turns, ["completed", "completed"], "{done}");

    let events = gateway.events(&key, &id, None).await;
    let sent = position(&events, "message", |d| d["turn"] == 1 && d["delivery"] == "queue").expect("message event");
    let began = position(&events, "status", |d| d["status"] == "running" && d["turn"] == 1).expect("turn 1 began");
    let answered = position(&events, "assistant", |d| d["text"] == "SAW-QUEUED").expect("the answer");
    assert!(sent < began && began < answered, "the turn's events follow its start: {events:?}");
    // Queued, not interrupted: the sleep ran to its end in the first turn.
    let slept = position(&events, "tool_result", |d| d["output"] == "slept" && d["is_error"] == false);
    assert!(slept.is_some_and(|at| at < began), "{events:?}");
}

/// Follows the task's event stream until an event of `kind` arrives (or fails after 60 s).
async fn wait_for_event(gateway: &Gateway, key: &str, id: &str, kind: &str) {
    LiveEvents::open(gateway, key, id).await.until(|(_, event, _)| event == kind).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_queued_during_the_last_step_gets_a_turn_after_the_first_result() {
    let model = Model::start().await;
    // A CLI left with a closed stdin after a result is stopped a second later.
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("ccgate.toml");
    std::fs::write(&config, "[claude]\nlinger_seconds = 1\n").unwrap();
    let options =
        GatewayOptions { env: vec![("CCGATE_CONFIG".into(), config.display().to_string())], ..Default::default() };
    let gateway = Gateway::start(&model, options).await;
    let key = gateway.create_key(&["--name", "dev"]);
    // The model takes 4 s over its only answer: the message comes while it is on its way.
    let task = gateway.submit(&key, json!({"prompt": scripted(vec![say("FIRST").delay_ms(4000)])})).await;
    let id = task["id"].as_str().unwrap();
    wait_for_event(&gateway, &key, id, "system").await;
    // Its turn outlasts the linger: the run must not be stopped as one that lingers.
    let late = json!({"prompt": scripted(vec![bash("sleep 3"), say("SAW-LATE")]), "delivery": "queue"});
    let (status, accepted) = gateway.post(&format!("/v1/tasks/{id}/messages"), &key, &late).await;
    assert_eq!(status, 202, "{accepted}");

    let done = gateway.wait_done(&key, id).await;
    assert_eq!(done["result"]["text"], "SAW-LATE", "{done}");
    let events = gateway.events(&key, id, None).await;
    let first = position(&events, "assistant", |d| d["text"] == "FIRST").expect("the first answer");
    let began = position(&events, "status", |d| d["status"] == "running" && d["turn"] == 1).expect("turn 1 began");
    assert!(first < began, "{events:?}");
    // Taken by the same run: stdin stayed open after the first turn's result.
    assert!(position(&events, "status", |d| d["status"] == "queued" && d["turn"] == 1).is_none(), "{events:?}");
    assert_eq!(
        events.iter().filter(|(_, e, d)| e == "status" && d["status"] == "running" && d["turn"] == 0).count(),
        1
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_interrupt_ends_the_running_step_and_its_message_answers() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let id = task_in_a_long_step(&gateway, &key).await;

    let (status, accepted) =
        gateway.post(&format!("/v1/tasks/{id}/messages"), &key, &message("SAW-INTERRUPT", "interrupt")).await;
    assert_eq!(status, 202, "{accepted}");

    let done = gateway.wait_done(&key, &id).await;
    assert_eq!(done["status"], "completed", "{done}");
    assert_eq!(done["result"]["text"], "SAW-INTERRUPT", "{done}");
    assert_eq!(done["turns"][1]["status"], "completed", "{done}");
    let events = gateway.events(&key, &id, None).await;
    // The sleep was stopped: its call ended in error, never printing `slept`.
    let stopped = position(&events, "tool_result", |d| d["is_error"] == true).expect("the stopped call");
    assert!(position(&events, "tool_result", |d| d["output"] == "slept").is_none(), "{events:?}");
    let began = position(&events, "status", |d| d["status"] == "running" && d["turn"] == 1).expect("turn 1 began");
    assert!(stopped < began, "{events:?}");
    assert!(position(&events, "message", |d| d["delivery"] == "interrupt").is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_message_into_a_task_that_is_not_running_is_refused() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let task = gateway.submit(&key, json!({"prompt": scripted(vec![say("done")])})).await;
    let id = task["id"].as_str().unwrap();
    let done = gateway.wait_done(&key, id).await;
    let path = format!("/v1/tasks/{id}/messages");
    for delivery in ["queue", "interrupt"] {
        let (status, problem) = gateway.post(&path, &key, &message("late", delivery)).await;
        assert_eq!(status, 409, "{problem}");
        assert_eq!(problem["errors"][0]["pointer"], "/delivery", "{problem}");
        assert!(problem["detail"].as_str().unwrap().contains(delivery), "{problem}");
    }
    let (status, problem) = gateway.post(&path, &key, &message("x", "right-now")).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["errors"][0]["pointer"], "/delivery", "{problem}");
    let (_, after) = gateway.get(&format!("/v1/tasks/{id}"), &key).await;
    assert_eq!(after["turns"], done["turns"], "refused messages change nothing");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cancel_cancels_the_messages_waiting_with_the_task() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let id = task_in_a_long_step(&gateway, &key).await;
    let (status, accepted) =
        gateway.post(&format!("/v1/tasks/{id}/messages"), &key, &message("MUST-NOT-RUN", "queue")).await;
    assert_eq!(status, 202, "{accepted}");

    let (status, cancelled) = gateway.post(&format!("/v1/tasks/{id}/cancel"), &key, &json!({})).await;
    assert_eq!(status, 200);
    let done = gateway.wait_done(&key, &id).await;
    assert_eq!(done["status"], "cancelled", "{cancelled}");
    let turns: Vec<&str> = done["turns"].as_array().unwrap().iter().map(|t| t["status"].as_str().unwrap()).collect();
    assert_eq!(turns, ["cancelled", "cancelled"], "{done}");
    let events = gateway.events(&key, &id, None).await;
    assert!(position(&events, "assistant", |d| d["text"] == "MUST-NOT-RUN").is_none(), "{events:?}");
    assert!(position(&events, "status", |d| d["turn"] == 1 && d["status"] != "cancelled").is_none(), "{events:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_past_its_budget_cannot_steer_its_running_task() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let created = gateway.create_key_json(&["--name", "thrifty", "--budget-per-day", "0.05"]);
    let key = created["secret"].as_str().unwrap().to_string();
    let id = task_in_a_long_step(&gateway, &key).await;
    // Another task of the key spends more than the budget (a scripted answer costs more).
    let spender = gateway.submit(&key, json!({"prompt": scripted(vec![say("spent")])})).await;
    gateway.wait_done(&key, spender["id"].as_str().unwrap()).await;

    let (status, problem) =
        gateway.post(&format!("/v1/tasks/{id}/messages"), &key, &message("one more thing", "queue")).await;
    assert_eq!(status, 402, "{problem}");
    assert_eq!(problem["type"], "https://ccgate.dev/errors/budget-exceeded");
    let (_, task) = gateway.get(&format!("/v1/tasks/{id}"), &key).await;
    assert_eq!(task["turns"].as_array().unwrap().len(), 1, "nothing recorded: {task}");
    gateway.post(&format!("/v1/tasks/{id}/cancel"), &key, &json!({})).await;
}
