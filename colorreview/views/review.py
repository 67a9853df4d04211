"""The review queue: mislabel flags for curators, imputations for merchandisers."""

from __future__ import annotations

import uuid
from decimal import Decimal, InvalidOperation

from django.contrib import messages
from django.http import Http404, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.utils.html import format_html
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling

from .. import roles, selectors
from ..models import ColorName, Suggestion
from ..paging import keyset_page
from ..roles import RoleError
from ..services import AlreadyDecided, ServiceError
from ..services.bulk import bulk_approval_count, bulk_approval_start, bulk_approval_undo, bulk_held_count
from ..services.claims import ClaimedByOther, held_by_others, suggestion_release, suggestions_claim
from ..services.queue import QueueUnavailable
from ..services.review import (
    suggestion_accept,
    suggestion_correct,
    suggestion_reject,
    suggestion_reopen,
    suggestion_undo_last,
    superseded_why,
)
from ..services.suggestions import active_thresholds
from .common import ANY_ROLE, forbidden, query_without_page, redirect_back, role_required, text_param

PAGE_SIZE = 24
BULK_PAGE_SIZE = 100  # rows of the imputation table per page
SKIPPED = "colorreview-skipped"  # session key: cards this reviewer skipped


def _filters(request) -> dict:
    g = request.GET
    kind = g.get("kind") if g.get("kind") in ("impute", "mislabel") else None
    status = g.get("status", "pending")
    if status not in {s.value for s in Suggestion.Status} and status != "":
        status = "pending"
    min_conf = g.get("min_confidence")
    try:
        min_conf = float(min_conf) / 100 if min_conf else None
    except ValueError:
        min_conf = None
    search = text_param(request, "q")
    # a whole SKU finds its product alone, unless the reviewer asks for every SKU or title containing it
    sku = selectors.whole_sku(search) if search and g.get("match") != "contains" else None
    severity = g.get("severity") if g.get("severity") in ("family", "shade") else None
    return {"kind": kind, "status": status, "color": text_param(request, "color"),
            "category": text_param(request, "category"), "search": search, "sku": sku, "min_confidence": min_conf,
            "severity": severity}


def _colors():
    return ColorName.objects.filter(active=True).order_by("name")


@never_cache
@role_required(*ANY_ROLE)
def queue(request):
    if request.GET.get("unskip"):  # the cards skipped this session come back
        request.session[SKIPPED] = []
    filters = _filters(request)
    working = filters["status"] == Suggestion.Status.PENDING
    if working:  # cards held by another reviewer, or skipped, are left out; the shown ones are leased
        qs = selectors.suggestion_work_queue(user=request.user, skipped=request.session.get(SKIPPED, []), **filters)
    else:
        qs = selectors.suggestion_queue(user=request.user, **filters)
    page = keyset_page(qs, ordering=list(Suggestion.QUEUE_ORDER), size=PAGE_SIZE, cursor=request.GET.get("page"))
    if working:
        held = suggestions_claim(user=request.user, suggestion_ids=[s.pk for s in page.items])
        page.items = [s for s in page.items if s.pk in held]
    counts, held = _counts(request.user)
    aside = selectors.suggestions_set_aside(user=request.user, skipped=request.session.get(SKIPPED, []),
                                            **filters) if working and not page.items else None
    searched = None  # a whole SKU with nothing to show here: what became of its suggestion
    if filters["sku"] and not page.items:
        searched = {"sku": filters["sku"], "last": selectors.last_suggestion_of(filters["sku"])}
    context = {
        "page": page, "filters": filters, "counts": counts, "held": held, "aside": aside, "searched": searched,
        "colors": _colors(), "thresholds": active_thresholds(), "query": query_without_page(request),
        "categories": selectors.suggestion_categories(user=request.user),
    }
    fragment = request.htmx and request.htmx.target == "queue-list"  # the counts line comes along, out of band
    return render(request, "review/_list.html" if fragment else "review/queue.html",
                  {**context, "list_counts": fragment})


def _counts(user) -> tuple[dict[str, int], int]:
    """Pending suggestions of each kind the user can take now, and how many more other reviewers hold."""
    counts, held = selectors.queue_counts(user=user), selectors.queue_held(user=user)
    return {kind: max(0, n - held[kind]) for kind, n in counts.items()}, sum(held.values())


def _skip(*, suggestion, user, request, **_):
    """Not now: the card goes back to the others and leaves this reviewer's queue for the session."""
    suggestion_release(suggestion=suggestion, user=user)
    request.session[SKIPPED] = [*request.session.get(SKIPPED, [])[-500:], suggestion.pk]


