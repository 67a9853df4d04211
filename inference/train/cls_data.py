"""Catalogue colour data: shared styles.csv rows turned into garment crops through the segmenter."""

from __future__ import annotations

import csv
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm import tqdm

from ..errors import ImageError
from ..garment import garment_view
from ..imageio import load_image
from ..segment import DEFAULT_SEGMENTER, get_segmenter


@dataclass
class CatalogueRow:
    id: str
    path: Path
    category: str
    color: str
    split: str


def read_catalogue(root: str | Path, master_categories: tuple[str, ...] | None = ("Apparel",),
                   splits: tuple[str, ...] = ("train", "val")) -> list[CatalogueRow]:
    """Rows of ``styles.csv`` whose image is present (missing images are skipped)."""
    root = Path(root)
    rows = []
    with open(root / "styles.csv", newline="", encoding="utf-8") as fh:
        for r in csv.DictReader(fh):
            if master_categories and r["masterCategory"] not in master_categories:
                continue
            if r["split"] not in splits:
                continue
            path = root / "images" / f"{r['id']}.jpg"
            if path.is_file():
                rows.append(CatalogueRow(r["id"], path, r["articleType"], r["baseColour"], r["split"]))
    return rows


def class_list(rows: list[CatalogueRow], min_count: int) -> list[str]:
    counts = Counter(r.color for r in rows if r.split == "train")
    return sorted(c for c, n in counts.items() if n >= min_count)


@dataclass
class CropSet:
    crops: torch.Tensor  # N x 3 x S x S uint8
    ids: list[str]
    colors: list[str]
    splits: list[str]
    flags: list[tuple[str, ...]]
    segmenter_version: str


def build_crops(rows: list[CatalogueRow], size: int, segmenter: str = DEFAULT_SEGMENTER,
                weights_dir: str | None = None, batch: int = 64, workers: int = 8) -> CropSet:
    """Segment every image and keep the advertised garment on white (unusable images dropped)."""
    seg = get_segmenter(segmenter, **({"weights_dir": weights_dir} if weights_dir else {}))
    kept: list[tuple[CatalogueRow, np.ndarray, tuple[str, ...]]] = []
    with ThreadPoolExecutor(workers) as pool:
        for start in tqdm(range(0, len(rows), batch), desc="garment crops", unit="batch"):
            chunk = rows[start:start + batch]
            loaded = list(pool.map(_try_load, chunk))
            ok = [(r, im) for r, im in zip(chunk, loaded) if im is not None]
            masks = seg.segment_batch([im for _, im in ok])
            views = list(pool.map(lambda a: garment_view(a[0][1], a[1], a[0][0].category, size=size),
                                  zip(ok, masks)))
            for (row, _), view in zip(ok, views):
                if view.crop is not None:
                    kept.append((row, view.crop, view.selection.flags))
    return CropSet(
        torch.from_numpy(np.stack([c for _, c, _ in kept])).permute(0, 3, 1, 2).contiguous(),
        [r.id for r, _, _ in kept], [r.color for r, _, _ in kept], [r.split for r, _, _ in kept],
        [f for _, _, f in kept], getattr(seg, "version", "?"),
    )


def _try_load(row: CatalogueRow) -> np.ndarray | None:
    try:
        return load_image(row.path).rgb
    except ImageError:
        return None


def load_or_build_crops(cache: Path | None, rows, size, segmenter, weights_dir) -> CropSet:
    if cache and cache.is_file():
        data = torch.load(cache, weights_only=False)
        print(f"loaded {len(data.ids)} garment crops from {cache}", flush=True)
        return data
    data = build_crops(rows, size, segmenter, weights_dir)
    if cache:
        cache.parent.mkdir(parents=True, exist_ok=True)
        torch.save(data, cache)
    return data
