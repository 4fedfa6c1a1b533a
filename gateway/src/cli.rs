//! The `ccgate` command line: `serve`, `migrate`, `keys`, `openapi`, `doctor`, `plugins`,
//! `run` and `tasks` (a client of a gateway, `client`),
//! `scripted-model`, and the internal `supervise` and `sandbox-exec` used for every
//! Claude Code run.

use std::ffi::OsString;
use std::time::Duration;

use clap::{Parser, Subcommand};

use crate::api::{KeyCreated, KeyView};
use crate::auth::{Given, KeyField, KeyService, KeySpec, set_key_field};
use crate::config::Config;
use crate::store::AuditEntry;

#[derive(Parser)]
#[command(name = "ccgate", version, about = "Claude Code as a production HTTP service")]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the gateway (migrates the database first unless --no-migrate).
    Serve {
        #[arg(long)]
        no_migrate: bool,
    },
    /// Apply database migrations and exit.
    Migrate,
    /// Drain gateway nodes through the database (as `POST /v1/nodes/{id}/drain`):
    /// they stop claiming tasks, theirs finish or go back to the queue at
    /// `queue.drain_grace_seconds`. Prints each node as JSON.
    Drain {
        /// The node's id (`GET /v1/nodes`); default: every live node named like this
        /// machine's (`node.name`, else the hostname).
        #[arg(long)]
        node: Option<String>,
        /// Wait until each node is drained (or stopped).
        #[arg(long)]
        wait: bool,
        /// The configuration file (default: CCGATE_CONFIG, else ./ccgate.toml), as for `serve`.
        #[arg(long)]
        config: Option<std::path::PathBuf>,
        /// The data directory (default: CCGATE_DATA_DIR, else the configuration's), as for `serve`.
        #[arg(long)]
        data_dir: Option<std::path::PathBuf>,
    },
    /// Manage API keys offline.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Print the OpenAPI 3.1 document of the HTTP API.
    Openapi,
    /// Run a task on a gateway (CCGATE_URL, with the key in CCGATE_API_KEY), wait for
    /// it and print its result; exits 1 unless it completed.
    Run {
        prompt: String,
        /// A file to place in the workspace (a relative path is kept; repeatable).
        #[arg(long = "file")]
        files: Vec<std::path::PathBuf>,
        /// Print the task's events as they happen.
        #[arg(long)]
        follow: bool,
    },
    /// List, inspect, cancel, follow and download tasks on a gateway (CCGATE_URL,
    /// CCGATE_API_KEY).
    Tasks {
        #[command(subcommand)]
        command: TasksCli,
    },
    /// Serve the scripted Messages API model (for offline runs of the real CLI).
    ScriptedModel {
        #[arg(long, default_value = "127.0.0.1:8089")]
        listen: String,
        /// Refuse requests that do not carry this API key.
        #[arg(long)]
        api_key: Option<String>,
    },
    /// Internal: run a program under the per-run supervisor.
    #[command(hide = true)]
    Supervise {
        #[arg(long, default_value_t = 3000)]
        grace_ms: u64,
        #[arg(long)]
        parent_pid: Option<i32>,
        /// A `cgroup.procs` file to join before starting the program (repeatable).
        #[arg(long = "cgroup-procs")]
        cgroup_procs: Vec<std::path::PathBuf>,
        /// Join the cgroups, then read what to run from stdin (a spare supervisor).
        #[arg(long, conflicts_with = "program")]
        plan_on_stdin: bool,
        #[arg(last = true, required_unless_present = "plan_on_stdin")]
        program: Vec<OsString>,
    },
    /// Write a consistent backup of this (embedded) gateway to FILE while it runs:
    /// the database, the key pepper, every task's files and the artifacts.
    Backup {
        /// The archive to write (`.tar.gz`).
        #[arg(long)]
        to: std::path::PathBuf,
    },
    /// Restore a backup into a data directory (empty, unless --force).
    Restore {
        /// The archive `ccgate backup` wrote.
        #[arg(long)]
        from: std::path::PathBuf,
        /// Where to restore it; the gateway then serves with CCGATE_DATA_DIR=DIR.
        #[arg(long)]
        data_dir: std::path::PathBuf,
        /// Replace what DIR holds.
        #[arg(long)]
        force: bool,
    },
    /// Print what this machine can enforce around runs, layer by layer, and what
    /// the configured `sandbox.mode` would use.
    Doctor,
    /// Work with WebAssembly plugins.
    Plugins {
        #[command(subcommand)]
        command: PluginsCommand,
    },
    /// Internal: confine this process and run a program (inside a run's sandbox).
    #[command(hide = true)]
    SandboxExec(SandboxExecArgs),
    /// Internal: compile or check against a client's output schema, within limits
    /// (one JSON job on stdin, the verdict on stdout).
    #[command(hide = true, name = crate::task::structured::CHECK_SUBCOMMAND)]
    CheckOutputSchema {
        #[arg(long)]
        memory_mb: u64,
        #[arg(long)]
        cpu_seconds: u64,
    },
}

