//! Host bindings of the plugin contract, one module per WIT major version (as
//! Zed's extension host keeps them): a breaking change to `wit/` becomes a new
//! module beside the old one, so plugins built for either keep loading.

pub mod v0;

/// The WIT package name and the version the current bindings were generated from.
pub const PACKAGE: &str = "ccgate:plugin";
pub const VERSION: &str = "0.1.1";

/// The major part of a WIT package version for compatibility: `0.1` for `0.1.x`
/// (semver: below 1.0 the minor version is the breaking one), `1` for `1.x`.
pub fn compatibility(version: &str) -> String {
    let mut parts = version.split('.');
    match (parts.next(), parts.next()) {
        (Some("0"), Some(minor)) => format!("0.{minor}"),
        (Some(major), _) => major.to_string(),
        _ => version.to_string(),
    }
}
