//! A policy plugin that opens a TCP connection (to `127.0.0.1:80`) on `validate`, so
//! that its component imports `wasi:sockets/*` interfaces. The gateway must refuse to
//! load it; if it ever ran, it would allow when the connection failed and deny when it
//! succeeded.

use ccgate_plugin_sdk::prelude::*;

/// The plugin.
pub struct Sockets;

impl Plugin for Sockets {
    type Config = ccgate_plugin_sdk::serde::de::IgnoredAny;
    const NAME: &'static str = "sockets";
    const VERSION: &'static str = env!("CARGO_PKG_VERSION");
}

impl Policy for Sockets {
    fn validate(_config: &Self::Config, _request: TaskRequest) -> Decision {
        match std::net::TcpStream::connect("127.0.0.1:80") {
            Ok(_) => Decision::deny_one("", "connected to 127.0.0.1:80: the sandbox has network access"),
            Err(e) => {
                log::info_with("connect failed", &[("error", &e.to_string())]);
                Decision::Allow
            }
        }
    }
}

ccgate_plugin_sdk::export_policy!(Sockets);
