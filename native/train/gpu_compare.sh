#!/bin/bash
# Trains two variants of `small` side by side on a 2-GPU machine, one per GPU (or both on one), in ONE command, to
# compare data or training options under the same time cap and seed; each is exported and evaluated.
#   bash gpu_compare.sh <carried folder> <steps> <minutes> <eval workspaces> "<train.py options A>" "<train.py options B>"
# e.g. bash .carry-train/gpu_compare.sh .carry-train 5400 7.0 6 "--data-layout engine" "--data-layout engine --file-list-share 0"
# Results: $OUT/a and $OUT/b, each small.gguf, small-summary.json, small-log.txt (and error.txt with
# the last lines of output when a training fails): 6 files, within the 8 a command may return.
set -o pipefail
CARRY=$(cd "$1" && pwd); STEPS=$2; MINUTES=$3; EVAL_WORKSPACES=$4; OPTIONS_A=$5; OPTIONS_B=$6
export PYTHONUNBUFFERED=1 KVTRAIN_LLAMA_SRC=$CARRY/llama KVTRAIN_CACHE=/tmp/kvtrain-cache
PY=${KVTRAIN_PYTHON:-/opt/torch/.venv/bin/python3}
OUT=${OUT:-/tmp/kvtrain-out}
# With one GPU (the one-GPU kinds), both variants share it: each runs at about half speed, so compare
# them with each other, not with runs that had a GPU to themselves.
GPU_B=1; if [ "$(nvidia-smi -L | wc -l)" -lt 2 ]; then GPU_B=0; echo "one GPU: a and b share it"; fi
WORKERS=$(( $(nproc) / 2 - 2 )); if [ "$WORKERS" -lt 1 ]; then WORKERS=1; fi
cd "$CARRY"
train_variant() { # name gpu options
    local name=$1 gpu=$2; mkdir -p "$OUT/$name"
    # shellcheck disable=SC2086 # the options are a word list on purpose
    CUDA_VISIBLE_DEVICES=$gpu "$PY" -m kvtrain.train --model small --steps "$STEPS" --max-minutes "$MINUTES" \
        --workers "$WORKERS" --fast --eval-workspaces "$EVAL_WORKSPACES" --out "$OUT/$name" $3 > "/tmp/$name-output.txt" 2>&1 \
        || tail -n 40 "/tmp/$name-output.txt" > "$OUT/$name/error.txt"
    rm -f "$OUT/$name/small-loss.png"
}
echo "a: $OPTIONS_A"; echo "b: $OPTIONS_B"
train_variant a 0 "$OPTIONS_A" &
train_variant b "$GPU_B" "$OPTIONS_B" &
wait
for name in a b; do echo "== $name"; grep -E "eval:|trained|stopping" "$OUT/$name/"*-log.txt; done
