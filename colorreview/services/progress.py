"""Run progress, derived from the states of the run's products.

A product belongs to the run that last queued it (``Product.pipeline_run``). A batch claims the
products that are still unfinished in its run, and finishes each with a conditional update
(queued/running -> predicted/no prediction/failed): a redelivered batch finds nothing left to
claim or to finish, so nothing is counted twice. The run ends when none of its products is
unfinished, and its figures are then counted from the products' states.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction
from django.db.models import Count, F
from django.utils import timezone

from ..models import PipelineRun, Product

#: product states of a product waiting for, or being read by, a worker
UNFINISHED = (Product.Status.QUEUED, Product.Status.RUNNING)
#: a product whose worker died this many times while reading it is given up (a poison image)
MAX_ATTEMPTS = 3


@dataclass
class Claim:
    """What one delivery of a batch should read: together (``batch``) or one at a time (``alone``)."""

    batch: list[Product] = field(default_factory=list)
    alone: list[Product] = field(default_factory=list)
    given_up: list[Product] = field(default_factory=list)


def batch_claim(*, run_id: int, product_ids: list[int]) -> Claim:
    """Claim the batch's products that are still unfinished in its run.

    A first delivery reads them together. A redelivery (a worker died or a batch was retried)
    reads them one at a time, the least tried first, so that one image that kills its worker
    cannot take the others with it; after ``MAX_ATTEMPTS`` such deaths the image is given up.
    """
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
    """Claim one product for a lone reading; False if it was finished or moved to another run meanwhile."""
    return bool(Product.objects.filter(pk=product.pk, pipeline_run_id=run_id, status__in=UNFINISHED).update(
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
            counter = "done" if status == Product.Status.PREDICTED else "failed"
            PipelineRun.objects.filter(pk=run_id).update(**{counter: F(counter) + changed},
                                                         progress_at=timezone.now())
    return bool(changed)


def run_finish_if_done(run_id: int) -> bool:
    """End the run when none of its products is unfinished; its figures are counted from their states."""
    if Product.objects.filter(pipeline_run_id=run_id, status__in=UNFINISHED).exists():
        return False
    if not PipelineRun.objects.filter(pk=run_id, enqueued=True).exists():  # still being queued
        return False
    states = dict(Product.objects.filter(pipeline_run_id=run_id).values_list("status")
                  .annotate(n=Count("id")).order_by())
    done = states.get(Product.Status.PREDICTED, 0)
    failed = states.get(Product.Status.NO_PREDICTION, 0) + states.get(Product.Status.FAILED, 0)
    return bool(PipelineRun.objects.filter(pk=run_id).exclude(
            status__in=[PipelineRun.Status.FINISHED, PipelineRun.Status.CANCELLED]).update(
        status=PipelineRun.Status.FINISHED, finished_at=timezone.now(), done=done, failed=failed))


def run_record_failure(*, run_id: int | None, product_ids: list[int], error: str) -> None:
    """A batch failed for good (after retries): mark its unfinished products failed."""
    message = f"pipeline error: {error}"[:2000]
    if run_id is None:
        Product.objects.filter(pk__in=product_ids, status__in=UNFINISHED).update(
            status=Product.Status.FAILED, status_detail=message)
        return
    for pk in product_ids:
        product_finish(product_id=pk, status=Product.Status.FAILED, detail=message, run_id=run_id)
    PipelineRun.objects.filter(pk=run_id).update(error=message)
    run_finish_if_done(run_id)
