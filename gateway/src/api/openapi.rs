//! The OpenAPI 3.1 document. Paths come from the handlers' `#[utoipa::path]`
//! attributes as they are routed (utoipa-axum registers a route and its
//! documentation together), and the answers every operation can give — auth,
//! rate limits, bad bodies, unknown ids, internal errors — are added here, each
//! with the problem+json schema, so no operation leaves them out.

use std::sync::LazyLock;

use utoipa::OpenApi;
use utoipa::openapi::header::Header;
use utoipa::openapi::path::{Operation, ParameterIn};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::{Content, Ref, RefOr, ResponseBuilder};

use super::schema::Problem;

/// The document's fixed parts; paths are added by the routers.
#[derive(OpenApi)]
#[openapi(
    info(
        title = "ccgate",
        description = "Claude Code as an HTTP service: submit coding tasks, follow their events, \
            collect their files. Errors are `application/problem+json` (RFC 9457).",
        license(name = "Apache-2.0", identifier = "Apache-2.0"),
    ),
    components(schemas(Problem)),
    tags(
        (name = "tasks", description = "Create, follow, cancel and continue tasks"),
        (name = "files", description = "A task's workspace"),
        (name = "keys", description = "API keys (scope `admin`)"),
        (name = "audit", description = "The audit log (scope `admin`)"),
        (name = "plugins", description = "WebAssembly plugins in use; reload (scope `admin`)"),
        (name = "nodes", description = "The gateway nodes sharing the database; drain and resume (scope `admin`)"),
        (name = "operations", description = "Health, readiness, metrics and this document"),
    )
)]
pub struct ApiDoc;

/// The name of the bearer-key security scheme.
const API_KEY: &str = "api_key";

/// The whole document, built once.
pub static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    let document = super::openapi_document();
    serde_json::to_string_pretty(&document).unwrap_or_default() + "\n"
});

/// Adds security and the shared error answers to every operation of `doc`.
pub fn complete(doc: &mut utoipa::openapi::OpenApi) {
    let components = doc.components.get_or_insert_with(Default::default);
    components.add_security_scheme(
        API_KEY,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .description(Some("An API key, `ccg_live_…` (or `ccg_test_…`), as `Authorization: Bearer <key>`"))
                .build(),
        ),
    );
    add_header_components(components);
    doc.info.version = env!("CARGO_PKG_VERSION").to_string();
    for (path, item) in doc.paths.paths.iter_mut() {
        let authenticated = path.starts_with("/v1/");
        let operations = [&mut item.get, &mut item.post, &mut item.delete, &mut item.put, &mut item.patch];
        for operation in operations.into_iter().flatten() {
            let has_id = has_path_parameter(operation);
            let has_body = operation.request_body.is_some();
            if authenticated {
                operation.security = Some(vec![SecurityRequirement::new(API_KEY, Vec::<String>::new())]);
                add(operation, 401, "Missing, unknown, revoked or expired API key");
                add(operation, 403, "The key lacks the scope this operation needs");
                add(operation, 429, "Rate limit or quota exceeded; see `Retry-After`");
            }
            if has_id {
                add(operation, 404, "No such resource for this key");
            }
            let retained = ["/files", "/archive", "/messages"].iter().any(|tail| path.contains(tail));
            if path.starts_with("/v1/tasks/{id}") && retained {
                add(operation, 410, "The task's workspace expired and was deleted (`retention.workspace_ttl`)");
            }
            let has_parameters = !operation.parameters.as_ref().is_none_or(Vec::is_empty);
            if has_body || has_parameters {
                add(operation, 400, "The path, query or body cannot be decoded");
                add(operation, 422, "Invalid fields; `errors` names each one by JSON Pointer");
            }
            if has_body {
                add(operation, 413, "The body is larger than `http.max_body_bytes`");
                add(operation, 415, "The body is not `application/json` (or `multipart/form-data` where accepted)");
            }
            add(operation, 500, "Internal error; the cause is in the gateway's log");
            add_headers(operation, authenticated);
        }
    }
}

/// The headers answers carry, defined once under `components/headers`: the name
/// an answer gives each, its component, its type and meaning.
const HEADERS: [(&str, &str, Type, &str); 5] = [
    (
        "x-request-id",
        "RequestId",
        Type::String,
        "The request's id: the client's own, if it sent a sane one, else the gateway's",
    ),
    (
        "RateLimit-Limit",
        "RateLimitLimit",
        Type::Integer,
        "Requests the key may make per minute (absent when the key was not authenticated, and on a request another node relayed)",
    ),
    ("RateLimit-Remaining", "RateLimitRemaining", Type::Integer, "Requests left in the current window"),
    ("RateLimit-Reset", "RateLimitReset", Type::Integer, "Seconds until the window resets"),
    ("Retry-After", "RetryAfter", Type::Integer, "Seconds to wait before trying again"),
];

