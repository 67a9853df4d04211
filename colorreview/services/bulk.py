"""Bulk approval: set-based, in chunks of a few thousand, in the background for large selections, and
undone as one batch. The merchandiser sees how many match before it runs."""

from __future__ import annotations

from collections import defaultdict
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, QuerySet
from django.utils import timezone

from .. import roles, selectors
from ..models import BIGINT_MAX, BulkApproval, Product, ReviewEvent, Suggestion
from . import ServiceError, note_text
from .claims import free_for
from .queue import send
from .suggestions import products_lock

#: suggestions decided per statement
CHUNK = 2000
CRITERIA = ("ids", "min_confidence", "color", "category", "search")


def _matching(*, user, kind: str, ids: list[int] | None = None, min_confidence: float | None = None,
              color: str | None = None, category: str | None = None, search: str | None = None) -> QuerySet[Suggestion]:
    """The pending suggestions these criteria select, whoever holds them."""
    qs = selectors.suggestion_queue(user=user, kind=kind, color=color, category=category, search=search,
                                    min_confidence=min_confidence)
    # a number no row can have (past a 64-bit column) selects nothing
    return qs.filter(pk__in=[i for i in ids if 0 < i <= BIGINT_MAX]) if ids is not None else qs


def bulk_selection(*, user, kind: str, **criteria) -> QuerySet[Suggestion]:
    """The pending suggestions a bulk approval with these criteria takes (none another reviewer holds)."""
    return _matching(user=user, kind=kind, **criteria).filter(free_for(user))


#: bulk approval is the merchandisers' tool (flags are reviewed one by one by curators); admins may use it
BULK_ROLES = (roles.MERCHANDISER, roles.ADMIN)


def _require_bulk(user, kind: str) -> None:
    roles.require(user, *BULK_ROLES, action="bulk approval")
    roles.require_decider(user, kind)


def bulk_approval_count(*, user, kind: str = "impute", **criteria) -> int:
    """How many suggestions the approval would accept now (shown before it runs)."""
    _require_bulk(user, kind)
    return bulk_selection(user=user, kind=kind, **criteria).count()


def bulk_held_count(*, user, kind: str = "impute", **criteria) -> int:
    """Pending suggestions the criteria select that another reviewer holds now (a bulk approval leaves them)."""
    _require_bulk(user, kind)
    return _matching(user=user, kind=kind, **criteria).exclude(free_for(user)).count()


#: longest confirmation key accepted (the model's field)
REQUEST_KEY_MAX = BulkApproval._meta.get_field("request_key").max_length


class NothingToApprove(ServiceError):
    """The criteria select no pending suggestion the user may take."""


def bulk_approval_start(*, user, kind: str = "impute", note: str = "", request_key: str = "",
                        **criteria) -> BulkApproval:
    """Record the approval; a small one runs at once, a large one in the background with progress.

    ``request_key`` names one confirmation: sent again by the same user (a double click, a client's
    retry), it returns the approval the first one made instead of recording a second, empty batch.
    """
    note = note_text(note)
    from ..tasks import bulk_approve_job

    _require_bulk(user, kind)
    request_key = (request_key or "").strip()
    if len(request_key) > REQUEST_KEY_MAX:
        raise ServiceError(f"the request key is {len(request_key)} characters long; at most {REQUEST_KEY_MAX}")
    criteria = {k: v for k, v in criteria.items() if k in CRITERIA and v is not None}
    if "ids" in criteria:  # in one order, once each (a retry that lists them otherwise is the same request)
        criteria["ids"] = sorted(set(criteria["ids"]))
    if request_key:
        earlier = _keyed(user, request_key)
        if earlier is not None and earlier.status == BulkApproval.Status.FAILED and not earlier.accepted:
            # it never ran (the queue was down): the same confirmation sent again is a new try
            BulkApproval.objects.filter(pk=earlier.pk).update(request_key="")
        elif earlier is not None:
            return _resumed(_same_request(earlier, kind, criteria))
    matched = bulk_selection(user=user, kind=kind, **criteria).count()
    if not matched and request_key:  # the same confirmation, sent at the same instant, may have taken them
        earlier = _keyed(user, request_key)
        if earlier is not None:
            return _same_request(earlier, kind, criteria)
    if not matched:
        raise NothingToApprove(f"nothing to approve: no pending {'imputation' if kind == 'impute' else 'flag'} "
                               "matches that you may take (decided already, held by another reviewer, or not "
                               "of this kind). Nothing was recorded.")
    try:
        with transaction.atomic():
            approval = BulkApproval.objects.create(created_by=user, kind=kind, criteria=criteria, note=note,
                                                   matched=matched, request_key=request_key)
    except IntegrityError:  # the same confirmation, arrived at the same instant: the other one records it
        return _same_request(_keyed(user, request_key), kind, criteria)
    if matched <= settings.COLORREVIEW_BULK_INLINE:
        return _run_inline(approval)

    def not_queued(exc: BaseException) -> None:  # nothing was approved: say so on the approval
        BulkApproval.objects.filter(pk=approval.pk, status=BulkApproval.Status.QUEUED).update(
            status=BulkApproval.Status.FAILED, finished_at=timezone.now(),
            error=f"not started: the task queue was unavailable ({exc}); nothing was approved")

    send(bulk_approve_job, approval.pk, on_failure=not_queued, then="nothing was approved; try again when it is back")
    return approval


