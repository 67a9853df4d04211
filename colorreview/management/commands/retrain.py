from __future__ import annotations

import time

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.utils import timezone
from tqdm import tqdm

from ...models import ModelVersion
from ...services import ServiceError
from ...services.queue import BROKER_ERRORS, unavailable
from ...services.retrain import model_retrain, retrain_check
from ...services.runs import embedded_queue


class Command(BaseCommand):
    help = ("Fine-tune the colour classifier on reviewers' decisions, judge it on the audited set and "
            "promote it when it is not worse; then re-read the products whose result may change. "
            "Queued on the default queue; with --wait, show progress and return when done.")

    def add_arguments(self, parser):
        parser.add_argument("--wait", action="store_true", help="show progress and wait for the end")
        parser.add_argument("--timeout", type=float, default=None,
                            help="with --wait and a broker: give up after N s (default: the task time limit, "
                                 "COLORREVIEW_TASK_TIME_LIMIT, plus 10 minutes)")

    def handle(self, *args, **opts):
        try:
            labels = retrain_check()
        except ServiceError as exc:
            raise CommandError(str(exc)) from exc
        counts = labels.counts()
        self.stdout.write(f"{counts['reviewed']} reviewed labels, {counts['catalogue']} catalogue tags")
        if embedded_queue() and opts["wait"]:
            return self._report(self._run_here())
        from ...tasks import retrain_job

        started = timezone.now()
        try:
            retrain_job.delay()
        except BROKER_ERRORS as exc:
            raise CommandError(str(unavailable(exc))) from exc
        self.stdout.write("retrain queued on the default queue")
        if not opts["wait"]:
            if embedded_queue():
                self.stdout.write("the embedded queue is served by `python manage.py serve`")
            return
        timeout = opts["timeout"] if opts["timeout"] is not None else settings.CELERY_TASK_TIME_LIMIT + 600
        self._report(self._follow(started, timeout))

    def _run_here(self) -> ModelVersion:
        with tqdm(desc="retrain: reading images", unit="image") as bar:
            try:
                return model_retrain(progress=bar.update)
            except ServiceError as exc:
                raise CommandError(str(exc)) from exc

    def _follow(self, started, timeout: float | None) -> ModelVersion:
        begun = time.perf_counter()
        while True:
            version = ModelVersion.objects.filter(created_at__gte=started).exclude(
                status=ModelVersion.Status.CANDIDATE).order_by("created_at").first()
            if version is not None:
                return version
            if timeout and time.perf_counter() - begun > timeout:
                raise CommandError(f"no retrain result after {timeout:.0f}s: the job is still waiting for a worker "
                                   "of the default queue, or a worker refused or lost it; see the workers' log")
            time.sleep(2)

    def _report(self, version: ModelVersion) -> None:
        if version.status == ModelVersion.Status.REFUSED:
            raise CommandError(f"candidate {version.version} {version.message}" if version.figures else version.message)
        self.stdout.write(self.style.SUCCESS(f"model version {version.version} {version.message}"))
        self.stdout.write(f"{version.requeued} products queued to be read again"
                          + (f" (run {version.run_id})" if version.run_id else ""))
