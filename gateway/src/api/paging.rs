//! List conventions shared by every `GET` list: `limit` (1–200, default 50), an
//! opaque `cursor`, one extra row fetched to know whether a next page exists, and a
//! cap on a page's bytes (a page of large items ends early, with a cursor).

use crate::task::FieldError;

pub const DEFAULT_LIMIT: u64 = 50;

/// A page stops growing once its items add up to this much JSON.
pub const MAX_PAGE_BYTES: usize = 4 * 1024 * 1024;

/// Parses the `limit` query parameter, noting an error for a bad one.
pub fn parse_limit(value: &str, errors: &mut Vec<FieldError>) -> u64 {
    match value.parse::<u64>() {
        Ok(n) if (1..=200).contains(&n) => n,
        _ => {
            errors.push(FieldError::new("/query/limit", "must be a whole number from 1 to 200"));
            DEFAULT_LIMIT
        }
    }
}

/// Notes an error for a cursor this API did not hand out.
pub fn bad_cursor(errors: &mut Vec<FieldError>) {
    errors.push(FieldError::new("/query/cursor", "is not a cursor this API returned"));
}

/// Cuts `rows` (fetched with `limit + 1`) to one page and returns the next cursor.
pub fn page<T>(rows: &mut Vec<T>, limit: u64, cursor_of: impl Fn(&T) -> String) -> Option<String> {
    if rows.len() as u64 <= limit {
        return None;
    }
    rows.truncate(limit as usize);
    rows.last().map(cursor_of)
}
