"""Export of the corrected catalogue tags as CSV: streamed in keyset chunks, constant memory."""

from __future__ import annotations

import csv
import re
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, OuterRef, Q, Subquery
from django.http import HttpResponse, HttpResponseBadRequest, StreamingHttpResponse

from ..models import Prediction, Product, ReviewEvent, Suggestion
from .regions import Wanted, current_readings, wanted_readings
from .vocabulary import db_region_table

COLUMNS = ["sku", "title", "category", "seller_color", "predicted_color", "confidence", "suggestion",
           "review_status", "final_color", "reviewed_by", "reviewed_at"]
#: the column added when archived products are asked for (empty for the others)
ARCHIVED_COLUMN = "archived_at"
#: what the export does with archived products; left out unless asked for
ARCHIVED_OPTIONS = ("exclude", "include", "only")
#: what an export may select: products with a suggestion of this kind, in this review state
KIND_OPTIONS = ("impute", "mislabel")
STATUS_OPTIONS = ("pending", "accepted", "rejected", "corrected")
#: the values each query parameter of an export takes (``category`` takes any)
PARAMETER_VALUES = {"kind": KIND_OPTIONS, "status": STATUS_OPTIONS, "category": None, "changed": ("0", "1"),
                    "archived": ARCHIVED_OPTIONS, "bom": ("0", "1")}
#: written first when asked for, so that Excel reads the file as UTF-8 (else "Café" shows as "CafÃ©")
BOM = "\ufeff"
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
#: a signed number (``-123``, ``+44.5``, ``-1e3``) is read as a number, never as a formula: left as it is,
#: so that SKUs like ``-123`` join back to the catalogue
_PLAIN_NUMBER = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?", re.ASCII)
#: products read per query
CHUNK = 5000


def neutralise(value: object) -> str:
    """Spreadsheet-safe text: a cell starting like a formula is prefixed with a quote (a plain number is not)."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) and not _PLAIN_NUMBER.fullmatch(text) else text


@dataclass(frozen=True)
class ExportFilters:
    kind: str | None = None  # products with a suggestion of this kind
    status: str | None = None  # ... in this review state
    category: str | None = None
    changed_only: bool = False  # only products whose final colour differs from the seller's tag
    archived: str = "exclude"  # one of ARCHIVED_OPTIONS

    @property
    def columns(self) -> list[str]:
        """The header: the documented columns, and ``archived_at`` when archived products may be in the file."""
        return COLUMNS if self.archived == "exclude" else [*COLUMNS, ARCHIVED_COLUMN]


def _products(filters: ExportFilters):
    if filters.archived not in ARCHIVED_OPTIONS:
        raise ValueError(f"archived: one of {', '.join(ARCHIVED_OPTIONS)}, not {filters.archived!r}")
    qs = Product.objects.all()
    if filters.archived != "include":
        qs = qs.filter(archived_at__isnull=filters.archived == "exclude")
    if filters.category:
        qs = qs.filter(category__iexact=filters.category)
    if filters.kind or filters.status:  # judged on the suggestion the row shows: the product's latest standing one
        latest = (Suggestion.objects.filter(product=OuterRef("pk")).exclude(status=Suggestion.Status.SUPERSEDED)
                  .order_by("-created_at", "-id"))
        if filters.kind:
            qs = qs.annotate(latest_kind=Subquery(latest.values("kind")[:1])).filter(latest_kind=filters.kind)
        if filters.status:
            qs = qs.annotate(latest_status=Subquery(latest.values("status")[:1])).filter(latest_status=filters.status)
    if filters.changed_only:
        qs = qs.filter((Q(seller_color__isnull=False) & ~Q(final_color=F("seller_color__name")))
                       | (Q(seller_color__isnull=True) & ~Q(final_color=F("seller_color_raw"))))
    return qs.order_by("sku").values_list("id", "sku", "title", "category", "seller_color_raw", "image_checksum",
                                          "final_color", "archived_at")


def _latest_predictions(wanted: Wanted) -> dict[int, tuple]:
    """Each product's latest reading of its image, for the garment region its category picks now."""
    rows = Prediction.objects.filter(product_id__in=wanted).order_by("created_at", "id").values_list(
        "product_id", "image_checksum", "category_region", "predicted_color", "confidence")
    return current_readings(((pk, checksum, region, (color, confidence))
                             for pk, checksum, region, color, confidence in rows), wanted)


def _latest_suggestions(ids: list[int]) -> dict[int, tuple]:
    out: dict[int, tuple] = {}
    rows = (Suggestion.objects.filter(product_id__in=ids).exclude(status=Suggestion.Status.SUPERSEDED)
            .order_by("created_at", "id").values_list("product_id", "kind", "status", "decided_by__username",
                                                      "decided_at"))
    for product_id, *rest in rows:
        out[product_id] = tuple(rest)
    return out


