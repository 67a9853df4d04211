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
    min_fraction: float = 0.01,
    min_share: float = 0.25,
) -> GarmentSelection:
    """Pick the advertised region, with recorded fallbacks when it is (nearly) empty.

    The region counts when it covers ``min_fraction`` of the image and ``min_share`` of
    all garment pixels. Otherwise, for upper/lower products, the region plus full-body
    cloth is tried (long tops are often read as dresses and vice versa), then all garment
    pixels, then ``foreground`` (a product mask from another model, e.g. the border model).
    """
    table = table or default_region_table()
    labels = segmentation.labels
    flags: list[str] = []
    region = table.region_for(category)
    if region is None:
        counts = [(labels == cid).sum() for cid in (UPPER, LOWER, FULL)]
        region = REGIONS[int(np.argmax(counts))]
        flags.append("region_from_largest")
    garment = labels > 0
    enough = max(min_fraction, min_share * float(garment.mean()))
    mask = labels == REGION_IDS[region]
    if mask.mean() >= enough:
        return GarmentSelection(mask, region, tuple(flags))
    if region != "full":
        widened = mask | (labels == FULL)
        if widened.mean() >= enough:
            return GarmentSelection(widened, region, (*flags, "fallback_with_full"))
    if garment.mean() >= min_fraction:
        return GarmentSelection(garment, region, (*flags, "fallback_all_garment"))
    flags.append("fallback_foreground")
    if foreground is not None and foreground.mean() >= min_fraction:
        return GarmentSelection(foreground.astype(bool), "foreground", tuple(flags))
    flags.append("empty_garment")
    return GarmentSelection(np.zeros_like(labels, dtype=bool), None, tuple(flags))
