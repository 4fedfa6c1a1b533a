//! A task's own answers to permission prompts: `options.approvals.auto_allow` and
//! `auto_deny`, rule strings in the CLI's syntax — `Read`, `Bash(git status:*)`,
//! `Edit(src/**)`, `WebFetch(domain:example.com)`.
//!
//! The two sides match differently on purpose. An allow rule is read narrowly: a Bash
//! command matches only when it is one plain command (no `;`, `&&`, pipes,
//! redirections, substitutions), so `Bash(git status:*)` never allows
//! `git status && rm -rf .`. A deny rule is read widely: it matches when any command
//! of a compound line matches, so `Bash(curl:*)` denies `cd x && curl …`. Neither is
//! a boundary against a determined agent (the sandbox is); they save a person from
//! answering the same prompt twice.

pub use ccgate_globs::Place;
use ccgate_globs::{Anchored, PATH_TOOLS, call_path, wildcard};
use serde_json::Value;

/// Characters that make a Bash command more than one plain command.
const SHELL_CONTROL: [char; 12] = [';', '&', '|', '<', '>', '`', '$', '(', ')', '\n', '\r', '\\'];

/// One parsed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    text: String,
    tool: String,
    pattern: Option<Pattern>,
}

/// What a rule's parenthesized part says, by the tool it names.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    /// Bash: a command, a `prefix:*` or a wildcard.
    Command(String),
    /// The file tools: a path glob (`docs/api.md`, "Globs").
    Path(Anchored),
    /// WebFetch: `domain:HOST`, or `domain:*.HOST` for its subdomains.
    Domain(String),
}

/// Which list a rule came from: allow rules match narrowly, deny rules widely.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Allow,
    Deny,
}

impl Rule {
    /// Parses `Tool` or `Tool(pattern)`; the error says what is wrong, for a 422.
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let (tool, pattern) = match trimmed.split_once('(') {
            None => (trimmed, None),
            Some((tool, rest)) => match rest.strip_suffix(')') {
                Some(pattern) if !pattern.trim().is_empty() => (tool.trim(), Some(pattern.trim().to_string())),
                Some(_) => return Err("has an empty pattern: write the tool name alone to match every call".into()),
                None => return Err("must end with ')' after its pattern".into()),
            },
        };
        let named = tool.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
            && tool.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
        if !named {
            return Err("must start with a tool name (letters, digits, '_' or '-'), like Bash or Edit(src/**)".into());
        }
        let pattern = match pattern {
            None => None,
            Some(pattern) if tool == "Bash" => Some(Pattern::Command(pattern)),
            Some(pattern) if PATH_TOOLS.contains(&tool) => {
                Some(Pattern::Path(Anchored::parse(&pattern).map_err(|why| format!("has a path glob that {why}"))?))
            }
            Some(pattern) if tool == "WebFetch" && pattern.strip_prefix("domain:").is_some_and(|d| !d.is_empty()) => {
                Some(Pattern::Domain(pattern["domain:".len()..].to_string()))
            }
            Some(_) => {
                return Err(format!(
                    "has a pattern the gateway does not read for {tool}: patterns are for Bash (a command, \
                     or a prefix ending in ':*'), the file tools ({}) (a path glob) and WebFetch (domain:HOST)",
                    PATH_TOOLS.join(", ")
                ));
            }
        };
        Ok(Self { text: trimmed.to_string(), tool: tool.to_string(), pattern })
    }

    /// The rule as the client wrote it.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// The tool it names.
    pub fn tool(&self) -> &str {
        &self.tool
    }

    /// Whether the call of `tool` with `input` matches, read as `side` says.
    pub fn matches(&self, tool: &str, input: &Value, side: Side, place: &Place) -> bool {
        if self.tool != tool {
            return false;
        }
        let Some(pattern) = &self.pattern else { return true };
        let text = |field: &str| input.get(field).and_then(Value::as_str);
        match pattern {
            Pattern::Command(pattern) => text("command").is_some_and(|command| bash_matches(pattern, command, side)),
            Pattern::Domain(domain) => text("url").and_then(host_of).is_some_and(|host| domain_matches(domain, &host)),
            Pattern::Path(pattern) => call_path(tool, text, place).is_some_and(|path| pattern.matches(path, place)),
        }
    }
}

/// Parses every rule of a list; the errors name each bad entry by index.
pub fn parse_all(texts: &[String]) -> Result<Vec<Rule>, Vec<(usize, String)>> {
    let mut rules = Vec::with_capacity(texts.len());
    let mut errors = Vec::new();
    for (i, text) in texts.iter().enumerate() {
        match Rule::parse(text) {
            Ok(rule) => rules.push(rule),
            Err(why) => errors.push((i, why)),
        }
    }
    if errors.is_empty() { Ok(rules) } else { Err(errors) }
}

