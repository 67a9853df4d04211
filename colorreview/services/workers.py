"""Task workers announce themselves with a heartbeat, so that a run whose worker died can be told
from a run that is merely waiting."""

from __future__ import annotations

import logging
import os
import socket
import threading
from datetime import timedelta

from django.conf import settings
from django.utils import timezone

from ..models import Worker

log = logging.getLogger(__name__)


def worker_beat(*, name: str, queues: str = "") -> None:
    """Record that the worker ``name`` (this process) is alive."""
    Worker.objects.update_or_create(name=name, defaults={
        "host": socket.gethostname(), "pid": os.getpid(), "queues": queues[:255], "seen_at": timezone.now()})


def worker_gone(*, name: str) -> None:
    Worker.objects.filter(name=name).delete()


def workers_forget(*, silent_for: timedelta = timedelta(days=1)) -> int:
    """Forget the workers killed without a word (no shutdown recorded) long ago."""
    return Worker.objects.filter(seen_at__lt=timezone.now() - silent_for).delete()[0]


def live_workers(*, exclude: str | None = None) -> list[Worker]:
    """Workers whose heartbeat is recent; one on this host whose process has died does not count."""
    since = timezone.now() - timedelta(seconds=settings.COLORREVIEW_WORKER_TIMEOUT)
    here = socket.gethostname()
    return [w for w in Worker.objects.filter(seen_at__gte=since).exclude(name=exclude or "")
            if w.host != here or _process_alive(w.pid)]


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a killed process that its parent has not reaped yet still answers signal 0
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] != "Z"
    except (OSError, IndexError):
        return True


class WorkerHere:
    """This process reading products itself (``run_pipeline --wait`` on the embedded queue), announced as a
    worker while it does: another process then takes its products for work in hand, not for orphans of a
    dead worker. A thread beats every ``COLORREVIEW_WORKER_BEAT`` seconds, whatever a batch or the queuing
    of a large run takes, as a Celery worker's does; a beat that fails (a locked database) is tried again."""

    def __init__(self, name: str | None = None):
        self.name = name or f"in-process@{socket.gethostname()}:{os.getpid()}"
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def beat(self) -> None:
        worker_beat(name=self.name, queues="in-process")

    def _beat_on(self) -> None:
        from django.db import close_old_connections, connection

        try:
            while not self._stop.wait(settings.COLORREVIEW_WORKER_BEAT):
                try:
                    self.beat()
                except Exception:
                    log.exception("%s: heartbeat failed", self.name)
                    close_old_connections()
        finally:
            connection.close()  # this thread's own connection

    def __enter__(self) -> WorkerHere:
        self.beat()
        self._thread = threading.Thread(target=self._beat_on, name="colorreview-heartbeat", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join()
        worker_gone(name=self.name)
