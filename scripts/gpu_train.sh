#!/usr/bin/env bash
# Trains every network on one GPU in one run (about nine minutes with the default budgets) and writes
# weights, cards, the calibration report and summary.json under $OUT/train-all.
#
# Data and wheels come from the parts that `python scripts/gpu_pack.py` makes (.carry/gpu1, .carry/gpu2):
# each call stores the parts it carries in $DATA (outside the working tree, so they stay while the
# machine is warm) and trains once $DATA holds them all: one call per part, one right after the other
# (the calls before the last only store, in seconds), the last one stores and trains.
# On a machine with the project's .venv, ../shared and the packages installed, plain
# `python -m inference train-all --out DIR` does the same. MODE=members trains candidate ensemble members
# only (the catalogue alone: `gpu_pack.py --no-ccp`).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${OUT:-var/gpu}
PY=${PYTHON:-python3}
DATA=${DATA:-/tmp/colorreview-gpu-data}
RUN=${RUN:-/tmp/colorreview-train-all}  # weights, cards, logs; $OUT gets them packed (a call returns 8 files)
mkdir -p "$DATA/parts" "$OUT"
for part in .carry/gpu[0-9]*/; do
  [ -f "$part/part.json" ] || continue
  cp -r "$part/." "$DATA/" && cp "$part/part.json" "$DATA/parts/$(basename "$part").json"
done
have=$(ls "$DATA/parts" | wc -l)
want=$("$PY" -c "import json,sys; print(json.load(open(sys.argv[1]))['of'])" "$(ls "$DATA"/parts/*.json | head -1)")
if [ "$have" -lt "$want" ]; then
  echo "stored $have of $want parts in $DATA; carry the next part in the next call"
  exit 0
fi
# files cut to fit a part (NAME.piece-0000, -0001, ...) are joined again
while IFS= read -r -d '' first; do
  whole=${first%.piece-0000}
  cat "$whole".piece-* > "$whole.tmp" && mv "$whole.tmp" "$whole" && rm "$whole".piece-* || exit 1
done < <(find "$DATA" -name '*.piece-0000' -print0)
if ls "$DATA"/wheels/*.whl >/dev/null 2>&1; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --target /tmp/site "$DATA"/wheels/*.whl
  export PYTHONPATH=/tmp/site:${PYTHONPATH:-}
fi
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader || true
mkdir -p "$RUN/weights"
quiet() { grep -v "it/s\]\|s/it\]\|step/s\]\|s/step\]\|batch/s\]\|s/batch\]" || true; }
if [ "${MODE:-all}" = members ]; then
  # Candidate ensemble members over the shipped segmenter, the likely tag errors of `label-issues` drawn a
  # quarter as often; each is judged on the CPU afterwards (calibrate / evaluate) before it is shipped.
  member() {  # NAME ARCH VIEW SIZE MINUTES SEED
    PYTHONUNBUFFERED=1 "$PY" -m inference train-classifier --data "$DATA/fashion-products" --out "$RUN/$1" \
      --export "$RUN/weights" --name "$1" --arch "$2" --view "$3" --input-size "$4" --minutes "$5" --seed "$6" \
      --batch-size 64 --weights-dir inference/weights --cache "$RUN/crops-$3-$4.pt" \
      --sample-weights benchmarks/golden/label_issues/train_issues_members.csv --device "${DEVICE:-cuda}" \
      ${MEMBER_ARGS:-} || { echo "member $1 failed"; touch "$RUN/FAILED-$1"; }
  }
  { member colornet_image_lite2 efficientnet_lite2 image 256 "${M1:-2.2}" 1
    member colornet_image_s2 efficientnet_lite0 image 224 "${M2:-1.2}" 2
    member colornet_garment_lite2 efficientnet_lite2 garment 224 "${M3:-1.6}" 3
    ls "$RUN"/FAILED-* >/dev/null 2>&1 || echo "{}" > "$RUN/summary.json"; } 2>&1 | tee "$OUT/train-all.log" | quiet \
    || true
else
  PYTHONUNBUFFERED=1 "$PY" -m inference train-all --out "$RUN" \
    --ccp "$DATA/clothing-co-parsing" --catalogue "$DATA/fashion-products" --device cuda "$@" 2>&1 \
    | tee "$OUT/train-all.log" | quiet || true
fi
# What comes back from a device call: at most 8 files of 16 MiB. Weights, cards and figures, in one tar in parts
# (also after a step failed: what was trained is kept).
(cd "$RUN" && find . \( -path './weights/*.pt' -o \( -name '*.json' -o -name '*.csv' -o -name '*.png' -o -name '*.log' \) \
  -size -4M \) -print | tar cf - -T - | split -b 15M - "$OUT/train-all.tar.part-")
ls -la "$OUT"
test -f "$RUN/summary.json"  # written only when every step (every member) succeeded
