#!/usr/bin/env bash
# Installs what ccgate needs, builds it, and starts the gateway in the foreground.
#
#   scripts/setup.sh              install what is missing, build, create the first admin key, serve
#   scripts/setup.sh --no-serve   install what is missing and build; don't serve
#   scripts/setup.sh --no-build   skip the release build of ccgate and the plugins (serving then needs an earlier build)
#   scripts/setup.sh --test-tools also install the test suite's Python tools into .tools/venv, jco (the
#                                 JavaScript plugin's build) into .tools/jco, Debian's Chromium with
#                                 playwright-core (tests/browser) for the dashboard's browser test, the
#                                 SDKs' test tools (sdks/python/requirements-dev.txt, npm ci in sdks/typescript),
#                                 and Debian's postgresql for the PostgreSQL tests
#   scripts/setup.sh --newest-cli also install the newest Claude Code on the registry into .tools/newest
#
# CCGATE_CLAUDE_VERSION installs (and serves with) another Claude Code version than the pinned one.
#
# Safe to run again: every step checks first and only does what is missing.
set -euo pipefail

# The version the suite runs; CCGATE_CLAUDE_VERSION picks another.
CLAUDE_CODE_PINNED=2.1.332
CLAUDE_CODE_VERSION=${CCGATE_CLAUDE_VERSION:-$CLAUDE_CODE_PINNED}
CLAUDE_CODE_PACKAGE=@anthropic-ai/claude-code
# Python tools the test suite runs against the API document and a live gateway, and
# moto's S3 server for the shared-storage tests.
# hypothesis is pinned too: schemathesis takes any 6.x, and a new one changes what a seed generates.
PYTHON_TEST_TOOLS=(openapi-spec-validator==0.9.0 schemathesis==4.32.5 hypothesis==6.170.17 standardwebhooks==1.1.0
    'moto[server]==5.2.5')

usage() { sed -n '2,14s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; }

serve=1
build=1
test_tools=0
newest_cli=0
for arg in "$@"; do
    case $arg in
        --newest-cli) newest_cli=1 ;;
        --no-serve) serve=0 ;;
        --no-build) build=0 ;;
        --test-tools) test_tools=1 ;;
        -h | --help) usage; exit 0 ;;
        *) echo "setup.sh: unknown argument: $arg" >&2; usage >&2; exit 2 ;;
    esac
done

say() { printf 'setup: %s\n' "$*" >&2; }
die() { printf 'setup: error: %s\n' "$*" >&2; exit 1; }

