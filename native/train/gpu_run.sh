#!/bin/bash
# Trains the reference models on the GPU machine in ONE command, exports and evaluates them.
#   bash gpu_run.sh <carried folder> <tiny steps> <tiny minutes> <small steps> <small minutes> [eval workspaces] [train.py options...]
# (steps set the learning-rate schedule; minutes cap the training time, the decay follows whichever ends first)
# The carried folder holds kvtrain/ and llama/{gguf-py,models/ggml-vocab-deepseek-coder.gguf}
# (native/train/prepare_carry.sh makes it). Results go to $OUT: <model>.gguf, <model>-summary.json,
# <model>-loss.png, <model>-log.txt, and when one model trains <model>-diagnose.txt (kvtrain.diagnose).
# With two GPUs the models train side by side, one per GPU; with one they share it. small alone on several GPUs trains data-parallel, one process per GPU.
set -o pipefail
CARRY=$(cd "$1" && pwd); TINY_STEPS=$2; TINY_MINUTES=$3; SMALL_STEPS=$4; SMALL_MINUTES=$5; EVAL_WORKSPACES=${6:-8}
shift $(( $# < 6 ? $# : 6 )); EXTRA=("$@") # passed to both trainings, e.g. --path-family-weight 1
export PYTHONUNBUFFERED=1 KVTRAIN_LLAMA_SRC=$CARRY/llama KVTRAIN_CACHE=/tmp/kvtrain-cache
PY=${KVTRAIN_PYTHON:-/opt/torch/.venv/bin/python3}
OUT=${OUT:-/tmp/kvtrain-out}; mkdir -p "$OUT"
GPUS=$(nvidia-smi -L | wc -l)
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
CORES=$(nproc)
if [ "$GPUS" -ge 2 ]; then SMALL_GPU=1; TINY_WORKERS=$((CORES / 2 - 2)); SMALL_WORKERS=$((CORES / 2 - 2));
else SMALL_GPU=0; TINY_WORKERS=$((CORES / 2 - 1)); SMALL_WORKERS=$((CORES / 2 - 1)); fi
# One model alone gets all the data workers (tiny is bound by data generation, not by the GPU).
if [ "$SMALL_STEPS" -le 0 ]; then TINY_WORKERS=$((CORES - 2)); fi
if [ "$TINY_STEPS" -le 0 ]; then SMALL_WORKERS=$((CORES - 2)); fi
SMALL_LAUNCH=(-m kvtrain.train)
if [ "$TINY_STEPS" -le 0 ] && [ "$GPUS" -ge 2 ]; then
    SMALL_GPU=$(seq -s, 0 $((GPUS - 1))); SMALL_WORKERS=$((CORES / GPUS - 2))
    SMALL_LAUNCH=(-m torch.distributed.run --standalone --nproc_per_node "$GPUS" -m kvtrain.train)
fi
cd "$CARRY"
run_model() { # name steps minutes gpu(s) workers launcher... -- [more arguments]
    local name=$1 steps=$2 minutes=$3 gpu=$4 workers=$5; shift 5
    local launch=(); while [ "$1" != "--" ]; do launch+=("$1"); shift; done; shift
    CUDA_VISIBLE_DEVICES=$gpu "$PY" "${launch[@]}" --model "$name" --steps "$steps" --max-minutes "$minutes" \
        --workers "$workers" --fast "$@" \
        --eval-workspaces "$EVAL_WORKSPACES" --out "$OUT" "${EXTRA[@]}" 2>&1 | tee -a "$OUT/$name-stderr.txt"; true
}
if [ "$TINY_STEPS" -gt 0 ]; then run_model tiny "$TINY_STEPS" "$TINY_MINUTES" 0 "$TINY_WORKERS" -m kvtrain.train -- --eval-float & fi
if [ "$SMALL_STEPS" -gt 0 ]; then run_model small "$SMALL_STEPS" "$SMALL_MINUTES" "$SMALL_GPU" "$SMALL_WORKERS" "${SMALL_LAUNCH[@]}" -- & fi
wait
# With one model, also where its answers go wrong and which heads look where (kvtrain.diagnose, on the
# GPU: seconds), in the layout it trained on; the results then stay within 8 files.
# KVTRAIN_DIAGNOSE=0 leaves it out (its training chats know no outline; it costs up to 100 s).
if [ "${KVTRAIN_DIAGNOSE:-1}" = 1 ] && { [ "$TINY_STEPS" -le 0 ] || [ "$SMALL_STEPS" -le 0 ]; }; then
    DIAGNOSE=(--layout engine); if [[ " ${EXTRA[*]} " == *" --data-layout first "* ]]; then DIAGNOSE=(--layout first); fi
    if [[ " ${EXTRA[*]} " == *" --restate-error-messages "* ]]; then DIAGNOSE+=(--restate-error-messages); fi
    for name in tiny small; do
        if [ -f "$OUT/$name.gguf" ]; then
            chat_tokens=4000; if [ "$name" = tiny ]; then chat_tokens=2000; fi # within its 4 096-token context
            { timeout 50 "$PY" -m kvtrain.diagnose --gguf "$OUT/$name.gguf" --size 2k --workspaces 3 "${DIAGNOSE[@]}"
              timeout 50 "$PY" -m kvtrain.diagnose --gguf "$OUT/$name.gguf" --training-chats 8 --chat-tokens "$chat_tokens" --attention "${DIAGNOSE[@]}"
            } > "$OUT/$name-diagnose.txt" 2>&1 || true
        fi
    done
fi
# Error output (tracebacks) is kept only when there is some, so the results stay within 8 files.
for f in "$OUT"/*-stderr.txt; do grep -v -e '^\[' -e '^\*\*\*' -e 'OMP_NUM_THREADS' -e '^$' "$f" > "$f.tmp"; if [ -s "$f.tmp" ]; then mv "$f.tmp" "$f"; else rm -f "$f" "$f.tmp"; fi; done
tail -n 4 "$OUT"/*-log.txt
ls -la "$OUT"
