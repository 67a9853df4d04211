"""Catalogue import: CSV rows + images -> products, streamed and written in set-based chunks.

Bad rows are reported with their line number (the first few hundred listed, all counted), good rows kept.
"""

from __future__ import annotations

import io
import logging
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from django.utils import timezone

from inference.errors import ImageError

from ..models import ImportBatch
from .catalog_csv import COLUMNS, CatalogReader, CsvRow, ImportFailed, printable
from .catalog_images import StoredImage, image_finder, image_stat, resolve_image, store_image_file
from .catalog_write import ChunkWriter, RowData

log = logging.getLogger(__name__)

MAX_FIELD = {"sku": 128, "title": 500, "category": 100, "seller_color": 100, "image": 1000}
MAX_ATTRIBUTE_CHARS = 10_000
#: rows listed one by one in a report; the rest are counted
MAX_LISTED_PROBLEMS = 300
CHUNK_ROWS = 1000
#: images remembered by path and (size, mtime) during one import, for rows that share a file
IMAGE_MEMORY = 10_000

__all__ = ["ImportFailed", "ImportReport", "RowProblem", "import_catalog", "resolve_image", "StoredImage"]


@dataclass
class RowProblem:
    line: int
    sku: str
    reason: str
    imported: bool  # the product was kept (marked with the problem) or the row was dropped

    def as_dict(self) -> dict:
        return {"line": self.line, "sku": self.sku, "reason": self.reason, "imported": self.imported}

    def __str__(self) -> str:
        kept = "imported, marked with the error" if self.imported else "not imported"
        return f"line {self.line}{f' (sku {self.sku})' if self.sku else ''}: {self.reason} [{kept}]"


@dataclass
class ImportReport:
    batch: ImportBatch | None = None
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    rejected: int = 0  # rows dropped
    flagged: int = 0  # rows imported with an image problem
    to_predict: int = 0  # new or changed images
    retagged: list[int] = field(default_factory=list)  # seller colour changed, same image
    problems: list[RowProblem] = field(default_factory=list)  # the first MAX_LISTED_PROBLEMS

    @property
    def rows_read(self) -> int:
        return self.created + self.updated + self.unchanged

    def problem(self, line: int, sku: str, reason: str, imported: bool = False) -> None:
        if imported:
            self.flagged += 1
        else:
            self.rejected += 1
        if len(self.problems) < MAX_LISTED_PROBLEMS:
            self.problems.append(RowProblem(line, printable(sku)[:128], printable(reason), imported))

    def summary(self) -> str:
        return (f"{self.created} created, {self.updated} updated, {self.unchanged} unchanged, "
                f"{self.rejected} rows rejected, {self.flagged} imported with an image problem")


def _clean(values: dict, name: str) -> str:
    value = values.get(name)
    return " ".join(value.split()) if isinstance(value, str) else ""


class _Importer:
    def __init__(self, report: ImportReport, where: tuple, batch: ImportBatch):
        self.report, self.batch = report, batch
        self.find_image = image_finder(*where)
        self.seen: set[str] = set()
        self.writer = ChunkWriter(batch)
        self.stored: OrderedDict[tuple[str, str], StoredImage] = OrderedDict()  # rows sharing a file read it once

    def chunk(self, rows: list[CsvRow]) -> None:
        parsed = [p for p in (self._parse(row) for row in rows) if p is not None]
        existing = self.writer.existing([p.sku for p in parsed])
        for row in parsed:
            self._read_image(row, existing.get(row.sku))
        outcome = self.writer.write(parsed, existing)
        r = self.report
        r.created, r.updated, r.unchanged = r.created + outcome.created, r.updated + outcome.updated, \
            r.unchanged + outcome.unchanged
        r.to_predict += outcome.to_predict
        r.retagged += outcome.retagged

    def _parse(self, row: CsvRow) -> RowData | None:
        sku = _clean(row.values, "sku")
        if row.problem:
            return self.report.problem(row.line, sku, row.problem)
        if not sku:
            return self.report.problem(row.line, "", "missing sku")
        too_long = [c for c, n in MAX_FIELD.items() if len(_clean(row.values, c)) > n]
        if too_long:
            return self.report.problem(row.line, sku[:40], f"{too_long[0]} is longer than "
                                                           f"{MAX_FIELD[too_long[0]]} characters")
        if sku in self.seen:
            return self.report.problem(row.line, sku, "sku appears earlier in the same file")
        self.seen.add(sku)
        extras = {k: v for k, v in row.values.items() if k and k not in COLUMNS and v not in (None, "")}
        if sum(len(v) for v in extras.values()) > MAX_ATTRIBUTE_CHARS:
            return self.report.problem(row.line, sku, f"extra columns hold more than {MAX_ATTRIBUTE_CHARS:,} "
                                                      "characters")
        return RowData(line=row.line, sku=sku, title=_clean(row.values, "title"),
                       category=_clean(row.values, "category"), seller_color_raw=_clean(row.values, "seller_color"),
                       image_source=_clean(row.values, "image"), attributes=extras)

    def _read_image(self, row: RowData, current: dict | None) -> None:
        """Checksum and validate the image, unless the same file (size, mtime) was imported before."""
        if not row.image_source:
            row.image_error = "no image given"
        else:
            try:
                path = self.find_image(row.image_source)
                row.image_stat = image_stat(path, row.image_source)
                if current and current["image_source_stat"] == row.image_stat and current["image_checksum"] \
                        and current["image_source"] == row.image_source:
                    row.image, row.image_checksum = current["image"], current["image_checksum"]
                    return
                stored = self._store(path, row.image_stat)
                row.image, row.image_checksum = stored.path, stored.checksum
                return
            except ImageError as exc:
                row.image_error = str(exc)
            except OSError as exc:
                row.image_error = f"image file cannot be read: {exc.strerror or exc}"
        self.report.problem(row.line, row.sku, row.image_error, imported=True)

    def _store(self, path: Path, stat: str) -> StoredImage:
        key = (str(path), stat)
        if key in self.stored:
            self.stored.move_to_end(key)
            return self.stored[key]
        stored = self.stored[key] = store_image_file(path)
        if len(self.stored) > IMAGE_MEMORY:
            self.stored.popitem(last=False)
        return stored