# Paths the caller gave relative to their own directory stay meaningful after the cd.
for var in CCGATE_CONFIG CCGATE_DATA_DIR; do
    if [[ -n ${!var:-} && ${!var} != /* ]]; then
        export "$var=$PWD/${!var}"
    fi
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"

TOOLS_DIR=$ROOT/.tools
CLAUDE_PKG_DIR=$TOOLS_DIR/node_modules/$CLAUDE_CODE_PACKAGE
CLAUDE_BIN_LOCAL=$CLAUDE_PKG_DIR/bin/claude.exe
# Where cargo puts the build: CARGO_TARGET_DIR when set (absolute or relative to the repo).
target_dir=${CARGO_TARGET_DIR:-target}
[[ $target_dir == /* ]] || target_dir=$ROOT/$target_dir
CCGATE_BIN=$target_dir/release/ccgate

# ---------------------------------------------------------------------------------------
# System packages (apt): bubblewrap confines every run (see `ccgate doctor`); curl is
# what the sandbox tests attack the network with, and with jq what the docs' examples
# (run by a test) use. apt-get only runs when something in the list is missing.
# ---------------------------------------------------------------------------------------
SYSTEM_PACKAGES=(bubblewrap curl jq)

install_system_packages() {
    local wanted=("$@") missing=() pkg
    for pkg in "${wanted[@]}"; do
        dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
    done
    if ((${#missing[@]} == 0)); then
        ((${#wanted[@]} == 0)) || say "system packages present: ${wanted[*]}"
        return 0
    fi
    command -v apt-get >/dev/null || die "missing system packages (${missing[*]}) and no apt-get to install them"
    local sudo=()
    if ((EUID != 0)); then
        command -v sudo >/dev/null || die "missing system packages (${missing[*]}); run as root or install sudo"
        sudo=(sudo)
    fi
    say "installing system packages: ${missing[*]}"
    "${sudo[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
}

# ---------------------------------------------------------------------------------------
# Rust toolchain
# ---------------------------------------------------------------------------------------
check_rust() {
    command -v cargo >/dev/null ||
        die "cargo not found. Install Rust with rustup (https://rustup.rs), then run this again."
    local need have
    need=$(sed -n 's/^rust-version *= *"\(.*\)"/\1/p' Cargo.toml | head -n1)
    have=$(rustc --version | awk '{print $2}')
    if [[ -n $need ]] && [[ $(printf '%s\n%s\n' "$need" "$have" | sort -V | head -n1) != "$need" ]]; then
        die "rustc $have is older than the workspace's rust-version $need (try: rustup update stable)"
    fi
    say "rust toolchain: $(cargo --version) (rustc $have, need >= ${need:-any})"
    # test.sh needs rustfmt and clippy.
    local component
    for component in fmt clippy; do
        if ! cargo "$component" --version >/dev/null 2>&1; then
            command -v rustup >/dev/null || die "cargo $component is missing and rustup is not there to add it"
            say "adding rust component ${component/fmt/rustfmt}"
            rustup component add "${component/fmt/rustfmt}"
        fi
    done
}

# ---------------------------------------------------------------------------------------
# Claude Code CLI, project-local in .tools/ (gitignored), pinned version
# ---------------------------------------------------------------------------------------
# npm-installs PACKAGE into PREFIX and checks that BIN came with it.
npm_install() {
    local prefix=$1 package=$2 bin=$3
    command -v npm >/dev/null || install_system_packages npm
    mkdir -p "$prefix"
    npm install --prefix "$prefix" --no-audit --no-fund "$package"
    [[ -x $bin ]] || die "npm finished but $bin is missing"
}

installed_claude_version() {
    [[ -f $CLAUDE_PKG_DIR/package.json ]] || return 0
    sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$CLAUDE_PKG_DIR/package.json" | head -n1
}

install_claude_code() {
    local have
    have=$(installed_claude_version)
    if [[ $have == "$CLAUDE_CODE_VERSION" && -x $CLAUDE_BIN_LOCAL ]]; then
        say "Claude Code $CLAUDE_CODE_VERSION already in .tools/"
    else
        say "installing Claude Code $CLAUDE_CODE_VERSION into .tools/ (was: ${have:-absent})"
        npm_install "$TOOLS_DIR" "$CLAUDE_CODE_PACKAGE@$CLAUDE_CODE_VERSION" "$CLAUDE_BIN_LOCAL"
    fi
    local reported
    reported=$("$CLAUDE_BIN_LOCAL" --version 2>/dev/null) || die "$CLAUDE_BIN_LOCAL --version failed"
    say "Claude Code binary: $CLAUDE_BIN_LOCAL ($reported)"
    if command -v claude >/dev/null; then
        say "note: \`claude\` on PATH ($(command -v claude)) is not used; the project-local one is"
    fi
}

# The newest Claude Code on the registry, in .tools/newest: a part of the suite runs
# against it too, so a change upstream shows as a failing test before a user meets it.
install_newest_claude_code() {
    local prefix=$TOOLS_DIR/newest latest have=
    command -v npm >/dev/null || install_system_packages npm
    latest=$(npm view "$CLAUDE_CODE_PACKAGE" version 2>/dev/null) || die "npm view $CLAUDE_CODE_PACKAGE failed"
    local package_json=$prefix/node_modules/$CLAUDE_CODE_PACKAGE/package.json
    [[ -f $package_json ]] && have=$(sed -n 's/^ *"version": *"\([^"]*\)".*/\1/p' "$package_json" | head -n1)
    if [[ $have == "$latest" ]]; then
        say "newest Claude Code $latest already in .tools/newest/"
    else
        say "installing the newest Claude Code, $latest, into .tools/newest/ (was: ${have:-absent})"
        mkdir -p "$prefix"
        npm install --prefix "$prefix" --no-audit --no-fund "$CLAUDE_CODE_PACKAGE@$latest"
    fi
    [[ -x $prefix/node_modules/$CLAUDE_CODE_PACKAGE/bin/claude.exe ]] || die "the newest Claude Code did not install"
}

# ---------------------------------------------------------------------------------------
# Test tools: a Python virtual environment in .tools/venv with pinned packages
# ---------------------------------------------------------------------------------------
# jco builds the JavaScript example plugin (plugins/js-policy) in scripts/build-plugins.sh.
JCO_PACKAGE=@bytecodealliance/jco@1.35.0

install_jco() {
    local prefix=$TOOLS_DIR/jco
    if [[ -x $prefix/node_modules/.bin/jco && -f $prefix/.installed && $(<"$prefix/.installed") == "$JCO_PACKAGE" ]]; then
        say "jco already in .tools/jco: $JCO_PACKAGE"
        return
    fi
    say "installing $JCO_PACKAGE into .tools/jco"
    rm -rf "$prefix"
    npm_install "$prefix" "$JCO_PACKAGE" "$prefix/node_modules/.bin/jco"
    printf '%s\n' "$JCO_PACKAGE" >"$prefix/.installed"
}

install_test_tools() {
    install_jco
    install_test_postgres
    local venv=$TOOLS_DIR/venv stamp
    stamp=$(printf '%s\n' "${PYTHON_TEST_TOOLS[@]}")
    if [[ -x $venv/bin/python && -f $venv/.installed && $(<"$venv/.installed") == "$stamp" ]]; then
        say "test tools already in .tools/venv: ${PYTHON_TEST_TOOLS[*]}"
        return
    fi
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        install_system_packages python3 python3-venv
    fi
    say "installing test tools into .tools/venv: ${PYTHON_TEST_TOOLS[*]}"
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "${PYTHON_TEST_TOOLS[@]}"
    printf '%s\n' "$stamp" >"$venv/.installed"
}

# The SDKs' own tests: sdks/python's pinned requirements into .tools/venv (after the
# tools above, which may have made the venv anew), and sdks/typescript's lockfile.
install_sdk_tools() {
    local venv=$TOOLS_DIR/venv requirements=$ROOT/sdks/python/requirements-dev.txt
    if cmp -s "$requirements" "$venv/.sdk-installed"; then
        say "SDK test tools already in .tools/venv"
    else
        say "installing the Python SDK's test tools into .tools/venv"
        "$venv/bin/pip" install --quiet --disable-pip-version-check -r "$requirements"
        cp "$requirements" "$venv/.sdk-installed"
    fi
    npm_ci "$ROOT/sdks/typescript" "the TypeScript SDK's dev dependencies"
}

# npm ci in DIR (what it installs: WHAT) unless its node_modules match its lockfile already.
npm_ci() {
    local dir=$1 what=$2
    command -v npm >/dev/null || install_system_packages npm
    if [[ -f $dir/node_modules/.package-lock.json ]] && cmp -s "$dir/package-lock.json" "$dir/node_modules/.stamp"; then
        say "$what already in ${dir#"$ROOT"/}/node_modules"
        return
    fi
    say "installing $what into ${dir#"$ROOT"/}/node_modules"
    (cd "$dir" && npm ci --no-audit --no-fund)
    cp "$dir/package-lock.json" "$dir/node_modules/.stamp"
}

# The PostgreSQL tests start their own throwaway server (tests/it/support/postgres.rs)
# with the binaries of Debian's postgresql package, found in /usr/lib/postgresql/*/bin
# (or initdb and pg_ctl on PATH). As root the server runs as `nobody`: initdb refuses root.
install_test_postgres() {
    if compgen -G '/usr/lib/postgresql/*/bin/initdb' >/dev/null || command -v initdb >/dev/null; then
        say "PostgreSQL for the tests present"
        return
    fi
    install_system_packages postgresql
}

# ---------------------------------------------------------------------------------------
# Browser test tools: Debian's Chromium (never a browser download) and playwright-core
# from the npm registry, pinned by tests/browser/package-lock.json
# ---------------------------------------------------------------------------------------
install_browser_tools() {
    install_system_packages chromium
    # playwright-core alone downloads no browser; the test launches /usr/bin/chromium.
    npm_ci "$ROOT/tests/browser" playwright-core
}

# ---------------------------------------------------------------------------------------
# Gateway
# ---------------------------------------------------------------------------------------
build_gateway() {
    say "cargo build --release --bin ccgate"
    cargo build --release --bin ccgate
    # The example plugins (plugins/) and the test suite's (tests/plugins/), for
    # wasm32-wasip2; the script adds the target with rustup when it is missing.
    bash scripts/build-plugins.sh
}

# The data directory `ccgate serve` will use: CCGATE_DATA_DIR, else `data_dir` from the
# config file (a plain quoted string), else ./data.
data_dir() {
    if [[ -n ${CCGATE_DATA_DIR:-} ]]; then
        printf '%s\n' "$CCGATE_DATA_DIR"
        return
    fi
    local config=${CCGATE_CONFIG:-ccgate.toml} value=
    if [[ -f $config ]]; then
        value=$(sed -n 's/^[[:space:]]*data_dir[[:space:]]*=[[:space:]]*"\([^"]*\)".*/\1/p' "$config" | head -n1)
    fi
    printf '%s\n' "${value:-data}"
}

# Creates the first admin key unless the database already has an active one.
ensure_admin_key() {
    local dir key_file
    dir=$(data_dir)
    key_file=$dir/admin-key
    if [[ -s $key_file ]]; then
        say "admin key: already stored in $key_file"
        return
    fi
    local keys
    keys=$("$CCGATE_BIN" keys list) || die "ccgate keys list failed"
    local line found=0 admin_scope='"scopes":\[[^]]*"admin"'
    while IFS= read -r line; do
        if [[ $line == *'"revoked_at":null'* && $line =~ $admin_scope ]]; then found=1; fi
    done <<<"$keys"
    if ((found)); then
        say "an active admin key exists already (not stored in $key_file); not creating another"
        say "make one with: $CCGATE_BIN keys create --name admin2 --scope admin"
        return
    fi
    say "creating the first admin key"
    local json secret
    json=$("$CCGATE_BIN" keys create --name admin --scope admin) || die "ccgate keys create failed"
    secret=$(printf '%s\n' "$json" | sed -n 's/^ *"secret": *"\([^"]*\)".*/\1/p')
    [[ -n $secret ]] || die "could not read the secret from: $json"
    mkdir -p "$dir"
    (umask 077 && printf '%s\n' "$secret" >"$key_file")
    chmod 600 "$key_file"
    say "admin key (stored in $key_file, mode 600; shown only now):"
    printf '%s\n' "$secret"
}

serve_gateway() {
    [[ -x $CCGATE_BIN ]] || die "$CCGATE_BIN is missing; run without --no-build"
    if [[ -n ${CCGATE_CLAUDE_BIN:-} ]]; then
        say "using CCGATE_CLAUDE_BIN=$CCGATE_CLAUDE_BIN"
    else
        export CCGATE_CLAUDE_BIN=$CLAUDE_BIN_LOCAL
    fi
    ensure_admin_key
    if [[ -z ${ANTHROPIC_API_KEY:-} ]]; then
        say "note: ANTHROPIC_API_KEY is not set. Tasks need it, or ANTHROPIC_BASE_URL pointing at a"
        say "      Messages-API compatible server, e.g. the offline one: $CCGATE_BIN scripted-model"
    fi
    say "starting: ccgate serve on ${CCGATE_LISTEN:-the configured address (default 127.0.0.1:8080)}; Ctrl-C stops it"
    exec "$CCGATE_BIN" serve
}

install_system_packages "${SYSTEM_PACKAGES[@]}"
check_rust
install_claude_code
if ((newest_cli)); then install_newest_claude_code; fi
if ((test_tools)); then
    install_test_tools
    install_sdk_tools
    install_browser_tools
fi
if ((build)); then build_gateway; else say "skipping the release build (--no-build)"; fi
if ((serve)); then serve_gateway; fi
say "done (not serving: --no-serve)"
