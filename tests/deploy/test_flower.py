"""Flower, the compose file's `ops` service: a web view of the workers, on the project's Celery app and Redis,
that refuses anyone without its password (task arguments name products), with the compose healthcheck."""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request

import pytest
import yaml

from tests.conftest import ROOT, need
from tests.tasks.harness import REDIS_URL, redis_ok_ping

pytestmark = pytest.mark.redis


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _get(url: str, auth: str | None = None) -> tuple[int, str]:
    request = urllib.request.Request(url)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(auth.encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, ""


@pytest.fixture
def flower(tmp_path):
    need(redis_ok_ping(REDIS_URL), f"Redis at {REDIS_URL}")
    port = _free_port()
    env = {**os.environ, "SECRET_KEY": "flower-test", "DJANGO_SETTINGS_MODULE": "colorreview.settings",
           "CELERY_BROKER_URL": REDIS_URL, "PYTHONPATH": str(ROOT), "COLORREVIEW_VAR_DIR": str(tmp_path)}
    process = subprocess.Popen([sys.executable, "-m", "celery", "-A", "colorreview", "flower", "--address=127.0.0.1",
                                f"--port={port}", "--basic-auth=ops:s3cret"], cwd=ROOT, env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                assert process.poll() is None, process.stdout.read().decode()[-2000:]
                assert time.monotonic() < deadline, "flower did not start"
                time.sleep(0.5)
        yield port
    finally:
        process.terminate()
        process.wait(20)


def test_flower_serves_the_workers_view_only_with_its_password(flower):
    url = f"http://127.0.0.1:{flower}/"
    assert _get(url)[0] == 401
    assert _get(url, "ops:wrong")[0] == 401
    status, body = _get(url, "ops:s3cret")
    assert status == 200 and "Flower" in body
    status, workers = _get(url + "api/workers", "ops:s3cret")
    assert status == 200 and workers.strip().startswith("{")


def test_the_compose_healthcheck_passes_on_a_running_flower(flower):
    service = yaml.safe_load((ROOT / "docker-compose.yml").read_text())["services"]["flower"]
    kind, program, flag, code = service["healthcheck"]["test"]
    assert (kind, program, flag) == ("CMD", "python", "-c")
    healthy = subprocess.run([sys.executable, "-c", code.replace(":5555/", f":{flower}/")], timeout=30)
    assert healthy.returncode == 0
    down = subprocess.run([sys.executable, "-c", code.replace(":5555/", f":{_free_port()}/")], timeout=30)
    assert down.returncode != 0
