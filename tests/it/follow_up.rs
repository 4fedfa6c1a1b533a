//! Follow-up messages continue the same Claude session in the same workspace.

use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn a_follow_up_resumes_the_same_session_in_the_same_workspace() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    // One task at a time for this key: a blocker can hold the follow-up in the queue.
    let key = gateway.create_key(&["--name", "dev", "--max-concurrent", "1"]);
    let first_step = format!("echo first > log.txt; {UNTIL_RELEASED}");
    let task = gateway.submit(&key, json!({"prompt": scripted(vec![bash(&first_step), say("turn one")])})).await;
    let id = task["id"].as_str().unwrap();
    gateway.wait_for(&key, id, &["running"], std::time::Duration::from_secs(30)).await;
    let (status, conflict) =
        gateway.post(&format!("/v1/tasks/{id}/messages"), &key, &json!({"prompt": "too early"})).await;
    assert_eq!(status, 409, "{conflict}");
    gateway.release(id).await;
    let first = gateway.wait_done(&key, id).await;
    assert_eq!(first["status"], "completed");

    let (status, problem) = gateway.post(&format!("/v1/tasks/{id}/messages"), &key, &json!({"prompt": ""})).await;
    assert_eq!(status, 422, "{problem}");
    let blocker = gateway.submit(&key, json!({"prompt": scripted(vec![bash(UNTIL_RELEASED), say("blocker")])})).await;
    let blocker_id = blocker["id"].as_str().unwrap();
    gateway.wait_for(&key, blocker_id, &["running"], std::time::Duration::from_secs(30)).await;
    let follow = json!({"prompt": scripted(vec![bash("echo second >> log.txt"), say("turn two")])});
    let (status, queued) = gateway.post(&format!("/v1/tasks/{id}/messages"), &key, &follow).await;
    assert_eq!(status, 202, "{queued}");
    assert_eq!(queued["status"], "queued", "the key's one slot is the blocker's: {queued}");
    assert_eq!(queued["turns"][1]["status"], "queued", "{queued}");
    gateway.release(blocker_id).await;
    let second = gateway.wait_done(&key, id).await;
    assert_eq!(second["status"], "completed", "{second}");
    assert_eq!(second["result"]["text"], "turn two");
    assert_eq!(second["result"]["session_id"], first["result"]["session_id"], "same Claude session");
    assert_eq!(second["turns"].as_array().unwrap().len(), 2);
    assert_eq!(second["turns"][1]["status"], "completed");
    let log = std::fs::read_to_string(gateway.data.path().join("tasks").join(id).join("workspace/log.txt")).unwrap();
    assert_eq!(log, "first\nsecond\n");
}