#[derive(clap::Args)]
struct SandboxExecArgs {
    #[arg(long, default_value_t = 0)]
    cpu_seconds: u64,
    #[arg(long, default_value_t = 0)]
    file_bytes: u64,
    #[arg(long, default_value_t = 0)]
    open_files: u64,
    #[arg(long)]
    model_socket: Option<std::path::PathBuf>,
    /// The egress proxy's socket; the run's token comes in `CCGATE_EGRESS_TOKEN`.
    #[arg(long)]
    egress_socket: Option<std::path::PathBuf>,
    /// Apply Landlock for this kernel ABI with the --read and --write paths.
    #[arg(long)]
    landlock_abi: Option<i32>,
    #[arg(long = "read")]
    read: Vec<std::path::PathBuf>,
    #[arg(long = "write")]
    write: Vec<std::path::PathBuf>,
    #[arg(long)]
    seccomp: bool,
    /// TCP only to the forwarders, no UDP or raw sockets (no network namespace).
    #[arg(long)]
    restrict_inet: bool,
    /// Empty the capability bounding set (no capabilities after exec, even as root).
    #[arg(long)]
    drop_capabilities: bool,
    /// Refuse Unix sockets to the program (seccomp; the helper keeps them).
    #[arg(long)]
    no_unix_sockets: bool,
    #[arg(last = true, required = true)]
    program: Vec<OsString>,
}

#[derive(Subcommand)]
enum PluginsCommand {
    /// Load a plugin as the gateway would, check it against the WIT worlds and its
    /// configuration, and run each hook it exports once on a sample input.
    Check {
        /// The component (`.wasm`).
        file: std::path::PathBuf,
        /// The plugin's configuration, as JSON.
        #[arg(long)]
        config: Option<String>,
    },
    /// Write a new plugin crate that builds: Cargo.toml, build.rs, src/lib.rs (a small
    /// working example of the hook, with native tests), schema.json, README.md.
    New {
        /// The crate's and the plugin's name (lowercase letters, digits, `-`, `_`).
        name: String,
        /// policy, result, artifacts, webhook or tool-approval.
        #[arg(long, value_parser = parse_hook)]
        hook: crate::plugins::Hook,
        /// The crate's directory (default: ./NAME); must not hold files yet.
        #[arg(long)]
        dir: Option<std::path::PathBuf>,
        /// A checkout of the SDK (`plugin-sdk/` of the ccgate repository) to depend
        /// on. Default: the SDK this ccgate was built beside, if still there, else the
        /// published `ccgate-plugin-sdk` crate.
        #[arg(long)]
        sdk: Option<std::path::PathBuf>,
    },
    /// Load a plugin and call one of its hooks on your own input; prints what it
    /// decided, what it answered and how long it took (its log lines go to stderr).
    /// Exit status: 0 allowed (or processed, selected, formatted, no opinion), 1
    /// denied or refused, 2 the plugin failed or could not be called.
    ///
    /// `--input` per hook: policy, a `POST /v1/tasks` body; result, a `result` as
    /// `GET /v1/tasks/{id}` shows it; artifacts, `{"workspace": DIR, "baseline":
    /// DIR?, "result": {...}?}`; webhook, `{"payload": <the built-in body>, "url":
    /// URL?}`; tool-approval, `{"tool": "Bash", "input": {...}, "reason": TEXT?}`.
    Call {
        /// The component (`.wasm`).
        file: std::path::PathBuf,
        /// policy, result, artifacts, webhook or tool-approval.
        #[arg(long, value_parser = parse_hook)]
        hook: crate::plugins::Hook,
        /// The hook's input, as a JSON file (`-`: stdin).
        #[arg(long)]
        input: std::path::PathBuf,
        /// The plugin's configuration, as JSON.
        #[arg(long)]
        config: Option<String>,
    },
}

