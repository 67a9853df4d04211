"""Segmenter interface and result type."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

#: Class ids of a garment mask.
BACKGROUND, UPPER, LOWER, FULL = 0, 1, 2, 3
CLASS_NAMES = ("background", "upper", "lower", "full")
REGION_IDS = {"upper": UPPER, "lower": LOWER, "full": FULL}


@dataclass(frozen=True)
class Segmentation:
    """A per-pixel garment mask of one image.

    ``labels`` has the image's (working) size and values 0 background, 1 upper-body
    cloth, 2 lower-body cloth, 3 full-body cloth. ``flags`` say what was unusual
    (``empty``: no garment found; ``foreground_only``: the segmenter separates
    product from background but cannot tell garment regions apart).
    """

    labels: np.ndarray
    segmenter: str
    flags: tuple[str, ...] = ()

    def fraction(self, class_id: int | None = None) -> float:
        mask = self.labels > 0 if class_id is None else self.labels == class_id
        return float(mask.mean()) if self.labels.size else 0.0


class Segmenter:
    """Base class: turns RGB uint8 images (H x W x 3) into ``Segmentation`` masks."""

    name: str = "segmenter"
    version: str = "0"

    def segment_batch(self, images: list[np.ndarray]) -> list[Segmentation]:
        raise NotImplementedError

    def segment(self, image: np.ndarray) -> Segmentation:
        return self.segment_batch([image])[0]

    def describe(self) -> dict:
        return {"name": self.name, "version": self.version}


class WholeImageSegmenter(Segmenter):
    """Every pixel is garment: the no-segmentation baseline."""

    name = "none"
    version = "none1"

    def segment_batch(self, images: list[np.ndarray]) -> list[Segmentation]:
        return [Segmentation(np.full(im.shape[:2], FULL, dtype=np.uint8), self.name, ("whole_image",))
                for im in images]
