"""Reviewer decisions on suggestions, their undo and reopening, and colours set by hand.

Each is a conditional update plus an event row; nothing is overwritten without an event."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from .. import roles
from ..models import Product, ReviewEvent, Suggestion
from . import AlreadyDecided, ServiceError, note_text
from .catalog_write import TAG_CHANGE
from .claims import ClaimedByOther, free_for, holder_message, lease_end
from .suggestions import latest_prediction, suggestion_supersede, suggestions_refresh_batch
from .vocabulary import db_vocabulary

DECISION_ACTIONS = (ReviewEvent.Action.ACCEPT, ReviewEvent.Action.REJECT, ReviewEvent.Action.CORRECT)


class UnknownColor(ServiceError):
    """A correction named a colour outside the vocabulary."""


class NothingToUndo(ServiceError):
    """The reviewer has no decision left that can be taken back."""


def _decide(*, suggestion: Suggestion, user, action: str, status: str, final_color: str, note: str) -> Suggestion:
    note = note_text(note)
    roles.require_decider(user, suggestion.kind)
    with transaction.atomic():
        # the product locked before its suggestion, the order every writer takes them in (no deadlock)
        product = Product.objects.select_for_update().get(pk=suggestion.product_id)
        now = timezone.now()
        updated = Suggestion.objects.filter(free_for(user, now), pk=suggestion.pk,
                                            status=Suggestion.Status.PENDING).update(
            status=status, final_color=final_color, decided_by=user, decided_at=now,
            claimed_by=None, claimed_until=None)
        if not updated:
            _refuse(Suggestion.objects.select_related("decided_by", "claimed_by").get(pk=suggestion.pk))
        before = product.final_color
        Product.objects.filter(pk=product.pk).update(final_color=final_color)
        ReviewEvent.objects.create(
            product=product, suggestion=suggestion, actor=user, action=action,
            from_status=Suggestion.Status.PENDING, to_status=status, from_color=before, to_color=final_color,
            note=note, model_version=suggestion.prediction.model_version)
    suggestion.refresh_from_db()
    return suggestion


def _refuse(current: Suggestion) -> None:
    if current.status == Suggestion.Status.PENDING:
        raise ClaimedByOther(holder_message(current))
    if current.status == Suggestion.Status.SUPERSEDED:  # why, and by whom, the history says
        why = superseded_why(current)
        raise AlreadyDecided(f"this suggestion was already superseded{f': {why}' if why else ''}")
    who = f" by {current.decided_by}" if current.decided_by else ""
    raise AlreadyDecided(f"this suggestion was already {current.status}{who}")


def superseded_why(suggestion: Suggestion) -> str:
    """Why the suggestion was superseded, as its history says ("" if it does not say)."""
    event = suggestion.events.filter(action=ReviewEvent.Action.SUPERSEDE).order_by("-created_at", "-id").first()
    return event.note if event is not None else ""


def suggestion_accept(*, suggestion: Suggestion, user, note: str = "") -> Suggestion:
    """The suggested colour becomes the product's colour (if it is still a colour of the vocabulary)."""
    if suggestion.suggested_color not in db_vocabulary():
        raise ServiceError(f"{suggestion.suggested_color} was taken out of the vocabulary; correct the colour "
                           "to another one, or reject the suggestion")
    return _decide(suggestion=suggestion, user=user, action=ReviewEvent.Action.ACCEPT,
                   status=Suggestion.Status.ACCEPTED, final_color=suggestion.suggested_color, note=note)


def suggestion_reject(*, suggestion: Suggestion, user, note: str = "") -> Suggestion:
    """The seller's tag stays."""
    product = suggestion.product
    return _decide(suggestion=suggestion, user=user, action=ReviewEvent.Action.REJECT,
                   status=Suggestion.Status.REJECTED, final_color=product.seller_color_display, note=note)


def vocabulary_color(color: str) -> str:
    """The vocabulary name of ``color`` (aliases accepted), or UnknownColor."""
    name = db_vocabulary().match(color)
    if name is None:
        raise UnknownColor(f"'{color}' is not a colour of the vocabulary")
    return name


def suggestion_correct(*, suggestion: Suggestion, user, color: str, note: str = "") -> Suggestion:
    """Neither: the reviewer names the right colour (a vocabulary colour, aliases accepted). Naming the
    suggested colour itself is an acceptance."""
    name = vocabulary_color(color)
    if name == suggestion.suggested_color:
        return suggestion_accept(suggestion=suggestion, user=user, note=note)
    return _decide(suggestion=suggestion, user=user, action=ReviewEvent.Action.CORRECT,
                   status=Suggestion.Status.CORRECTED, final_color=name, note=note)


def _stale_why(suggestion: Suggestion, product: Product, reading) -> str:
    """What the history says of a suggestion taken back and superseded at once: what changed since it was
    made (the re-judging supersedes it only if it no longer applies)."""
    if suggestion.seller_color != product.seller_color_display:
        return (f"taken back, but the seller tag changed since the decision "
                f"({suggestion.seller_color or 'none'} → {product.seller_color_display or 'none'})")
    if reading.pk != suggestion.prediction_id:
        return "taken back, but the product was read again since the decision"
    return "taken back, but the flag rules in force now no longer make this suggestion"


