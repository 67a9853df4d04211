#!/usr/bin/env bash
# Images per second of `python -m inference predict` on 200 images of the shared val split
# (apparel, with their article type as category), on this machine.
#   bash benchmarks/predict.sh [../shared/data/fashion-products] [count]
set -euo pipefail
cd "$(dirname "$0")/.."
data=${1:-../shared/data/fashion-products}
count=${2:-200}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir "$work/images"
echo "image,category" > "$work/categories.csv"
awk -F, -v n="$count" 'NR > 1 && $3 == "Apparel" && $12 ~ /^val/ && c < n {print $1 "," $5; c++}' "$data/styles.csv" |
while IFS=, read -r id category; do
  ln -s "$(realpath "$data/images/$id.jpg")" "$work/images/$id.jpg"
  echo "$id.jpg,$category" >> "$work/categories.csv"
done
.venv/bin/python benchmarks/machine.py
start=$(date +%s.%N)
.venv/bin/python -m inference predict "$work/images" --categories "$work/categories.csv" --out "$work/preds.csv"
end=$(date +%s.%N)
rows=$(($(wc -l < "$work/preds.csv") - 1))
python3 -c "s=$end-$start; print(f'{$rows} images in {s:.1f}s: {$rows/s:.2f} images/s (model loading included)')"
