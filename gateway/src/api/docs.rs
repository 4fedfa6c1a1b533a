//! `GET /openapi.json` and the API reference at `/docs`, rendered in the browser
//! by a vendored RapiDoc (`gateway/assets/`): nothing is loaded from elsewhere,
//! which the page's Content-Security-Policy enforces.

use axum::http::{HeaderName, HeaderValue, header};
use axum::response::IntoResponse;

const PAGE: &str = include_str!("../../assets/docs.html");
const RAPIDOC: &[u8] = include_bytes!("../../assets/rapidoc-min.js");

/// Everything from this origin only; RapiDoc sets inline styles.
const POLICY: &str = "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; \
    font-src 'self'; connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'";

#[utoipa::path(get, path = "/openapi.json", operation_id = "openapi", tag = "operations",
    summary = "This document",
    description = "The OpenAPI 3.1 description of the API, the same as `openapi.json` in the repository. \
        Example: `GET /openapi.json`.",
    responses((status = 200, description = "This document (OpenAPI 3.1)", body = Object)))]
pub async fn openapi() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], super::openapi::DOCUMENT.as_str())
}

/// `GET /docs`: the API reference page.
pub async fn page() -> impl IntoResponse {
    let headers: [(HeaderName, HeaderValue); 2] = [
        (header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8")),
        (header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(POLICY)),
    ];
    (headers, PAGE)
}

/// `GET /docs/rapidoc-min.js`.
pub async fn rapidoc() -> impl IntoResponse {
    let headers: [(HeaderName, HeaderValue); 2] = [
        (header::CONTENT_TYPE, HeaderValue::from_static("text/javascript; charset=utf-8")),
        (header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=86400")),
    ];
    (headers, RAPIDOC)
}
