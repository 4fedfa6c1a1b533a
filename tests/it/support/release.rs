//! Blocker steps: a run's Bash step that waits until the test lets it go, so the test
//! can look at a task in one known state (running, or queued behind it) for as long
//! as it needs, instead of guessing with a sleep.

use super::Gateway;

/// Bash that waits until the test calls [`Gateway::release`] for the task.
pub const UNTIL_RELEASED: &str = "while [ ! -e release ]; do sleep 0.1; done";

impl Gateway {
    /// Lets the task's [`UNTIL_RELEASED`] step go on (once its workspace exists).
    pub async fn release(&self, id: &str) {
        let workspace = self.data.path().join("tasks").join(id).join("workspace");
        let started = std::time::Instant::now();
        while !workspace.is_dir() {
            assert!(started.elapsed() < std::time::Duration::from_secs(60), "task {id} has no workspace");
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        std::fs::write(workspace.join("release"), "").expect("write the release file");
    }
}
