//! Queue semantics of the store on a real SQLite file, or on PostgreSQL with
//! `CCGATE_TEST_BACKEND=postgres`: claim order, fencing of a run that lost its
//! lease, recovery.

use super::*;
use serde_json::json;

use sea_orm::{ConnectionTrait, Statement};

use super::entities::{JsonText, TaskStatus};

/// A migrated store, and what keeps its database alive (a temporary directory,
/// or a database on the throwaway PostgreSQL).
pub(crate) async fn store() -> (Store, Box<dyn std::any::Any>) {
    if crate::test_postgres::selected() {
        let database = crate::test_postgres::database().expect("CCGATE_TEST_BACKEND=postgres needs PostgreSQL");
        return (migrated(&database.url).await, Box::new(database));
    }
    let dir = tempfile::tempdir().unwrap();
    (migrated(&format!("sqlite://{}/t.db?mode=rwc", dir.path().display())).await, Box::new(dir))
}

async fn migrated(url: &str) -> Store {
    let store = Store::connect(url).await.unwrap();
    store.migrate().await.unwrap();
    store
}

pub(crate) async fn key(store: &Store, max_concurrent: u32) -> String {
    let key = NewKey {
        id: crate::ids::new_id("key"),
        prefix: "ccg_live_x".into(),
        secret_hash: crate::ids::new_id("hash"),
        environment: crate::store::entities::Environment::Live,
        webhook_secret: crate::webhooks::signing::generate_secret(),
        fields: KeyFields {
            name: "k".into(),
            scopes: vec!["tasks".into()],
            rate_limit_per_minute: 60,
            max_concurrent_tasks: max_concurrent,
            max_queued_tasks: 100,
            webhook_url: None,
            webhook_events: None,
            budget_micros_per_day: None,
            budget_micros_per_month: None,
            token_budget_per_day: None,
            token_budget_per_month: None,
        },
    };
    store.insert_key(key, AuditEntry::new("key.create", "ok")).await.unwrap().id
}

/// Sets the key's daily token budget (`None`: none).
pub(crate) async fn set_token_budget(store: &Store, key_id: &str, tokens_per_day: Option<i64>) {
    let budget = tokens_per_day.map_or("NULL".to_string(), |tokens| tokens.to_string());
    let update = format!("UPDATE api_keys SET token_budget_per_day = {budget} WHERE id = '{key_id}'");
    store.writer().execute_unprepared(&update).await.unwrap();
}

fn new_row(key_id: &str, priority: i32, max_queued: u32) -> NewTaskRow {
    NewTaskRow {
        id: crate::ids::new_id("tsk"),
        key_id: key_id.into(),
        priority,
        prompt: "p".into(),
        options: crate::task::parse_new_task(&json!({"prompt": "p"}), &Default::default(), false).unwrap().options,
        metadata: Default::default(),
        idempotency: None,
        max_queued,
        artifact_patterns: Vec::new(),
        webhook: None,
        environment: crate::store::entities::Environment::Live,
        snapshot: None,
    }
}

pub(crate) async fn task(store: &Store, key_id: &str, priority: i32) -> String {
    let row = new_row(key_id, priority, 1000);
    match store.insert_task(row, &[], AuditEntry::new("task.create", "ok")).await.unwrap() {
        Inserted::Created(task) => task.id,
        other => panic!("not created: {other:?}"),
    }
}

fn finish(status: TaskStatus) -> FinishRun {
    FinishRun {
        status,
        result: None,
        error: None,
        session_id: None,
        events: vec![EventRecord::new("status", json!({"status": status}))],
        artifacts: None,
        claude_code_version: None,
        cost: None,
        snapshot: None,
        audit: AuditEntry::new("run.finish", "ok"),
    }
}

