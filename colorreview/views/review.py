"""The review queue: mislabel flags for curators, imputations for merchandisers."""

from __future__ import annotations

from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST

from .. import roles, selectors
from ..models import ColorName, Suggestion
from ..roles import RoleError
from ..services import AlreadyDecided, ServiceError
from ..services.review import suggestion_accept, suggestion_correct, suggestion_reject, suggestions_bulk_accept
from ..services.suggestions import active_thresholds
from .common import ANY_ROLE, forbidden, role_required

PAGE_SIZE = 24


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


@role_required(*ANY_ROLE)
def queue(request):
    filters = _filters(request)
    qs = selectors.suggestion_queue(user=request.user, **filters)
    page = Paginator(qs, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page, "filters": filters, "counts": selectors.queue_counts(user=request.user),
        "colors": ColorName.objects.filter(active=True).order_by("name"),
        "thresholds": active_thresholds(),
        "categories": selectors.suggestion_categories(user=request.user),
    }
    template = "review/_list.html" if request.htmx and request.htmx.target == "queue-list" else "review/queue.html"
    return render(request, template, context)


@require_POST
@role_required(*ANY_ROLE)
def decide(request, pk: int, action: str):
    suggestion = get_object_or_404(Suggestion.objects.select_related("product", "prediction"), pk=pk)
    message, level = "", "info"
    try:
        if action == "accept":
            suggestion_accept(suggestion=suggestion, user=request.user, note=request.POST.get("note", ""))
        elif action == "reject":
            suggestion_reject(suggestion=suggestion, user=request.user, note=request.POST.get("note", ""))
        elif action == "correct":
            suggestion_correct(suggestion=suggestion, user=request.user, color=request.POST.get("color", ""),
                               note=request.POST.get("note", ""))
        else:
            return forbidden(request, f"unknown action {action}")
    except RoleError as exc:
        if not request.htmx:
            return forbidden(request, str(exc))
        message, level = str(exc), "error"
    except AlreadyDecided as exc:
        message, level = str(exc).capitalize() + ".", "warning"
    except ServiceError as exc:
        message, level = str(exc), "error"
    if not request.htmx:  # a plain form post (no JavaScript): back to the queue
        if message:
            messages.warning(request, message)
        return redirect(request.META.get("HTTP_REFERER") or "queue")
    suggestion.refresh_from_db()
    return render(request, "review/_card.html", {
        "s": suggestion, "message": message, "level": level,
        "colors": ColorName.objects.filter(active=True).order_by("name"),
    })


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
