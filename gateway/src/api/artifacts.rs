//! `GET /v1/tasks/{id}/artifacts` and `/artifacts/{name}`: the files collected
//! after the last turn, downloads with `ETag` (the sha256), `If-None-Match` and
//! single byte ranges (`Range: bytes=…`, 206).

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

use super::extract::{Caller, Path, Query};
use super::paging::{Order, PageQuery, page_of};
use super::problem::ApiError;
use super::schema::ArtifactList;
use super::{AppState, paging};
use crate::auth::Scope;

#[utoipa::path(get, path = "/tasks/{id}/artifacts", operation_id = "listArtifacts", tag = "files",
    summary = "List a task's artifacts",
    description = "The files the task's `artifacts` globs matched after each turn, by name, with size, SHA-256 \
        and the turn that last wrote them, a page at a time. Example: `GET /v1/tasks/tsk_…/artifacts` → \
        `{\"data\": [{\"name\": \"report.md\", \"size\": 2048, …}], \"next_cursor\": null}`.",
    params(
        ("id" = String, Path, description = "Task id"),
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "Page size (default 50)"),
        ("cursor" = Option<String>, Query, nullable = false, min_length = 1,
            description = "`next_cursor` of the previous page"),
    ),
    responses(
        (status = 200, description = "The artifacts collected after the task's last turn", body = ArtifactList),
        (status = 410, description = "The artifacts expired (`retention.artifact_ttl`)", body = super::schema::Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<ArtifactList>, ApiError> {
    let principal = caller.require(Scope::Tasks)?;
    let query = PageQuery::parse(&params, paging::DEFAULT_LIMIT, |c| !c.is_empty())?;
    let task = state.tasks.owned(principal, &id).await?;
    if task.artifacts_expired_at.is_some() {
        return Err(expired());
    }
    let (data, next_cursor) = page_of(state.tasks.artifacts(&task).await?, &query, Order::ByName, |a| &a.name);
    Ok(Json(ArtifactList { data, next_cursor }))
}

#[utoipa::path(get, path = "/tasks/{id}/artifacts/{name}", operation_id = "downloadArtifact", tag = "files",
    summary = "Download an artifact",
    description = "The artifact's bytes as collected (not the live workspace). Supports `Range` (206, 416) and \
        `If-None-Match` with its `ETag` (304). Example: `GET /v1/tasks/tsk_…/artifacts/out%2Freport.md` with \
        `Range: bytes=0-99`.",
    params(
        ("id" = String, Path, description = "Task id"),
        ("name" = String, Path, description = "Artifact name"),
        ("Range" = Option<String>, Header, description = "One byte range, e.g. `bytes=0-1023`"),
        ("If-None-Match" = Option<String>, Header, description = "The `ETag` of a copy the client has"),
    ),
    responses(
        (status = 200, description = "The artifact's bytes, with its `Content-Type` and `ETag` (the sha256)",
            content_type = "application/octet-stream", body = Vec<u8>,
            headers(("ETag" = String, description = "The quoted sha256"), ("Accept-Ranges" = String))),
        (status = 206, description = "The requested range", content_type = "application/octet-stream", body = Vec<u8>,
            headers(("Content-Range" = String, description = "`bytes start-end/size`"))),
        (status = 304, description = "The client's copy (`If-None-Match`) is current"),
        (status = 410, description = "The artifacts expired (`retention.artifact_ttl`)", body = super::schema::Problem,
            content_type = "application/problem+json"),
        (status = 416, description = "The range is outside the artifact", body = super::schema::Problem,
            content_type = "application/problem+json"),
        (status = 503, description = "Artifact storage (`storage.url`) cannot be reached; try again later",
            body = super::schema::Problem, content_type = "application/problem+json"),
    ))]
