#!/usr/bin/env bash
# Creates .venv at the project root and installs the project into it (again only when
# pyproject.toml changed). Usage: scripts/setup.sh [dev]
set -euo pipefail
cd "$(dirname "$0")/.."
extra=${1:-}
python=${PYTHON:-}
if [ -z "$python" ]; then
  for candidate in python3.11 python3; do
    if command -v "$candidate" >/dev/null 2>&1; then python=$candidate; break; fi
  done
fi
if [ ! -x .venv/bin/python ]; then
  echo "creating .venv with $($python --version)"
  "$python" -m venv .venv
fi
stamp=".venv/.installed-$(sha256sum pyproject.toml | cut -c1-16)${extra:+-$extra}"
if [ ! -f "$stamp" ]; then
  echo "installing ColorReview into .venv (first time: several minutes, torch is large)"
  target="."
  [ "$extra" = "dev" ] && target=".[dev]"
  .venv/bin/python -m pip install --disable-pip-version-check -q -e "$target"
  rm -f .venv/.installed-*
  touch "$stamp"
fi
