//! The shipped deployment recipes, run as far as this machine can: the install
//! script into a temporary root, then the gateway started exactly as the systemd
//! unit and the container recipe start it (their command line and environment,
//! read from the files), serving a task with the installed Claude Code, and
//! draining on SIGTERM within the unit's stop timeout.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;

use crate::support::*;

/// What a recipe says about starting the gateway.
#[derive(Debug, Default)]
struct Recipe {
    command: Vec<String>,
    env: BTreeMap<String, String>,
    env_files: Vec<String>,
    stop_timeout: Option<Duration>,
    stop_signal: Option<String>,
}

/// `ExecStart=`, `Environment=`, `EnvironmentFile=`, `TimeoutStopSec=` and
/// `KillSignal=` of a systemd unit.
fn unit(text: &str) -> Recipe {
    let mut recipe = Recipe::default();
    for line in text.lines().map(str::trim).filter(|l| !l.starts_with('#')) {
        let Some((name, value)) = line.split_once('=') else { continue };
        match name {
            "ExecStart" => recipe.command = value.split_whitespace().map(String::from).collect(),
            "Environment" => {
                let (k, v) = value.split_once('=').expect("Environment=NAME=value");
                recipe.env.insert(k.into(), v.into());
            }
            "EnvironmentFile" => recipe.env_files.push(value.trim_start_matches('-').into()),
            "TimeoutStopSec" => recipe.stop_timeout = Some(Duration::from_secs(value.parse().expect("seconds"))),
            "KillSignal" => recipe.stop_signal = Some(value.into()),
            _ => {}
        }
    }
    recipe
}

/// `ENV` (with `\` continuations), `ENTRYPOINT` and `STOPSIGNAL` of a Containerfile.
fn containerfile(text: &str) -> Recipe {
    let mut recipe = Recipe::default();
    let joined = text.replace("\\\n", " ");
    for line in joined.lines().map(str::trim) {
        if let Some(pairs) = line.strip_prefix("ENV ") {
            for pair in pairs.split_whitespace() {
                let (k, v) = pair.split_once('=').expect("ENV NAME=value");
                recipe.env.insert(k.into(), v.into());
            }
        } else if let Some(entry) = line.strip_prefix("ENTRYPOINT ") {
            recipe.command = serde_json::from_str(entry).expect("ENTRYPOINT as a JSON list");
        } else if let Some(signal) = line.strip_prefix("STOPSIGNAL ") {
            recipe.stop_signal = Some(signal.into());
        }
    }
    recipe
}

/// An absolute path of the recipe, inside the temporary root.
fn rooted(root: &Path, value: &str) -> String {
    if value.starts_with('/') { format!("{}{value}", root.display()) } else { value.to_string() }
}

/// Starts the gateway as `recipe` says, from the tree installed at `root`, with the
/// listen address the only change (a free port). Returns the child and its URL.
fn start(recipe: &Recipe, root: &Path) -> (std::process::Child, String) {
    let mut env: BTreeMap<String, String> = BTreeMap::new();
    for file in &recipe.env_files {
        let text = std::fs::read_to_string(rooted(root, file)).unwrap_or_default();
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty() && !l.starts_with('#')) {
            let (k, v) = line.split_once('=').expect("NAME=value");
            env.insert(k.into(), v.into());
        }
    }
    for (k, v) in &recipe.env {
        let path_like = k.ends_with("_DIR") || k.ends_with("_CONFIG") || k.ends_with("_BIN");
        env.insert(k.clone(), if path_like { rooted(root, v) } else { v.clone() });
    }
    env.insert("CCGATE_LISTEN".into(), "127.0.0.1:0".into());
    let mut child = Command::new(rooted(root, &recipe.command[0]))
        .args(&recipe.command[1..])
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .envs(&env)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the installed gateway");
    let stderr = child.stderr.take().expect("stderr");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut told = false;
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(addr) = listening_on(&line).filter(|_| !told) {
                told = tx.send(Ok(addr)).is_ok();
            } else if !told && line.contains("\"level\":\"ERROR\"") {
                let _ = tx.send(Err(line));
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(Ok(addr)) => (child, format!("http://{addr}")),
        other => panic!("the installed gateway did not start: {other:?}"),
    }
}

