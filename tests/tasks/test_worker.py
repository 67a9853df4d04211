"""A real Celery worker process runs the pipeline tasks and writes the rows (Redis, and the
embedded folder-backed queue that needs no server)."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest
from django.db import connection

from colorreview.celery import app as celery_app
from colorreview.models import PipelineRun, Prediction, Product, Suggestion
from colorreview.services.catalog import import_catalog
from colorreview.services.runs import pipeline_run_start
from tests.conftest import DEMO, ROOT, need

REDIS_URL = os.environ.get("COLORREVIEW_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def _redis_ok() -> bool:
    import redis

    try:
        client = redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2)
        client.flushdb()
        return True
    except redis.RedisError:
        return False


def _database_url() -> str:
    s = connection.settings_dict
    if s["ENGINE"].endswith("sqlite3"):
        return f"sqlite:///{s['NAME']}"
    return f"postgresql://{s['USER']}:{s['PASSWORD'] or ''}@{s['HOST'] or '127.0.0.1'}:{s['PORT'] or 5432}/{s['NAME']}"


@pytest.fixture
def broker(request, tmp_path, settings):
    kind = request.param
    saved = (celery_app.conf.broker_url, dict(celery_app.conf.broker_transport_options or {}))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": _database_url(),
           "MEDIA_ROOT": str(settings.MEDIA_ROOT), "COLORREVIEW_VAR_DIR": str(tmp_path / "var"),
           "COLORREVIEW_IMPUTE_THRESHOLD": "0.5", "COLORREVIEW_MISLABEL_THRESHOLD": "0.9",
           "PYTHONPATH": str(ROOT)}
    if kind == "redis":
        need(_redis_ok(), f"Redis at {REDIS_URL}")
        env["CELERY_BROKER_URL"] = REDIS_URL
        celery_app.conf.broker_url, celery_app.conf.broker_transport_options = REDIS_URL, {}
    else:
        env.pop("CELERY_BROKER_URL", None)
        queue = tmp_path / "var" / "queue"
        options = {"data_folder_in": str(queue / "messages"), "data_folder_out": str(queue / "messages"),
                   "processed_folder": str(queue / "processed"), "control_folder": str(queue / "control"),
                   "store_processed": False}
        for folder in ("messages", "processed", "control"):
            (queue / folder).mkdir(parents=True, exist_ok=True)
        celery_app.conf.broker_url, celery_app.conf.broker_transport_options = "filesystem://", options
    _forget_connections()
    worker = subprocess.Popen([sys.executable, "-m", "celery", "-A", "colorreview", "worker", "--pool=solo",
                               "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
                              cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    yield worker
    worker.terminate()
    try:
        output = worker.communicate(timeout=30)[0]
    except subprocess.TimeoutExpired:
        worker.kill()
        output = worker.communicate()[0]
    print(output[-3000:])
    celery_app.conf.broker_url, celery_app.conf.broker_transport_options = saved
    _forget_connections()


def _forget_connections() -> None:
    """Drop pooled broker connections so that a changed broker URL takes effect."""
    if celery_app._pool is not None:
        celery_app._pool.force_close_all()
    celery_app._pool = None
    celery_app.amqp._producer_pool = None


@pytest.mark.redis
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("broker", ["redis", "embedded"], indirect=True)
def test_a_real_worker_runs_the_pipeline_and_writes_the_rows(broker, tmp_path, thresholds):
    csv = tmp_path / "catalog.csv"
    csv.write_text("sku,title,category,image,seller_color\n"
                   f"W1,Polo,Tshirts,{DEMO / 'images/19557.jpg'},Red\n"
                   f"W2,Shirt,Shirts,{DEMO / 'images/13760.jpg'},\n"
                   f"W3,Trousers,Trousers,{DEMO / 'images/12677.jpg'},Grey\n")
    import_catalog(csv_bytes=csv.read_bytes(), source_name="catalog.csv", csv_dir=tmp_path)
    run = pipeline_run_start()
    assert run is not None and run.total == 3
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status == PipelineRun.Status.FINISHED:
            break
        assert broker.poll() is None, "the worker died"
        time.sleep(1)
    assert run.status == "finished" and (run.done, run.failed) == (3, 0)
    assert Prediction.objects.filter(run=run).count() == 3
    assert set(Product.objects.values_list("status", flat=True)) == {"predicted"}

    assert Suggestion.objects.get(product__sku="W1").kind == "mislabel"
    assert Suggestion.objects.get(product__sku="W2").kind == "impute"
