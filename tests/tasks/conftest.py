from __future__ import annotations

import os

import pytest

from colorreview.celery import app as celery_app
from tests.conftest import ROOT, need
from tests.tasks import traced
from tests.tasks.harness import REDIS_URL, Workers, database_url, embedded_options, redis_ok, use_broker


@pytest.fixture
def broker(request, tmp_path, settings):
    """Workers for the test to start, on Redis or on the embedded queue (``request.param``)."""
    saved = (celery_app.conf.broker_url, dict(celery_app.conf.broker_transport_options or {}))
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings", "DATABASE_URL": database_url(),
           "MEDIA_ROOT": str(settings.MEDIA_ROOT), "COLORREVIEW_VAR_DIR": str(tmp_path / "var"),
           "COLORREVIEW_IMPUTE_THRESHOLD": "0.5", "COLORREVIEW_MISLABEL_THRESHOLD": "0.9",
           "COLORREVIEW_WORKER_BEAT": "1", "COLORREVIEW_WORKER_TIMEOUT": "10", "PYTHONPATH": str(ROOT)}
    settings.COLORREVIEW_WORKER_TIMEOUT = 10
    if request.param == "redis":
        need(redis_ok(), f"Redis at {REDIS_URL}")
        env["CELERY_BROKER_URL"] = REDIS_URL
        use_broker(REDIS_URL, {"visibility_timeout": 3600})
    else:
        env.pop("CELERY_BROKER_URL", None)
        use_broker("filesystem://", embedded_options(tmp_path / "var" / "queue"))
    workers = Workers(env, tmp_path / "logs")
    yield workers
    workers.stop()
    use_broker(*saved)


@pytest.fixture
def traced_pipeline(broker, fast_pipeline, tmp_path):
    """The fast test pipeline, in this process and in the workers: batches of 8, 20 ms per image."""
    trace = tmp_path / "segmented.txt"
    fast_pipeline.COLORREVIEW_SEGMENTER = traced.NAME
    fast_pipeline.COLORREVIEW_BATCH_SIZE = 8
    broker.env.update({"COLORREVIEW_SEGMENTER": traced.NAME, "COLORREVIEW_CLASSIFIER": "kdtree",
                       "COLORREVIEW_BATCH_SIZE": "8", "COLORREVIEW_TEST_SEGMENT_DELAY": "0.02",
                       "COLORREVIEW_TEST_SEGMENT_LOG": str(trace)})
    return trace