fn parse_hook(name: &str) -> Result<crate::plugins::Hook, String> {
    crate::plugins::Hook::ALL
        .into_iter()
        .find(|hook| hook.as_str() == name.replace('-', "_"))
        .ok_or_else(|| "one of policy, result, artifacts, webhook, tool-approval".to_string())
}

#[derive(Subcommand)]
enum TasksCli {
    /// The key's tasks, newest first: id, status, creation time.
    List {
        #[arg(long)]
        status: Option<String>,
        #[arg(long)]
        limit: Option<u32>,
    },
    /// Print a task as JSON.
    Get { id: String },
    /// Cancel a task; prints its status.
    Cancel { id: String },
    /// Print a task's events (seq, type, data) until it is finished.
    Events { id: String },
    /// Save a task's workspace as an archive.
    Download {
        id: String,
        /// Where to write it.
        #[arg(long, short)]
        output: std::path::PathBuf,
        /// A `.zip` instead of a `.tar.gz`.
        #[arg(long)]
        zip: bool,
    },
}

impl From<TasksCli> for crate::client::TasksCommand {
    fn from(command: TasksCli) -> Self {
        use crate::client::TasksCommand as C;
        match command {
            TasksCli::List { status, limit } => C::List { status, limit },
            TasksCli::Get { id } => C::Get { id },
            TasksCli::Cancel { id } => C::Cancel { id },
            TasksCli::Events { id } => C::Events { id },
            TasksCli::Download { id, output, zip } => C::Download { id, output, zip },
        }
    }
}

#[derive(Subcommand)]
enum KeysCommand {
    /// Print a new key once.
    Create {
        #[arg(long)]
        name: String,
        /// `tasks`, `admin` or `network:full` (repeatable).
        #[arg(long = "scope", default_value = "tasks")]
        scopes: Vec<String>,
        #[arg(long)]
        rate_limit: Option<u32>,
        #[arg(long)]
        max_concurrent: Option<u32>,
        #[arg(long)]
        max_queued: Option<u32>,
        /// Default webhook URL of the key's tasks.
        #[arg(long)]
        webhook_url: Option<String>,
        /// An event the default webhook receives (repeatable; default `task.completed`,
        /// `task.failed`, `task.cancelled`), e.g. `task.approval_requested`.
        #[arg(long = "webhook-event")]
        webhook_events: Vec<String>,
        /// Spending cap per UTC day, in US dollars.
        #[arg(long)]
        budget_per_day: Option<f64>,
        /// Spending cap per UTC month, in US dollars.
        #[arg(long)]
        budget_per_month: Option<f64>,
        /// Token cap per UTC day (input, cache and output together).
        #[arg(long)]
        token_budget_per_day: Option<u64>,
        /// Token cap per UTC month.
        #[arg(long)]
        token_budget_per_month: Option<u64>,
        /// A test key (`ccg_test_…`): its tasks run against the built-in scripted
        /// model, with no upstream request and no cost.
        #[arg(long)]
        test: bool,
    },
    /// List keys.
    List,
    /// Revoke a key by id.
    Revoke { id: String },
}

