"""Defensive image loading: every catalogue image either decodes to RGB or raises ImageError."""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps, UnidentifiedImageError

from .errors import ImageError

#: Images above this many pixels are refused (decompression-bomb guard, ~12k x 12k).
MAX_PIXELS = 150_000_000
#: Longest side of the working copy that the pipeline analyses.
WORKING_SIDE = 640


@dataclass(frozen=True)
class LoadedImage:
    """An RGB working copy of an image and what was done to obtain it."""

    rgb: np.ndarray  # H x W x 3 uint8
    original_size: tuple[int, int]  # (width, height) as stored, before EXIF rotation
    original_mode: str
    alpha: np.ndarray | None = None  # H x W bool where the source had transparency
    notes: tuple[str, ...] = ()


def _open(source: str | Path | bytes) -> Image.Image:
    data = source if isinstance(source, bytes) else None
    if data is None:
        path = Path(source)
        if not path.is_file():
            raise ImageError(f"image file not found: {path}")
        if path.stat().st_size == 0:
            raise ImageError(f"image file is empty (0 bytes): {path.name}")
        data = path.read_bytes()
    elif not data:
        raise ImageError("image file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            return Image.open(io.BytesIO(data))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"image is too large to process safely ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise ImageError("file is not an image in a supported format") from exc
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"image is truncated or corrupt ({exc})") from exc


def _check_size(img: Image.Image) -> None:
    w, h = img.size
    if w * h > MAX_PIXELS:
        raise ImageError(
            f"image is too large to process safely: {w}x{h} pixels "
            f"(limit {MAX_PIXELS:,} pixels)"
        )
    if w < 1 or h < 1:
        raise ImageError(f"image has no pixels ({w}x{h})")


def _to_rgb(img: Image.Image, notes: list[str]) -> tuple[Image.Image, np.ndarray | None]:
    """Convert any mode to 8-bit RGB; transparency is composited on white."""
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I", "F"):
        arr = np.asarray(img, dtype=np.float64)
        lo, hi = float(arr.min()), float(arr.max())
        scale = 255.0 / (hi - lo) if hi > lo else 0.0
        img = Image.fromarray(((arr - lo) * scale).astype(np.uint8), "L")
        notes.append(f"rescaled {mode} to 8 bits")
    if img.mode == "P" and "transparency" in img.info:
        img = img.convert("RGBA")
    if img.mode in ("RGBA", "LA", "PA", "RGBa"):
        rgba = img.convert("RGBA")
        alpha = np.asarray(rgba)[..., 3]
        white = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        img = Image.alpha_composite(white, rgba).convert("RGB")
        if alpha.min() < 255:
            notes.append("transparent background composited on white")
            return img, alpha > 127
        return img, None
    if img.mode == "CMYK":
        notes.append("converted from CMYK")
    elif img.mode in ("L", "1"):
        notes.append("greyscale image")
    return img.convert("RGB"), None


def load_image(source: str | Path | bytes, working_side: int = WORKING_SIDE) -> LoadedImage:
    """Decode ``source`` to an RGB working copy no larger than ``working_side``.

    EXIF orientation is applied; 16-bit, greyscale, palette, CMYK and alpha images are
    converted. Raises ``ImageError`` with a readable reason for anything unusable.
    """
    img = _open(source)
    _check_size(img)
    original_size, original_mode = img.size, img.mode
    notes: list[str] = []
    try:
        if img.format == "JPEG" and working_side:
            img.draft("RGB", (working_side, working_side))
        img.load()
        rotated = ImageOps.exif_transpose(img)
        if rotated is not img:
            notes.append("rotated by EXIF orientation")
            img = rotated
        img, alpha = _to_rgb(img, notes)
    except ImageError:
        raise
    except (OSError, ValueError, SyntaxError) as exc:
        raise ImageError(f"image is truncated or corrupt ({exc})") from exc
    if working_side and max(img.size) > working_side:
        scale = working_side / max(img.size)
        size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
        img = img.resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)
        if alpha is not None:
            alpha = np.asarray(Image.fromarray(alpha).resize(size, Image.Resampling.NEAREST))
    return LoadedImage(np.asarray(img, dtype=np.uint8).copy(), original_size, original_mode,
                       alpha, tuple(notes))
