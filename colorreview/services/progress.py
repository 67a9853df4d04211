"""Run progress, derived from the states of the run's products.

A product belongs to the run that last queued it (``Product.pipeline_run``). A run over the whole
catalogue is queued as ranges of ids (``RunBatch``), and the worker that first takes a range adopts
its products into the run. A batch claims the products that are still unfinished in its run, and
finishes each with a conditional update (queued/running -> predicted/no prediction/failed): a
redelivered batch finds nothing left to claim or to finish, so nothing is counted twice. The run ends
when every range is taken and none of its products is unfinished, and its figures are then counted
from the products' states. A cancelled run's figures are final: a batch a worker had started when it
was cancelled is finished and kept, but no longer counted, and no reading of the run starts after it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from ..models import PipelineRun, Product, RunBatch

#: product states of a product waiting for, or being read by, a worker
UNFINISHED = (Product.Status.QUEUED, Product.Status.RUNNING)
#: run states in which a run still takes products
ACTIVE_RUN = (PipelineRun.Status.QUEUED, PipelineRun.Status.RUNNING)


def run_active(run_id: int) -> bool:
    """Whether the run still takes products (not finished, failed or cancelled)."""
    return PipelineRun.objects.filter(pk=run_id, status__in=ACTIVE_RUN).exists()


def active_run_of(version: str) -> PipelineRun | None:
    """The oldest run of the model version that still takes products, if any."""
    return PipelineRun.objects.filter(model_version=version, status__in=ACTIVE_RUN).order_by("pk").first()


def ended_runs(*, before=None):
    """The ids of the runs that have ended (of those that ended before ``before``, if given), as a subquery."""
    ended = PipelineRun.objects.exclude(status__in=ACTIVE_RUN)
    return (ended.filter(finished_at__lt=before) if before is not None else ended).values("pk")


#: a product whose worker died this many times while reading it is given up (a poison image)
MAX_ATTEMPTS = 3


@dataclass
class Claim:
    """What one delivery of a batch should read: together (``batch``) or one at a time (``alone``)."""

    batch: list[Product] = field(default_factory=list)
    alone: list[Product] = field(default_factory=list)
    given_up: list[Product] = field(default_factory=list)


def batch_adopt(*, run_id: int, batch_id: int, todo) -> list[int]:
    """The ids of a range batch's products that are unfinished in its run. The first delivery adopts the
    range's products still to predict (``todo``) into the run, unless the run was cancelled meanwhile;
    a later one (the worker died, or the batch was queued again) adopts nothing more."""
    bounds = _bounds(run_id, batch_id)
    if bounds is None:  # the run ended and its ranges were dropped
        return []
    first, last = bounds
    with transaction.atomic():
        # the run's row locked (a cancel waits for the adoption, or the adoption sees the cancel)
        active = bool(PipelineRun.objects.select_for_update(no_key=True).filter(pk=run_id, status__in=ACTIVE_RUN)
                      .values_list("pk"))
        if active and RunBatch.objects.filter(pk=batch_id, taken=False).update(taken=True):
            Product.objects.filter(pk__in=todo.filter(pk__gte=first, pk__lte=last).values("pk")).update(
                status=Product.Status.QUEUED, status_detail="", pipeline_run_id=run_id, attempts=0)
    return list(_unfinished_in(run_id, bounds).order_by("pk").values_list("pk", flat=True))


def _bounds(run_id: int, batch_id: int) -> tuple[int, int] | None:
    """A range's first and last product id, or None once its run has dropped it."""
    return RunBatch.objects.filter(pk=batch_id, run_id=run_id).values_list("first_id", "last_id").first()


def _unfinished_in(run_id: int, bounds: tuple[int, int]):
    """The run's unfinished products within a range."""
    return Product.objects.filter(pipeline_run_id=run_id, status__in=UNFINISHED, pk__gte=bounds[0], pk__lte=bounds[1])


def batch_claim(*, run_id: int, product_ids: list[int]) -> Claim:
    """Claim the batch's products that are still unfinished in its run.

    A first delivery reads them together. A redelivery (a worker died or a batch was retried)
    reads them one at a time, the least tried first, so that one image that kills its worker
    cannot take the others with it; after ``MAX_ATTEMPTS`` such deaths the image is given up.
    """
    if not run_active(run_id):  # cancelled: nothing starts
        # what is still being read in it was claimed by a delivery whose worker died: it waits for a later run
        Product.objects.filter(pk__in=product_ids, pipeline_run_id=run_id, status=Product.Status.RUNNING).update(
            status=Product.Status.PENDING)
        return Claim()
    products = list(Product.objects.filter(pk__in=product_ids, pipeline_run_id=run_id, status__in=UNFINISHED)
                    .order_by("attempts", "pk"))
    claim = Claim(given_up=[p for p in products if p.attempts >= MAX_ATTEMPTS])
    rest = [p for p in products if p.attempts < MAX_ATTEMPTS]
    if rest and all(p.attempts == 0 for p in rest):
        Product.objects.filter(pk__in=[p.pk for p in rest], pipeline_run_id=run_id, status__in=UNFINISHED).update(
            status=Product.Status.RUNNING, attempts=F("attempts") + 1)
        claim.batch = rest
    else:
        claim.alone = rest
    if products:
        PipelineRun.objects.filter(pk=run_id, status=PipelineRun.Status.QUEUED).update(
            status=PipelineRun.Status.RUNNING)
        PipelineRun.objects.filter(pk=run_id).update(progress_at=timezone.now())
    return claim


