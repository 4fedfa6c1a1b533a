//! Rendering an assistant answer the way the Messages API does: one JSON message, or the
//! SSE event sequence of a streamed one (`message_start`, per-block
//! `content_block_start/delta/stop`, `message_delta`, `message_stop`).

use std::convert::Infallible;
use std::time::Duration;

use axum::body::Body;
use bytes::Bytes;
use futures_util::stream;
use serde_json::{Value, json};

/// A complete assistant answer, ready to be rendered.
#[derive(Debug)]
pub(crate) struct Answer {
    pub id: String,
    pub model: String,
    pub blocks: Vec<OutBlock>,
    pub input_tokens: u64,
}

#[derive(Debug)]
pub(crate) enum OutBlock {
    Text(String),
    ToolUse { id: String, name: String, input: Value },
}

impl Answer {
    fn stop_reason(&self) -> &'static str {
        let calls_tool = self.blocks.iter().any(|b| matches!(b, OutBlock::ToolUse { .. }));
        if calls_tool { "tool_use" } else { "end_turn" }
    }

    /// Deterministic: a quarter of the generated characters, at least one.
    fn output_tokens(&self) -> u64 {
        let chars: usize = self
            .blocks
            .iter()
            .map(|b| match b {
                OutBlock::Text(text) => text.chars().count(),
                OutBlock::ToolUse { name, input, .. } => name.len() + input.to_string().len(),
            })
            .sum();
        (chars as u64 / 4).max(1)
    }

    fn usage(&self, output_tokens: u64) -> Value {
        json!({
            "input_tokens": self.input_tokens,
            "cache_creation_input_tokens": 0,
            "cache_read_input_tokens": 0,
            "output_tokens": output_tokens,
        })
    }

    /// The non-streaming response body.
    pub fn to_json(&self) -> Value {
        json!({
            "id": self.id,
            "type": "message",
            "role": "assistant",
            "model": self.model,
            "content": self.blocks.iter().map(OutBlock::to_json).collect::<Vec<_>>(),
            "stop_reason": self.stop_reason(),
            "stop_sequence": null,
            "usage": self.usage(self.output_tokens()),
        })
    }

    /// The SSE frames of the streamed answer; with `stall`, a pause follows the first
    /// content delta.
    pub fn to_frames(&self, stall: Option<Duration>) -> Vec<Frame> {
        let mut frames = vec![
            Frame::event(
                "message_start",
                json!({"type": "message_start", "message": {
                    "id": self.id, "type": "message", "role": "assistant", "model": self.model,
                    "content": [], "stop_reason": null, "stop_sequence": null,
                    "usage": self.usage(1),
                }}),
            ),
            Frame::event("ping", json!({"type": "ping"})),
        ];
        for (index, block) in self.blocks.iter().enumerate() {
            block.push_frames(index, &mut frames);
        }
        frames.push(Frame::event(
            "message_delta",
            json!({"type": "message_delta",
                "delta": {"stop_reason": self.stop_reason(), "stop_sequence": null},
                "usage": {"output_tokens": self.output_tokens()}}),
        ));
        frames.push(Frame::event("message_stop", json!({"type": "message_stop"})));
        if let Some(pause) = stall {
            let first_delta = frames.iter().position(|f| f.is_delta).unwrap_or(0);
            if let Some(next) = frames.get_mut(first_delta + 1) {
                next.pause_before = Some(pause);
            }
        }
        frames
    }
}

impl OutBlock {
    fn to_json(&self) -> Value {
        match self {
            OutBlock::Text(text) => json!({"type": "text", "text": text}),
            OutBlock::ToolUse { id, name, input } => {
                json!({"type": "tool_use", "id": id, "name": name, "input": input})
            }
        }
    }

