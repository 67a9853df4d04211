"""The catalogue summary behind the dashboard and the queue's category filter: computed by a background
job and read in one query, instead of full-table aggregates on every page view."""

from __future__ import annotations

import logging
from datetime import timedelta

from django.conf import settings
from django.db import connection, transaction
from django.db.models import Count, Q
from django.utils import timezone

from ..models import CatalogSummary, Product, Suggestion

log = logging.getLogger(__name__)
_ROW = 1


def summary_compute() -> dict:
    """Every figure in a few grouped scans (the background job runs this). The catalogue's figures leave
    the archived products out (counted apart); what reviewers decided counts whatever became of the product."""
    from .. import selectors
    from .thresholds import category_counts

    active = Q(archived_at__isnull=True)
    status = dict(Product.objects.filter(active).values_list("status").annotate(n=Count("id")).order_by())
    tags = Product.objects.aggregate(
        untagged=Count("id", filter=active & Q(seller_color_raw="")),
        unmapped=Count("id", filter=active & ~Q(seller_color_raw="") & Q(seller_color__isnull=True)),
        archived=Count("id", filter=~active))
    by = dict(Suggestion.objects.exclude(status=Suggestion.Status.SUPERSEDED).values_list("status")
              .annotate(n=Count("id")).order_by())
    pending = Suggestion.objects.filter(status=Suggestion.Status.PENDING)
    categories: dict[str, list[str]] = {"impute": [], "mislabel": []}
    for kind, category in (pending.exclude(product__category="").values_list("kind", "product__category")
                           .distinct().order_by("product__category")):
        categories.setdefault(kind, []).append(category)
    return {
        "products": sum(status.values()), "status": status, **tags,
        "pending": by.get("pending", 0), "decided": sum(by.get(k, 0) for k in Suggestion.DECIDED),
        "pending_by_kind": dict(pending.values_list("kind").annotate(n=Count("id")).order_by()),
        "categories": categories,
        # what the dashboard's charts draw, so that a view scans nothing
        "seller_final": selectors.seller_final_counts(), "acceptance": selectors.acceptance_counts(),
        "per_day": selectors.decisions_per_day(), "reviewers": selectors.decisions_by_reviewer(),
        "category_counts": category_counts(),
    }


def summary_refresh() -> dict:
    tally_fold()
    data = summary_compute()
    CatalogSummary.objects.update_or_create(pk=_ROW, defaults={
        "data": data, "computed_at": timezone.now(), "refresh_requested_at": None})
    return data


def tally_fold() -> None:
    """Fold the suggestion tally's appended rows into one per kind and status (PostgreSQL; one statement,
    so rows appended meanwhile are kept for the next fold)."""
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("""
            WITH folded AS (DELETE FROM colorreview_suggestiontally RETURNING kind, status, n)
            INSERT INTO colorreview_suggestiontally (kind, status, n)
            SELECT kind, status, sum(n) FROM folded GROUP BY kind, status HAVING sum(n) <> 0""")


def catalog_summary() -> dict:
    """The latest summary (one query); a stale one asks the background job for a fresh one, once."""
    row = CatalogSummary.objects.filter(pk=_ROW).first()
    if row is None:
        return {**summary_refresh(), "computed_at": timezone.now()}
    now = timezone.now()
    if row.computed_at < now - timedelta(seconds=settings.COLORREVIEW_SUMMARY_SECONDS):
        _request_refresh(now)
    return {**row.data, "computed_at": row.computed_at}


def summary_request_refresh() -> None:
    """After a change that moves the figures a lot (an archive): recount them now, in the background,
    unless a recount is already on its way."""
    _request_refresh(timezone.now())


def _request_refresh(now) -> None:
    from ..tasks import refresh_summary

    asked_long_ago = Q(refresh_requested_at__isnull=True) | Q(
        refresh_requested_at__lt=now - timedelta(seconds=settings.COLORREVIEW_SUMMARY_SECONDS))
    if CatalogSummary.objects.filter(asked_long_ago, pk=_ROW).update(refresh_requested_at=now):
        transaction.on_commit(lambda: _send(refresh_summary))


def _send(task) -> None:
    try:
        task.delay()
    except Exception:  # a page keeps working on the figures it has while the queue is unreachable
        log.warning("could not queue %s", task.name, exc_info=True)
