#!/bin/bash
# The native GPU measurements of docs/BENCHMARKS.md, on the GPU machine (NVIDIA H200, no npm, no
# Node, no internet), from the repository root, in two phases that each fit one 10-minute command:
#   bash bench/gpuNativeRun.sh build   # patched CUDA build through `npm run build:native`'s script,
#                                      # C++ tests on the GPU, compaction benchmark, stock llama-bench
#   bash bench/gpuNativeRun.sh bench   # prefill vs llama-bench, scorer on/off, compaction (TypeScript)
# What must be carried in .carry-gpu (bench/prepareGpuCarry.sh makes it): node.xz (a Node x64 binary,
# xz), nm.tar.xz (node_modules with node-llama-cpp 3.22.1 and its dependencies, without the git
# bundle), patched-llama.tar.xz (node-llama-cpp's llama/llama.cpp and llama/addon with the series
# applied and its markers), out.tar.xz (dist/ and the compiled TypeScript), vocab/ (the deepseek-coder
# vocabulary GGUF). The CUDA build is made by the same builder as "KV-Distill: Build GPU Backend"
# (`kv-distill build-backend`, which writes its own npm and node stand-ins). Results go to $OUT.
set -o pipefail
PHASE=${1:?build or bench}
OUT=${OUT:-/tmp/kvd-gpu-out}; mkdir -p "$OUT"
CARRY=$PWD/.carry-gpu
LLAMA=node_modules/node-llama-cpp/llama
log() { echo "[gpu $(date +%T)] $*"; }

if [ ! -x /tmp/node/bin/node ]; then
    mkdir -p /tmp/node/bin && xz -dc "$CARRY/node.xz" > /tmp/node/bin/node && chmod +x /tmp/node/bin/node
fi
export PATH=/tmp/node/bin:$PATH
if [ ! -d node_modules/node-llama-cpp ]; then tar xJf "$CARRY/nm.tar.xz"; fi
if [ ! -f "$LLAMA/llama.cpp/.kv-distill-patches.json" ]; then
    rm -rf "$LLAMA/llama.cpp" "$LLAMA/addon"
    tar xJf "$CARRY/patched-llama.tar.xz" -C "$LLAMA"
fi
if [ ! -d out ] || [ ! -d dist ]; then tar xJf "$CARRY/out.tar.xz"; fi
mkdir -p .cache/vocab && cp -n "$CARRY"/vocab/*.gguf .cache/vocab/ 2>/dev/null
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
log "node $(node --version), $(nproc) cores"

CUDA_LIB_DIR=$LLAMA/localBuilds/linux-x64-cuda/Release
TESTS_DIR=native/build/tests-cuda

if [ "$PHASE" = build ]; then
    log "KV-Distill: Build GPU Backend, through the command's builder: node dist/cli.js build-backend --gpu cuda"
    node dist/cli.js build-backend --gpu cuda --check 2>&1 | tee "$OUT/build-backend-check.txt"
    START=$(date +%s)
    node dist/cli.js build-backend --gpu cuda > "$OUT/build-backend.log" 2>&1
    RC=$?
    tail -n 25 "$OUT/build-backend.log"
    log "build-backend took $(( $(date +%s) - START )) s (rc $RC)"
    cat "$LLAMA/localBuilds/kv-distill-build-cuda.json"; ls -la "$CUDA_LIB_DIR"
    log "C++ tests, the compaction benchmark and stock llama-bench against the CUDA build"
    cmake -S native/tests -B "$TESTS_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLAMA_CPP_DIR="$PWD/$LLAMA/llama.cpp" \
        -DLLAMA_LIB_DIR="$PWD/$CUDA_LIB_DIR" -DKV_DISTILL_TESTS="test-seq-compact;test-adapter-scorer" -DKV_DISTILL_LLAMA_BENCH=ON >/dev/null &&
        cmake --build "$TESTS_DIR" --parallel 16 2>&1 | tail -n 3
    for test in test-seq-compact test-adapter-scorer; do
        log "$test (GPU)"; "$TESTS_DIR/$test" > "$OUT/$test.txt" 2>&1; RC=$?
        grep -v "^llama_\|^load\|^print_info\|^ggml_cuda_init\|^  Device\|^\.\+$" "$OUT/$test.txt" | tail -n 25
        log "$test rc $RC"
    done
    log "kv-distill-bench-seq-compact 131072 10 (Qwen2.5-1.5B's KV geometry)"
    # the per-range baseline takes about a minute at 131k: cut it off (the one-pass figures come first)
    timeout 40 stdbuf -oL "$TESTS_DIR/kv-distill-bench-seq-compact" 131072 10 2>/dev/null | tee "$OUT/bench-seq-compact.txt"
    log "scorer on/off (5 interleaved runs, 32k tokens) and compaction 131072 -> 13k through the binding"
    node out/bench/nativeBenchmark.js --shape qwen2.5-1.5b --gpu cuda --tokens 32768 --batch 512 --runs 5 \
        --compact-tokens 131072 --keep-every 10 --flash-attention on --json "$OUT/native.json" 2>&1 | tee "$OUT/native.md"
fi

if [ "$PHASE" = bench ]; then
    if [ ! -f "$LLAMA/localBuilds/kv-distill-build-cuda.json" ]; then log "no CUDA build here (a fresh machine): run the build phase first"; exit 3; fi
    log "prefill through the engine vs stock llama-bench, 32k tokens, Qwen2.5-1.5B shape"
    node out/bench/prefillBenchmark.js --shape qwen2.5-1.5b --tokens 32768 --batch-sizes 512,2048 --gpu cuda \
        --flash-attention on --reps 2 --llama-bench "$TESTS_DIR/llama-bench" --json "$OUT/prefill.json" 2>&1 | grep -v "^\[engine\]" | tee "$OUT/prefill.md"
fi
log done
