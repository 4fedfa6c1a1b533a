//! JSON helpers of request validation: whole numbers as JSON Schema counts them,
//! JSON Pointer tokens, unknown fields.

use serde_json::{Map, Value};

use super::FieldError;

/// A whole number as JSON Schema counts them: `3` and `3.0` alike.
pub fn whole_number(value: &Value) -> Option<i64> {
    value.as_i64().or_else(|| {
        let n = value.as_f64()?;
        // Within ±2^53 every whole float is exact.
        (n.fract() == 0.0 && n.abs() <= 9_007_199_254_740_992.0).then_some(n as i64)
    })
}

/// A whole number of 0 or more (`3` or `3.0`).
pub fn whole_u64(value: &Value) -> Option<u64> {
    value.as_u64().or_else(|| whole_number(value).and_then(|n| u64::try_from(n).ok()))
}

/// Names the fields of `object` (at `prefix`) that are not `known`: the first few
/// one by one, the rest in one error, so a body of many bogus keys costs little.
pub fn unknown_fields(object: &Map<String, Value>, known: &[&str], prefix: &str, errors: &mut Vec<FieldError>) {
    const LISTED: usize = 10;
    let mut unknown = object.keys().filter(|name| !known.contains(&name.as_str()));
    for name in unknown.by_ref().take(LISTED) {
        errors.push(FieldError::new(format!("{prefix}/{}", pointer_token(name)), "unknown field"));
    }
    let more = unknown.count();
    if more > 0 {
        let known = known.join(", ");
        errors.push(FieldError::new(prefix, format!("has {more} more unknown fields; the known ones are {known}")));
    }
}

/// JSON Pointer escaping of one reference token (RFC 6901).
pub fn pointer_token(token: &str) -> String {
    token.replace('~', "~0").replace('/', "~1")
}