pub async fn download(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, name)): Path<(String, String)>,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let principal = caller.require(Scope::Tasks)?;
    let task = state.tasks.owned(principal, &id).await?;
    if task.artifacts_expired_at.is_some() {
        return Err(expired());
    }
    let artifacts = state.tasks.artifacts(&task).await?;
    let artifact =
        artifacts.into_iter().find(|a| a.name == name).ok_or_else(|| ApiError::not_found("no such artifact"))?;
    let etag = format!("\"{}\"", artifact.sha256);
    let etag_value = HeaderValue::from_str(&etag).map_err(ApiError::internal)?;
    if headers.get(header::IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| matches_etag(v, &etag)) {
        return Ok((StatusCode::NOT_MODIFIED, [(header::ETAG, etag_value)]).into_response());
    }
    let size = artifact.size;
    let range = match headers.get(header::RANGE).and_then(|v| v.to_str().ok()) {
        Some(value) => match parse_range(value, size) {
            RangeRequest::Satisfiable(start, end) => Some((start, end)),
            RangeRequest::Ignored => None,
            RangeRequest::Unsatisfiable => {
                let mut response = ApiError::new(
                    StatusCode::RANGE_NOT_SATISFIABLE,
                    "range-not-satisfiable",
                    "Range not satisfiable",
                    format!("the artifact has {size} bytes"),
                )
                .into_response();
                let unsatisfied = HeaderValue::from_str(&format!("bytes */{size}")).map_err(ApiError::internal)?;
                response.headers_mut().insert(header::CONTENT_RANGE, unsatisfied);
                return Ok(response);
            }
        },
        None => None,
    };
    let length = range.map_or(size, |(start, end)| end - start + 1);
    let wanted = range.map(|(start, end)| start..end + 1);
    let stream = state.artifacts.open(&task.id, task.artifact_set.as_deref(), &artifact.name, wanted).await;
    let body = axum::body::Body::from_stream(stream.map_err(|e| match e {
        e if e.is_not_found() => ApiError::not_found("the artifact's file is missing"),
        e => ApiError::from(e),
    })?);
    let status = if range.is_some() { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
    let mut response = (status, body).into_response();
    let out = response.headers_mut();
    out.insert(header::CONTENT_TYPE, HeaderValue::from_str(&artifact.content_type).map_err(ApiError::internal)?);
    out.insert(header::CONTENT_LENGTH, HeaderValue::from(length));
    out.insert(header::ETAG, etag_value);
    out.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    // The agent wrote these bytes: never let a browser run them on the API's origin.
    let disposition = format!("attachment; filename=\"{}\"", artifact.name.replace(['"', '\\'], "_"));
    if let Ok(value) = HeaderValue::from_str(&disposition) {
        out.insert(header::CONTENT_DISPOSITION, value);
    }
    out.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    out.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static("sandbox"));
    if let Some((start, end)) = range {
        let content_range = format!("bytes {start}-{end}/{size}");
        out.insert(header::CONTENT_RANGE, HeaderValue::from_str(&content_range).map_err(ApiError::internal)?);
    }
    Ok(response)
}

fn expired() -> ApiError {
    ApiError::gone("the task's artifacts expired and were deleted (retention.artifact_ttl)")
}

fn matches_etag(header: &str, etag: &str) -> bool {
    header.split(',').map(str::trim).any(|candidate| candidate == "*" || candidate.trim_start_matches("W/") == etag)
}

/// What a `Range` header asks of a `size`-byte representation.
#[derive(Debug, PartialEq, Eq)]
enum RangeRequest {
    /// Inclusive byte positions.
    Satisfiable(u64, u64),
    /// Not a single byte range we serve: answer with the whole body (RFC 9110 allows it).
    Ignored,
    Unsatisfiable,
}

fn parse_range(value: &str, size: u64) -> RangeRequest {
    let Some(spec) = value.trim().strip_prefix("bytes=") else { return RangeRequest::Ignored };
    if spec.contains(',') {
        return RangeRequest::Ignored;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return RangeRequest::Ignored };
    let (first, last) = (first.trim(), last.trim());
    let parsed = match (first.is_empty(), last.is_empty()) {
        (true, false) => match last.parse::<u64>() {
            Ok(0) => return RangeRequest::Unsatisfiable,
            Ok(suffix) => Some((size.saturating_sub(suffix), size.saturating_sub(1))),
            Err(_) => return RangeRequest::Ignored,
        },
        (false, _) => match (first.parse::<u64>(), if last.is_empty() { Ok(u64::MAX) } else { last.parse::<u64>() }) {
            (Ok(start), Ok(end)) if start <= end => Some((start, end.min(size.saturating_sub(1)))),
            _ => return RangeRequest::Ignored,
        },
        (true, true) => return RangeRequest::Ignored,
    };
    match parsed {
        Some((start, end)) if size > 0 && start < size => RangeRequest::Satisfiable(start, end),
        _ => RangeRequest::Unsatisfiable,
    }
}

#[cfg(test)]
mod tests {
    use super::RangeRequest::*;
    use super::parse_range;

    #[test]
    fn byte_ranges_follow_rfc_9110() {
        assert_eq!(parse_range("bytes=0-9", 100), Satisfiable(0, 9));
        assert_eq!(parse_range("bytes=90-", 100), Satisfiable(90, 99));
        assert_eq!(parse_range("bytes=-10", 100), Satisfiable(90, 99));
        assert_eq!(parse_range("bytes=50-500", 100), Satisfiable(50, 99));
        assert_eq!(parse_range("bytes=100-", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 100), Unsatisfiable);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), Ignored);
        assert_eq!(parse_range("items=0-1", 100), Ignored);
        assert_eq!(parse_range("bytes=9-1", 100), Ignored);
    }
}
