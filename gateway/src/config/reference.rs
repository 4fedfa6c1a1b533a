//! `docs/configuration.md`, generated from the configuration type: the keys and their
//! order and meaning from the structs' doc comments, the defaults from
//! `Config::default()`, the variables from `config::env`. Defaults are written
//! once, in the code; a test fails when the committed file differs (run it with
//! `CCGATE_WRITE_DOCS=1` to rewrite the file).

use std::collections::BTreeMap;

use super::Config;
use super::env::variables;

/// The sources of the structs the configuration is made of.
const SOURCES: [&str; 5] = [
    include_str!("../config.rs"),
    include_str!("../sandbox/config.rs"),
    include_str!("../plugins/config.rs"),
    include_str!("../pricing.rs"),
    include_str!("../task/structured/caps.rs"),
];

/// Defaults that depend on the machine, not on the code.
const MACHINE_DEFAULTS: [(&str, &str); 1] = [("queue.workers", "the number of CPUs")];

/// Settings that are lists of tables: an entry with only its required keys, whose
/// other keys show their defaults.
fn list_entry(key: &str) -> Option<toml::Value> {
    let entry = match key {
        "plugins.chain" => toml::from_str::<crate::plugins::PluginSpec>("path = \"plugin.wasm\""),
        _ => return None,
    };
    Some(toml::Value::try_from(entry.expect("a minimal entry parses")).expect("an entry serializes"))
}

const PREAMBLE: &str = "\
# Configuration reference

<!-- Generated from the configuration type (gateway/src/config.rs and the structs it
     holds) by gateway/src/config/reference.rs; a test fails when this file differs.
     Change the doc comments or the defaults there, then run
     CCGATE_WRITE_DOCS=1 cargo test -p ccgate --lib config::reference -->

ccgate reads its settings in this order, each overriding the one before:

1. the built-in defaults listed here;
2. a TOML file: the one `CCGATE_CONFIG` names, else `ccgate.toml` in the working
   directory when there is one (unknown keys are an error);
3. environment variables (the second column): every setting has one, `CCGATE_` and
   its key in capitals with `_` for `.` (`queue.lease_seconds` is
   `CCGATE_QUEUE_LEASE_SECONDS`), and some an older, shorter name too (the setting's
   own wins when both are set). A variable is read as the setting's type: a whole
   number, a number, `true`/`false`, a list as `a,b,c` or a TOML array, a map as a
   TOML inline table (`CCGATE_CLAUDE_ENV='{ LANG = \"C.UTF-8\" }'`). Lists of tables
   (`[[plugins.chain]]`) are set in the file only. An empty value unsets a setting
   that is unset by default. A bad value stops the gateway, naming the variable.

`ccgate serve`, `ccgate keys`, `ccgate backup` and `ccgate doctor` read the same
configuration, so run them with the same `CCGATE_CONFIG` (or working directory) and
variables. [`ccgate.example.toml`](../ccgate.example.toml) writes every setting out with
its default, ready to copy and trim.

Variables that are not settings:

| variable | meaning |
| --- | --- |
| `CCGATE_CONFIG` | the configuration file |
| `RUST_LOG` | log filter (`info` by default; `ccgate=debug`, …) |
| `ANTHROPIC_API_KEY` / `ANTHROPIC_AUTH_TOKEN` | the model credential (an API key, or a bearer token); only the gateway's model proxy holds it, runs never see it |
| `ANTHROPIC_BASE_URL` | the model API (default `https://api.anthropic.com`); `ccgate scripted-model` serves an offline one |
| `ANTHROPIC_*`, `CLAUDE_CODE_*` | passed through to every run, except the credential, the endpoint and `ANTHROPIC_CUSTOM_HEADERS`, and names that look like credentials |
| `AWS_ENDPOINT`, `AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_SECRET_ACCESS_KEY`, `AWS_ALLOW_HTTP` | the S3 bucket of `storage.url = \"s3://…\"` |
";

/// One struct of the sources: its doc comment and its fields in order.
#[derive(Default)]
struct Struct {
    doc: String,
    fields: Vec<Field>,
}

