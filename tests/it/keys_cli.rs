//! `ccgate keys` offline: it reads the configuration `serve` reads (CCGATE_CONFIG, then
//! the environment), says which database it opened, and makes no empty database
//! where none was meant.

use std::path::Path;
use std::process::{Command, Output};

fn ccgate(dir: &Path, args: &[&str], env: &[(&str, &Path)]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_ccgate"));
    command.args(args).current_dir(dir).env_clear().env("PATH", std::env::var_os("PATH").unwrap_or_default());
    for (name, value) in env {
        command.env(name, value);
    }
    command.output().expect("run ccgate")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

#[test]
fn keys_name_their_database_and_create_none_by_accident() {
    let elsewhere = tempfile::tempdir().unwrap();
    let here = elsewhere.path();
    let default_db = std::path::absolute(here.join("data/ccgate.db")).unwrap();

    // No configuration: `./data` of a directory without one. Nothing listed, nothing made.
    let listed = ccgate(here, &["keys", "list"], &[]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    assert_eq!(text(&listed.stdout), "");
    let said = text(&listed.stderr);
    assert!(said.contains(&format!("no database at {}", default_db.display())), "{said}");
    let revoked = ccgate(here, &["keys", "revoke", "key_01JDX3N8Q6W2V0M1R5T7Y9B4C2"], &[]);
    assert!(!revoked.status.success());
    assert!(text(&revoked.stderr).contains("no database at"), "{}", text(&revoked.stderr));
    assert!(!here.join("data").exists(), "an empty data directory was created");

    // The gateway's configuration file names its data directory: a key made with it
    // is listed from any working directory, and each command names the database.
    let gateway = tempfile::tempdir().unwrap();
    let data = gateway.path().join("state");
    let config = gateway.path().join("ccgate.toml");
    std::fs::write(&config, format!("data_dir = {:?}\n", data.display().to_string())).unwrap();
    let db = data.join("ccgate.db");
    let created = ccgate(gateway.path(), &["keys", "create", "--name", "ci"], &[("CCGATE_CONFIG", &config)]);
    assert!(created.status.success(), "{}", text(&created.stderr));
    assert!(text(&created.stderr).contains(&format!("creating a new database at {}", db.display())));
    let key: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    let listed = ccgate(here, &["keys", "list"], &[("CCGATE_CONFIG", &config)]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    assert!(text(&listed.stdout).contains(key["id"].as_str().unwrap()), "{}", text(&listed.stdout));
    assert!(text(&listed.stderr).contains(&format!("keys of the database {}", db.display())));
    assert!(!here.join("data").exists());
}

#[test]
fn keys_create_checks_its_flags_by_the_rules_of_the_api_and_names_the_flag() {
    let gateway = tempfile::tempdir().unwrap();
    let config = gateway.path().join("ccgate.toml");
    let data = gateway.path().join("state");
    std::fs::write(&config, format!("data_dir = {:?}\n", data.display().to_string())).unwrap();
    let env = [("CCGATE_CONFIG", config.as_path())];
    let refused = [
        (&["--rate-limit", "0"][..], "--rate-limit must be a whole number from 1 to 1000000"),
        (&["--token-budget-per-day", "0"][..], "--token-budget-per-day must be a whole number of tokens"),
        (&["--scope", "root"][..], "--scope must be a non-empty array"),
        (&["--budget-per-day=-1"][..], "--budget-per-day must be a positive number of US dollars"),
    ];
    for (flags, said) in refused {
        let args = [&["keys", "create", "--name", "ci"][..], flags].concat();
        let created = ccgate(gateway.path(), &args, &env);
        assert!(!created.status.success(), "{flags:?} was accepted");
        assert!(text(&created.stderr).contains(said), "{flags:?}: {}", text(&created.stderr));
    }
    let listed = ccgate(gateway.path(), &["keys", "list"], &env);
    assert!(text(&listed.stdout).trim().is_empty(), "a refused key was stored: {}", text(&listed.stdout));
    let created = ccgate(gateway.path(), &["keys", "create", "--name", "ci", "--rate-limit", "5"], &env);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let key: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    assert_eq!(key["rate_limit_per_minute"], 5);
}
