//! The static cost bound of a client's `output_schema`, checked when the request is
//! parsed: its size, and the count of the nodes that make compiling or validating
//! expensive (references, combinators, regular expressions). A schema within these
//! caps can still be slow to validate (a chain of `anyOf` references grows
//! exponentially), which is why checking also runs in a child process with a time and
//! memory budget (`isolated`).

use serde::Deserialize;
use serde_json::Value;

/// `[tasks.output_schema]`: what one task's output schema may cost.
#[derive(Debug, Clone, Deserialize, serde::Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct OutputSchemaLimits {
    /// The schema's size as compact JSON.
    pub max_bytes: usize,
    /// `$ref`, `$dynamicRef` and `$recursiveRef` nodes.
    pub max_refs: usize,
    /// Subschemas under `anyOf`, `oneOf`, `allOf`, `not`, `if`/`then`/`else`,
    /// `dependentSchemas` and `contains`.
    pub max_combinators: usize,
    /// Regular expressions: `pattern` values and `patternProperties` keys.
    pub max_patterns: usize,
    /// Bytes of one regular expression.
    pub max_pattern_bytes: usize,
    /// Wall-clock budget of one compile or validation, in milliseconds.
    pub check_timeout_ms: u64,
    /// Memory budget of the process that compiles or validates, in MiB.
    pub check_memory_mb: u64,
    /// Checks running at once on this node (more submissions get 503).
    pub max_concurrent_checks: usize,
}

impl Default for OutputSchemaLimits {
    fn default() -> Self {
        Self {
            max_bytes: 64 * 1024,
            max_refs: 64,
            max_combinators: 256,
            max_patterns: 64,
            max_pattern_bytes: 1024,
            check_timeout_ms: 5000,
            check_memory_mb: 256,
            max_concurrent_checks: 4,
        }
    }
}

const REF_KEYWORDS: [&str; 3] = ["$ref", "$dynamicRef", "$recursiveRef"];
const COMBINATOR_KEYWORDS: [&str; 8] = ["anyOf", "oneOf", "allOf", "not", "if", "then", "else", "contains"];

/// What a schema holds, counted conservatively: keys are counted wherever they
/// appear, data inside `const` or `enum` included.
#[derive(Debug, Default, PartialEq, Eq)]
struct Census {
    bytes: usize,
    refs: usize,
    combinators: usize,
    patterns: usize,
    longest_pattern: usize,
}

/// Whether `schema` is within `limits`; the error names the cap and its config key.
pub fn check_caps(schema: &Value, limits: &OutputSchemaLimits) -> Result<(), String> {
    let census = census(schema);
    let caps = [
        ("bytes as compact JSON", census.bytes, limits.max_bytes, "max_bytes"),
        ("references ($ref)", census.refs, limits.max_refs, "max_refs"),
        (
            "subschemas under anyOf/oneOf/allOf/not/if/then/else/dependentSchemas/contains",
            census.combinators,
            limits.max_combinators,
            "max_combinators",
        ),
        ("regular expressions (pattern, patternProperties)", census.patterns, limits.max_patterns, "max_patterns"),
        (
            "bytes in its longest regular expression",
            census.longest_pattern,
            limits.max_pattern_bytes,
            "max_pattern_bytes",
        ),
    ];
    match caps.into_iter().find(|(_, count, cap, _)| count > cap) {
        Some((what, count, cap, key)) => {
            Err(format!("has {count} {what}, more than the server's cap of {cap} (tasks.output_schema.{key})"))
        }
        None => Ok(()),
    }
}

fn census(schema: &Value) -> Census {
    let mut census = Census { bytes: crate::text::json_size(schema), ..Census::default() };
    let mut pending = vec![schema];
    while let Some(value) = pending.pop() {
        match value {
            Value::Object(object) => {
                for (key, child) in object {
                    if REF_KEYWORDS.contains(&key.as_str()) {
                        census.refs += 1;
                    }
                    if COMBINATOR_KEYWORDS.contains(&key.as_str()) {
                        census.combinators += child.as_array().map_or(1, Vec::len);
                    }
                    if key == "dependentSchemas" {
                        census.combinators += child.as_object().map_or(1, |o| o.len());
                    }
                    if key == "pattern"
                        && let Some(pattern) = child.as_str()
                    {
                        census.patterns += 1;
                        census.longest_pattern = census.longest_pattern.max(pattern.len());
                    }
                    if key == "patternProperties"
                        && let Some(patterns) = child.as_object()
                    {
                        census.patterns += patterns.len();
                        let longest = patterns.keys().map(String::len).max().unwrap_or(0);
                        census.longest_pattern = census.longest_pattern.max(longest);
                    }
                    pending.push(child);
                }
            }
            Value::Array(items) => pending.extend(items),
            _ => {}
        }
    }
    census
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// The chain that made validation exponential: each definition refers to the next twice.
    fn ref_chain(depth: usize) -> Value {
        let mut defs = serde_json::Map::new();
        for i in 0..depth {
            let next = format!("#/$defs/d{}", i + 1);
            defs.insert(format!("d{i}"), json!({"anyOf": [{"$ref": next}, {"$ref": next}]}));
        }
        defs.insert(format!("d{depth}"), json!({"type": "integer", "minimum": 1}));
        json!({"$defs": defs, "$ref": "#/$defs/d0"})
    }

    #[test]
    fn counts_what_makes_a_schema_expensive() {
        let schema = json!({
            "type": "object",
            "properties": {"a": {"type": "string", "pattern": "^a+$"}, "b": {"not": {"type": "null"}}},
            "patternProperties": {"^x-": {}, "^y-": {}},
            "anyOf": [{"$ref": "#/$defs/c"}, {"required": ["a"]}],
            "$defs": {"c": {"if": {"required": ["b"]}, "then": {"required": ["a"]}}},
            "dependentSchemas": {"a": {}, "b": {}},
        });
        let census = census(&schema);
        assert_eq!((census.refs, census.combinators, census.patterns, census.longest_pattern), (1, 7, 3, 4));
        assert_eq!(census.bytes, schema.to_string().len());
    }

    #[test]
    fn each_cap_is_named_when_passed() {
        let limits = OutputSchemaLimits::default();
        assert!(check_caps(&ref_chain(24), &limits).is_ok(), "a 3 KB chain passes the static caps");
        let big = json!({"description": "x".repeat(limits.max_bytes)});
        assert!(check_caps(&big, &limits).unwrap_err().contains("tasks.output_schema.max_bytes"));
        let refs = OutputSchemaLimits { max_refs: 10, ..limits.clone() };
        assert!(check_caps(&ref_chain(24), &refs).unwrap_err().contains("tasks.output_schema.max_refs"));
        let combinators = OutputSchemaLimits { max_combinators: 10, ..limits.clone() };
        assert!(check_caps(&ref_chain(24), &combinators).unwrap_err().contains("max_combinators"));
        let patterns: Vec<Value> = (0..65).map(|i| json!({"pattern": format!("^{i}$")})).collect();
        let err = check_caps(&json!({"allOf": patterns}), &limits).unwrap_err();
        assert!(err.contains("65 regular expressions") && err.contains("max_patterns"), "{err}");
        let long = json!({"pattern": "a".repeat(2000)});
        assert!(check_caps(&long, &limits).unwrap_err().contains("max_pattern_bytes"));
    }
}