#[tokio::test]
async fn claims_follow_priority_then_fifo_and_respect_the_key_cap() {
    let (store, _dir) = store().await;
    let key_id = key(&store, 2).await;
    let low = task(&store, &key_id, -1).await;
    let first = task(&store, &key_id, 5).await;
    let second = task(&store, &key_id, 5).await;
    let claimed = store.claim("a", 10_000).await.unwrap().unwrap();
    assert_eq!(claimed.task.id, first);
    assert_eq!(store.claim("a", 10_000).await.unwrap().unwrap().task.id, second);
    // The key runs two tasks, its cap: the third waits until one finishes.
    assert!(store.claim("a", 10_000).await.unwrap().is_none());
    assert!(store.finish_run(&first, &claimed.fence, 0, finish(TaskStatus::Completed)).await.unwrap());
    assert_eq!(store.claim("a", 10_000).await.unwrap().unwrap().task.id, low);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn parallel_creates_cannot_pass_the_queue_cap() {
    let (store, _dir) = store().await;
    let key_id = key(&store, 1).await;
    let inserts = (0..12).map(|_| {
        let (store, row) = (store.clone(), new_row(&key_id, 0, 5));
        tokio::spawn(async move { store.insert_task(row, &[], AuditEntry::new("task.create", "ok")).await.unwrap() })
    });
    let mut created = 0;
    for insert in inserts {
        match insert.await.unwrap() {
            Inserted::Created(_) => created += 1,
            Inserted::QueueFull { queued } => assert_eq!(queued, 5),
            other => panic!("{other:?}"),
        }
    }
    assert_eq!((created, store.queued_count(&key_id).await.unwrap()), (5, 5));
}

#[tokio::test]
async fn a_run_that_lost_its_lease_cannot_write() {
    let (store, _dir) = store().await;
    let key_id = key(&store, 4).await;
    let id = task(&store, &key_id, 0).await;
    let old = store.claim("node-a", 1).await.unwrap().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let lost = store.lost_runs(None).await.unwrap();
    assert_eq!(lost.len(), 1);
    assert_eq!(
        store.recover(&lost[0], 3, lost_error(), None).await.unwrap(),
        Some(RecoveredTask::Requeued(id.clone()))
    );
    let new = store.claim("node-b", 10_000).await.unwrap().unwrap();
    assert_eq!(new.fence.attempt, 2);

    // Everything the old run tries is refused; the new run's writes land.
    assert_eq!(store.append_events(&id, Some(&old.fence), &[EventRecord::new("log", json!({}))]).await.unwrap(), None);
    assert!(store.heartbeat(&id, &old.fence, 10_000, None).await.unwrap().is_none());
    assert!(!store.set_session(&id, &old.fence, "stale").await.unwrap());
    assert!(!store.finish_run(&id, &old.fence, 0, finish(TaskStatus::Completed)).await.unwrap());
    assert_eq!(store.heartbeat(&id, &new.fence, 10_000, None).await.unwrap(), Some(false));
    assert!(store.finish_run(&id, &new.fence, 0, finish(TaskStatus::Completed)).await.unwrap());
    let row = store.task(&id).await.unwrap().unwrap();
    assert_eq!(row.status, TaskStatus::Completed);
    assert_eq!(row.session_id, None);
    let events = store.events_after(&id, 0, 100).await.unwrap();
    let seqs: Vec<i64> = events.iter().map(|e| e.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>(), "gap-free");
}

/// A claim picks each key's next ready task, then the best of those: a key at its
/// cap is passed over however long its backlog (its tasks rank first here), and a
/// retry waiting out its backoff is not its key's next task yet.
#[tokio::test]
async fn a_key_at_its_cap_is_passed_over_whatever_its_backlog() {
    let (store, _dir) = store().await;
    let (busy, other) = (key(&store, 1).await, key(&store, 2).await);
    let first = task(&store, &busy, 5).await;
    for _ in 0..50 {
        task(&store, &busy, 5).await;
    }
    let backing_off = task(&store, &other, 3).await;
    let (low, lower) = (task(&store, &other, 1).await, task(&store, &other, 0).await);
    let later = crate::timestamp::now_ms() + 3_600_000;
    use super::entities::task as row;
    use sea_orm::{ColumnTrait, EntityTrait, QueryFilter};
    let wait = row::Entity::update_many()
        .col_expr(row::Column::NotBefore, sea_orm::sea_query::Expr::value(later))
        .filter(row::Column::Id.eq(&backing_off));
    wait.exec(&store.writer).await.unwrap();
    let claim = || async { store.claim("n", 10_000).await.unwrap().map(|c| c.task.id) };
    assert_eq!(claim().await, Some(first), "the highest priority first");
    assert_eq!(claim().await, Some(low), "past the capped key's 50 and the retry that waits");
    assert_eq!(claim().await, Some(lower));
    assert_eq!(claim().await, None, "both keys at their cap");
}

/// PostgreSQL: while another node's claimer holds a key's first task, a claim still
/// finds the key's next one (the key has room for both).
#[tokio::test]
async fn a_claim_passes_over_a_task_another_claimer_holds_to_the_same_keys_next() {
    let Some(database) = crate::test_postgres::database() else { return };
    let (store, other) = (migrated(&database.url).await, Store::connect(&database.url).await.unwrap());
    let key_id = key(&store, 4).await;
    let (first, second) = (task(&store, &key_id, 0).await, task(&store, &key_id, 0).await);
    let holding = sea_orm::TransactionTrait::begin(&other.writer).await.unwrap();
    let lock = Statement::from_sql_and_values(
        sea_orm::DbBackend::Postgres,
        "SELECT id FROM tasks WHERE id = $1 FOR UPDATE",
        [first.clone().into()],
    );
    holding.execute_raw(lock).await.unwrap();
    let claimed = store.claim("node-b", 10_000).await.unwrap().map(|c| c.task.id);
    assert_eq!(claimed, Some(second), "the key's next task, not nothing");
    holding.rollback().await.unwrap();
    assert_eq!(store.claim("node-a", 10_000).await.unwrap().map(|c| c.task.id), Some(first));
}

#[tokio::test]
async fn follow_ups_need_a_finished_task_and_cancel_needs_a_queued_one() {
    let (store, _dir) = store().await;
    let key_id = key(&store, 4).await;
    let id = task(&store, &key_id, 0).await;
    let entry = || AuditEntry::new("x", "ok");
    assert!(store.queue_follow_up(&id, "again", &[], entry()).await.unwrap().is_none());
    let claimed = store.claim("n", 10_000).await.unwrap().unwrap();
    assert!(!store.cancel_queued(&id, lost_error(), &[], entry()).await.unwrap());
    assert!(store.finish_run(&id, &claimed.fence, 0, finish(TaskStatus::Failed)).await.unwrap());
    let (queued, turns) = store.queue_follow_up(&id, "again", &[], entry()).await.unwrap().unwrap();
    let next = store.claim("n", 10_000).await.unwrap().unwrap();
    assert_eq!(next.prompt, "again");
    assert_eq!(next.fence.attempt, 1);
    // What the follow-up answers is the task as it queued it, though claimed since.
    assert_eq!((queued.status, queued.current_turn), (TaskStatus::Queued, 1));
    assert_eq!(turns.iter().map(|t| t.status).collect::<Vec<_>>(), [TaskStatus::Failed, TaskStatus::Queued]);
}

#[tokio::test]
async fn expired_files_are_marked_once_and_end_follow_ups() {
    let (store, _dir) = store().await;
    let key_id = key(&store, 4).await;
    let id = task(&store, &key_id, 0).await;
    let future = crate::timestamp::now_ms() + 60_000;
    assert!(store.expirable(Expiring::Workspace, future, 10).await.unwrap().is_empty(), "not finished yet");
    let claimed = store.claim("n", 10_000).await.unwrap().unwrap();
    let artifact = crate::artifacts::Artifact {
        name: "a.txt".into(),
        path: "out/a.txt".into(),
        size: 1,
        sha256: "00".into(),
        content_type: "text/plain".into(),
    };
    let artifacts = ArtifactSet { set: "set_1".into(), artifacts: vec![artifact] };
    let done = FinishRun { artifacts: Some(artifacts), ..finish(TaskStatus::Completed) };
    assert!(store.finish_run(&id, &claimed.fence, 0, done).await.unwrap());
    assert_eq!(store.artifacts(&id).await.unwrap().len(), 1);
    let past = crate::timestamp::now_ms() - 60_000;
    assert!(store.expirable(Expiring::Workspace, past, 10).await.unwrap().is_empty(), "finished too recently");

    assert_eq!(store.expirable(Expiring::Artifacts, future, 10).await.unwrap(), vec![id.clone()]);
    assert!(store.mark_expired(Expiring::Artifacts, &id, future).await.unwrap());
    assert!(!store.mark_expired(Expiring::Artifacts, &id, future).await.unwrap(), "only once");
    assert!(store.artifacts(&id).await.unwrap().is_empty());
    assert!(store.mark_expired(Expiring::Workspace, &id, future).await.unwrap());
    let entry = AuditEntry::new("task.message", "ok");
    assert!(store.queue_follow_up(&id, "again", &[], entry).await.unwrap().is_none(), "no turn without a workspace");
}

#[tokio::test]
async fn old_audit_entries_are_deleted_and_newer_ones_kept() {
    let (store, _dir) = store().await;
    for at in [1_000, 2_000, 3_000] {
        super::audit::record(&store.writer, AuditEntry::new("request.denied", "denied"), at).await.unwrap();
    }
    assert_eq!(store.delete_audit_before(2_500).await.unwrap(), 2);
    let left = store.audit_entries(&AuditFilter::default(), None, 10).await.unwrap();
    assert_eq!(left.iter().map(|e| e.at).collect::<Vec<_>>(), [3_000]);
    assert_eq!(store.delete_audit_before(2_500).await.unwrap(), 0);
}

#[tokio::test]
async fn prompts_of_tasks_no_longer_running_expire_at_start_up_and_a_run_expires_only_its_own() {
    let (store, _dir) = store().await;
    let key_id = key(&store, 4).await;
    let running = task(&store, &key_id, 0).await;
    assert_eq!(store.claim("node", 10_000).await.unwrap().unwrap().task.id, running);
    let queued = task(&store, &key_id, 0).await;
    let ask = |task_id: &str, run_id: &str| NewApproval {
        id: crate::ids::new_id("apr"),
        task_id: task_id.into(),
        run_id: run_id.into(),
        turn: 0,
        tool: "Bash".into(),
        input: "{}".into(),
        reason: None,
        requested_at: 1,
        expires_at: 2,
    };
    store.insert_approval(ask(&running, "run-a")).await.unwrap();
    store.insert_approval(ask(&running, "run-b")).await.unwrap();
    store.insert_approval(ask(&queued, "run-c")).await.unwrap();
    assert_eq!(store.expire_orphaned_approvals().await.unwrap(), 1, "the queued task's prompt");
    assert_eq!(store.expire_approvals(&running, Runs::Except("run-b")).await.unwrap(), 1, "run-a died");
    let pending = store.approvals_of(&running, true).await.unwrap();
    assert_eq!(pending.iter().map(|a| a.run_id.as_str()).collect::<Vec<_>>(), ["run-b"]);
    assert_eq!(store.expire_approvals(&running, Runs::Only("run-b")).await.unwrap(), 1);
    assert!(store.approvals_of(&running, true).await.unwrap().is_empty());
}

#[tokio::test]
async fn a_message_the_run_never_took_becomes_the_next_turn() {
    let (store, _dir) = store().await;
    let key_id = key(&store, 4).await;
    let id = task(&store, &key_id, 0).await;
    let entry = || AuditEntry::new("x", "ok");
    assert_eq!(store.add_live_turn(&id, "steer", "queue", &[], entry()).await.unwrap(), LiveTurn::NotRunning);
    let claimed = store.claim("n", 10_000).await.unwrap().unwrap();
    assert_eq!(store.add_live_turn(&id, "steer", "queue", &[], entry()).await.unwrap(), LiveTurn::Added(1));
    assert_eq!(store.add_live_turn(&id, "more", "interrupt", &[], entry()).await.unwrap(), LiveTurn::Added(2));
    // The CLI took the first message, not the second, before the run ended.
    assert!(store.begin_turn(&id, &claimed.fence, 1).await.unwrap());
    assert!(store.finish_run(&id, &claimed.fence, 1, finish(TaskStatus::Completed)).await.unwrap());
    let statuses = |turns: Vec<entities::task_turn::Model>| turns.into_iter().map(|t| t.status).collect::<Vec<_>>();
    assert_eq!(
        statuses(store.turns(&id).await.unwrap()),
        [TaskStatus::Completed, TaskStatus::Completed, TaskStatus::Queued]
    );
    let next = store.claim("n", 10_000).await.unwrap().unwrap();
    assert_eq!((next.prompt.as_str(), next.task.current_turn), ("more", 2), "the message runs as the next turn");
    assert!(store.finish_run(&id, &next.fence, 2, finish(TaskStatus::Completed)).await.unwrap());
    assert_eq!(store.task(&id).await.unwrap().unwrap().status, TaskStatus::Completed, "nothing left waiting");
}

#[tokio::test]
async fn messages_waiting_are_cancelled_with_their_task_and_a_follow_up_comes_after_them() {
    let (store, _dir) = store().await;
    let key_id = key(&store, 4).await;
    let id = task(&store, &key_id, 0).await;
    let entry = || AuditEntry::new("x", "ok");
    let claimed = store.claim("n", 10_000).await.unwrap().unwrap();
    for turn in 1..=MAX_WAITING_MESSAGES as i32 {
        assert_eq!(store.add_live_turn(&id, "m", "queue", &[], entry()).await.unwrap(), LiveTurn::Added(turn));
    }
    assert_eq!(store.add_live_turn(&id, "m", "queue", &[], entry()).await.unwrap(), LiveTurn::TooMany);
    assert!(store.request_cancel(&id, entry()).await.unwrap());
    // A run that ends with its result after the cancel came in: the messages go with the task.
    assert!(store.finish_run(&id, &claimed.fence, 0, finish(TaskStatus::Completed)).await.unwrap());
    let turns = store.turns(&id).await.unwrap();
    assert!(turns[1..].iter().all(|t| t.status == TaskStatus::Cancelled), "{turns:?}");
    assert_eq!(store.task(&id).await.unwrap().unwrap().status, TaskStatus::Completed);
    let after = MAX_WAITING_MESSAGES as i32 + 1;
    let (queued, _) = store.queue_follow_up(&id, "again", &[], entry()).await.unwrap().unwrap();
    assert_eq!(queued.current_turn, after);
}

#[tokio::test]
async fn a_message_waiting_in_a_run_that_was_lost_for_good_runs_as_the_next_turn() {
    let (store, _dir) = store().await;
    let key_id = key(&store, 4).await;
    let id = task(&store, &key_id, 0).await;
    let entry = || AuditEntry::new("x", "ok");
    store.claim("node-a", 1).await.unwrap().unwrap();
    assert_eq!(store.add_live_turn(&id, "steer", "queue", &[], entry()).await.unwrap(), LiveTurn::Added(1));
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let lost = store.lost_runs(None).await.unwrap();
    assert_eq!(store.recover(&lost[0], 1, lost_error(), None).await.unwrap(), Some(RecoveredTask::Failed(id.clone())));
    assert_eq!(store.turns(&id).await.unwrap()[0].status, TaskStatus::Failed);
    let next = store.claim("node-b", 10_000).await.unwrap().unwrap();
    assert_eq!((next.prompt.as_str(), next.task.current_turn), ("steer", 1));
}

#[tokio::test]
async fn finished_runs_add_to_the_usage_rollup_and_old_buckets_expire() {
    let (store, _dir) = store().await;
    let key_id = key(&store, 4).await;
    let started = crate::timestamp::now_ms();
    for status in [TaskStatus::Completed, TaskStatus::Completed, TaskStatus::Failed] {
        let id = task(&store, &key_id, 0).await;
        let claimed = store.claim("a", 10_000).await.unwrap().unwrap();
        let cost =
            crate::store::RunCost { key_id: key_id.clone(), cost_micros: 1500, input_tokens: 10, output_tokens: 4 };
        let done = FinishRun { cost: Some(cost), ..finish(status) };
        assert!(store.finish_run(&id, &claimed.fence, 0, done).await.unwrap());
    }
    assert_eq!(store.running_by_node().await.unwrap(), [], "nothing runs once finished");
    let window = store.usage_since(started - 60_000).await.unwrap();
    assert_eq!((window.runs, window.completed, window.failed, window.cancelled), (3, 2, 1, 0));
    assert_eq!((window.input_tokens, window.output_tokens, window.cost_micros), (30, 12, 4500));
    assert_eq!((window.run.total(), window.queue_wait.total()), (3, 3));
    assert!(window.run.quantile(0.95).is_some_and(|ms| ms < 60_000));
    // A window that starts after the bucket sees nothing.
    let later = crate::store::rollup::bucket_of(started) + crate::store::rollup::BUCKET_MS;
    assert_eq!(store.usage_since(later + 1).await.unwrap().runs, 0);
    assert!(store.delete_usage_before(later + crate::store::rollup::BUCKET_MS).await.unwrap() > 0);
    assert_eq!(store.usage_since(0).await.unwrap(), Default::default());
}

#[tokio::test]
async fn running_tasks_are_counted_per_node_busiest_first() {
    let (store, _dir) = store().await;
    let key_id = key(&store, 4).await;
    for _ in 0..3 {
        task(&store, &key_id, 0).await;
    }
    for node in ["b", "a", "a"] {
        assert!(store.claim(node, 10_000).await.unwrap().is_some());
    }
    assert_eq!(store.running_by_node().await.unwrap(), [("a".to_string(), 2), ("b".to_string(), 1)]);
}

/// Two nodes (two connection pools) with four claimers each on one PostgreSQL
/// database: every task runs exactly once, and no key ever runs more tasks than
/// its cap, though claimers of the same key race on different tasks.
#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn claimers_on_two_nodes_never_pass_a_key_cap_nor_share_a_task() {
    let Some(database) = crate::test_postgres::database() else { return };
    let nodes = [migrated(&database.url).await, Store::connect(&database.url).await.unwrap()];
    let mut caps = std::collections::HashMap::new();
    for cap in [1, 2, 3] {
        let key_id = key(&nodes[0], cap).await;
        for _ in 0..8 {
            task(&nodes[0], &key_id, 0).await;
        }
        caps.insert(key_id, cap as usize);
    }
    let tasks = caps.len() * 8;
    let caps = std::sync::Arc::new(caps);
    let claimed = std::sync::Arc::new(std::sync::Mutex::new(std::collections::HashSet::new()));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    let claimers = (0..8).map(|n| {
        let (store, caps, claimed) = (nodes[n % 2].clone(), caps.clone(), claimed.clone());
        tokio::spawn(async move {
            let owner = format!("node-{}-{n}", n % 2);
            while claimed.lock().unwrap().len() < tasks {
                assert!(std::time::Instant::now() < deadline, "the claimers did not run every task in time");
                let Some(run) = store.claim(&owner, 60_000).await.unwrap() else {
                    tokio::task::yield_now().await;
                    continue;
                };
                assert!(claimed.lock().unwrap().insert(run.task.id.clone()), "{} claimed twice", run.task.id);
                let running = TaskFilter { status: Some(TaskStatus::Running), ..TaskFilter::default() };
                let key_runs = store.list_tasks(Some(&run.task.key_id), &running, None, 100).await.unwrap();
                assert!(
                    key_runs.len() <= caps[&run.task.key_id],
                    "{} runs, cap {}",
                    key_runs.len(),
                    caps[&run.task.key_id]
                );
                assert!(store.finish_run(&run.task.id, &run.fence, 0, finish(TaskStatus::Completed)).await.unwrap());
            }
        })
    });
    for claimer in claimers.collect::<Vec<_>>() {
        claimer.await.unwrap();
    }
    assert_eq!(nodes[0].count_by_status(TaskStatus::Completed).await.unwrap(), tasks as u64);
}

