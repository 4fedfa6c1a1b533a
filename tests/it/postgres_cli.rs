//! The offline commands on PostgreSQL: `ccgate migrate` and `ccgate keys` work on a
//! server's database (which exists without a file), and `ccgate backup` refuses it,
//! pointing at `pg_dump`, and writes nothing.

use std::process::{Command, Output};

use crate::support::postgres;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).to_string()
}

#[test]
fn migrate_and_keys_work_on_postgres_and_backup_points_at_pg_dump() {
    let Some(database) = postgres::database() else { return };
    let data = tempfile::tempdir().unwrap();
    let run = |args: &[&str]| -> Output {
        Command::new(env!("CARGO_BIN_EXE_ccgate"))
            .args(args)
            .env_clear()
            .env("PATH", std::env::var_os("PATH").unwrap_or_default())
            .env("CCGATE_DATA_DIR", data.path())
            .env("CCGATE_DATABASE_URL", &database.url)
            .output()
            .expect("run ccgate")
    };
    let migrated = run(&["migrate"]);
    assert!(migrated.status.success(), "{}", text(&migrated.stderr));
    assert!(run(&["migrate"]).status.success(), "migrating again changes nothing");

    let created = run(&["keys", "create", "--name", "on-postgres"]);
    assert!(created.status.success(), "{}", text(&created.stderr));
    let said = text(&created.stderr);
    assert!(said.contains("keys of the database postgres://ccgate@127.0.0.1:"), "{said}");
    let key: serde_json::Value = serde_json::from_slice(&created.stdout).unwrap();
    let id = key["id"].as_str().unwrap();
    let listed = run(&["keys", "list"]);
    assert!(listed.status.success(), "{}", text(&listed.stderr));
    assert!(text(&listed.stdout).contains(id), "{}\n{}", text(&listed.stdout), text(&listed.stderr));
    let revoked = run(&["keys", "revoke", id]);
    assert!(revoked.status.success(), "{}", text(&revoked.stderr));
    assert!(!run(&["keys", "revoke", id]).status.success(), "a revoked key is not active any more");

    let archive = data.path().join("backup.tar.gz");
    let backup = run(&["backup", "--to", archive.to_str().unwrap()]);
    assert!(!backup.status.success());
    assert!(text(&backup.stderr).contains("pg_dump"), "{}", text(&backup.stderr));
    assert!(!archive.exists());
    assert!(!data.path().join("ccgate.db").exists(), "nothing went to an embedded database");
}
