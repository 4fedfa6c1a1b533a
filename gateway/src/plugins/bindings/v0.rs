//! Bindings for `ccgate:plugin@0.1.x`. Every world shares the `host` and `types`
//! interfaces of the `plugin` world, so the host implements `host` once and
//! converts each record type once.

/// Every plugin: `meta` exported, `host` imported.
pub mod plugin {
    wasmtime::component::bindgen!({ path: "../wit", world: "plugin" });
}

pub use plugin::ccgate::plugin::{host, types};

pub mod policy {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "policy-plugin",
        with: { "ccgate:plugin/host": super::host, "ccgate:plugin/types": super::types },
    });
}

pub mod result {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "result-plugin",
        with: { "ccgate:plugin/host": super::host, "ccgate:plugin/types": super::types },
    });
}

pub mod artifacts {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "artifact-plugin",
        with: { "ccgate:plugin/host": super::host, "ccgate:plugin/types": super::types },
    });
}

pub mod webhook {
    wasmtime::component::bindgen!({
        path: "../wit",
        world: "webhook-plugin",
        with: { "ccgate:plugin/host": super::host, "ccgate:plugin/types": super::types },
    });
}
