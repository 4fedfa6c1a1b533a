#!/usr/bin/env bash
# The SDKs' tests against a live gateway: each starts the debug build of `ccgate serve`
# (built here if missing) with the pinned Claude Code and a test key. Needs
# `scripts/setup.sh --test-tools` first (the Rust SDK needs only cargo). Prints one
# `test result:` line per SDK, in
# cargo's words, so scripts/test.sh adds them to its summary; exits non-zero on a failure.
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

cargo build -q -p ccgate --bin ccgate
target_dir=${CARGO_TARGET_DIR:-target}
[[ $target_dir == /* ]] || target_dir=$ROOT/$target_dir
export CCGATE_BIN=$target_dir/debug/ccgate

status=0
# result NAME STATUS PASSED FAILED: the line test.sh counts.
result() {
    local verdict=ok
    (($2 == 0)) || { verdict=FAILED; status=1; }
    echo "$1 test result: $verdict. $3 passed; $4 failed"
}

# count WORD LINE: the number before WORD in LINE (0 when absent).
count() { grep -oE "[0-9]+ $1" <<<"$2" | awk '{ sum += $1 } END { print sum + 0 }'; }

log=$(mktemp)
trap 'rm -f "$log"' EXIT

set +e
"$ROOT/.tools/venv/bin/python" -m pytest -p no:cacheprovider sdks/python 2>&1 | tee "$log"
code=${PIPESTATUS[0]}
set -e
# pytest closes with "== 3 failed, 14 passed, 1 error in 40.2s ==".
last=$(grep -E '^=+ .* in [0-9.]+s' "$log" | tail -n1 || true)
result "sdks/python" "$code" "$(count passed "$last")" "$(($(count failed "$last") + $(count error "$last")))"

set +e
(cd sdks/typescript && npm test) 2>&1 | tee "$log"
code=${PIPESTATUS[0]}
set -e
# node --test closes with "# pass 16" and "# fail 0".
tap() { grep -E "^# $1 [0-9]+" "$log" | awk '{ sum += $3 } END { print sum + 0 }'; }
result "sdks/typescript" "$code" "$(tap pass)" "$(tap fail)"

# The Rust SDK: its types are what the pinned typify (sdks/rust/generate/Cargo.lock)
# makes of openapi.json, then its live tests, which start their gateway from CCGATE_BIN
# (ignored by a plain `cargo test`, run here).
fresh=$(mktemp)
trap 'rm -f "$log" "$fresh"' EXIT
set +e
cargo run -q --manifest-path sdks/rust/generate/Cargo.toml --target-dir "$target_dir" -- openapi.json "$fresh" &&
    diff -u sdks/rust/src/types.rs "$fresh"
generated=$?
((generated == 0)) || echo "sdks/rust/src/types.rs is stale: run cargo run --manifest-path sdks/rust/generate/Cargo.toml" >&2
# cargo's own summary is renamed, so that scripts/test.sh counts the line below once.
cargo test -p ccgate-client --test live -- --ignored 2>&1 | sed 's/test result:/live tests:/' | tee "$log"
code=${PIPESTATUS[0]}
set -e
last=$(grep -E '^live tests: ' "$log" | tail -n1 || true)
((generated == 0)) || code=1
result "sdks/rust" "$code" "$(($(count passed "$last") + (generated == 0)))" "$(($(count failed "$last") + (generated != 0)))"

exit "$status"
