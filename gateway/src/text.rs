//! Small helpers for text and JSON that come from outside.

/// At most `max` bytes of `text`, cut at a character boundary.
pub fn clip(text: &str, max: usize) -> &str {
    if text.len() <= max {
        return text;
    }
    let mut end = max;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

/// The size of `value` as compact JSON, without building the text.
pub fn json_size(value: &impl serde::Serialize) -> usize {
    struct Counter(usize);
    impl std::io::Write for Counter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0 += buf.len();
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut counter = Counter(0);
    // Writing to a sink that only counts fails only for values that cannot be JSON.
    let _ = serde_json::to_writer(&mut counter, value);
    counter.0
}

#[cfg(test)]
mod tests {
    #[test]
    fn clips_at_a_character_boundary() {
        assert_eq!(super::clip("abc", 5), "abc");
        assert_eq!(super::clip("abc", 2), "ab");
        assert_eq!(super::clip("aé", 2), "a");
    }

    #[test]
    fn json_size_is_the_length_of_the_text() {
        let value = serde_json::json!({"a": [1, "two", null], "é": true});
        assert_eq!(super::json_size(&value), value.to_string().len());
    }
}
