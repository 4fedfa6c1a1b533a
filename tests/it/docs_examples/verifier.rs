//! The webhook verifier of `docs/api.md`, run against what the gateway signs.

use crate::support::repo_root;

/// The fenced block of `language` in docs/api.md that contains `marker`.
fn api_guide_block(language: &str, marker: &str) -> String {
    let page = std::fs::read_to_string(repo_root().join("docs/api.md")).unwrap();
    super::blocks::blocks("docs/api.md", &page)
        .into_iter()
        .find(|block| block.language == language && block.text.contains(marker))
        .map(|block| block.text)
        .unwrap_or_else(|| panic!("docs/api.md has no {language} block with {marker:?}"))
}

/// The guide's `verify` accepts what the gateway signs (one secret, or two during a
/// rotation), and refuses another body, another secret and an old timestamp.
#[test]
fn the_guides_webhook_verifier_accepts_the_gateways_signatures_only() {
    let verify = api_guide_block("python", "def verify(");
    let (old, new) = ("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ccgate::webhooks::signing::generate_secret());
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
    let body = r#"{"type": "task.completed", "timestamp": "2026-12-05T20:00:00.000Z", "data": {"id": "tsk_1"}}"#;
    let id = "msg_01JDX3N8Q6W2V0M1R5T7Y9B4C2";
    let signed = |secrets: &[&str], at: i64| ccgate::webhooks::signing::signature_header(secrets, id, at, body);
    let cases = [
        (signed(&[old], now), now, body, old, true),
        (signed(&[&new, old], now), now, body, old, true),
        (signed(&[&new, old], now), now, body, new.as_str(), true),
        (signed(&[old], now), now, r#"{"type": "task.failed"}"#, old, false),
        (signed(&[&new], now), now, body, old, false),
        (signed(&[old], now - 3600), now - 3600, body, old, false),
    ];
    let mut script = verify + "\n\nresults = []\n";
    for (signature, at, body, secret, _) in &cases {
        let headers =
            serde_json::json!({"webhook-id": id, "webhook-timestamp": at.to_string(), "webhook-signature": signature});
        script += &format!("results.append(verify({secret:?}, {headers}, {body:?}.encode()))\n", body = body);
    }
    script += "print(results)\n";
    let output = std::process::Command::new("python3").arg("-c").arg(&script).output().expect("run python3");
    let printed = String::from_utf8_lossy(&output.stdout).to_string() + &String::from_utf8_lossy(&output.stderr);
    let expected: Vec<&str> = cases.iter().map(|case| if case.4 { "True" } else { "False" }).collect();
    assert_eq!(printed.trim(), format!("[{}]", expected.join(", ")), "{script}");
}
