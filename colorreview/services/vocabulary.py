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


#: products re-mapped per statement
REMAP_CHUNK = 2000


def seller_colors_remap() -> list[int]:
    """Map every seller tag again after the vocabulary changed; returns the products whose mapping changed.

    Set-based: each distinct tag is matched once, its products are updated a chunk at a time with their
    history events in bulk, and their open suggestions are brought in line in bulk (a tag that now maps
    may turn an imputation into nothing, or a flag); decided suggestions and final colours chosen by
    reviewers are kept.
    """
    from ..models import Product

    vocabulary = db_vocabulary()
    ids = dict(ColorName.objects.filter(active=True).values_list("name", "id"))
    tagged = Product.objects.exclude(seller_color_raw="")
    changed: list[int] = []
    for raw in tagged.values_list("seller_color_raw", flat=True).distinct().order_by():
        name = vocabulary.match(raw)
        mapped = ids.get(name or "")
        stale = tagged.filter(seller_color_raw=raw)
        stale = stale.exclude(seller_color_id=mapped) if mapped else stale.filter(seller_color__isnull=False)
        while chunk := list(stale.order_by("pk").values_list("pk", "final_color", "seller_color__name")[:REMAP_CHUNK]):
            changed += _remap_chunk(chunk, raw, mapped, name if mapped else None)
    _retired_suggestions_withdraw(set(ids))
    return sorted(changed)


def _retired_suggestions_withdraw(active: set[str]) -> None:
    """Open suggestions of a colour taken out of the vocabulary are judged again (and so withdrawn)."""
    from ..models import Suggestion
    from .suggestions import suggestions_refresh_products

    retired = list(Suggestion.objects.filter(status=Suggestion.Status.PENDING).exclude(suggested_color__in=active)
                   .order_by("product_id").values_list("product_id", flat=True))
    for start in range(0, len(retired), REMAP_CHUNK):
        suggestions_refresh_products(product_ids=retired[start:start + REMAP_CHUNK])


def _remap_chunk(rows: list[tuple[int, str, str | None]], raw: str, mapped: int | None, name: str | None) -> list[int]:
    """One chunk of products of one tag: the new mapping, the final colour where no reviewer chose it, events."""
    from django.db import transaction
    from django.utils import timezone

    from ..models import Product, ReviewEvent
    from .suggestions import suggestions_refresh_products

    shown = name or raw  # what the catalogue carries for an untouched product now
    untouched = [pk for pk, final, before in rows if final in ("", before or raw)]
    with transaction.atomic():
        Product.objects.filter(pk__in=[pk for pk, _, _ in rows]).update(seller_color_id=mapped,
                                                                        updated_at=timezone.now())
        Product.objects.filter(pk__in=untouched).update(final_color=shown)
        note = f"seller tag {raw!r} now maps to {name or 'no vocabulary colour'}"
        ReviewEvent.objects.bulk_create([
            ReviewEvent(product_id=pk, action=ReviewEvent.Action.REMAP, from_color=final, to_color=shown, note=note)
            for pk, final, before in rows if pk in set(untouched) and final != shown])
        suggestions_refresh_products(product_ids=[pk for pk, _, _ in rows])
    return [pk for pk, _, _ in rows]
