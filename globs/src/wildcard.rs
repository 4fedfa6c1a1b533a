//! The one matching loop: items and stars, at any level (characters in a name,
//! segments in a path, bytes of a command line).

/// `pattern` against `text`, item by item: an item that `is_star` matches any run
/// of items, any other matches one item as `one` says. Backtracks only to the last
/// star, so it takes at most `pattern.len() * text.len()` steps, however the two
/// are written (a run's paths and a client's globs both are input).
pub fn wildcard<P, T>(pattern: &[P], text: &[T], is_star: impl Fn(&P) -> bool, one: impl Fn(&P, &T) -> bool) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        if p < pattern.len() && is_star(&pattern[p]) {
            star = Some((p, t));
            p += 1;
        } else if p < pattern.len() && one(&pattern[p], &text[t]) {
            p += 1;
            t += 1;
        } else if let Some((star_p, star_t)) = star {
            p = star_p + 1;
            t = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    pattern[p..].iter().all(is_star)
}

#[cfg(test)]
mod tests {
    use super::wildcard;

    fn bytes(pattern: &str, text: &str) -> bool {
        wildcard(pattern.as_bytes(), text.as_bytes(), |&p| p == b'*', |p, t| p == t)
    }

    #[test]
    fn stars_match_any_run() {
        assert!(bytes("a*c", "abbbc") && bytes("*", "") && bytes("a**", "a"));
        assert!(bytes("rm -rf *", "rm -rf /"));
        assert!(!bytes("a*c", "abcd"));
        assert!(!bytes("abc", "ab"));
    }
}
