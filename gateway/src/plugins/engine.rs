//! The gateway's one wasmtime `Engine` and `Linker`: component model, epoch
//! interruption driven by one ticker thread, copy-on-write memory images, and a
//! pooling allocator sized to the calls that may run at once (on-demand
//! allocation where the address space is too small to reserve the pool).
//!
//! The linker offers WASI preview 2 without sockets or name lookup: a plugin that
//! imports them is refused when it is loaded.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use wasmtime::component::{HasSelf, Linker};
use wasmtime::{Config, Engine, InstanceAllocationStrategy, PoolingAllocationConfig};
use wasmtime_wasi::cli::{WasiCli, WasiCliView};
use wasmtime_wasi::clocks::{WasiClocks, WasiClocksView};
use wasmtime_wasi::filesystem::{WasiFilesystem, WasiFilesystemView};
use wasmtime_wasi::random::WasiRandom;
use wasmtime_wasi::{ResourceTable, WasiView};

use super::call::CallState;

/// How often the epoch advances; a call's time budget is counted in these.
pub const EPOCH_TICK: Duration = Duration::from_millis(2);

/// Instances beyond the concurrent calls: the metadata call of a load.
const LOAD_SLOTS: u32 = 2;

/// Core instances, memories and tables a Rust `wasm32-wasip2` component uses are
/// a handful; these bound one component's share of the pool. A JavaScript one
/// built with jco's QuickJS backend has three memories.
pub(super) const CORE_INSTANCES_PER_COMPONENT: u32 = 16;
pub(super) const MEMORIES_PER_COMPONENT: u32 = 4;
pub(super) const TABLES_PER_COMPONENT: u32 = 8;

/// The engine, the linker every plugin is instantiated with, and the ticker.
pub struct PluginEngine {
    pub engine: Engine,
    pub linker: Linker<CallState>,
    /// Whether instances come from the pooling allocator.
    pub pooling: bool,
    ticker: Arc<AtomicBool>,
}

impl PluginEngine {
    pub fn new(max_concurrent_calls: u32) -> wasmtime::Result<Self> {
        // Loading a plugin instantiates it once for its metadata, outside the
        // calls' semaphore; reloads are one at a time.
        let slots = max_concurrent_calls.max(1) + LOAD_SLOTS;
        let (engine, pooling) = match Engine::new(&config(Some(slots))) {
            Ok(engine) => (engine, true),
            Err(e) => {
                tracing::warn!(error = %e, "the plugin instance pool could not be reserved; allocating on demand");
                (Engine::new(&config(None))?, false)
            }
        };
        let linker = linker(&engine)?;
        let ticker = Arc::new(AtomicBool::new(true));
        let (running, weak) = (ticker.clone(), engine.weak());
        std::thread::Builder::new().name("ccgate-plugin-epoch".into()).spawn(move || {
            while running.load(Ordering::Relaxed) {
                std::thread::sleep(EPOCH_TICK);
                match weak.upgrade() {
                    Some(engine) => engine.increment_epoch(),
                    None => break,
                }
            }
        })?;
        Ok(Self { engine, linker, pooling, ticker })
    }

    /// A hash of everything that makes compiled code fit this engine, for the cache key.
    pub fn compatibility_hash(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut hasher = std::hash::DefaultHasher::new();
        self.engine.precompile_compatibility_hash().hash(&mut hasher);
        hasher.finish()
    }
}

impl Drop for PluginEngine {
    fn drop(&mut self) {
        self.ticker.store(false, Ordering::Relaxed);
    }
}

fn config(pool_for_calls: Option<u32>) -> Config {
    let mut config = Config::new();
    config.wasm_component_model(true).epoch_interruption(true).memory_init_cow(true);
    if let Some(calls) = pool_for_calls {
        let mut pool = PoolingAllocationConfig::new();
        pool.total_component_instances(calls)
            .total_core_instances(calls * CORE_INSTANCES_PER_COMPONENT)
            .max_core_instances_per_component(CORE_INSTANCES_PER_COMPONENT)
            .total_memories(calls * MEMORIES_PER_COMPONENT)
            .max_memories_per_component(MEMORIES_PER_COMPONENT)
            .total_tables(calls * TABLES_PER_COMPONENT)
            .max_tables_per_component(TABLES_PER_COMPONENT)
            .total_stacks(calls);
        config.allocation_strategy(InstanceAllocationStrategy::Pooling(pool));
    }
    config
}

/// WASI preview 2 minus `wasi:sockets`, plus `ccgate:plugin/host`.
fn linker(engine: &Engine) -> wasmtime::Result<Linker<CallState>> {
    use wasmtime_wasi::p2::bindings::{cli, clocks, filesystem, io, random};
    type T = CallState;
    let mut linker = Linker::<T>::new(engine);
    let l = &mut linker;
    io::error::add_to_linker::<T, HasTable>(l, |t| t.ctx().table)?;
    io::poll::add_to_linker::<T, HasTable>(l, |t| t.ctx().table)?;
    io::streams::add_to_linker::<T, HasTable>(l, |t| t.ctx().table)?;
    clocks::wall_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    clocks::monotonic_clock::add_to_linker::<T, WasiClocks>(l, T::clocks)?;
    filesystem::preopens::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    filesystem::types::add_to_linker::<T, WasiFilesystem>(l, T::filesystem)?;
    random::random::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    random::insecure_seed::add_to_linker::<T, WasiRandom>(l, |t| t.ctx().ctx.random())?;
    cli::exit::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::environment::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_input::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_output::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdin::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stdout::add_to_linker::<T, WasiCli>(l, T::cli)?;
    cli::terminal_stderr::add_to_linker::<T, WasiCli>(l, T::cli)?;
    super::bindings::current::plugin::Plugin::add_to_linker::<T, HasSelf<T>>(l, |state| state)?;
    Ok(linker)
}

/// `wasi:io` works on the store's resource table.
struct HasTable;

impl wasmtime::component::HasData for HasTable {
    type Data<'a> = &'a mut ResourceTable;
}
