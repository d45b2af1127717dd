#!/usr/bin/env bash
# Builds stock llama-bench from the llama.cpp source that node-llama-cpp bundles (the same release,
# offline), target llama-bench only, into .cache/llama-bench/. Prints the binary's path.
#   bench/buildLlamaBench.sh                      CPU (-DGGML_NATIVE=ON), 2 jobs
#   JOBS=16 bench/buildLlamaBench.sh -DGGML_CUDA=ON -DCMAKE_CUDA_ARCHITECTURES=90    the GPU machine
# Extra arguments go to cmake. A different set of arguments uses another build folder.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cache="$root/.cache/llama-bench"
bundle="$root/node_modules/node-llama-cpp/llama/gitRelease.bundle"
jobs="${JOBS:-2}"
variant="$(printf '%s ' "$@" | sha256sum | cut -c1-8)"
source_dir="$cache/src"
build_dir="$cache/build-$variant"
mkdir -p "$cache"
if [ ! -f "$source_dir/CMakeLists.txt" ]; then
    rm -rf "$source_dir"
    git clone --quiet "$bundle" "$source_dir" >&2
fi
generator=()
if command -v ninja >/dev/null; then generator=(-G Ninja); fi
cmake -S "$source_dir" -B "$build_dir" "${generator[@]}" -DCMAKE_BUILD_TYPE=Release \
    -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DGGML_NATIVE=ON -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF \
    -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_COMMON=ON "$@" >&2
cmake --build "$build_dir" --target llama-bench -j "$jobs" >&2
echo "$build_dir/bin/llama-bench"
