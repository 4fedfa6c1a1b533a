#!/usr/bin/env bash
# Builds the WebAssembly plugins: every crate under plugins/ and tests/plugins/, for
# wasm32-wasip2, in release mode, and the JavaScript plugin plugins/js-policy with jco
# (installed by scripts/setup.sh --test-tools into .tools/jco; CCGATE_JCO names another).
#
#   scripts/build-plugins.sh   add the wasm32-wasip2 target if missing, build, list the .wasm files
#
# Honours CARGO_TARGET_DIR (absolute or relative to the repo), like setup.sh.
set -euo pipefail

TARGET=wasm32-wasip2

usage() { sed -n '2,7s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

for arg in "$@"; do
    case $arg in
        -h | --help) usage; exit 0 ;;
        *) echo "build-plugins.sh: unknown argument: $arg" >&2; usage >&2; exit 2 ;;
    esac
done

say() { printf 'build-plugins: %s\n' "$*" >&2; }
die() { printf 'build-plugins: error: %s\n' "$*" >&2; exit 1; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

# Where cargo puts the build: CARGO_TARGET_DIR when set (absolute or relative to the repo).
target_dir=${CARGO_TARGET_DIR:-target}
[[ $target_dir == /* ]] || target_dir=$ROOT/$target_dir

command -v cargo >/dev/null || die "cargo not found. Install Rust with rustup (https://rustup.rs)."
if command -v rustup >/dev/null; then
    if ! rustup target list --installed | grep -qx "$TARGET"; then
        say "adding rust target $TARGET"
        rustup target add "$TARGET"
    fi
else
    say "rustup not found; assuming the $TARGET target is installed"
fi

# The package names of the plugin crates: the first `name = "…"` of each Cargo.toml
# (the [package] section comes first).
packages=()
for manifest in plugins/*/Cargo.toml tests/plugins/*/Cargo.toml; do
    [[ -f $manifest ]] || continue
    name=$(sed -n 's/^name *= *"\([^"]*\)".*/\1/p' "$manifest" | head -n1)
    [[ -n $name ]] || die "no package name in $manifest"
    packages+=("$name")
done
((${#packages[@]} > 0)) || die "no plugin crates under plugins/ or tests/plugins/"

args=()
for package in "${packages[@]}"; do args+=(-p "$package"); done
say "cargo build --target $TARGET --release ${args[*]}"
cargo build --target "$TARGET" --release "${args[@]}"

out=$target_dir/$TARGET/release
say "plugins built in $out:"
for package in "${packages[@]}"; do
    wasm=$out/${package//-/_}.wasm
    [[ -f $wasm ]] || die "expected $wasm after building $package"
    printf '%s\n' "$wasm"
done

# The JavaScript plugin: QuickJS (jco's qjs backend) with every WASI import a trap stub,
# so the component imports only ccgate:plugin/host, like a Rust one. jco resolves the
# WIT path relative to the source's directory, hence the cd.
jco=${CCGATE_JCO:-$ROOT/.tools/jco/node_modules/.bin/jco}
js_wasm=$out/ccgate_plugin_js_policy.wasm
if [[ -x $jco ]]; then
    say "jco componentize plugins/js-policy/policy.js"
    (cd plugins/js-policy && "$jco" componentize policy.js --wit ../../wit/v0.1.2 --world-name policy-plugin \
        --backend qjs --backend-qjs-stub-wasi --backend-qjs-disable-async -o "$js_wasm" >/dev/null)
    [[ -f $js_wasm ]] || die "expected $js_wasm after jco componentize"
    printf '%s\n' "$js_wasm"
else
    say "skipping plugins/js-policy: no jco at $jco (scripts/setup.sh --test-tools installs it)"
fi
