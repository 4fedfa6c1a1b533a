//! The node registry: each gateway node's row, written by the node itself
//! (register, heartbeat, state) and by whoever asks it to drain or resume.

use sea_orm::sea_query::Expr;
use sea_orm::{ActiveModelTrait, ColumnTrait, EntityTrait, QueryFilter, QueryOrder, QuerySelect, Set};

use super::entities::node::{self, NodeState};
use super::{Context, Result, Store};

/// What a resume found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Resumed {
    /// The node takes work again (or never stopped): its row now.
    Resumed(node::Model),
    /// The node is shutting down or stopped: it cannot take work again.
    Exiting(node::Model),
    NotFound,
}

impl Store {
    /// Adds this node's row at start.
    pub async fn register_node(&self, row: node::Model) -> Result<()> {
        node::ActiveModel {
            id: Set(row.id),
            name: Set(row.name),
            version: Set(row.version),
            advertise_url: Set(row.advertise_url),
            workers: Set(row.workers),
            running: Set(row.running),
            pid: Set(row.pid),
            state: Set(row.state),
            started_at: Set(row.started_at),
            last_seen_at: Set(row.last_seen_at),
            drain_requested_at: Set(row.drain_requested_at),
        }
        .insert(&self.writer)
        .await
        .during("registering the node")?;
        Ok(())
    }

    /// Records that the node is alive with `running` runs; returns its row as it
    /// is now (with a drain asked for since), or `None` if the row is gone.
    pub async fn node_heartbeat(&self, id: &str, running: i32) -> Result<Option<node::Model>> {
        node::Entity::update_many()
            .col_expr(node::Column::LastSeenAt, Expr::value(crate::timestamp::now_ms()))
            .col_expr(node::Column::Running, Expr::value(running))
            .filter(node::Column::Id.eq(id))
            .exec(&self.writer)
            .await
            .during("recording a node heartbeat")?;
        self.node_row(id).await
    }

    /// Sets the node's state, unless a drain was asked for or withdrawn since the
    /// node read `drain_requested_at` (its next heartbeat decides again then);
    /// `false` when it was not set.
    pub async fn set_node_state(&self, id: &str, state: NodeState, drain_seen: Option<i64>) -> Result<bool> {
        let seen = match drain_seen {
            Some(at) => node::Column::DrainRequestedAt.eq(at),
            None => node::Column::DrainRequestedAt.is_null(),
        };
        let updated = node::Entity::update_many()
            .col_expr(node::Column::State, Expr::value(state))
            .col_expr(node::Column::LastSeenAt, Expr::value(crate::timestamp::now_ms()))
            .filter(node::Column::Id.eq(id))
            .filter(seen)
            .exec(&self.writer)
            .await
            .during("recording a node's state")?;
        Ok(updated.rows_affected == 1)
    }

    /// The last word of a node that exits cleanly.
    pub async fn mark_node_stopped(&self, id: &str) -> Result<()> {
        node::Entity::update_many()
            .col_expr(node::Column::State, Expr::value(NodeState::Stopped))
            .col_expr(node::Column::Running, Expr::value(0))
            .col_expr(node::Column::LastSeenAt, Expr::value(crate::timestamp::now_ms()))
            .filter(node::Column::Id.eq(id))
            .exec(&self.writer)
            .await
            .during("recording that a node stopped")?;
        Ok(())
    }

    /// The node's row as written last (reads through the writer: a node must see
    /// the drain it was just asked for).
    pub async fn node_row(&self, id: &str) -> Result<Option<node::Model>> {
        node::Entity::find_by_id(id).one(&self.writer).await.during("reading a node")
    }

    /// One node, as the API shows it.
    pub async fn node(&self, id: &str) -> Result<Option<node::Model>> {
        node::Entity::find_by_id(id).one(&self.reader).await.during("reading a node")
    }

    /// Nodes, the latest started first, at most `limit`.
    pub async fn nodes(&self, limit: u64) -> Result<Vec<node::Model>> {
        node::Entity::find()
            .order_by_desc(node::Column::StartedAt)
            .order_by_desc(node::Column::Id)
            .limit(limit)
            .all(&self.reader)
            .await
            .during("listing nodes")
    }

    /// Asks the node to drain (keeping the time of an earlier request: draining is
    /// idempotent). Returns its row, or `None` when there is no such node.
    pub async fn request_drain(&self, id: &str) -> Result<Option<node::Model>> {
        node::Entity::update_many()
            .col_expr(node::Column::DrainRequestedAt, Expr::value(crate::timestamp::now_ms()))
            .filter(node::Column::Id.eq(id))
            .filter(node::Column::DrainRequestedAt.is_null())
            .filter(node::Column::State.is_in([NodeState::Active, NodeState::Draining, NodeState::Drained]))
            .exec(&self.writer)
            .await
            .during("asking a node to drain")?;
        self.node_row(id).await
    }

