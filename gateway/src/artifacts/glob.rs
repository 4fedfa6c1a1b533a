//! Workspace globs as clients write them: `*` and `?` within one path segment,
//! `**` for any number of segments, `{a,b}` alternatives. Matching is on
//! `/`-separated relative paths; a leading `./` is ignored.

/// A compiled pattern: its alternatives, each a list of segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    alternatives: Vec<Vec<Segment>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// `**`: zero or more whole segments.
    AnyDepth,
    /// A segment pattern with `*` and `?`.
    Pattern(Vec<char>),
}

/// The longest pattern accepted, in bytes.
pub const MAX_PATTERN_BYTES: usize = 256;

impl Glob {
    pub fn parse(pattern: &str) -> Result<Self, String> {
        if pattern.is_empty() || pattern.len() > MAX_PATTERN_BYTES {
            return Err(format!("must be 1-{MAX_PATTERN_BYTES} bytes"));
        }
        if pattern.starts_with('/') {
            return Err("must be relative to the workspace".into());
        }
        if pattern.contains(['\\', '\0', '[', ']']) {
            return Err("must not contain backslashes, NUL or character classes ([...])".into());
        }
        let alternatives = expand_braces(pattern)?
            .iter()
            .map(|alternative| {
                let alternative = alternative.trim_start_matches("./");
                let mut segments: Vec<Segment> = Vec::new();
                for segment in alternative.split('/').filter(|s| *s != ".") {
                    let segment = match segment {
                        "" => return Err("must not contain empty segments".to_string()),
                        ".." => return Err("must not contain '..'".to_string()),
                        "**" => Segment::AnyDepth,
                        s if s.contains("**") => return Err("uses ** other than as a whole segment".to_string()),
                        s => Segment::Pattern(s.chars().collect()),
                    };
                    // `**/**` means the same as `**`.
                    if !(segment == Segment::AnyDepth && segments.last() == Some(&Segment::AnyDepth)) {
                        segments.push(segment);
                    }
                }
                Ok(segments)
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(Self { alternatives })
    }

    /// How many patterns its `{…}` alternatives expand to.
    pub fn alternatives(&self) -> usize {
        self.alternatives.len()
    }

    /// Whether the workspace-relative `path` matches.
    pub fn matches(&self, path: &str) -> bool {
        let segments: Vec<&str> = path.split('/').collect();
        self.alternatives.iter().any(|alternative| match_segments(alternative, &segments))
    }
}

/// `a/{b,c}/*.{rs,toml}` → four patterns (one level of braces, at most 64 results).
fn expand_braces(pattern: &str) -> Result<Vec<String>, String> {
    let Some(open) = pattern.find('{') else {
        return if pattern.contains('}') { Err("has an unmatched '}'".into()) } else { Ok(vec![pattern.to_string()]) };
    };
    let close = pattern[open..].find('}').map(|i| open + i).ok_or("has an unmatched '{'")?;
    let inner = &pattern[open + 1..close];
    if inner.contains('{') {
        return Err("must not nest braces".into());
    }
    let mut expanded = Vec::new();
    for choice in inner.split(',') {
        for rest in expand_braces(&pattern[close + 1..])? {
            expanded.push(format!("{}{choice}{rest}", &pattern[..open]));
            if expanded.len() > 64 {
                return Err("expands to more than 64 patterns".into());
            }
        }
    }
    Ok(expanded)
}

/// Whether the segments match the path, by dynamic programming over (pattern
/// position, path position): linear in their product whatever the `**` count.
fn match_segments(pattern: &[Segment], path: &[&str]) -> bool {
    let names: Vec<Vec<char>> = path.iter().map(|p| p.chars().collect()).collect();
    // matched[j]: the pattern so far matches the first j path segments.
    let mut matched = vec![false; names.len() + 1];
    matched[0] = true;
    for segment in pattern {
        let mut next = vec![false; names.len() + 1];
        match segment {
            Segment::AnyDepth => {
                let mut reachable = false;
                for j in 0..=names.len() {
                    reachable |= matched[j];
                    next[j] = reachable;
                }
            }
            Segment::Pattern(chars) => {
                for j in 0..names.len() {
                    next[j + 1] = matched[j] && match_segment(chars, &names[j]);
                }
            }
        }
        matched = next;
    }
    matched[names.len()]
}

/// `*` and `?` within one segment; a leading `.` is only matched literally, so
/// `*` does not pick up hidden files.
fn match_segment(pattern: &[char], name: &[char]) -> bool {
    if name.first() == Some(&'.') && pattern.first() != Some(&'.') {
        return false;
    }
    let (mut p, mut n, mut star, mut mark) = (0, 0, None, 0);
    while n < name.len() {
        if p < pattern.len() && (pattern[p] == '?' || pattern[p] == name[n]) {
            p += 1;
            n += 1;
        } else if p < pattern.len() && pattern[p] == '*' {
            star = Some(p);
            mark = n;
            p += 1;
        } else if let Some(s) = star {
            p = s + 1;
            mark += 1;
            n = mark;
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(|c| *c == '*')
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn matches(pattern: &str, path: &str) -> bool {
        Glob::parse(pattern).unwrap().matches(path)
    }

    #[test]
    fn globs_match_like_a_shell_with_double_star() {
        assert!(matches("out/**", "out/a/b/report.md"));
        assert!(matches("out/**", "out/x"));
        assert!(!matches("out/**", "outside/x"));
        assert!(matches("*.patch", "fix.patch"));
        assert!(!matches("*.patch", "sub/fix.patch"));
        assert!(matches("**/*.patch", "sub/deep/fix.patch"));
        assert!(matches("**/*.patch", "fix.patch"));
        assert!(matches("./src/*.{rs,toml}", "src/main.rs"));
        assert!(matches("src/*.{rs,toml}", "src/Cargo.toml"));
        assert!(matches("log-?.txt", "log-1.txt"));
        assert!(!matches("*", ".env"), "hidden files need an explicit dot");
        assert!(matches(".*", ".env"));
    }

    #[test]
    fn many_double_stars_stay_cheap() {
        let pattern = "**/a*/".repeat(40);
        let glob = Glob::parse(&format!("{}x", &pattern[..240])).unwrap();
        let deep = vec!["ab"; 60].join("/");
        let started = std::time::Instant::now();
        assert!(!glob.matches(&deep));
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "matching must not be exponential");
    }

    #[test]
    fn bad_patterns_say_why() {
        for bad in ["", "/etc/*", "../x", "a//b", "a/**b", "{a,b", "[ab]", "a/{b,{c}}"] {
            assert!(Glob::parse(bad).is_err(), "{bad}");
        }
    }
}