struct Field {
    name: String,
    /// The last segment of the type's outer path (`SandboxConfig`, `Vec`).
    outer: String,
    /// The type inside `Vec<…>` / `Option<…>`, if any (`PluginSpec`).
    inner: Option<String>,
    /// Empty when the field shares the comment of the one before.
    doc: String,
}

/// The structs of `sources` by name, read from rustfmt-formatted code.
fn structs(sources: &[&str]) -> BTreeMap<String, Struct> {
    let mut found = BTreeMap::new();
    for source in sources {
        let mut doc = Vec::<&str>::new();
        let mut current: Option<(String, Struct)> = None;
        for line in source.lines().map(str::trim) {
            if line.starts_with("#[") {
                continue;
            }
            if let Some(text) = line.strip_prefix("///") {
                doc.push(text.trim());
            } else if let Some(rest) = line.strip_prefix("pub struct ").filter(|rest| rest.ends_with('{')) {
                let name = rest.trim_end_matches('{').trim().to_string();
                current = Some((name, Struct { doc: doc.join(" "), fields: Vec::new() }));
                doc.clear();
            } else if line == "}" {
                if let Some((name, item)) = current.take() {
                    found.insert(name, item);
                }
                doc.clear();
            } else if let (Some((_, item)), Some(rest)) = (current.as_mut(), line.strip_prefix("pub ")) {
                let (name, ty) = rest.split_once(':').expect("a field is `pub name: Type,`");
                let ty = ty.trim().trim_end_matches(',');
                let last = |path: &str| path.rsplit("::").next().unwrap_or(path).to_string();
                let (outer, inner) = match ty.split_once('<') {
                    Some((outer, inner)) => (last(outer), Some(last(inner.trim_end_matches('>')))),
                    None => (last(ty), None),
                };
                item.fields.push(Field { name: name.trim().to_string(), outer, inner, doc: doc.join(" ") });
                doc.clear();
            } else {
                doc.clear();
            }
        }
    }
    found
}

/// A default as it is written in the file.
fn render(value: &toml::Value) -> String {
    match value {
        toml::Value::String(text) => format!("{text:?}"),
        toml::Value::Array(items) => format!("[{}]", items.iter().map(render).collect::<Vec<_>>().join(", ")),
        toml::Value::Table(table) => format!(
            "{{{}}}",
            table.iter().map(|(key, value)| format!("{key} = {}", render(value))).collect::<Vec<_>>().join(", ")
        ),
        toml::Value::Integer(number) => number.to_string(),
        toml::Value::Float(number) => format!("{number:?}"),
        toml::Value::Boolean(flag) => flag.to_string(),
        toml::Value::Datetime(time) => time.to_string(),
    }
}

