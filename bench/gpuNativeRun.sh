#!/bin/bash
# The native GPU measurements of docs/BENCHMARKS.md, on the GPU machine (NVIDIA H200, no npm, no
# Node, no internet), from the repository root, in two phases that each fit one 10-minute command:
#   bash bench/gpuNativeRun.sh build   # patched CUDA build through `npm run build:native`'s script,
#                                      # C++ tests on the GPU, compaction benchmark, stock llama-bench
#   bash bench/gpuNativeRun.sh bench   # prefill vs llama-bench, scorer on/off, compaction (TypeScript)
# What must be carried in .carry-gpu (bench/prepareGpuCarry.sh makes it): node.xz (a Node x64 binary,
# xz), nm.tar.xz (node_modules with node-llama-cpp 3.22.1 and its dependencies, without the git
# bundle), patched-llama.tar.xz (node-llama-cpp's llama/llama.cpp and llama/addon with the series
# applied), out.tar.xz (the compiled TypeScript), vocab/ (the deepseek-coder vocabulary GGUF), bin/npm
# (a stand-in for `npm run -s cmake-js-llama`). Results and logs go to $OUT.
set -o pipefail
PHASE=${1:?build or bench}
OUT=${OUT:-/tmp/kvd-gpu-out}; mkdir -p "$OUT"
CARRY=$PWD/.carry-gpu
LLAMA=node_modules/node-llama-cpp/llama
log() { echo "[gpu $(date +%T)] $*"; }

if [ ! -x /tmp/node/bin/node ]; then
    mkdir -p /tmp/node/bin && xz -dc "$CARRY/node.xz" > /tmp/node/bin/node && chmod +x /tmp/node/bin/node
fi
export PATH=/tmp/node/bin:$CARRY/bin:$PATH
if [ ! -d node_modules/node-llama-cpp ]; then tar xJf "$CARRY/nm.tar.xz"; fi
if [ ! -d "$LLAMA/llama.cpp/.git" ]; then
    rm -rf "$LLAMA/llama.cpp" "$LLAMA/addon"
    tar xJf "$CARRY/patched-llama.tar.xz" -C "$LLAMA"
    # node-llama-cpp's source build wants llama.cpp to be a git repository
    (cd "$LLAMA/llama.cpp" && git init -q && git add -A && git -c user.name=kv-distill -c user.email=kv-distill@localhost commit -qm "patched llama.cpp")
fi
if [ ! -d out ]; then tar xJf "$CARRY/out.tar.xz"; fi
mkdir -p .cache/vocab && cp -n "$CARRY"/vocab/*.gguf .cache/vocab/ 2>/dev/null
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader
log "node $(node --version), $(nproc) cores"

CUDA_LIB_DIR=$LLAMA/localBuilds/linux-x64-cuda/Release
TESTS_DIR=native/build/tests-cuda

if [ "$PHASE" = build ]; then
    log "patched CUDA build (scripts/buildNative.mjs --gpu cuda, sm_90)"
    START=$(date +%s)
    NODE_LLAMA_CPP_CMAKE_OPTION_CMAKE_CUDA_ARCHITECTURES=90 node scripts/buildNative.mjs --gpu cuda 2>&1 | tail -n 40
    log "CUDA build took $(( $(date +%s) - START )) s (rc ${PIPESTATUS[0]})"
    ls -la "$CUDA_LIB_DIR"
    log "C++ tests, the compaction benchmark and stock llama-bench against the CUDA build"
    cmake -S native/tests -B "$TESTS_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release -DLLAMA_CPP_DIR="$LLAMA/llama.cpp" \
        -DLLAMA_LIB_DIR="$CUDA_LIB_DIR" -DKV_DISTILL_TESTS="test-seq-compact;test-adapter-scorer" -DKV_DISTILL_LLAMA_BENCH=ON >/dev/null &&
        cmake --build "$TESTS_DIR" --parallel 16 2>&1 | tail -n 5
    for test in test-seq-compact test-adapter-scorer; do
        log "$test (GPU)"; "$TESTS_DIR/$test" 2>&1 | grep -v "^llama_\|^load\|^print_info\|^ggml_cuda_init\|^  Device" | tail -n 30
        log "$test rc ${PIPESTATUS[0]}"
    done
    log "kv-distill-bench-seq-compact 131072 10 (Qwen2.5-1.5B's KV geometry)"
    "$TESTS_DIR/kv-distill-bench-seq-compact" 131072 10 2>&1 | grep -v "^llama_\|^load\|^print_info" | tail -n 20
fi

if [ "$PHASE" = bench ]; then
    LLAMA_BENCH=$(ls "$TESTS_DIR"/llama-bench "$TESTS_DIR"/bin/llama-bench 2>/dev/null | head -n 1)
    log "prefill through the engine vs stock llama-bench ($LLAMA_BENCH), 32k tokens, Qwen2.5-1.5B shape"
    node out/bench/prefillBenchmark.js --shape qwen2.5-1.5b --tokens 32768 --batch-sizes 512,2048 --gpu cuda \
        --flash-attention on --reps 2 --llama-bench "${LLAMA_BENCH:-none}" --json "$OUT/prefill.json" 2>&1 | grep -v "^\[engine\]" | tee "$OUT/prefill.md"
    log "scorer on/off (5 interleaved runs, 32k tokens) and compaction 131072 -> 13k through the binding"
    node out/bench/nativeBenchmark.js --shape qwen2.5-1.5b --gpu cuda --tokens 32768 --batch 512 --runs 5 \
        --compact-tokens 131072 --keep-every 10 --flash-attention on --json "$OUT/native.json" 2>&1 | tee "$OUT/native.md"
fi
log done
