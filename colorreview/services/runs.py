"""Starting pipeline runs: through the broker, or in this process with the embedded queue."""

from __future__ import annotations

from collections.abc import Callable

from django.conf import settings
from django.db import transaction

from ..models import PipelineRun
from .predictions import RunPlan, pipeline_run_create


def pipeline_run_start(*, user=None, product_ids: list[int] | None = None) -> PipelineRun | None:
    """Create a run and queue its batches after the transaction commits."""
    from ..tasks import predict_products

    plan = pipeline_run_create(user=user, product_ids=product_ids)
    if plan is None:
        return None
    for batch in plan.batches:
        transaction.on_commit(lambda b=batch, r=plan.run.pk: predict_products.delay(b, r))
    return plan.run


def pipeline_run_here(*, plan: RunPlan, progress: Callable[[int], None] | None = None) -> PipelineRun:
    """Execute a run's batches in this process (the embedded queue; never inside a web request)."""
    from ..tasks import predict_products

    for batch in plan.batches:
        predict_products.apply(args=(batch, plan.run.pk))
        if progress:
            progress(len(batch))
    plan.run.refresh_from_db()
    return plan.run


def embedded_queue() -> bool:
    return settings.COLORREVIEW_EMBEDDED_QUEUE


def catalog_import_and_queue(*, queue: bool = True, user=None, **import_kwargs):
    """Import a catalogue, re-check suggestions of retagged products and queue the new images.

    Returns (report, run); run is None when nothing needs the pipeline or ``queue`` is off.
    """
    from ..models import Product
    from .catalog import import_catalog
    from .suggestions import suggestion_refresh

    report = import_catalog(user=user, **import_kwargs)
    for product in Product.objects.filter(pk__in=report.retagged):
        suggestion_refresh(product=product)
    run = pipeline_run_start(user=user) if queue and report.to_predict else None
    return report, run
