//! The one glob syntax of ccgate, for `/`-separated paths: the gateway's artifact
//! patterns and permission rules and the plugins that select files or judge tool
//! calls all match with it (`docs/api.md`, "Globs").
//!
//! - `*` matches any run of characters within one segment, `?` one character;
//! - `**` as a whole segment matches any number of segments, none included;
//! - `{a,b}` is either alternative (one level, at most 64 patterns in all);
//! - a leading `/` or `./` is ignored, `.` segments too; a trailing `/` means
//!   everything below (`target/` is `target/**`);
//! - `..`, empty segments, `**` inside a segment, `[`, `]`, `\` and NUL are errors.
//!
//! [`Anchored`] adds where a permission rule's path pattern starts: the workspace,
//! the home (`~/`), the root (`//`), or any depth for a bare name (`*.md`).
//!
//! Matching takes at most pattern × path steps, however both are written: each
//! level backtracks only to its last star ([`wildcard`]).

mod anchored;
mod wildcard;

pub use anchored::{Anchored, PATH_TOOLS, Place, call_path, normalize};
pub use wildcard::wildcard;

/// The longest pattern accepted, in bytes.
pub const MAX_PATTERN_BYTES: usize = 256;

/// The most patterns `{…}` alternatives may expand to.
pub const MAX_ALTERNATIVES: usize = 64;

/// Why a pattern is not a glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GlobError {
    Length,
    Forbidden,
    EmptySegment,
    Parent,
    DoubleStarInSegment,
    UnmatchedBrace,
    NestedBraces,
    TooManyAlternatives,
}

impl std::fmt::Display for GlobError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            GlobError::Length => "must be 1-256 bytes",
            GlobError::Forbidden => "must not contain backslashes, NUL or character classes ([...])",
            GlobError::EmptySegment => "must not contain empty segments",
            GlobError::Parent => "must not contain '..'",
            GlobError::DoubleStarInSegment => "uses ** other than as a whole segment",
            GlobError::UnmatchedBrace => "has an unmatched '{' or '}'",
            GlobError::NestedBraces => "must not nest braces",
            GlobError::TooManyAlternatives => "expands to more than 64 patterns",
        })
    }
}

impl std::error::Error for GlobError {}

/// Whether `*` and `?` match the `.` that starts a hidden file's name.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Hidden {
    /// They do: `*` matches `.env` (what a rule that denies must do).
    Matched,
    /// Only a pattern segment that starts with `.` matches a hidden name, as in a
    /// shell: `*` does not pick up `.env`.
    NeedDot,
}

/// A compiled pattern: its alternatives, each a list of segments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Glob {
    alternatives: Vec<Vec<Segment>>,
    hidden: Hidden,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    /// `**`: zero or more whole segments.
    AnyDepth,
    /// A segment pattern with `*` and `?`.
    Name(Vec<char>),
}

impl Glob {
    /// Compiles `pattern`; hidden names are matched like any other.
    pub fn parse(pattern: &str) -> Result<Self, GlobError> {
        if pattern.is_empty() || pattern.len() > MAX_PATTERN_BYTES {
            return Err(GlobError::Length);
        }
        if pattern.contains(['\\', '\0', '[', ']']) {
            return Err(GlobError::Forbidden);
        }
        let alternatives =
            expand_braces(pattern)?.iter().map(|alternative| segments(alternative)).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { alternatives, hidden: Hidden::Matched })
    }

    /// The same pattern, with `hidden` saying whether wildcards match hidden names.
    pub fn hidden(mut self, hidden: Hidden) -> Self {
        self.hidden = hidden;
        self
    }

    /// How many patterns its `{…}` alternatives expand to.
    pub fn alternatives(&self) -> usize {
        self.alternatives.len()
    }

    /// Whether `path` matches (empty segments, a leading `/` among them, are skipped).
    pub fn matches(&self, path: &str) -> bool {
        let names: Vec<Vec<char>> =
            path.split('/').filter(|s| !s.is_empty() && *s != ".").map(|s| s.chars().collect()).collect();
        self.alternatives.iter().any(|alternative| {
            wildcard(
                alternative,
                &names,
                |s| *s == Segment::AnyDepth,
                |segment, name| match segment {
                    Segment::AnyDepth => false,
                    Segment::Name(pattern) => self.name_matches(pattern, name),
                },
            )
        })
    }

    fn name_matches(&self, pattern: &[char], name: &[char]) -> bool {
        if self.hidden == Hidden::NeedDot && name.first() == Some(&'.') && pattern.first() != Some(&'.') {
            return false;
        }
        wildcard(pattern, name, |&c| c == '*', |&p, &n| p == '?' || p == n)
    }
}

/// One alternative's segments.
fn segments(alternative: &str) -> Result<Vec<Segment>, GlobError> {
    let mut rest = alternative;
    while let Some(after) = rest.strip_prefix("./").or_else(|| rest.strip_prefix('/')) {
        rest = after;
    }
    let below = rest.ends_with('/');
    let rest = rest.strip_suffix('/').unwrap_or(rest);
    let mut segments: Vec<Segment> = Vec::new();
    let parts = if rest.is_empty() { Vec::new() } else { rest.split('/').collect() };
    for part in parts.into_iter().chain(below.then_some("**")) {
        let segment = match part {
            "." => continue,
            "" => return Err(GlobError::EmptySegment),
            ".." => return Err(GlobError::Parent),
            "**" => Segment::AnyDepth,
            s if s.contains("**") => return Err(GlobError::DoubleStarInSegment),
            s => Segment::Name(s.chars().collect()),
        };
        // `**/**` means the same as `**`.
        if !(segment == Segment::AnyDepth && segments.last() == Some(&Segment::AnyDepth)) {
            segments.push(segment);
        }
    }
    Ok(segments)
}

