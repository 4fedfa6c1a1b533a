//! A key's token budget held live while its runs are in flight: runs of one key,
//! on one node or on several, draw on one budget, and a queued task of a key whose
//! running task spent it waits instead of being run.

use std::time::Duration;

use serde_json::{Value, json};

use crate::cancel_and_timeout::wait_until;
use crate::support::*;

/// Tokens one run of `two_requests(command)` uses, measured with a key of its own.
async fn one_run(gateway: &Gateway, command: &str) -> i64 {
    let (meter, meter_id) = key_with(gateway, &["--name", "meter"]);
    let measured = gateway.submit(&meter, two_requests(command)).await;
    let measured = gateway.wait_done(&meter, measured["id"].as_str().unwrap()).await;
    assert_eq!(measured["status"], "completed", "{measured}");
    let one_run = tokens_today(gateway, &meter_id).await;
    assert!(one_run > 0);
    one_run
}

/// Tokens (input and output) the key spent today, as recorded.
async fn tokens_today(gateway: &Gateway, key_id: &str) -> i64 {
    let (_, shown) = gateway.get(&format!("/v1/keys/{key_id}"), &gateway.admin_key).await;
    let today = &shown["spend"]["today"];
    today["input_tokens"].as_i64().unwrap() + today["output_tokens"].as_i64().unwrap()
}

/// A key created with `args`: (secret, id).
fn key_with(gateway: &Gateway, args: &[&str]) -> (String, String) {
    let created = gateway.create_key_json(args);
    (created["secret"].as_str().unwrap().to_string(), created["id"].as_str().unwrap().to_string())
}

/// A task of two model requests with the Bash `command` run between them.
fn two_requests(command: &str) -> Value {
    json!({"prompt": scripted(vec![bash(command), say("done")])})
}

/// Budget for one run's tokens but not for two: of two runs started together, one
/// is stopped by the shared allowance, and the total stays within the budget plus
/// the one request that may overshoot it.
#[tokio::test(flavor = "multi_thread")]
async fn two_runs_of_a_key_share_one_token_allowance() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let one_run = one_run(&gateway, "echo measure").await;

    // Ten per cent over one run: whichever way the two runs' requests interleave,
    // the second run's last request finds the allowance spent.
    let budget = one_run * 11 / 10;
    let (pair, pair_id) =
        key_with(&gateway, &["--name", "pair", "--max-concurrent", "2", "--token-budget-per-day", &budget.to_string()]);
    let first = gateway.submit(&pair, two_requests("echo pair-one")).await;
    let second = gateway.submit(&pair, two_requests("echo pair-two")).await;
    let mut finished = Vec::new();
    for task in [&first, &second] {
        finished.push(gateway.wait_done(&pair, task["id"].as_str().unwrap()).await);
    }
    let completed = finished.iter().filter(|task| task["status"] == "completed").count();
    let spent = tokens_today(&gateway, &pair_id).await;
    assert_eq!(completed, 1, "one run ({one_run} tokens) fits {budget}, two do not; {spent} spent: {finished:?}");
    let stopped = finished.iter().find(|task| task["status"] != "completed").unwrap();
    assert_eq!(stopped["error"]["kind"], "resource_limit", "{stopped}");
    assert_eq!(stopped["error"]["details"]["limit"], "tokens", "{stopped}");
    assert!(spent <= budget + one_run, "spent {spent} of {budget}, past the one request that may overshoot");
}

/// A task claimed while the key's running task has spent the live allowance (not
/// yet recorded in the database) is put back until the budget resets; raising the
/// budget over the API lets it run.
#[tokio::test(flavor = "multi_thread")]
async fn a_task_waits_while_the_live_allowance_is_spent_and_runs_once_the_budget_is_raised() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    // One model request of the scripted model spends thousands of tokens.
    let (key, key_id) =
        key_with(&gateway, &["--name", "frugal", "--max-concurrent", "2", "--token-budget-per-day", "1000"]);
    let marker = format!("spender-{}", ccgate::ids::new_id("m"));
    // The spender's tool call, named by `marker`, holds it running for 3 s.
    let spender = gateway.submit(&key, two_requests(&format!("sleep 3; echo {marker}"))).await;
    let spender_id = spender["id"].as_str().unwrap();
    wait_until(|| !processes_with(&marker).is_empty(), "the spender's tool call").await;

    let waiting = gateway.submit(&key, json!({"prompt": scripted(vec![say("later")])})).await;
    let waiting_id = waiting["id"].as_str().unwrap().to_string();
    let deferred = |log: &str| log.lines().any(|l| l.contains("task deferred") && l.contains(&waiting_id));
    wait_until(|| deferred(&gateway.log()), "the waiting task to be deferred").await;
    let spender = gateway.wait_done(&key, spender_id).await;
    assert_eq!(spender["error"]["details"]["limit"], "tokens", "{spender}");
    let (_, still) = gateway.get(&format!("/v1/tasks/{waiting_id}"), &key).await;
    assert_eq!(still["status"], "queued", "{still}");
    assert!(tokens_today(&gateway, &key_id).await >= 1000, "the spender's use is recorded");

    let raised = json!({"token_budget_per_day": 10_000_000});
    let path = format!("/v1/keys/{key_id}");
    let response = gateway.request(reqwest::Method::PATCH, &path, &gateway.admin_key).json(&raised).send().await;
    assert_eq!(response.unwrap().status(), 200);
    let done = gateway.wait_for(&key, &waiting_id, &["completed", "failed"], Duration::from_secs(60)).await;
    assert_eq!(done["status"], "completed", "{done}");
}

