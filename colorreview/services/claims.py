"""Claims: the cards on a reviewer's screen are leased to them for a few minutes, so that two
reviewers never work on the same card. A lease lapses by itself; nothing has to clean it up."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db.models import BooleanField, ExpressionWrapper, Q, QuerySet
from django.utils import timezone

from ..models import Suggestion
from . import ServiceError


class ClaimedByOther(ServiceError):
    """Another reviewer holds the card."""


def lease_end(now: datetime | None = None) -> datetime:
    return (now or timezone.now()) + timedelta(seconds=settings.COLORREVIEW_CLAIM_SECONDS)


def free_for(user, now: datetime | None = None) -> Q:
    """Suggestions nobody else holds a live claim on."""
    now = now or timezone.now()
    return Q(claimed_by__isnull=True) | Q(claimed_by=user) | Q(claimed_until__lt=now)


def held_by_others(user, now: datetime | None = None) -> ExpressionWrapper:
    """True for a suggestion another reviewer holds a live claim on (``free_for``'s complement), to annotate."""
    return ExpressionWrapper(~free_for(user, now), output_field=BooleanField())


def suggestions_claim(*, user, suggestion_ids: list[int]) -> set[int]:
    """Lease these pending suggestions to ``user``; returns the ids the user holds now (others are
    held by someone else, or no longer pending)."""
    now = timezone.now()
    Suggestion.objects.filter(free_for(user, now), pk__in=suggestion_ids, status=Suggestion.Status.PENDING).update(
        claimed_by=user, claimed_until=lease_end(now))
    return set(Suggestion.objects.filter(pk__in=suggestion_ids, claimed_by=user,
                                         status=Suggestion.Status.PENDING).values_list("pk", flat=True))


def suggestion_release(*, suggestion: Suggestion, user) -> bool:
    """Give a card back (skipped): another reviewer's queue may show it at once."""
    return bool(Suggestion.objects.filter(pk=suggestion.pk, claimed_by=user).update(
        claimed_by=None, claimed_until=None))


def unclaimed(qs: QuerySet[Suggestion], user) -> QuerySet[Suggestion]:
    return qs.filter(free_for(user))


def holder_message(suggestion: Suggestion) -> str:
    until = timezone.localtime(suggestion.claimed_until)
    return f"this card is being reviewed by {suggestion.claimed_by} (until {until:%H:%M})"