    /// Withdraws a drain: the node claims again from its next heartbeat (at once
    /// when it is the node that was asked).
    pub async fn resume_node(&self, id: &str) -> Result<Resumed> {
        let resumable = [NodeState::Active, NodeState::Draining, NodeState::Drained];
        node::Entity::update_many()
            .col_expr(node::Column::DrainRequestedAt, Expr::value(Option::<i64>::None))
            .col_expr(node::Column::State, Expr::value(NodeState::Active))
            .filter(node::Column::Id.eq(id))
            .filter(node::Column::State.is_in(resumable))
            .exec(&self.writer)
            .await
            .during("resuming a node")?;
        Ok(match self.node_row(id).await? {
            None => Resumed::NotFound,
            Some(row) if resumable.contains(&row.state) => Resumed::Resumed(row),
            Some(row) => Resumed::Exiting(row),
        })
    }

    /// Deletes the rows of nodes not seen since `before` (milliseconds); returns how many.
    pub async fn forget_nodes_unseen_since(&self, before: i64) -> Result<u64> {
        let deleted = node::Entity::delete_many()
            .filter(node::Column::LastSeenAt.lt(before))
            .exec(&self.writer)
            .await
            .during("forgetting old nodes")?;
        Ok(deleted.rows_affected)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::tests::store;

    fn row(id: &str, started_at: i64) -> node::Model {
        node::Model {
            id: id.into(),
            name: "gw".into(),
            version: "1".into(),
            advertise_url: None,
            workers: 2,
            running: 0,
            pid: 1,
            state: NodeState::Active,
            started_at,
            last_seen_at: started_at,
            drain_requested_at: None,
        }
    }

    #[tokio::test]
    async fn drain_is_idempotent_resume_clears_it_and_old_rows_go() {
        let (store, _keep) = store().await;
        let now = crate::timestamp::now_ms();
        store.register_node(row("node_a", now - 10)).await.unwrap();
        store.register_node(row("node_b", now)).await.unwrap();
        let listed: Vec<String> = store.nodes(10).await.unwrap().into_iter().map(|n| n.id).collect();
        assert_eq!(listed, ["node_b", "node_a"], "newest first");
        assert_eq!(store.nodes(1).await.unwrap().len(), 1, "bounded");

        let first = store.request_drain("node_a").await.unwrap().unwrap().drain_requested_at.unwrap();
        while crate::timestamp::now_ms() <= first {
            tokio::task::yield_now().await; // a later request would have a later time
        }
        let again = store.request_drain("node_a").await.unwrap().unwrap().drain_requested_at.unwrap();
        assert_eq!(first, again, "a second drain keeps the first request's time");
        assert_eq!(store.request_drain("node_missing").await.unwrap(), None);

        // A state written against a drain the node did not see is not written.
        assert!(!store.set_node_state("node_a", NodeState::Drained, None).await.unwrap());
        assert_eq!(store.node("node_a").await.unwrap().unwrap().state, NodeState::Active);
        assert!(store.set_node_state("node_a", NodeState::Drained, Some(first)).await.unwrap());
        assert_eq!(store.node("node_a").await.unwrap().unwrap().state, NodeState::Drained);

        let Resumed::Resumed(resumed) = store.resume_node("node_a").await.unwrap() else { panic!("not resumed") };
        assert_eq!((resumed.state, resumed.drain_requested_at), (NodeState::Active, None));
        store.set_node_state("node_b", NodeState::Stopping, None).await.unwrap();
        assert!(matches!(store.resume_node("node_b").await.unwrap(), Resumed::Exiting(_)));
        assert_eq!(store.resume_node("node_missing").await.unwrap(), Resumed::NotFound);
        let stopping = store.request_drain("node_b").await.unwrap().unwrap();
        assert_eq!(stopping.drain_requested_at, None, "a node shutting down is not asked to drain");

        let beat = store.node_heartbeat("node_b", 3).await.unwrap().unwrap();
        assert_eq!(beat.running, 3);
        assert!(beat.last_seen_at >= now);
        let day = 24 * 3600 * 1000;
        store.register_node(row("node_gone", now - 2 * day)).await.unwrap();
        assert_eq!(store.forget_nodes_unseen_since(now - day).await.unwrap(), 1, "only the node unseen for two days");
        let left: Vec<String> = store.nodes(10).await.unwrap().into_iter().map(|n| n.id).collect();
        assert_eq!(left, ["node_b", "node_a"]);
    }
}