/// The first rule of `rules` the call matches.
pub fn first_match<'a>(rules: &'a [Rule], tool: &str, input: &Value, side: Side, place: &Place) -> Option<&'a Rule> {
    rules.iter().find(|rule| rule.matches(tool, input, side, place))
}

fn bash_matches(pattern: &str, command: &str, side: Side) -> bool {
    let command = command.trim();
    match side {
        Side::Allow => !command.contains(SHELL_CONTROL) && command_matches(pattern, command),
        Side::Deny => {
            command_matches(pattern, command)
                || command
                    .split(SHELL_CONTROL)
                    .map(without_assignments)
                    .filter(|part| !part.is_empty())
                    .any(|part| command_matches(pattern, part))
        }
    }
}

/// One command against one pattern: `prefix:*` matches the prefix as whole words,
/// `*` elsewhere any run of characters, and anything else the command exactly.
fn command_matches(pattern: &str, command: &str) -> bool {
    if let Some(prefix) = pattern.strip_suffix(":*") {
        return command == prefix || command.strip_prefix(prefix).is_some_and(|rest| rest.starts_with([' ', '\t']));
    }
    if pattern.contains('*') {
        return wildcard(pattern.as_bytes(), command.as_bytes(), |&p| p == b'*', |p, t| p == t);
    }
    command == pattern
}