def import_catalog(*, csv_bytes: bytes | None = None, csv_path: Path | None = None, source_name: str,
                   images_dir: Path | None = None, csv_dir: Path | None = None, user=None,
                   confine_images: bool = False, batch: ImportBatch | None = None,
                   progress: Callable[[ImportBatch], bool] | None = None) -> ImportReport:
    """Import products from a catalogue CSV, streamed in chunks. Raises ImportFailed only if nothing is readable.

    ``confine_images`` (uploads): images are found only inside the archive unpacked to ``images_dir`` (None
    when none was uploaded), by their path in it or their file name. ``progress`` is called
    after each chunk with the batch (its counters up to date); returning False stops the import there.
    """
    if batch is not None:  # an upload: its job records how it ended
        return _import_into(batch, csv_bytes, csv_path, images_dir, csv_dir, confine_images, progress)
    batch = ImportBatch.objects.create(source_name=source_name[:255], created_by=user)
    try:
        report = _import_into(batch, csv_bytes, csv_path, images_dir, csv_dir, confine_images, progress)
    except Exception as exc:
        _end(batch, ImportBatch.Status.FAILED,
             str(exc) if isinstance(exc, ImportFailed) else f"unexpected error: {exc}")
        raise
    _end(batch, ImportBatch.Status.FINISHED, "")
    return report


def _end(batch: ImportBatch, status: str, error: str) -> None:
    batch.status, batch.error, batch.finished_at = status, printable(error)[:5000], timezone.now()
    batch.save(update_fields=["status", "error", "finished_at"])


def _import_into(batch: ImportBatch, csv_bytes: bytes | None, csv_path: Path | None, images_dir: Path | None,
                 csv_dir: Path | None, confine_images: bool,
                 progress: Callable[[ImportBatch], bool] | None) -> ImportReport:
    source = open(csv_path, "rb") if csv_path is not None else io.BytesIO(csv_bytes or b"")
    with source:
        size = source.seek(0, io.SEEK_END)
        source.seek(0)
        reader = CatalogReader(source)
        batch.bytes_total = size
        report = ImportReport(batch=batch)
        importer = _Importer(report, (images_dir, csv_dir, confine_images), batch)
        chunk: list[CsvRow] = []
        seen = 0
        for row in reader:
            seen += 1
            chunk.append(row)
            if len(chunk) >= CHUNK_ROWS:
                if not _flush(importer, chunk, reader, progress):
                    break
                chunk = []
        else:
            _flush(importer, chunk, reader, progress)
    if not seen:
        raise ImportFailed("the catalogue has its header but no product row (only empty lines, if any); "
                           "nothing was imported")
    if (report.rejected or report.flagged) and not report.rows_read:
        raise ImportFailed("no row could be imported:\n" + "\n".join(str(p) for p in report.problems[:50]))
    return report


def _flush(importer: _Importer, chunk: list[CsvRow], reader: CatalogReader, progress) -> bool:
    if chunk:
        importer.chunk(chunk)
    _record(importer.batch, importer.report, reader.bytes_read)
    return progress(importer.batch) is not False if progress else True


def _record(batch: ImportBatch, report: ImportReport, bytes_read: int) -> None:
    batch.rows_created, batch.rows_updated, batch.rows_unchanged = report.created, report.updated, report.unchanged
    batch.rows_failed, batch.rows_flagged = report.rejected, report.flagged
    batch.rows_total = report.rows_read + report.rejected
    batch.bytes_done = bytes_read
    batch.problems = [p.as_dict() for p in sorted(report.problems, key=lambda p: p.line)]  # in file order
    batch.save(update_fields=["rows_created", "rows_updated", "rows_unchanged", "rows_failed", "rows_flagged",
                              "rows_total", "bytes_done", "bytes_total", "problems"])

