//! A policy plugin that misbehaves on purpose, for the gateway's hostile-plugin tests.
//!
//! Configuration: `{"behaviour": "<b>"}`; on `validate`:
//! `allow` (default) allows; `deny` denies (`/prompt`: "hostile says no"); `trap` panics;
//! `loop` spins forever; `sleep` sleeps for an hour (a wait inside a host call);
//! `allocate` allocates and touches memory until allocation
//! fails; `flood` logs 100 000 × 1 KiB lines and writes 10 MiB to stdout and stderr,
//! then allows; `rewrite` rewrites the prompt to `"rewritten: " + prompt`.

use std::io::Write;

use ccgate_plugin_sdk::prelude::*;
use serde::Deserialize;

/// The configuration.
#[derive(Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// What to do on `validate`.
    pub behaviour: Behaviour,
}

/// The misbehaviours.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Behaviour {
    /// Allow.
    #[default]
    Allow,
    /// Deny with one violation.
    Deny,
    /// Panic (a trap).
    Trap,
    /// Never return.
    Loop,
    /// Wait in the host (a monotonic-clock pollable) for an hour.
    Sleep,
    /// Exhaust memory.
    Allocate,
    /// Flood the log, stdout and stderr.
    Flood,
    /// Rewrite the prompt.
    Rewrite,
}

/// The plugin.
pub struct HostilePolicy;

impl Plugin for HostilePolicy {
    type Config = Config;
    const NAME: &'static str = "hostile-policy";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
}

impl Policy for HostilePolicy {
    fn validate(config: &Config, request: TaskRequest) -> Decision {
        match config.behaviour {
            Behaviour::Allow => Decision::Allow,
            Behaviour::Deny => Decision::deny_one("/prompt", "hostile says no"),
            Behaviour::Trap => unreachable!("hostile-policy traps on purpose"),
            Behaviour::Loop => spin(),
            Behaviour::Sleep => {
                std::thread::sleep(std::time::Duration::from_secs(3600));
                Decision::Allow
            }
            Behaviour::Allocate => allocate(),
            Behaviour::Flood => {
                flood();
                Decision::Allow
            }
            Behaviour::Rewrite => {
                let mut rewrite = Rewrite::from_request(&request);
                rewrite.prompt = format!("rewritten: {}", request.prompt);
                Decision::Rewrite(rewrite)
            }
        }
    }
}

/// Loops forever in a way the optimizer must keep.
fn spin() -> ! {
    let mut n: u64 = 0;
    loop {
        n = std::hint::black_box(n.wrapping_add(1));
    }
}

/// Allocates 1 MiB chunks and writes to every page until the allocator gives up (which
/// aborts: a trap).
fn allocate() -> ! {
    let mut chunks: Vec<Vec<u8>> = Vec::new();
    loop {
        let mut chunk = vec![0u8; 1 << 20];
        for i in (0..chunk.len()).step_by(4096) {
            chunk[i] = (chunks.len() % 251) as u8 + 1;
        }
        chunks.push(std::hint::black_box(chunk));
    }
}

/// 100 000 log lines of 1 KiB, then 10 MiB each to stdout and stderr (errors ignored).
fn flood() {
    let line = "x".repeat(1024);
    for _ in 0..100_000 {
        log::info(&line);
    }
    let block = [b'y'; 64 * 1024];
    let (mut out, mut err) = (std::io::stdout(), std::io::stderr());
    for _ in 0..(10 * 1024 * 1024 / block.len()) {
        let _ = out.write_all(&block);
        let _ = err.write_all(&block);
    }
    let _ = out.flush();
    let _ = err.flush();
}

ccgate_plugin_sdk::export_policy!(HostilePolicy);

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> TaskRequest {
        TaskRequest {
            prompt: "hi".into(),
            priority: 1,
            options: "{}".into(),
            metadata: vec![],
            files: vec![],
            key_name: "k".into(),
            key_id: "1".into(),
            follow_up_of: None,
        }
    }

    fn config(behaviour: &str) -> Config {
        serde_json::from_str(&format!(r#"{{"behaviour": "{behaviour}"}}"#)).unwrap()
    }

    #[test]
    fn harmless_behaviours() {
        assert_eq!(HostilePolicy::validate(&config("allow"), request()), Decision::Allow);
        assert_eq!(HostilePolicy::validate(&Config::default(), request()), Decision::Allow);
        assert_eq!(
            HostilePolicy::validate(&config("deny"), request()),
            Decision::deny_one("/prompt", "hostile says no")
        );
        let Decision::Rewrite(r) = HostilePolicy::validate(&config("rewrite"), request()) else { panic!() };
        assert_eq!((r.prompt.as_str(), r.priority), ("rewritten: hi", 1));
        assert!(ccgate_plugin_sdk::check_config_text::<HostilePolicy>(r#"{"behaviour": "explode"}"#).len() == 1);
    }

    #[test]
    #[should_panic(expected = "traps on purpose")]
    fn trap_panics() {
        HostilePolicy::validate(&config("trap"), request());
    }
}
