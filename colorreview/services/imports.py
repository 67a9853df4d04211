"""Uploaded catalogues: stored on disk, imported in the background with progress, cancellable."""

from __future__ import annotations

import logging
import shutil
import uuid
from pathlib import Path

from django.conf import settings
from django.utils import timezone

from ..models import ImportBatch
from .catalog_csv import ImportFailed, printable
from .image_archive import archive_problem, extract_zip
from .queue import QueueUnavailable, send

log = logging.getLogger(__name__)

__all__ = ["catalog_import_from_archive", "extract_zip", "import_cancel", "import_job_run", "import_upload_store"]


def import_upload_store(*, catalog, images=None, user=None) -> ImportBatch:
    """Write the uploaded CSV (and ZIP) to disk in chunks and queue their import. Raises ImportFailed,
    storing nothing, when the images file is not a ZIP archive."""
    from ..tasks import import_catalog_job

    if images is not None and (problem := archive_problem(images)):
        raise ImportFailed(problem)
    folder = Path(settings.COLORREVIEW_UPLOAD_DIR) / uuid.uuid4().hex
    folder.mkdir(parents=True)
    _save(catalog, folder / "catalog.csv")
    if images is not None:
        _save(images, folder / "images.zip")
    batch = ImportBatch.objects.create(source_name=(catalog.name or "catalog.csv")[:255], created_by=user,
                                       status=ImportBatch.Status.QUEUED, upload_dir=str(folder),
                                       bytes_total=catalog.size or 0)

    def not_queued(exc: BaseException) -> None:  # a broker that is down fails the import with a reason
        ImportBatch.objects.filter(pk=batch.pk).update(
            status=ImportBatch.Status.FAILED, finished_at=timezone.now(), upload_dir="",
            error=f"the task queue is unavailable ({exc}); upload the file again when it is back"[:5000])
        shutil.rmtree(batch.upload_dir, ignore_errors=True)

    try:
        send(import_catalog_job, batch.pk, on_failure=not_queued)
    except QueueUnavailable:
        pass  # the import's page says why
    return batch


def _save(upload, target: Path) -> None:
    with open(target, "wb") as out:
        for chunk in upload.chunks():
            out.write(chunk)


def import_cancel(*, batch: ImportBatch) -> bool:
    """Ask a running import to stop after its current chunk (rows already written stay)."""
    return bool(ImportBatch.objects.filter(pk=batch.pk, status__in=[ImportBatch.Status.QUEUED,
                                                                    ImportBatch.Status.RUNNING])
                .update(cancel_requested=True))


def _still_wanted(batch: ImportBatch) -> bool:
    return not ImportBatch.objects.filter(pk=batch.pk, cancel_requested=True).exists()


def catalog_import_from_archive(*, archive: Path | None, folder: Path, **import_kwargs):
    """Import a catalogue whose images are in a ZIP archive (None: none was given), as ``catalog_import_and_queue``
    does: the archive is unpacked to ``folder``/images and the rows' images are found only inside it, by their
    path in it or their file name (``image_archive.ArchiveImages``). The Import page and the command share it."""
    from .runs import catalog_import_and_queue

    images_dir = None
    if archive is not None:
        images_dir = folder / "images"
        images_dir.mkdir(exist_ok=True)
        extract_zip(archive, images_dir, settings.COLORREVIEW_MAX_UPLOAD_BYTES)
    return catalog_import_and_queue(images_dir=images_dir, confine_images=True, **import_kwargs)


def import_job_run(*, batch_id: int) -> ImportBatch:
    """Import a stored upload (safe to deliver twice: an import of the same rows changes nothing)."""
    from .runs import ModelUnavailable, QueueUnavailable

    batch = ImportBatch.objects.get(pk=batch_id)
    if not batch.active:
        return batch
    ImportBatch.objects.filter(pk=batch.pk).update(status=ImportBatch.Status.RUNNING)
    folder = Path(batch.upload_dir)
    status, error, run = ImportBatch.Status.FINISHED, "", None
    try:
        archive = folder / "images.zip"  # none uploaded: the rows that name an image are told so
        _, run = catalog_import_from_archive(
            csv_path=folder / "catalog.csv", archive=archive if archive.exists() else None, folder=folder,
            source_name=batch.source_name, user=batch.created_by, batch=batch, progress=_still_wanted)
    except ImportFailed as exc:
        status, error = ImportBatch.Status.FAILED, str(exc)
    except (QueueUnavailable, ModelUnavailable) as exc:  # imported; the pipeline run waits
        error = f"imported, but not queued for the pipeline: {exc}"
    except Exception as exc:
        log.exception("import %s failed", batch.pk)
        status, error = ImportBatch.Status.FAILED, f"unexpected error: {exc}"
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if status == ImportBatch.Status.FINISHED and not _still_wanted(batch):
        status = ImportBatch.Status.CANCELLED
    ImportBatch.objects.filter(pk=batch.pk).update(status=status, error=printable(error)[:5000],
                                                   finished_at=timezone.now(), upload_dir="", run=run)
    batch.refresh_from_db()
    return batch
