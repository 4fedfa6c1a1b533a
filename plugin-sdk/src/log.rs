//! Structured logging through the host (`host.log`): each line is tagged by the
//! gateway with the plugin's name and the task. Lines past the plugin's per-call cap
//! are dropped (and counted) by the host.
//!
//! ```
//! use ccgate_plugin_sdk::log;
//! log::info("redacted secrets");
//! log::info_with("redacted secrets", &[("aws_access_key", "2"), ("jwt", "1")]);
//! ```
//!
//! On a native build (unit tests) there is no host: lines go to stderr.

pub use crate::bindings::ccgate::plugin::host::Level;

/// Logs `message` with `fields` at `level`.
pub fn log(level: Level, message: &str, fields: &[(&str, &str)]) {
    #[cfg(target_arch = "wasm32")]
    {
        let fields: Vec<(String, String)> = fields.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        crate::bindings::ccgate::plugin::host::log(level, message, &fields);
    }
    #[cfg(not(target_arch = "wasm32"))]
    {
        use std::io::Write;
        let mut line = format!("[{level:?}] {message}");
        for (k, v) in fields {
            line.push_str(&format!(" {k}={v:?}"));
        }
        let _ = writeln!(std::io::stderr(), "{line}");
    }
}

macro_rules! levels {
    ($($name:ident, $with:ident, $level:ident;)*) => {$(
        #[doc = concat!("Logs `message` at ", stringify!($name), " level.")]
        pub fn $name(message: &str) {
            log(Level::$level, message, &[]);
        }

        #[doc = concat!("Logs `message` with `fields` (key, value) at ", stringify!($name), " level.")]
        pub fn $with(message: &str, fields: &[(&str, &str)]) {
            log(Level::$level, message, fields);
        }
    )*};
}

levels! {
    trace, trace_with, Trace;
    debug, debug_with, Debug;
    info, info_with, Info;
    warn, warn_with, Warn;
    error, error_with, Error;
}