/// A key reused up to exactly 24 h after its first use replays; a millisecond
/// later the same key makes a new task.
#[tokio::test]
async fn an_idempotency_key_replays_inside_its_window_and_makes_a_new_task_after() {
    let (store, _dir) = store().await;
    let key_id = key(&store, 4).await;
    let window = 24 * 3600 * 1000;
    let used_at = 1_764_000_000_000;
    let claimed = |hash: &str| {
        let mut row = new_row(&key_id, 0, 1000);
        row.idempotency = Some(IdempotencyClaim { key: "retry-1".into(), request_hash: hash.into() });
        row
    };
    let insert = |row, now| store.insert_task_at(row, &[], AuditEntry::new("task.create", "ok"), now);
    let Inserted::Created(first) = insert(claimed("a"), used_at).await.unwrap() else { panic!("not created") };
    for now in [used_at + 1, used_at + window] {
        let Inserted::Replayed { task_id, same_request } = insert(claimed("a"), now).await.unwrap() else {
            panic!("not replayed at +{} ms", now - used_at)
        };
        assert_eq!((task_id.as_str(), same_request), (first.id.as_str(), true));
        let Inserted::Replayed { same_request, .. } = insert(claimed("b"), now).await.unwrap() else { panic!() };
        assert!(!same_request, "another request with the key is told apart");
        assert!(store.idempotency_record_at(&key_id, "retry-1", now).await.unwrap().is_some());
    }
    let after = used_at + window + 1;
    assert!(store.idempotency_record_at(&key_id, "retry-1", after).await.unwrap().is_none(), "forgotten");
    let Inserted::Created(second) = insert(claimed("b"), after).await.unwrap() else { panic!("not a new task") };
    assert_ne!(second.id, first.id);
    let Inserted::Replayed { task_id, .. } = insert(claimed("b"), after + 1).await.unwrap() else { panic!() };
    assert_eq!(task_id, second.id, "the key now names the new task");
}

