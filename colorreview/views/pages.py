"""Dashboard, products, import, pipeline runs and export."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling

from .. import roles, selectors
from ..models import ColorName, ImportBatch, PipelineRun, Product
from ..services import ServiceError
from ..services.export import COLUMNS, export_rows
from ..services.imports import import_cancel, import_upload_store
from ..services.review import MANUAL_EDITORS, product_color_set
from ..services.runs import pipeline_run_start
from ..services.suggestions import active_thresholds, tradeoffs
from .common import ANY_ROLE, query_without_page, role_required


@login_required
def dashboard(request):
    if not roles.roles_of(request.user):
        return render(request, "forbidden.html", {
            "message": "Your account has no role yet. Ask an administrator to add you to the "
                       "curator, merchandiser or admin group."}, status=403)
    return render(request, "dashboard.html", {
        "stats": selectors.dashboard_stats(), "runs": PipelineRun.objects.all()[:5],
        "thresholds": active_thresholds(), "counts": selectors.queue_counts(user=request.user),
        "tradeoffs": {"impute": tradeoffs("impute"), "mislabel": tradeoffs("mislabel")},
    })


@role_required(*ANY_ROLE)
def product_list(request):
    g = request.GET
    qs = selectors.product_list(status=g.get("status") or None, category=g.get("category") or None,
                                search=g.get("q") or None, unmapped=g.get("unmapped") == "1")
    page = Paginator(qs, 50).get_page(g.get("page"))
    return render(request, "products/list.html", {"page": page, "statuses": Product.Status.choices,
                                                  "query": query_without_page(request)})


@role_required(*ANY_ROLE)
def product_detail(request, sku: str):
    product = get_object_or_404(Product.objects.select_related("seller_color"), sku=sku)
    return render(request, "products/detail.html", {
        "product": product, "predictions": selectors.product_predictions(product)[:10],
        "events": selectors.product_history(product), "suggestions": product.suggestions.order_by("-created_at"),
        "colors": ColorName.objects.filter(active=True).order_by("name"),
        "can_set_color": roles.has_role(request.user, *MANUAL_EDITORS),
    })


@require_POST
@role_required(*MANUAL_EDITORS)
def product_color(request, sku: str):
    """Set the product's colour by hand, with a note; back to the product page either way."""
    product = get_object_or_404(Product, sku=sku)
    try:
        product_color_set(product=product, user=request.user, color=request.POST.get("color", ""),
                          note=request.POST.get("note", ""))
        messages.success(request, f"{product.sku} is now {product.final_color}.")
    except ServiceError as exc:
        messages.error(request, str(exc))
    return redirect("product", sku=product.sku)


@role_required(roles.ADMIN)
def import_page(request):
    if request.method == "POST":
        upload = request.FILES.get("catalog")
        if upload is None:
            messages.error(request, "Choose a catalogue CSV file.")
            return redirect("import")
        batch = import_upload_store(catalog=upload, images=request.FILES.get("images"), user=request.user)
        return redirect("import-detail", pk=batch.pk)
    return render(request, "import.html", {"recent": ImportBatch.objects.all()[:5]})


@role_required(roles.ADMIN)
def import_detail(request, pk: int):
    batch = get_object_or_404(ImportBatch.objects.select_related("run"), pk=pk)
    if request.htmx:
        response = render(request, "imports/_progress.html", {"batch": batch})
        return response if batch.active else HttpResponseStopPolling(response.content)
    return render(request, "imports/detail.html", {"batch": batch})


@require_POST
@role_required(roles.ADMIN)
def import_cancel_view(request, pk: int):
    batch = get_object_or_404(ImportBatch, pk=pk)
    if not import_cancel(batch=batch):
        messages.warning(request, "This import has already ended.")
    return redirect("import-detail", pk=pk)


@require_POST
@role_required(roles.ADMIN)
def run_start(request):
    run = pipeline_run_start(user=request.user)
    if run is None:
        return HttpResponse('<p class="note">Every product already has a prediction for the current model.</p>')
    return render(request, "runs/_progress.html", {"run": run})


@role_required(*ANY_ROLE)
def run_progress(request, pk: int):
    run = get_object_or_404(PipelineRun, pk=pk)
    response = render(request, "runs/_progress.html", {"run": run})
    if run.status in (PipelineRun.Status.FINISHED, PipelineRun.Status.FAILED):
        stop = HttpResponseStopPolling(response.content)
        return stop
    return response


class _Echo:
    def write(self, value):
        return value


@role_required(roles.ADMIN)
def export_csv(request):
    import csv

    writer = csv.writer(_Echo())

    def stream():
        yield writer.writerow(COLUMNS)
        for row in export_rows():
            yield writer.writerow(row)

    name = f"colorreview-tags-{datetime.now():%Y%m%d-%H%M}.csv"
    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response




@role_required(*ANY_ROLE)
def media(request, path: str):
    """Product images and masks, for signed-in reviewers only."""
    root = Path(settings.MEDIA_ROOT).resolve()
    target = (root / path).resolve()
    if not target.is_relative_to(root) or not target.is_file():
        raise Http404("no such file")
    response = FileResponse(open(target, "rb"))
    response["Cache-Control"] = "private, max-age=86400"
    return response
