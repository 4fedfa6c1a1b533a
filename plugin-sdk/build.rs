//! Finds the WIT package and bakes its absolute path into a macro, so that the export
//! macros, which run `wit_bindgen::generate!` in the plugin's crate, can find it.

use std::env;
use std::fs;
use std::path::PathBuf;

fn main() {
    let manifest_dir = PathBuf::from(env::var_os("CARGO_MANIFEST_DIR").expect("CARGO_MANIFEST_DIR is set"));
    // A copy inside the crate (a packaged SDK, or the link to the repository's
    // current version) wins over the repository's current version.
    let wit = [manifest_dir.join("wit"), manifest_dir.join("../wit/v0.1.2")]
        .into_iter()
        .find(|dir| dir.join("worlds.wit").is_file())
        .expect("the ccgate WIT package (wit/worlds.wit) is next to or inside plugin-sdk/");
    let wit = wit.canonicalize().expect("the WIT directory can be resolved");
    println!("cargo::rerun-if-changed={}", wit.display());
    let wit = wit.to_str().expect("the WIT directory's path is UTF-8");

    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR is set"));
    let code = format!(
        "/// Calls `$crate::$callback!(\"<wit dir>\", args…)`.\n\
         #[doc(hidden)]\n\
         #[macro_export]\n\
         macro_rules! __ccgate_with_wit_path {{\n    \
             ($callback:ident, $($args:tt)*) => {{ $crate::$callback!({wit:?}, $($args)*); }};\n\
         }}\n\
         /// The WIT directory the SDK was built with.\n\
         pub const WIT_DIR: &str = {wit:?};\n"
    );
    fs::write(out.join("wit_path.rs"), code).expect("OUT_DIR is writable");
}
