#!/usr/bin/env bash
# The whole test suite: installs what is missing (scripts/setup.sh --no-serve --no-build
# --test-tools --newest-cli), builds the WebAssembly plugins (scripts/build-plugins.sh),
# then rustfmt check, clippy with warnings as errors, `cargo test --workspace` with the
# pinned Claude Code, the end-to-end tests of runs, prompts and the sandbox again
# with the newest Claude Code on the registry, the store's tests and the end-to-end
# tests of the task lifecycle on PostgreSQL, the runs again with the warm pool on, then the heavy and the most timing-sensitive
# tests one at a time (marked #[ignore] so that they never run beside the others), the
# SDKs' tests (scripts/test-sdks.sh), then, alone, the schemathesis run and a short run
# of the gateway benchmark that fails when a figure is far past its goal.
# (The dashboard's browser test, a gateway with the scripted model driven in Debian's
# Chromium, is one of the heavy tests.)
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

step "scripts/setup.sh --no-serve --no-build --test-tools --newest-cli"
bash scripts/setup.sh --no-serve --no-build --test-tools --newest-cli

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

# The runs, permission prompts and the sandbox again, with the newest Claude Code on the
# registry: what changed upstream fails here first. (The filters name test modules.)
newest=$ROOT/.tools/newest/node_modules/@anthropic-ai/claude-code/bin/claude.exe
step "cargo test --test it with the newest Claude Code ($("$newest" --version 2>/dev/null || echo '?'))"
set +e
CCGATE_TEST_CLAUDE_BIN=$newest cargo test -p ccgate --test it -- \
    approvals:: steering:: tool_approval:: tasks:: follow_up:: cancel_and_timeout:: structured:: sandbox:: \
    attacks::run_ pool:: 2>&1 | tee -a "$log"
newest_status=${PIPESTATUS[0]}
set -e
((status == 0)) && status=$newest_status

# The store, and the task lifecycle end to end (runs, follow-ups, cancel, recovery,
# webhooks, permission prompts, nodes and drains), on PostgreSQL: a throwaway server per test process
# (tests/it/support/postgres.rs), a database per test. (Timeouts are the runner's
# alone: they run on SQLite only.)
step "cargo test on PostgreSQL (CCGATE_TEST_BACKEND=postgres)"
set +e
(
    export CCGATE_TEST_BACKEND=postgres
    cargo test -p ccgate --lib store:: &&
        cargo test -p ccgate --test it -- \
            tasks:: follow_up:: cancel_and_timeout::cancel_ recovery:: webhooks:: approvals:: nodes::
) 2>&1 | tee -a "$log"
postgres_status=${PIPESTATUS[0]}
set -e
((status == 0)) && status=$postgres_status

# The runs end to end again with the warm pool on (off in the other steps: it costs a
# CLI start-up per gateway and per task): first turns take processes started before
# them.
step "cargo test --test it with the warm pool on (CCGATE_TEST_POOL=1)"
set +e
CCGATE_TEST_POOL=1 cargo test -p ccgate --test it -- \
    tasks:: follow_up:: cancel_and_timeout::cancel_ approvals:: steering:: structured:: attacks::run_ recovery:: \
    test_keys:: token_allowance:: 2>&1 | tee -a "$log"
pool_status=${PIPESTATUS[0]}
set -e
((status == 0)) && status=$pool_status

# Alone and one at a time: the tests that load the machine (a fork bomb, a CPU burner,
# a 24-way upload flood, a schema checker run to its budget, Chromium), where they
# cannot slow the timing-sensitive tests of the main run, and the stall test, whose
# CLI must start within its stall time.
step "cargo test --test it -- --ignored --test-threads=1 (heavy and timing-sensitive tests, one at a time)"
set +e
cargo test -p ccgate --test it -- --ignored --test-threads=1 --skip openapi::schemathesis 2>&1 | tee -a "$log"
heavy_status=${PIPESTATUS[0]}
set -e
((status == 0)) && status=$heavy_status

# The SDKs (sdks/python, sdks/typescript) against a live gateway with a test key.
step "scripts/test-sdks.sh (the SDKs against a live gateway)"
set +e
bash scripts/test-sdks.sh 2>&1 | tee -a "$log"
sdk_status=${PIPESTATUS[0]}
set -e
((status == 0)) && status=$sdk_status

# Alone, last: schemathesis with every check against a live gateway (a tasks key and an
# admin key; a few minutes of busy runs), where it cannot slow timing-sensitive tests.
step "cargo test --test it openapi::schemathesis -- --ignored (every schemathesis check)"
set +e
cargo test -p ccgate --test it openapi::schemathesis -- --ignored 2>&1 | tee -a "$log"
fuzz_status=${PIPESTATUS[0]}
set -e
((status == 0)) && status=$fuzz_status

# Alone, after the tests: a short run of the gateway benchmark (about 20 s once built: 3
# end-to-end runs of each kind, 3 s of submits at 200/s), which exits non-zero when a
# figure is past 3 times its goal: a regression that large is not noise.
step "cargo bench --bench gateway, short (fails past 3x a goal)"
set +e
BENCH_ONLY=e2e,submit BENCH_RUNS=3 BENCH_SUBMIT_RATE=200 BENCH_SUBMIT_SECONDS=3 BENCH_FAIL_FACTOR=3 \
    cargo bench -p ccgate --bench gateway 2>&1 | tee -a "$log"
bench_status=${PIPESTATUS[0]}
set -e
((status == 0)) && status=$bench_status
passed=$(grep -oE 'test result: [A-Za-z]+\. [0-9]+ passed' "$log" | awk '{sum += $4} END {print sum + 0}')
failed=$(grep -oE 'test result: [A-Za-z]+\. [0-9]+ passed; [0-9]+ failed' "$log" | awk '{sum += $6} END {print sum + 0}')
echo "summary: $passed passed, $failed failed"
exit "$status"
