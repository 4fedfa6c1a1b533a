#!/usr/bin/env bash
# Installs a built ccgate for production: the binary, the pinned Claude Code, a
# configuration, and (on a host) the systemd unit and the `ccgate` user. The
# container recipe (scripts/deploy/Containerfile) runs it too.
#
#   scripts/deploy/install.sh [--prefix DIR] [--binary PATH] [--container] [--no-packages]
#
#   --prefix DIR     install under DIR instead of / (tests do; no user is created then)
#   --binary PATH    the ccgate binary to install (default: target/release/ccgate)
#   --container      no systemd unit and no user: the image's recipe handles both
#   --no-packages    do not apt-get what is missing (bubblewrap, ca-certificates, npm)
#
# CCGATE_CLAUDE_VERSION installs another Claude Code than the version the suite pins.
# Safe to run again: what is in place already is kept (configuration included).
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
prefix=/
binary=$ROOT/target/release/ccgate
container=0
packages=1
while (($#)); do
    case $1 in
        --prefix) prefix=${2:?--prefix needs a directory}; shift ;;
        --binary) binary=${2:?--binary needs a path}; shift ;;
        --container) container=1 ;;
        --no-packages) packages=0 ;;
        -h | --help) sed -n '2,14s/^# \{0,1\}//p' "${BASH_SOURCE[0]}"; exit 0 ;;
        *) echo "install.sh: unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

say() { printf 'install: %s\n' "$*" >&2; }
die() { printf 'install: error: %s\n' "$*" >&2; exit 1; }

[[ -x $binary ]] || die "no ccgate binary at $binary (cargo build --release first, or pass --binary)"
prefix=${prefix%/}
# The one pinned version, kept in setup.sh.
pinned=$(sed -n 's/^CLAUDE_CODE_PINNED=//p' "$ROOT/scripts/setup.sh")
version=${CCGATE_CLAUDE_VERSION:-$pinned}
[[ -n $version ]] || die "cannot read the pinned Claude Code version from scripts/setup.sh"

if ((packages)); then
    missing=()
    for package in bubblewrap ca-certificates npm; do
        dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
    done
    if ((${#missing[@]})); then
        say "installing ${missing[*]}"
        apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    fi
fi

# A system user that owns the data directory, on a real host only.
user_exists=0
if [[ -z $prefix && $container == 0 ]]; then
    if ! id ccgate >/dev/null 2>&1; then
        say "creating the system user ccgate"
        useradd --system --home-dir /var/lib/ccgate --shell /usr/sbin/nologin ccgate
    fi
    user_exists=1
fi

install -d "$prefix/usr/local/bin" "$prefix/etc/ccgate" "$prefix/opt/claude-code"
install -m 0755 "$binary" "$prefix/usr/local/bin/ccgate"
say "ccgate $("$prefix/usr/local/bin/ccgate" --version 2>/dev/null || echo '?') in $prefix/usr/local/bin"

cli=$prefix/opt/claude-code/node_modules/@anthropic-ai/claude-code/bin/claude.exe
have=$("$cli" --version 2>/dev/null | awk '{print $1}' || true)
if [[ $have != "$version" ]]; then
    say "installing Claude Code $version into $prefix/opt/claude-code"
    npm install --silent --no-audit --no-fund --prefer-offline --prefix "$prefix/opt/claude-code" \
        "@anthropic-ai/claude-code@$version" >&2
fi
[[ -x $cli ]] || die "Claude Code did not install at $cli"

if [[ ! -e $prefix/etc/ccgate/ccgate.toml ]]; then
    install -m 0640 "$ROOT/ccgate.example.toml" "$prefix/etc/ccgate/ccgate.toml"
    say "wrote $prefix/etc/ccgate/ccgate.toml (the example configuration: review it)"
fi
if [[ ! -e $prefix/etc/ccgate/env ]]; then
    install -m 0600 /dev/null "$prefix/etc/ccgate/env"
    printf '%s\n' '# The model credential and upstream, read by the service (mode 0600).' \
        '# ANTHROPIC_API_KEY=sk-ant-...' '# ANTHROPIC_BASE_URL=https://api.anthropic.com' >"$prefix/etc/ccgate/env"
    say "wrote $prefix/etc/ccgate/env: put the model credential there"
fi
install -d -m 0700 "$prefix/var/lib/ccgate"
if ((user_exists)); then
    chown ccgate:ccgate /var/lib/ccgate
    chgrp ccgate /etc/ccgate/ccgate.toml /etc/ccgate/env
fi

if ((container == 0)); then
    install -d "$prefix/etc/systemd/system"
    install -m 0644 "$ROOT/scripts/deploy/ccgate.service" "$prefix/etc/systemd/system/ccgate.service"
    say "installed $prefix/etc/systemd/system/ccgate.service"
    [[ -z $prefix ]] && say "next: edit /etc/ccgate/env, then: systemctl daemon-reload && systemctl enable --now ccgate"
fi
say "done"
