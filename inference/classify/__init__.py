"""Colour classifiers, selected by name from a registry."""

from __future__ import annotations

from ..registry import Registry
from .model import VIEWS, ColorClassifier, KDTreeColorClassifier, TimmColorClassifier, calibrate

CLASSIFIERS: Registry[ColorClassifier] = Registry("classifier")


@CLASSIFIERS.register("timm", "fine-tuned timm network (shipped: EfficientNet-Lite)")
def _timm(**kwargs) -> ColorClassifier:
    return TimmColorClassifier(**kwargs)


@CLASSIFIERS.register("kdtree", "KD-tree naming of dominant colours (no weights)")
def _kdtree(**kwargs) -> ColorClassifier:
    return KDTreeColorClassifier(**kwargs)


def create_classifier(name: str = "timm", **kwargs) -> ColorClassifier:
    """A new classifier by registered name (``timm``, ``kdtree``)."""
    return CLASSIFIERS.create(name, **kwargs)


def get_classifier(name: str = "timm", **kwargs) -> ColorClassifier:
    """The process-wide cached classifier of that name."""
    return CLASSIFIERS.get(name, **kwargs)


__all__ = ["CLASSIFIERS", "VIEWS", "ColorClassifier", "calibrate", "KDTreeColorClassifier", "TimmColorClassifier",
           "create_classifier", "get_classifier"]
