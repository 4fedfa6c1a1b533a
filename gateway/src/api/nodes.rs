//! `GET /v1/nodes`, `GET /v1/nodes/{id}`, `POST /v1/nodes/{id}/drain` and
//! `POST /v1/nodes/{id}/resume` (scope `admin`): the gateway nodes sharing the
//! database, and draining one for an upgrade.

use std::collections::HashMap;

use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;

use super::extract::{Caller, Path, Query};
use super::paging::{Order, PageQuery, page_of};
use super::problem::ApiError;
use super::{AppState, paging};
use crate::auth::Scope;
use crate::nodes::{NodeError, NodeList, NodeView};

impl From<NodeError> for ApiError {
    fn from(error: NodeError) -> Self {
        match error {
            e @ NodeError::NotFound(_) => Self::not_found(e.to_string()),
            e @ NodeError::Exiting(_) => Self::new(StatusCode::CONFLICT, "node-exiting", "Node exiting", e.to_string()),
            NodeError::Store(e) => Self::store(e),
        }
    }
}

#[utoipa::path(get, path = "/nodes", operation_id = "listNodes", tag = "nodes",
    summary = "List gateway nodes",
    description = "The gateway processes sharing this database, the latest started first: their state, runs in \
        progress, and `alive` (heartbeat within `queue.lease_seconds`, not stopped). Rows of nodes unseen for a day \
        are deleted. Scope `admin`. Example: `GET /v1/nodes` → `{\"data\": [{\"id\": \"node_…\", \"state\": \
        \"active\", \"alive\": true, …}]}`.",
    params(
        ("limit" = Option<u32>, Query, minimum = 1, maximum = 200, description = "Page size (default 50)"),
        ("cursor" = Option<String>, Query, pattern = "^node_[0-9A-HJKMNP-TV-Z]{26}$", nullable = false,
            description = "`next_cursor` of the previous page"),
    ),
    responses((status = 200, description = "A page of nodes, the latest started first", body = NodeList)))]
pub async fn list(
    State(state): State<AppState>,
    caller: Caller,
    Query(params): Query<HashMap<String, String>>,
) -> Result<Json<NodeList>, ApiError> {
    caller.require(Scope::Admin)?;
    let query = PageQuery::parse(&params, paging::DEFAULT_LIMIT, |c| crate::ids::looks_like(c, "node"))?;
    // A node's id is made at its start: newest first is the latest started first.
    let (data, next_cursor) = page_of(state.node.list().await?, &query, Order::NewestFirst, |n| &n.id);
    Ok(Json(NodeList { data, next_cursor }))
}

#[utoipa::path(get, path = "/nodes/{id}", operation_id = "getNode", tag = "nodes",
    summary = "Get a gateway node",
    description = "One node of the registry. Scope `admin`. Example: `GET /v1/nodes/node_…` → `{\"id\": \
        \"node_…\", \"state\": \"draining\", \"running\": 1, …}`.",
    params(("id" = String, Path, description = "Node id")),
    responses(
        (status = 200, description = "The node", body = NodeView),
        (status = 404, description = "No node has this id", body = super::schema::Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn get(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<NodeView>, ApiError> {
    caller.require(Scope::Admin)?;
    Ok(Json(state.node.get(&id).await?))
}

#[utoipa::path(post, path = "/nodes/{id}/drain", operation_id = "drainNode", tag = "nodes",
    summary = "Drain a gateway node",
    description = "The node stops claiming tasks (at once when it answered this request, else at its next \
        heartbeat, within a third of `queue.lease_seconds`); its `/readyz` answers 503 `draining`, its running \
        tasks finish, and those still running after `queue.drain_grace_seconds` go back to the queue without \
        counting the attempt. With nothing left running its `phase` is `drained` (its `state` stays `draining`). Asking again changes nothing. Scope \
        `admin`. Example: `POST /v1/nodes/node_…/drain` → `{\"state\": \"draining\", \"phase\": \"draining\", …}`.",
    params(("id" = String, Path, description = "Node id")),
    responses(
        (status = 200, description = "The drain is asked for: the node as it is now", body = NodeView),
        (status = 404, description = "No node has this id", body = super::schema::Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn drain(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<NodeView>, ApiError> {
    caller.require(Scope::Admin)?;
    let audit = caller.context.audit_entry(Some(caller.principal.key_id.clone()), "node.drain", "ok");
    Ok(Json(state.node.drain(&id, audit).await?))
}

#[utoipa::path(post, path = "/nodes/{id}/resume", operation_id = "resumeNode", tag = "nodes",
    summary = "Resume a drained gateway node",
    description = "Withdraws a drain: the node claims tasks again (at once when it answered this request, else at \
        its next heartbeat). A node shutting down or stopped cannot be resumed. Scope `admin`. Example: `POST \
        /v1/nodes/node_…/resume` → `{\"state\": \"active\", …}`.",
    params(("id" = String, Path, description = "Node id")),
    responses(
        (status = 200, description = "The node takes work again", body = NodeView),
        (status = 404, description = "No node has this id", body = super::schema::Problem,
            content_type = "application/problem+json"),
        (status = 409, description = "The node is shutting down or stopped", body = super::schema::Problem,
            content_type = "application/problem+json"),
    ))]
pub async fn resume(
    State(state): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Json<NodeView>, ApiError> {
    caller.require(Scope::Admin)?;
    let audit = caller.context.audit_entry(Some(caller.principal.key_id.clone()), "node.resume", "ok");
    Ok(Json(state.node.resume(&id, audit).await?))
}