/// The sweeper at a given `now`: a task finished before `now - ttl` loses its
/// workspace, one finished exactly then or later keeps it; the oldest go first.
#[tokio::test]
async fn retention_expires_the_oldest_first_and_keeps_what_finished_at_the_cutoff() {
    let (store, _database) = store().await;
    let dir = tempfile::tempdir().unwrap();
    let key_id = key(&store, 4).await;
    let mut finished = Vec::new();
    for _ in 0..3 {
        let id = task(&store, &key_id, 0).await;
        let claimed = store.claim("n", 10_000).await.unwrap().unwrap();
        assert!(store.finish_run(&id, &claimed.fence, 0, finish(TaskStatus::Completed)).await.unwrap());
        std::fs::create_dir_all(crate::runner::TaskDirs::new(dir.path(), &id).root).unwrap();
        let at = store.task(&id).await.unwrap().unwrap().finished_at.unwrap();
        finished.push((id, at));
        // Distinct finishing times, so the cutoff can fall exactly on one of them.
        tokio::time::sleep(std::time::Duration::from_millis(3)).await;
    }
    let [(oldest, _), (middle, middle_at), (newest, _)] = &finished[..] else { unreachable!() };
    assert_eq!(
        store.expirable(Expiring::Workspace, i64::MAX, 1).await.unwrap(),
        std::slice::from_ref(oldest),
        "oldest first"
    );
    let storage = crate::storage::Storage::open(crate::storage::StorageUrl::File(dir.path().join("storage"))).unwrap();
    let limits = crate::snapshots::SnapshotLimits { max_files: 10, max_bytes: 1 << 20 };
    let snapshots = crate::snapshots::Snapshots::new(storage.clone(), dir.path().to_path_buf(), limits);
    let manifest = crate::snapshots::Manifest { session_id: None, after_turn: Some(0) };
    let snapshot = snapshots.save(oldest, manifest).await.unwrap().unwrap();
    let sweeper = |data_dir: &std::path::Path| crate::retention::Sweeper {
        store: store.clone(),
        artifacts: crate::artifacts::ArtifactStore::new(storage.clone()),
        snapshots: crate::snapshots::Snapshots::new(storage.clone(), data_dir.to_path_buf(), limits),
        data_dir: data_dir.to_path_buf(),
        config: crate::config::RetentionConfig::default(),
        leadership: Leadership::retention(&store),
    };
    let (node_a, node_b) = (sweeper(dir.path()), sweeper(&dir.path().join("b")));
    // Node B holds copies of the tasks too, and of a task the database does not know yet.
    let unknown = crate::ids::new_id("tsk");
    for id in [oldest, middle, newest, &unknown] {
        std::fs::create_dir_all(crate::runner::TaskDirs::new(&dir.path().join("b"), id).workspace).unwrap();
    }
    let ttl = std::time::Duration::from_secs(7 * 24 * 3600);
    let now = middle_at + ttl.as_millis() as i64;
    assert_eq!(node_a.sweep(Expiring::Workspace, ttl, now).await.unwrap(), 1);
    let expired = |id: &str| {
        let store = store.clone();
        let id = id.to_string();
        async move { store.task(&id).await.unwrap().unwrap().workspace_expired_at.is_some() }
    };
    assert!(expired(oldest).await && !crate::runner::TaskDirs::new(dir.path(), oldest).root.exists());
    let object = crate::storage::Key::new(["workspaces", oldest.as_str(), &format!("{snapshot}.tar.gz")]);
    assert!(storage.head(&object).await.unwrap_err().is_not_found(), "its snapshot went too");
    for kept in [middle, newest] {
        assert!(!expired(kept).await, "finished at or after the cutoff: kept");
        assert!(crate::runner::TaskDirs::new(dir.path(), kept).root.exists());
    }
    // B's own sweep deletes its copy of the expired workspace, and keeps the rest.
    assert_eq!(node_b.sweep_local_copies().await.unwrap(), 1);
    let b_copy = |id: &str| crate::runner::TaskDirs::new(&dir.path().join("b"), id).root.exists();
    assert!(!b_copy(oldest) && b_copy(middle) && b_copy(newest));
    assert!(b_copy(&unknown), "a copy of an unknown task younger than an hour may be one being created");
    assert_eq!(node_a.sweep(Expiring::Workspace, ttl, now + 1).await.unwrap(), 1, "the middle one's turn");
    assert!(expired(middle).await && !expired(newest).await);
}

