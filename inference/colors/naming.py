"""KD-tree colour naming: nearest named palette colour in CIELAB, refined by CIEDE2000."""

from __future__ import annotations

import csv
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from scipy.spatial import cKDTree

from .space import delta_e_2000, hex_to_rgb, rgb_to_lab
from .vocabulary import DATA_DIR, ColorVocabulary, default_vocabulary


@dataclass(frozen=True)
class PaletteColor:
    name: str  # the palette's own name, e.g. "cornflowerblue"
    hex: str
    color: str  # vocabulary name it stands for, e.g. "Blue"


@dataclass(frozen=True)
class NamedColor:
    palette_name: str
    color: str
    family: str
    delta_e: float  # CIEDE2000 distance to the palette colour


@lru_cache(maxsize=1)
def default_palette() -> tuple[PaletteColor, ...]:
    """CSS colour names and common fashion shades, each mapped to a vocabulary name."""
    with open(DATA_DIR / "palette.csv", newline="", encoding="utf-8") as fh:
        return tuple(PaletteColor(r["name"], r["hex"].lower(), r["color"])
                     for r in csv.DictReader(fh))


class ColorNamer:
    """Names CIELAB colours with the vocabulary through a ``scipy.spatial.cKDTree``.

    The tree holds every palette colour whose vocabulary name is known and nameable,
    plus the vocabulary's own reference colours. A query takes the ``candidates``
    nearest points in Euclidean Lab (CIE76) and returns the one nearest in CIEDE2000.
    """

    def __init__(self, vocabulary: ColorVocabulary | None = None,
                 palette: tuple[PaletteColor, ...] | None = None, candidates: int = 6) -> None:
        self.vocabulary = vocabulary or default_vocabulary()
        entries = [PaletteColor(e.name.lower(), e.hex, e.name)
                   for e in self.vocabulary.entries if e.kd]
        for p in palette if palette is not None else default_palette():
            if p.color in self.vocabulary and self.vocabulary.get(p.color).kd:
                entries.append(p)
        if not entries:
            raise ValueError("the colour vocabulary has no nameable colours")
        self.entries = tuple(entries)
        self.lab = rgb_to_lab(np.array([hex_to_rgb(p.hex) for p in entries], dtype=np.float64))
        self.tree = cKDTree(self.lab)
        self.candidates = min(candidates, len(entries))

    def name_many(self, lab: np.ndarray) -> list[NamedColor]:
        lab = np.atleast_2d(np.asarray(lab, dtype=np.float64))
        _, idx = self.tree.query(lab, k=self.candidates)
        idx = idx.reshape(len(lab), -1)
        de = delta_e_2000(lab[:, None, :], self.lab[idx])
        best = de.argmin(axis=1)
        out = []
        for row, col in enumerate(best):
            entry = self.entries[idx[row, col]]
            out.append(NamedColor(entry.name, entry.color,
                                  self.vocabulary.family(entry.color) or entry.color,
                                  float(de[row, col])))
        return out

    def name(self, lab: np.ndarray) -> NamedColor:
        return self.name_many(np.asarray(lab)[None])[0]

    def name_rgb(self, rgb: tuple[int, int, int]) -> NamedColor:
        return self.name(rgb_to_lab(np.asarray(rgb, dtype=np.float64)))
