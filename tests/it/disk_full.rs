//! A gateway whose disk fills up: writes are refused with 507 and keep nothing,
//! reads go on, the node stops claiming work, and all of it recovers when space
//! comes back. The data directory is a small tmpfs of the test's own.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{Value, json};

use crate::support::*;

/// A tmpfs of `megabytes` mounted on a fresh directory, unmounted on drop.
struct SmallDisk {
    dir: tempfile::TempDir,
}

impl SmallDisk {
    fn mount(megabytes: u64) -> Option<SmallDisk> {
        let dir = tempfile::tempdir().unwrap();
        let mounted = Command::new("mount")
            .args(["-t", "tmpfs", "-o", &format!("size={megabytes}m,mode=0755"), "tmpfs"])
            .arg(dir.path())
            .output()
            .is_ok_and(|o| o.status.success());
        mounted.then_some(SmallDisk { dir })
    }

    fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes a file until the disk refuses more; returns it.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let filler = self.path().join("filler");
        let mut file = std::fs::File::create(&filler).unwrap();
        let block = vec![0u8; 64 * 1024];
        while file.write_all(&block).is_ok() {}
        // The last bytes that fit.
        while file.write_all(&block[..512]).is_ok() {}
        filler
    }
}

impl Drop for SmallDisk {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(self.dir.path()).status();
    }
}

async fn task_count(gateway: &Gateway, key: &str) -> usize {
    let (status, list) = gateway.get("/v1/tasks", key).await;
    assert_eq!(status, 200, "reads keep working: {list}");
    list["data"].as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_full_disk_refuses_writes_with_507_keeps_nothing_and_recovers() {
    let Some(disk) = SmallDisk::mount(96) else {
        assert!(std::env::var_os("CI").is_none(), "CI runs as root and must be able to mount a tmpfs");
        eprintln!("skipped: cannot mount a tmpfs here (not root)");
        return;
    };
    let data = disk.path().join("data");
    let config = disk.path().join("ccgate.toml");
    // Claiming stops below 8 MiB free, so a full disk also stops new runs.
    std::fs::write(&config, "[queue]\nmin_free_disk_mb = 8\nmin_free_memory_mb = 0\n").unwrap();
    let model = Model::start().await;
    let env = vec![
        ("CCGATE_DATA_DIR".to_string(), data.display().to_string()),
        ("CCGATE_CONFIG".to_string(), config.display().to_string()),
    ];
    let gateway = Gateway::start(&model, GatewayOptions { env, ..Default::default() }).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let task = gateway.submit(&key, task_body(vec![bash("echo before > before.txt"), say("done")])).await;
    let before = task["id"].as_str().unwrap().to_string();
    assert_eq!(gateway.wait_done(&key, &before).await["status"], "completed");

    let filler = disk.fill();
    let with_files = json!({"prompt": "p", "files": [{"path": "big.txt", "content": "x".repeat(256 * 1024)}]});
    let response = gateway.request(reqwest::Method::POST, "/v1/tasks", &key).json(&with_files).send().await.unwrap();
    assert_eq!(response.status(), 507);
    assert_eq!(response.headers()["content-type"], "application/problem+json");
    assert_eq!(response.headers()["retry-after"], "30");
    let problem: Value = response.json().await.unwrap();
    assert!(problem["type"].as_str().unwrap().ends_with("/insufficient-storage"), "{problem}");
    assert!(problem["detail"].as_str().unwrap().contains("nothing of this request was stored"), "{problem}");
    // Nothing half-written: no task, no workspace.
    assert_eq!(task_count(&gateway, &key).await, 1);
    let workspaces: Vec<_> = std::fs::read_dir(data.join("tasks")).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(workspaces, [std::ffi::OsString::from(&before)], "a refused task left files behind");
    // Reads go on: the task, its events, its files.
    let (status, task) = gateway.get(&format!("/v1/tasks/{before}"), &key).await;
    assert_eq!((status, task["status"].as_str()), (200, Some("completed")));
    assert!(!gateway.events(&key, &before, None).await.is_empty());
    let file = gateway.request(reqwest::Method::GET, &format!("/v1/tasks/{before}/files/before.txt"), &key);
    assert_eq!(file.send().await.unwrap().text().await.unwrap(), "before\n");
    // The node says why it takes no work.
    let ready = gateway.http.get(format!("{}/readyz", gateway.url)).send().await.unwrap();
    let since = std::time::Instant::now();
    let mut ready_status = ready.status().as_u16();
    while ready_status != 503 {
        assert!(since.elapsed() < std::time::Duration::from_secs(10), "/readyz did not see the full disk");
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
        ready_status = gateway.http.get(format!("{}/readyz", gateway.url)).send().await.unwrap().status().as_u16();
    }

    // Space comes back: writes and runs work again.
    std::fs::remove_file(filler).unwrap();
    let task = gateway.submit(&key, task_body(vec![bash("echo after > after.txt"), say("done")])).await;
    let after = task["id"].as_str().unwrap();
    assert_eq!(gateway.wait_done(&key, after).await["status"], "completed");
    assert_eq!(task_count(&gateway, &key).await, 2);
}