/// Runs the command line; returns the process exit code.
pub fn run() -> i32 {
    let cli = Cli::parse();
    if let Command::Supervise { grace_ms, parent_pid, cgroup_procs, plan_on_stdin, program } = cli.command {
        use crate::runner::supervisor::{Program, supervise};
        // Before any runtime or thread exists: the supervisor relies on a signal mask.
        let program = match program.split_first() {
            _ if plan_on_stdin => Program::OnStdin,
            Some((program, args)) => Program::Given { program: program.clone(), args: args.to_vec() },
            None => return 2, // clap requires one or the other
        };
        return supervise(Duration::from_millis(grace_ms), parent_pid, &cgroup_procs, program);
    }
    if let Command::CheckOutputSchema { memory_mb, cpu_seconds } = cli.command {
        return crate::task::structured::child_main(memory_mb, cpu_seconds);
    }
    if let Command::SandboxExec(args) = cli.command {
        return sandbox_exec(args);
    }
    if let Command::Openapi = &cli.command {
        print!("{}", *crate::api::OPENAPI_DOCUMENT);
        return 0;
    }
    if matches!(cli.command, Command::Run { .. } | Command::Tasks { .. }) {
        // A client of some gateway: no configuration of this machine's is read.
        return client_main(cli.command);
    }
    let explicit = match &cli.command {
        Command::Drain { config, data_dir, .. } => (config.clone(), data_dir.clone()),
        _ => (None, None),
    };
    let config = match Config::load_with(explicit.0.as_deref()) {
        Ok(config) => Config { data_dir: explicit.1.unwrap_or(config.data_dir), ..config },
        Err(e) => {
            eprintln!("ccgate: {e}");
            return 2;
        }
    };
    crate::telemetry::init(&config.log_format);
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("ccgate: cannot start the async runtime: {e}");
            return 1;
        }
    };
    if let Command::Plugins { command: PluginsCommand::Call { file, hook, input, config } } = cli.command {
        return runtime.block_on(plugins_call(file, hook, &input, config.as_deref()));
    }
    let result = runtime.block_on(dispatch(cli.command, config));
    match result {
        Ok(()) => 0,
        Err(message) => {
            eprintln!("ccgate: {message}");
            1
        }
    }
}

