"""The Celery application, configured from Django settings (CELERY_* names), and the worker's
heartbeat: a worker announces itself when it is ready, beats while it lives, and on start queues
again the products that a dead worker was reading."""

from __future__ import annotations

import logging
import os
import threading

from celery import Celery
from celery.signals import worker_ready, worker_shutdown

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "colorreview.settings")

app = Celery("colorreview")
app.config_from_object("django.conf:settings", namespace="CELERY")
log = logging.getLogger(__name__)
_stop = threading.Event()


def ensure_queue_folders() -> None:
    """The embedded (folder-backed) broker needs its folders to exist."""
    from django.conf import settings

    if settings.COLORREVIEW_EMBEDDED_QUEUE:
        for key in ("data_folder_in", "processed_folder", "control_folder"):
            os.makedirs(settings.CELERY_BROKER_TRANSPORT_OPTIONS[key], exist_ok=True)


@worker_ready.connect
def _on_worker_ready(sender, **kwargs) -> None:
    from django.conf import settings

    from colorreview.services.runs import runs_recover
    from colorreview.services.workers import worker_beat, workers_forget

    name = sender.hostname
    queues = ",".join(sorted(q.name for q in sender.task_consumer.queues)) if sender.task_consumer else ""
    try:
        worker_beat(name=name, queues=queues)
        workers_forget()
        recovered = runs_recover(worker_name=name)
        if recovered:
            log.warning("queued again %d products that a stopped worker was reading", recovered)
    except Exception:  # the worker still serves its queue; the next beat tries again
        log.exception("worker %s could not record its start", name)
    every = settings.COLORREVIEW_WORKER_BEAT
    if type(sender.pool).__module__.endswith("prefork"):
        # the event loop of a prefork worker never runs a task; a thread here could hold a lock
        # at the moment a pool process is forked
        sender.timer.call_repeatedly(every, _beat_once, (name, queues))
    else:
        threading.Thread(target=_beat, args=(name, queues, every), name="colorreview-heartbeat", daemon=True).start()


def _beat(name: str, queues: str, every: int) -> None:
    while not _stop.wait(every):
        _beat_once(name, queues)


def _beat_once(name: str, queues: str) -> None:
    from django.db import close_old_connections

    from colorreview.services.workers import worker_beat

    try:
        worker_beat(name=name, queues=queues)
    except Exception:
        log.exception("worker %s heartbeat failed", name)
        close_old_connections()


@worker_shutdown.connect
def _on_worker_shutdown(sender, **kwargs) -> None:
    from colorreview.services.workers import worker_gone

    _stop.set()
    try:
        worker_gone(name=sender.hostname)
    except Exception:
        log.exception("worker %s could not record its end", sender.hostname)


app.autodiscover_tasks()
