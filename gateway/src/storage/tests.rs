use futures_util::TryStreamExt;

use super::*;

fn local() -> (tempfile::TempDir, Storage) {
    let dir = tempfile::tempdir().unwrap();
    let storage = Storage::open(StorageUrl::File(dir.path().join("storage"))).unwrap();
    (dir, storage)
}

async fn read(storage: &Storage, key: &Key, range: Option<Range<u64>>) -> Vec<u8> {
    let chunks: Vec<Bytes> = storage.get(key, range).await.unwrap().try_collect().await.unwrap();
    chunks.concat()
}

#[tokio::test]
async fn objects_are_put_hashed_read_in_ranges_and_deleted_by_prefix() {
    let (dir, storage) = local();
    storage.check().await.unwrap();
    let key = Key::new(["artifacts", "tsk_1", "set_a", "report.md"]);
    let (size, sha256) = storage.put(&key, &b"# Report"[..]).await.unwrap();
    assert_eq!((size, sha256.as_str()), (8, "04e1d1467e73933d8841c0c22eca9710ee72d020f5d494b091d68d4d2efea89d"));
    assert_eq!(storage.head(&key).await.unwrap(), 8);
    assert_eq!(read(&storage, &key, None).await, b"# Report");
    assert_eq!(read(&storage, &key, Some(2..5)).await, b"Rep");
    assert!(dir.path().join("storage/artifacts/tsk_1/set_a/report.md").is_file(), "a plain file on disk");

    let big = vec![7u8; SINGLE_PUT_BYTES + 1000];
    let big_key = Key::new(["artifacts", "tsk_1", "set_a", "big.bin"]);
    assert_eq!(storage.put(&big_key, big.as_slice()).await.unwrap().0, big.len() as u64, "a multipart upload");
    assert_eq!(read(&storage, &big_key, None).await, big);
    let sibling = Key::new(["artifacts", "tsk_10", "x"]);
    storage.put_bytes(&sibling, b"other task".to_vec()).await.unwrap();

    assert_eq!(storage.delete_prefix(&Key::new(["artifacts", "tsk_1"])).await.unwrap(), 2);
    assert!(storage.head(&key).await.unwrap_err().is_not_found());
    assert_eq!(&storage.get_bytes(&sibling).await.unwrap()[..], b"other task", "a prefix is whole segments");
    assert_eq!(storage.delete_prefix(&Key::new(["artifacts", "tsk_1"])).await.unwrap(), 0);
}

#[tokio::test]
async fn a_segment_cannot_reach_outside_its_parent() {
    let (dir, storage) = local();
    let key = Key::new(["artifacts", "../../escape", "a/b"]);
    storage.put_bytes(&key, b"x".to_vec()).await.unwrap();
    assert!(!dir.path().join("escape").exists());
    assert_eq!(&storage.get_bytes(&key).await.unwrap()[..], b"x");
}

#[tokio::test]
async fn a_failed_read_stores_nothing() {
    struct Failing(bool);
    impl AsyncRead for Failing {
        fn poll_read(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
            buf: &mut tokio::io::ReadBuf<'_>,
        ) -> std::task::Poll<std::io::Result<()>> {
            if std::mem::replace(&mut self.0, true) {
                return std::task::Poll::Ready(Err(std::io::Error::other("the disk went away")));
            }
            buf.put_slice(b"partial");
            std::task::Poll::Ready(Ok(()))
        }
    }
    let (_dir, storage) = local();
    let key = Key::new(["half"]);
    let error = storage.put(&key, Failing(false)).await.unwrap_err();
    assert!(matches!(error, StorageError::Source(_)), "{error}");
    assert!(storage.head(&key).await.unwrap_err().is_not_found());
}
