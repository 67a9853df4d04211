"""Catalogue images at import: found, validated from their header (the pipeline decodes them), stored
content-addressed under images/ in the media storage."""

from __future__ import annotations

import hashlib
import io
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from PIL import Image, UnidentifiedImageError

from inference.errors import ImageError
from inference.imageio import MAX_PIXELS

from .image_archive import ArchiveImages
from .media import media_save

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")
_JPEG_END = b"\xff\xd9"


@dataclass
class StoredImage:
    path: str  # name in the media storage
    checksum: str


def resolve_image(value: str, images_dir: Path | None, csv_dir: Path | None) -> Path:
    """The file an ``image`` cell names on this machine: absolute, or under ``images_dir`` or ``csv_dir``."""
    candidate = Path(value).expanduser()
    if candidate.is_absolute():
        return candidate
    for base in (images_dir, csv_dir):
        if base is not None and (base / candidate).exists():
            return base / candidate
    return (images_dir or csv_dir or Path.cwd()) / candidate


def image_finder(images_dir: Path | None, csv_dir: Path | None, confine: bool) -> Callable[[str], Path]:
    """How an import finds the file of an ``image`` cell: with ``confine`` (uploads) inside the archive
    unpacked to ``images_dir`` only (None: no archive was uploaded), else anywhere on this machine."""
    if confine:
        return ArchiveImages(images_dir).find
    return partial(resolve_image, images_dir=images_dir, csv_dir=csv_dir)


def image_stat(path: Path, written: str | None = None) -> str:
    """Size and modification time: an unchanged file is not read again on a re-import. A missing file is
    named as the catalogue wrote it (``written``), else by its file name."""
    try:
        st = path.stat()
    except FileNotFoundError as exc:
        raise ImageError(f"image file not found: {written or path.name}") from exc
    if not path.is_file():
        raise ImageError(f"image file not found: {written or path.name}")
    return f"{st.st_size}:{st.st_mtime_ns}"


def validate_image(data: bytes) -> None:
    """Open the image and check its structure without decoding its pixels; raises ImageError."""
    if not data:
        raise ImageError("image file is empty (0 bytes)")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            w, h = img.size
            img.verify()
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ImageError(f"image is too large to process safely ({exc})") from exc
    except UnidentifiedImageError as exc:
        raise ImageError("file is not an image in a supported format") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageError(f"image is truncated or corrupt ({exc})") from exc
    if w * h > MAX_PIXELS:
        raise ImageError(f"image is too large to process safely: {w}x{h} pixels (limit {MAX_PIXELS:,} pixels)")
    if w < 1 or h < 1:
        raise ImageError(f"image has no pixels ({w}x{h})")
    if img.format == "JPEG" and _JPEG_END not in data[-1024:].rstrip(b"\x00"):
        raise ImageError("image is truncated or corrupt (no end-of-image marker)")


def store_image(data: bytes, suffix: str) -> StoredImage:
    """Content-addressed copy under images/ in the media storage (validated first)."""
    validate_image(data)
    checksum = hashlib.sha256(data).hexdigest()
    suffix = suffix.lower() if suffix.lower() in IMAGE_SUFFIXES else ".img"
    rel = media_save(f"images/{checksum[:2]}/{checksum}{suffix}", data)
    return StoredImage(rel, checksum)


def store_image_file(path: Path) -> StoredImage:
    return store_image(path.read_bytes(), path.suffix)