/// A default in a table cell: its TOML, with a byte count in binary units too.
fn cell(name: &str, value: Option<&toml::Value>) -> String {
    if let Some((_, said)) = MACHINE_DEFAULTS.iter().find(|(key, _)| *key == name) {
        return said.to_string();
    }
    let Some(value) = value else { return "unset".into() };
    let mut text = format!("`{}`", render(value));
    if let (true, Some(bytes)) = (name.contains("_bytes"), value.as_integer()) {
        let units = [("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)];
        if let Some((unit, size)) = units.iter().find(|(_, size)| bytes >= *size && bytes % size == 0) {
            text += &format!(" ({} {unit})", bytes / size);
        }
    }
    text
}

/// Every leaf of a table by its dotted key (tables of settings are leaves too).
fn flat(value: &toml::Value) -> BTreeMap<String, toml::Value> {
    let mut leaves = BTreeMap::new();
    for (section, value) in value.as_table().expect("a table") {
        match value.as_table() {
            Some(table) => leaves.extend(table.iter().map(|(key, value)| (format!("{section}.{key}"), value.clone()))),
            None => {
                leaves.insert(section.clone(), value.clone());
            }
        }
    }
    leaves
}

/// One row: the settings that share a comment, their variables, defaults, meaning.
struct Row {
    keys: Vec<String>,
    variables: Vec<String>,
    defaults: Vec<String>,
    doc: String,
}

impl Row {
    fn write(&self, out: &mut String) {
        let keys = self.keys.iter().map(|key| format!("`{key}`")).collect::<Vec<_>>().join(" / ");
        let variables = if self.variables.is_empty() {
            "—".to_string()
        } else {
            self.variables.iter().map(|name| format!("`{name}`")).collect::<Vec<_>>().join(" / ")
        };
        let defaults = self.defaults.join(" / ");
        out.push_str(&format!("| {keys} | {variables} | {defaults} | {} |\n", self.doc.replace('|', "\\|")));
    }
}

struct Writer<'a> {
    structs: &'a BTreeMap<String, Struct>,
    variables: BTreeMap<String, Vec<String>>,
    /// Settings without a comment (of their own or shared): the test names them.
    undocumented: Vec<String>,
    /// Tables of non-default size shown after a section (`pricing.models`).
    blocks: Vec<(String, toml::Value)>,
}

impl Writer<'_> {
    /// The rows of struct `name` under `prefix`, whose defaults are `value`.
    fn rows(&mut self, name: &str, prefix: &str, value: &toml::Value, rows: &mut Vec<Row>) {
        let structs = self.structs;
        let item = &structs[name];
        // Whether the last row is this struct's leaf, which an uncommented field joins.
        let mut joinable = false;
        for field in &item.fields {
            let key = format!("{prefix}{}", field.name);
            let default = value.get(&field.name);
            let nested = self.structs.contains_key(&field.outer);
            if nested && default.is_some_and(toml::Value::is_table) {
                self.rows(&field.outer, &format!("{key}."), default.expect("a table"), rows);
                joinable = false;
                continue;
            }
            if let Some(entry) = list_entry(&key) {
                let inner = field.inner.as_deref().expect("a list of a struct");
                rows.push(Row {
                    keys: vec![key.clone()],
                    variables: Vec::new(),
                    defaults: vec![cell(&key, default)],
                    doc: format!("{} One `[[{key}]]` table each, with the keys below.", field.doc),
                });
                let mut entry_rows = Vec::new();
                self.rows(inner, &format!("{key}[]."), &entry, &mut entry_rows);
                for row in &mut entry_rows {
                    if row.keys.iter().any(|key| key.ends_with("[].path")) {
                        row.defaults = vec!["required".into()];
                    }
                }
                rows.extend(entry_rows);
                joinable = false;
                continue;
            }
            if default.and_then(toml::Value::as_table).is_some_and(|table| table.len() > 1) {
                self.blocks.push((key.clone(), default.expect("a table").clone()));
            }
            let shown = match default.and_then(toml::Value::as_table) {
                Some(table) if table.len() > 1 => "below".to_string(),
                _ => cell(&key, default),
            };
            let variable = self.variables.get(&key).cloned().unwrap_or_default();
            match (field.doc.is_empty(), rows.last_mut()) {
                (true, Some(row)) if joinable => {
                    row.keys.push(key);
                    row.defaults.push(shown);
                    row.variables.extend(variable);
                }
                (true, _) => self.undocumented.push(key),
                (false, _) => rows.push(Row {
                    keys: vec![key],
                    variables: variable,
                    defaults: vec![shown],
                    doc: field.doc.clone(),
                }),
            }
            joinable = true;
        }
    }
}