fn add_header_components(components: &mut utoipa::openapi::Components) {
    for (_, component, kind, description) in HEADERS {
        let mut header = Header::new(ObjectBuilder::new().schema_type(kind).build());
        header.description = Some(description.to_string());
        components.headers.insert(component.to_string(), RefOr::T(header));
    }
}

/// The headers of an operation's answers: `x-request-id` on every one; on `/v1`,
/// the key's `RateLimit-*`; on a 429 or 503, `Retry-After`.
fn add_headers(operation: &mut Operation, authenticated: bool) {
    for (status, response) in operation.responses.responses.iter_mut() {
        let RefOr::T(response) = response else { continue };
        let retry = status == "429" || status == "503";
        for (name, component, _, _) in HEADERS {
            let applies = match name {
                "x-request-id" => true,
                "Retry-After" => retry,
                _ => authenticated,
            };
            if applies {
                let reference = RefOr::Ref(Ref::new(format!("#/components/headers/{component}")));
                response.headers.entry(name.to_string()).or_insert(reference);
            }
        }
    }
}

fn has_path_parameter(operation: &Operation) -> bool {
    operation.parameters.iter().flatten().any(|p| matches!(p, RefOr::T(p) if p.parameter_in == ParameterIn::Path))
}

/// Adds a problem+json answer for `status` unless the operation documents one.
fn add(operation: &mut Operation, status: u16, description: &str) {
    let status = status.to_string();
    if operation.responses.responses.contains_key(&status) {
        return;
    }
    let response = ResponseBuilder::new()
        .description(description)
        .content("application/problem+json", Content::new(Some(Ref::from_schema_name("Problem"))))
        .build();
    operation.responses.responses.insert(status, response.into());
}

#[cfg(test)]
mod tests {
    use serde_json::Value;

    fn document() -> Value {
        serde_json::from_str(&super::DOCUMENT).unwrap()
    }

    /// `openapi.json` at the repository root is the document the gateway serves.
    /// After an API change: `cargo run -q -- openapi > openapi.json`.
    #[test]
    fn the_committed_document_is_current() {
        let committed =
            std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../openapi.json")).unwrap_or_default();
        assert!(
            committed == *super::DOCUMENT,
            "openapi.json is out of date: run `cargo run -q -- openapi > openapi.json` and commit it"
        );
    }

    #[test]
    fn every_operation_documents_its_errors_as_problems() {
        let document = document();
        let mut operations = 0;
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                operations += 1;
                let responses = operation["responses"].as_object().unwrap();
                assert!(responses.contains_key("500"), "{method} {path}");
                for (status, response) in responses {
                    assert!(
                        response["description"].as_str().is_some_and(|d| !d.is_empty()),
                        "{method} {path} {status}"
                    );
                    // `/readyz` answers 503 with its checks, not a problem.
                    let readiness = path == "/readyz" && status == "503";
                    if (status.starts_with('4') || status.starts_with('5')) && !readiness {
                        let schema = &response["content"]["application/problem+json"]["schema"]["$ref"];
                        assert_eq!(schema, "#/components/schemas/Problem", "{method} {path} {status}");
                    }
                }
                if path.starts_with("/v1/") {
                    assert!(responses.contains_key("401") && operation["security"].is_array(), "{method} {path}");
                }
            }
        }
        assert!(operations >= 19, "only {operations} operations are documented");
    }

    /// They become the SDKs' docstrings.
    #[test]
    fn every_operation_has_a_summary_and_a_description_with_an_example() {
        let document = document();
        for (path, item) in document["paths"].as_object().unwrap() {
            for (method, operation) in item.as_object().unwrap() {
                let text = |field: &str| operation[field].as_str().unwrap_or_default().to_string();
                assert!(!text("summary").is_empty() && !text("summary").starts_with('`'), "{method} {path}");
                assert!(text("description").contains("Example"), "{method} {path}: {}", text("description"));
            }
        }
    }

    #[test]
    fn documented_webhook_events_are_the_ones_accepted() {
        let document = document();
        let documented = &document["components"]["schemas"]["WebhookEventName"]["enum"];
        assert_eq!(*documented, serde_json::json!(crate::webhooks::EVENTS));
    }

    #[test]
    fn request_and_task_options_have_the_same_names() {
        let document = document();
        let schemas = &document["components"]["schemas"];
        let names = |schema: &str| {
            let mut names: Vec<String> = schemas[schema]["properties"].as_object().unwrap().keys().cloned().collect();
            names.sort();
            names
        };
        assert_eq!(names("TaskOptions"), names("TaskOptionsRequest"));
    }
}
