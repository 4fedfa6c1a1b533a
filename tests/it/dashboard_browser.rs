//! The dashboard in Debian's Chromium: starts a gateway with the scripted model,
//! then `node --test tests/browser/dashboard.test.mjs` (playwright-core) against
//! it. `scripts/setup.sh --test-tools` installs Chromium and playwright-core.
//! Screenshots of each page are left in `<target>/tmp/dashboard-screenshots`.

use std::time::Duration;

use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
#[ignore = "heavy (Chromium): scripts/test.sh runs it alone after the main run"]
async fn the_dashboard_works_in_a_real_browser() {
    let browser_tests = repo_root().join("tests/browser");
    assert!(
        std::path::Path::new("/usr/bin/chromium").exists()
            && browser_tests.join("node_modules/playwright-core").exists(),
        "Chromium or playwright-core is missing: run scripts/setup.sh --test-tools"
    );
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let alice = gateway.create_key_json(&["--name", "alice"]);
    let bob = gateway.create_key_json(&["--name", "bob"]);
    let quick = task_body(vec![bash("sleep 2"), say("done")]);
    let slow = task_body(vec![busy_for(60), say("too late")]);
    let ask = json!({"prompt": scripted(vec![bash("echo allowed > ok.txt"), say("allowed")]),
                     "options": {"approvals": {"mode": "ask", "timeout_seconds": 120}}});
    let screenshots = std::path::Path::new(env!("CARGO_TARGET_TMPDIR")).join("dashboard-screenshots");
    let run = tokio::process::Command::new("node")
        .arg("--test")
        .arg("--test-timeout=150000")
        .arg(browser_tests.join("dashboard.test.mjs"))
        .current_dir(&browser_tests)
        .env("GATEWAY_URL", &gateway.url)
        .env("ADMIN_KEY", &gateway.admin_key)
        .env("ALICE_KEY", alice["secret"].as_str().unwrap())
        .env("BOB_KEY", bob["secret"].as_str().unwrap())
        .env("BOB_ID", bob["id"].as_str().unwrap())
        .env("BODY_QUICK", quick.to_string())
        .env("BODY_SLOW", slow.to_string())
        .env("BODY_ASK", ask.to_string())
        .env("SCREENSHOT_DIR", &screenshots)
        .kill_on_drop(true)
        .output();
    let run = tokio::time::timeout(Duration::from_secs(180), run).await.expect("the browser test finished").unwrap();
    let output = format!("{}{}", String::from_utf8_lossy(&run.stdout), String::from_utf8_lossy(&run.stderr));
    assert!(run.status.success(), "the browser test failed:\n{output}\ngateway log:\n{}", gateway.log());
    println!("screenshots in {}", screenshots.display());
}
