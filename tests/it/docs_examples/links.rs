//! Every relative link of the README and `docs/` leads to a file of the repository,
//! and to a heading of it when it names one, so the docs stand alone.

use std::path::Path;

use crate::support::repo_root;

/// The lines of a Markdown page outside fenced code.
fn prose_lines(page: &str) -> Vec<&str> {
    let mut in_fence = false;
    let mut lines = Vec::new();
    for line in page.lines() {
        if line.trim_start().starts_with("```") {
            in_fence = !in_fence;
        } else if !in_fence {
            lines.push(line);
        }
    }
    lines
}

/// The anchors GitHub gives a page's headings: lowercase, punctuation dropped,
/// spaces as `-`.
fn anchors(page: &str) -> Vec<String> {
    let titles = prose_lines(page).into_iter().filter_map(|line| line.strip_prefix('#'));
    titles
        .map(|title| {
            let title = title.trim_start_matches('#').trim().to_lowercase();
            title
                .chars()
                .filter_map(|c| match c {
                    ' ' => Some('-'),
                    c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c),
                    _ => None,
                })
                .collect()
        })
        .collect()
}

/// The `](target)` links of a Markdown page, outside code blocks.
fn links(page: &str) -> Vec<String> {
    let mut found = Vec::new();
    for line in prose_lines(page) {
        let mut rest = line;
        while let Some(at) = rest.find("](") {
            rest = &rest[at + 2..];
            if let Some(end) = rest.find(')') {
                found.push(rest[..end].to_string());
                rest = &rest[end..];
            }
        }
    }
    found
}

fn check_page(root: &Path, page: &Path, problems: &mut Vec<String>) {
    let text = std::fs::read_to_string(page).unwrap();
    let shown = page.strip_prefix(root).unwrap().display().to_string();
    for link in links(&text) {
        if link.starts_with("http://") || link.starts_with("https://") || link.starts_with("mailto:") {
            continue;
        }
        let (file, anchor) = link.split_once('#').map_or((link.as_str(), None), |(f, a)| (f, Some(a)));
        let target = if file.is_empty() { page.to_path_buf() } else { page.parent().unwrap().join(file) };
        if !target.exists() {
            problems.push(format!("{shown}: {link} leads to no file"));
            continue;
        }
        if let Some(anchor) = anchor.filter(|_| target.extension().is_some_and(|e| e == "md")) {
            let headings = anchors(&std::fs::read_to_string(&target).unwrap());
            if !headings.iter().any(|heading| heading == anchor) {
                problems.push(format!("{shown}: {link} names no heading of {}", target.display()));
            }
        }
    }
}

#[test]
fn the_readme_and_the_docs_link_only_to_what_exists() {
    let root = repo_root();
    let mut pages = vec![root.join("README.md")];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            pages.push(path);
        }
    }
    let mut problems = Vec::new();
    for page in &pages {
        check_page(&root, page, &mut problems);
    }
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[test]
fn anchors_are_read_as_github_makes_them() {
    let page = "# Getting started\n## A first task with curl, offline\n```sh\n# not a heading\n```\n### `[plugins]`\n## Stream a task's events\n";
    assert_eq!(
        anchors(page),
        ["getting-started", "a-first-task-with-curl-offline", "plugins", "stream-a-tasks-events"]
    );
    assert_eq!(links("see [a](b.md#c) and [d](https://e)\n```\n[no](link)\n```"), ["b.md#c", "https://e"]);
}
