//! Bindings for `ccgate:plugin@0.1.2`, the current version: what the hooks call
//! with. Every world shares the `host` and `types` interfaces of the `plugin`
//! world, so the host implements `host` once and converts each record type once.
//!
//! Exports are async (a call is a future the host can drop at its deadline, even
//! while the guest waits in a host call); host functions can trap (their budget).

/// Every plugin: `meta` exported, `host` imported.
pub mod plugin {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1.2",
        world: "plugin",
        imports: { default: trappable },
        exports: { default: async },
    });
}

pub use plugin::ccgate::plugin::{host, types};

pub mod policy {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1.2",
        world: "policy-plugin",
        with: { "ccgate:plugin/host": super::host, "ccgate:plugin/types": super::types },
        exports: { default: async },
    });
}

pub mod result {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1.2",
        world: "result-plugin",
        with: { "ccgate:plugin/host": super::host, "ccgate:plugin/types": super::types },
        exports: { default: async },
    });
}

pub mod artifacts {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1.2",
        world: "artifact-plugin",
        with: { "ccgate:plugin/host": super::host, "ccgate:plugin/types": super::types },
        exports: { default: async },
    });
}

pub mod webhook {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1.2",
        world: "webhook-plugin",
        with: { "ccgate:plugin/host": super::host, "ccgate:plugin/types": super::types },
        exports: { default: async },
    });
}

pub mod tool_approval {
    wasmtime::component::bindgen!({
        path: "../wit/v0.1.2",
        world: "tool-approval-plugin",
        with: { "ccgate:plugin/host": super::host, "ccgate:plugin/types": super::types },
        exports: { default: async },
    });
}
