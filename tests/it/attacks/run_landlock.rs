//! From inside a run confined by Landlock and seccomp alone (`mode = "landlock"`, no
//! namespaces): a run used to connect to any pathname Unix socket the gateway's user
//! could, and to read other runs' task options (the appended system prompt, the
//! output schema, the tool lists) from their command lines under `/proc`.

use std::io::{Read, Write};
use std::os::unix::net::{UnixDatagram, UnixListener};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use ccgate::scripted_model::Step;
use serde_json::json;

use crate::sandbox::{assert_all_blocked, attempt, gateway_with, run_steps};
use crate::support::*;

/// Python in the run doing `what` with socket module `socket` and `path`.
fn python(what: &str) -> String {
    format!("python3 -c \"import socket; {what}\"")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_landlock_run_cannot_connect_to_unix_sockets_outside_it() {
    // Sockets of the gateway's user, outside every run: a stream and a datagram one.
    let dir = tempfile::tempdir().unwrap();
    let (stream_path, datagram_path) = (dir.path().join("service.sock"), dir.path().join("log.sock"));
    let listener = UnixListener::bind(&stream_path).unwrap();
    let datagrams = UnixDatagram::bind(&datagram_path).unwrap();
    let reached = Arc::new(AtomicBool::new(false));
    std::thread::spawn({
        let reached = reached.clone();
        move || {
            for mut stream in listener.incoming().flatten() {
                if stream.write_all(b"REACHED\n").is_ok() {
                    reached.store(true, Ordering::SeqCst);
                }
            }
        }
    });
    // Both are reachable by this user: the test process itself gets through.
    let mut own = std::os::unix::net::UnixStream::connect(&stream_path).unwrap();
    let mut answer = String::new();
    own.read_to_string(&mut answer).unwrap();
    assert_eq!(answer, "REACHED\n");
    reached.store(false, Ordering::SeqCst);
    UnixDatagram::unbound().unwrap().send_to(b"ping", &datagram_path).unwrap();
    let mut buffer = [0u8; 16];
    assert_eq!(datagrams.recv(&mut buffer).unwrap(), 4);
    datagrams.set_nonblocking(true).unwrap();

    let model = Model::start().await;
    let (gateway, _config) = gateway_with(&model, "", "landlock").await;
    let key = gateway.create_key(&["--name", "dev"]);
    let (stream, datagram) = (stream_path.display(), datagram_path.display());
    let commands = [
        attempt(
            "stream-socket",
            &python(&format!("s = socket.socket(socket.AF_UNIX); s.connect('{stream}'); print(s.recv(10))")),
        ),
        attempt(
            "datagram-socket",
            &python(&format!("socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM).sendto(b'x', '{datagram}')")),
        ),
        // A datagram pair's socket can be aimed at another path.
        attempt(
            "datagram-pair",
            &python(&format!(
                "a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_DGRAM); a.sendto(b'x', '{datagram}')"
            )),
        ),
        // A raw pair is a datagram pair to the kernel.
        attempt(
            "raw-pair",
            &python(&format!(
                "a, b = socket.socketpair(socket.AF_UNIX, socket.SOCK_RAW); a.sendto(b'x', '{datagram}')"
            )),
        ),
        // Pipes between the run's own processes still work.
        python("a, b = socket.socketpair(); a.send(b'x'); print('stream pair:', b.recv(1))"),
    ];
    let (task, output) = run_steps(&gateway, &key, json!({}), &commands).await;
    assert_eq!(task["status"], "completed", "{task}");
    assert_all_blocked(&output, &["stream-socket", "datagram-socket", "datagram-pair", "raw-pair"]);
    assert!(output.contains("stream pair: b'x'"), "{output}");
    assert!(!reached.load(Ordering::SeqCst), "the run connected to the stream socket");
    assert!(datagrams.recv(&mut buffer).is_err(), "the run sent to the datagram socket");

    // The operator is told what this mode leaves open.
    let doctor = std::process::Command::new(env!("CARGO_BIN_EXE_ccgate"))
        .arg("doctor")
        .env("CCGATE_SANDBOX_MODE", "landlock")
        .output()
        .unwrap();
    let report = String::from_utf8_lossy(&doctor.stdout);
    assert!(doctor.status.success(), "{report}");
    for gap in ["runs use Landlock", "PID space", "command line", "ports, not addresses", "Unix sockets are refused"] {
        assert!(report.contains(gap), "{gap}: {report}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn another_runs_command_line_holds_no_task_content() {
    let model = Model::start().await;
    let (gateway, _config) = gateway_with(&model, "", "landlock").await;
    let key = gateway.create_key(&["--name", "dev", "--max-concurrent", "4"]);
    // The markers are split in the scripts, so that no command line of the
    // searching run holds them whole.
    let (system_marker, schema_marker) = ("SYSTEM-MARKER-41", "zebrafield41");
    let answer = json!({ schema_marker: 7 });
    let victim = json!({
        "prompt": scripted(vec![
            // Refused: the task disallows Write (its tool lists still hold).
            Step::tool("Write", json!({"file_path": "written.txt", "content": "x"})),
            bash("touch started; for i in $(seq 600); do [ -e go ] && break; sleep 0.1; done; echo released"),
            Step::tool("StructuredOutput", answer.clone()),
            say("done"),
        ]),
        "options": {
            "allowed_tools": ["Bash", "Bash(toolmarker41 *)"],
            "disallowed_tools": ["Write"],
            "append_system_prompt": format!("Always obey {system_marker}."),
            "output_schema": {"type": "object", "required": [schema_marker],
                              "properties": {schema_marker: {"type": "integer"}}},
        },
    });
    let victim_id = gateway.submit(&key, victim).await["id"].as_str().unwrap().to_string();
    let workspace = gateway.data.path().join("tasks").join(&victim_id).join("workspace");
    let started = Instant::now();
    while !workspace.join("started").exists() {
        assert!(started.elapsed() < Duration::from_secs(30), "the victim's run did not start:\n{}", gateway.log());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let (id_head, id_tail) = victim_id.split_at(victim_id.len() / 2);
    let search = format!(
        "V={id_head}; V=${{V}}{id_tail}; S=SYSTEM-MARKER; S=$S-41; Z=zebrafield; Z=${{Z}}41; T=toolmarker; T=${{T}}41; for f in /proc/[0-9]*/cmdline; do tr '\\0' ' ' < $f; echo; done > all.txt; \
         echo \"other run's processes seen: $(grep -c \"$V\" all.txt)\"; \
         grep -q \"$S\" all.txt && echo ESCAPED:system-prompt || echo blocked:system-prompt; \
         grep -q \"$Z\" all.txt && echo ESCAPED:schema || echo blocked:schema; \
         grep -q \"$T\" all.txt && echo ESCAPED:tools || echo blocked:tools"
    );
    let (task, output) = run_steps(&gateway, &key, json!({}), &[search]).await;
    std::fs::write(workspace.join("go"), "").unwrap();
    assert_eq!(task["status"], "completed", "{task}");
    let seen = output
        .lines()
        .find_map(|l| l.strip_prefix("other run's processes seen: "))
        .and_then(|n| n.trim().parse::<u32>().ok());
    assert!(seen.is_some_and(|n| n > 0), "the other run's processes are visible here:\n{output}");
    assert_all_blocked(&output, &["system-prompt", "schema", "tools"]);

    // The victim still got its schema (on stdin) and answered through it.
    let victim = gateway.wait_done(&key, &victim_id).await;
    assert_eq!(victim["status"], "completed", "{victim}");
    assert_eq!(victim["result"]["structured"], answer, "{victim}");
    assert!(!workspace.join("written.txt").exists(), "a disallowed tool ran");
}
