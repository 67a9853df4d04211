"""Helpers shared by the CLI commands."""

from __future__ import annotations

import csv
from pathlib import Path

from ..segment import DEFAULT_SEGMENTER

IMAGE_SUFFIXES = {".jpg", ".jpeg", ".png", ".webp", ".bmp", ".gif", ".tif", ".tiff"}


def expand_paths(paths: list[str]) -> list[Path]:
    """Files as given, and the image files of any folder (sorted); missing paths kept for errors."""
    out: list[Path] = []
    for p in map(Path, paths):
        if p.is_dir():
            out.extend(sorted(f for f in p.rglob("*") if f.is_file() and f.suffix.lower() in IMAGE_SUFFIXES))
        else:
            out.append(p)
    return out


def read_categories(path: str | None) -> dict[str, str]:
    """``image,category`` CSV -> lookup by full path, file name and stem."""
    if not path:
        return {}
    lookup: dict[str, str] = {}
    with open(path, newline="", encoding="utf-8-sig") as fh:
        for row in csv.DictReader(fh):
            image, category = (row.get("image") or "").strip(), (row.get("category") or "").strip()
            if image:
                for key in (image, Path(image).name, Path(image).stem):
                    lookup.setdefault(key, category)
    return lookup


def category_for(path: Path, lookup: dict[str, str]) -> str | None:
    for key in (str(path), path.name, path.stem):
        if key in lookup:
            return lookup[key] or None
    return None


def add_pipeline_arguments(p) -> None:
    p.add_argument("--segmenter", default=DEFAULT_SEGMENTER, help="segmenter name (effunet, u2net, border, none)")
    p.add_argument("--classifier", default="timm", help="classifier name (timm, kdtree)")
    p.add_argument("--weights-dir", default=None, help="folder with weights and model cards")
    p.add_argument("--batch-size", type=int, default=16)