async fn dispatch(command: Command, config: Config) -> Result<(), String> {
    match command {
        Command::Serve { no_migrate } => {
            let supervisor = std::env::current_exe().map_err(|e| format!("cannot find the ccgate executable: {e}"))?;
            let listener = crate::server::bind(&config.listen).await.map_err(|e| e.to_string())?;
            let shutdown = crate::server::shutdown_signal();
            crate::server::serve(config, !no_migrate, listener, shutdown, supervisor).await.map_err(|e| e.to_string())
        }
        Command::Migrate => {
            let (store, _) = crate::server::open(&config).await.map_err(|e| e.to_string())?;
            store.migrate().await.map_err(|e| e.to_string())?;
            println!("migrations applied");
            Ok(())
        }
        Command::Keys { command } => keys(command, config).await,
        Command::Drain { node, wait, .. } => {
            use crate::nodes::offline::{Target, drain};
            let target = node.map_or_else(|| Target::Named(crate::nodes::name_of(&config)), Target::Id);
            for view in drain(&config, target, wait).await? {
                println!("{}", serde_json::to_string(&view).map_err(|e| e.to_string())?);
            }
            Ok(())
        }
        Command::ScriptedModel { listen, api_key } => {
            let listener =
                tokio::net::TcpListener::bind(&listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
            println!("scripted model on http://{}", listener.local_addr().map_err(|e| e.to_string())?);
            crate::scripted_model::serve(listener, api_key).await.map_err(|e| e.to_string())
        }
        Command::Doctor => doctor(&config),
        Command::Backup { to } => {
            let manifest = crate::backup::backup(&config, &to).await.map_err(|e| e.to_string())?;
            println!("{}", serde_json::json!({"archive": to, "schema": manifest.schema, "counts": manifest.counts}));
            Ok(())
        }
        Command::Restore { from, data_dir, force } => {
            let manifest = crate::backup::restore(&from, &data_dir, force).await.map_err(|e| e.to_string())?;
            println!(
                "{}",
                serde_json::json!({"data_dir": data_dir, "backed_up_at": manifest.created_at,
                                   "schema": manifest.schema, "counts": manifest.counts})
            );
            Ok(())
        }
        Command::Plugins { command: PluginsCommand::Call { .. } } => unreachable!("handled with its own exit codes"),
        Command::Plugins { command: PluginsCommand::New { name, hook, dir, sdk } } => {
            plugins_new(&name, hook, dir, sdk)
        }
        Command::Plugins { command: PluginsCommand::Check { file, config } } => {
            let config = plugin_config(config.as_deref())?;
            let report = crate::plugins::check::check_file(file, config).await?;
            print!("{report}");
            Ok(())
        }
        Command::Supervise { .. }
        | Command::SandboxExec(_)
        | Command::CheckOutputSchema { .. }
        | Command::Openapi
        | Command::Run { .. }
        | Command::Tasks { .. } => {
            unreachable!("handled before the runtime starts")
        }
    }
}

/// `ccgate plugins new`: writes the crate and says what to do next.
fn plugins_new(
    name: &str,
    hook: crate::plugins::Hook,
    dir: Option<std::path::PathBuf>,
    sdk: Option<std::path::PathBuf>,
) -> Result<(), String> {
    use crate::plugins::scaffold::{SdkSource, write};
    let dir = dir.unwrap_or_else(|| std::path::PathBuf::from(name));
    let sdk = SdkSource::choose(sdk).map_err(|e| e.to_string())?;
    let written = write(name, hook, &dir, &sdk).map_err(|e| e.to_string())?;
    for path in written {
        println!("wrote {}", path.display());
    }
    match sdk {
        SdkSource::Path(path) => println!("SDK: {}", path.display()),
        SdkSource::Version(version) => println!("SDK: ccgate-plugin-sdk {version} from crates.io"),
    }
    println!(
        "next: cd {} && cargo test && cargo build --release --target wasm32-wasip2 (see README.md)",
        dir.display()
    );
    Ok(())
}

/// `--config` of the plugin commands.
fn plugin_config(text: Option<&str>) -> Result<Option<serde_json::Value>, String> {
    text.map(|text| serde_json::from_str(text).map_err(|e| format!("--config is not JSON: {e}"))).transpose()
}

/// `ccgate plugins call`: the report on stdout, the verdict as the exit status.
async fn plugins_call(
    file: std::path::PathBuf,
    hook: crate::plugins::Hook,
    input: &std::path::Path,
    config: Option<&str>,
) -> i32 {
    use crate::plugins::trial::{Verdict, call_file, exit_code};
    let read = if input == std::path::Path::new("-") {
        let mut text = String::new();
        std::io::Read::read_to_string(&mut std::io::stdin(), &mut text).map(|_| text)
    } else {
        std::fs::read_to_string(input)
    };
    let parsed = read
        .map_err(|e| format!("cannot read {}: {e}", input.display()))
        .and_then(|text| serde_json::from_str(&text).map_err(|e| format!("--input is not JSON: {e}")))
        .and_then(|input| Ok((input, plugin_config(config)?)));
    let (input, config) = match parsed {
        Ok(parsed) => parsed,
        Err(e) => {
            eprintln!("ccgate: {e}");
            return exit_code(Verdict::Failed);
        }
    };
    match call_file(file, hook, input, config).await {
        Ok((verdict, report)) => {
            print!("{report}");
            exit_code(verdict)
        }
        Err(e) => {
            eprintln!("ccgate: {e}");
            exit_code(Verdict::Failed)
        }
    }
}

/// `ccgate run` and `ccgate tasks`: the exit code is the task's (`run`) or the request's.
fn client_main(command: Command) -> i32 {
    use crate::client::{Client, ClientError, FAILED, UNUSABLE};
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(e) => {
            eprintln!("ccgate: cannot start the async runtime: {e}");
            return UNUSABLE;
        }
    };
    let outcome = runtime.block_on(async {
        let client = Client::from_env()?;
        match command {
            Command::Run { prompt, files, follow } => crate::client::run(&client, &prompt, &files, follow).await,
            Command::Tasks { command } => crate::client::tasks(&client, command.into()).await,
            _ => Ok(0),
        }
    });
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("ccgate: {e}");
            if matches!(e, ClientError::Usage(_)) { UNUSABLE } else { FAILED }
        }
    }
}

