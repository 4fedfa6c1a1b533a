//! List conventions shared by every `GET` list: `limit` (1–200, default 50), an
//! opaque `cursor`, one extra row fetched to know whether a next page exists, and a
//! cap on a page's bytes (a page of large items ends early, with a cursor). Short
//! lists read whole (a task's prompts, deliveries, artifacts and files; keys;
//! nodes) are paged in memory by `PageQuery` and `page_of`.

use std::collections::HashMap;

use super::problem::ApiError;
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

/// The order of a list paged in memory, and what its cursor is: the key of the last
/// item of the page before.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    /// By id, descending: ids begin with their creation time.
    NewestFirst,
    /// By name (a path), ascending.
    ByName,
}

/// `limit` and `cursor` of a list paged in memory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PageQuery {
    pub limit: u64,
    pub cursor: Option<String>,
}

impl PageQuery {
    /// Reads `limit` (else `default_limit`) and `cursor` from a list's query and
    /// refuses any other parameter; a cursor must pass `cursor_ok` (the shape of
    /// the keys the list hands out). Every bad parameter is named.
    pub fn parse(
        params: &HashMap<String, String>,
        default_limit: u64,
        cursor_ok: impl Fn(&str) -> bool,
    ) -> Result<Self, ApiError> {
        let mut errors = Vec::new();
        let mut query = Self { limit: default_limit, cursor: None };
        for (name, value) in params {
            match name.as_str() {
                "limit" => query.limit = parse_limit(value, &mut errors),
                "cursor" if cursor_ok(value) => query.cursor = Some(value.clone()),
                "cursor" => bad_cursor(&mut errors),
                other => errors.push(FieldError::new(format!("/query/{other}"), "unknown parameter")),
            }
        }
        if errors.is_empty() { Ok(query) } else { Err(ApiError::validation(errors)) }
    }
}

/// The page of `items` (a whole list, in any order) that `query` asks for: put in
/// `order`, the items after the cursor's, at most `limit`; and the next cursor.
/// A cursor's item need not exist any more: the page starts where it stood.
pub fn page_of<T>(
    mut items: Vec<T>,
    query: &PageQuery,
    order: Order,
    key: impl Fn(&T) -> &str,
) -> (Vec<T>, Option<String>) {
    match order {
        Order::NewestFirst => items.sort_by(|a, b| key(b).cmp(key(a))),
        Order::ByName => items.sort_by(|a, b| key(a).cmp(key(b))),
    }
    if let Some(cursor) = query.cursor.as_deref() {
        items.retain(|item| match order {
            Order::NewestFirst => key(item) < cursor,
            Order::ByName => key(item) > cursor,
        });
    }
    let next = page(&mut items, query.limit, |item| key(item).to_string());
    (items, next)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn query(pairs: &[(&str, &str)]) -> Result<PageQuery, ApiError> {
        let params = pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect();
        PageQuery::parse(&params, DEFAULT_LIMIT, |c| c.starts_with("apr_"))
    }

    #[test]
    fn a_query_takes_limit_and_a_cursor_of_the_lists_shape_only() {
        assert_eq!(query(&[]).unwrap(), PageQuery { limit: 50, cursor: None });
        let asked = query(&[("limit", "2"), ("cursor", "apr_9")]).unwrap();
        assert_eq!(asked, PageQuery { limit: 2, cursor: Some("apr_9".into()) });
        for bad in [&[("limit", "0")][..], &[("limit", "201")], &[("cursor", "tsk_1")], &[("sort", "name")]] {
            assert!(query(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn pages_follow_one_another_in_order_with_nothing_twice_or_left_out() {
        let ids = ["apr_3", "apr_1", "apr_5", "apr_2", "apr_4"];
        let mut seen = Vec::new();
        let mut asked = PageQuery { limit: 2, cursor: None };
        loop {
            let (page, next) = page_of(ids.to_vec(), &asked, Order::NewestFirst, |id| id);
            seen.extend(page);
            match next {
                Some(cursor) => asked.cursor = Some(cursor),
                None => break,
            }
        }
        assert_eq!(seen, ["apr_5", "apr_4", "apr_3", "apr_2", "apr_1"]);
        // Deliveries of earlier versions (`msg_`) come after every newer one (`whd_`).
        let all = PageQuery { limit: 10, cursor: None };
        let mixed = page_of(vec!["msg_9", "whd_1", "whd_2"], &all, Order::NewestFirst, |id| id).0;
        assert_eq!(mixed, ["whd_2", "whd_1", "msg_9"]);

        let names = ["b.txt", "a/z.txt", "c"];
        let first = PageQuery { limit: 2, cursor: None };
        let (page, next) = page_of(names.to_vec(), &first, Order::ByName, |n| n);
        assert_eq!((page, next.as_deref()), (vec!["a/z.txt", "b.txt"], Some("b.txt")));
        let rest = PageQuery { limit: 2, cursor: next };
        assert_eq!(page_of(names.to_vec(), &rest, Order::ByName, |n| n), (vec!["c"], None));
        let gone = PageQuery { limit: 2, cursor: Some("apr_35".into()) };
        assert_eq!(
            page_of(ids.to_vec(), &gone, Order::NewestFirst, |id| id).0,
            ["apr_3", "apr_2"],
            "a vanished cursor"
        );
    }
}
