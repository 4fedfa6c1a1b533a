//! Messages a client sends into a running turn (`delivery` `queue` or `interrupt`):
//! written on the live CLI's stdin, and counted until the CLI takes them.
//!
//! The CLI runs with `--replay-user-messages`, so it echoes each user message on
//! stdout when it takes it into the conversation: that echo is where the message's
//! turn begins. A message written and never echoed was not taken; its turn stays
//! queued and runs as the next turn after the run (see `Store::finish_run`).

use std::collections::VecDeque;

use tokio::sync::mpsc;

use super::command::{interrupt_line, user_line};

/// A message for the live session of a task, as the queue's registry hands it to the run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveMessage {
    /// The task's turn the message is (already recorded, `queued`).
    pub turn: i32,
    pub prompt: String,
    /// Interrupt the turn in progress first (in-band, as a cancel does).
    pub interrupt: bool,
}

/// Messages written to the CLI and not taken yet, oldest first.
#[derive(Debug, Default)]
pub struct Steering {
    waiting: VecDeque<(i32, String)>,
}

impl Steering {
    /// Whether every message written was taken.
    pub fn is_idle(&self) -> bool {
        self.waiting.is_empty()
    }

    /// Writes `message` on stdin (after an interrupt when it asks for one and a turn
    /// is in progress). `false` when stdin is closed or full: the message was not
    /// written, its turn waits for the next run.
    pub fn deliver(
        &mut self,
        message: LiveMessage,
        turn_in_progress: bool,
        stdin_lines: Option<&mpsc::Sender<String>>,
    ) -> bool {
        let Some(lines) = stdin_lines else { return false };
        // Room for the interrupt and the message both, or neither is sent.
        let needed = if message.interrupt && turn_in_progress { 2 } else { 1 };
        if lines.capacity() < needed {
            return false;
        }
        if needed == 2 && lines.try_send(interrupt_line()).is_err() {
            return false;
        }
        if lines.try_send(user_line(&message.prompt)).is_err() {
            return false;
        }
        self.waiting.push_back((message.turn, message.prompt));
        true
    }

    /// The turn that begins with the user message the CLI echoed, if it is one of
    /// the messages written (the run's first prompt is not).
    pub fn taken(&mut self, echoed: &str) -> Option<i32> {
        let at = self.waiting.iter().position(|(_, prompt)| prompt == echoed)?;
        self.waiting.remove(at).map(|(turn, _)| turn)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn message(turn: i32, prompt: &str, interrupt: bool) -> LiveMessage {
        LiveMessage { turn, prompt: prompt.into(), interrupt }
    }

    #[test]
    fn a_message_is_waiting_until_the_cli_echoes_it() {
        let (tx, mut rx) = mpsc::channel(4);
        let mut steering = Steering::default();
        assert!(steering.deliver(message(1, "steer", false), true, Some(&tx)));
        assert!(!steering.is_idle());
        let line: serde_json::Value = serde_json::from_str(&rx.try_recv().unwrap()).unwrap();
        assert_eq!(line["message"]["content"], "steer");
        assert!(rx.try_recv().is_err(), "no interrupt for a queued message");
        assert_eq!(steering.taken("the first prompt"), None, "not a message of the client's");
        assert_eq!(steering.taken("steer"), Some(1));
        assert!(steering.is_idle());
        assert_eq!(steering.taken("steer"), None, "taken once");
    }

    #[test]
    fn an_interrupt_goes_before_its_message_only_while_a_turn_runs() {
        let (tx, mut rx) = mpsc::channel(4);
        let mut steering = Steering::default();
        assert!(steering.deliver(message(1, "stop that", true), true, Some(&tx)));
        let first: serde_json::Value = serde_json::from_str(&rx.try_recv().unwrap()).unwrap();
        assert_eq!(first["request"]["subtype"], "interrupt");
        let second: serde_json::Value = serde_json::from_str(&rx.try_recv().unwrap()).unwrap();
        assert_eq!(second["type"], "user");
        assert!(steering.deliver(message(2, "later", true), false, Some(&tx)));
        let only: serde_json::Value = serde_json::from_str(&rx.try_recv().unwrap()).unwrap();
        assert_eq!(only["type"], "user", "nothing to interrupt between turns");
        assert_eq!((steering.taken("later"), steering.taken("stop that")), (Some(2), Some(1)));
    }

    #[test]
    fn a_closed_or_full_stdin_takes_nothing() {
        let mut steering = Steering::default();
        assert!(!steering.deliver(message(1, "a", false), true, None));
        let (tx, _rx) = mpsc::channel(1);
        assert!(!steering.deliver(message(1, "a", true), true, Some(&tx)), "no room for interrupt and message");
        assert!(steering.is_idle());
        assert!(steering.deliver(message(1, "a", false), true, Some(&tx)));
        assert!(!steering.deliver(message(2, "b", false), true, Some(&tx)));
        assert_eq!(steering.taken("b"), None);
    }
}
