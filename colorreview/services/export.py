"""Export of the corrected catalogue tags as CSV."""

from __future__ import annotations

import csv
from collections.abc import Iterator

from django.db.models import Prefetch

from ..models import Prediction, Product, Suggestion

COLUMNS = ["sku", "title", "category", "seller_color", "predicted_color", "confidence", "suggestion",
           "review_status", "final_color", "reviewed_by", "reviewed_at"]
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: object) -> str:
    """Spreadsheet-safe text: a cell starting like a formula is prefixed with a quote."""
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(_FORMULA_START) else text


def _latest(items, key=lambda x: x.created_at):
    return max(items, key=lambda x: (key(x), x.pk)) if items else None


def export_rows() -> Iterator[list[str]]:
    suggestions = Suggestion.objects.exclude(status=Suggestion.Status.SUPERSEDED).select_related("decided_by")
    products = (Product.objects.select_related("seller_color").order_by("sku")
                .prefetch_related(Prefetch("suggestions", queryset=suggestions),
                                  Prefetch("predictions", queryset=Prediction.objects.only(
                                      "id", "product_id", "image_checksum", "predicted_color", "confidence",
                                      "created_at"))))
    for p in products.iterator(chunk_size=500):
        prediction = _latest([x for x in p.predictions.all() if x.image_checksum == p.image_checksum])
        suggestion = _latest(list(p.suggestions.all()))
        decided = suggestion is not None and suggestion.status != Suggestion.Status.PENDING
        yield [neutralise(v) for v in (
            p.sku, p.title, p.category, p.seller_color_raw,
            prediction.predicted_color if prediction else "",
            f"{prediction.confidence:.4f}" if prediction and prediction.confidence is not None else "",
            suggestion.kind if suggestion else "",
            suggestion.status if suggestion else "",
            p.final_color,
            suggestion.decided_by.get_username() if decided and suggestion.decided_by else "",
            suggestion.decided_at.isoformat() if decided and suggestion.decided_at else "",
        )]


def write_export(fh) -> int:
    writer = csv.writer(fh)
    writer.writerow(COLUMNS)
    n = 0
    for row in export_rows():
        writer.writerow(row)
        n += 1
    return n
