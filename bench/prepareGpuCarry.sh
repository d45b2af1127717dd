#!/bin/bash
# Fills .carry-gpu (ignored by git: list it in .git/info/exclude) with what bench/gpuNativeRun.sh needs
# on the GPU machine, from this checkout after `npm run build:native` and `npm run compile-tests`:
#   bash bench/prepareGpuCarry.sh
# About 38 MB: the Node binary (xz), node-llama-cpp 3.22.1 with its dependencies (no git bundle, no
# prebuilt binaries), node-llama-cpp's llama.cpp and addon sources with the patch series applied, the
# compiled TypeScript, the vocabulary GGUF of the fixture models, and the npm stand-in.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
CARRY=$ROOT/.carry-gpu
LLAMA=$ROOT/node_modules/node-llama-cpp/llama
mkdir -p "$CARRY/bin" "$CARRY/vocab"
[ -f "$CARRY/node.xz" ] || xz -T2 -6 -c "$(command -v node)" > "$CARRY/node.xz"
if [ ! -f "$CARRY/nm.tar.xz" ]; then
    SCRATCH=$(mktemp -d)
    VERSION=$(node -p "require('$ROOT/node_modules/node-llama-cpp/package.json').version")
    echo "{\"name\":\"carry\",\"version\":\"1.0.0\",\"private\":true,\"dependencies\":{\"node-llama-cpp\":\"$VERSION\"}}" > "$SCRATCH/package.json"
    (cd "$SCRATCH" && npm install --omit=optional --ignore-scripts --no-audit --no-fund >/dev/null &&
        rm -f node_modules/node-llama-cpp/llama/gitRelease.bundle && tar cJf "$CARRY/nm.tar.xz" node_modules)
    rm -rf "$SCRATCH"
fi
node "$ROOT/scripts/buildNative.mjs" --check >/dev/null || { echo "run npm run build:native first (the sources must hold the series)"; exit 1; }
tar cJf "$CARRY/patched-llama.tar.xz" -C "$LLAMA" --exclude=.git --exclude=docs --exclude=media --exclude=benches \
    --exclude='*.gguf' --exclude=build --exclude='.kv-distill-*' llama.cpp addon
tar cJf "$CARRY/out.tar.xz" -C "$ROOT" out/src out/bench out/test/fixtures
cp "$ROOT"/.cache/vocab/ggml-vocab-deepseek-coder.gguf "$CARRY/vocab/"
cp "$ROOT/scripts/npm-run-stand-in.sh" "$CARRY/bin/npm" && chmod +x "$CARRY/bin/npm"
du -sh "$CARRY"/*
