//! A throwaway PostgreSQL for tests: `initdb` + `pg_ctl start` in a temporary
//! directory (its own free port, its unix socket in that directory too), one
//! database per test, the server stopped and deleted when the last test using it
//! is done. Shared by the e2e harness and, `#[path]`-included, the store's unit
//! tests.
//!
//! `initdb` refuses to run as root, so as root (CI) the server runs as `nobody`.
//! The binaries come from `CCGATE_TEST_PG_BIN` (a directory), else Debian's
//! `/usr/lib/postgresql/*/bin` (newest), else `PATH`. Under `CI=true`, or when
//! `CCGATE_TEST_BACKEND=postgres` asks for it, a missing PostgreSQL fails the test;
//! otherwise the test is skipped with the reason printed.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex, Weak};

/// Whether the tests should run their gateways and stores on PostgreSQL
/// (`CCGATE_TEST_BACKEND=postgres`); SQLite otherwise.
pub fn selected() -> bool {
    std::env::var("CCGATE_TEST_BACKEND").is_ok_and(|backend| backend == "postgres")
}

/// A fresh, empty database on the test server; the server lives while one does.
pub struct TestDatabase {
    pub url: String,
    _server: Arc<Server>,
}

/// A new database, or `None` (the reason printed) when PostgreSQL is not installed
/// and neither CI nor `CCGATE_TEST_BACKEND=postgres` requires it. A PostgreSQL that
/// is installed but does not start fails the test.
pub fn database() -> Option<TestDatabase> {
    let server = shared_server(installed()?).unwrap_or_else(|why| panic!("the test PostgreSQL did not start: {why}"));
    let name = format!("t{}_{}", std::process::id(), server.databases.fetch_add(1, Ordering::Relaxed));
    let url = server.create_database(&name);
    Some(TestDatabase { url, _server: server })
}

/// The binaries, or `None` (the reason printed) when the test may be skipped.
fn installed() -> Option<PathBuf> {
    match binaries() {
        Ok(bin) => Some(bin),
        Err(why) if required() => panic!("PostgreSQL tests cannot run: {why}"),
        Err(why) => {
            eprintln!("skipped: PostgreSQL is not installed ({why}); CI=true makes this a failure");
            None
        }
    }
}

/// A PostgreSQL tool (`pg_dump`, `pg_restore`, `psql`) of the test server's version,
/// or `None` as [`database`] says.
#[allow(dead_code)] // the e2e tests' only; the store's unit tests include this file too
pub fn tool(name: &str) -> Option<PathBuf> {
    installed().map(|bin| bin.join(name))
}

/// A server of the test's own, with one database, for what the shared one must not
/// do: stop and start again on the same port (a database outage).
#[allow(dead_code)] // the e2e tests' only; the store's unit tests include this file too
pub struct OwnServer {
    pub url: String,
    server: Server,
}

#[allow(dead_code)]
impl OwnServer {
    /// `None` as [`database`] says.
    pub fn start() -> Option<OwnServer> {
        let server = Server::start(installed()?).unwrap_or_else(|why| panic!("a test PostgreSQL did not start: {why}"));
        let url = server.create_database("ccgate");
        Some(OwnServer { url, server })
    }

    /// Stops the server as an operator would (`pg_ctl stop -m fast`): open
    /// connections are closed, new ones refused.
    pub fn stop(&self) {
        let mut stop = command(&self.server.bin, "pg_ctl", self.server.run_as, self.server.dir.path());
        stop.arg("-D").arg(self.server.dir.path().join("data")).args(["-m", "fast", "-w", "stop"]);
        succeeded("pg_ctl stop", stop.output()).unwrap_or_else(|why| panic!("{why}"));
    }

    /// Starts the stopped server again, on the same port.
    pub fn resume(&self) {
        self.server.pg_ctl_start(self.server.port).unwrap_or_else(|why| panic!("{why}"));
    }
}

/// The superuser `initdb` creates; local connections are trusted.
const USER: &str = "ccgate";

fn required() -> bool {
    std::env::var("CI").is_ok_and(|ci| ci == "true") || selected()
}

/// The running server, started if no test holds it.
fn shared_server(bin: PathBuf) -> Result<Arc<Server>, String> {
    static SERVER: Mutex<Weak<Server>> = Mutex::new(Weak::new());
    let mut shared = SERVER.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    if let Some(server) = shared.upgrade() {
        return Ok(server);
    }
    let server = Arc::new(Server::start(bin)?);
    *shared = Arc::downgrade(&server);
    Ok(server)
}

struct Server {
    dir: tempfile::TempDir,
    bin: PathBuf,
    port: u16,
    /// Who runs the server: `nobody` when the tests run as root.
    run_as: Option<&'static str>,
    databases: AtomicU32,
}

