//! Tool rules in Claude Code's permission syntax, and how a call is matched.
//!
//! `Tool` matches every call of the tool. For the file tools (`Read`, `Write`,
//! `Edit`, …) `Tool(glob)` is a path glob read as the gateway reads its own rules
//! (ccgate's one glob syntax: from the workspace, `~/` the home, `//` the root, a
//! bare name at any depth). For the others `Tool(spec)` matches a call whose
//! subject (Bash: the command; WebFetch: the URL) is `spec` exactly, or starts with
//! `prefix` for `prefix*`. For Bash, `prefix:*` is a command prefix on a word
//! boundary (`Bash(curl:*)` matches `curl` and `curl -s x`, not `curly`).
//!
//! A Bash command is checked part by part (split at `;`, `&`, `|`, newlines,
//! parentheses and backticks, so `echo a && curl x` and `echo $(curl x)` reach the
//! `curl` part). A deny rule matches when any part matches; an allow rule only
//! when every part does and the command has no substitution or redirection.

use ccgate_globs::{Anchored, PATH_TOOLS, Place, call_path};
use serde_json::Value;

/// One parsed rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// As written, for messages.
    pub text: String,
    tool: String,
    pattern: Option<Pattern>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Pattern {
    Exact(String),
    Prefix(String),
    /// Bash `prefix:*`: the command is the prefix or the prefix and a space.
    Command(String),
    /// A file tool's path glob.
    Path(Anchored),
}

/// The input fields that name what another tool acts on, in order of preference.
const SUBJECT_FIELDS: [&str; 2] = ["url", "pattern"];

impl Rule {
    /// Parses `Tool` or `Tool(spec)`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let trimmed = text.trim();
        let (tool, pattern) = match trimmed.split_once('(') {
            None => (trimmed, None),
            Some((tool, rest)) => {
                let spec = rest.strip_suffix(')').ok_or("a rule with `(` must end with `)`")?;
                if spec.is_empty() {
                    return Err("the part in parentheses is empty".into());
                }
                let pattern = if PATH_TOOLS.contains(&tool) {
                    Pattern::Path(Anchored::parse(spec).map_err(|why| format!("the path glob {why}"))?)
                } else if let Some(prefix) = spec.strip_suffix(":*") {
                    Pattern::Command(prefix.to_string())
                } else if let Some(prefix) = spec.strip_suffix('*') {
                    Pattern::Prefix(prefix.to_string())
                } else {
                    Pattern::Exact(spec.to_string())
                };
                (tool, Some(pattern))
            }
        };
        if tool.is_empty() || !tool.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-') {
            return Err(format!("`{tool}` is not a tool name"));
        }
        Ok(Rule { text: trimmed.to_string(), tool: tool.to_string(), pattern })
    }

    /// Whether the rule can only be checked against the call's input.
    pub fn needs_input(&self, tool: &str) -> bool {
        self.tool == tool && self.pattern.is_some()
    }

    /// Whether a call of `tool` with `input`, in a run at `place`, matches as a deny rule.
    pub fn denies(&self, tool: &str, input: &Value, place: &Place) -> bool {
        if self.tool != tool {
            return false;
        }
        let Some(pattern) = &self.pattern else { return true };
        match bash_command(tool, input) {
            Some(command) => command_parts(command)
                .iter()
                .any(|part| pattern.matches_command(part) || pattern.matches_command(&without_path(part))),
            None => pattern.matches_subject(tool, input, place),
        }
    }

    /// Whether a call of `tool` with `input`, in a run at `place`, matches as an allow rule.
    pub fn allows(&self, tool: &str, input: &Value, place: &Place) -> bool {
        if self.tool != tool {
            return false;
        }
        let Some(pattern) = &self.pattern else { return true };
        match bash_command(tool, input) {
            Some(command) => {
                let parts = command_parts(command);
                !command.contains(['$', '`', '>', '<'])
                    && !parts.is_empty()
                    && parts.iter().all(|part| pattern.matches_command(part))
            }
            None => pattern.matches_subject(tool, input, place),
        }
    }
}

impl Pattern {
    fn matches(&self, subject: &str) -> bool {
        match self {
            Pattern::Exact(exact) => subject == exact,
            Pattern::Prefix(prefix) | Pattern::Command(prefix) => subject.starts_with(prefix.as_str()),
            // Paths are matched by `matches_subject`, commands are not paths.
            Pattern::Path(_) => false,
        }
    }

    /// A non-Bash call: a file tool's path against a path glob, another tool's
    /// subject against the spec.
    fn matches_subject(&self, tool: &str, input: &Value, place: &Place) -> bool {
        let text = |field: &str| input.get(field).and_then(Value::as_str);
        match self {
            Pattern::Path(glob) => call_path(tool, text, place).is_some_and(|path| glob.matches(path, place)),
            other => subject(input).is_some_and(|subject| other.matches(subject)),
        }
    }

    fn matches_command(&self, command: &str) -> bool {
        match self {
            Pattern::Command(prefix) => {
                command == prefix || command.strip_prefix(prefix.as_str()).is_some_and(|rest| rest.starts_with(' '))
            }
            other => other.matches(command),
        }
    }
}