/// Runs one task through the installed gateway and its Claude Code.
async fn serves_a_task(root: &Path, recipe: &Recipe, url: &str) {
    let ccgate = rooted(root, &recipe.command[0]);
    let data_dir = rooted(root, &recipe.env["CCGATE_DATA_DIR"]);
    let config = rooted(root, &recipe.env["CCGATE_CONFIG"]);
    let created = Command::new(&ccgate)
        .args(["keys", "create", "--name", "deploy"])
        .env_clear()
        .env("CCGATE_DATA_DIR", &data_dir)
        .env("CCGATE_CONFIG", &config)
        .output()
        .expect("ccgate keys create");
    assert!(created.status.success(), "{}", String::from_utf8_lossy(&created.stderr));
    let key: serde_json::Value = serde_json::from_slice(&created.stdout).expect("keys create prints JSON");
    let key = key["secret"].as_str().expect("a secret");
    let http = reqwest::Client::new();
    let body = json!({"prompt": scripted(vec![bash("echo deployed > out.txt"), say("done")]), "wait_seconds": 60});
    let done: serde_json::Value =
        http.post(format!("{url}/v1/execute")).bearer_auth(key).json(&body).send().await.unwrap().json().await.unwrap();
    assert_eq!(done["status"], "completed", "{done}");
    let ready = http.get(format!("{url}/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
}

/// Sends the recipe's stop signal and waits for a clean exit within its timeout.
fn stops_cleanly(mut child: std::process::Child, recipe: &Recipe) {
    assert_eq!(recipe.stop_signal.as_deref(), Some("SIGTERM"));
    let _ = Command::new("kill").args(["-TERM", &child.id().to_string()]).status();
    let limit = recipe.stop_timeout.unwrap_or(Duration::from_secs(10));
    let since = Instant::now();
    let status = loop {
        if let Some(status) = child.try_wait().expect("wait") {
            break status;
        }
        assert!(since.elapsed() < limit, "the gateway did not stop within {limit:?}");
        std::thread::sleep(Duration::from_millis(50));
    };
    assert!(status.success(), "{status}");
}

#[tokio::test(flavor = "multi_thread")]
async fn the_unit_file_and_the_container_recipe_start_a_gateway_that_serves() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let model = Model::start().await;
    let root_dir = tempfile::tempdir().unwrap();
    let root = root_dir.path();
    let repo = repo_root();
    let install = |extra: &[&str]| {
        let output = Command::new(repo.join("scripts/deploy/install.sh"))
            .args(["--prefix", &root.display().to_string(), "--binary", env!("CARGO_BIN_EXE_ccgate"), "--no-packages"])
            .args(extra)
            .output()
            .expect("run install.sh");
        let said = String::from_utf8_lossy(&output.stderr).into_owned();
        assert!(output.status.success(), "install.sh failed:\n{said}");
        said
    };
    install(&[]);
    // Run again (as the container recipe does, without the unit): nothing is redone.
    let again = install(&["--container"]);
    assert!(!again.contains("installing Claude Code") && !again.contains("wrote"), "{again}");
    let installed: PathBuf = root.join("etc/systemd/system/ccgate.service");
    assert_eq!(std::fs::read(&installed).unwrap(), std::fs::read(repo.join("scripts/deploy/ccgate.service")).unwrap());
    // The model: what an operator writes into the environment file.
    let env_file = root.join("etc/ccgate/env");
    let written = std::fs::read_to_string(&env_file).unwrap();
    std::fs::write(
        &env_file,
        format!(
            "{written}ANTHROPIC_BASE_URL={}\nANTHROPIC_API_KEY={MODEL_KEY}\nCLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC=1\n",
            model.url
        ),
    )
    .unwrap();

    let systemd = unit(&std::fs::read_to_string(&installed).unwrap());
    assert_eq!(systemd.command, ["/usr/local/bin/ccgate", "serve"]);
    let (child, url) = start(&systemd, root);
    serves_a_task(root, &systemd, &url).await;
    stops_cleanly(child, &systemd);

    // The container starts from the same tree with its own environment; the
    // environment file becomes `docker run -e`.
    let mut image = containerfile(&std::fs::read_to_string(repo.join("scripts/deploy/Containerfile")).unwrap());
    image.env_files = systemd.env_files.clone();
    assert_eq!(image.env["CCGATE_LISTEN"], "0.0.0.0:8080", "the image listens beyond its loopback");
    let (child, url) = start(&image, root);
    serves_a_task(root, &image, &url).await;
    stops_cleanly(child, &image);
}