ACTIONS = {
    "accept": lambda *, suggestion, user, post, **_: suggestion_accept(
        suggestion=suggestion, user=user, note=post.get("note", "")),
    "reject": lambda *, suggestion, user, post, **_: suggestion_reject(
        suggestion=suggestion, user=user, note=post.get("note", "")),
    "correct": lambda *, suggestion, user, post, **_: suggestion_correct(
        suggestion=suggestion, user=user, color=post.get("color", ""), note=post.get("note", "")),
    "reopen": lambda *, suggestion, user, post, **_: suggestion_reopen(
        suggestion=suggestion, user=user, note=post.get("note", "")),
    "skip": _skip,
}


@require_POST
@role_required(*ANY_ROLE)
def decide(request, pk: int, action: str):
    if action not in ACTIONS:
        raise Http404(f"no review action {action!r}")
    suggestion = Suggestion.objects.select_related("product", "prediction").filter(pk=pk).first()
    if suggestion is None:
        return _card_gone(request, pk)
    message, level = "", "info"
    try:
        ACTIONS[action](suggestion=suggestion, user=request.user, post=request.POST, request=request)
    except RoleError as exc:
        if not request.htmx:
            return forbidden(request, str(exc))
        message, level = str(exc), "error"
    except (AlreadyDecided, ClaimedByOther) as exc:
        message, level = _sentence(exc), "warning"
    except ServiceError as exc:
        message, level = str(exc), "error"
    if not request.htmx:  # a plain form post (no JavaScript): back to the page it came from
        if message:
            messages.warning(request, message)
        return redirect_back(request, "queue")
    if action == "skip" and not message:
        return HttpResponse("")  # the card leaves the screen
    suggestion.refresh_from_db()
    if action == "reopen" and not message:
        message = (f"Reopened; {_superseded_why(suggestion)}." if suggestion.status == Suggestion.Status.SUPERSEDED
                   else "Reopened: the suggestion is open again and the product has the colour it had before the "
                        "decision, unless it was changed since.")
    return _card(request, suggestion, message, level)


def _card(request, suggestion, message="", level="info", status=200):
    counts, held = _counts(request.user)
    return render(request, "review/_card.html", {
        "s": suggestion, "message": message, "level": level, "colors": _colors(), "oob_counts": True,
        "counts": counts, "held": held, "thresholds": active_thresholds(),
    }, status=status)


def _superseded_why(suggestion: Suggestion) -> str:
    """Why a suggestion taken back no longer applies, as its history says, and what that means."""
    why = superseded_why(suggestion) or "it no longer applies"
    return f"{why}: the suggestion is superseded, and the product is judged as it is now"


def _sentence(exc: Exception) -> str:
    """A service's refusal as a sentence: a capital first, a full stop last."""
    text = str(exc)
    return text[:1].upper() + text[1:] + ("" if text.endswith(".") else ".")


def _card_gone(request, pk: int):
    message = "This suggestion no longer exists (a re-import or a new prediction replaced it)."
    if request.htmx:  # swapped in place of the card, so the reviewer sees why
        return HttpResponse(format_html('<article class="card gone" id="suggestion-{}"><p class="msg warning" '
                                        'role="status">{}</p></article>', pk, message))
    messages.warning(request, message)
    return redirect_back(request, "queue")


@require_POST
@role_required(*ANY_ROLE)
def undo(request):
    """Take back this reviewer's latest decision; the card comes back, pending and held by them."""
    try:
        suggestion = suggestion_undo_last(user=request.user)
    except (RoleError, ServiceError) as exc:
        said = _sentence(exc)
        if not request.htmx:
            messages.warning(request, said)
            return redirect_back(request, "queue")
        return HttpResponse(format_html('<p class="msg warning" role="status">{}</p>', said), status=409)
    if suggestion.status == Suggestion.Status.SUPERSEDED:  # it no longer applies
        said = f"Decision on {suggestion.product.sku} undone; {_superseded_why(suggestion)}."
        if not request.htmx:
            messages.warning(request, said)
            return redirect_back(request, "queue")
        return _card(request, suggestion, said, "warning")
    if not request.htmx:
        messages.info(request, f"Undone: {suggestion.product.sku} is back in the queue.")
        return redirect_back(request, "queue")
    return _card(request, suggestion, "Decision undone; the card is back.", "info")


def _ticked(post) -> list[int]:
    """The ids ticked in a form (ASCII digits of a sensible length; anything else is no id)."""
    return [int(i) for i in post.getlist("ids") if i.isascii() and i.isdigit() and len(i) <= 30]


