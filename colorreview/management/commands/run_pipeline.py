from __future__ import annotations

import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ...models import PipelineRun
from ...services import ServiceError
from ...services.predictions import pipeline_run_create
from ...services.progress import active_run_of
from ...services.rejudge import suggestions_rejudge_if_changed
from ...services.runs import (
    QueueUnavailable,
    RunAlreadyActive,
    checked_model_version,
    embedded_queue,
    pipeline_run_here,
    pipeline_run_start,
    runs_adopt,
)
from ...services.workers import WorkerHere


class Command(BaseCommand):
    help = ("Queue every product without a prediction for the current model version, in batches. "
            "With --wait, show progress and return when all are done.")

    def add_arguments(self, parser):
        parser.add_argument("--wait", action="store_true", help="show progress and wait for the end")
        parser.add_argument("--timeout", type=float, default=None, help="with --wait: give up after N seconds")

    def handle(self, *args, **opts):
        try:
            version = checked_model_version()
        except ServiceError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(f"model version {version}")
        rejudged = suggestions_rejudge_if_changed()  # a run start would do it too, but silently
        if rejudged is not None and (rejudged.products or rejudged.reason != "first"):
            self.stdout.write(str(rejudged))
        if embedded_queue() and opts["wait"]:
            return self._run_here(version, opts["timeout"])
        try:
            run = pipeline_run_start()
        except RunAlreadyActive as exc:
            self.stdout.write(str(exc))
            return
        except QueueUnavailable as exc:
            raise CommandError(str(exc)) from exc
        if run is None:
            self.stdout.write("nothing to do: every product has a prediction for this model version")
            return
        self.stdout.write(f"run {run.pk} started: its products are queued in the background")
        if not opts["wait"]:
            if embedded_queue():
                self.stdout.write("the embedded queue is served by `python manage.py serve`")
            return
        self._follow(run, opts["timeout"])

    def _run_here(self, version: str, timeout: float | None):
        # a worker while it reads: a second such command leaves the runs it is reading alone
        with WorkerHere() as here:
            for plan in runs_adopt(me=here.name):  # unfinished runs that no worker is alive to finish
                self.stdout.write(f"finishing run {plan.run.pk}: {sum(map(len, plan.batches))} products left")
                self._execute(plan)
            other = active_run_of(version)
            if other is not None:  # left active: a live worker or another such command reads it
                self.stdout.write(f"{RunAlreadyActive(other)}: another process reads it; following it")
                self._follow(other, timeout)
            plan = pipeline_run_create()
            if plan is None:
                self.stdout.write("nothing to do: every product has a prediction for this model version")
                return
            self._execute(plan)

    def _execute(self, plan):
        started = time.perf_counter()
        with tqdm(total=sum(map(len, plan.batches)), desc="pipeline", unit="product") as bar:
            run = pipeline_run_here(plan=plan, progress=bar.update)
        self._summary(run, time.perf_counter() - started)

    def _follow(self, run: PipelineRun, timeout: float | None):
        started = time.perf_counter()
        with tqdm(total=run.total, desc="pipeline", unit="product") as bar:
            while True:
                run.refresh_from_db()
                bar.total = run.total
                bar.n = run.done + run.failed
                bar.refresh()
                if not run.active:  # finished, failed or cancelled
                    break
                if timeout and time.perf_counter() - started > timeout:
                    raise CommandError(f"run {run.pk} not finished after {timeout:.0f}s ({bar.n}/{run.total})")
                time.sleep(1)
        self._summary(run, time.perf_counter() - started)

    def _summary(self, run: PipelineRun, seconds: float):
        self.stdout.write(self.style.SUCCESS(
            f"run {run.pk}: {run.done} predicted, {run.failed} without a prediction, "
            f"{seconds:.1f}s ({run.total / max(seconds, 1e-9):.2f} products/s)"))
