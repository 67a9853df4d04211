#!/usr/bin/env bash
# Trains every network on one GPU in one run (under nine minutes with the default budgets) and writes
# weights, cards, the calibration report and summary.json under $OUT/train-all.
# Data and ImageNet weights come from .carry/gpu (made here by `python scripts/gpu_pack.py`); on a machine
# with the project's .venv, ../shared and the packages installed, plain
# `python -m inference train-all --out DIR` does the same.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-var/gpu}
PY=${PYTHON:-python3}
if [ -d .carry/gpu/wheels ] && ls .carry/gpu/wheels/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --target /tmp/site .carry/gpu/wheels/*.whl
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
data=${DATA:-.carry/gpu}
mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
PYTHONUNBUFFERED=1 "$PY" -m inference train-all --out "$OUT/train-all" \
  --ccp "$data/clothing-co-parsing" --catalogue "$data/fashion-products" --device cuda "$@" 2>&1 \
  | tee "$OUT/train-all.log" | grep -v "it/s\]\|s/it\]\|step/s\]\|s/step\]\|batch/s\]\|s/batch\]" || true
test -f "$OUT/train-all/summary.json"
