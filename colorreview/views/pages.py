"""Dashboard, products, import, pipeline runs and export."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.db import DatabaseError, connection
from django.http import (
    FileResponse,
    Http404,
    HttpResponse,
    JsonResponse,
)
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.html import escape, format_html
from django.views.decorators.http import require_POST
from django_htmx.http import HttpResponseStopPolling

from .. import charts, roles, selectors
from ..models import ColorName, ImportBatch, PipelineRun, Product, Suggestion
from ..paging import keyset_page
from ..services import ServiceError
from ..services.archive import product_archive, product_unarchive
from ..services.export import export_response
from ..services.imports import import_cancel, import_upload_store
from ..services.rejudge import flag_rules_state
from ..services.review import MANUAL_EDITORS, product_color_set
from ..services.runs import (
    QueueUnavailable,
    RunAlreadyActive,
    nothing_to_run,
    pipeline_run_cancel,
    pipeline_run_start,
    run_resume,
    run_stalled,
)
from ..services.suggestions import active_thresholds, latest_prediction, products_with_readings, tradeoffs
from ..services.thresholds import category_threshold_table
from .common import ANY_ROLE, query_without_page, role_required, text_param


@login_required
def dashboard(request):
    if not roles.roles_of(request.user):
        return render(request, "forbidden.html", {
            "message": "Your account has no role yet. Ask an administrator to add you to the "
                       "curator, merchandiser or admin group."}, status=403)
    stats = selectors.dashboard_stats()
    return render(request, "dashboard.html", {
        "stats": stats, "runs": _with_state(PipelineRun.objects.all()[:5]),
        "thresholds": active_thresholds(), "counts": selectors.queue_counts(user=request.user),
        "shade_flags": selectors.pending_shade_flags() if roles.can_decide(request.user, "mislabel") else 0,
        "tradeoffs": {"impute": tradeoffs("impute"), "mislabel": tradeoffs("mislabel")},
        "model_versions": selectors.model_version_list(), "active_version": selectors.active_model_version(),
        "flag_rules": flag_rules_state(),
        **_charts(stats),
    })


def _charts(stats: dict) -> dict:
    """The charts' figures come from the catalogue summary (refreshed in the background)."""
    colors, pairs = selectors.seller_vs_final(counts=stats.get("seller_final"))
    buckets = selectors.acceptance_by_confidence(counts=stats.get("acceptance"))
    return {
        "acceptance_chart": charts.share_bars(buckets, "Share of reviewed suggestions confirmed, by score"),
        "acceptance_rows": buckets,
        "throughput_chart": charts.day_bars(stats["per_day"] if "per_day" in stats else selectors.decisions_per_day(),
                                            "Decisions per day, last 14 days"),
        "reviewers": stats["reviewers"] if "reviewers" in stats else selectors.decisions_by_reviewer(),
        "heat_chart": charts.heat_map(colors, colors, pairs, "Seller colour (rows) against final colour (columns)")
        if colors else None,
        "heat_colors": len(colors),
        "decided": sum(good + bad for _, good, bad in buckets),
        "category_thresholds": category_threshold_table(counts=stats.get("category_counts")),
    }


@role_required(*ANY_ROLE)
def product_list(request):
    g = request.GET
    status = g.get("status") or None
    if status and status not in Product.Status.values:
        messages.warning(request, f"There is no product state '{status}'; every state is shown.")
        status = None
    kinds = selectors.visible_kinds(request.user)
    opens = _open_choices(kinds)
    open_ = g.get("open") or None
    if open_ and open_ not in opens:
        messages.warning(request, f"There is no open-suggestion filter '{open_}' for you; every product is shown.")
        open_ = None
    asked = text_param(request, "category") or ""
    qs = selectors.product_list(status=status, category=asked or None,
                                search=text_param(request, "q"), unmapped=g.get("unmapped") == "1",
                                archived=selectors.ARCHIVED_CHOICES.get(g.get("archived", ""), False),
                                open_=open_, kinds=kinds)
    page = keyset_page(qs, ordering=["sku"], size=50, cursor=g.get("page"))
    # what the model reads of each, and what is open that the viewer may decide (three queries)
    products_with_readings(page.items, kinds=kinds)
    categories = selectors.catalogue_categories()
    if asked and asked.lower() not in {name.lower() for name, _ in categories}:  # newer than the summary
        categories = [*categories, (asked, None)]
    return render(request, "products/list.html", {"page": page, "statuses": Product.Status.choices,
                                                  "categories": categories, "opens": opens.items(),
                                                  "query": query_without_page(request)})


