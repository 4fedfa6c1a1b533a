//! `ccgate run` and `ccgate tasks …`: a command-line client of a gateway, for people
//! who live in a terminal. It talks to `CCGATE_URL` with the key in `CCGATE_API_KEY`,
//! over the same HTTP API as every other client (`openapi.json`).

mod http;
mod sse;

use std::path::{Path, PathBuf};

use base64::Engine;
use serde_json::{Value, json};

pub use self::http::{Client, ClientError};

/// Exit code of a task that did not complete, or a request the gateway refused.
pub const FAILED: i32 = 1;
/// Exit code of a client that could not start (no URL or key, a file unreadable).
pub const UNUSABLE: i32 = 2;

/// What to do with a task.
pub enum TasksCommand {
    List { status: Option<String>, limit: Option<u32> },
    Get { id: String },
    Cancel { id: String },
    Events { id: String },
    Download { id: String, output: PathBuf, zip: bool },
}

/// `ccgate run`: creates a task from a prompt and files, waits for it (streaming its
/// events with `follow`), prints its result; `FAILED` unless it completed.
pub async fn run(client: &Client, prompt: &str, files: &[PathBuf], follow: bool) -> Result<i32, ClientError> {
    let mut inline = Vec::with_capacity(files.len());
    for file in files {
        let bytes =
            std::fs::read(file).map_err(|e| ClientError::Usage(format!("cannot read {}: {e}", file.display())))?;
        let content = base64::engine::general_purpose::STANDARD.encode(bytes);
        inline.push(json!({"path": workspace_path(file)?, "content_base64": content}));
    }
    let task = client.post_json("/v1/tasks", &json!({"prompt": prompt, "files": inline})).await?;
    let id = task["id"].as_str().unwrap_or_default().to_string();
    eprintln!("ccgate: task {id} queued");
    if follow {
        client.stream_events(&id, &mut std::io::stdout()).await?;
    }
    let task = client.wait_until_finished(&id).await?;
    if let Some(text) = task["result"]["text"].as_str() {
        println!("{text}");
    }
    Ok(exit_code(&task))
}

/// `ccgate tasks …`.
pub async fn tasks(client: &Client, command: TasksCommand) -> Result<i32, ClientError> {
    match command {
        TasksCommand::List { status, limit } => {
            let mut query = Vec::new();
            if let Some(status) = status {
                query.push(format!("status={status}"));
            }
            if let Some(limit) = limit {
                query.push(format!("limit={limit}"));
            }
            let page = client.get_json(&format!("/v1/tasks?{}", query.join("&"))).await?;
            for task in page["data"].as_array().into_iter().flatten() {
                println!("{}\t{}\t{}", text(&task["id"]), text(&task["status"]), text(&task["created_at"]));
            }
            Ok(0)
        }
        TasksCommand::Get { id } => {
            let task = client.get_json(&format!("/v1/tasks/{}", segment(&id))).await?;
            println!("{}", serde_json::to_string_pretty(&task).unwrap_or_default());
            Ok(0)
        }
        TasksCommand::Cancel { id } => {
            let task = client.post_json(&format!("/v1/tasks/{}/cancel", segment(&id)), &json!({})).await?;
            println!("{}", text(&task["status"]));
            Ok(0)
        }
        TasksCommand::Events { id } => {
            client.stream_events(&id, &mut std::io::stdout()).await?;
            Ok(0)
        }
        TasksCommand::Download { id, output, zip } => {
            let format = if zip { "zip" } else { "tar.gz" };
            let path = format!("/v1/tasks/{}/archive?format={format}", segment(&id));
            let bytes = client.download(&path, &output).await?;
            eprintln!("ccgate: wrote {bytes} bytes to {}", output.display());
            Ok(0)
        }
    }
}

/// 0 for a completed task, `FAILED` otherwise.
pub fn exit_code(task: &Value) -> i32 {
    if task["status"] == "completed" { 0 } else { FAILED }
}

/// Where a local file goes in the workspace: a relative path as given, else its name.
fn workspace_path(file: &Path) -> Result<String, ClientError> {
    let relative = file.is_relative() && file.components().all(|c| matches!(c, std::path::Component::Normal(_)));
    let path = if relative { Some(file.to_path_buf()) } else { file.file_name().map(PathBuf::from) };
    path.and_then(|p| p.to_str().map(String::from))
        .ok_or_else(|| ClientError::Usage(format!("{} has no usable file name", file.display())))
}

/// An id as one path segment: anything but what ids are made of is escaped.
fn segment(id: &str) -> String {
    id.bytes()
        .map(|b| if b.is_ascii_alphanumeric() || b == b'_' { (b as char).to_string() } else { format!("%{b:02X}") })
        .collect()
}

fn text(value: &Value) -> &str {
    value.as_str().unwrap_or("-")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_files_keep_relative_paths_and_lose_absolute_ones() {
        assert_eq!(workspace_path(Path::new("src/app.py")).unwrap(), "src/app.py");
        assert_eq!(workspace_path(Path::new("/tmp/notes.md")).unwrap(), "notes.md");
        assert_eq!(workspace_path(Path::new("../up/notes.md")).unwrap(), "notes.md");
    }

    #[test]
    fn ids_cannot_leave_their_path_segment() {
        assert_eq!(segment("tsk_01ABC"), "tsk_01ABC");
        assert_eq!(segment("../keys"), "%2E%2E%2Fkeys");
    }

    #[test]
    fn only_a_completed_task_exits_zero() {
        assert_eq!(exit_code(&json!({"status": "completed"})), 0);
        assert_eq!(exit_code(&json!({"status": "failed"})), FAILED);
        assert_eq!(exit_code(&json!({"status": "cancelled"})), FAILED);
    }
}
