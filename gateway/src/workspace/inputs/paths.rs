//! The rules a path must follow to be placed in a workspace, and where a symbolic
//! link would lead, decided from the text alone (nothing is on disk yet).

/// Longest workspace-relative path accepted, in bytes.
pub const MAX_PATH_BYTES: usize = 1024;

/// A workspace-relative path: no absolute path, no `..`, no empty or odd parts.
pub fn check_relative_path(path: &str) -> Result<(), String> {
    if path.is_empty() {
        return Err("must not be empty".into());
    }
    if path.len() > MAX_PATH_BYTES {
        return Err(format!("must be at most {MAX_PATH_BYTES} bytes"));
    }
    if path.starts_with('/') || path.starts_with('\\') {
        return Err("must be relative to the workspace, not absolute".into());
    }
    if path.contains('\0') || path.contains('\\') {
        return Err("must not contain NUL or backslash characters".into());
    }
    // Newlines, escapes and other control characters make names that forge lines
    // in listings, logs and archives; no real project needs them.
    if path.chars().any(char::is_control) {
        return Err("must not contain control characters (newlines, tabs, escapes)".into());
    }
    for part in path.split('/') {
        match part {
            ".." => return Err("must not contain '..'".into()),
            "" => return Err("must not contain empty path segments".into()),
            _ if part.len() > 255 => return Err("must not have a path segment longer than 255 bytes".into()),
            _ => {}
        }
    }
    if path.split('/').all(|p| p == ".") {
        return Err("must name a file".into());
    }
    Ok(())
}

/// The path without `.` segments, as the file system will see it.
pub fn normalize(path: &str) -> String {
    path.split('/').filter(|p| *p != ".").collect::<Vec<_>>().join("/")
}

/// The parent directories of a normalized path, shortest first (`a`, `a/b` for `a/b/c`).
pub fn ancestors(path: &str) -> impl Iterator<Item = &str> {
    path.match_indices('/').map(move |(i, _)| &path[..i])
}

/// Where the link at `link` (normalized) pointing at `target` leads, as a normalized
/// workspace path (`""` is the workspace itself); `Err` when it leaves the workspace
/// or passes through another link (`is_link`), which text alone cannot follow.
pub fn resolve_link(link: &str, target: &str, is_link: impl Fn(&str) -> bool) -> Result<String, String> {
    if target.is_empty() {
        return Err("is a link with an empty target".into());
    }
    if target.len() > MAX_PATH_BYTES {
        return Err(format!("is a link whose target is longer than {MAX_PATH_BYTES} bytes"));
    }
    if target.contains('\0') || target.chars().any(char::is_control) {
        return Err("is a link whose target has NUL or control characters".into());
    }
    if target.starts_with('/') {
        return Err(format!("is a link to the absolute path {target:?}, outside the workspace"));
    }
    let mut resolved: Vec<&str> = link.split('/').collect();
    resolved.pop();
    let parts: Vec<&str> = target.split('/').filter(|p| !p.is_empty() && *p != ".").collect();
    for (i, part) in parts.iter().enumerate() {
        if *part == ".." {
            if resolved.pop().is_none() {
                return Err(format!("is a link to {target:?}, which leads outside the workspace"));
            }
            continue;
        }
        resolved.push(part);
        let so_far = resolved.join("/");
        if i + 1 < parts.len() && is_link(&so_far) {
            return Err(format!("is a link to {target:?}, which passes through the link {so_far:?}"));
        }
    }
    Ok(resolved.join("/"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_and_long_link_targets_are_refused() {
        assert!(check_relative_path("a\nb.txt").unwrap_err().contains("control characters"));
        assert!(check_relative_path("a\u{1b}[31mred").unwrap_err().contains("control characters"));
        assert!(check_relative_path("tab\there").is_err());
        assert!(check_relative_path("ünïcode/ok.txt").is_ok());
        let long = "a/".repeat(2500);
        assert!(resolve_link("l", &long, |_| false).unwrap_err().contains("longer than"));
        assert!(resolve_link("l", "x\ny", |_| false).unwrap_err().contains("control characters"));
    }

    #[test]
    fn links_stay_inside_and_do_not_chain() {
        let no_links = |_: &str| false;
        assert_eq!(resolve_link("a/b/link", "../c", no_links).unwrap(), "a/c");
        assert_eq!(resolve_link("link", ".", no_links).unwrap(), "");
        assert!(resolve_link("a/link", "../../etc/passwd", no_links).unwrap_err().contains("outside"));
        assert!(resolve_link("link", "/etc/passwd", no_links).unwrap_err().contains("absolute"));
        let other_is_link = |p: &str| p == "d";
        assert!(resolve_link("e", "d/../x", other_is_link).unwrap_err().contains("through the link \"d\""));
        assert_eq!(resolve_link("e", "d", other_is_link).unwrap(), "d");
    }

    #[test]
    fn paths_are_checked_and_normalized() {
        assert!(check_relative_path("../x").is_err());
        assert!(check_relative_path("/x").is_err());
        assert!(check_relative_path("a//b").is_err());
        assert!(check_relative_path("./.").is_err());
        assert_eq!(normalize("./a/./b"), "a/b");
        assert_eq!(ancestors("a/b/c").collect::<Vec<_>>(), ["a", "a/b"]);
    }
}
