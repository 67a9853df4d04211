#!/usr/bin/env bash
# The main job on embedded defaults: set up, load the demo catalogue, run the pipeline with a
# progress bar, then serve http://127.0.0.1:8000 (SQLite, embedded queue, shipped weights).
set -euo pipefail
cd "$(dirname "$0")/.."
started=$(date +%s)
bash scripts/setup.sh
mkdir -p var
[ -s var/secret_key ] || .venv/bin/python -c "import secrets; print(secrets.token_urlsafe(50))" > var/secret_key
export SECRET_KEY="${SECRET_KEY:-$(cat var/secret_key)}"
export DJANGO_SETTINGS_MODULE=colorreview.settings
.venv/bin/python manage.py migrate --noinput -v0
.venv/bin/python manage.py seed_demo --no-logins
.venv/bin/python manage.py run_pipeline --wait
echo "main job ready in $(( $(date +%s) - started ))s"
.venv/bin/python manage.py seed_demo --no-catalog --print-logins
exec .venv/bin/python manage.py serve --host "${HOST:-127.0.0.1}" --port "${PORT:-8000}"