def _set_by_hand(ids: list[int]) -> dict[int, tuple]:
    """Who set each product's colour by hand last, and when (products never set by hand are absent)."""
    rows = (ReviewEvent.objects.filter(product_id__in=ids, action=ReviewEvent.Action.MANUAL)
            .order_by("created_at", "id").values_list("product_id", "actor__username", "created_at"))
    return {product_id: (by, at) for product_id, by, at in rows}  # the newest wins


def export_rows(filters: ExportFilters | None = None) -> Iterator[list[str]]:
    """One row a product, in sku order; four queries per chunk of products whatever the catalogue's size (and one
    for the region table).
    ``reviewed_by`` / ``reviewed_at`` say who decided the final colour last: a reviewer's decision on the
    suggestion shown, or a colour set by hand after it.
    Archived products are left out unless ``filters.archived`` asks for them (then a last column says when)."""
    filters = filters or ExportFilters()
    products = _products(filters)
    dated = filters.archived != "exclude"
    table = db_region_table()
    last = None
    while True:
        chunk = list((products.filter(sku__gt=last) if last is not None else products)[:CHUNK])
        if not chunk:
            return
        ids = [row[0] for row in chunk]
        predictions = _latest_predictions(wanted_readings(table, [(row[0], row[5], row[3]) for row in chunk]))
        suggestions, by_hand = _latest_suggestions(ids), _set_by_hand(ids)
        for pk, sku, title, category, seller, _checksum, final, archived_at in chunk:
            color, confidence = predictions.get(pk, ("", None))
            kind, status, by, at = suggestions.get(pk, ("", "", None, None))
            if status in ("", Suggestion.Status.PENDING):
                by, at = None, None
            hand_by, hand_at = by_hand.get(pk, (None, None))
            if hand_at is not None and (at is None or hand_at > at):
                by, at = hand_by, hand_at
            row = [neutralise(v) for v in (
                sku, title, category, seller, color, f"{confidence:.4f}" if confidence is not None else "",
                kind, status, final, by or "", at.isoformat() if at else "")]
            yield [*row, archived_at.isoformat() if archived_at else ""] if dated else row
        last = chunk[-1][1]


def write_export(fh, filters: ExportFilters | None = None, *, bom: bool = False) -> int:
    """Write the export to a text file; ``bom`` starts it with a UTF-8 byte-order mark. Returns the row count."""
    filters = filters or ExportFilters()
    if bom:
        fh.write(BOM)
    writer = csv.writer(fh)
    writer.writerow(filters.columns)
    n = 0
    for row in export_rows(filters):
        writer.writerow(row)
        n += 1
    return n


class _Echo:
    def write(self, value):
        return value


def export_problems(params, accepted: Collection[str] = ()) -> list[str]:
    """What the export cannot take in these query parameters: names it does not know (``accepted``: others
    the caller's framework reads) and values it does not know. A typo must not export the whole catalogue as
    if it were the selection."""
    unknown = sorted(set(params) - set(PARAMETER_VALUES) - set(accepted))
    problems = [f"unknown parameter {', '.join(map(repr, unknown))} (the export takes: "
                f"{', '.join(PARAMETER_VALUES)})"] if unknown else []
    from ..selectors import TEXT_FILTER_MAX

    too_long = [f"{key} is longer than {TEXT_FILTER_MAX} characters" for key in PARAMETER_VALUES
                if len(params.get(key) or "") > TEXT_FILTER_MAX]
    return problems + too_long + [f"unknown filter value {key}={params[key]!r} (one of: {', '.join(values)})"
                                  for key, values in PARAMETER_VALUES.items()
                                  if values and params.get(key) and params[key] not in values]


def export_filters(params) -> ExportFilters:
    """The filters of checked query parameters (see ``export_problems``)."""
    return ExportFilters(kind=params.get("kind") or None, status=params.get("status") or None,
                         category=params.get("category") or None, changed_only=params.get("changed") == "1",
                         archived=params.get("archived") or "exclude")


def export_response(params, *, bom: bool, accepted: Collection[str] = ()) -> HttpResponse:
    """The export as a streamed CSV download for these query parameters (kind, status, category, changed,
    archived, bom), or a 400 naming the parameters and values it does not know. ``bom``: whether the file
    starts with a UTF-8 byte-order mark when the parameters do not say. Shared by the page's download and the
    API (which passes the names DRF reads as ``accepted``)."""
    problems = export_problems(params, accepted)
    if problems:
        return HttpResponseBadRequest("Nothing exported: " + "; ".join(problems) + "\n",
                                      content_type="text/plain; charset=utf-8")
    filters = export_filters(params)
    start = BOM if (params.get("bom") or ("1" if bom else "0")) == "1" else ""
    writer = csv.writer(_Echo())

    def stream():
        yield start + writer.writerow(filters.columns)
        for row in export_rows(filters):
            yield writer.writerow(row)

    name = f"colorreview-tags-{datetime.now():%Y%m%d-%H%M}.csv"
    response = StreamingHttpResponse(stream(), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response
