"""A Celery app with one no-op task and the project's delivery settings (late acknowledgement, one
message prefetched, rejected when its worker dies), for measuring the queue alone."""

from __future__ import annotations

import os

import redis
from celery import Celery

BROKER = os.environ.get("BENCH_BROKER_URL", "redis://127.0.0.1:6379/6")
app = Celery("bench", broker=BROKER)
app.conf.update(task_acks_late=True, task_reject_on_worker_lost=True, worker_prefetch_multiplier=1,
                task_ignore_result=True, task_default_queue="gpu", task_serializer="json",
                worker_hijack_root_logger=False)
_done = redis.Redis.from_url(BROKER)


@app.task(name="bench.noop")
def noop(product_ids: list[int], run_id: int | None = None) -> None:
    _done.incr("bench:done")
