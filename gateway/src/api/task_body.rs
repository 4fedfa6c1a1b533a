//! The body of a request that creates a task: a JSON document, or
//! `multipart/form-data` with a `task` part holding that JSON and file or archive
//! parts, each streamed to the upload's staging directory as it arrives (never
//! held in memory) and digested for `Idempotency-Key` comparisons.

use axum::extract::{FromRequest, Multipart, Request};
use axum::http::{StatusCode, header};
use serde_json::Value;
use tokio::io::AsyncWriteExt;

use super::AppState;
use super::extract::{Caller, JsonBody};
use super::problem::ApiError;
use crate::task::FieldError;
use crate::workspace::inputs::{Upload, UploadedPart};

/// A task-creating request body, not yet validated.
pub struct TaskBody {
    /// The task's JSON fields.
    pub json: Value,
    /// Uploaded parts, when the request was multipart.
    pub upload: Option<Upload>,
    /// Digest of everything the client sent, for idempotency.
    pub digest: blake3::Hash,
}

impl FromRequest<AppState> for TaskBody {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &AppState) -> Result<Self, ApiError> {
        let content_type = request.headers().get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
        if !content_type.to_ascii_lowercase().starts_with("multipart/form-data") {
            let JsonBody(json) = JsonBody::from_request(request, state).await?;
            let digest = blake3::hash(json.to_string().as_bytes());
            return Ok(Self { json, upload: None, digest });
        }
        // Held while the parts are received: a key's stalled uploads cannot pile up.
        let key_id = request.extensions().get::<Caller>().map(|c| c.principal.key_id.clone()).unwrap_or_default();
        let cap = state.config.http.max_uploads_per_key;
        let Some(_slot) = state.uploads.take(&key_id, cap as usize) else {
            return Err(ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "rate-limited",
                "Too many uploads",
                format!("this key already has {cap} uploads in flight (the server's cap http.max_uploads_per_key)"),
            )
            .with_retry_after(1));
        };
        let multipart = Multipart::from_request(request, state)
            .await
            .map_err(|e| ApiError::bad_request(format!("the multipart body cannot be read: {}", e.body_text())))?;
        receive(multipart, state).await
    }
}

async fn receive(mut multipart: Multipart, state: &AppState) -> Result<TaskBody, ApiError> {
    let limits = &state.config.tasks;
    let mut upload = Upload::create(&state.tasks.uploads_dir()).map_err(|e| ApiError::internal(format!("{e}")))?;
    let mut digest = blake3::Hasher::new();
    let mut task = None;
    let mut received = 0u64;
    while let Some(mut field) = multipart.next_field().await.map_err(multipart_error)? {
        let name = field.name().unwrap_or_default().to_string();
        let pointer = UploadedPart::pointer_of(&name);
        let refuse = |message: String| ApiError::validation(vec![FieldError::new(pointer.clone(), message)]);
        if name == "task" {
            if task.is_some() {
                return Err(refuse("is given twice; send one part named task".into()));
            }
            let bytes = field.bytes().await.map_err(multipart_error)?;
            let json: Value = serde_json::from_slice(&bytes)
                .map_err(|e| ApiError::bad_request(format!("the task part is not valid JSON: {e}")))?;
            digest.update(b"task\n").update(json.to_string().as_bytes()).update(b"\n");
            task = Some(json);
            continue;
        }
        let filename = match field.file_name() {
            Some(f) if !f.is_empty() => f.to_string(),
            _ => return Err(refuse("has no filename; a file part's filename is its path in the workspace".into())),
        };
        if upload.parts().len() >= limits.max_input_files {
            return Err(refuse(format!(
                "is one part too many: at most {} file parts are accepted (the server's cap tasks.max_input_files)",
                limits.max_input_files
            )));
        }
        let stored = upload.next_part_path();
        let mut file = tokio::fs::File::create_new(&stored).await.map_err(|e| ApiError::internal(format!("{e}")))?;
        let mut content = blake3::Hasher::new();
        let mut size = 0u64;
        while let Some(chunk) = field.chunk().await.map_err(multipart_error)? {
            size += chunk.len() as u64;
            received += chunk.len() as u64;
            if received > limits.max_input_bytes as u64 {
                return Err(refuse(format!(
                    "brings the uploaded parts past {} bytes (the server's cap tasks.max_input_bytes)",
                    limits.max_input_bytes
                )));
            }
            content.update(&chunk);
            file.write_all(&chunk).await.map_err(|e| ApiError::internal(format!("storing an upload: {e}")))?;
        }
        file.flush().await.map_err(|e| ApiError::internal(format!("storing an upload: {e}")))?;
        for field in [name.as_bytes(), filename.as_bytes(), content.finalize().as_bytes()] {
            digest.update(&(field.len() as u64).to_le_bytes()).update(field);
        }
        upload.push(UploadedPart::new(name, filename, stored, size));
    }
    let Some(json) = task else {
        return Err(ApiError::validation(vec![FieldError::new(
            "/parts/task",
            "is required: a part named task holding the task's JSON",
        )]));
    };
    Ok(TaskBody { json, upload: Some(upload), digest: digest.finalize() })
}

fn multipart_error(e: axum::extract::multipart::MultipartError) -> ApiError {
    if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::payload_too_large()
    } else {
        ApiError::bad_request(format!("the multipart body cannot be read: {}", e.body_text()))
    }
}