#: seconds after which a small approval still shown as running was stopped mid-way (it takes a few seconds)
INLINE_STALE = 120


def _run_inline(approval: BulkApproval) -> BulkApproval:
    """Run a small approval in this request; one that stops on an error is marked failed, saying how far it
    got, so that the same confirmation sent again takes it up (see ``_resumed``)."""
    try:
        return bulk_approval_run(approval_id=approval.pk)
    except Exception as exc:
        BulkApproval.objects.filter(pk=approval.pk, status__in=[BulkApproval.Status.QUEUED,
                                                                BulkApproval.Status.RUNNING]).update(
            status=BulkApproval.Status.FAILED, finished_at=timezone.now(),
            error=f"stopped by an error ({exc}); send the same confirmation again to finish it")
        raise


def _resumed(earlier: BulkApproval) -> BulkApproval:
    """The approval a repeated confirmation made; a small one that stopped part-way (failed with some accepted,
    or left running by a process that died) is taken up again from where it stopped."""
    small = earlier.matched <= settings.COLORREVIEW_BULK_INLINE
    stopped = earlier.status == BulkApproval.Status.FAILED or (
        earlier.active and earlier.created_at < timezone.now() - timedelta(seconds=INLINE_STALE))
    if not (small and stopped):
        return earlier
    BulkApproval.objects.filter(pk=earlier.pk).update(status=BulkApproval.Status.RUNNING, error="", finished_at=None)
    return _run_inline(earlier)


def _keyed(user, request_key: str) -> BulkApproval | None:
    """The approval this user's confirmation key made, if any (one at most: a unique constraint)."""
    return BulkApproval.objects.filter(created_by=user, request_key=request_key).first()


def _same_request(earlier: BulkApproval, kind: str, criteria: dict) -> BulkApproval:
    """The approval a repeated key made, when it asked for the same; a key reused for another is refused."""
    if earlier.kind != kind or earlier.criteria != criteria:
        raise ServiceError(f"this request key was already used for bulk approval {earlier.pk}, with other "
                           "criteria; send a new key for a new approval")
    return earlier


def bulk_approval_run(*, approval_id: int) -> BulkApproval:
    """Accept the selection chunk by chunk in id order (resumes after its cursor if delivered again)."""
    approval = BulkApproval.objects.select_related("created_by").get(pk=approval_id)
    if not approval.active:
        return approval
    BulkApproval.objects.filter(pk=approval.pk).update(status=BulkApproval.Status.RUNNING)
    selection = bulk_selection(user=approval.created_by, kind=approval.kind, **approval.criteria)
    note = approval.note or f"bulk approval {approval.pk}"
    while _approve_chunk(approval, selection, note):
        pass
    BulkApproval.objects.filter(pk=approval.pk).update(status=BulkApproval.Status.FINISHED,
                                                       finished_at=timezone.now())
    approval.refresh_from_db()
    return approval


def _approve_chunk(approval: BulkApproval, selection: QuerySet[Suggestion], note: str) -> bool:
    user, now = approval.created_by, timezone.now()
    with transaction.atomic():
        chunk = list(selection.filter(pk__gt=approval.cursor).order_by("pk").values_list("id", "product_id")[:CHUNK])
        if not chunk:
            return False
        products_lock([product_id for _, product_id in chunk])
        rows = list(selection.filter(pk__in=[pk for pk, _ in chunk]).order_by("pk").select_for_update(of=("self",))
                    .values_list("id", "product_id", "suggested_color", "prediction__model_version",
                                 "product__final_color"))
        ids = [r[0] for r in rows]
        Suggestion.objects.filter(pk__in=ids, status=Suggestion.Status.PENDING).update(
            status=Suggestion.Status.ACCEPTED, final_color=F("suggested_color"), decided_by=user, decided_at=now,
            bulk=approval, claimed_by=None, claimed_until=None)
        by_color: dict[str, list[int]] = defaultdict(list)
        for _, product_id, color, _, _ in rows:
            by_color[color].append(product_id)
        for color, product_ids in by_color.items():  # one statement per colour, a few dozen at most
            Product.objects.filter(pk__in=product_ids).update(final_color=color)
        ReviewEvent.objects.bulk_create([ReviewEvent(
            product_id=product_id, suggestion_id=pk, actor=user, action=ReviewEvent.Action.ACCEPT,
            from_status=Suggestion.Status.PENDING, to_status=Suggestion.Status.ACCEPTED, from_color=before,
            to_color=color, note=note, model_version=version) for pk, product_id, color, version, before in rows])
        approval.cursor = chunk[-1][0]
        approval.accepted += len(rows)
        BulkApproval.objects.filter(pk=approval.pk).update(cursor=approval.cursor, accepted=approval.accepted)
    return len(chunk) == CHUNK


