"""Starting pipeline runs (through the broker, or in this process with the embedded queue) and
bringing back the runs whose worker died."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, Max, Min, OuterRef, Q, Sum
from django.utils import timezone

from inference.errors import WeightsError

from ..models import PipelineRun, Product, RunBatch
from . import ServiceError, progress
from .predictions import RunPlan, batches_of, model_version, pipeline_run_create, products_to_predict
from .progress import ACTIVE_RUN, UNFINISHED, active_run_of, ended_runs, run_active, run_finish_if_done
from .queue import BROKER_ERRORS, QueueUnavailable, unavailable
from .rejudge import suggestions_rejudge_later
from .workers import live_workers

log = logging.getLogger(__name__)

#: product ids looked at per statement while a run is queued in the background
ENQUEUE_WINDOW = 2000
#: batches (``COLORREVIEW_BATCH_SIZE``) in one range of a run over the whole catalogue: one message
#: per range, so that queuing a million products sends thousands of messages, not tens of thousands
RANGE_BATCHES = 4


class ModelUnavailable(ServiceError):
    """The pipeline's weights cannot be loaded (missing, damaged, not matching their card); no run starts.
    ``report`` carries the import that was done before, if any."""

    report = None


def checked_model_version() -> str:
    """The current model version; ``ModelUnavailable`` when its weights cannot be loaded."""
    try:
        return model_version()
    except WeightsError as exc:
        raise ModelUnavailable(f"the colour models cannot be loaded ({exc}); no run was started. "
                               "Restore the weights (or the promoted model's folder) and try again") from exc


class RunAlreadyActive(ServiceError):
    """A run of the same model version is still queued or running."""

    def __init__(self, run: PipelineRun):
        super().__init__(f"run {run.pk} of this model version is still {run.status} "
                         f"({run.done + run.failed} of {run.total} done); wait for it or cancel it")
        self.run = run


def pipeline_run_start(*, user=None, product_ids: list[int] | None = None,
                       reread: bool = False) -> PipelineRun | None:
    """Create a run and queue its batches (after the transaction commits, when inside one).

    Over the whole catalogue (no ``product_ids``) the run is created at once and its products are
    queued by a background job, by keyset over their ids; one such run per model version at a time
    (``RunAlreadyActive``). Raises ``QueueUnavailable`` when the broker cannot be reached (the run is
    then marked failed and its products released, so that a later run takes them).
    """
    checked_model_version()
    runs_forget_ranges()
    if product_ids is None and not reread:
        return _run_start_in_background(user)
    plan = pipeline_run_create(user=user, product_ids=product_ids, reread=reread)
    if plan is None:
        return None
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _publish(plan.run.pk, plan.batches))
    else:
        _publish(plan.run.pk, plan.batches)
    return plan.run


def _publish(run_id: int, batches: list[list[int]], release: bool = True,
             batch_ids: list[int] | None = None) -> None:
    """Hand the batches to the broker (with ``batch_ids``: ranges of a catalogue run, see ``RunBatch``);
    when it is down, a new run lets go of the products it could not queue."""
    from ..tasks import predict_products

    sent = 0
    try:
        with predict_products.app.producer_or_acquire() as producer:
            for i, batch in enumerate(batches):
                extra = {"kwargs": {"batch_id": batch_ids[i]}} if batch_ids else {}
                predict_products.apply_async((batch, run_id), producer=producer, **extra)
                sent += 1
    except BROKER_ERRORS as exc:
        if release and not batch_ids:
            _release(run_id, [pk for batch in batches[sent:] for pk in batch], exc)
        raise unavailable(exc) from exc


def _publish_ranges(run_id: int, batch_ids: list[int]) -> None:
    """Hand recorded ranges to the broker again: their worker finds their products by their bounds."""
    _publish(run_id, [[] for _ in batch_ids], batch_ids=batch_ids)


def _run_start_in_background(user) -> PipelineRun | None:
    suggestions_rejudge_later()  # what is read already is judged by the rules now, whether or not a run starts
    version = model_version()
    active = active_run_of(version)
    if active is not None:
        raise RunAlreadyActive(active)
    if not products_to_predict(version).exists():
        return None
    run = PipelineRun.objects.create(created_by=user if user and user.is_authenticated else None,
                                     model_version=version, enqueued=False)
    if transaction.get_connection().in_atomic_block:
        transaction.on_commit(lambda: _send_enqueue(run))
    else:
        _send_enqueue(run)
    return run


def _send_enqueue(run: PipelineRun, fail: bool = True) -> None:
    from ..tasks import enqueue_run

    try:
        enqueue_run.delay(run.pk)
    except BROKER_ERRORS as exc:
        if fail:  # a run that never got queued
            PipelineRun.objects.filter(pk=run.pk).update(status=PipelineRun.Status.FAILED, finished_at=timezone.now(),
                                                         error=f"the task queue was unavailable: {exc}"[:2000])
        raise unavailable(exc) from exc


def run_enqueue(*, run_id: int, window: int = ENQUEUE_WINDOW, publish: bool = True) -> int:
    """The background job of a run start: take the products to predict, a window of ids at a time in id
    order (each window an index range, whatever the planner thinks of the rest), record each batch as a
    range of ids (``RunBatch``) and queue it (``publish``; else only recorded, for this process to read).
    No product row is written: the worker that takes a range adopts its products. Products created after
    the job starts wait for the next run. Resumes after its cursor if delivered again. Returns how many
    products it queued."""
    run = PipelineRun.objects.get(pk=run_id)
    if run.enqueued or not run.active:
        return 0
    todo = products_to_predict(run.model_version)
    top = Product.objects.aggregate(top=Max("pk"))["top"] or 0
    if not run.total:  # an estimate for the progress bar; the real count is set at the end
        PipelineRun.objects.filter(pk=run.pk).update(total=todo.filter(pk__gt=run.enqueued_upto, pk__lte=top).count())
    size, sent = settings.COLORREVIEW_BATCH_SIZE * RANGE_BATCHES, 0
    while True:
        with transaction.atomic():
            # the run's row is locked while a window is recorded: a cancel, or a second delivery of this
            # job (a resume), waits for it and then goes on from the cursor it left
            last = (PipelineRun.objects.select_for_update(no_key=True).filter(
                pk=run.pk, status__in=ACTIVE_RUN, enqueued=False).values_list("enqueued_upto", flat=True).first())
            if last is None:  # cancelled, or queued whole by another delivery
                return sent
            if not last:  # start at the first product to predict (ids need not start at 1)
                low = todo.filter(pk__lte=top).aggregate(low=Min("pk"))["low"]
                last = low - 1 if low else top
            if last >= top:
                break
            upper = min(last + window, top)
            ids = list(todo.filter(pk__gt=last, pk__lte=upper).order_by("pk").values_list("pk", flat=True))
            if not ids:  # a gap in the ids: jump to the next product to predict, not window by empty window
                following = todo.filter(pk__gt=upper, pk__lte=top).aggregate(low=Min("pk"))["low"]
                upper = following - 1 if following else top
            chunks = batches_of(ids, size)
            rows = RunBatch.objects.bulk_create(
                [RunBatch(run_id=run.pk, first_id=c[0], last_id=c[-1], size=len(c)) for c in chunks])
            PipelineRun.objects.filter(pk=run.pk).update(enqueued_upto=upper)
        if publish and chunks:
            try:
                _publish(run.pk, chunks, batch_ids=[r.pk for r in rows])
            except QueueUnavailable as exc:  # the ranges stay recorded, untaken: a resume sends them
                PipelineRun.objects.filter(pk=run.pk).update(error=str(exc)[:2000])
                raise
        sent += len(ids)
    queued = RunBatch.objects.filter(run_id=run.pk).aggregate(n=Sum("size"))["n"] or 0  # taken ones too
    PipelineRun.objects.filter(pk=run.pk, status__in=ACTIVE_RUN).update(enqueued=True, total=queued)
    run_finish_if_done(run.pk)
    return sent


def pipeline_run_cancel(*, run: PipelineRun) -> bool:
    """Stop a run: its products not yet read go back to waiting (a batch still queued finds nothing to
    read), and no more are queued. Its figures are final from now on: a batch a worker had started is
    finished (its readings kept) but not counted. The ranges a worker had taken are kept a while
    (``runs_forget_ranges``): one delivered again because its worker died finds what that worker was reading
    and puts it back to waiting; those no worker took are dropped. False if the run had already ended."""
    with transaction.atomic():
        cancelled = PipelineRun.objects.filter(pk=run.pk, status__in=ACTIVE_RUN).update(
            status=PipelineRun.Status.CANCELLED, finished_at=timezone.now())
        if cancelled:
            run.products.filter(status=Product.Status.QUEUED).update(status=Product.Status.PENDING)
            RunBatch.objects.filter(run_id=run.pk, taken=False).delete()  # the run's row lock orders it with adoption
    return bool(cancelled)


def runs_forget_ranges() -> int:
    """Drop the ranges of runs that ended longer ago than the broker redelivers a message (its visibility
    timeout): no delivery of them is left to come."""
    timeout = (settings.CELERY_BROKER_TRANSPORT_OPTIONS or {}).get("visibility_timeout", 3600)
    long_ago = timezone.now() - timedelta(seconds=timeout)
    return RunBatch.objects.filter(run_id__in=ended_runs(before=long_ago)).delete()[0]


def _release(run_id: int, product_ids: list[int], exc: Exception) -> None:
    """Products whose batch could not be queued wait for a later run."""
    log.error("could not queue %d products of run %s: %s", len(product_ids), run_id, exc)
    Product.objects.filter(pk__in=product_ids, pipeline_run_id=run_id, status__in=UNFINISHED).update(
        status=Product.Status.PENDING)
    error = f"the task queue was unavailable: {exc}"[:2000]
    if not Product.objects.filter(pipeline_run_id=run_id, status__in=UNFINISHED).exists():
        PipelineRun.objects.filter(pk=run_id).update(status=PipelineRun.Status.FAILED, error=error,
                                                     finished_at=timezone.now())
    else:
        PipelineRun.objects.filter(pk=run_id).update(error=error)


def run_resume(*, run: PipelineRun) -> int:
    """Queue the run's unfinished products and the ranges no worker has taken again (and its queuing
    job, if that never ended); returns how many products. Safe while the old messages still exist: a
    batch finds only the products still unfinished in its run, and a range is adopted once. A run that has
    ended (finished, failed or cancelled) stays as it ended: nothing is queued, 0."""
    if not run_active(run.pk):
        return 0
    ids = list(run.products.filter(status__in=UNFINISHED).order_by("pk").values_list("pk", flat=True))
    ranges = list(RunBatch.objects.filter(run_id=run.pk, taken=False).values_list("pk", "size"))
    if not run.enqueued:
        _send_enqueue(run, fail=False)
    elif not ids and not ranges:
        run_finish_if_done(run.pk)
        return 0
    if ids:
        _publish(run.pk, batches_of(ids), release=False)
    if ranges:
        _publish_ranges(run.pk, [pk for pk, _ in ranges])
    PipelineRun.objects.filter(pk=run.pk).update(progress_at=timezone.now(), error="")
    return len(ids) + sum(size for _, size in ranges)


def runs_recover(*, worker_name: str) -> int:
    """At a worker's start, when no other worker is alive: the products a dead worker was reading
    are queued again (the embedded queue had dropped their message when it was received): in a run
    queued by ranges, also those of the ranges it had taken but not read yet, and the queuing job of a
    run that was still being queued (a second delivery of it goes on from the first one's cursor). On the
    embedded queue the ranges no worker has taken are sent again too (a range is adopted once, so a
    message that survived is read once)."""
    if live_workers(exclude=worker_name):
        return 0
    runs_release_orphans()
    recovered = 0
    for run in PipelineRun.objects.filter(status__in=ACTIVE_RUN):
        if not run.enqueued:
            log.warning("run %s: starting its queuing job again", run.pk)
            try:
                _send_enqueue(run, fail=False)
            except QueueUnavailable as exc:
                log.error("run %s: %s", run.pk, exc)
        if embedded_queue():  # its ranges received but not adopted were dropped with their messages
            ranges = list(RunBatch.objects.filter(run_id=run.pk, taken=False).values_list("pk", flat=True))
            if ranges:
                _publish_ranges(run.pk, ranges)
        states = [Product.Status.RUNNING]
        if RunBatch.objects.filter(run_id=run.pk, taken=True).exists():  # queued products came from a range
            states.append(Product.Status.QUEUED)
        ids = list(run.products.filter(status__in=states).order_by("pk").values_list("pk", flat=True))
        if ids:
            log.warning("run %s: queuing again %d products a stopped worker was reading", run.pk, len(ids))
            _publish(run.pk, batches_of(ids), release=False)
            recovered += len(ids)
        else:
            run_finish_if_done(run.pk)
    return recovered


def runs_release_orphans() -> int:
    """With no worker alive: the products still queued or being read in a run that has ended (a worker died
    reading them after the run was cancelled) go back to waiting for a later run; returns how many."""
    ended = ended_runs()
    released = Product.objects.filter(status__in=UNFINISHED, pipeline_run__in=ended).update(
        status=Product.Status.PENDING)
    RunBatch.objects.filter(run_id__in=ended).delete()  # a cancelled run's ranges: no delivery of them is left
    if released:
        log.warning("%d products of ended runs were left unfinished by a stopped worker: waiting again", released)
    return released


def run_stalled(run: PipelineRun) -> bool:
    """An unfinished run that has not moved for a while, with no worker alive to move it, or with
    workers that have moved no run at all meanwhile (its batches were lost, or no worker serves them)."""
    if not run.active:
        return False
    since = timezone.now() - timedelta(seconds=settings.COLORREVIEW_STALL_SECONDS)
    if (run.progress_at or run.created_at) > since:
        return False
    return not live_workers() or not PipelineRun.objects.filter(progress_at__gt=since).exists()


def pipeline_run_here(*, plan: RunPlan, progress: Callable[[int], None] | None = None) -> PipelineRun:
    """Execute a run's batches in this process (the embedded queue; never inside a web request)."""
    from ..tasks import predict_products

    for batch in plan.batches:
        predict_products.apply(args=(batch, plan.run.pk))
        if progress:
            progress(len(batch))
    run_finish_if_done(plan.run.pk)
    plan.run.refresh_from_db()
    return plan.run


def runs_adopt(*, me: str | None = None) -> list[RunPlan]:
    """With no worker alive but this process (named ``me`` among the workers, if it is one): the unfinished
    runs, as plans to execute here (``run_pipeline --wait``)."""
    if live_workers(exclude=me):
        return []
    runs_release_orphans()
    plans = []
    for run in PipelineRun.objects.filter(status__in=ACTIVE_RUN).order_by("pk"):
        if not run.enqueued:  # started from the pages, never queued: take its products here
            run_enqueue(run_id=run.pk, publish=False)
        _adopt_ranges(run)
        ids = list(run.products.filter(status__in=UNFINISHED).order_by("pk").values_list("pk", flat=True))
        if ids:
            plans.append(RunPlan(run, batches_of(ids)))
        else:
            run_finish_if_done(run.pk)
    return plans


def _adopt_ranges(run: PipelineRun) -> None:
    """Take every range of the run no worker has taken into the run (this process reads them)."""
    todo = products_to_predict(run.model_version)
    for batch_id in RunBatch.objects.filter(run_id=run.pk, taken=False).values_list("pk", flat=True):
        progress.batch_adopt(run_id=run.pk, batch_id=batch_id, todo=todo)


def embedded_queue() -> bool:
    return settings.COLORREVIEW_EMBEDDED_QUEUE


def catalog_import_and_queue(*, queue: bool = True, user=None, **import_kwargs):
    """Import a catalogue, re-check suggestions of retagged products and queue the new images.

    Returns (report, run); run is None when nothing needs the pipeline or ``queue`` is off.
    Raises ``QueueUnavailable`` (after the import) when the task queue cannot be reached, ``ModelUnavailable``
    when the models cannot be loaded.
    """
    from .catalog import import_catalog
    from .suggestions import suggestion_refresh

    report = import_catalog(user=user, **import_kwargs)
    for product in Product.objects.filter(pk__in=report.retagged):
        suggestion_refresh(product=product)
    if not (queue and report.to_predict):
        return report, None
    try:
        return report, pipeline_run_start(user=user)
    except RunAlreadyActive as exc:  # a run still being queued reaches the new products by its keyset; one
        run_extend(run=exc.run, user=user)  # queued already takes them in (or, ended meanwhile, a new run does)
        return report, exc.run
    except (QueueUnavailable, ModelUnavailable) as exc:  # imported; the pipeline run waits
        exc.report = report
        raise


def run_extend(*, run: PipelineRun, user=None) -> int:
    """The products an import left waiting while ``run`` (of the current model version) is active join it,
    once its queuing job has ended (before, its keyset reaches them); returns how many. Those that failed in
    it are not read again. If it ended meanwhile, a new run takes them."""
    with transaction.atomic():
        active = PipelineRun.objects.select_for_update().filter(pk=run.pk, status__in=ACTIVE_RUN).first()
        if active is not None and not active.enqueued:
            return 0  # its queuing job reaches them
        if active is None:
            ids = []
        else:
            in_a_range = RunBatch.objects.filter(run=active, taken=False, first_id__lte=OuterRef("pk"),
                                                 last_id__gte=OuterRef("pk"))  # a worker adopts those with it
            ids = list(products_to_predict(active.model_version).filter(status=Product.Status.PENDING)
                       .exclude(Exists(in_a_range)).order_by("pk").values_list("pk", flat=True))
            Product.objects.filter(pk__in=ids).update(status=Product.Status.QUEUED, status_detail="",
                                                      pipeline_run=active, attempts=0)
            PipelineRun.objects.filter(pk=active.pk).update(total=F("total") + len(ids))
    if active is None:  # it ended between the import's start and now
        try:
            started = pipeline_run_start(user=user)
        except RunAlreadyActive:
            return 0
        return started.total if started is not None else 0
    if ids:
        _publish(active.pk, batches_of(ids))
    return len(ids)


def nothing_to_run() -> str:
    """What a run start that found nothing to read says: every readable product is read, and how many are
    not because their image could not be read (those are not read again until a new image is imported)."""
    from ..models import Product

    unread = Product.objects.filter(archived_at__isnull=True).filter(
        ~Q(image_error="") | Q(status__in=[Product.Status.NO_PREDICTION, Product.Status.FAILED])).count()
    message = "Every product already has a prediction for the current model"
    if unread:
        message += (f", except {unread} whose image could not be read (see each product's page; import a "
                    f"readable image to have {'it' if unread == 1 else 'them'} read)")
    return message + "."
