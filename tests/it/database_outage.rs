//! A PostgreSQL that goes away while a run goes on and comes back: requests get 503
//! `database-unavailable` (not 500), the run goes on during the outage, and its
//! events and outcome are stored when the database returns, by the same attempt (its
//! lease was not lost). The database is a server of the test's own, stopped
//! (`pg_ctl stop -m fast`) and started again on the same port.
//!
//! The outage lasts `CCGATE_TEST_DB_OUTAGE_SECONDS` (default 20: past the 5 s lease
//! and several of the 2 s waits for a connection the test configures, which is what
//! makes a longer one behave the same; 30 s passes too).

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::postgres::OwnServer;
use crate::support::*;

fn outage() -> Duration {
    let seconds = std::env::var("CCGATE_TEST_DB_OUTAGE_SECONDS").ok().and_then(|s| s.parse().ok()).unwrap_or(20);
    Duration::from_secs(seconds)
}

/// Asserts a 503 `database-unavailable` problem with `Retry-After`.
async fn assert_unavailable(response: reqwest::Response, what: &str) {
    assert_eq!(response.status(), 503, "{what}");
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/problem+json", "{what}");
    assert!(headers.contains_key("retry-after"), "{what}");
    let problem: Value = response.json().await.unwrap();
    assert_eq!(problem["type"], "https://ccgate.dev/errors/database-unavailable", "{what}: {problem}");
}

/// Waits until the gateway's log has a line containing every one of `parts`.
async fn log_shows(gateway: &Gateway, parts: &[&str], limit: Duration) {
    let deadline = Instant::now() + limit;
    while !gateway.log().lines().any(|line| parts.iter().all(|part| line.contains(part))) {
        assert!(Instant::now() < deadline, "no log line with {parts:?}; log:\n{}", gateway.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_database_outage_answers_503_and_the_run_stores_its_outcome_when_it_returns() {
    let Some(database) = OwnServer::start() else { return };
    let model = Model::start().await;
    // A request waits 2 s for a connection: quicker 503s, and a run's writes are
    // tried many times within the outage (a few tries of 10 s each would outlast it).
    let config = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(config.path(), "database_wait_seconds = 2\n").unwrap();
    let env = vec![
        ("CCGATE_DATABASE_URL".into(), database.url.clone()),
        ("CCGATE_LEASE_SECONDS".into(), "5".into()),
        ("CCGATE_CONFIG".into(), config.path().display().to_string()),
    ];
    let gateway = Gateway::start(&model, GatewayOptions { workers: 1, env, ..Default::default() }).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let marker = ccgate::ids::new_id("outage");
    let step = format!("{UNTIL_RELEASED}; touch went-on; echo $((6 * 7))-went-on # {marker}");
    let task = gateway.submit(&key, task_body(vec![bash(&step), say("done")])).await;
    let id = task["id"].as_str().unwrap();
    // The database goes away while the run is inside its Bash step.
    let deadline = Instant::now() + Duration::from_secs(60);
    while processes_with(&marker).is_empty() {
        assert!(Instant::now() < deadline, "the run's Bash step did not start; log:\n{}", gateway.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    database.stop();
    let down = Instant::now();
    gateway.release(id).await;
    // At once: each waits `database_wait_seconds` before it is answered.
    let read = gateway.request(reqwest::Method::GET, &format!("/v1/tasks/{id}"), &key).send();
    let submit = gateway.request(reqwest::Method::POST, "/v1/tasks", &key).json(&task_body(vec![say("later")])).send();
    let ready = gateway.http.get(format!("{}/readyz", gateway.url)).send();
    let (read, submit, ready) = tokio::join!(read, submit, ready);
    assert_unavailable(read.unwrap(), "a read").await;
    assert_unavailable(submit.unwrap(), "a submission").await;
    assert_eq!(ready.unwrap().status(), 503, "/readyz takes the node out while its database is away");

    // The run goes on without the database; what it records waits for it.
    let went_on = gateway.data.path().join(format!("tasks/{id}/workspace/went-on"));
    let deadline = Instant::now() + outage();
    while !went_on.exists() {
        assert!(Instant::now() < deadline, "the run did not go on without its database; log:\n{}", gateway.log());
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    log_shows(&gateway, &[r#""what":"events""#, "the database is unavailable; retrying"], outage()).await;
    tokio::time::sleep(outage().saturating_sub(down.elapsed())).await;
    database.resume();
    let outage_lasted = down.elapsed();

    let done = gateway.wait_for(&key, id, &["completed", "failed", "cancelled"], Duration::from_secs(60)).await;
    assert_eq!(done["status"], "completed", "{done}\nlog:\n{}", gateway.log());
    assert_eq!(done["result"]["text"], "done", "{done}");
    assert_eq!(done["attempts"], 1, "the same run, not a second one: {done}");
    let events = gateway.events(&key, id, None).await;
    assert!(
        events.iter().any(|(_, _, data)| data.to_string().contains("42-went-on")),
        "the events of the outage were stored: {events:?}"
    );
    assert!(!gateway.log().contains("internal error"), "no 500s; log:\n{}", gateway.log());

    // Serving again, without a restart.
    let (status, _) = gateway.get("/readyz", &key).await;
    assert_eq!(status, 200);
    let after = gateway.submit(&key, task_body(vec![say("after")])).await;
    let after = gateway.wait_done(&key, after["id"].as_str().unwrap()).await;
    assert_eq!(after["status"], "completed", "{after}");
    eprintln!("database outage of {} ms survived", outage_lasted.as_millis());
}
