"""Intersection-over-union accumulators for garment masks."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

CLASS_NAMES = ("background", "upper", "lower", "full")


@dataclass
class IoUMeter:
    """Dataset-level IoU: intersections and unions summed over all images, then divided."""

    num_classes: int = 4
    inter: np.ndarray = field(default_factory=lambda: np.zeros(4))
    union: np.ndarray = field(default_factory=lambda: np.zeros(4))
    bin_inter: float = 0.0
    bin_union: float = 0.0

    def update(self, pred, target) -> None:
        pred = torch.as_tensor(np.array(pred) if isinstance(pred, np.ndarray) else pred).long().flatten()
        target = torch.as_tensor(np.array(target) if isinstance(target, np.ndarray) else target)
        target = target.long().flatten().to(pred.device)
        for c in range(self.num_classes):
            p, t = pred == c, target == c
            self.inter[c] += float((p & t).sum())
            self.union[c] += float((p | t).sum())
        pb, tb = pred > 0, target > 0
        self.bin_inter += float((pb & tb).sum())
        self.bin_union += float((pb | tb).sum())

    def per_class(self) -> dict[str, float]:
        return {CLASS_NAMES[c]: float(self.inter[c] / self.union[c]) if self.union[c] else float("nan")
                for c in range(self.num_classes)}

    def garment_miou(self) -> float:
        values = [v for k, v in self.per_class().items() if k != "background" and not np.isnan(v)]
        return float(np.mean(values)) if values else 0.0

    def binary_iou(self) -> float:
        return self.bin_inter / self.bin_union if self.bin_union else 0.0

    def summary(self) -> dict[str, float]:
        return {**{f"iou_{k}": round(v, 4) for k, v in self.per_class().items()},
                "miou_garment": round(self.garment_miou(), 4),
                "iou_binary": round(self.binary_iou(), 4)}
