//! The docs' examples, run so that they stay true: every ```` ```sh run ```` block of
//! `docs/getting-started.md` and `docs/api.md`, in order, against a real gateway (the
//! real Claude Code, the scripted model), each checked against the response block the
//! page shows after it. The pages' addresses — the gateway's `127.0.0.1:8080` and the
//! webhook receiver's `127.0.0.1:9000` — are replaced by the test's own free ones.

mod blocks;
mod links;
mod shape;
mod shell;
mod verifier;

use std::time::Duration;

use crate::support::{Gateway, GatewayOptions, Model, repo_root};
use shell::Shell;

/// The pages whose examples run.
const PAGES: [&str; 2] = ["docs/getting-started.md", "docs/api.md"];

/// How long one block may take (a task runs in about a second).
const BLOCK_LIMIT: Duration = Duration::from_secs(120);

/// A free port on loopback, for the pages' webhook receiver.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").expect("bind").local_addr().expect("addr").port()
}

/// Checks what `ran` printed against the page's `response` block.
fn check(response: &blocks::Block, stdout: &str) -> Result<(), String> {
    match response.language.as_str() {
        "json" => {
            let wanted = shape::json_values(&response.text)?;
            let got = shape::json_values(stdout)?;
            if wanted.len() != got.len() {
                return Err(format!("{} JSON values where the page shows {}: {stdout}", got.len(), wanted.len()));
            }
            wanted.iter().zip(&got).try_for_each(|(w, g)| shape::matches(w, g, ""))
        }
        "http" => http(&response.text, stdout),
        _ => shape::lines_match(&response.text, stdout),
    }
}

/// An HTTP answer (`curl -si`): its status, the headers the page names, its body.
fn http(wanted: &str, got: &str) -> Result<(), String> {
    let split = |text: &str| {
        let text = text.replace("\r\n", "\n");
        let (head, body) = text.split_once("\n\n").map_or((text.clone(), String::new()), |(h, b)| (h.into(), b.into()));
        (head, body)
    };
    let ((wanted_head, wanted_body), (got_head, got_body)) = (split(wanted), split(got));
    let status = |head: &str| head.lines().next().and_then(|l| l.split_whitespace().nth(1)).map(String::from);
    if status(&wanted_head) != status(&got_head) {
        return Err(format!("status {:?} where the page shows {:?}:\n{got}", status(&got_head), status(&wanted_head)));
    }
    for header in wanted_head.lines().skip(1) {
        let (name, value) = header.split_once(':').ok_or_else(|| format!("not a header: {header:?}"))?;
        let found =
            got_head.lines().skip(1).filter_map(|l| l.split_once(':')).any(|(n, v)| {
                n.trim().eq_ignore_ascii_case(name.trim()) && shape::text_matches(value.trim(), v.trim())
            });
        if !found {
            return Err(format!("no header like {header:?} in:\n{got_head}"));
        }
    }
    if wanted_body.trim().is_empty() {
        return Ok(());
    }
    match serde_json::from_str::<serde_json::Value>(&wanted_body) {
        Ok(shape) => {
            let body =
                serde_json::from_str(&got_body).map_err(|e| format!("the body is not JSON ({e}): {got_body}"))?;
            shape::matches(&shape, &body, "")
        }
        Err(_) => shape::lines_match(&wanted_body, &got_body),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_examples_of_the_docs_run_and_answer_as_shown() {
    let model = Model::start().await;
    let hook_port = free_port();
    let options = GatewayOptions {
        env: vec![("CCGATE_WEBHOOK_ALLOWED_HOSTS".into(), format!("127.0.0.1:{hook_port}"))],
        ..Default::default()
    };
    let gateway = Gateway::start(&model, options).await;
    // What scripts/setup.sh leaves for the pages' examples: the first admin key.
    std::fs::write(gateway.data.path().join("admin-key"), &gateway.admin_key).expect("write admin-key");
    let address = gateway.url.trim_start_matches("http://").to_string();
    let print = std::env::var_os("CCGATE_DOCS_PRINT").is_some();
    for page in PAGES {
        let text = std::fs::read_to_string(repo_root().join(page)).unwrap_or_else(|e| panic!("{page}: {e}"));
        let examples = blocks::examples(page, &text);
        assert!(examples.len() >= 5, "{page} has {} runnable examples", examples.len());
        let env = vec![
            ("PATH".to_string(), shell::path_with_ccgate()),
            ("HOME".to_string(), std::env::var("HOME").unwrap_or_default()),
            ("LANG".to_string(), "C.UTF-8".to_string()),
        ];
        let mut terminal = Shell::new(gateway.data.path(), env);
        for example in examples {
            let script = example
                .run
                .text
                .replace("127.0.0.1:8080", &address)
                .replace("127.0.0.1:9000", &format!("127.0.0.1:{hook_port}"));
            let ran = terminal.run(&script, BLOCK_LIMIT);
            if print {
                eprintln!("==> {}\n{}\n--- stderr\n{}", example.run.at, ran.stdout, ran.stderr);
            }
            assert!(
                ran.ok,
                "{} failed:\n{script}\n--- stdout\n{}\n--- stderr\n{}\n--- gateway\n{}",
                example.run.at,
                ran.stdout,
                ran.stderr,
                gateway.log()
            );
            if let Some(response) = &example.response
                && let Err(why) = check(response, &ran.stdout)
            {
                panic!("{} does not answer as {} shows: {why}", example.run.at, response.at);
            }
        }
    }
}