def _bulk_criteria(post) -> dict:
    """What a bulk approval form selects: ticked ids, or every imputation at or above a confidence."""
    if post.get("scope") == "threshold":
        try:  # read as written: 84.6 means 0.846 exactly as the stored confidences are compared
            value = Decimal((post.get("min_confidence") or "").strip())
        except InvalidOperation:
            value = Decimal("NaN")
        if not value.is_finite() or not 0 <= value <= 100:
            raise ValueError("the confidence is a percentage between 0 and 100")
        return {"min_confidence": float(value / 100)}
    ids = _ticked(post)
    if not ids:
        raise ValueError("tick at least one imputation, or approve every imputation at or above a confidence")
    return {"ids": ids}


def _bulk_page(request, extra: dict):
    # rows another reviewer holds (``held``) cannot be ticked: a bulk approval leaves them
    qs = selectors.suggestion_queue(user=request.user, kind="impute").select_related("claimed_by") \
        .annotate(held=held_by_others(request.user))
    page = keyset_page(qs, ordering=list(Suggestion.QUEUE_ORDER), size=BULK_PAGE_SIZE, cursor=request.GET.get("page"))
    recent = selectors.bulk_approvals_of(request.user).filter(kind="impute").select_related("created_by") \
        .order_by("-id")
    shown = extra.get("approval")
    recent = [a for a in recent[:11] if shown is None or a.pk != shown.pk][:10]
    # while a selection is confirmed or refused, the form keeps what was asked (the ticks, the percentage)
    asking = request.method == "POST" and extra.get("approval") is None
    asked = {"percent": request.POST.get("min_confidence") or "95" if asking else "95",
             "ids": set(_ticked(request.POST)) if asking else set()}
    context = {"suggestions": page, "page": page, "total": selectors.queue_counts(user=request.user)["impute"],
               "recent": recent, "asked": asked,
               "threshold": active_thresholds()["impute"], "query": query_without_page(request), **extra}
    fragment = request.htmx and not request.GET.get("full")
    response = render(request, "review/_bulk_table.html" if fragment else "review/bulk.html", context)
    if extra.get("approval") is not None and not extra["approval"].active:
        response["HX-Trigger-After-Settle"] = CHANGED  # the recent list shows the new batch
    return response


#: the event after which the imputations list and the recent batches are read again
CHANGED = "bulk-changed"


@never_cache
@role_required(roles.MERCHANDISER, roles.ADMIN)
def bulk(request):
    """Imputations to approve in bulk: the count is shown and confirmed before anything changes."""
    if request.method != "POST":
        return _bulk_page(request, {})
    try:
        criteria = _bulk_criteria(request.POST)
        if request.POST.get("confirm") != "1":
            count = bulk_approval_count(user=request.user, kind="impute", **criteria)
            held = bulk_held_count(user=request.user, kind="impute", **criteria)
            return _bulk_page(request, {"confirm": {"count": count, "held": held, "scope": request.POST.get("scope"),
                                                    "percent": request.POST.get("min_confidence"),
                                                    "request_key": uuid.uuid4().hex, **criteria}})
        approval = bulk_approval_start(user=request.user, kind="impute",
                                       request_key=request.POST.get("request_key", ""), **criteria)
    except (ValueError, ServiceError, QueueUnavailable) as exc:
        return _bulk_page(request, {"error": f"Not approved: {exc}"})
    except RoleError as exc:
        return forbidden(request, str(exc))
    return _bulk_page(request, {"approval": approval})


@role_required(roles.MERCHANDISER, roles.ADMIN)
def bulk_progress(request, pk: int):
    """One bulk approval's progress, with its undo: the user's own (an admin's: anyone's), as in the API."""
    approval = get_object_or_404(selectors.bulk_approvals_of(request.user), pk=pk)
    if request.method == "POST":
        try:
            approval = bulk_approval_undo(approval=approval, user=request.user)
        except RoleError as exc:
            return forbidden(request, str(exc))
        except (ServiceError, QueueUnavailable) as exc:
            approval.refresh_from_db()
            return render(request, "review/_bulk_progress.html", {"approval": approval, "message": str(exc)})
        undone = render(request, "review/_bulk_progress.html", {"approval": approval})
        undone["HX-Trigger-After-Settle"] = CHANGED  # its imputations are back in the list
        return undone
    response = render(request, "review/_bulk_progress.html", {"approval": approval})
    if approval.active:
        return response
    done = HttpResponseStopPolling(response.content)
    done["HX-Trigger-After-Settle"] = CHANGED  # its products left (or, undone, came back to) the list
    return done