def product_claim(*, run_id: int, product: Product) -> bool:
    """Claim one product for a lone reading; False if it was finished or moved to another run meanwhile, or
    its run was cancelled."""
    return bool(Product.objects.filter(pk=product.pk, pipeline_run_id=run_id, status__in=UNFINISHED,
                                       pipeline_run__status__in=ACTIVE_RUN).update(
        status=Product.Status.RUNNING, attempts=F("attempts") + 1))


def product_finish(*, product_id: int, status: str, detail: str = "", run_id: int | None = None,
                   image_checksum: str | None = None) -> bool:
    """Record how a product ended; with a run, only while it is unfinished in that run (counted once)."""
    qs = Product.objects.filter(pk=product_id)
    if image_checksum is not None:
        qs = qs.filter(image_checksum=image_checksum)  # a re-imported image keeps its new state
    if run_id is None:
        return bool(qs.update(status=status, status_detail=detail))
    with transaction.atomic():
        changed = qs.filter(pipeline_run_id=run_id, status__in=UNFINISHED).update(status=status, status_detail=detail)
        if changed:
            done = changed if status == Product.Status.PREDICTED else 0
            run_count(run_id, done=done, failed=changed - done)
    return bool(changed)


def run_count(run_id: int, *, done: int, failed: int) -> None:
    """Count products a run finished, while it runs: a cancelled run keeps the figures it had then."""
    PipelineRun.objects.filter(pk=run_id, status__in=ACTIVE_RUN).update(
        done=F("done") + done, failed=F("failed") + failed, progress_at=timezone.now())


def run_finish_if_done(run_id: int) -> bool:
    """End the run when none of its products is unfinished; its figures are counted from their states."""
    # in this order: a range's adoption marks it taken and queues its products in one transaction, so a
    # range seen taken here has its products visible to the check that follows
    if not PipelineRun.objects.filter(pk=run_id, enqueued=True).exists():  # still being queued
        return False
    if RunBatch.objects.filter(run_id=run_id, taken=False).exists():  # ranges no worker has taken yet
        return False
    if Product.objects.filter(pipeline_run_id=run_id, status__in=UNFINISHED).exists():
        return False
    states = dict(Product.objects.filter(pipeline_run_id=run_id).values_list("status")
                  .annotate(n=Count("id")).order_by())
    done = states.get(Product.Status.PREDICTED, 0)
    failed = states.get(Product.Status.NO_PREDICTION, 0) + states.get(Product.Status.FAILED, 0)
    finished = PipelineRun.objects.filter(pk=run_id).exclude(
        status__in=[PipelineRun.Status.FINISHED, PipelineRun.Status.CANCELLED]).update(
        status=PipelineRun.Status.FINISHED, finished_at=timezone.now(), done=done, failed=failed,
        total=done + failed)
    if finished:
        RunBatch.objects.filter(run_id=run_id).delete()
    return bool(finished)


def run_record_failure(*, run_id: int | None, product_ids: list[int], error: str,
                       batch_id: int | None = None) -> None:
    """A batch failed for good (after retries): mark its unfinished products failed. A range counts as
    taken: its products that were being read are marked failed, those not tried yet (and those it had not
    adopted) wait for a later run."""
    message = f"pipeline error: {error}"[:2000]
    if batch_id is not None and run_id is not None:
        bounds = _bounds(run_id, batch_id)
        if bounds is not None:
            RunBatch.objects.filter(pk=batch_id).update(taken=True)
            in_range = _unfinished_in(run_id, bounds)
            in_range.filter(attempts=0).update(status=Product.Status.PENDING)
            product_ids = list(in_range.values_list("pk", flat=True))
    if run_id is None:
        Product.objects.filter(pk__in=product_ids, status__in=UNFINISHED).update(
            status=Product.Status.FAILED, status_detail=message)
        return
    for pk in product_ids:
        product_finish(product_id=pk, status=Product.Status.FAILED, detail=message, run_id=run_id)
    PipelineRun.objects.filter(pk=run_id).update(error=message)
    run_finish_if_done(run_id)
