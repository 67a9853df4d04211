from __future__ import annotations

import io
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
DEMO = ROOT / "demo"
SHARED = ROOT.parent / "shared" / "data"
REQUIRE_SERVICES = os.environ.get("COLORREVIEW_REQUIRE_SERVICES") == "1"
# the networks the tests export for ONNX Runtime stay in a folder of their own, not the user's cache (and the
# worker processes the tests start inherit it)
os.environ.setdefault("COLORREVIEW_ONNX_CACHE", str(Path(tempfile.gettempdir()) / "colorreview-test-onnx"))


def pytest_collection_modifyitems(items):
    """A test outside a transaction keeps the database's initial rows (``serialized_rollback``): one that
    flushes them instead makes Django create its content types again, and the next test that restores them
    fails on rows that exist."""
    for item in items:
        marker = item.get_closest_marker("django_db")
        if marker and marker.kwargs.get("transaction") and not marker.kwargs.get("serialized_rollback"):
            raise pytest.UsageError(f"{item.nodeid}: django_db(transaction=True) needs serialized_rollback=True here")


def need(condition: bool, why: str) -> None:
    """Skip when a real component is missing, unless this run requires every component."""
    if not condition:
        if REQUIRE_SERVICES:
            pytest.fail(f"required component missing: {why}")
        pytest.skip(why)


def jpeg_bytes(color=(200, 30, 40), size=(120, 160), garment=True) -> bytes:
    """A product shot: a coloured garment-like block on white."""
    img = Image.new("RGB", size, (255, 255, 255))
    if garment:
        w, h = size
        img.paste(color, (w // 5, h // 6, 4 * w // 5, 5 * h // 6))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=92)
    return buf.getvalue()


@pytest.fixture
def solid_rgb():
    def make(color, size=(64, 64)):
        return np.full((size[1], size[0], 3), color, dtype=np.uint8)

    return make


@pytest.fixture
def demo_images(tmp_path) -> Path:
    """A copy of a few bundled demo images (real catalogue photos)."""
    out = tmp_path / "images"
    out.mkdir()
    for name in ("33757.jpg", "18893.jpg", "15590.jpg"):
        shutil.copy(DEMO / "images" / name, out / name)
    return out


@pytest.fixture(autouse=True)
def _media_root(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    settings.QUEUE_DIR = tmp_path / "queue"
    settings.COLORREVIEW_UPLOAD_DIR = tmp_path / "uploads"


@pytest.fixture(autouse=True)
def _fresh_cache():
    """Each test starts with an empty cache (what a process remembers, such as a job it queued already)."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture
def curator(db):
    from tests.factories import UserFactory

    return UserFactory(username="curator", roles=["curator"])


@pytest.fixture
def merchandiser(db):
    from tests.factories import UserFactory

    return UserFactory(username="merchandiser", roles=["merchandiser"])


@pytest.fixture
def admin_user(db):
    from tests.factories import UserFactory

    return UserFactory(username="boss", roles=["admin"])


@pytest.fixture
def outsider(db):
    from tests.factories import UserFactory

    return UserFactory(username="outsider")


@pytest.fixture
def thresholds(settings):
    """Fixed thresholds, independent of the shipped model card."""
    settings.COLORREVIEW_IMPUTE_THRESHOLD = 0.8
    settings.COLORREVIEW_MISLABEL_THRESHOLD = 0.9
    settings.COLORREVIEW_SHADE_SUGGESTIONS = False
    settings.COLORREVIEW_SHADE_THRESHOLD = 0.95
    settings.COLORREVIEW_FLAG_RULE = "family"
    return settings


COLOURS = [(200, 30, 40), (30, 60, 160), (40, 140, 60), (230, 200, 40), (20, 20, 20), (240, 120, 30)]


def small_catalogue(folder: Path, n: int, prefix: str = "C") -> bytes:
    """A catalogue CSV of ``n`` products with small generated images in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    lines = ["sku,title,category,image,seller_color"]
    for i in range(n):
        name = f"{prefix}{i:04d}.jpg"
        size = (48 + i % 7, 64 + i // 7)  # every image differs
        (folder / name).write_bytes(jpeg_bytes(COLOURS[i % len(COLOURS)], size=size))
        lines.append(f"{prefix}{i:04d},Tee {i},Tshirts,{name},{'Red' if i % 3 == 0 else ''}")
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def fast_pipeline(settings, thresholds):
    """The pipeline without networks: border segmenter, KD-tree classifier."""
    settings.COLORREVIEW_SEGMENTER = "border"
    settings.COLORREVIEW_CLASSIFIER = "kdtree"
    return settings


@pytest.fixture
def damaged_weights(settings, tmp_path):
    """The shipped weights copied with ``colornet_image.pt`` damaged (no longer its card's SHA-256), in use."""
    import shutil

    from inference.weights import WEIGHTS_DIR

    damaged = tmp_path / "weights"
    shutil.copytree(WEIGHTS_DIR, damaged, ignore=shutil.ignore_patterns("report", "*.md"))
    with open(damaged / "colornet_image.pt", "r+b") as fh:
        fh.seek(-64, 2)
        fh.write(b"\0" * 64)
    settings.COLORREVIEW_WEIGHTS_DIR = str(damaged)
    return damaged
