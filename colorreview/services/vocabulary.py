"""The colour vocabulary and category regions as stored in the database."""

from __future__ import annotations

import hashlib
import json
from functools import lru_cache

from inference.colors import ColorVocabulary, default_vocabulary
from inference.segment import RegionTable, default_region_table

from ..models import CategoryRegion, ColorName


def vocabulary_rows() -> list[dict]:
    return [{"name": c.name, "hex": c.hex, "family": c.family, "kd": c.nameable, "aliases": c.aliases}
            for c in ColorName.objects.filter(active=True).order_by("id")]


def db_vocabulary() -> ColorVocabulary:
    """The active vocabulary; built once per process for each state of the table (one query a call)."""
    rows = vocabulary_rows()
    return _build_vocabulary(json.dumps(rows, sort_keys=True)) if rows else default_vocabulary()


@lru_cache(maxsize=4)
def _build_vocabulary(rows_json: str) -> ColorVocabulary:
    return ColorVocabulary.from_rows(json.loads(rows_json))


def db_region_table() -> RegionTable:
    mapping = dict(CategoryRegion.objects.values_list("category", "region"))
    return RegionTable(mapping) if mapping else default_region_table()


def configuration_digest() -> str:
    """Short hash of everything admins can edit that changes a prediction."""
    colors = [{k: v for k, v in row.items() if k != "aliases"} for row in vocabulary_rows()]  # aliases only map tags
    payload = json.dumps([colors, sorted(CategoryRegion.objects.values_list("category", "region"))],
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:8]


def seller_colors_remap() -> list[int]:
    """Map every seller tag again after the vocabulary changed; returns the products whose mapping changed.

    Their open suggestions are brought in line (a tag that now maps may turn an imputation into
    nothing, or a flag); decided suggestions and final colours chosen by reviewers are kept.
    """
    from ..models import Product, ReviewEvent
    from .suggestions import suggestion_refresh

    vocabulary = db_vocabulary()
    rows = {c.name: c for c in ColorName.objects.filter(active=True)}
    tagged = Product.objects.exclude(seller_color_raw="")
    changed = []
    for raw in tagged.values_list("seller_color_raw", flat=True).distinct().order_by():
        mapped = rows.get(vocabulary.match(raw) or "")  # each distinct tag is matched once
        stale = tagged.filter(seller_color_raw=raw)
        stale = stale.exclude(seller_color=mapped) if mapped else stale.filter(seller_color__isnull=False)
        for product in stale.select_related("seller_color"):
            before = product.final_color
            untouched = before in ("", product.seller_color_display)
            product.seller_color = mapped
            if untouched:
                product.final_color = mapped.name if mapped else product.seller_color_raw
            product.save(update_fields=["seller_color", "final_color", "updated_at"])
            if product.final_color != before:
                ReviewEvent.objects.create(
                    product=product, action=ReviewEvent.Action.REMAP, from_color=before, to_color=product.final_color,
                    note=f"seller tag {raw!r} now maps to {mapped.name if mapped else 'no vocabulary colour'}")
            suggestion_refresh(product=product)
            changed.append(product.pk)
    return sorted(changed)
