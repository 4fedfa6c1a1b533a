//! Priority order: higher first, FIFO within a priority.

use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn higher_priority_runs_first_and_equal_priorities_keep_their_order() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions { workers: 1, ..Default::default() }).await;
    let key = gateway.create_key(&["--name", "dev", "--max-concurrent", "5"]);
    // The one worker is held until all five are queued, however slowly they arrive.
    let blocker = gateway.submit(&key, json!({"prompt": scripted(vec![bash(UNTIL_RELEASED), say("blocker")])})).await;
    let blocker_id = blocker["id"].as_str().unwrap();
    gateway.wait_for(&key, blocker_id, &["running"], std::time::Duration::from_secs(30)).await;
    let mut submitted = Vec::new();
    for (name, priority) in [("low", -5), ("mid-a", 0), ("high", 7), ("mid-b", 0), ("top", 10)] {
        let task = gateway.submit(&key, json!({"prompt": scripted(vec![say(name)]), "priority": priority})).await;
        submitted.push((name, task["id"].as_str().unwrap().to_string()));
    }
    gateway.release(blocker_id).await;
    let mut started = Vec::new();
    for (name, id) in &submitted {
        let task = gateway.wait_done(&key, id).await;
        started.push((task["started_at"].as_str().unwrap().to_string(), *name));
    }
    started.sort();
    let order: Vec<&str> = started.iter().map(|(_, name)| *name).collect();
    assert_eq!(order, ["top", "high", "mid-a", "mid-b", "low"]);
}
