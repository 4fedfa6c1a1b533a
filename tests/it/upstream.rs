//! A model upstream that cannot be reached is seen, not waited out: the run stops
//! retrying after a few refused connections and fails naming the configured
//! upstream, and `/readyz` says the node is degraded and why.

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn an_unreachable_upstream_fails_the_run_naming_it_and_degrades_readiness() {
    let model = Model::start().await;
    // A port held for the whole test but never listened on: connections are refused,
    // and no other test binding `:0` meanwhile can be handed the same port.
    let held = tokio::net::TcpSocket::new_v4().unwrap();
    held.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let closed = held.local_addr().unwrap();
    let upstream = format!("http://{closed}");
    let env = vec![("ANTHROPIC_BASE_URL".to_string(), upstream.clone())];
    let gateway = Gateway::start(&model, GatewayOptions { env, ..Default::default() }).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let (_, ready) = gateway.get("/readyz", &key).await;
    assert_eq!((ready["status"].as_str(), ready["checks"]["model"]["ok"].as_bool()), (Some("ready"), Some(true)));

    let task = gateway.submit(&key, task_body(vec![say("never reached")])).await;
    let task = gateway.wait_done(&key, task["id"].as_str().unwrap()).await;
    assert_eq!(task["status"], "failed", "{task}");
    let message = task["error"]["message"].as_str().unwrap();
    assert!(message.contains(&upstream) && message.contains("not retrying"), "{message}");
    assert_eq!(task["attempts"], 1, "a refused connection is not retried as if the API were busy: {task}");

    let (status, ready) = gateway.get("/readyz", &key).await;
    assert_eq!((status, ready["status"].as_str()), (200, Some("degraded")), "{ready}");
    let checked = &ready["checks"]["model"];
    assert_eq!((checked["ok"].as_bool(), checked["upstream"].as_str()), (Some(false), Some(upstream.as_str())));
    assert!(checked["consecutive_failures"].as_u64().unwrap() >= 3, "{checked}");
    assert!(checked["last_error"].as_str().is_some_and(|e| !e.is_empty()) && checked["failing_since"].is_string());
}
