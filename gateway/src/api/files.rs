//! `GET /v1/tasks/{id}/files` and `/files/{path}`: the workspace listing and one
//! file's bytes, streamed. Links, FIFOs and devices are never served.

use std::collections::HashMap;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};

use super::AppState;
use super::extract::{Caller, Path, Query};
use super::paging::{Order, PageQuery, page_of};
use super::problem::ApiError;
use super::schema::FileListing;
use crate::auth::Scope;
use crate::task::FieldError;
use crate::workspace::{ArchiveFormat, Listing, WorkspaceError, list, open_beneath, stream_archive};

#[utoipa::path(get, path = "/tasks/{id}/files", operation_id = "listFiles", tag = "files",
    summary = "List a task's workspace",
    description = "The workspace's regular files (path, size, modification time), sorted by path: all of them \
        in one answer, or with `limit`, a page at a time. Example: `GET /v1/tasks/tsk_…/files?limit=100` → \
        `{\"data\": [{\"path\": \"hello.txt\", \"size\": 6, …}], \"next_cursor\": \"hello.txt\", \
        \"truncated\": false}`.",
    params(
        ("id" = String, Path, description = "Task id"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200,
            description = "Page size (default: the whole listing in one answer)"),
        ("cursor" = Option<String>, Query, nullable = false, min_length = 1,
            description = "`next_cursor` of the previous page"),
    ),
    responses((status = 200, description = "The workspace's regular files", body = FileListing)))]
pub async fn index(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
    request: Asked,
) -> Result<Response, ApiError> {
    // Unpaged unless asked: a listing has always been one answer, and clients
    // that read it whole keep working.
    let query = PageQuery::parse(&params, u64::MAX, |c| !c.is_empty())?;
    let task = match request.files(&state, &caller, &id).await? {
        Files::Here(task) => task,
        Files::Relayed(answer) => return Ok(answer),
    };
    let listing = list_local(&state, &task.id).await?;
    let (data, next_cursor) = page_of(listing.files, &query, Order::ByName, |f| &f.path);
    Ok(Json(FileListing { data, next_cursor, truncated: listing.truncated }).into_response())
}

/// The first `shown` (at most 200) regular files of the caller's task's workspace,
/// for the dashboard's page of the task signed in as `on_behalf`: live from the
/// node that runs it, else this node's copy.
pub(crate) async fn workspace_files(
    state: &AppState,
    caller: &Caller,
    id: &str,
    on_behalf: &super::relay::OnBehalf,
    shown: usize,
) -> Result<Listing, ApiError> {
    let principal = caller.require(Scope::Tasks)?;
    let task = state.tasks.with_files(principal, id).await?;
    let page = shown.clamp(1, 200);
    let asked =
        Uri::try_from(format!("/dashboard/tasks/{}/files?limit={page}", task.id)).map_err(ApiError::internal)?;
    let relayed =
        super::relay::from_runner(state, &task, &Method::GET, &asked, &HeaderMap::new(), Some(on_behalf)).await;
    if let Some(answer) = relayed.filter(|answer| answer.status() == StatusCode::OK) {
        let body = axum::body::to_bytes(answer.into_body(), MAX_RELAYED_LISTING_BYTES).await;
        match body.map(|bytes| serde_json::from_slice::<RelayedListing>(&bytes)) {
            Ok(Ok(listing)) => {
                let truncated = listing.truncated || listing.next_cursor.is_some();
                return Ok(Listing { files: listing.data, truncated });
            }
            Ok(Err(e)) => tracing::warn!(task_id = %task.id, error = %e, "a relayed listing did not parse"),
            Err(e) => tracing::warn!(task_id = %task.id, error = %e, "a relayed listing could not be read"),
        }
    }
    // Here, the same first page the running node would give.
    state.tasks.local_copy(&task).await?;
    let listing = list_local(state, &task.id).await?;
    let first = PageQuery { limit: page as u64, cursor: None };
    let (files, next_cursor) = page_of(listing.files, &first, Order::ByName, |f| &f.path);
    Ok(Listing { files, truncated: listing.truncated || next_cursor.is_some() })
}

/// The most a page of a listing relayed for the dashboard may weigh (200 files of
/// long paths).
const MAX_RELAYED_LISTING_BYTES: usize = 4 << 20;

/// A page of `GET /v1/tasks/{id}/files` as another node answers it.
#[derive(serde::Deserialize)]
struct RelayedListing {
    data: Vec<crate::workspace::WorkspaceFile>,
    next_cursor: Option<String>,
    truncated: bool,
}

async fn list_local(state: &AppState, task_id: &str) -> Result<Listing, ApiError> {
    let root = state.tasks.dirs(task_id).workspace;
    tokio::task::spawn_blocking(move || list(&root)).await.map_err(ApiError::internal)?.map_err(workspace_error)
}

/// What a file request asked, to pass it on to the node running the task; and
/// for a dashboard request, the signed-in key it is made for.
pub struct Asked {
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    on_behalf: Option<super::relay::OnBehalf>,
}

