"""The review queue: mislabel flags for curators, imputations for merchandisers."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import render
from django.utils.html import format_html
from django.views.decorators.http import require_POST

from .. import roles, selectors
from ..models import ColorName, Suggestion
from ..roles import RoleError
from ..services import AlreadyDecided, ServiceError
from ..services.claims import ClaimedByOther, suggestion_release, suggestions_claim
from ..services.review import (
    suggestion_accept,
    suggestion_correct,
    suggestion_reject,
    suggestion_reopen,
    suggestion_undo_last,
    suggestions_bulk_accept,
)
from ..services.suggestions import active_thresholds
from .common import ANY_ROLE, forbidden, query_without_page, redirect_back, role_required

PAGE_SIZE = 24
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
    return {"kind": kind, "status": status, "color": g.get("color") or None,
            "category": g.get("category") or None, "search": g.get("q") or None, "min_confidence": min_conf}


def _colors():
    return ColorName.objects.filter(active=True).order_by("name")


@role_required(*ANY_ROLE)
def queue(request):
    filters = _filters(request)
    working = filters["status"] == Suggestion.Status.PENDING
    if working:  # cards held by another reviewer, or skipped, are left out; the shown ones are leased
        qs = selectors.suggestion_work_queue(user=request.user, skipped=request.session.get(SKIPPED, []), **filters)
    else:
        qs = selectors.suggestion_queue(user=request.user, **filters)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    if working:
        held = suggestions_claim(user=request.user, suggestion_ids=[s.pk for s in page.object_list])
        page.object_list = [s for s in page.object_list if s.pk in held]
    context = {
        "page": page, "filters": filters, "counts": selectors.queue_counts(user=request.user),
        "colors": _colors(), "thresholds": active_thresholds(), "query": query_without_page(request),
        "categories": selectors.suggestion_categories(user=request.user),
    }
    template = "review/_list.html" if request.htmx and request.htmx.target == "queue-list" else "review/queue.html"
    return render(request, template, context)


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
        return forbidden(request, f"unknown action {action}")
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
        message, level = str(exc)[:1].upper() + str(exc)[1:] + ".", "warning"
    except ServiceError as exc:
        message, level = str(exc), "error"
    if not request.htmx:  # a plain form post (no JavaScript): back to the page it came from
        if message:
            messages.warning(request, message)
        return redirect_back(request, "queue")
    if action == "skip" and not message:
        return HttpResponse("")  # the card leaves the screen
    suggestion.refresh_from_db()
    return _card(request, suggestion, message, level)


def _card(request, suggestion, message="", level="info", status=200):
    return render(request, "review/_card.html", {
        "s": suggestion, "message": message, "level": level, "colors": _colors(), "oob_counts": True,
        "counts": selectors.queue_counts(user=request.user), "thresholds": active_thresholds(),
    }, status=status)


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
        if not request.htmx:
            messages.warning(request, str(exc))
            return redirect_back(request, "queue")
        return HttpResponse(format_html('<p class="msg warning" role="status">{}</p>', str(exc)), status=409)
    if not request.htmx:
        messages.info(request, f"Undone: {suggestion.product.sku} is back in the queue.")
        return redirect_back(request, "queue")
    return _card(request, suggestion, "Decision undone; the card is back.", "info")


@role_required(roles.MERCHANDISER, roles.ADMIN)
def bulk(request):
    result = None
    if request.method == "POST":
        ids = [int(i) for i in request.POST.getlist("ids") if i.isdigit()]
        min_conf = request.POST.get("min_confidence")
        try:
            if request.POST.get("scope") == "threshold" and min_conf:
                result = suggestions_bulk_accept(user=request.user, kind="impute",
                                                 min_confidence=float(min_conf) / 100)
            else:
                result = suggestions_bulk_accept(user=request.user, kind="impute", suggestion_ids=ids)
        except (ValueError, RoleError) as exc:
            return forbidden(request, str(exc))
    qs = selectors.suggestion_queue(user=request.user, kind="impute")
    context = {"suggestions": qs[:500], "total": qs.count(), "result": result,
               "threshold": active_thresholds()["impute"]}
    template = "review/_bulk_table.html" if request.htmx else "review/bulk.html"
    return render(request, template, context)
