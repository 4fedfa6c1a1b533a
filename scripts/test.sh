#!/usr/bin/env bash
# The whole test suite: installs what is missing (scripts/setup.sh --no-serve --no-build
# --test-tools), builds the WebAssembly plugins (scripts/build-plugins.sh),
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

step "scripts/setup.sh --no-serve --no-build --test-tools"
bash scripts/setup.sh --no-serve --no-build --test-tools

step "scripts/build-plugins.sh (the WebAssembly plugins the tests load)"
bash scripts/build-plugins.sh

step "cargo fmt --all -- --check"
cargo fmt --all -- "${fmt_args[@]}" || { echo "test.sh: formatting differs; run \`cargo fmt --all\`" >&2; exit 1; }

step "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo test --workspace"
# Last. cargo's final "test result:" lines are the doc-test runs (0 tests), so the
# suite closes with one line that adds up every runner's counts.
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
cargo test --workspace 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
passed=$(grep -oE 'test result: [A-Za-z]+\. [0-9]+ passed' "$log" | awk '{sum += $4} END {print sum + 0}')
failed=$(grep -oE 'test result: [A-Za-z]+\. [0-9]+ passed; [0-9]+ failed' "$log" | awk '{sum += $6} END {print sum + 0}')
echo "summary: $passed passed, $failed failed"
exit "$status"
