//! `multipart/form-data` task creation: file parts and archives land in the
//! workspace the real agent works in; hostile uploads are refused by name and
//! leave nothing behind.

use std::io::Write;

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use crate::support::*;

fn tar_gz(build: impl FnOnce(&mut tar::Builder<flate2::write::GzEncoder<Vec<u8>>>)) -> Vec<u8> {
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default()));
    build(&mut builder);
    builder.into_inner().unwrap().finish().unwrap()
}

fn file_header(size: usize, mode: u32) -> tar::Header {
    let mut header = tar::Header::new_gnu();
    header.set_size(size as u64);
    header.set_mode(mode);
    header.set_cksum();
    header
}

fn symlink(builder: &mut tar::Builder<flate2::write::GzEncoder<Vec<u8>>>, path: &str, target: &str) {
    let mut header = tar::Header::new_gnu();
    header.set_entry_type(tar::EntryType::Symlink);
    header.set_size(0);
    builder.append_link(&mut header, path, target).unwrap();
}

fn zip_of(entries: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    let options = zip::write::SimpleFileOptions::default().compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        writer.start_file(*name, options).unwrap();
        writer.write_all(data).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// Form parts: (field name, filename, bytes).
type Parts<'a> = Vec<(&'a str, &'a str, Vec<u8>)>;

fn form(task: &Value, parts: Parts<'_>) -> Form {
    let mut form = Form::new().percent_encode_noop().text("task", task.to_string());
    for (name, filename, bytes) in parts {
        form = form.part(name.to_string(), Part::bytes(bytes).file_name(filename.to_string()));
    }
    form
}

async fn post_form(gateway: &Gateway, key: &str, path: &str, form: Form, idempotency: Option<&str>) -> (u16, Value) {
    let mut request = gateway.request(reqwest::Method::POST, path, key).multipart(form);
    if let Some(idempotency) = idempotency {
        request = request.header("idempotency-key", idempotency);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    (status, response.json().await.unwrap_or(Value::Null))
}

fn entries_in(dir: &std::path::Path) -> usize {
    std::fs::read_dir(dir).map(|d| d.count()).unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread")]
async fn file_parts_and_an_archive_become_the_agents_workspace() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let archive = tar_gz(|b| {
        b.append_data(&mut file_header(12, 0o644), "./src/app.py", &b"print('hi')\n"[..]).unwrap();
        b.append_data(&mut file_header(10, 0o755), "bin/run.sh", &b"#!/bin/sh\n"[..]).unwrap();
        symlink(b, "current", "src/app.py");
    });
    let check = "cat notes/a.txt current && test -x bin/run.sh && echo executable";
    let task = json!({"prompt": scripted(vec![bash(check), say("checked")]), "metadata": {"via": "multipart"}});
    let parts = vec![("archive", "site.tar.gz", archive), ("note", "notes/a.txt", b"note text\n".to_vec())];
    let (status, created) = post_form(&gateway, &key, "/v1/execute", form(&task, parts), None).await;
    assert_eq!(status, 200, "{created}");
    assert_eq!(created["status"], "completed", "{created}");
    assert_eq!(created["metadata"]["via"], "multipart");
    let id = created["id"].as_str().unwrap();
    let events = gateway.events(&key, id, None).await;
    let output =
        events.iter().find(|(_, kind, _)| kind == "tool_result").map(|(_, _, data)| data["output"].to_string());
    let output = output.expect("the agent ran its check");
    for expected in ["note text", "print('hi')", "executable"] {
        assert!(output.contains(expected), "{expected} missing from {output}");
    }
    let (_, listing) = gateway.get(&format!("/v1/tasks/{id}/files"), &key).await;
    let paths: Vec<&str> = listing["data"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["bin/run.sh", "notes/a.txt", "src/app.py"], "the link is kept but not listed");
    assert_eq!(entries_in(&gateway.data.path().join("uploads")), 0, "the staging directory is cleared");
}

#[tokio::test(flavor = "multi_thread")]
async fn hostile_uploads_are_refused_by_name_and_write_nothing() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let task = json!({"prompt": "never runs"});
    let zeros = vec![0u8; 8 * 1024 * 1024];
    let cases: Vec<(&str, Parts<'_>, &str, &str)> = vec![
        (
            "zip slip",
            vec![("archive", "slip.zip", zip_of(&[("fine.txt", b"ok"), ("../../../../tmp/evil.txt", b"x")]))],
            "/parts/archive",
            "entry \"../../../../tmp/evil.txt\" of slip.zip must not contain '..'",
        ),
        (
            "a symlink, then a file through it",
            vec![(
                "archive",
                "link.tgz",
                tar_gz(|b| {
                    symlink(b, "escape", "/tmp");
                    b.append_data(&mut file_header(1, 0o644), "escape/owned", &b"x"[..]).unwrap();
                }),
            )],
            "/parts/archive",
            "entry \"escape/owned\" of link.tgz would be written through the link \"escape\"",
        ),
        (
            "an absolute file part",
            vec![("f", "/etc/cron.d/evil", b"x".to_vec())],
            "/parts/f",
            "file part \"/etc/cron.d/evil\" must be relative to the workspace, not absolute",
        ),
        (
            "a zip bomb",
            vec![("archive", "bomb.zip", zip_of(&[("zeros.bin", &zeros)]))],
            "/parts/archive",
            "tasks.max_archive_ratio",
        ),
        (
            "a name given twice",
            vec![("a", "same.txt", b"1".to_vec()), ("b", "./same.txt", b"2".to_vec())],
            "/parts/b",
            "file part \"./same.txt\" has the same path as file part \"same.txt\"",
        ),
    ];
    for (case, parts, pointer, message) in cases {
        let (status, problem) = post_form(&gateway, &key, "/v1/tasks", form(&task, parts), None).await;
        assert_eq!(status, 422, "{case}: {problem}");
        let errors = problem["errors"].as_array().unwrap();
        assert!(
            errors.iter().any(|e| e["pointer"] == pointer && e["message"].as_str().unwrap().contains(message)),
            "{case}: {problem}"
        );
    }
    let without_task = Form::new().part("f", Part::bytes(b"x".to_vec()).file_name("a.txt"));
    let (status, problem) = post_form(&gateway, &key, "/v1/tasks", without_task, None).await;
    assert_eq!((status, problem["errors"][0]["pointer"].as_str()), (422, Some("/parts/task")), "{problem}");

    let (_, tasks) = gateway.get("/v1/tasks", &key).await;
    assert_eq!(tasks["data"].as_array().unwrap().len(), 0, "{tasks}");
    assert_eq!(entries_in(&gateway.data.path().join("tasks")), 0);
    assert_eq!(entries_in(&gateway.data.path().join("uploads")), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn an_idempotent_multipart_submit_compares_every_part() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let task = json!({"prompt": scripted(vec![say("ok")])});
    let parts = |content: &[u8]| vec![("f", "input.txt", content.to_vec())];
    let (first_status, first) = post_form(&gateway, &key, "/v1/tasks", form(&task, parts(b"v1")), Some("k1")).await;
    let (again_status, again) = post_form(&gateway, &key, "/v1/tasks", form(&task, parts(b"v1")), Some("k1")).await;
    assert_eq!((first_status, again_status), (202, 202), "{first} {again}");
    assert_eq!(first["id"], again["id"]);
    let (status, problem) = post_form(&gateway, &key, "/v1/tasks", form(&task, parts(b"v2")), Some("k1")).await;
    assert_eq!(status, 422, "{problem}");
    assert_eq!(problem["type"], "https://ccgate.dev/errors/idempotency-key-reused");
    gateway.wait_done(&key, first["id"].as_str().unwrap()).await;
    let (_, tasks) = gateway.get("/v1/tasks", &key).await;
    assert_eq!(tasks["data"].as_array().unwrap().len(), 1);
}

/// A chunked upload (no `Content-Length`) past `http.max_body_bytes` is cut off
/// with 413 while it streams, and its staging directory is removed.
#[tokio::test(flavor = "multi_thread")]
async fn a_chunked_upload_past_the_body_limit_gets_413() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let model = Model::start().await;
    let options =
        GatewayOptions { env: vec![("CCGATE_MAX_BODY_BYTES".into(), "1048576".into())], ..Default::default() };
    let gateway = Gateway::start(&model, options).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let addr = gateway.url.trim_start_matches("http://").to_string();
    let mut stream = tokio::net::TcpStream::connect(&addr).await.unwrap();
    let head = format!(
        "POST /v1/tasks HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {key}\r\n\
         Content-Type: multipart/form-data; boundary=XyZ\r\nTransfer-Encoding: chunked\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).await.unwrap();
    let opening = "--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"big.bin\"\r\n\r\n";
    stream.write_all(format!("{:x}\r\n{opening}\r\n", opening.len()).as_bytes()).await.unwrap();
    let chunk = vec![b'a'; 64 * 1024];
    for _ in 0..48 {
        let framed = [format!("{:x}\r\n", chunk.len()).as_bytes(), &chunk, b"\r\n"].concat();
        if stream.write_all(&framed).await.is_err() {
            break; // the gateway stopped reading: it has answered
        }
    }
    let mut answer = Vec::new();
    let _ = tokio::time::timeout(std::time::Duration::from_secs(10), stream.read_to_end(&mut answer)).await;
    let text = String::from_utf8_lossy(&answer);
    assert!(text.starts_with("HTTP/1.1 413"), "{text}");
    assert!(text.contains("payload-too-large"), "{text}");
    // The staged part is removed as the refused request is dropped, which may be just
    // after the answer went out.
    let uploads = gateway.data.path().join("uploads");
    crate::cancel_and_timeout::wait_until(|| entries_in(&uploads) == 0, "the staged upload to be removed").await;
}
