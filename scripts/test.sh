#!/usr/bin/env bash
# Runs the checks and the tests: ruff, the whole suite on SQLite, then the database-facing
# tests again on PostgreSQL when it answers (COLORREVIEW_TEST_DATABASE_URL, default
# postgresql://postgres@127.0.0.1:5432/postgres). Extra arguments go to pytest.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
# Debian packages the tests use: chromium (end-to-end tests), redis-server (a Redis the worker tests
# restart), docker-compose (checks docker-compose.yml)
for tool in chromium redis-server docker-compose; do
  if ! command -v "$tool" >/dev/null 2>&1 && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
    echo "installing Debian's $tool for the tests"
    (apt-get install -y -q "$tool" >/dev/null 2>&1 || (apt-get update -q >/dev/null && apt-get install -y -q "$tool" >/dev/null)) \
      || echo "$tool could not be installed: the tests that need it will say so"
  fi
done
export DEBUG=0
.venv/bin/ruff check .
echo "== tests on SQLite"
.venv/bin/python -m pytest "$@"
pg_url="${COLORREVIEW_TEST_DATABASE_URL:-postgresql://postgres@127.0.0.1:5432/postgres}"
if .venv/bin/python - "$pg_url" <<'PY'
import sys, psycopg
try:
    psycopg.connect(sys.argv[1], connect_timeout=3).close()
except Exception as exc:
    print(f"PostgreSQL not reachable ({exc})"); sys.exit(1)
PY
then
  echo "== database-facing tests on PostgreSQL"
  DATABASE_URL="$pg_url" .venv/bin/python -m pytest tests/services tests/api tests/views tests/tasks "$@"
elif [ "${COLORREVIEW_REQUIRE_SERVICES:-0}" = 1 ]; then
  echo "PostgreSQL is required here but not reachable"; exit 1
fi
