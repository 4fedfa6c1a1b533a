//! A first task: with CCGATE_URL and CCGATE_API_KEY set, `cargo run -p ccgate-client
//! --example first_task` creates a task with a file, prints its events as they come,
//! then its result. The live tests run it against their gateway.

use std::pin::pin;

use ccgate_client::{Client, CreateTask};
use futures_util::StreamExt;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), ccgate_client::Error> {
    let client = Client::from_env()?;
    let task = client
        .tasks()
        .create(
            CreateTask::new("Summarise notes/todo.txt")
                .file("notes/todo.txt", "Ship the SDKs\n")
                .metadata("ticket", "DEMO-1"),
        )
        .await?;
    let mut events = pin!(client.tasks().stream(&task.id));
    while let Some(event) = events.next().await {
        let event = event?;
        println!("{} {:?}", event.seq, event.kind);
    }
    let task = client.tasks().wait(&task.id, None).await?;
    println!("{} {}", task.status, task.result.and_then(|r| r.text).unwrap_or_default());
    Ok(())
}
