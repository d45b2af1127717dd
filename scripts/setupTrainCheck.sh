#!/usr/bin/env bash
# Installs what `npm run test:train` needs, idempotently: Debian's PyTorch (torch 1.13, the CPU
# side of the one training code path), numpy and yaml, and the OpenBLAS that makes Debian's torch
# about 50x faster on CPU than the reference BLAS it falls back to.
#
# Usage: bash scripts/setupTrainCheck.sh
set -euo pipefail

readonly aptPackages=(python3 python3-torch python3-numpy python3-yaml libopenblas0-pthread)

# shellcheck source=scripts/installAptPackages.sh
source "$(dirname "$0")/installAptPackages.sh"
installAptPackages setupTrainCheck "${aptPackages[@]}"
/usr/bin/python3 -c "import torch, numpy, yaml; print('[setupTrainCheck] torch', torch.__version__)"