def _reopen(*, suggestion: Suggestion, user, action: str, note: str) -> Suggestion:
    """Back to pending (held by ``user``); the product's colour goes back to what it was before the
    decision, unless it has been changed since (then it stays, and the event says so). The product is then
    judged as it is now: a suggestion that no longer applies is superseded (its status says so)."""
    note = note_text(note)
    with transaction.atomic():
        product = Product.objects.select_for_update().get(pk=suggestion.product_id)
        current = Suggestion.objects.select_related("prediction").get(pk=suggestion.pk)
        if current.status not in Suggestion.DECIDED:
            raise AlreadyDecided(f"this suggestion is {current.status}, there is no decision to take back")
        if product.archived_at is not None:
            raise ServiceError(f"{product.sku} is archived; unarchive it before taking a decision back")
        if Suggestion.objects.filter(product=product, status=Suggestion.Status.PENDING).exists():
            raise ServiceError("a newer suggestion for this product is open; decide that one instead")
        decision = current.events.filter(action__in=DECISION_ACTIONS).order_by("-created_at", "-id").first()
        still_ours = decision is not None and product.final_color == decision.to_color
        restored = _undecided_colour(product, decision) if still_ours else product.final_color
        updated = Suggestion.objects.filter(pk=current.pk, status=current.status).update(
            status=Suggestion.Status.PENDING, final_color="", decided_by=None, decided_at=None,
            claimed_by=user, claimed_until=lease_end())
        if not updated:
            raise AlreadyDecided("this suggestion changed meanwhile; reload and try again")
        Product.objects.filter(pk=product.pk).update(final_color=restored)
        if not still_ours:
            note = f"{note} (the colour was changed after the decision and is kept)".strip()
        ReviewEvent.objects.create(
            product=product, suggestion=current, actor=user, action=action, from_status=current.status,
            to_status=Suggestion.Status.PENDING, from_color=product.final_color, to_color=restored, note=note,
            model_version=current.prediction.model_version)
        # judged again as the product is now: a tag re-imported or a newer reading since the decision may
        # mean that the suggestion no longer applies (it is superseded, and what applies now is opened)
        product.final_color = restored
        reading = latest_prediction(product)
        if reading is not None:
            suggestions_refresh_batch(pairs=[(product, reading)], why=_stale_why(current, product, reading))
    suggestion.refresh_from_db()
    return suggestion


def _undecided_colour(product: Product, decision: ReviewEvent) -> str:
    """The colour the product has without the decision: the one it had before, unless a re-import has
    changed the seller's tag since (then the colour the tag gives now)."""
    retagged = ReviewEvent.objects.filter(product=product, action=ReviewEvent.Action.IMPORT, pk__gt=decision.pk,
                                          note__contains=TAG_CHANGE).exists()
    return product.seller_color_display if retagged else decision.from_color


def suggestion_undo_last(*, user, note: str = "") -> Suggestion:
    """Take back the user's own latest decision still standing (each call goes one further back);
    decisions on archived products are passed over."""
    last = (Suggestion.objects.filter(decided_by=user, status__in=Suggestion.DECIDED, product__archived_at__isnull=True)
            .select_related("product", "prediction").order_by("-decided_at", "-id").first())
    if last is None:
        raise NothingToUndo("you have no decision left to undo")
    roles.require_decider(user, last.kind)
    return _reopen(suggestion=last, user=user, action=ReviewEvent.Action.UNDO, note=note)


def suggestion_reopen(*, suggestion: Suggestion, user, note: str = "") -> Suggestion:
    """An admin reopens any decided suggestion: it goes back to the queue."""
    roles.require(user, roles.ADMIN, action="reopening a decided suggestion")
    return _reopen(suggestion=suggestion, user=user, action=ReviewEvent.Action.REOPEN, note=note)


#: roles that may set a product's colour by hand
MANUAL_EDITORS = (roles.CURATOR, roles.MERCHANDISER, roles.ADMIN)


def product_color_set(*, product: Product, user, color: str, note: str) -> Product:
    """Set the product's final colour by hand (a vocabulary colour, with a reason). An open
    suggestion for the product is superseded: the person has decided."""
    note = note_text(note)
    roles.require(user, *MANUAL_EDITORS, action="setting a colour by hand")
    if not note:
        raise ServiceError("say why the colour is set by hand (a note is required)")
    name = vocabulary_color(color)
    with transaction.atomic():
        locked = Product.objects.select_for_update().get(pk=product.pk)
        if locked.archived_at is not None:
            raise ServiceError(f"{locked.sku} is archived; unarchive it before setting its colour")
        open_ones = list(Suggestion.objects.filter(product=locked, status=Suggestion.Status.PENDING))
        if locked.final_color == name and not open_ones:  # with an open suggestion, it confirms the colour
            raise ServiceError(f"{locked.sku} is already {name}; nothing changed")
        for pending in open_ones:
            suggestion_supersede(pending, f"colour set by hand by {user}", actor=user)
        Product.objects.filter(pk=locked.pk).update(final_color=name)
        ReviewEvent.objects.create(product=locked, actor=user, action=ReviewEvent.Action.MANUAL,
                                   from_color=locked.final_color, to_color=name, note=note)
    product.refresh_from_db()
    return product


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
    for suggestion in qs.order_by(*Suggestion.QUEUE_ORDER):
        try:
            suggestion_accept(suggestion=suggestion, user=user, note=note or "bulk approval")
            result.accepted.append(suggestion.pk)
        except (AlreadyDecided, ClaimedByOther) as exc:
            result.skipped.append((suggestion.pk, str(exc)))
    found = {s for s in result.accepted} | {s for s, _ in result.skipped}
    for missing in sorted(requested - found):
        result.skipped.append((missing, "not a pending suggestion of that kind"))
    return result
