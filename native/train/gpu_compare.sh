#!/bin/bash
# Trains two to four variants of a model side by side, in ONE command, to compare data or training
# options under the same time cap and seed; each is exported and evaluated. Variants go round-robin
# over the GPUs (a one-GPU kind: all share it, each at a fraction of the speed, so compare them with
# each other, not with runs that had a GPU to themselves).
# Measured (models/small.md, 2026-12-07, fifth): four `tiny` variants on one H100 got 1 700-2 370 steps
# each in 6.6 minutes, too few to pass the lookups' plateau; on one GPU compare two at most.
#   bash gpu_compare.sh <carried folder> <steps> <minutes> <eval workspaces> "<train.py options A>" "<options B>" ["<C>" ["<D>"]]
# e.g. bash .carry-train/gpu_compare.sh .carry-train 5400 7.0 6 "--data-layout engine" "--data-layout engine --file-list-share 0"
# KVTRAIN_MODEL=tiny trains `tiny` instead of `small` (its 2k evaluation; a cheap place to try a mechanism).
# Results: $OUT/a, $OUT/b, ...: <model>-summary.json, <model>-log.txt, error.txt with the last lines of
# output when a training fails, and with two variants also <model>.gguf: at most 8 files, what a
# command may return.
set -o pipefail
CARRY=$(cd "$1" && pwd); STEPS=$2; MINUTES=$3; EVAL_WORKSPACES=$4; shift 4; VARIANTS=("$@")
MODEL=${KVTRAIN_MODEL:-small}
NAMES=(a b c d); COUNT=${#VARIANTS[@]}
if [ "$COUNT" -lt 2 ] || [ "$COUNT" -gt 4 ]; then echo "gpu_compare.sh: give 2 to 4 option sets, got $COUNT" >&2; exit 2; fi
export PYTHONUNBUFFERED=1 KVTRAIN_LLAMA_SRC=$CARRY/llama KVTRAIN_CACHE=/tmp/kvtrain-cache
PY=${KVTRAIN_PYTHON:-/opt/torch/.venv/bin/python3}
OUT=${OUT:-/tmp/kvtrain-out}
GPUS=$(nvidia-smi -L | wc -l); if [ "$GPUS" -lt 1 ]; then GPUS=1; fi
if [ "$COUNT" -gt "$GPUS" ]; then echo "$GPUS GPU(s) for $COUNT variants: they share"; fi
WORKERS=$(( $(nproc) / COUNT - 2 )); if [ "$WORKERS" -lt 1 ]; then WORKERS=1; fi
cd "$CARRY"
train_variant() { # name gpu options
    local name=$1 gpu=$2; mkdir -p "$OUT/$name"
    # shellcheck disable=SC2086 # the options are a word list on purpose
    CUDA_VISIBLE_DEVICES=$gpu "$PY" -m kvtrain.train --model "$MODEL" --steps "$STEPS" --max-minutes "$MINUTES" \
        --workers "$WORKERS" --fast --eval-workspaces "$EVAL_WORKSPACES" --out "$OUT/$name" $3 > "/tmp/$name-output.txt" 2>&1 \
        || tail -n 40 "/tmp/$name-output.txt" > "$OUT/$name/error.txt"
    rm -f "$OUT/$name/$MODEL-loss.png"
    if [ "$COUNT" -gt 2 ]; then rm -f "$OUT/$name/$MODEL.gguf"; fi
}
for index in "${!VARIANTS[@]}"; do echo "${NAMES[$index]}: ${VARIANTS[$index]}"; done
for index in "${!VARIANTS[@]}"; do train_variant "${NAMES[$index]}" $(( index % GPUS )) "${VARIANTS[$index]}" & done
wait
for index in "${!VARIANTS[@]}"; do
    name=${NAMES[$index]}; echo "== $name"; grep -E "eval:|trained|stopping" "$OUT/$name/"*-log.txt
done