/// Where the caller's task's files are answered from.
enum Files {
    /// Here: the task, whose copy on this node is current (or live).
    Here(Box<crate::store::entities::task::Model>),
    /// By the node that runs it.
    Relayed(Response),
}

impl Asked {
    async fn files(&self, state: &AppState, caller: &Caller, id: &str) -> Result<Files, ApiError> {
        let principal = caller.require(Scope::Tasks)?;
        let task = state.tasks.with_files(principal, id).await?;
        let on_behalf = self.on_behalf.as_ref();
        if let Some(answer) =
            super::relay::from_runner(state, &task, &self.method, &self.uri, &self.headers, on_behalf).await
        {
            return Ok(Files::Relayed(answer));
        }
        state.tasks.local_copy(&task).await?;
        Ok(Files::Here(Box::new(task)))
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Asked {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut axum::http::request::Parts, _: &S) -> Result<Self, Self::Rejection> {
        // The path the client asked for, before any nesting stripped a prefix.
        let uri =
            parts.extensions.get::<axum::extract::OriginalUri>().map_or_else(|| parts.uri.clone(), |o| o.0.clone());
        let on_behalf = parts.extensions.get::<super::relay::OnBehalf>().cloned();
        Ok(Self { method: parts.method.clone(), uri, headers: parts.headers.clone(), on_behalf })
    }
}

#[utoipa::path(get, path = "/tasks/{id}/files/{path}", operation_id = "downloadFile", tag = "files",
    summary = "Download a workspace file",
    description = "One regular file of the task's workspace, as bytes. Example: `GET \
        /v1/tasks/tsk_…/files/src%2Fapp.py`.",
    params(("id" = String, Path, description = "Task id"), ("path" = String, Path, description = "Path in the workspace")),
    responses((status = 200, description = "The file's bytes", content_type = "application/octet-stream",
        body = Vec<u8>)))]
pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, path)): Path<(String, String)>,
    request: Asked,
) -> Result<Response, ApiError> {
    let task = match request.files(&state, &caller, &id).await? {
        Files::Here(task) => task,
        Files::Relayed(answer) => return Ok(answer),
    };
    let root = state.tasks.dirs(&task.id).workspace;
    let file = tokio::task::spawn_blocking(move || open_beneath(&root, &path))
        .await
        .map_err(ApiError::internal)?
        .map_err(workspace_error)?;
    let length = file.metadata().map_err(ApiError::internal)?.len();
    let body = super::body::file_body(tokio::fs::File::from_std(file), length);
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    Ok(response)
}

#[derive(serde::Deserialize)]
pub struct ArchiveQuery {
    format: Option<String>,
}

/// `GET /v1/tasks/{id}/archive`: the workspace as `.tar.gz` (default) or `?format=zip`.
#[utoipa::path(get, path = "/tasks/{id}/archive", operation_id = "downloadArchive", tag = "files",
    summary = "Download the workspace",
    description = "The whole workspace as a `.tar.gz` (default) or `.zip` archive, streamed. Example: `GET \
        /v1/tasks/tsk_…/archive?format=zip`.",
    params(("id" = String, Path, description = "Task id"),
        ("format" = Option<String>, Query, pattern = "^(tar\\.gz|tgz|zip)$", description = "`tar.gz` (default) or `zip`")),
    responses((status = 200, description = "The workspace's regular files as one archive", content(
        (Vec<u8> = "application/gzip"),
        (Vec<u8> = "application/zip"),
    ))))]
pub async fn archive(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(query): Query<ArchiveQuery>,
    request: Asked,
) -> Result<Response, ApiError> {
    caller.require(Scope::Tasks)?;
    let format = match query.format.as_deref() {
        None | Some("tar.gz" | "tgz") => ArchiveFormat::TarGz,
        Some("zip") => ArchiveFormat::Zip,
        Some(_) => {
            return Err(ApiError::validation(vec![FieldError::new("/query/format", "must be \"tar.gz\" or \"zip\"")]));
        }
    };
    let task = match request.files(&state, &caller, &id).await? {
        Files::Here(task) => task,
        Files::Relayed(answer) => return Ok(answer),
    };
    let root = state.tasks.dirs(&task.id).workspace;
    let chunks = stream_archive(root, format);
    let body =
        Body::from_stream(futures_util::stream::unfold(
            chunks,
            |mut rx| async move { rx.recv().await.map(|c| (c, rx)) },
        ));
    let mut response = (StatusCode::OK, body).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(format.content_type()));
    let disposition = format!("attachment; filename=\"{}.{}\"", task.id, format.extension());
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        headers.insert(header::CONTENT_DISPOSITION, value);
    }
    Ok(response)
}

fn workspace_error(error: WorkspaceError) -> ApiError {
    match error {
        WorkspaceError::NotFound => ApiError::not_found("no such file in the task's workspace"),
        WorkspaceError::NotServed(why) => {
            ApiError::not_found(format!("not a regular file inside the workspace: {why}"))
        }
        WorkspaceError::Io(e) => ApiError::internal(e),
    }
}
