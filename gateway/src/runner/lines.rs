//! Reading a child's output line by line without trusting it: a line of any
//! length is consumed, but only `max` bytes of it are kept in memory.

use tokio::io::{AsyncBufRead, AsyncBufReadExt};

/// One line read.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// A whole line, without its newline.
    Complete(Vec<u8>),
    /// A line longer than the cap: its first `max` bytes and its full length.
    TooLong {
        head: Vec<u8>,
        length: usize,
    },
    Eof,
}

/// Reads the next line of `reader`, keeping at most `max` bytes.
pub async fn next_line<R: AsyncBufRead + Unpin>(reader: &mut R, max: usize) -> std::io::Result<Line> {
    let mut kept = Vec::new();
    let mut length = 0usize;
    loop {
        let buffer = reader.fill_buf().await?;
        if buffer.is_empty() {
            return Ok(match length {
                0 => Line::Eof,
                _ if length > max => Line::TooLong { head: kept, length },
                _ => Line::Complete(kept),
            });
        }
        let (chunk, found_newline) = match memchr(buffer) {
            Some(i) => (&buffer[..i], true),
            None => (buffer, false),
        };
        let room = max.saturating_sub(kept.len());
        kept.extend_from_slice(&chunk[..chunk.len().min(room)]);
        length += chunk.len();
        let consumed = chunk.len() + usize::from(found_newline);
        reader.consume(consumed);
        if found_newline {
            return Ok(if length > max { Line::TooLong { head: kept, length } } else { Line::Complete(kept) });
        }
    }
}

fn memchr(buffer: &[u8]) -> Option<usize> {
    buffer.iter().position(|b| *b == b'\n')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn caps_long_lines_and_keeps_reading() {
        let data = b"short\nabcdefghij\nlast".to_vec();
        let mut reader = tokio::io::BufReader::with_capacity(3, &data[..]);
        assert_eq!(next_line(&mut reader, 5).await.unwrap(), Line::Complete(b"short".to_vec()));
        assert_eq!(next_line(&mut reader, 5).await.unwrap(), Line::TooLong { head: b"abcde".to_vec(), length: 10 });
        assert_eq!(next_line(&mut reader, 5).await.unwrap(), Line::Complete(b"last".to_vec()));
        assert_eq!(next_line(&mut reader, 5).await.unwrap(), Line::Eof);
    }
}