    fn push_frames(&self, index: usize, frames: &mut Vec<Frame>) {
        let (start, deltas) = match self {
            OutBlock::Text(text) => (
                json!({"type": "text", "text": ""}),
                chunks(text).map(|c| json!({"type": "text_delta", "text": c})).collect::<Vec<_>>(),
            ),
            OutBlock::ToolUse { id, name, input } => (
                json!({"type": "tool_use", "id": id, "name": name, "input": {}}),
                chunks(&input.to_string()).map(|c| json!({"type": "input_json_delta", "partial_json": c})).collect(),
            ),
        };
        frames.push(Frame::event(
            "content_block_start",
            json!({"type": "content_block_start", "index": index, "content_block": start}),
        ));
        for delta in deltas {
            let mut frame = Frame::event(
                "content_block_delta",
                json!({"type": "content_block_delta", "index": index, "delta": delta}),
            );
            frame.is_delta = true;
            frames.push(frame);
        }
        frames.push(Frame::event("content_block_stop", json!({"type": "content_block_stop", "index": index})));
    }
}

/// Splits `text` into a few pieces on char boundaries (about four for short texts, at
/// most 16 KiB each), so clients really have to join deltas.
fn chunks(text: &str) -> impl Iterator<Item = &str> {
    let target = (text.len() / 4).clamp(8, 16 * 1024);
    let mut rest = text;
    std::iter::from_fn(move || {
        if rest.is_empty() {
            return None;
        }
        let mut end = target.min(rest.len());
        while !rest.is_char_boundary(end) {
            end += 1;
        }
        let (piece, tail) = rest.split_at(end);
        rest = tail;
        Some(piece)
    })
}

/// One SSE event, optionally preceded by a pause.
#[derive(Debug)]
pub(crate) struct Frame {
    pub pause_before: Option<Duration>,
    pub bytes: Bytes,
    is_delta: bool,
}

impl Frame {
    fn event(name: &str, data: Value) -> Self {
        Self { pause_before: None, bytes: Bytes::from(format!("event: {name}\ndata: {data}\n\n")), is_delta: false }
    }
}

/// A response body that sends the frames in order, sleeping where they ask.
pub(crate) fn sse_body(frames: Vec<Frame>) -> Body {
    let frames = stream::unfold(frames.into_iter(), |mut frames| async move {
        let frame = frames.next()?;
        if let Some(pause) = frame.pause_before {
            tokio::time::sleep(pause).await;
        }
        Some((Ok::<_, Infallible>(frame.bytes), frames))
    });
    Body::from_stream(frames)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(blocks: Vec<OutBlock>) -> Answer {
        Answer { id: "msg_1".into(), model: "m".into(), blocks, input_tokens: 10 }
    }

    #[test]
    fn chunks_rejoin_to_the_text() {
        let text = "héllo wörld, ünïcode ".repeat(5);
        assert_eq!(chunks(&text).collect::<String>(), text);
        assert!(chunks(&text).count() > 1);
        assert_eq!(chunks("").count(), 0);
    }

    #[test]
    fn tool_use_sets_the_stop_reason() {
        let a = answer(vec![
            OutBlock::Text("hi".into()),
            OutBlock::ToolUse { id: "toolu_1".into(), name: "Bash".into(), input: json!({"command": "ls"}) },
        ]);
        let body = a.to_json();
        assert_eq!(body["stop_reason"], "tool_use");
        assert_eq!(body["content"][1]["input"]["command"], "ls");
    }

    #[test]
    fn stall_pauses_after_the_first_delta() {
        let a = answer(vec![OutBlock::Text("hello world".into())]);
        let frames = a.to_frames(Some(Duration::from_millis(5)));
        let paused: Vec<usize> = (0..frames.len()).filter(|&i| frames[i].pause_before.is_some()).collect();
        let first_delta = frames.iter().position(|f| f.is_delta);
        assert_eq!(paused, vec![first_delta.map_or(0, |i| i + 1)]);
        let last = frames.last().map(|f| f.bytes.clone());
        assert_eq!(last, Some(Bytes::from("event: message_stop\ndata: {\"type\":\"message_stop\"}\n\n")));
    }
}
