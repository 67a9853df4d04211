"""Dominant colours of a set of pixels: k-means in CIELAB, merged by CIEDE2000."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.cluster.vq import kmeans2

from .naming import ColorNamer
from .space import delta_e_2000, lab_to_rgb, rgb_to_hex, rgb_to_lab


@dataclass(frozen=True)
class DominantColor:
    """One colour cluster of the garment, with its share of the garment's pixels."""

    hex: str
    lab: tuple[float, float, float]
    fraction: float
    color: str  # vocabulary name given by the KD-tree
    family: str
    palette_name: str
    delta_e: float

    def as_text(self) -> str:
        """``name:#hex:fraction`` as written in prediction CSVs."""
        return f"{self.color}:{self.hex}:{self.fraction:.3f}"


def _distinct(lab: np.ndarray) -> int:
    """How many distinct colours at 0.1 Lab resolution: each one packed into one integer (a 1-D
    unique is a small fraction of the cost of ``np.unique(..., axis=0)``, which sorts whole rows)."""
    q = np.rint(lab * 10).astype(np.int64) + np.array([0, 2000, 2000])
    return len(np.unique((q[:, 0] * 4001 + q[:, 1]) * 4001 + q[:, 2]))


def _cluster(lab: np.ndarray, k: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    k = max(1, min(k, _distinct(lab)))
    if k == 1:
        return lab.mean(axis=0, keepdims=True), np.zeros(len(lab), dtype=int)
    rng = np.random.default_rng(seed)
    # the pixels are finite by construction (Lab of 8-bit RGB): no check on each of the 15 iterations
    centres, labels = kmeans2(lab, k, minit="++", seed=rng, iter=15, check_finite=False)
    return centres, labels


def _merge(centres: np.ndarray, counts: np.ndarray, threshold: float):
    """Greedily merge clusters closer than ``threshold`` CIEDE2000 (largest first)."""
    order = np.argsort(-counts)
    merged: list[list[float]] = []  # [L, a, b, count]
    for i in order:
        if counts[i] == 0:
            continue
        for m in merged:
            if delta_e_2000(np.array(m[:3]), centres[i]) < threshold:
                total = m[3] + counts[i]
                m[:3] = [(m[j] * m[3] + centres[i][j] * counts[i]) / total for j in range(3)]
                m[3] = total
                break
        else:
            merged.append([*centres[i].tolist(), float(counts[i])])
    return merged


def dominant_colors(
    pixels_rgb: np.ndarray,
    namer: ColorNamer,
    k: int = 5,
    max_samples: int = 6000,
    merge_delta_e: float = 8.0,
    min_fraction: float = 0.03,
    seed: int = 0,
) -> list[DominantColor]:
    """Cluster N x 3 RGB pixels and name each cluster; sorted by share, largest first."""
    pixels = np.asarray(pixels_rgb, dtype=np.float64).reshape(-1, 3)
    if len(pixels) == 0:
        return []
    if len(pixels) > max_samples:
        pick = np.random.default_rng(seed).choice(len(pixels), max_samples, replace=False)
        pixels = pixels[pick]
    lab = rgb_to_lab(pixels)
    centres, labels = _cluster(lab, k, seed)
    counts = np.bincount(labels, minlength=len(centres)).astype(float)
    merged = [m for m in _merge(centres, counts, merge_delta_e)]
    total = sum(m[3] for m in merged)
    merged = [m for m in merged if m[3] / total >= min_fraction] or merged[:1]
    names = namer.name_many(np.array([m[:3] for m in merged]))
    out = []
    for m, named in zip(merged, names):
        lab_c = np.array(m[:3])
        out.append(DominantColor(
            hex=rgb_to_hex(lab_to_rgb(lab_c)), lab=tuple(round(float(v), 2) for v in lab_c),
            fraction=m[3] / total, color=named.color, family=named.family,
            palette_name=named.palette_name, delta_e=named.delta_e,
        ))
    return sorted(out, key=lambda d: -d.fraction)