fn bash_command<'a>(tool: &str, input: &'a Value) -> Option<&'a str> {
    (tool == "Bash").then(|| input.get("command").and_then(Value::as_str).unwrap_or_default())
}

fn subject(input: &Value) -> Option<&str> {
    SUBJECT_FIELDS.iter().find_map(|field| input.get(*field).and_then(Value::as_str))
}

/// The simple commands of a command line, each trimmed, without leading `VAR=value`
/// assignments, with runs of blanks as one space.
fn command_parts(command: &str) -> Vec<String> {
    command
        .split([';', '&', '|', '\n', '(', ')', '`'])
        .map(|part| {
            let words: Vec<&str> = part.split_whitespace().collect();
            let start = words.iter().position(|w| !is_assignment(w)).unwrap_or(words.len());
            words[start..].join(" ").trim_start_matches('$').to_string()
        })
        .filter(|part| !part.is_empty())
        .collect()
}

fn is_assignment(word: &str) -> bool {
    word.split_once('=')
        .is_some_and(|(name, _)| !name.is_empty() && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'))
}

/// The command with its program named without a directory (`/usr/bin/curl x` → `curl x`).
fn without_path(part: &str) -> String {
    match part.split_once(' ') {
        Some((program, rest)) => format!("{} {rest}", program.rsplit('/').next().unwrap_or(program)),
        None => part.rsplit('/').next().unwrap_or(part).to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn bash(command: &str) -> Value {
        json!({"command": command})
    }

    fn place() -> Place {
        Place { workspace: "/workspace".into(), home: "/home/agent".into() }
    }

    #[test]
    fn rules_parse_in_the_clis_syntax() {
        assert!(Rule::parse("Bash(curl:*)").is_ok());
        assert!(Rule::parse("WebFetch").is_ok());
        for bad in ["Bash(curl", "Bash()", "", "Ba sh"] {
            assert!(Rule::parse(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn a_deny_rule_finds_its_command_anywhere_in_a_command_line() {
        let curl = Rule::parse("Bash(curl:*)").unwrap();
        for command in [
            "curl https://example.com",
            "curl",
            "  curl -s x",
            "echo a && curl x",
            "echo $(curl x)",
            "echo `curl x`",
            "ls | curl -d @- x",
            "A=1 curl x",
            "/usr/bin/curl x",
            "(curl x)",
        ] {
            assert!(curl.denies("Bash", &bash(command), &place()), "{command}");
        }
        for command in ["curly x", "echo curl", "ls -la"] {
            assert!(!curl.denies("Bash", &bash(command), &place()), "{command}");
        }
        assert!(!curl.denies("Write", &json!({"file_path": "curl x"}), &place()), "another tool");
        assert!(Rule::parse("WebFetch").unwrap().denies("WebFetch", &json!({"url": "https://x"}), &place()));
        let etc = Rule::parse("Write(//etc/*)").unwrap();
        assert!(etc.denies("Write", &json!({"file_path": "/etc/passwd"}), &place()));
        assert!(!etc.denies("Write", &json!({"file_path": "/workspace/etc"}), &place()));
    }

    #[test]
    fn file_rules_are_globs_read_like_the_gateways() {
        let write =
            |rule: &str, path: &str| Rule::parse(rule).unwrap().denies("Write", &json!({"file_path": path}), &place());
        assert!(write("Write(src/**)", "/workspace/src/a/b.rs"));
        assert!(write("Write(src/**)", "src/lib.rs"), "relative paths start in the workspace");
        assert!(write("Write(/src/**)", "/workspace/src/lib.rs"), "a leading / is the workspace");
        assert!(!write("Write(src/**)", "/workspace/src/../tests/a.rs"));
        assert!(write("Write(*.env)", "/workspace/deep/.env"), "a name at any depth, hidden too");
        assert!(write("Write(~/.ssh/*)", "/home/agent/.ssh/id_rsa"));
        let elsewhere = Place { workspace: "/tmp/ws".into(), home: "/home/agent".into() };
        let rule = Rule::parse("Write(src/**)").unwrap();
        assert!(rule.denies("Write", &json!({"file_path": "/tmp/ws/src/a"}), &elsewhere));
        assert!(!rule.denies("Write", &json!({"file_path": "/workspace/src/a"}), &elsewhere));
        assert!(Rule::parse("Write(src/[ab])").is_err(), "one glob syntax: no classes");
    }

    #[test]
    fn an_allow_rule_needs_every_part_and_nothing_hidden() {
        let ls = Rule::parse("Bash(ls:*)").unwrap();
        assert!(ls.allows("Bash", &bash("ls -la"), &place()));
        assert!(ls.allows("Bash", &bash("ls && ls src"), &place()));
        for command in ["ls; rm -rf x", "ls $(rm x)", "ls > out", "lsof", "", "/tmp/x/ls"] {
            assert!(!ls.allows("Bash", &bash(command), &place()), "{command}");
        }
        let exact = Rule::parse("Read(/a.txt)").unwrap();
        assert!(exact.allows("Read", &json!({"file_path": "/workspace/a.txt"}), &place()));
        assert!(!exact.allows("Read", &json!({"file_path": "/workspace/a.txt.bak"}), &place()));
    }
}
