//! `ccgate drain`: asks nodes to drain through the database, as the API does,
//! for an operator on the machine (or a deploy script) with the gateway's
//! configuration and no API key.

use std::time::Duration;

use super::state::{MAX_LISTED_NODES, is_alive};
use super::view::NodeView;
use crate::config::Config;
use crate::store::entities::node::{self, NodeState};
use crate::store::{AuditEntry, Store};
use crate::timestamp::now_ms;

/// Which nodes `ccgate drain` asks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// The node with this id.
    Id(String),
    /// Every live node named like this machine's (`node.name`, else the hostname).
    Named(String),
}

/// The nodes `target` names among `rows`: by id whatever their state, by name
/// only the live ones (older rows of the same machine are dead processes).
pub fn chosen(rows: &[node::Model], target: &Target, now: i64, lease_ms: i64) -> Vec<String> {
    rows.iter()
        .filter(|row| match target {
            Target::Id(id) => row.id == *id,
            Target::Named(name) => row.name == *name && is_alive(row.state, row.last_seen_at, now, lease_ms),
        })
        .map(|row| row.id.clone())
        .collect()
}

/// Asks the nodes of `target` to drain; with `wait`, returns once each is
/// drained or stopped (or the drain's grace and a lease have passed). Prints
/// each node as it is then, one JSON line per node.
pub async fn drain(config: &Config, target: Target, wait: bool) -> Result<Vec<NodeView>, String> {
    let database = crate::server::DatabaseLocation::of(config);
    if !database.exists() {
        return Err(format!(
            "no database at {} (set CCGATE_DATA_DIR or --data-dir as for `ccgate serve`)",
            database.describe()
        ));
    }
    let (store, _) = crate::server::open(config).await.map_err(|e| e.to_string())?;
    if store.pending_migrations().await.map_err(|e| e.to_string())? > 0 {
        return Err("the database is not migrated to this version: no node of it can drain yet".into());
    }
    let lease_ms = (config.queue.lease_seconds * 1000) as i64;
    let rows = store.nodes(MAX_LISTED_NODES).await.map_err(|e| e.to_string())?;
    let ids = chosen(&rows, &target, now_ms(), lease_ms);
    if ids.is_empty() {
        return Err(match target {
            Target::Id(id) => format!("no node has the id {id}"),
            Target::Named(name) => format!("no live node is named {name:?} (give --node ID; see GET /v1/nodes)"),
        });
    }
    for id in &ids {
        store.request_drain(id).await.map_err(|e| e.to_string())?;
        let audit = AuditEntry {
            client_addr: Some("cli".into()),
            target: Some(id.clone()),
            ..AuditEntry::new("node.drain", "ok")
        };
        store.audit(audit).await.map_err(|e| e.to_string())?;
    }
    if wait {
        let limit = Duration::from_millis(config.queue.drain_grace_seconds * 1000 + 2 * lease_ms as u64);
        let started = tokio::time::Instant::now();
        while !all_done(&store, &ids).await? {
            if started.elapsed() >= limit {
                return Err(format!("not drained within {} s", limit.as_secs()));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    let mut views = Vec::with_capacity(ids.len());
    for id in &ids {
        if let Some(row) = store.node(id).await.map_err(|e| e.to_string())? {
            views.push(NodeView::of(row, "", now_ms(), lease_ms));
        }
    }
    Ok(views)
}

async fn all_done(store: &Store, ids: &[String]) -> Result<bool, String> {
    for id in ids {
        let row = store.node(id).await.map_err(|e| e.to_string())?;
        if row.is_some_and(|row| !matches!(row.state, NodeState::Drained | NodeState::Stopped)) {
            return Ok(false);
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(id: &str, name: &str, state: NodeState, last_seen_at: i64) -> node::Model {
        node::Model {
            id: id.into(),
            name: name.into(),
            version: "1".into(),
            advertise_url: None,
            workers: 1,
            running: 0,
            pid: 1,
            state,
            started_at: 0,
            last_seen_at,
            drain_requested_at: None,
        }
    }

    #[test]
    fn a_name_chooses_the_live_nodes_of_that_name_and_an_id_its_node() {
        let rows = [
            row("node_a", "gw-1", NodeState::Active, 1_000),
            row("node_old", "gw-1", NodeState::Stopped, 1_000),
            row("node_dead", "gw-1", NodeState::Active, 100),
            row("node_b", "gw-2", NodeState::Active, 1_000),
        ];
        assert_eq!(chosen(&rows, &Target::Named("gw-1".into()), 1_000, 500), ["node_a"]);
        assert_eq!(chosen(&rows, &Target::Id("node_old".into()), 1_000, 500), ["node_old"]);
        assert!(chosen(&rows, &Target::Named("gw-9".into()), 1_000, 500).is_empty());
    }
}
