"""A private Django environment for the worker benchmarks: its own SQLite database (or
DATABASE_URL), media folder and, with the broker, Redis database; products imported from the shared
catalogue photos."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT.parent / "shared/data/fashion-products"


def setup(var_dir: str | None = None, broker: str | None = None) -> dict[str, str]:
    """Configure and start Django; returns the environment that worker processes need."""
    var = var_dir or tempfile.mkdtemp(prefix="colorreview-bench-")
    env = {"DJANGO_SETTINGS_MODULE": "colorreview.settings", "DEBUG": "1", "COLORREVIEW_VAR_DIR": var,
           "MEDIA_ROOT": str(Path(var) / "media"), "PYTHONPATH": str(ROOT), "LOG_LEVEL": "ERROR"}
    if broker:
        env["CELERY_BROKER_URL"] = broker
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    return {**os.environ, **env}


def import_photos(count: int, offset: int = 0, prefix: str = "B") -> list[int]:
    """``count`` apparel photos of the shared val split from ``offset`` on, as new products (skus begin
    with ``prefix``); returns their ids. A prediction is shared by every product with the same image, so a
    new measurement needs photos not read before (another ``offset``)."""
    from colorreview.models import Product
    from colorreview.services.catalog import import_catalog
    from inference.train.cls_data import read_catalogue

    rows = read_catalogue(DATA, ("Apparel",), ("val",))[offset:offset + count]
    lines = ["sku,title,category,image,seller_color"]
    lines += [f"{prefix}{r.id},{r.category},{r.category},{r.path}," for r in rows]
    with tempfile.TemporaryDirectory() as tmp:
        csv = Path(tmp) / "bench.csv"
        csv.write_text("\n".join(lines) + "\n")
        import_catalog(csv_path=csv, source_name="bench.csv", csv_dir=Path(tmp))
    return list(Product.objects.filter(sku__in=[f"{prefix}{r.id}" for r in rows]).values_list("pk", flat=True))


def forget_masks() -> None:
    """Mask overlays are stored once per image and model: drop them so that each run draws its own."""
    import shutil

    from django.conf import settings

    shutil.rmtree(Path(settings.MEDIA_ROOT) / "masks", ignore_errors=True)
