#!/usr/bin/env bash
# Images/s of the colour pipeline on one GPU at batch 64 and 256 (one call, under 8 minutes).
# Needs a Python with the project's dependencies and a CUDA build of torch: .venv if present,
# else python3 (e.g. the colorreview-gpu image: docker run --gpus all colorreview-gpu bash benchmarks/gpu.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
python=python3
[ -x .venv/bin/python ] && .venv/bin/python -c "import torch" 2>/dev/null && python=.venv/bin/python
nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader || true
"$python" -c "import torch, timm, scipy, PIL; assert torch.cuda.is_available(), 'torch has no CUDA here'" \
  || { echo "missing: a Python with torch (CUDA), timm, scipy and pillow"; exit 2; }
export COLORREVIEW_DECODE_THREADS="${COLORREVIEW_DECODE_THREADS:-$(nproc)}"
timeout 420 "$python" benchmarks/gpu.py --batches 64,256 --images "${IMAGES:-1024}"
