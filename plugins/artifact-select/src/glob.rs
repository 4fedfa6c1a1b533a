//! A small glob matcher for `/`-separated relative paths.
//!
//! * `**` as a whole segment matches zero or more segments (`**/*.rs`, `docs/**`);
//! * `*` matches any run of characters within one segment (never `/`);
//! * `?` matches one character other than `/`;
//! * everything else matches itself. A leading `/` or `./` is ignored, and a
//!   trailing `/` means "everything below" (`target/` = `target/**`).
//!
//! Patterns match the whole path: `*.rs` matches `main.rs` but not `src/main.rs`.

/// A parsed glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    segments: Vec<String>,
}

impl Glob {
    /// Parses a pattern; an error for an empty one or one with a `..` segment.
    pub fn new(pattern: &str) -> Result<Self, String> {
        let mut p = pattern.trim();
        while let Some(rest) = p.strip_prefix("./").or_else(|| p.strip_prefix('/')) {
            p = rest;
        }
        if p.is_empty() {
            return Err("empty pattern".to_owned());
        }
        let mut segments: Vec<String> = p.split('/').filter(|s| !s.is_empty()).map(str::to_owned).collect();
        if segments.iter().any(|s| s == "..") {
            return Err("`..` never matches a workspace path".to_owned());
        }
        if p.ends_with('/') {
            segments.push("**".to_owned());
        }
        // Runs of `**` are one `**`.
        segments.dedup_by(|a, b| a == "**" && b == "**");
        Ok(Glob { segments })
    }

    /// Whether `path` (relative, `/`-separated) matches.
    pub fn matches(&self, path: &str) -> bool {
        let parts: Vec<&str> = path.split('/').filter(|s| !s.is_empty()).collect();
        match_segments(&self.segments, &parts)
    }
}

fn match_segments(pattern: &[String], path: &[&str]) -> bool {
    match pattern.split_first() {
        None => path.is_empty(),
        Some((first, rest)) if first == "**" => (0..=path.len()).any(|skip| match_segments(rest, &path[skip..])),
        Some((first, rest)) => {
            !path.is_empty() && match_segment(first.as_bytes(), path[0].as_bytes()) && match_segments(rest, &path[1..])
        }
    }
}

/// `*` / `?` matching within one segment (iterative, with backtracking to the last `*`).
fn match_segment(pattern: &[u8], text: &[u8]) -> bool {
    let pattern = std::str::from_utf8(pattern).unwrap_or_default().chars().collect::<Vec<_>>();
    let text = std::str::from_utf8(text).unwrap_or_default().chars().collect::<Vec<_>>();
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == text[t]) {
            p += 1;
            t += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some((p, t));
            p += 1;
        } else if let Some((sp, st)) = star {
            p = sp + 1;
            t = st + 1;
            star = Some((sp, st + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(pattern: &str, path: &str) -> bool {
        Glob::new(pattern).unwrap().matches(path)
    }

    #[test]
    fn double_star() {
        assert!(m("**", "a"));
        assert!(m("**", "a/b/c.txt"));
        assert!(m("**/*.rs", "main.rs"));
        assert!(m("**/*.rs", "src/bin/main.rs"));
        assert!(!m("**/*.rs", "src/main.rsx"));
        assert!(m("docs/**", "docs/a/b.md"));
        assert!(!m("docs/**", "doc/a.md"));
        assert!(m("a/**/z", "a/z"));
        assert!(m("a/**/z", "a/b/c/z"));
        assert!(m("target/", "target/debug/x"));
        assert!(m("**/node_modules/**", "web/node_modules/x/y.js"));
    }

    #[test]
    fn single_star_and_question_mark_stay_in_a_segment() {
        assert!(m("*.md", "README.md"));
        assert!(!m("*.md", "docs/README.md"));
        assert!(m("src/*.rs", "src/lib.rs"));
        assert!(!m("src/*.rs", "src/a/lib.rs"));
        assert!(m("report-??.csv", "report-01.csv"));
        assert!(!m("report-??.csv", "report-1.csv"));
        assert!(m("*", "x"));
        assert!(!m("*", "x/y"));
        assert!(m("a*b*c", "aXXbYYc"));
        assert!(!m("a*b*c", "aXXbYY"));
        assert!(m("/out/*.json", "out/r.json"));
        assert!(m("ünï*", "ünïcode"));
    }

    #[test]
    fn invalid_patterns() {
        assert!(Glob::new("").is_err());
        assert!(Glob::new("../x").is_err());
    }
}
