#!/usr/bin/env bash
# The whole test suite: installs what is missing (scripts/setup.sh --no-serve --no-build),
# then rustfmt check, clippy with warnings as errors, and `cargo test --workspace`.
# Stops at the first failing step and exits non-zero.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

fmt_args=(--check)
if [[ -n ${CI:-} ]]; then
    export CARGO_TERM_COLOR=never
    fmt_args+=(--color=never) # rustfmt colours its diff on its own
fi

step() { printf '\n==> %s\n' "$*" >&2; }

step "scripts/setup.sh --no-serve --no-build"
bash scripts/setup.sh --no-serve --no-build

step "cargo fmt --all -- --check"
cargo fmt --all -- "${fmt_args[@]}" || { echo "test.sh: formatting differs; run \`cargo fmt --all\`" >&2; exit 1; }

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test --workspace"
# Last, and exec'd: the output ends with cargo's own "test result:" lines and its exit code.
exec cargo test --workspace
