use super::*;
use serde_json::{Value, json};

/// A fresh directory with `files` (path → content) in it.
fn tree(name: &str, files: &[(&str, &[u8])]) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("ccgate-artifact-select-{}-{name}", std::process::id()));
    let _ = fs::remove_dir_all(&dir);
    fs::create_dir_all(&dir).unwrap();
    for (path, content) in files {
        let p = dir.join(path);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(p, content).unwrap();
    }
    dir
}

fn listing(files: &[(&str, &[u8])]) -> Vec<WorkspaceFile> {
    files.iter().map(|(p, c)| WorkspaceFile { path: (*p).to_owned(), size: c.len() as u64 }).collect()
}

fn config(value: Value) -> Config {
    serde_json::from_value(value).unwrap()
}

fn select(name: &str, config_value: Value, files: &[(&str, &[u8])]) -> Vec<Artifact> {
    let c = config(config_value);
    let roots = Roots { workspace: tree(name, files), baseline: None };
    let mut listed = listing(files);
    listed.reverse(); // the output order must not depend on the listing's
    Selector::new(&c).unwrap().collect(&roots, &listed)
}

fn paths(artifacts: &[Artifact]) -> Vec<&str> {
    artifacts.iter().map(|a| a.path.as_str()).collect()
}

const FILES: &[(&str, &[u8])] = &[
    ("README.md", b"# readme\n"),
    ("src/main.rs", b"fn main() {}\n"),
    ("src/big.rs", &[b'x'; 5000]),
    ("out/report.json", b"{\"ok\":true}"),
    ("out/data.bin", b"\x00\x01\x02"),
    ("out/fake.txt", b"text\x00with nul"),
    ("img/logo.png", b"\x89PNG\r\n\x1a\n\x00"),
    ("node_modules/x/index.js", b"module.exports = 1;\n"),
];

#[test]
fn defaults_select_everything_in_path_order() {
    let a = select("defaults", json!({}), FILES);
    let mut expected: Vec<&str> = FILES.iter().map(|(p, _)| *p).collect();
    expected.sort();
    assert_eq!(paths(&a), expected);
    assert!(a.iter().all(|a| a.content.is_none() && a.content_type.is_none()));
}

#[test]
fn include_and_exclude_globs() {
    let a = select("globs", json!({"include": ["src/**", "*.md", "out/*.json"], "exclude": ["**/big.rs"]}), FILES);
    assert_eq!(paths(&a), ["README.md", "out/report.json", "src/main.rs"]);
    let a = select("globs2", json!({"exclude": ["node_modules/", "img/**", "out/**", "src/**"]}), FILES);
    assert_eq!(paths(&a), ["README.md"]);
}

#[test]
fn size_and_count_limits() {
    let a = select("sizes", json!({"max_file_bytes": 100}), FILES);
    assert!(!paths(&a).contains(&"src/big.rs"));
    // in path order: README.md (9), img/logo.png (9), node_modules/x/index.js (20, too many), src/big.rs, src/main.rs (13)
    let a =
        select("total", json!({"max_total_bytes": 31, "include": ["**/*.md", "**/*.png", "**/*.js", "src/**"]}), FILES);
    assert_eq!(paths(&a), ["README.md", "img/logo.png", "src/main.rs"]);
    let a = select("count", json!({"max_files": 2}), FILES);
    assert_eq!(paths(&a), ["README.md", "img/logo.png"]);
}

#[test]
fn content_types_with_nul_sniffing() {
    let a = select("types", json!({"content_types": ["text/", "application/json"]}), FILES);
    assert_eq!(paths(&a), ["README.md", "node_modules/x/index.js", "out/report.json", "src/big.rs", "src/main.rs"]);
    let a = select("types2", json!({"content_types": ["application/octet-stream", "image/png"]}), FILES);
    assert_eq!(paths(&a), ["img/logo.png", "out/data.bin", "out/fake.txt"]);
}

#[test]
fn unsafe_listed_paths_are_ignored() {
    let files: &[(&str, &[u8])] = &[("ok.txt", b"x")];
    let c = Config::default();
    let roots = Roots { workspace: tree("unsafe", files), baseline: None };
    let mut listed = listing(files);
    listed.push(WorkspaceFile { path: "../etc/passwd".into(), size: 1 });
    listed.push(WorkspaceFile { path: "/etc/passwd".into(), size: 1 });
    assert_eq!(paths(&Selector::new(&c).unwrap().collect(&roots, &listed)), ["ok.txt"]);
}

