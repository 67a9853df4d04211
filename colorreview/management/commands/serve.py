from __future__ import annotations

import os
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = ("Serve the web app with waitress. With the embedded queue (no CELERY_BROKER_URL) it also "
            "starts the worker that runs queued pipeline tasks.")

    def add_arguments(self, parser):
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8000)
        parser.add_argument("--threads", type=int, default=6)
        parser.add_argument("--no-worker", action="store_true", help="do not start the embedded worker")

    def handle(self, *args, **opts):
        from waitress import serve

        from colorreview.wsgi import application

        worker = None
        if settings.COLORREVIEW_EMBEDDED_QUEUE and not opts["no_worker"]:
            worker = subprocess.Popen(
                [sys.executable, "-m", "celery", "-A", "colorreview", "worker", "--pool=solo",
                 "-Q", ",".join(settings.COLORREVIEW_QUEUES),
                 "--loglevel=WARNING", "--without-gossip", "--without-mingle", "--without-heartbeat"],
                env=os.environ.copy())
            self.stdout.write(f"embedded worker started (pid {worker.pid})")
        self.stdout.write(self.style.SUCCESS(f"ColorReview on http://{opts['host']}:{opts['port']}/"))

        def stop(*_):
            if worker and worker.poll() is None:
                worker.terminate()
            raise SystemExit(0)

        signal.signal(signal.SIGTERM, stop)
        try:
            serve(application, host=opts["host"], port=opts["port"], threads=opts["threads"])
        finally:
            if worker and worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=20)