def bulk_approval_undo(*, approval: BulkApproval, user) -> BulkApproval:
    """Take the whole batch back: its suggestions return to the queue and each product gets back the
    colour it had, unless the colour was changed since (then it stays, and the event says so).
    A product with a newer open suggestion keeps its decision, and so does an archived product."""
    roles.require_decider(user, approval.kind)
    if approval.created_by_id != user.pk and not roles.has_role(user, roles.ADMIN):
        raise roles.RoleError("only the merchandiser who approved the batch, or an admin, can undo it")
    if approval.active:
        raise ServiceError("this bulk approval is still running; undo it when it has finished")
    if BulkApproval.objects.filter(pk=approval.pk, status=BulkApproval.Status.FINISHED).update(
            status=BulkApproval.Status.UNDONE, undone_by=user, undone_at=timezone.now()) == 0:
        raise ServiceError("this bulk approval was already undone")
    if approval.accepted <= settings.COLORREVIEW_BULK_INLINE:
        return bulk_undo_run(approval_id=approval.pk)
    from ..tasks import bulk_undo_job

    def not_queued(exc: BaseException) -> None:  # the batch stays approved, and can be undone again
        BulkApproval.objects.filter(pk=approval.pk, status=BulkApproval.Status.UNDONE, reverted=0).update(
            status=BulkApproval.Status.FINISHED, undone_by=None, undone_at=None)

    send(bulk_undo_job, approval.pk, on_failure=not_queued, then="nothing was undone; try again when it is back")
    approval.refresh_from_db()
    return approval


def bulk_undo_run(*, approval_id: int) -> BulkApproval:
    """Put the batch's suggestions back, chunk by chunk (a batch already put back changes nothing)."""
    approval = BulkApproval.objects.select_related("undone_by").get(pk=approval_id)
    if approval.status != BulkApproval.Status.UNDONE:  # its undo was taken back (the queue refused it)
        return approval
    reverted, last = approval.reverted, 0
    while True:
        done, last = _undo_chunk(approval, approval.undone_by, last)
        if done is None:
            break
        reverted += done
        BulkApproval.objects.filter(pk=approval.pk).update(reverted=reverted)
    approval.refresh_from_db()
    return approval


def _undo_chunk(approval: BulkApproval, user, after: int) -> tuple[int | None, int]:
    with transaction.atomic():
        accepted = Suggestion.objects.filter(bulk=approval, status=Suggestion.Status.ACCEPTED)
        chunk = list(accepted.filter(pk__gt=after).order_by("pk").values_list("id", "product_id")[:CHUNK])
        if not chunk:
            return None, after
        products_lock([product_id for _, product_id in chunk])
        rows = list(accepted.filter(pk__in=[pk for pk, _ in chunk]).select_for_update(of=("self",)).order_by("pk")
                    .values_list("id", "product_id", "final_color", "prediction__model_version",
                                 "product__final_color", "product__archived_at"))
        last = chunk[-1][0]
        open_products = set(Suggestion.objects.filter(product_id__in=[r[1] for r in rows],
                                                      status=Suggestion.Status.PENDING).values_list("product_id",
                                                                                                   flat=True))
        rows = [r[:5] for r in rows if r[1] not in open_products and r[5] is None]
        before = dict(ReviewEvent.objects.filter(suggestion_id__in=[r[0] for r in rows],
                                                 action=ReviewEvent.Action.ACCEPT).order_by("id").values_list(
            "suggestion_id", "from_color"))
        restore: dict[str, list[int]] = defaultdict(list)
        events = []
        for pk, product_id, decided, version, current in rows:
            still_ours = current == decided
            colour = before.get(pk, current) if still_ours else current
            restore[colour].append(product_id)
            events.append(ReviewEvent(
                product_id=product_id, suggestion_id=pk, actor=user, action=ReviewEvent.Action.UNDO,
                from_status=Suggestion.Status.ACCEPTED, to_status=Suggestion.Status.PENDING, from_color=current,
                to_color=colour, model_version=version,
                note=f"bulk approval {approval.pk} undone" + ("" if still_ours else
                                                              " (the colour was changed since and is kept)")))
        for colour, product_ids in restore.items():
            Product.objects.filter(pk__in=product_ids).update(final_color=colour)
        Suggestion.objects.filter(pk__in=[r[0] for r in rows]).update(
            status=Suggestion.Status.PENDING, final_color="", decided_by=None, decided_at=None, bulk=None)
        ReviewEvent.objects.bulk_create(events)
    return len(rows), last