/// One node at a time leads on PostgreSQL, and another takes over when the leader
/// goes; on SQLite (one node) every sweeper leads.
#[tokio::test]
async fn one_node_leads_the_sweep_until_it_goes() {
    let (store, _database) = store().await;
    let (a, b) = (Leadership::retention(&store), Leadership::retention(&store));
    assert!(a.is_leader().await);
    if store.backend() == sea_orm::DbBackend::Sqlite {
        assert!(b.is_leader().await);
        return;
    }
    assert!(!b.is_leader().await && a.is_leader().await, "the leader keeps it");
    drop(a);
    // The dropped connection's session ends on the server shortly after.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while !b.is_leader().await {
        assert!(std::time::Instant::now() < deadline, "no one took over");
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn a_task_whose_stored_options_do_not_parse_stays_readable_and_claimable() {
    let (store, _dir) = store().await;
    let key = key(&store, 1).await;
    let id = task(&store, &key, 0).await;
    let garbage = Statement::from_sql_and_values(
        store.backend(),
        sql_for(store.backend(), "UPDATE tasks SET options = $1 WHERE id = $2"),
        ["{\"network\": \"lan\"".into(), id.clone().into()],
    );
    store.writer().execute_raw(garbage).await.unwrap();
    let row = store.task(&id).await.unwrap().unwrap();
    assert!(row.options.get().is_err(), "never replaced by defaults");
    let claimed = store.claim("node", 60_000).await.unwrap().expect("a bad row does not block the queue");
    assert!(claimed.task.options.parsed().is_none());
}

#[tokio::test]
async fn a_task_whose_stored_documents_do_not_parse_shows_nothing_for_them_and_keeps_them() {
    let (store, _dir) = store().await;
    let key = key(&store, 1).await;
    let id = task(&store, &key, 0).await;
    let garbage = Statement::from_sql_and_values(
        store.backend(),
        sql_for(
            store.backend(),
            "UPDATE tasks SET result = $1, error = $1, metadata = $1, webhook = $1, artifact_patterns = $1 WHERE id = $2",
        ),
        ["{\"text\": ".into(), id.clone().into()],
    );
    store.writer().execute_raw(garbage).await.unwrap();
    let row = store.task(&id).await.unwrap().unwrap();
    assert!(row.result.as_ref().is_some_and(|r| r.get().is_err()));
    assert!(row.error.as_ref().is_some_and(|e| e.get().is_err()));
    assert!(row.webhook.as_ref().is_some_and(|w| w.get().is_err()));
    assert!(row.metadata.get().is_err() && row.artifact_patterns.get().is_err());
    let view = crate::task::TaskView::new(&row, &[], Vec::new(), Vec::new());
    assert_eq!((view.result, view.error, view.metadata), (None, None, json!({})), "shown as nothing");
    assert_eq!(sea_orm::Value::from(row.metadata), sea_orm::Value::String(Some("{\"text\": ".into())), "kept");
}

/// A lease renewed after the reaper read it as expired keeps its run: a late
/// heartbeat is not a lost node.
#[tokio::test]
async fn a_lease_renewed_after_it_was_read_as_lost_keeps_its_run() {
    let (store, _dir) = store().await;
    let key_id = key(&store, 4).await;
    let id = task(&store, &key_id, 0).await;
    let run = store.claim("node-a", 1).await.unwrap().unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let lost = store.lost_runs(None).await.unwrap();
    assert_eq!(lost.len(), 1);
    assert_eq!(store.heartbeat(&id, &run.fence, 10_000, None).await.unwrap(), Some(false), "renewed late");
    assert_eq!(store.recover(&lost[0], 1, lost_error(), None).await.unwrap(), None, "not recovered");
    assert_eq!(store.task(&id).await.unwrap().unwrap().status, TaskStatus::Running);
}

/// A run lost for good leaves what it produced as a partial result: its last text,
/// what was metered by its last lease renewal; a cancelled one says cancelled.
#[tokio::test]
async fn a_run_lost_for_good_leaves_a_partial_result_and_a_cancel_wins() {
    let (store, _dir) = store().await;
    let key_id = key(&store, 4).await;
    for cancel in [false, true] {
        let id = task(&store, &key_id, 0).await;
        let run = store.claim("node-a", 1).await.unwrap().unwrap();
        let said = |text: &str| EventRecord::new("assistant", json!({"text": text}));
        store.append_events(&id, Some(&run.fence), &[said("looking"), said("half done")]).await.unwrap();
        let used = RunCost { key_id: key_id.clone(), cost_micros: 1500, input_tokens: 40, output_tokens: 9 };
        store.heartbeat(&id, &run.fence, 1, Some(&used)).await.unwrap();
        if cancel {
            assert!(store.request_cancel(&id, AuditEntry::new("task.cancel", "ok")).await.unwrap());
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        let lost = store.lost_runs(None).await.unwrap();
        let lost = lost.iter().find(|t| t.id == id).unwrap();
        let result = store.lost_run_result(lost).await.unwrap();
        let ending = crate::store::LostEnding { result, events: vec![EventRecord::new("plugin", json!({}))] };
        assert!(store.recover(lost, 1, lost_error(), Some(ending)).await.unwrap().is_some());
        let row = store.task(&id).await.unwrap().unwrap();
        let result = row.result.as_ref().and_then(JsonText::parsed).expect("a partial result").clone();
        assert!(result.partial && result.text.as_deref() == Some("half done"), "{result:?}");
        assert_eq!((result.num_turns, result.usage.input_tokens, result.usage.output_tokens), (2, 40, 9));
        assert!((result.cost_usd - 0.0015).abs() < 1e-9, "{result:?}");
        let (status, kind) = if cancel {
            (TaskStatus::Cancelled, crate::task::ErrorKind::Cancelled)
        } else {
            (TaskStatus::Failed, crate::task::ErrorKind::AgentCrashed)
        };
        assert_eq!((row.status, row.error.as_ref().and_then(JsonText::parsed).map(|e| e.kind)), (status, Some(kind)));
        let events = store.events_after(&id, 0, 100).await.unwrap();
        let types: Vec<&str> = events.iter().map(|e| e.event_type.as_str()).collect();
        assert!(types.ends_with(&["plugin", "result", "error", "status"]), "{types:?}");
    }
}

/// What a run used by its last lease renewal is charged to its key when the run
/// is lost, once: the next run of the task starts from nothing, and a run that
/// finishes is charged its own cost and leaves nothing live behind.
#[tokio::test]
async fn a_lost_runs_usage_is_charged_once_by_recovery() {
    let (store, _dir) = store().await;
    let key_id = key(&store, 4).await;
    let id = task(&store, &key_id, 0).await;
    let run = store.claim("node-a", 1).await.unwrap().unwrap();
    let used =
        |input: i64| RunCost { key_id: key_id.clone(), cost_micros: 2 * input, input_tokens: input, output_tokens: 7 };
    assert_eq!(store.heartbeat(&id, &run.fence, 1, Some(&used(100))).await.unwrap(), Some(false));
    assert_eq!(store.heartbeat(&id, &run.fence, 1, Some(&used(300))).await.unwrap(), Some(false), "so far, not added");
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let lost = store.lost_runs(None).await.unwrap();
    assert_eq!(
        store.recover(&lost[0], 3, lost_error(), None).await.unwrap(),
        Some(RecoveredTask::Requeued(id.clone()))
    );
    let now = crate::timestamp::now_ms();
    let today = store.spend(&key_id, now).await.unwrap().today;
    assert_eq!((today.input_tokens, today.output_tokens, today.cost_micros, today.runs), (300, 7, 600, 1));
    assert_eq!(store.recover(&lost[0], 3, lost_error(), None).await.unwrap(), None, "recovered once");

    let next = store.claim("node-b", 10_000).await.unwrap().unwrap();
    assert_eq!(next.task.live_input_tokens, 0, "a new run starts from nothing");
    assert!(store.heartbeat(&id, &next.fence, 10_000, Some(&used(50))).await.unwrap().is_some());
    let finished = FinishRun { cost: Some(used(80)), ..finish(TaskStatus::Completed) };
    assert!(store.finish_run(&id, &next.fence, 0, finished).await.unwrap());
    let row = store.task(&id).await.unwrap().unwrap();
    assert_eq!((row.live_input_tokens, row.live_output_tokens, row.live_cost_micros), (0, 0, 0));
    let today = store.spend(&key_id, now).await.unwrap().today;
    assert_eq!((today.input_tokens, today.runs), (380, 2), "the finished run's own cost, not its live figure");
}

fn lost_error() -> crate::task::TaskError {
    crate::task::TaskError::new(crate::task::ErrorKind::AgentCrashed, "lost")
}

/// Runs of one key on different nodes draw on one token budget: each request
/// reserves in the database against what the key recorded and what every live run
/// holds, settles to what it used, and a run's outcome clears its hold as its cost
/// is recorded.
#[tokio::test]
async fn runs_on_every_node_draw_on_one_token_budget() {
    let (store, _dir) = store().await;
    let key_id = key(&store, 4).await;
    set_token_budget(&store, &key_id, Some(10_000)).await;
    for _ in 0..3 {
        task(&store, &key_id, 0).await;
    }
    let on_a = store.claim("node-a", 60_000).await.unwrap().unwrap();
    let on_b = store.claim("node-b", 60_000).await.unwrap().unwrap();
    let (a, b) = [&on_a, &on_b].map(|run| RunTokens::new(store.clone(), &run.task.id, &run.fence, &key_id)).into();
    assert_eq!(a.reserve(6_000).await.unwrap(), Reservation::Granted);
    assert_eq!(b.reserve(3_000).await.unwrap(), Reservation::Granted);
    assert_eq!(a.reserve(2_000).await.unwrap(), Reservation::Granted, "1 000 left: the last may overshoot");
    assert_eq!(b.reserve(1).await.unwrap(), Reservation::Spent, "node B sees what node A holds");
    assert_eq!(store.tokens_held(&key_id).await.unwrap(), 11_000);
    // A's two requests used 1 000 between them: it gives the rest back.
    assert!(store.settle_tokens(&on_a.task.id, &on_a.fence, -7_000).await.unwrap());
    assert_eq!(b.reserve(500).await.unwrap(), Reservation::Granted);
    // A finishes: its 1 000 are recorded and its hold cleared, in one transaction.
    let cost = RunCost { key_id: key_id.clone(), cost_micros: 0, input_tokens: 900, output_tokens: 100 };
    let finished = FinishRun { cost: Some(cost), ..finish(TaskStatus::Completed) };
    assert!(store.finish_run(&on_a.task.id, &on_a.fence, 0, finished).await.unwrap());
    assert_eq!(store.tokens_held(&key_id).await.unwrap(), 3_500, "B's hold alone");
    assert_eq!(a.reserve(1).await.unwrap(), Reservation::Lost, "a run that let go holds nothing more");
    assert!(!store.settle_tokens(&on_a.task.id, &on_a.fence, 5).await.unwrap());
    assert_eq!(b.reserve(5_500).await.unwrap(), Reservation::Granted, "10 000 - 1 000 - 3 500 left");
    assert_eq!(b.reserve(1).await.unwrap(), Reservation::Spent);
    // A settlement of an earlier turn landing late gives back more than B holds:
    // the hold stops at 0 rather than lower the key's sum.
    assert!(store.settle_tokens(&on_b.task.id, &on_b.fence, -20_000).await.unwrap());
    assert_eq!(store.tokens_held(&key_id).await.unwrap(), 0);
    assert!(store.settle_tokens(&on_b.task.id, &on_b.fence, 9_000).await.unwrap());
    // B's node is lost: recovery clears its hold.
    store.heartbeat(&on_b.task.id, &on_b.fence, 1, None).await.unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    let lost = store.lost_runs(None).await.unwrap();
    assert!(store.recover(&lost[0], 3, lost_error(), None).await.unwrap().is_some());
    assert_eq!(store.tokens_held(&key_id).await.unwrap(), 0);
    // Without a token budget, a run is never refused.
    set_token_budget(&store, &key_id, None).await;
    let again = store.claim("node-c", 60_000).await.unwrap().unwrap();
    let reserved = RunTokens::new(store.clone(), &again.task.id, &again.fence, &key_id).reserve(1_000_000).await;
    assert_eq!(reserved.unwrap(), Reservation::Granted);
}
