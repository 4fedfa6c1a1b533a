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
    a.committed("tsk_1", &first, None).await;
    // A's own copy is current: nothing to restore there.
    assert_eq!(a.ensure_local("tsk_1", Some(&first)).await.unwrap(), None);

    let restored = b.ensure_local("tsk_1", Some(&first)).await.unwrap();
    assert_eq!(restored, Some(manifest));
    let on_b = TaskDirs::new(&dir.path().join("b"), "tsk_1");
    assert_eq!(std::fs::read_to_string(on_b.workspace.join("notes.md")).unwrap(), "turn 1");
    assert_eq!(b.ensure_local("tsk_1", Some(&first)).await.unwrap(), None, "restored once");

    // B runs the next turn and records its snapshot: the first one goes.
    std::fs::write(on_b.workspace.join("notes.md"), "turn 2").unwrap();
    let manifest = Manifest { session_id: Some("sess".into()), after_turn: Some(1) };
    let second = b.save("tsk_1", manifest.clone()).await.unwrap().unwrap();
    b.committed("tsk_1", &second, Some(first.clone())).await;
    assert_eq!(objects(&storage, "tsk_1"), 1);
    assert_eq!(a.ensure_local("tsk_1", Some(&second)).await.unwrap(), Some(manifest));
    assert_eq!(std::fs::read_to_string(on_a.workspace.join("notes.md")).unwrap(), "turn 2");

    // A task with no snapshot, or snapshots turned off: the local copy as it is.
    assert_eq!(b.ensure_local("tsk_2", None).await.unwrap(), None);
    assert_eq!(Snapshots::off().ensure_local("tsk_1", Some(&second)).await.unwrap(), None);

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