/// The whole reference, and the settings that have no comment.
fn generate() -> (String, Vec<String>) {
    let structs = structs(&SOURCES);
    let defaults = toml::Value::try_from(Config::default()).expect("defaults serialize");
    let mut writer = Writer { structs: &structs, variables: variables(), undocumented: Vec::new(), blocks: Vec::new() };
    let mut out = PREAMBLE.to_string();
    let mut top = Vec::new();
    let mut sections = Vec::new();
    for field in &structs["Config"].fields {
        match defaults.get(&field.name) {
            Some(value) if value.is_table() && structs.contains_key(&field.outer) => {
                sections.push((field.name.clone(), field.outer.clone(), value.clone()))
            }
            value => {
                let row = Row {
                    keys: vec![field.name.clone()],
                    variables: writer.variables.get(&field.name).cloned().unwrap_or_default(),
                    defaults: vec![cell(&field.name, value)],
                    doc: field.doc.clone(),
                };
                if row.doc.is_empty() {
                    writer.undocumented.push(field.name.clone());
                }
                top.push(row);
            }
        }
    }
    let header = "| key | variable | default | meaning |\n| --- | --- | --- | --- |\n";
    out.push_str("\n## Top level\n\n");
    out.push_str(header);
    top.iter().for_each(|row| row.write(&mut out));
    for (name, type_name, value) in sections {
        let doc = structs[&type_name].doc.clone();
        if doc.is_empty() {
            writer.undocumented.push(format!("[{name}]"));
        }
        out.push_str(&format!("\n## `[{name}]`\n\n{doc}\n\n{header}"));
        let mut rows = Vec::new();
        writer.rows(&type_name, &format!("{name}."), &value, &mut rows);
        rows.iter().for_each(|row| row.write(&mut out));
        for (key, table) in std::mem::take(&mut writer.blocks) {
            out.push_str(&format!("\nThe default `{key}`:\n\n```toml\n[{key}]\n"));
            for (entry, value) in table.as_table().expect("a table") {
                let entry = if entry.contains(['-', '.']) { format!("{entry:?}") } else { entry.clone() };
                out.push_str(&format!("{entry} = {}\n", render(value)));
            }
            out.push_str("```\n");
        }
    }
    (out, writer.undocumented)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn committed_path() -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../docs/configuration.md")
    }

    #[test]
    fn every_setting_has_a_comment_and_the_committed_reference_is_current() {
        let (generated, undocumented) = generate();
        assert!(undocumented.is_empty(), "settings without a doc comment: {undocumented:?}");
        if std::env::var_os("CCGATE_WRITE_DOCS").is_some() {
            std::fs::write(committed_path(), &generated).expect("write docs/configuration.md");
        }
        let committed = std::fs::read_to_string(committed_path()).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/configuration.md differs from the configuration type: run \
             CCGATE_WRITE_DOCS=1 cargo test -p ccgate --lib config::reference"
        );
    }

    #[test]
    fn every_setting_and_variable_is_in_the_reference() {
        let (generated, _) = generate();
        let mut defaults = toml::Value::try_from(Config::default()).unwrap();
        defaults["queue"].as_table_mut().unwrap().remove("workers");
        for key in flat(&defaults).keys().chain(["queue.workers".to_string()].iter()) {
            // A table of settings (`pricing.default`) is shown by its own settings.
            let shown = generated.contains(&format!("`{key}`")) || generated.contains(&format!("`{key}."));
            assert!(shown, "{key} is missing");
        }
        let variables = variables();
        for (key, names) in &variables {
            let named = format!("`{key}`");
            let row =
                generated.lines().find(|line| line.starts_with("| ") && line.contains(&named)).unwrap_or_default();
            for name in names {
                assert!(row.contains(&format!("`{name}`")), "{name} is not on the row of {key}: {row:?}");
            }
        }
        assert_eq!(variables.get("data_dir"), Some(&vec!["CCGATE_DATA_DIR".to_string()]));
        // Every setting has a variable, but lists of tables (in the file only).
        for line in generated.lines().filter(|line| line.starts_with("| `") && line.contains("| — |")) {
            assert!(super::super::env::FILE_ONLY.iter().any(|key| line.contains(&format!("`{key}"))), "{line}");
        }
    }

    #[test]
    fn comments_are_read_per_field_and_shared_by_the_fields_that_follow() {
        let source = "/// A thing.\npub struct Thing {\n    /// First.\n    pub a: u32,\n    pub b: Vec<Other>,\n\n    \
                      /// Third.\n    #[serde(default)]\n    pub c: crate::x::Other,\n}\n";
        let found = structs(&[source]);
        let thing = &found["Thing"];
        assert_eq!(thing.doc, "A thing.");
        let fields: Vec<_> = thing
            .fields
            .iter()
            .map(|f| (f.name.as_str(), f.outer.as_str(), f.inner.as_deref(), f.doc.as_str()))
            .collect();
        assert_eq!(
            fields,
            [("a", "u32", None, "First."), ("b", "Vec", Some("Other"), ""), ("c", "Other", None, "Third.")]
        );
    }
}
