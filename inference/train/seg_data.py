"""Clothing Co-Parsing data for the garment segmenter: photos, 59-label masks, regions."""

from __future__ import annotations

import csv
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .common import split_of

#: Regions of labels.csv that become garment classes; all others are background.
REGION_CLASS = {"upper": 1, "lower": 2, "full": 3}


@dataclass
class SegmentationData:
    images: torch.Tensor  # N x 3 x H x W uint8
    labels: torch.Tensor  # N x H x W uint8, 0..3
    person: torch.Tensor  # N x H x W bool: any annotated label other than 'null'
    stems: list[str]

    def __len__(self) -> int:
        return len(self.stems)

    def to(self, device: torch.device) -> SegmentationData:
        return SegmentationData(self.images.to(device), self.labels.to(device),
                                self.person.to(device), self.stems)


def label_lookup(root: Path) -> tuple[np.ndarray, np.ndarray]:
    """Arrays mapping a CCP label value to its garment class and to 'is a person pixel'."""
    classes = np.zeros(256, dtype=np.uint8)
    person = np.zeros(256, dtype=bool)
    with open(root / "labels.csv", newline="") as fh:
        for row in csv.DictReader(fh):
            value = int(row["value"])
            classes[value] = REGION_CLASS.get(row["region"], 0)
            person[value] = row["region"] != "background"
    return classes, person


def _load_pair(root: Path, stem: str, size: tuple[int, int], classes, person):
    h, w = size
    photo = Image.open(root / "photos" / f"{stem}.jpg").convert("RGB").resize((w, h), Image.BILINEAR)
    mask = np.asarray(Image.open(root / "masks" / f"{stem}.png").resize((w, h), Image.NEAREST))
    return np.asarray(photo).transpose(2, 0, 1), classes[mask], person[mask]


def load_segmentation_data(root: str | Path, split: str | None, size: tuple[int, int] = (416, 280),
                           limit: int | None = None, workers: int = 8) -> SegmentationData:
    """Load photos and masks of ``split`` ('train', 'val' or None for all) at ``size`` (H, W)."""
    root = Path(root)
    stems = sorted(p.stem for p in (root / "masks").glob("*.png"))
    stems = [s for s in stems if split is None or split_of(s) == split][: limit or None]
    if not stems:
        raise FileNotFoundError(f"no photo/mask pairs for split {split!r} under {root}")
    classes, person = label_lookup(root)
    with ThreadPoolExecutor(workers) as pool:
        items = list(pool.map(lambda s: _load_pair(root, s, size, classes, person), stems))
    return SegmentationData(
        torch.from_numpy(np.stack([i[0] for i in items])),
        torch.from_numpy(np.stack([i[1] for i in items])),
        torch.from_numpy(np.stack([i[2] for i in items])),
        stems,
    )
