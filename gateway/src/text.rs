//! Small helpers for text and JSON that come from outside.

/// Which end of a text [`clip_keeping`] keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keep {
    Start,
    End,
}

/// At most `max` bytes of `text`, from its start, cut at a character boundary.
pub fn clip(text: &str, max: usize) -> &str {
    clip_keeping(text, max, Keep::Start)
}

/// At most `max` bytes of `text`, cut at a character boundary: its first bytes
/// or (for names whose end says most, like an extension) its last ones. The one
/// place text from outside is cut to a size.
pub fn clip_keeping(text: &str, max: usize, keep: Keep) -> &str {
    if text.len() <= max {
        return text;
    }
    match keep {
        Keep::Start => {
            let mut end = max;
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            &text[..end]
        }
        Keep::End => {
            let mut start = text.len() - max;
            while !text.is_char_boundary(start) {
                start += 1;
            }
            &text[start..]
        }
    }
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
    fn clips_the_end_at_a_character_boundary() {
        use super::{Keep, clip_keeping};
        assert_eq!(clip_keeping("abc", 5, Keep::End), "abc");
        assert_eq!(clip_keeping("abc", 2, Keep::End), "bc");
        assert_eq!(clip_keeping("éa", 2, Keep::End), "a");
        assert_eq!(clip_keeping("aé", 2, Keep::End), "é");
    }

    #[test]
    fn json_size_is_the_length_of_the_text() {
        let value = serde_json::json!({"a": [1, "two", null], "é": true});
        assert_eq!(super::json_size(&value), value.to_string().len());
    }
}