/// Prints the sandbox probes and the confinement the configuration gives.
fn doctor(config: &Config) -> Result<(), String> {
    let capabilities = crate::sandbox::Capabilities::probe(&config.sandbox.bwrap);
    println!("{}", capabilities.report());
    let mode = format!("{:?}", config.sandbox.mode).to_lowercase();
    match crate::sandbox::choose(&config.sandbox, &capabilities) {
        Ok(confinement) => {
            println!("\nsandbox.mode = {mode:?}: runs use {confinement:?}");
            match confinement {
                crate::sandbox::Confinement::None => println!("WARNING: runs are not sandboxed"),
                crate::sandbox::Confinement::Landlock => {
                    println!("Without namespaces this mode leaves open what bubblewrap closes:");
                    for gap in crate::sandbox::LANDLOCK_MODE_LEAVES_OPEN {
                        println!("  - {gap}");
                    }
                }
                crate::sandbox::Confinement::Bwrap => {}
            }
            Ok(())
        }
        Err(why) => Err(format!("sandbox.mode = {mode:?}: {why}")),
    }
}

/// `ccgate sandbox-exec`: runs before any runtime or thread exists.
fn sandbox_exec(args: SandboxExecArgs) -> i32 {
    use crate::sandbox::helper::{HelperPlan, Rlimits};
    let landlock = args.landlock_abi.map(|abi| crate::sandbox::landlock::Rules {
        read: args.read,
        write: args.write,
        tcp_connect: args.restrict_inet.then(Vec::new),
        abi,
    });
    let plan = HelperPlan {
        landlock,
        seccomp: args.seccomp,
        no_datagrams: args.restrict_inet,
        limits: Rlimits { cpu_seconds: args.cpu_seconds, file_bytes: args.file_bytes, open_files: args.open_files },
        model_socket: args.model_socket,
        egress: args.egress_socket.zip(std::env::var(crate::sandbox::helper::EGRESS_TOKEN_VARIABLE).ok()),
        drop_capabilities: args.drop_capabilities,
        no_unix_sockets: args.no_unix_sockets,
    };
    let (program, rest) = args.program.split_first().expect("clap requires a program");
    crate::sandbox::helper::exec(plan, program, rest)
}

