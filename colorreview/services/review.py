"""Reviewer decisions on suggestions. Each is a conditional update plus an event row."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from .. import roles
from ..models import Product, ReviewEvent, Suggestion
from . import AlreadyDecided, ServiceError
from .vocabulary import db_vocabulary


class UnknownColor(ServiceError):
    """A correction named a colour outside the vocabulary."""


def _decide(*, suggestion: Suggestion, user, action: str, status: str, final_color: str, note: str) -> Suggestion:
    roles.require_decider(user, suggestion.kind)
    with transaction.atomic():
        now = timezone.now()
        updated = Suggestion.objects.filter(pk=suggestion.pk, status=Suggestion.Status.PENDING).update(
            status=status, final_color=final_color, decided_by=user, decided_at=now)
        if not updated:
            current = Suggestion.objects.get(pk=suggestion.pk)
            who = f" by {current.decided_by}" if current.decided_by else ""
            raise AlreadyDecided(f"this suggestion was already {current.status}{who}")
        product = Product.objects.select_for_update().get(pk=suggestion.product_id)
        before = product.final_color
        Product.objects.filter(pk=product.pk).update(final_color=final_color)
        ReviewEvent.objects.create(
            product=product, suggestion=suggestion, actor=user, action=action,
            from_status=Suggestion.Status.PENDING, to_status=status, from_color=before, to_color=final_color,
            note=note, model_version=suggestion.prediction.model_version)
    suggestion.refresh_from_db()
    return suggestion


def suggestion_accept(*, suggestion: Suggestion, user, note: str = "") -> Suggestion:
    """The suggested colour becomes the product's colour."""
    return _decide(suggestion=suggestion, user=user, action=ReviewEvent.Action.ACCEPT,
                   status=Suggestion.Status.ACCEPTED, final_color=suggestion.suggested_color, note=note)


def suggestion_reject(*, suggestion: Suggestion, user, note: str = "") -> Suggestion:
    """The seller's tag stays."""
    product = suggestion.product
    keep = product.seller_color.name if product.seller_color_id else product.seller_color_raw
    return _decide(suggestion=suggestion, user=user, action=ReviewEvent.Action.REJECT,
                   status=Suggestion.Status.REJECTED, final_color=keep, note=note)


def suggestion_correct(*, suggestion: Suggestion, user, color: str, note: str = "") -> Suggestion:
    """Neither: the reviewer names the right colour (a vocabulary colour, aliases accepted)."""
    name = db_vocabulary().match(color)
    if name is None:
        raise UnknownColor(f"'{color}' is not a colour of the vocabulary")
    return _decide(suggestion=suggestion, user=user, action=ReviewEvent.Action.CORRECT,
                   status=Suggestion.Status.CORRECTED, final_color=name, note=note)


@dataclass
class BulkResult:
    accepted: list[int]
    skipped: list[tuple[int, str]]  # (id, why)


def suggestions_bulk_accept(*, user, suggestion_ids: list[int] | None = None, kind: str = "impute",
                            min_confidence: float | None = None, note: str = "") -> BulkResult:
    """Accept many pending suggestions of one kind; ones decided meanwhile are skipped, not redone."""
    roles.require_decider(user, kind)
    qs = Suggestion.objects.filter(kind=kind, status=Suggestion.Status.PENDING).select_related("product", "prediction")
    if suggestion_ids is not None:
        qs = qs.filter(pk__in=suggestion_ids)
    if min_confidence is not None:
        qs = qs.filter(confidence__gte=min_confidence)
    result = BulkResult([], [])
    requested = set(suggestion_ids or [])
    for suggestion in qs.order_by("-score", "id"):
        try:
            suggestion_accept(suggestion=suggestion, user=user, note=note or "bulk approval")
            result.accepted.append(suggestion.pk)
        except AlreadyDecided as exc:
            result.skipped.append((suggestion.pk, str(exc)))
    found = {s for s in result.accepted} | {s for s, _ in result.skipped}
    for missing in sorted(requested - found):
        result.skipped.append((missing, "not a pending suggestion of that kind"))
    return result
