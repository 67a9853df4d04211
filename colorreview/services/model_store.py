"""Promoted weights travel through the media storage, so that a worker on another host (which shares
only the broker, the database and the storage) loads the same model version as the host that trained it.

The host that promotes a version copies its folder to ``models/<folder name>/`` in the storage; a host
that lacks the folder fetches it into its own ``COLORREVIEW_MODELS_DIR`` the first time it needs it, and
loading checks every file against its card (SHA-256), as for the shipped weights."""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

from django.conf import settings
from django.core.files.base import File
from django.core.files.storage import default_storage

log = logging.getLogger(__name__)

PREFIX = "models"
#: seconds before a folder found nowhere is looked for again in the storage (pages ask for it often)
RECHECK = 60
_missing: dict[str, float] = {}


def _stored(folder_name: str) -> str:
    return f"{PREFIX}/{folder_name}"


def model_publish(folder: str | Path) -> int:
    """Copy a weights folder to the media storage; returns how many files (existing ones are replaced)."""
    folder = Path(folder)
    files = sorted(p for p in folder.iterdir() if p.is_file())
    for path in files:
        name = f"{_stored(folder.name)}/{path.name}"
        if default_storage.exists(name):
            default_storage.delete(name)
        with open(path, "rb") as f:
            default_storage.save(name, File(f, name=path.name))
    return len(files)


def local_weights_dir(weights_dir: str) -> Path | None:
    """The folder of a model version on this host: where it was written, else this host's copy, fetched
    from the media storage when missing; None when neither has it."""
    if not weights_dir:
        return None
    recorded = Path(weights_dir)
    if recorded.is_dir():
        return recorded
    local = Path(settings.COLORREVIEW_MODELS_DIR) / recorded.name
    if local.is_dir():
        return local
    if time.monotonic() - _missing.get(recorded.name, -RECHECK) < RECHECK:
        return None
    try:
        found = _fetch(recorded.name, local)
    except Exception as exc:  # noqa: BLE001 - any storage backend's error (S3 clients raise their own)
        log.warning("model folder %s is neither here nor in the media storage: %s", recorded.name, exc)
        found = None
    if found is None:
        _missing[recorded.name] = time.monotonic()
    return found


def _fetch(folder_name: str, target: Path) -> Path | None:
    _, names = default_storage.listdir(_stored(folder_name))
    if not names:
        return None
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{folder_name}.", dir=target.parent))
    try:
        for name in names:
            with default_storage.open(f"{_stored(folder_name)}/{name}", "rb") as src, \
                    open(partial / name, "wb") as dst:
                shutil.copyfileobj(src, dst, 1 << 20)
        try:
            partial.rename(target)  # whole or not at all; another process may have won the race
        except OSError:
            if not target.is_dir():
                raise
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    log.info("model folder %s fetched from the media storage (%d files)", folder_name, len(names))
    return target
