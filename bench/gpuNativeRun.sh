#!/bin/bash
# The native GPU measurements of docs/BENCHMARKS.md, on the GPU machine (NVIDIA H200, no npm, no
# Node, no internet), from the repository root, in phases run in the order given; each command must fit
# 10 minutes, and a fresh machine needs `build` first:
#   bash bench/gpuNativeRun.sh build tests     # patched CUDA build through the Build GPU Backend builder,
#                                              # then every C++ test of the series (native/patches/manifest.json)
#   bash bench/gpuNativeRun.sh native          # scorer on/off, compaction 131k -> 13k through the binding
#   bash bench/gpuNativeRun.sh seqcompact      # llama_seq_compact vs the per-range API, in C++
#   bash bench/gpuNativeRun.sh prefill         # the engine's prefill vs stock llama-bench (builds llama-bench)
# What must be carried in .carry-gpu (bench/prepareGpuCarry.sh makes it): node.xz (a Node x64 binary,
# xz), nm.tar.xz (node_modules with node-llama-cpp 3.22.1 and its dependencies, without the git
# bundle), patched-llama.tar.xz (node-llama-cpp's llama/llama.cpp and llama/addon with the series
# applied and its markers), out.tar.xz (dist/ and the compiled TypeScript), vocab/ (the deepseek-coder
# vocabulary GGUF). The CUDA build is made by the same builder as "KV-Distill: Build GPU Backend"
# (`kv-distill build-backend`, which writes its own npm and node stand-ins). Results go to $OUT.
set -o pipefail
[ $# -gt 0 ] || { echo "usage: gpuNativeRun.sh build|tests|native|seqcompact|prefill ..."; exit 2; }
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
CPP_TESTS=$(node -p "require('./native/patches/manifest.json').patches.map((p) => p.cppTest).filter(Boolean).join(';')")

have_cuda_build() {
    [ -f "$LLAMA/localBuilds/kv-distill-build-cuda.json" ] || { log "no CUDA build here (a fresh machine): run the build phase first"; exit 3; }
}

configure_tests() { # [extra cmake options]
    cmake -S native/tests -B "$TESTS_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLAMA_CPP_DIR="$PWD/$LLAMA/llama.cpp" \
        -DLLAMA_LIB_DIR="$PWD/$CUDA_LIB_DIR" -DKV_DISTILL_TESTS="$CPP_TESTS" "$@" >/dev/null &&
        cmake --build "$TESTS_DIR" --parallel "$(nproc)" 2>&1 | tail -n 3
}

for PHASE in "$@"; do
    case $PHASE in
    build)
        log "KV-Distill: Build GPU Backend, through the command's builder: node dist/cli.js build-backend --gpu cuda"
        node dist/cli.js build-backend --gpu cuda --check 2>&1 | tee "$OUT/build-backend-check.txt"
        START=$(date +%s)
        node dist/cli.js build-backend --gpu cuda > "$OUT/build-backend.log" 2>&1
        RC=$?
        tail -n 25 "$OUT/build-backend.log"
        log "build-backend took $(( $(date +%s) - START )) s (rc $RC)"
        cat "$LLAMA/localBuilds/kv-distill-build-cuda.json"; ls -la "$CUDA_LIB_DIR"
        ;;
    tests)
        have_cuda_build
        log "C++ tests of the series against the CUDA build: $CPP_TESTS"
        configure_tests
        for test in ${CPP_TESTS//;/ }; do
            log "$test (GPU)"; "$TESTS_DIR/$test" > "$OUT/$test.txt" 2>&1; RC=$?
            grep -v "^llama_\|^load\|^print_info\|^ggml_cuda_init\|^  Device\|^\.\+$" "$OUT/$test.txt" | tail -n 40
            log "$test rc $RC"
        done
        ;;
    native)
        have_cuda_build
        log "scorer on/off (5 interleaved runs, 32k tokens) and compaction 131072 -> 13k through the binding"
        node out/bench/nativeBenchmark.js --shape qwen2.5-1.5b --gpu cuda --tokens 32768 --batch 512 --runs 5 \
            --compact-tokens 131072 --keep-every 10 --flash-attention on --json "$OUT/native.json" 2>&1 | tee "$OUT/native.md"
        ;;
    seqcompact)
        have_cuda_build
        configure_tests
        log "kv-distill-bench-seq-compact 131072 10 (Qwen2.5-1.5B's KV geometry)"
        # the per-range baseline takes about a minute at 131k: cut it off (the one-pass figures come first)
        timeout 40 stdbuf -oL "$TESTS_DIR/kv-distill-bench-seq-compact" 131072 10 2>/dev/null | tee "$OUT/bench-seq-compact.txt"
        ;;
    prefill)
        have_cuda_build
        configure_tests -DKV_DISTILL_LLAMA_BENCH=ON
        log "prefill through the engine vs stock llama-bench, 32k tokens, Qwen2.5-1.5B shape"
        node out/bench/prefillBenchmark.js --shape qwen2.5-1.5b --tokens 32768 --batch-sizes 512,2048 --gpu cuda \
            --flash-attention on --reps 2 --llama-bench "$TESTS_DIR/llama-bench" --json "$OUT/prefill.json" 2>&1 | grep -v "^\[engine\]" | tee "$OUT/prefill.md"
        ;;
    *) log "unknown phase $PHASE"; exit 2 ;;
    esac
done
log done
