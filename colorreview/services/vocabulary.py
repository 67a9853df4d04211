"""The colour vocabulary and category regions as stored in the database."""

from __future__ import annotations

import hashlib
import json

from inference.colors import ColorVocabulary, default_vocabulary
from inference.segment import RegionTable, default_region_table

from ..models import CategoryRegion, ColorName


def vocabulary_rows() -> list[dict]:
    return [{"name": c.name, "hex": c.hex, "family": c.family, "kd": c.nameable, "aliases": c.aliases}
            for c in ColorName.objects.filter(active=True).order_by("id")]


def db_vocabulary() -> ColorVocabulary:
    rows = vocabulary_rows()
    return ColorVocabulary.from_rows(rows) if rows else default_vocabulary()


def db_region_table() -> RegionTable:
    mapping = dict(CategoryRegion.objects.values_list("category", "region"))
    return RegionTable(mapping) if mapping else default_region_table()


def configuration_digest() -> str:
    """Short hash of everything admins can edit that changes a prediction."""
    payload = json.dumps([vocabulary_rows(), sorted(CategoryRegion.objects.values_list("category", "region"))],
                         sort_keys=True, default=str)
    return hashlib.sha256(payload.encode()).hexdigest()[:8]


def match_color(text: str | None, vocabulary: ColorVocabulary | None = None) -> ColorName | None:
    """The vocabulary row a seller's colour maps to (case-insensitive, aliases), else None."""
    name = (vocabulary or db_vocabulary()).match(text)
    return ColorName.objects.filter(name=name).first() if name else None
