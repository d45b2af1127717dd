#!/bin/bash
# Copies what gpu_run.sh and gpu_compare.sh need into a folder that travels to the GPU machine with `carry`.
#   bash native/train/prepare_carry.sh <target folder>
set -e
HERE=$(cd "$(dirname "$0")" && pwd)
TARGET=$1
SRC=$(cd "$HERE" && python3 -c "from kvtrain.llama_source import find_llama_source; print(find_llama_source())")
rm -rf "$TARGET"; mkdir -p "$TARGET/llama/models" "$TARGET/llama/gguf-py"
cp -r "$HERE/kvtrain" "$TARGET/kvtrain"; rm -rf "$TARGET/kvtrain/__pycache__"
cp "$HERE/gpu_run.sh" "$HERE/gpu_compare.sh" "$TARGET/"
cp -r "$SRC/gguf-py/gguf" "$TARGET/llama/gguf-py/gguf"; rm -rf "$TARGET/llama/gguf-py/gguf/__pycache__"
cp "$SRC/models/ggml-vocab-deepseek-coder.gguf" "$TARGET/llama/models/"
du -sh "$TARGET"
