from __future__ import annotations

import os
import signal
import subprocess
import sys

from django.conf import settings
from django.core.management.base import BaseCommand

#: bytes a request body may carry beyond COLORREVIEW_MAX_UPLOAD_BYTES (the form's other fields and boundaries)
BODY_MARGIN = 1024 * 1024


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
            # a body over the upload limit is answered 413 from its Content-Length, before any of it is read
            # (the margin leaves room for a form's other fields around an upload just under the limit)
            serve(application, host=opts["host"], port=opts["port"], threads=opts["threads"],
                  max_request_body_size=settings.COLORREVIEW_MAX_UPLOAD_BYTES + BODY_MARGIN)
        finally:
            if worker and worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=20)
