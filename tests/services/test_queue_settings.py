"""Every Celery setting in one place (settings.py): pipeline batches on `gpu`, every other job on `default`;
on Redis a batch lost with its worker goes back to the queue, and never runs twice at once."""

from __future__ import annotations

import json
import os
import subprocess
import sys

from django.conf import settings

PRINT = ("import json, django; django.setup(); from django.conf import settings as s; "
         "print(json.dumps({k: getattr(s, k) for k in ('CELERY_TASK_ACKS_LATE', 'CELERY_TASK_REJECT_ON_WORKER_LOST', "
         "'CELERY_WORKER_PREFETCH_MULTIPLIER', 'CELERY_TASK_TIME_LIMIT', 'CELERY_TASK_SOFT_TIME_LIMIT', "
         "'CELERY_BROKER_TRANSPORT_OPTIONS')}))")


def _settings(**env) -> dict:
    """The settings a process started with ``env`` reads (the broker is chosen at start)."""
    out = subprocess.run([sys.executable, "-c", PRINT], capture_output=True, text=True, check=True, timeout=120,
                         cwd=settings.BASE_DIR, env={**os.environ, "DJANGO_SETTINGS_MODULE": "colorreview.settings",
                                                     "SECRET_KEY": "x", **env})
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_pipeline_batches_go_to_the_gpu_queue_and_every_other_job_to_default():
    from colorreview import tasks
    from colorreview.celery import app

    def queue(task) -> str:
        return app.amqp.router.route({}, task.name)["queue"].name

    ours = {name: task for name, task in app.tasks.items() if name.startswith("colorreview.tasks.")}
    assert tasks.predict_products.name in ours and len(ours) > 5
    assert queue(tasks.predict_products) == "gpu"
    assert {queue(t) for name, t in ours.items() if name != tasks.predict_products.name} == {"default"}
    # every job is acknowledged when it ends and handed back when its worker dies, from the settings alone
    assert all(t.acks_late and t.reject_on_worker_lost for t in ours.values())


def test_on_redis_a_lost_batch_goes_back_and_no_batch_runs_twice_at_once():
    got = _settings(CELERY_BROKER_URL="redis://127.0.0.1:6379/0")
    assert got["CELERY_TASK_ACKS_LATE"] and got["CELERY_TASK_REJECT_ON_WORKER_LOST"]
    assert got["CELERY_WORKER_PREFETCH_MULTIPLIER"] == 1
    assert got["CELERY_BROKER_TRANSPORT_OPTIONS"]["visibility_timeout"] > got["CELERY_TASK_TIME_LIMIT"]
    assert 0 < got["CELERY_TASK_SOFT_TIME_LIMIT"] < got["CELERY_TASK_TIME_LIMIT"]


def test_a_short_time_limit_keeps_a_positive_soft_limit():
    got = _settings(CELERY_BROKER_URL="redis://127.0.0.1:6379/0", COLORREVIEW_TASK_TIME_LIMIT="30")
    assert 0 < got["CELERY_TASK_SOFT_TIME_LIMIT"] < got["CELERY_TASK_TIME_LIMIT"] == 30
    assert got["CELERY_BROKER_TRANSPORT_OPTIONS"]["visibility_timeout"] > 30