impl Server {
    fn start(bin: PathBuf) -> Result<Server, String> {
        let run_as = running_as_root().then_some("nobody");
        let dir = tempfile::Builder::new().prefix("ccgate-pg-").tempdir().map_err(|e| e.to_string())?;
        if let Some(user) = run_as {
            let (uid, gid) = (id_of(&["-u", user])?, id_of(&["-g", user])?);
            std::os::unix::fs::chown(dir.path(), Some(uid), Some(gid)).map_err(|e| format!("chown: {e}"))?;
        }
        let mut initdb = command(&bin, "initdb", run_as, dir.path());
        initdb.arg("-D").arg(dir.path().join("data")).args([
            "-U",
            USER,
            "--auth=trust",
            "-E",
            "UTF8",
            "--locale=C",
            "-N",
        ]);
        succeeded("initdb", initdb.output())?;
        // Another process may take the free port before the server binds it: try again.
        let mut server = Server { dir, bin, port: 0, run_as, databases: AtomicU32::new(0) };
        let mut last_error = String::new();
        for _ in 0..3 {
            server.port = free_port()?;
            match server.pg_ctl_start(server.port) {
                Ok(()) => return Ok(server),
                Err(why) => last_error = why,
            }
        }
        let log = std::fs::read_to_string(server.dir.path().join("server.log")).unwrap_or_default();
        Err(format!("{last_error}\n{log}"))
    }

    fn pg_ctl_start(&self, port: u16) -> Result<(), String> {
        let options = format!(
            "-p {port} -k {} -c listen_addresses=127.0.0.1 -c max_connections=400 -c shared_buffers=32MB \
             -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
            self.dir.path().display()
        );
        let mut start = command(&self.bin, "pg_ctl", self.run_as, self.dir.path());
        start.arg("-D").arg(self.dir.path().join("data")).arg("-l").arg(self.dir.path().join("server.log"));
        start.args(["-w", "-t", "60", "-o", &options, "start"]);
        succeeded("pg_ctl start", start.output())
    }

    /// Makes database `name`; its URL.
    fn create_database(&self, name: &str) -> String {
        let created = Command::new(self.bin.join("createdb"))
            .args(["-h", "127.0.0.1", "-p", &self.port.to_string(), "-U", USER, name])
            .output()
            .unwrap_or_else(|e| panic!("running createdb: {e}"));
        assert!(created.status.success(), "createdb {name}: {}", String::from_utf8_lossy(&created.stderr));
        format!("postgres://{USER}@127.0.0.1:{}/{name}", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let mut stop = command(&self.bin, "pg_ctl", self.run_as, self.dir.path());
        stop.arg("-D").arg(self.dir.path().join("data")).args(["-m", "immediate", "-w", "stop"]);
        if let Err(why) = succeeded("pg_ctl stop", stop.output()) {
            eprintln!("the test PostgreSQL did not stop: {why}");
        }
    }
}

/// The directory holding `initdb`, `pg_ctl` and `createdb`.
fn binaries() -> Result<PathBuf, String> {
    if let Some(dir) = std::env::var_os("CCGATE_TEST_PG_BIN") {
        return Ok(PathBuf::from(dir));
    }
    let mut debian: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| Some((entry.file_name().to_str()?.parse().ok()?, entry.path().join("bin"))))
        .filter(|(_, bin)| bin.join("initdb").is_file())
        .collect();
    debian.sort();
    if let Some((_, bin)) = debian.pop() {
        return Ok(bin);
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .find(|dir| ["initdb", "pg_ctl", "createdb"].iter().all(|tool| dir.join(tool).is_file()))
        .ok_or_else(|| {
            "no initdb, pg_ctl and createdb (install Debian's postgresql: scripts/setup.sh --test-tools)".into()
        })
}

fn command(bin: &Path, tool: &str, run_as: Option<&str>, cwd: &Path) -> Command {
    let mut command = match run_as {
        Some(user) => {
            let mut command = Command::new("runuser");
            command.args(["-u", user, "--"]).arg(bin.join(tool));
            command
        }
        None => Command::new(bin.join(tool)),
    };
    command.current_dir(cwd);
    command
}

fn succeeded(what: &str, output: std::io::Result<Output>) -> Result<(), String> {
    let output = output.map_err(|e| format!("{what}: {e}"))?;
    if output.status.success() {
        return Ok(());
    }
    Err(format!(
        "{what} failed: {}{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    ))
}

fn running_as_root() -> bool {
    id_of(&["-u"]).is_ok_and(|uid| uid == 0)
}

fn id_of(args: &[&str]) -> Result<u32, String> {
    let output = Command::new("id").args(args).output().map_err(|e| format!("id: {e}"))?;
    String::from_utf8_lossy(&output.stdout).trim().parse().map_err(|_| format!("id {args:?} printed no number"))
}

fn free_port() -> Result<u16, String> {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(|e| e.to_string())?;
    listener.local_addr().map(|addr| addr.port()).map_err(|e| e.to_string())
}