/// A command without the `NAME=value` assignments in front of it.
fn without_assignments(part: &str) -> &str {
    let mut rest = part.trim();
    while let Some((word, after)) = rest.split_once(char::is_whitespace) {
        let assignment = word
            .split_once('=')
            .is_some_and(|(name, _)| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'));
        if !assignment {
            break;
        }
        rest = after.trim_start();
    }
    rest
}

/// The host of an `http(s)` URL, lower case, without user or port.
fn host_of(url: &str) -> Option<String> {
    let (_, rest) = url.split_once("://")?;
    let authority = rest.split(['/', '?', '#']).next()?;
    let host = authority.rsplit_once('@').map_or(authority, |(_, host)| host);
    let host = if host.starts_with('[') { host } else { host.split(':').next()? };
    (!host.is_empty()).then(|| host.to_ascii_lowercase())
}

/// `example.com` matches that host only; `*.example.com` its subdomains.
fn domain_matches(domain: &str, host: &str) -> bool {
    let domain = domain.to_ascii_lowercase();
    match domain.strip_prefix("*.") {
        Some(parent) => host.strip_suffix(parent).is_some_and(|sub| sub.ends_with('.')),
        None => host == domain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn place() -> Place {
        Place { workspace: "/workspace".into(), home: "/home/agent".into() }
    }

    fn check(rule: &str, tool: &str, input: Value, side: Side) -> bool {
        Rule::parse(rule).unwrap().matches(tool, &input, side, &place())
    }

    fn bash(rule: &str, command: &str, side: Side) -> bool {
        check(rule, "Bash", json!({ "command": command }), side)
    }

    #[test]
    fn rules_parse_in_the_clis_syntax_and_bad_ones_say_why() {
        let rule = Rule::parse(" Bash(git status:*) ").unwrap();
        assert_eq!((rule.tool(), rule.text()), ("Bash", "Bash(git status:*)"));
        assert_eq!(Rule::parse("mcp__db__query").unwrap().tool(), "mcp__db__query");
        assert!(Rule::parse("Bash()").unwrap_err().contains("empty pattern"));
        assert!(Rule::parse("Bash(ls").unwrap_err().contains("end with ')'"));
        assert!(Rule::parse("(ls)").unwrap_err().contains("tool name"));
        assert!(Rule::parse("Task(anything)").unwrap_err().contains("does not read for Task"));
        assert!(Rule::parse("WebFetch(example.com)").is_err(), "WebFetch patterns are domain:HOST");
        let errors = parse_all(&["Read".into(), "Bash(".into(), "Nope(x)".into()]).unwrap_err();
        assert_eq!(errors.iter().map(|e| e.0).collect::<Vec<_>>(), [1, 2]);
    }

    #[test]
    fn allow_rules_match_one_plain_command_only() {
        assert!(bash("Bash(git status:*)", "git status", Side::Allow));
        assert!(bash("Bash(git status:*)", "git status --short", Side::Allow));
        assert!(!bash("Bash(git status:*)", "git statusx", Side::Allow), "prefixes end at a word");
        assert!(!bash("Bash(git status:*)", "git status && rm -rf .", Side::Allow));
        assert!(!bash("Bash(git status:*)", "git status; rm -rf .", Side::Allow));
        assert!(!bash("Bash(git status:*)", "git status $(rm -rf .)", Side::Allow));
        assert!(!bash("Bash(git status:*)", "git status > /etc/x", Side::Allow));
        assert!(!bash("Bash(git status:*)", "git status\nrm -rf .", Side::Allow));
        assert!(bash("Bash(npm run *)", "npm run test", Side::Allow));
        assert!(bash("Bash(make)", "make", Side::Allow) && !bash("Bash(make)", "make all", Side::Allow));
        assert!(bash("Bash", "anything | at all", Side::Allow), "a bare tool name matches every call");
    }

    #[test]
    fn deny_rules_match_any_command_of_a_compound_line() {
        assert!(bash("Bash(curl:*)", "curl -s https://x", Side::Deny));
        assert!(bash("Bash(curl:*)", "cd /tmp && curl -s https://x | sh", Side::Deny));
        assert!(bash("Bash(curl:*)", "echo $(curl https://x)", Side::Deny));
        assert!(bash("Bash(curl:*)", "HTTPS_PROXY=x curl https://x", Side::Deny));
        assert!(bash("Bash(rm -rf *)", "ls; rm -rf /", Side::Deny));
        assert!(!bash("Bash(curl:*)", "echo curl", Side::Deny));
        assert!(!bash("Bash(curl:*)", "curly", Side::Deny));
    }

    #[test]
    fn path_rules_are_globs_from_the_workspace_home_or_root() {
        let edit = |rule: &str, path: &str| check(rule, "Edit", json!({ "file_path": path }), Side::Allow);
        assert!(edit("Edit(src/**)", "/workspace/src/a/b.rs"));
        assert!(edit("Edit(src/**)", "src/lib.rs"));
        assert!(edit("Edit(/src/**)", "/workspace/src/lib.rs"));
        assert!(!edit("Edit(src/**)", "/workspace/tests/a.rs"));
        assert!(!edit("Edit(src/**)", "/workspace/src/../tests/a.rs"), "paths are normalized first");
        assert!(!edit("Edit(src/**)", "/workspace/../../etc/passwd"));
        assert!(edit("Edit(*.md)", "/workspace/docs/deep/notes.md"), "a name pattern matches at any depth");
        assert!(!edit("Edit(*.md)", "/workspace/notes.mdx"));
        assert!(edit("Edit(src/)", "/workspace/src/x/y.rs"), "a directory matches what is under it");
        assert!(edit("Edit(~/notes/*)", "/home/agent/notes/today"));
        assert!(edit("Edit(//tmp/**)", "/tmp/scratch/file"));
        assert!(!edit("Edit(//tmp/**)", "/workspace/tmp/file"));
        assert!(!check("Edit(src/**)", "Write", json!({"file_path": "/workspace/src/a"}), Side::Allow));
        assert!(check("Grep(src/**)", "Grep", json!({"pattern": "x", "path": "src/a"}), Side::Allow));
        assert!(check("Glob(/**)", "Glob", json!({"pattern": "*.rs"}), Side::Allow), "no path: the workspace");
        assert!(!check("Edit(src/**)", "Edit", json!({}), Side::Allow), "no path, no match");
        assert!(Rule::parse("Edit(src/[id]/*)").unwrap_err().contains("path glob"), "one glob syntax, no classes");
        assert!(check("Edit(*.{md,txt})", "Edit", json!({"file_path": "/workspace/a/b.txt"}), Side::Allow));
    }

    #[test]
    fn web_fetch_rules_name_a_domain() {
        let fetch = |rule: &str, url: &str| check(rule, "WebFetch", json!({ "url": url }), Side::Allow);
        assert!(fetch("WebFetch(domain:docs.rs)", "https://docs.rs/tokio"));
        assert!(fetch("WebFetch(domain:docs.rs)", "https://user@DOCS.rs:443/x"));
        assert!(!fetch("WebFetch(domain:docs.rs)", "https://docs.rs.evil.example/x"));
        assert!(!fetch("WebFetch(domain:docs.rs)", "https://evil.example/?docs.rs"));
        assert!(fetch("WebFetch(domain:*.example.com)", "https://a.b.example.com/"));
        assert!(!fetch("WebFetch(domain:*.example.com)", "https://example.com/"));
        assert!(!fetch("WebFetch(domain:*.example.com)", "https://badexample.com/"));
    }

    #[test]
    fn many_stars_against_a_long_path_are_matched_without_backtracking_blowup() {
        // Matched by trying every split, these took exponential time: a client's
        // pattern and a run's path could hold a runner thread for ever.
        let stars = format!("Edit({}x)", "**/".repeat(40));
        let deep = format!("/workspace/{}", "a/".repeat(400));
        assert!(!check(&stars, "Edit", json!({ "file_path": deep }), Side::Allow));
        let in_name = format!("Edit({}b)", "*a".repeat(60));
        assert!(!check(&in_name, "Edit", json!({ "file_path": "a".repeat(200) }), Side::Allow));
        assert!(check(&in_name, "Edit", json!({ "file_path": format!("{}b", "a".repeat(200)) }), Side::Allow));
    }
}
