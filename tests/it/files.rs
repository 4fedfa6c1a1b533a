//! Workspace listing and downloads, with links and FIFOs the agent planted.

use serde_json::json;

use crate::support::*;

#[tokio::test(flavor = "multi_thread")]
async fn downloads_serve_regular_files_and_never_follow_planted_links() {
    let model = Model::start().await;
    let gateway = Gateway::start(&model, GatewayOptions::default()).await;
    let key = gateway.create_key(&["--name", "dev"]);
    let neighbour =
        gateway.submit(&key, json!({"prompt": scripted(vec![bash("echo private > mine.txt"), say("ok")])})).await;
    let neighbour_id = neighbour["id"].as_str().unwrap();
    gateway.wait_done(&key, neighbour_id).await;
    let plant = format!(
        "mkdir -p out && printf 'report' > out/report.md && ln -s /etc/passwd passwd && ln -s ../../{neighbour_id}/workspace/mine.txt theirs && mkfifo pipe"
    );
    let task = gateway.submit(&key, json!({"prompt": scripted(vec![bash(&plant), say("planted")])})).await;
    let id = task["id"].as_str().unwrap();
    assert_eq!(gateway.wait_done(&key, id).await["status"], "completed");

    let (status, listing) = gateway.get(&format!("/v1/tasks/{id}/files"), &key).await;
    assert_eq!(status, 200, "{listing}");
    let paths: Vec<&str> = listing["data"].as_array().unwrap().iter().map(|f| f["path"].as_str().unwrap()).collect();
    assert_eq!(paths, ["out/report.md"]);
    assert_eq!(listing["data"][0]["size"], 6);
    assert_eq!(listing["truncated"], false);

    let response = gateway
        .request(reqwest::Method::GET, &format!("/v1/tasks/{id}/files/out/report.md"), &key)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-length"], "6");
    assert_eq!(response.text().await.unwrap(), "report");
    for refused in ["passwd", "theirs", "pipe", "out", "missing", "..%2F..%2F..%2Fccgate.db"] {
        let response = gateway
            .request(reqwest::Method::GET, &format!("/v1/tasks/{id}/files/{refused}"), &key)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{refused}");
        let body = response.text().await.unwrap();
        assert!(!body.contains("root:") && !body.contains("private"), "{refused} leaked: {body}");
    }
    // The whole workspace as an archive holds the same regular files, and nothing else.
    let tgz = gateway.request(reqwest::Method::GET, &format!("/v1/tasks/{id}/archive"), &key).send().await.unwrap();
    assert_eq!(tgz.status(), 200);
    assert_eq!(tgz.headers()["content-type"], "application/gzip");
    let entries = tar_gz_entries(&tgz.bytes().await.unwrap());
    assert_eq!(entries, [("out/report.md".to_string(), "report".to_string())]);
    let zip = gateway
        .request(reqwest::Method::GET, &format!("/v1/tasks/{id}/archive?format=zip"), &key)
        .send()
        .await
        .unwrap();
    assert_eq!(zip.headers()["content-type"], "application/zip");
    let bytes = zip.bytes().await.unwrap();
    let mut archive = zip::ZipArchive::new(std::io::Cursor::new(bytes.to_vec())).unwrap();
    assert_eq!(archive.len(), 1);
    let mut text = String::new();
    std::io::Read::read_to_string(&mut archive.by_name("out/report.md").unwrap(), &mut text).unwrap();
    assert_eq!(text, "report");
    let (status, _) = gateway.get(&format!("/v1/tasks/{id}/archive?format=rar"), &key).await;
    assert_eq!(status, 422);

    // Another key can't list it at all.
    let other = gateway.create_key(&["--name", "other"]);
    let (status, _) = gateway.get(&format!("/v1/tasks/{id}/files"), &other).await;
    assert_eq!(status, 404);
}
