use super::*;
use crate::storage::StorageUrl;

const LIMITS: SnapshotLimits = SnapshotLimits { max_files: 100, max_bytes: 1 << 20 };

/// Two nodes with data directories of their own and one shared storage.
fn two_nodes(dir: &std::path::Path) -> (Snapshots, Snapshots, Storage) {
    let storage = Storage::open(StorageUrl::File(dir.join("shared"))).unwrap();
    let a = Snapshots::new(storage.clone(), dir.join("a"), LIMITS);
    let b = Snapshots::new(storage.clone(), dir.join("b"), LIMITS);
    (a, b, storage)
}

/// The objects of the task in (file) storage.
fn objects(storage: &Storage, task_id: &str) -> usize {
    let StorageUrl::File(dir) = storage.location() else { panic!("file storage") };
    std::fs::read_dir(dir.join(TOP).join(task_id)).map(|d| d.count()).unwrap_or(0)
}

#[tokio::test]
async fn a_snapshot_saved_on_one_node_is_restored_on_another_once() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, storage) = two_nodes(dir.path());
    let on_a = TaskDirs::new(&dir.path().join("a"), "tsk_1");
    on_a.create().unwrap();
    std::fs::write(on_a.workspace.join("notes.md"), "turn 1").unwrap();
    let manifest = Manifest { session_id: Some("sess".into()), after_turn: Some(0) };
    let first = a.save("tsk_1", manifest.clone()).await.unwrap().unwrap();
    a.committed("tsk_1", &first, Some("sess".into()), None).await;
    let snapshot_session = LocalCopy::Snapshot { session_id: Some("sess".into()) };
    // A's own copy is current: nothing to restore there.
    assert_eq!(a.ensure_local("tsk_1", Some(&first)).await.unwrap(), snapshot_session);

    let restored = b.ensure_local("tsk_1", Some(&first)).await.unwrap();
    assert_eq!(restored, LocalCopy::Snapshot { session_id: manifest.session_id.clone() });
    let on_b = TaskDirs::new(&dir.path().join("b"), "tsk_1");
    assert_eq!(std::fs::read_to_string(on_b.workspace.join("notes.md")).unwrap(), "turn 1");
    std::fs::write(on_b.workspace.join("notes.md"), "changed by a run").unwrap();
    assert_eq!(b.ensure_local("tsk_1", Some(&first)).await.unwrap(), snapshot_session, "restored once");
    assert_eq!(std::fs::read_to_string(on_b.workspace.join("notes.md")).unwrap(), "changed by a run");
    // A run begins on B's copy: a rerun there goes on from it, with the row's session.
    b.mark_changed("tsk_1").await;
    assert_eq!(b.ensure_local("tsk_1", Some(&first)).await.unwrap(), LocalCopy::AsStored);

    // B runs the next turn and records its snapshot: the first one goes.
    std::fs::write(on_b.workspace.join("notes.md"), "turn 2").unwrap();
    let manifest = Manifest { session_id: Some("sess".into()), after_turn: Some(1) };
    let second = b.save("tsk_1", manifest.clone()).await.unwrap().unwrap();
    b.committed("tsk_1", &second, Some("sess".into()), Some(first.clone())).await;
    assert_eq!(objects(&storage, "tsk_1"), 1);
    let restored = a.ensure_local("tsk_1", Some(&second)).await.unwrap();
    assert_eq!(restored, LocalCopy::Snapshot { session_id: manifest.session_id });
    assert_eq!(std::fs::read_to_string(on_a.workspace.join("notes.md")).unwrap(), "turn 2");

    // A task with no snapshot, or snapshots turned off: the local copy as it is.
    assert_eq!(b.ensure_local("tsk_2", None).await.unwrap(), LocalCopy::AsStored);
    assert_eq!(Snapshots::off().ensure_local("tsk_1", Some(&second)).await.unwrap(), LocalCopy::AsStored);

    a.delete("tsk_1").await.unwrap();
    assert_eq!(objects(&storage, "tsk_1"), 0);
}

#[tokio::test]
async fn a_missing_snapshot_fails_the_restore_and_leaves_the_local_copy() {
    let dir = tempfile::tempdir().unwrap();
    let (a, _, _) = two_nodes(dir.path());
    let on_a = TaskDirs::new(&dir.path().join("a"), "tsk_3");
    on_a.create().unwrap();
    std::fs::write(on_a.workspace.join("kept"), "x").unwrap();
    let missing = a.ensure_local("tsk_3", Some("snp_gone")).await;
    assert!(matches!(missing, Err(SnapshotError::Storage(StorageError::NotFound { .. }))), "{missing:?}");
    assert!(on_a.workspace.join("kept").exists());
    let uploads = std::fs::read_dir(dir.path().join("a/uploads")).unwrap().count();
    assert_eq!(uploads, 0, "the download was cleaned up");
}

#[tokio::test]
async fn a_claude_folder_made_a_link_is_neither_packed_through_nor_restored_through() {
    let dir = tempfile::tempdir().unwrap();
    let (a, b, _) = two_nodes(dir.path());
    // Someone else's transcripts on the host.
    let elsewhere = dir.path().join("elsewhere");
    std::fs::create_dir_all(elsewhere.join("projects/-workspace")).unwrap();
    std::fs::write(elsewhere.join("projects/-workspace/other.jsonl"), "secret").unwrap();

    let on_a = TaskDirs::new(&dir.path().join("a"), "tsk_4");
    on_a.create().unwrap();
    std::fs::remove_dir_all(&on_a.claude_config).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &on_a.claude_config).unwrap();
    let manifest = Manifest { session_id: None, after_turn: Some(0) };
    assert!(matches!(a.save("tsk_4", manifest.clone()).await, Err(SnapshotError::Pack(PackError::Unpackable(_)))));

    // B's copy has the link too, and restores a snapshot over it: the host folder stays.
    std::fs::remove_file(&on_a.claude_config).unwrap();
    std::fs::create_dir_all(on_a.claude_config.join("projects/-workspace")).unwrap();
    std::fs::write(on_a.claude_config.join("projects/-workspace/s.jsonl"), "mine").unwrap();
    let name = a.save("tsk_4", manifest).await.unwrap().unwrap();
    let on_b = TaskDirs::new(&dir.path().join("b"), "tsk_4");
    on_b.create().unwrap();
    std::fs::remove_dir_all(&on_b.claude_config).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &on_b.claude_config).unwrap();
    b.ensure_local("tsk_4", Some(&name)).await.unwrap();
    assert_eq!(std::fs::read_to_string(elsewhere.join("projects/-workspace/other.jsonl")).unwrap(), "secret");
    assert!(!elsewhere.join("projects/-workspace/s.jsonl").exists());
    assert!(!std::fs::symlink_metadata(&on_b.claude_config).unwrap().is_symlink());
    assert_eq!(std::fs::read_to_string(on_b.claude_config.join("projects/-workspace/s.jsonl")).unwrap(), "mine");
}
