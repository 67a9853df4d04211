"""From a segmentation to the classifier's view of the garment (the paper's Fig. 2b)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from PIL import Image

from .segment.base import Segmentation
from .segment.border import foreground_mask
from .segment.regions import GarmentSelection, RegionTable, select_garment


@dataclass(frozen=True)
class GarmentView:
    selection: GarmentSelection
    crop: np.ndarray | None  # size x size x 3 uint8, garment composited on white


def garment_crop(rgb: np.ndarray, mask: np.ndarray, size: int = 224, margin: float = 0.06,
                 fill: int = 255) -> np.ndarray:
    """The masked garment composited on white, cropped to a square around it, ``size`` px."""
    ys, xs = np.nonzero(mask)
    if len(ys) == 0:
        raise ValueError("empty garment mask")
    y0, y1, x0, x1 = ys.min(), ys.max() + 1, xs.min(), xs.max() + 1
    side = int(round(max(y1 - y0, x1 - x0) * (1 + 2 * margin)))
    side = max(side, 2)
    top = int(round((y0 + y1 - side) / 2))
    left = int(round((x0 + x1 - side) / 2))
    canvas = np.full((side, side, 3), fill, dtype=np.uint8)
    sy0, sx0 = max(top, 0), max(left, 0)
    sy1, sx1 = min(top + side, rgb.shape[0]), min(left + side, rgb.shape[1])
    region = rgb[sy0:sy1, sx0:sx1]
    keep = mask[sy0:sy1, sx0:sx1, None]
    canvas[sy0 - top:sy1 - top, sx0 - left:sx1 - left] = np.where(keep, region, fill)
    img = Image.fromarray(canvas)
    if side != size:
        img = img.resize((size, size), Image.Resampling.BILINEAR, reducing_gap=2.0)
    return np.asarray(img)


def garment_view(rgb: np.ndarray, segmentation: Segmentation, category: str | None,
                 table: RegionTable | None = None, size: int = 224) -> GarmentView:
    """Select the advertised garment (with fallbacks) and build its white-background crop."""
    selection = select_garment(segmentation, category, table)
    if "empty_garment" in selection.flags:
        foreground = foreground_mask(rgb)
        selection = select_garment(segmentation, category, table, foreground=foreground)
    crop = garment_crop(rgb, selection.mask, size) if selection.mask.any() else None
    return GarmentView(selection, crop)


def whole_image_view(rgb: np.ndarray, size: int = 224) -> np.ndarray:
    """The whole image, square-padded on white: the context view of a product."""
    return garment_crop(rgb, np.ones(rgb.shape[:2], dtype=bool), size)
