//! Whether what an example printed is what its page says it prints. A page shows one
//! real answer; another run differs in ids, times and counts, so:
//!
//! - an object in the page names some of the keys of the answer's, each matching;
//! - an array matches element by element, and has as many, unless the page's ends
//!   with `"…"` (then the answer may have more);
//! - a number matches any number, `true`/`false`/`null` only themselves;
//! - a string of a kind — a timestamp, an id (`tsk_01JDX…`: the same prefix), a UUID —
//!   matches any string of that kind; other strings match exactly, `…` standing for
//!   any text.

use serde_json::Value;

/// `Ok` when `actual` has the documented `shape`; else where and why not.
pub fn matches(shape: &Value, actual: &Value, path: &str) -> Result<(), String> {
    let fail = |why: String| Err(format!("at {}: {why}", if path.is_empty() { "/" } else { path }));
    match (shape, actual) {
        (Value::Object(wanted), Value::Object(got)) => {
            for (key, value) in wanted {
                match got.get(key) {
                    Some(found) => matches(value, found, &format!("{path}/{key}"))?,
                    None => return fail(format!("no {key:?} in {actual}")),
                }
            }
            Ok(())
        }
        (Value::Array(wanted), Value::Array(got)) => {
            let open = wanted.last().is_some_and(|last| last == "…");
            let wanted = if open { &wanted[..wanted.len() - 1] } else { &wanted[..] };
            if got.len() < wanted.len() || (!open && got.len() != wanted.len()) {
                return fail(format!("{} items where the page shows {}: {actual}", got.len(), wanted.len()));
            }
            wanted.iter().zip(got).enumerate().try_for_each(|(i, (w, g))| matches(w, g, &format!("{path}/{i}")))
        }
        (Value::Number(_), Value::Number(_)) => Ok(()),
        (Value::String(wanted), Value::String(got)) if text_matches(wanted, got) => Ok(()),
        (wanted, got) if wanted == got => Ok(()),
        (wanted, got) => fail(format!("the page shows {wanted}, the answer has {got}")),
    }
}

/// A documented string against an actual one (see the module's rules).
pub fn text_matches(wanted: &str, got: &str) -> bool {
    if let Some(kind) = kind(wanted) {
        return Some(kind) == self::kind(got);
    }
    glob(wanted, got)
}

#[derive(Debug, PartialEq)]
enum Kind {
    Timestamp,
    Uuid,
    Id(String),
}

fn kind(text: &str) -> Option<Kind> {
    let digits: String = text.chars().map(|c| if c.is_ascii_digit() { '0' } else { c }).collect();
    if digits.starts_with("0000-00-00T00:00:00") && text.ends_with('Z') {
        return Some(Kind::Timestamp);
    }
    let hex: String = text.chars().map(|c| if c.is_ascii_hexdigit() { 'h' } else { c }).collect();
    if hex == "hhhhhhhh-hhhh-hhhh-hhhh-hhhhhhhhhhhh" {
        return Some(Kind::Uuid);
    }
    let (prefix, rest) = text.rsplit_once('_')?;
    let lower = !prefix.is_empty() && prefix.chars().all(|c| c.is_ascii_lowercase() || c == '_');
    (lower && rest.len() >= 20 && rest.chars().all(|c| c.is_ascii_alphanumeric())).then(|| Kind::Id(prefix.into()))
}

/// `wanted` with each `…` standing for any text.
fn glob(wanted: &str, got: &str) -> bool {
    let mut parts = wanted.split('…');
    let first = parts.next().unwrap_or_default();
    let Some(mut rest) = got.strip_prefix(first) else { return false };
    let parts: Vec<&str> = parts.collect();
    let Some((last, middle)) = parts.split_last() else { return rest.is_empty() };
    for part in middle {
        match rest.find(part) {
            Some(at) => rest = &rest[at + part.len()..],
            None => return false,
        }
    }
    rest.len() >= last.len() && rest.ends_with(last)
}

/// The JSON values of `text`, one after another (`jq` prints several).
pub fn json_values(text: &str) -> Result<Vec<Value>, String> {
    serde_json::Deserializer::from_str(text)
        .into_iter::<Value>()
        .collect::<Result<_, _>>()
        .map_err(|e| format!("not JSON ({e}): {text}"))
}

/// Text responses: each line of the page's, in order, matches a line of the output.
pub fn lines_match(wanted: &str, got: &str) -> Result<(), String> {
    let mut lines = got.lines();
    for line in wanted.lines().filter(|line| !line.trim().is_empty()) {
        if !lines.any(|got| text_matches(line.trim(), got.trim())) {
            return Err(format!("no line like {line:?} (in order) in:\n{got}"));
        }
    }
    Ok(())
}

#[test]
fn shapes_match_by_kind_and_subset_and_refuse_the_rest() {
    use serde_json::json;
    let task = json!({"id": "tsk_01JDX3N8Q6W2V0M1R5T7Y9B4C2", "status": "completed", "created_at": "2026-12-06T01:02:03.456Z",
        "result": {"text": "ok: Say hi", "num_turns": 1, "session_id": "e4fded12-0c4a-4a47-9f1f-1c2f3e4d5a6b"},
        "turns": [{"status": "completed"}, {"status": "completed"}], "error": null});
    let shown = json!({"id": "tsk_01JDY0000000000000000000000", "status": "completed", "created_at": "2025-01-01T00:00:00Z",
        "result": {"text": "ok: …", "num_turns": 7, "session_id": "00000000-0000-0000-0000-000000000000"},
        "turns": [{"status": "completed"}, "…"]});
    assert_eq!(matches(&shown, &task, ""), Ok(()));
    let refused = [
        json!({"id": "key_01JDY0000000000000000000000"}),
        json!({"status": "failed"}),
        json!({"result": {"text": "ok: Say bye"}}),
        json!({"turns": [{"status": "completed"}]}),
        json!({"error": {"kind": "cancelled"}}),
        json!({"missing": 1}),
        json!({"result": {"num_turns": "1"}}),
    ];
    for shown in refused {
        assert!(matches(&shown, &task, "").is_err(), "{shown} matched");
    }
    assert!(glob("a…c…e", "abcde") && !glob("a…c", "abd") && glob("…", "") && !glob("x", "xy"));
    assert_eq!(lines_match("id: 1\nevent: status", "id: 1\nevent: status\ndata: {}"), Ok(()));
    assert!(lines_match("event: result\nid: 1", "id: 1\nevent: result").is_err());
}
