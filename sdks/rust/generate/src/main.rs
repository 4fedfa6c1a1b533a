//! Writes `sdks/rust/src/types.rs`: the Rust types of `openapi.json`'s
//! `components.schemas`, made by typify. `ccgate-client-generate [OPENAPI [OUT]]`; by
//! default the repository's openapi.json and the SDK's src/types.rs. scripts/test-sdks.sh
//! generates into a temporary file and compares it with the committed one.

use std::path::PathBuf;
use std::process::ExitCode;

use schemars::schema::RootSchema;
use serde_json::{Value, json};
use typify::{TypeSpace, TypeSpaceSettings};

const HEADER: &str = "\
// Generated from openapi.json by sdks/rust/generate (typify): do not edit.
// Regenerate with `cargo run --manifest-path sdks/rust/generate/Cargo.toml`.
// `unused_comparisons`: typify checks a `minLength` of 0 (metadata values) as `< 0`.
#![allow(clippy::all, clippy::pedantic, missing_docs, rustdoc::all, unused_comparisons)]

";

fn main() -> ExitCode {
    let sdk = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("..");
    let mut args = std::env::args_os().skip(1).map(PathBuf::from);
    let spec = args.next().unwrap_or_else(|| sdk.join("../../openapi.json"));
    let out = args.next().unwrap_or_else(|| sdk.join("src/types.rs"));
    match generate(&spec).and_then(|code| std::fs::write(&out, code).map_err(|e| format!("{}: {e}", out.display()))) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ccgate-client-generate: {error}");
            ExitCode::FAILURE
        }
    }
}

fn generate(spec: &std::path::Path) -> Result<String, String> {
    let text = std::fs::read_to_string(spec).map_err(|e| format!("{}: {e}", spec.display()))?;
    let openapi: Value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", spec.display()))?;
    let schemas = openapi.pointer("/components/schemas").ok_or("openapi.json has no components.schemas")?;
    let root = root_schema(schemas)?;
    let mut settings = TypeSpaceSettings::default();
    settings.with_struct_builder(false).with_derive("PartialEq".to_string());
    let mut space = TypeSpace::new(&settings);
    space.add_root_schema(root).map_err(|e| format!("typify: {e}"))?;
    let file = syn::parse2::<syn::File>(space.to_stream()).map_err(|e| format!("typify's output: {e}"))?;
    Ok(format!("{HEADER}{}", prettyplease::unparse(&file)))
}

/// The schemas as one JSON Schema document with `definitions`, where typify looks for
/// what a `$ref` names.
fn root_schema(schemas: &Value) -> Result<RootSchema, String> {
    let text = serde_json::to_string(schemas).map_err(|e| e.to_string())?;
    let definitions: Value = serde_json::from_str(&text.replace("\"#/components/schemas/", "\"#/definitions/"))
        .map_err(|e| e.to_string())?;
    serde_json::from_value(json!({ "definitions": definitions })).map_err(|e| format!("not a JSON Schema: {e}"))
}