#[test]
fn diff_against_the_baseline() {
    let baseline = tree(
        "diff-base",
        &[
            ("keep.txt", b"same\n"),
            ("edit.txt", b"one\ntwo\nthree\n"),
            ("gone.txt", b"bye\n"),
            ("bin.dat", b"\x00\x01"),
            ("skip/x.txt", b"old\n"),
        ],
    );
    let files: &[(&str, &[u8])] = &[
        ("keep.txt", b"same\n"),
        ("edit.txt", b"one\n2\nthree\n"),
        ("new.txt", b"hello\n"),
        ("bin.dat", b"\x00\x02"),
        ("skip/x.txt", b"new\n"),
    ];
    let roots = Roots { workspace: tree("diff-work", files), baseline: Some(baseline) };
    let c = config(
        json!({"exclude": ["skip/"], "diff": {"enabled": true}, "include": ["keep.txt", "edit.txt", "new.txt", "bin.dat", "gone.txt", "skip/**"]}),
    );
    let artifacts = Selector::new(&c).unwrap().collect(&roots, &listing(files));
    assert_eq!(paths(&artifacts), ["bin.dat", "edit.txt", "keep.txt", "new.txt", "changes.diff"]);
    let diff = artifacts.last().unwrap();
    assert_eq!(diff.content_type.as_deref(), Some("text/x-diff"));
    let text = String::from_utf8(diff.content.clone().unwrap()).unwrap();
    assert_eq!(
        text,
        "diff --git a/bin.dat b/bin.dat\nBinary files a/bin.dat and b/bin.dat differ\n\
         diff --git a/edit.txt b/edit.txt\n--- a/edit.txt\n+++ b/edit.txt\n@@ -1,3 +1,3 @@\n one\n-two\n+2\n three\n\
         diff --git a/gone.txt b/gone.txt\ndeleted file mode 100644\n--- a/gone.txt\n+++ /dev/null\n@@ -1 +0,0 @@\n-bye\n\
         diff --git a/new.txt b/new.txt\nnew file mode 100644\n--- /dev/null\n+++ b/new.txt\n@@ -0,0 +1 @@\n+hello\n"
    );
}

#[test]
fn diff_without_baseline_lists_added_files() {
    let files: &[(&str, &[u8])] = &[("a.txt", b"x\n"), ("b.txt", b"")];
    let roots = Roots { workspace: tree("diff-nobase", files), baseline: None };
    let c = config(json!({"diff": {"enabled": true, "name": "out/all.diff"}}));
    let artifacts = Selector::new(&c).unwrap().collect(&roots, &listing(files));
    let diff = artifacts.iter().find(|a| a.path == "out/all.diff").unwrap();
    let text = String::from_utf8(diff.content.clone().unwrap()).unwrap();
    assert_eq!(
        text,
        "diff --git a/a.txt b/a.txt\nnew file mode 100644\n--- /dev/null\n+++ b/a.txt\n@@ -0,0 +1 @@\n+x\n\
         diff --git a/b.txt b/b.txt\nnew file mode 100644\n"
    );
}

#[test]
fn check_config_reports_problems() {
    let c = config(json!({
        "include": ["", "ok/**"],
        "exclude": ["../x"],
        "content_types": ["text/", "bad type", "a/b/c"],
        "diff": {"enabled": true, "name": "*.diff"}
    }));
    let v = ArtifactSelect::check_config(&c);
    let p: Vec<_> = v.iter().map(|v| v.pointer.as_str()).collect();
    assert_eq!(p, ["/include/0", "/exclude/0", "/content_types/1", "/content_types/2", "/diff/name"]);
    assert!(ArtifactSelect::check_config(&Config::default()).is_empty());
    let schema: Value = serde_json::from_str(ArtifactSelect::config_schema().unwrap()).unwrap();
    assert_eq!(schema["additionalProperties"], false);
}

#[test]
fn the_diff_covers_changes_outside_the_selected_files() {
    let baseline = tree("diff-scope-base", &[("src/app.py", b"print('v1')\n")]);
    let files: &[(&str, &[u8])] = &[("src/app.py", b"print('v2')\n"), ("out/report.md", b"# Report\n")];
    let roots = Roots { workspace: tree("diff-scope-work", files), baseline: Some(baseline) };
    let c = config(json!({"include": ["out/**"], "diff": {"enabled": true}}));
    let artifacts = Selector::new(&c).unwrap().collect(&roots, &listing(files));
    assert_eq!(paths(&artifacts), ["out/report.md", "changes.diff"]);
    let text = String::from_utf8(artifacts[1].content.clone().unwrap()).unwrap();
    assert!(text.contains("-print('v1')") && text.contains("+print('v2')"), "{text}");
    let narrowed = config(json!({"include": ["out/**"], "diff": {"enabled": true, "include": ["out/**"]}}));
    let artifacts = Selector::new(&narrowed).unwrap().collect(&roots, &listing(files));
    let text = String::from_utf8(artifacts[1].content.clone().unwrap()).unwrap();
    assert!(!text.contains("src/app.py"), "{text}");
}
