"""Border-model segmenter: the background is whatever resembles the image border.

Catalogue shots are mostly taken on plain backgrounds. The border pixels are
clustered in CIELAB; pixels close to a border cluster and connected to the border
are background; the rest, cleaned up morphologically, is the product. It cannot
tell garment regions apart, so everything it finds is labelled full-body cloth
and flagged ``foreground_only``.
"""

from __future__ import annotations

import numpy as np
from scipy import ndimage
from scipy.cluster.vq import kmeans2

from ..colors.space import rgb_to_lab
from .base import BACKGROUND, FULL, Segmentation, Segmenter

_ANALYSIS_SIDE = 256


def _downscale(rgb: np.ndarray) -> tuple[np.ndarray, int]:
    step = max(1, int(np.ceil(max(rgb.shape[:2]) / _ANALYSIS_SIDE)))
    return rgb[::step, ::step], step


def _border_pixels(lab: np.ndarray, width: int) -> np.ndarray:
    return np.concatenate([
        lab[:width].reshape(-1, 3), lab[-width:].reshape(-1, 3),
        lab[:, :width].reshape(-1, 3), lab[:, -width:].reshape(-1, 3),
    ])


def foreground_mask(rgb: np.ndarray, threshold: float = 10.0, seed: int = 0) -> np.ndarray:
    """Boolean product mask of ``rgb`` by the border model (same size as ``rgb``)."""
    small, step = _downscale(rgb)
    h, w = small.shape[:2]
    if h < 4 or w < 4:
        return np.zeros(rgb.shape[:2], dtype=bool)
    lab = rgb_to_lab(small)
    border = _border_pixels(lab, max(1, min(h, w) // 40))
    k = 3 if len(np.unique(border.round(0), axis=0)) >= 3 else 1
    if k > 1:
        centres, _ = kmeans2(border, k, minit="++", seed=np.random.default_rng(seed), iter=10)
    else:
        centres = border.mean(axis=0, keepdims=True)
    dist = np.min(np.linalg.norm(lab[:, :, None, :] - centres[None, None], axis=-1), axis=-1)
    near = dist < threshold
    components, _ = ndimage.label(near)
    touching = np.unique(np.concatenate([
        components[0], components[-1], components[:, 0], components[:, -1]]))
    background = np.isin(components, touching[touching > 0])
    fg = ~background
    fg = ndimage.binary_opening(fg, iterations=1)
    fg = ndimage.binary_fill_holes(fg)
    parts, n = ndimage.label(fg)
    if n:
        sizes = ndimage.sum(fg, parts, range(1, n + 1))
        keep = 1 + np.flatnonzero(sizes >= max(0.01 * fg.size, sizes.max() * 0.05))
        fg = np.isin(parts, keep)
    if step > 1:
        fg = np.repeat(np.repeat(fg, step, axis=0), step, axis=1)[: rgb.shape[0], : rgb.shape[1]]
    return fg


class BorderSegmenter(Segmenter):
    """Plain-background model from the image border; no learned weights."""

    name = "border"
    version = "1"

    def __init__(self, threshold: float = 10.0) -> None:
        self.threshold = threshold

    def segment_batch(self, images: list[np.ndarray]) -> list[Segmentation]:
        out = []
        for rgb in images:
            fg = foreground_mask(rgb, self.threshold)
            labels = np.where(fg, FULL, BACKGROUND).astype(np.uint8)
            flags = ("foreground_only",) + (() if fg.any() else ("empty",))
            out.append(Segmentation(labels, self.name, flags))
        return out

    def describe(self) -> dict:
        return {"name": self.name, "version": self.version, "threshold": self.threshold}
