"""Product images and mask overlays go through Django's storage API: the file system by default, an
S3-compatible bucket with ``COLORREVIEW_STORAGE=s3`` (see settings), so that a worker on another host
needs only the broker, the database and the storage settings."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

#: files read at once from the storage (network latency, not CPU, bounds a bucket)
READ_THREADS = 8


def media_save(name: str, data: bytes) -> str:
    """Store ``data`` under ``name`` (content-addressed names: an existing file is kept)."""
    if not default_storage.exists(name):
        name = default_storage.save(name, ContentFile(data))
    return name


def media_exists(name: str) -> bool:
    return default_storage.exists(name)


def media_read(name: str) -> bytes:
    with default_storage.open(name, "rb") as f:
        return f.read()


def media_read_many(names: list[str]) -> list[bytes | OSError]:
    """The files' bytes, read in parallel; a file that cannot be read gives its error instead."""

    def read(name: str) -> bytes | OSError:
        try:
            return media_read(name)
        except OSError as exc:
            return exc

    if len(names) <= 1:
        return [read(n) for n in names]
    with ThreadPoolExecutor(min(READ_THREADS, len(names))) as pool:
        return list(pool.map(read, names))