/// A gateway killed (SIGKILL) while a run waits on a tool: what the run used
/// before, recorded with its lease renewals, is charged to the key when the
/// restarted gateway recovers the task, so a crash cannot hide spending from the
/// key's budget. The rerun adds its own.
#[tokio::test(flavor = "multi_thread")]
async fn a_run_lost_with_its_gateway_is_charged_what_it_used() {
    let model = Model::start().await;
    // A short lease: renewals (and what they record) every second.
    let options = GatewayOptions { env: vec![("CCGATE_LEASE_SECONDS".into(), "3".into())], ..Default::default() };
    let mut gateway = Gateway::start(&model, options).await;
    let (key, key_id) = key_with(&gateway, &["--name", "crash", "--token-budget-per-day", "10000000"]);
    let marker = format!("crash-{}", ccgate::ids::new_id("m"));
    let task = gateway.submit(&key, two_requests(&format!("echo {marker} && sleep 30"))).await;
    let id = task["id"].as_str().unwrap().to_string();
    wait_until(|| !processes_with(&marker).is_empty(), "the run's tool to start").await;
    // The first model request is metered by now; wait for a renewal to store it.
    let store = ccgate::store::Store::connect(&gateway.database_url()).await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    let live = loop {
        let row = store.task(&id).await.unwrap().unwrap();
        if row.live_input_tokens > 0 || std::time::Instant::now() > deadline {
            break row.live_input_tokens + row.live_output_tokens;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert!(live > 0, "a lease renewal records what the run used so far");
    assert_eq!(tokens_today(&gateway, &key_id).await, 0, "nothing charged before the run ends");
    drop(store);

    gateway.kill();
    gateway.restart().await;
    let done = gateway.wait_done(&key, &id).await;
    assert_eq!((done["status"].as_str(), done["attempts"].as_i64()), (Some("completed"), Some(2)), "{done}");
    let rerun = done["result"]["usage"]["input_tokens"].as_i64().unwrap()
        + done["result"]["usage"]["cache_creation_input_tokens"].as_i64().unwrap_or(0)
        + done["result"]["usage"]["cache_read_input_tokens"].as_i64().unwrap_or(0)
        + done["result"]["usage"]["output_tokens"].as_i64().unwrap();
    let (_, shown) = gateway.get(&format!("/v1/keys/{key_id}"), &gateway.admin_key).await;
    assert_eq!(shown["spend"]["today"]["runs"], 2, "the lost run and the rerun: {shown}");
    assert_eq!(tokens_today(&gateway, &key_id).await, live + rerun, "{shown}");
}

/// Two nodes on one PostgreSQL database, one worker each, run a task each of one
/// key at the same time: the budget, enough for one run but not two, stops one of
/// them, because each request reserves against what both nodes' runs hold. (With
/// an allowance per node, each would have had the whole budget.)
#[tokio::test(flavor = "multi_thread")]
async fn runs_of_a_key_on_two_nodes_draw_on_one_token_budget() {
    let Some(database) = postgres::database() else { return };
    let model = Model::start().await;
    let storage = tempfile::tempdir().unwrap();
    let node = || {
        let mut env = cluster_env(&database.url, &format!("file://{}", storage.path().display()));
        env.push(("CCGATE_LEASE_SECONDS".into(), "30".into()));
        GatewayOptions { env, workers: 1, ..GatewayOptions::default() }
    };
    let a = Gateway::start(&model, node()).await;
    let b = Gateway::start(&model, node()).await;
    // Both runs make their first request, then wait in Bash while the other makes its own.
    let command = "sleep 2";
    let one_run = one_run(&a, command).await;
    let budget = one_run * 11 / 10;
    let (pair, pair_id) =
        key_with(&a, &["--name", "pair", "--max-concurrent", "2", "--token-budget-per-day", &budget.to_string()]);
    let first = a.submit(&pair, two_requests(command)).await;
    let second = b.submit(&pair, two_requests(command)).await;
    let ids = [&first, &second].map(|task| task["id"].as_str().unwrap().to_string());
    let mut finished = Vec::new();
    for id in &ids {
        finished.push(a.wait_done(&pair, id).await);
    }
    let ran_on = |node: &Gateway, id: &str| node.data.path().join("tasks").join(id).join("workspace").is_dir();
    assert!(
        ids.iter().all(|id| ran_on(&a, id) != ran_on(&b, id)) && ids.iter().any(|id| ran_on(&a, id)),
        "one run on each node"
    );
    let completed = finished.iter().filter(|task| task["status"] == "completed").count();
    let spent = tokens_today(&a, &pair_id).await;
    assert_eq!(completed, 1, "one run ({one_run} tokens) fits {budget}, two do not; {spent} spent: {finished:?}");
    let stopped = finished.iter().find(|task| task["status"] != "completed").unwrap();
    assert_eq!(stopped["error"]["details"]["limit"], "tokens", "{stopped}");
    assert!(spent <= budget + one_run, "spent {spent} of {budget}, past the one request that may overshoot");
}