async fn keys(command: KeysCommand, config: Config) -> Result<(), String> {
    // The same configuration as `serve` (CCGATE_CONFIG or ./ccgate.toml, then the
    // environment); said aloud, and no empty database made where none was meant.
    let database = crate::server::DatabaseLocation::of(&config);
    if !database.exists() {
        let hint = "set CCGATE_DATA_DIR (or CCGATE_CONFIG) as for `ccgate serve`";
        match command {
            KeysCommand::List => {
                eprintln!("ccgate: no database at {} yet, so no keys ({hint})", database.describe());
                return Ok(());
            }
            KeysCommand::Revoke { .. } => return Err(format!("no database at {} ({hint})", database.describe())),
            KeysCommand::Create { .. } => eprintln!("ccgate: creating a new database at {}", database.describe()),
        }
    }
    eprintln!("ccgate: keys of the database {}", database.describe());
    let (store, hasher) = crate::server::open(&config).await.map_err(|e| e.to_string())?;
    store.migrate().await.map_err(|e| e.to_string())?;
    let keys = KeyService::new(store, hasher, None);
    let cli_audit = |action| AuditEntry { client_addr: Some("cli".into()), ..AuditEntry::new(action, "ok") };
    match command {
        KeysCommand::Create {
            name,
            scopes,
            rate_limit,
            max_concurrent,
            max_queued,
            webhook_url,
            webhook_events,
            budget_per_day,
            budget_per_month,
            token_budget_per_day,
            token_budget_per_month,
            test,
        } => {
            let environment = if test { crate::auth::Environment::Test } else { crate::auth::Environment::Live };
            let mut spec = KeySpec::new(String::new(), environment, &config.keys);
            let allowlist = crate::webhooks::guard::Allowlist::new(&config.webhooks.allowed_hosts);
            let number = |n: Option<f64>| n.map(|n| Given::Number(Some(n)));
            let list = |items: Vec<String>| (!items.is_empty()).then_some(Given::List(Some(items)));
            // The API's rules, each error naming its flag.
            let settings = [
                ("--name", KeyField::Name, Some(Given::Text(Some(name)))),
                ("--scope", KeyField::Scopes, list(scopes)),
                ("--rate-limit", KeyField::RateLimitPerMinute, number(rate_limit.map(f64::from))),
                ("--max-concurrent", KeyField::MaxConcurrentTasks, number(max_concurrent.map(f64::from))),
                ("--max-queued", KeyField::MaxQueuedTasks, number(max_queued.map(f64::from))),
                ("--webhook-url", KeyField::WebhookUrl, webhook_url.map(|url| Given::Text(Some(url)))),
                ("--webhook-event", KeyField::WebhookEvents, list(webhook_events)),
                ("--budget-per-day", KeyField::BudgetUsdPerDay, number(budget_per_day)),
                ("--budget-per-month", KeyField::BudgetUsdPerMonth, number(budget_per_month)),
                ("--token-budget-per-day", KeyField::TokenBudgetPerDay, number(token_budget_per_day.map(|n| n as f64))),
                (
                    "--token-budget-per-month",
                    KeyField::TokenBudgetPerMonth,
                    number(token_budget_per_month.map(|n| n as f64)),
                ),
            ];
            for (flag, field, given) in settings {
                if let Some(given) = given {
                    set_key_field(&mut spec, field, given, &allowlist).map_err(|why| format!("{flag} {why}"))?;
                }
            }
            let (key, secret) = keys.issue(spec, cli_audit("key.create")).await.map_err(|e| e.to_string())?;
            let webhook_secret = key.webhook_secret.clone().unwrap_or_default();
            let shown = KeyCreated { key: KeyView::from(&key), secret, webhook_secret };
            println!("{}", serde_json::to_string_pretty(&shown).unwrap_or_default());
            eprintln!("The secret is shown only now; store it safely.");
        }
        KeysCommand::List => {
            let keys = keys.list().await.map_err(|e| e.to_string())?;
            for key in keys {
                println!("{}", serde_json::to_string(&KeyView::from(&key)).unwrap_or_default());
            }
        }
        KeysCommand::Revoke { id } => {
            if !keys.revoke(&id, cli_audit("key.revoke")).await.map_err(|e| e.to_string())? {
                return Err(format!("no active key {id}"));
            }
            println!("revoked {id} (running gateways stop accepting it within 30 s)");
        }
    }
    Ok(())
}
