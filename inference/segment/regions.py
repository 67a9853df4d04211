"""Which garment region a product category advertises, and how it is picked from a mask."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from ..colors.vocabulary import DATA_DIR, normalise
from .base import FULL, LOWER, REGION_IDS, UPPER, Segmentation

REGIONS = ("upper", "lower", "full")


class RegionTable:
    """Category -> region lookup (case-insensitive); built from data, never from code branches."""

    def __init__(self, mapping: dict[str, str]) -> None:
        bad = {c: r for c, r in mapping.items() if r not in REGIONS}
        if bad:
            raise ValueError(f"unknown regions {bad}; a region is one of {', '.join(REGIONS)}")
        self.mapping = {normalise(c): r for c, r in mapping.items()}

    @classmethod
    def from_csv(cls, path) -> RegionTable:
        with open(path, newline="", encoding="utf-8") as fh:
            return cls({row["category"]: row["region"] for row in csv.DictReader(fh)})

    def region_for(self, category: str | None) -> str | None:
        if not category:
            return None
        return self.mapping.get(normalise(category))


@lru_cache(maxsize=1)
def default_region_table() -> RegionTable:
    return RegionTable.from_csv(DATA_DIR / "category_regions.csv")


@dataclass(frozen=True)
class GarmentSelection:
    """The pixels whose colour is read, and how they were chosen."""

    mask: np.ndarray  # bool, image size
    region: str | None  # upper / lower / full, or "foreground" after a fallback
    flags: tuple[str, ...]

    @property
    def fraction(self) -> float:
        return float(self.mask.mean()) if self.mask.size else 0.0


def select_garment(
    segmentation: Segmentation,
    category: str | None,
    table: RegionTable | None = None,
    foreground: np.ndarray | None = None,
    min_fraction: float = 0.005,
) -> GarmentSelection:
    """Pick the advertised region; fall back to all garment pixels, then the foreground.

    ``foreground`` is a product mask from another model (the border model), used when
    the segmenter finds no garment at all. Each fallback is recorded in ``flags``.
    """
    table = table or default_region_table()
    labels = segmentation.labels
    flags: list[str] = []
    region = table.region_for(category)
    if region is None:
        counts = [(labels == cid).sum() for cid in (UPPER, LOWER, FULL)]
        region = REGIONS[int(np.argmax(counts))]
        flags.append("region_from_largest")
    mask = labels == REGION_IDS[region]
    if mask.mean() >= min_fraction:
        return GarmentSelection(mask, region, tuple(flags))
    garment = labels > 0
    if garment.mean() >= min_fraction:
        flags.append("fallback_all_garment")
        return GarmentSelection(garment, region, tuple(flags))
    flags.append("fallback_foreground")
    if foreground is not None and foreground.mean() >= min_fraction:
        return GarmentSelection(foreground.astype(bool), "foreground", tuple(flags))
    flags.append("empty_garment")
    return GarmentSelection(np.zeros_like(labels, dtype=bool), None, tuple(flags))
