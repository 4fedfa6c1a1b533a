//! Bindings of the imported `host` interface and the shared `types` interface.
//!
//! Generated from a small world that imports only these two; each plugin's export
//! macro generates its own world's bindings in the plugin's crate and points them
//! at these modules (`with`), so every plugin sees the same `TaskRequest`,
//! `Violation`, … types.

wit_bindgen::generate!({
    path: "wit",
    inline: "
        package ccgate:sdk;

        world common {
            import ccgate:plugin/types@0.1.2;
            import ccgate:plugin/host@0.1.2;
        }
    ",
    world: "common",
    generate_all,
    generate_unused_types: true,
    additional_derives: [PartialEq],
});
