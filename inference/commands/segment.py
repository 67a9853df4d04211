"""``python -m inference segment PATH... --out DIR``: one PNG mask per image."""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
from PIL import Image
from tqdm import tqdm

from ..errors import ImageError
from ..imageio import load_image
from ..segment import DEFAULT_SEGMENTER
from .common import expand_paths


def add_arguments(p) -> None:
    p.add_argument("paths", nargs="+", help="image files or folders of images")
    p.add_argument("--out", required=True, help="folder for <image stem>.png masks")
    p.add_argument("--segmenter", default=DEFAULT_SEGMENTER)
    p.add_argument("--weights-dir", default=None)


def mask_at_original_size(labels: np.ndarray, size: tuple[int, int]) -> Image.Image:
    """Nearest-neighbour resize of a label mask to (width, height)."""
    img = Image.fromarray(labels.astype(np.uint8), "L")
    return img if img.size == size else img.resize(size, Image.Resampling.NEAREST)


def run(args) -> int:
    from ..segment import get_segmenter

    seg = get_segmenter(args.segmenter, **({"weights_dir": args.weights_dir} if args.weights_dir else {}))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    paths = expand_paths(args.paths)
    failed = 0
    for path in tqdm(paths, desc="segment", unit="image"):
        try:
            loaded = load_image(path)
        except ImageError as exc:
            failed += 1
            print(f"{path}: {exc}", file=sys.stderr)
            continue
        result = seg.segment(loaded.rgb)
        size = (loaded.rgb.shape[1], loaded.rgb.shape[0])
        full = _display_size(loaded.original_size, loaded.notes, size)
        mask_at_original_size(result.labels, full).save(out / f"{path.stem}.png")
        if result.flags:
            print(f"{path}: {' '.join(result.flags)}", file=sys.stderr)
    print(f"wrote {len(paths) - failed} masks to {out} ({failed} unreadable)", file=sys.stderr)
    return 0 if failed < len(paths) or not paths else 1


def _display_size(original: tuple[int, int], notes: tuple[str, ...], working: tuple[int, int]):
    """The image's size as displayed (EXIF rotation swaps width and height)."""
    w, h = original
    if "rotated by EXIF orientation" in notes and (working[0] > working[1]) != (w > h):
        return h, w
    return w, h
