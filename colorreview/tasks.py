"""Celery tasks: take ids, call one service, stay idempotent. Their queues are set in settings."""

from __future__ import annotations

import logging

from celery import Task, shared_task
from django.db import InterfaceError, OperationalError

from .services import (
    ServiceError,
    bulk,
    imports,
    predictions,
    progress,
    rejudge,
    retrain,
    runs,
    summary,
    thresholds,
    vocabulary,
)

log = logging.getLogger(__name__)


class RecordingTask(Task):
    """Records a batch that failed for good on its products and its pipeline run."""

    def on_failure(self, exc, task_id, args, kwargs, einfo):
        product_ids = kwargs.get("product_ids") or (args[0] if args else [])
        run_id = kwargs.get("run_id") or (args[1] if len(args) > 1 else None)
        log.error("pipeline batch %s failed: %s", task_id, exc)
        progress.run_record_failure(run_id=run_id, product_ids=product_ids, error=f"{type(exc).__name__}: {exc}",
                                    batch_id=kwargs.get("batch_id"))


@shared_task(bind=True, base=RecordingTask, max_retries=3,
             autoretry_for=(OperationalError, InterfaceError), retry_backoff=True, retry_jitter=True)
def predict_products(self, product_ids: list[int], run_id: int | None = None,
                     batch_id: int | None = None) -> dict[str, int]:
    """Run the colour pipeline over a batch of products, or over a range of a run (``batch_id``; safe to
    deliver twice)."""
    return predictions.predict_products(product_ids=product_ids, run_id=run_id, batch_id=batch_id)


@shared_task
def import_catalog_job(batch_id: int) -> None:
    """Import an uploaded catalogue that was stored on disk (safe to deliver twice)."""
    imports.import_job_run(batch_id=batch_id)


@shared_task
def refresh_category_suggestions(category: str) -> int:
    """Re-judge a category's products after its thresholds changed (idempotent)."""
    return thresholds.category_suggestions_refresh(category=category)


@shared_task
def rejudge_suggestions() -> str:
    """Judge every product again from its latest reading, the flag rules having changed (idempotent)."""
    return str(rejudge.suggestions_rejudge_if_changed() or "the flag rules are those applied last")


@shared_task
def retrain_job(user_id: int | None = None) -> int | None:
    """Fine-tune the classifier on reviewers' decisions, judge it, promote it when not worse; returns
    the model version's id (None when refused before training: too few labels, weights refused)."""
    from django.contrib.auth import get_user_model

    user = get_user_model().objects.filter(pk=user_id).first() if user_id else None
    try:
        return retrain.model_retrain(user=user).pk
    except ServiceError as exc:
        log.warning("retrain refused: %s", exc)
        # the dashboard and `retrain --wait` see why: on the candidate's row, or on one of its own
        return getattr(exc, "version_id", None) or retrain.refusal_record(exc, user).pk


@shared_task
def bulk_approve_job(approval_id: int) -> None:
    """Accept a large bulk approval chunk by chunk (resumes after its cursor if delivered again)."""
    bulk.bulk_approval_run(approval_id=approval_id)


@shared_task
def bulk_undo_job(approval_id: int) -> None:
    """Put a large bulk approval's suggestions back in the queue."""
    bulk.bulk_undo_run(approval_id=approval_id)


@shared_task
def refresh_summary() -> None:
    """Recompute the dashboard's figures."""
    summary.summary_refresh()


@shared_task
def enqueue_run(run_id: int) -> None:
    """Queue the batches of a run started over the whole catalogue (resumes after its cursor)."""
    runs.run_enqueue(run_id=run_id)


@shared_task
def remap_seller_colors() -> int:
    """Map every seller tag again after a vocabulary edit (set-based; running it twice changes nothing)."""
    return len(vocabulary.seller_colors_remap())
