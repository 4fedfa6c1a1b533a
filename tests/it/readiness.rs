//! `/readyz` on a real gateway names the Claude Code it found. (The API's errors,
//! which need no run, are tested in process: `tests/api/errors.rs`.)

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn readyz_names_the_claude_code_it_found() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let (status, ready) = gateway.get("/readyz", "").await;
    assert_eq!(status, 200, "{ready}");
    assert_eq!(ready["checks"]["claude"]["version"], "2.1.197");
}