def _open_choices(kinds: list[str]) -> dict[str, str]:
    """The open-suggestion filters that mean something to a viewer who decides ``kinds``."""
    return {key: label for key, label in selectors.OPEN_CHOICES.items() if key in ("any", "none") or key in kinds}


def _product(sku: str) -> Product:
    return get_object_or_404(Product.objects.select_related("seller_color", "archived_by"), sku=sku)


@role_required(*ANY_ROLE)
def product_detail(request, sku: str):
    product = _product(sku)
    return render(request, "products/detail.html", {
        "product": product, "predictions": selectors.product_predictions(product)[:10],
        "current": latest_prediction(product),  # of its image, for the region its category picks now
        "events": selectors.product_history(product),
        "can_archive": roles.has_role(request.user, roles.ADMIN), **_color_form(request.user, product),
    })


#: who decides each kind of suggestion, in words
DECIDERS = {Suggestion.Kind.MISLABEL: "curators", Suggestion.Kind.IMPUTE: "merchandisers"}


def _color_form(user, product: Product) -> dict:
    """What the form that sets the colour by hand needs (an archived product has none), with the product's
    open suggestion: whether the viewer may review it, and who does if not (the form says that setting the
    colour closes it)."""
    open_suggestion = product.suggestions.filter(status=Suggestion.Status.PENDING).first()
    mine = open_suggestion is not None and open_suggestion.kind in selectors.visible_kinds(user)
    return {"colors": ColorName.objects.filter(active=True).order_by("name"), "open_suggestion": open_suggestion,
            "open_is_mine": mine, "open_decided_by": DECIDERS.get(open_suggestion.kind) if open_suggestion else None,
            "can_set_color": roles.has_role(user, *MANUAL_EDITORS) and product.archived_at is None}


def _archival(request, sku: str, change) -> HttpResponse:
    """Archive or unarchive, with the note; HTMX swaps the panel, the history and the colour form (gone from an
    archived product), a plain post goes back."""
    product = _product(sku)
    message, level = "", "info"
    try:
        product = change(product=product, user=request.user, note=request.POST.get("note", ""))
        message = f"{product.sku} is {'archived' if product.archived else 'back in the review work'}."
    except ServiceError as exc:
        message, level = str(exc), "warning"
    if not request.htmx:
        messages.add_message(request, messages.INFO if level == "info" else messages.WARNING, message)
        return redirect("product", sku=product.sku)
    product = _product(sku)
    return render(request, "products/_archive.html", {
        "product": product, "can_archive": True, "message": message, "level": level,
        "events": selectors.product_history(product), "oob_history": True,
        **_color_form(request.user, product), "oob_color": True})


def _or_page_of(suffix: str):
    """A product action's URL, ``products/<sku>/<suffix>/``, is also the page of a SKU that ends in
    ``/<suffix>`` (a SKU may hold '/'): a POST runs the action on ``<sku>``, any other method shows the page of
    ``<sku>/<suffix>``. The page of SKU ``A/color`` posts its own actions to ``products/A/color/<action>/``."""
    def decorate(view):
        @wraps(view)
        def dispatch(request, sku: str):
            if request.method != "POST":
                return product_detail(request, f"{sku}/{suffix}")
            return view(request, sku)
        return dispatch
    return decorate


@_or_page_of("archive")
@role_required(roles.ADMIN)
def product_archive_view(request, sku: str):
    return _archival(request, sku, product_archive)