/// `a/{b,c}/*.{rs,toml}` → four patterns.
fn expand_braces(pattern: &str) -> Result<Vec<String>, GlobError> {
    let Some(open) = pattern.find('{') else {
        return if pattern.contains('}') { Err(GlobError::UnmatchedBrace) } else { Ok(vec![pattern.to_string()]) };
    };
    let close = pattern[open..].find('}').map(|i| open + i).ok_or(GlobError::UnmatchedBrace)?;
    let inner = &pattern[open + 1..close];
    if inner.contains('{') {
        return Err(GlobError::NestedBraces);
    }
    if pattern[..open].contains('}') {
        return Err(GlobError::UnmatchedBrace);
    }
    let mut expanded = Vec::new();
    for choice in inner.split(',') {
        for rest in expand_braces(&pattern[close + 1..])? {
            expanded.push(format!("{}{choice}{rest}", &pattern[..open]));
            if expanded.len() > MAX_ALTERNATIVES {
                return Err(GlobError::TooManyAlternatives);
            }
        }
    }
    Ok(expanded)
}

#[cfg(test)]
mod tests {
    use super::{Glob, GlobError, Hidden};

    fn matches(pattern: &str, path: &str) -> bool {
        Glob::parse(pattern).unwrap().matches(path)
    }

    #[test]
    fn double_star_matches_any_number_of_segments() {
        assert!(matches("out/**", "out/a/b/report.md"));
        assert!(matches("out/**", "out/x"));
        assert!(!matches("out/**", "outside/x"));
        assert!(matches("**", "a/b/c.txt"));
        assert!(matches("**/*.patch", "sub/deep/fix.patch"));
        assert!(matches("**/*.patch", "fix.patch"));
        assert!(!matches("**/*.rs", "src/main.rsx"));
        assert!(matches("a/**/z", "a/z"));
        assert!(matches("a/**/z", "a/b/c/z"));
        assert!(matches("**/node_modules/**", "web/node_modules/x/y.js"));
        assert!(matches("target/", "target/debug/x"), "a trailing slash means everything below");
    }

    #[test]
    fn single_star_and_question_mark_stay_in_a_segment() {
        assert!(matches("*.patch", "fix.patch"));
        assert!(!matches("*.patch", "sub/fix.patch"));
        assert!(matches("src/*.rs", "src/lib.rs"));
        assert!(!matches("src/*.rs", "src/a/lib.rs"));
        assert!(matches("log-?.txt", "log-1.txt"));
        assert!(!matches("report-??.csv", "report-1.csv"));
        assert!(matches("a*b*c", "aXXbYYc"));
        assert!(!matches("a*b*c", "aXXbYY"));
        assert!(matches("ünï*", "ünïcode"));
    }

    #[test]
    fn leading_slash_dot_segments_and_braces() {
        assert!(matches("/out/*.json", "out/r.json"));
        assert!(matches("./src/*.{rs,toml}", "src/main.rs"));
        assert!(matches("src/*.{rs,toml}", "src/Cargo.toml"));
        assert!(matches("src/./*.rs", "src/lib.rs"));
        assert!(matches("src/**", "/src/lib.rs"), "a path's leading slash is skipped too");
        assert_eq!(Glob::parse("{a,b}/{c,d,e}").unwrap().alternatives(), 6);
    }

    #[test]
    fn hidden_names_need_a_dot_only_when_asked() {
        assert!(matches("*", ".env"));
        assert!(matches("*.env", ".env"));
        let shell_like = |pattern: &str| Glob::parse(pattern).unwrap().hidden(Hidden::NeedDot);
        assert!(!shell_like("*").matches(".env"));
        assert!(!shell_like("?env").matches(".env"));
        assert!(shell_like(".*").matches(".env"));
        assert!(shell_like("**/x").matches(".git/x"), "** crosses hidden directories");
    }

    #[test]
    fn bad_patterns_say_why() {
        let cases = [
            ("", GlobError::Length),
            ("../x", GlobError::Parent),
            ("a//b", GlobError::EmptySegment),
            ("a/**b", GlobError::DoubleStarInSegment),
            ("{a,b", GlobError::UnmatchedBrace),
            ("a}", GlobError::UnmatchedBrace),
            ("[ab]", GlobError::Forbidden),
            ("a\\b", GlobError::Forbidden),
            ("a/{b,{c}}", GlobError::NestedBraces),
            ("{a,b,c,d}{a,b,c,d}{a,b,c,d}{a,b}", GlobError::TooManyAlternatives),
        ];
        for (bad, why) in cases {
            assert_eq!(Glob::parse(bad), Err(why), "{bad}");
        }
        assert_eq!(Glob::parse(&"a".repeat(257)), Err(GlobError::Length));
        assert!(!GlobError::Parent.to_string().is_empty());
    }

    #[test]
    fn many_double_stars_stay_cheap() {
        let pattern = "**/a*/".repeat(40);
        let glob = Glob::parse(&format!("{}x", &pattern[..240])).unwrap();
        let deep = vec!["ab"; 400].join("/");
        let started = std::time::Instant::now();
        assert!(!glob.matches(&deep));
        let stars = Glob::parse(&format!("{}b", "*a".repeat(60))).unwrap();
        assert!(!stars.matches(&"a".repeat(2000)));
        assert!(stars.matches(&format!("{}b", "a".repeat(2000))));
        assert!(started.elapsed() < std::time::Duration::from_secs(1), "matching must not be exponential");
    }
}
