"""Garment segmentation: a registry of segmenters selected by name."""

from __future__ import annotations

from ..registry import Registry
from .base import BACKGROUND, CLASS_NAMES, FULL, LOWER, UPPER, Segmentation, Segmenter, WholeImageSegmenter
from .border import BorderSegmenter, foreground_mask
from .regions import GarmentSelection, RegionTable, default_region_table, select_garment

SEGMENTERS: Registry[Segmenter] = Registry("segmenter")
# The better of the two learned segmenters on Clothing Co-Parsing val (benchmarks/segmenter.py);
# the paper's U2-Net stays selectable as "u2net".
DEFAULT_SEGMENTER = "effunet"


@SEGMENTERS.register("u2net", "U2-Net garment segmenter (shipped U2-NetP weights)")
def _u2net(**kwargs) -> Segmenter:
    from .u2net_segmenter import U2NetSegmenter

    return U2NetSegmenter(**kwargs)


@SEGMENTERS.register("effunet", "U-Net over an ImageNet-pretrained EfficientNet-Lite0 encoder (shipped weights)")
def _effunet(**kwargs) -> Segmenter:
    from .u2net_segmenter import EffUNetSegmenter

    return EffUNetSegmenter(**kwargs)


@SEGMENTERS.register("border", "plain-background model from the image border (no weights)")
def _border(**kwargs) -> Segmenter:
    return BorderSegmenter(**kwargs)


@SEGMENTERS.register("none", "no segmentation: the whole image is the garment (baseline)")
def _none(**kwargs) -> Segmenter:
    return WholeImageSegmenter()


def create_segmenter(name: str = DEFAULT_SEGMENTER, **kwargs) -> Segmenter:
    """A new segmenter by registered name (``effunet``, ``u2net``, ``border``, ``none``)."""
    return SEGMENTERS.create(name, **kwargs)


def get_segmenter(name: str = DEFAULT_SEGMENTER, **kwargs) -> Segmenter:
    """The process-wide cached segmenter of that name."""
    return SEGMENTERS.get(name, **kwargs)


__all__ = [
    "BACKGROUND", "CLASS_NAMES", "FULL", "LOWER", "SEGMENTERS", "UPPER", "BorderSegmenter",
    "GarmentSelection", "RegionTable", "WholeImageSegmenter", "Segmentation", "Segmenter", "create_segmenter",
    "default_region_table", "foreground_mask", "get_segmenter", "select_garment",
]