@_or_page_of("unarchive")
@role_required(roles.ADMIN)
def product_unarchive_view(request, sku: str):
    return _archival(request, sku, product_unarchive)


@_or_page_of("color")
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
        try:
            batch = import_upload_store(catalog=upload, images=request.FILES.get("images"), user=request.user)
        except ServiceError as exc:  # an images file that is not a ZIP: nothing stored
            messages.error(request, str(exc))
            return redirect("import")
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
    try:
        run = pipeline_run_start(user=request.user)
    except QueueUnavailable as exc:
        return _queue_unavailable(exc)
    except RunAlreadyActive as exc:  # its progress is already on the page: a note that stays, not a second copy
        return HttpResponse(format_html('<p class="note" role="status">Not started: {} (its progress is shown '
                                        '<a href="#run-{}">below</a>).</p>', str(exc), exc.run.pk))
    except ServiceError as exc:  # the models cannot be loaded
        return HttpResponse(f'<p class="error">{escape(str(exc))}</p>')
    if run is None:
        return HttpResponse(format_html('<p class="note">{}</p>', nothing_to_run()))
    return render(request, "runs/_progress.html", {"run": _with_state([run])[0]})


@require_POST
@role_required(roles.ADMIN)
def run_resume_view(request, pk: int):
    run = get_object_or_404(PipelineRun, pk=pk)
    try:
        run_resume(run=run)
    except QueueUnavailable as exc:
        return _queue_unavailable(exc)
    run.refresh_from_db()
    return render(request, "runs/_progress.html", {"run": _with_state([run])[0]})


@require_POST
@role_required(roles.ADMIN)
def run_cancel_view(request, pk: int):
    run = get_object_or_404(PipelineRun, pk=pk)
    pipeline_run_cancel(run=run)
    run.refresh_from_db()
    return render(request, "runs/_progress.html", {"run": _with_state([run])[0]})


def _queue_unavailable(exc: QueueUnavailable) -> HttpResponse:
    # 200, so that htmx swaps the message in
    return HttpResponse(f'<p class="error">{escape(str(exc))}</p>')


def _with_state(runs) -> list[PipelineRun]:
    """Runs, each told whether it is stalled (no progress, no worker alive)."""
    runs = list(runs)
    for run in runs:
        run.stalled = run_stalled(run)
    return runs


@role_required(*ANY_ROLE)
def run_progress(request, pk: int):
    run = _with_state([get_object_or_404(PipelineRun, pk=pk)])[0]
    response = render(request, "runs/_progress.html", {"run": run})
    if not run.active:
        return HttpResponseStopPolling(response.content)
    return response


def healthz(request):
    """For load balancers and container health checks: the web app answers and reaches its database."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as exc:
        return JsonResponse({"status": "error", "database": str(exc)}, status=503)
    return JsonResponse({"status": "ok", "database": "ok"})


@role_required(roles.ADMIN)
def export_page(request):
    """The export's filters as a form whose Download button fetches ``/export.csv`` with them (the page's own
    query parameters preselect them)."""
    return render(request, "export.html", {"categories": selectors.catalogue_categories()})


@role_required(roles.ADMIN)
def export_csv(request):
    """The file, with a byte-order mark unless ``bom=0``: it is downloaded to be opened, often in Excel."""
    return export_response(request.GET, bom=True)


#: the media storage's folders the pages show (product images, mask overlays)
MEDIA_SERVED = ("images", "masks")


@role_required(*ANY_ROLE)
def media(request, path: str):
    """Product images and masks from the media storage, for signed-in reviewers only (not the models that
    retrain copies there)."""
    try:
        if path.split("/", 1)[0] not in MEDIA_SERVED or not default_storage.exists(path):
            raise Http404("no such file")
        response = FileResponse(default_storage.open(path, "rb"))
    except SuspiciousFileOperation as exc:  # a path that leaves the storage
        raise Http404("no such file") from exc
    response["Cache-Control"] = "private, max-age=86400"
    return response
