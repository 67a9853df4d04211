"""Promoted weights travel through the media storage, so that a worker on another host (which shares
only the broker, the database and the storage) loads the same model version as the host that trained it.

The host that promotes a version copies its folder to ``models/<folder name>/`` in the storage; a host
that lacks the folder fetches it into its own ``COLORREVIEW_MODELS_DIR`` the first time it needs it, and
loading checks every file against its card (SHA-256), as for the shipped weights. After a promotion only the
newest ``COLORREVIEW_MODELS_KEEP`` promoted versions keep their weights (``model_prune``)."""

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


def model_prune(keep: int | None = None) -> list[str]:
    """Remove the weights of promoted versions that can no longer be loaded or are past the newest ``keep``
    fine-tuned from the weights shipped now (from the media storage and from this host's models folder);
    their rows stay, with their figures, and say so. Returns the folder names removed."""
    from .. import selectors
    from ..models import ModelVersion

    keep = max(settings.COLORREVIEW_MODELS_KEEP if keep is None else keep, 1)  # the one in use is always kept
    base = selectors.shipped_classifier_version()
    if base is None:  # the shipped weights cannot be read: nothing is judged unused
        return []
    promoted = ModelVersion.objects.filter(status=ModelVersion.Status.PROMOTED).exclude(weights_dir="")
    kept = [v.pk for v in promoted.filter(base_version=base)[:keep]]
    removed = []
    for version in promoted.exclude(pk__in=kept):
        name = Path(version.weights_dir).name
        _delete_stored(name)
        shutil.rmtree(Path(settings.COLORREVIEW_MODELS_DIR) / name, ignore_errors=True)
        _missing.pop(name, None)
        note = (f"Its weights were removed: only the newest {keep} promoted versions of the shipped "
                "weights are kept.")
        ModelVersion.objects.filter(pk=version.pk).update(weights_dir="", message=f"{version.message}\n{note}".strip())
        removed.append(name)
    if removed:
        log.info("model folders removed (past the newest %d): %s", keep, ", ".join(removed))
    return removed


def _delete_stored(folder_name: str) -> None:
    prefix = _stored(folder_name)
    try:
        _, names = default_storage.listdir(prefix)
    except FileNotFoundError:
        return
    for name in names:
        default_storage.delete(f"{prefix}/{name}")
    try:  # a file system storage keeps the emptied folder; object stores have none
        Path(default_storage.path(prefix)).rmdir()
    except (NotImplementedError, OSError):
        pass
