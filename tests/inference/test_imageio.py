from __future__ import annotations

import io
import struct
import zlib

import numpy as np
import pytest
from PIL import Image

from inference.errors import ImageError
from inference.imageio import load_image
from tests.conftest import jpeg_bytes


def _save(img: Image.Image, fmt: str, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, fmt, **kw)
    return buf.getvalue()


def test_plain_jpeg_decodes_to_rgb():
    loaded = load_image(jpeg_bytes())
    assert loaded.rgb.shape == (160, 120, 3) and loaded.rgb.dtype == np.uint8


@pytest.mark.parametrize("data, reason", [
    (b"", "empty"),
    (b"this is a csv, not an image\n", "not an image"),
    (jpeg_bytes()[:400], "truncated or corrupt"),
])
def test_unusable_files_give_a_readable_reason(data, reason):
    with pytest.raises(ImageError, match=reason):
        load_image(data)


def test_missing_and_zero_byte_files(tmp_path):
    with pytest.raises(ImageError, match="not found"):
        load_image(tmp_path / "nope.jpg")
    empty = tmp_path / "empty.jpg"
    empty.write_bytes(b"")
    with pytest.raises(ImageError, match="empty"):
        load_image(empty)


def _png_header_only(width: int, height: int) -> bytes:
    """A PNG that claims an absurd size (a decompression bomb) with almost no data."""
    def chunk(kind, payload):
        return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))
    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 10)) + chunk(b"IEND", b"")


def test_decompression_bomb_is_refused_before_decoding():
    with pytest.raises(ImageError, match="too large"):
        load_image(_png_header_only(60000, 60000))


def test_cmyk_greyscale_16bit_and_palette_become_rgb():
    cmyk = Image.new("CMYK", (40, 30), (0, 255, 255, 0))  # red in CMYK
    grey = Image.new("L", (40, 30), 128)
    deep = Image.fromarray(np.full((30, 40), 40000, dtype=np.uint16))
    pal = Image.new("RGB", (40, 30), (10, 200, 10)).convert("P")
    for data in (_save(cmyk, "JPEG"), _save(grey, "PNG"), _save(deep, "PNG"), _save(pal, "GIF")):
        loaded = load_image(data)
        assert loaded.rgb.shape == (30, 40, 3)
    red = load_image(_save(cmyk, "TIFF")).rgb[0, 0]
    assert red[0] > 200 and red[1] < 60


def test_alpha_is_composited_on_white_and_kept_as_a_hint():
    img = Image.new("RGBA", (20, 20), (0, 0, 0, 0))
    img.paste((0, 0, 200, 255), (5, 5, 15, 15))
    loaded = load_image(_save(img, "PNG"))
    assert tuple(loaded.rgb[0, 0]) == (255, 255, 255)
    assert tuple(loaded.rgb[10, 10]) == (0, 0, 200)
    assert loaded.alpha is not None and loaded.alpha[10, 10] and not loaded.alpha[0, 0]


def test_exif_rotation_is_applied():
    img = Image.new("RGB", (40, 20), (255, 0, 0))
    img.paste((0, 0, 255), (0, 0, 10, 20))  # blue band on the left
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    loaded = load_image(_save(img, "JPEG", exif=exif))
    assert loaded.rgb.shape[:2] == (40, 20)
    assert "rotated by EXIF orientation" in loaded.notes
    top = loaded.rgb[:8].reshape(-1, 3).mean(0)
    assert top[2] > top[0]  # the blue band is now at the top


def test_large_images_are_reduced_to_the_working_size():
    big = Image.new("RGB", (1800, 2400), (30, 60, 90))
    loaded = load_image(_save(big, "JPEG"))
    assert max(loaded.rgb.shape[:2]) == 640
    assert loaded.original_size == (1800, 2400)
