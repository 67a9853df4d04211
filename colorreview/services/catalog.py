"""Catalogue import: CSV rows + images -> products. Bad rows are reported, good rows kept."""

from __future__ import annotations

import csv
import hashlib
import io
import logging
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings
from django.db import transaction

from inference.colors import ColorVocabulary
from inference.errors import ImageError
from inference.imageio import load_image

from ..models import ColorName, ImportBatch, Product, ReviewEvent, Suggestion
from . import ServiceError
from .vocabulary import db_vocabulary

log = logging.getLogger(__name__)

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".gif", ".bmp", ".tif", ".tiff")
COLUMNS = ("sku", "title", "category", "image", "seller_color")
REQUIRED = ("sku", "image")
MAX_FIELD = {"sku": 128, "title": 500, "category": 100, "seller_color": 100}


class ImportFailed(ServiceError):
    """The catalogue file could not be read at all."""


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
    created: list[int] = field(default_factory=list)
    updated: list[int] = field(default_factory=list)
    unchanged: list[int] = field(default_factory=list)
    problems: list[RowProblem] = field(default_factory=list)
    to_predict: list[int] = field(default_factory=list)  # new or changed images
    retagged: list[int] = field(default_factory=list)  # seller colour changed, same image

    @property
    def rows_read(self) -> int:
        return len(self.created) + len(self.updated) + len(self.unchanged)

    def summary(self) -> str:
        dropped = sum(not p.imported for p in self.problems)
        return (f"{len(self.created)} created, {len(self.updated)} updated, {len(self.unchanged)} unchanged, "
                f"{dropped} rows rejected, {len(self.problems) - dropped} imported with an image problem")


@dataclass
class StoredImage:
    path: str  # relative to MEDIA_ROOT
    checksum: str


def store_image(data: bytes, suffix: str) -> StoredImage:
    """Content-addressed copy under MEDIA_ROOT/images (validated first)."""
    load_image(data)  # raises ImageError with the reason
    checksum = hashlib.sha256(data).hexdigest()
    suffix = suffix.lower() if suffix.lower() in IMAGE_SUFFIXES else ".img"
    rel = f"images/{checksum[:2]}/{checksum}{suffix}"
    target = Path(settings.MEDIA_ROOT) / rel
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        tmp = target.with_suffix(target.suffix + ".part")
        tmp.write_bytes(data)
        tmp.replace(target)
    return StoredImage(rel, checksum)


def resolve_image(value: str, images_dir: Path | None, csv_dir: Path | None, confine: bool = False) -> Path:
    """The file an ``image`` cell names. With ``confine`` (uploads) it must lie inside ``images_dir``."""
    candidate = Path(value).expanduser()
    if confine:
        if images_dir is None:
            raise ImageError("no image archive was uploaded")
        inside = (images_dir / candidate).resolve()
        if candidate.is_absolute() or not inside.is_relative_to(images_dir.resolve()):
            raise ImageError(f"image path must be inside the uploaded archive: {value}")
        return inside
    if candidate.is_absolute():
        return candidate
    for base in (images_dir, csv_dir):
        if base is not None and (base / candidate).exists():
            return base / candidate
    return (images_dir or csv_dir or Path.cwd()) / candidate


def _read_rows(text: str) -> list[tuple[int, dict]]:
    reader = csv.DictReader(io.StringIO(text))
    header = [h.strip().lower() for h in (reader.fieldnames or [])]
    missing = [c for c in REQUIRED if c not in header]
    if not header:
        raise ImportFailed("the catalogue file is empty")
    if missing:
        raise ImportFailed(f"the catalogue has no column {', '.join(missing)} "
                           f"(expected columns: {','.join(COLUMNS)}; found: {','.join(header)})")
    reader.fieldnames = header
    rows = []
    line = 1
    for row in reader:
        rows.append((line + 1, row))
        line = reader.line_num
    return rows


def _decode(raw: bytes) -> str:
    for encoding in ("utf-8-sig", "cp1252"):
        try:
            return raw.decode(encoding)
        except UnicodeDecodeError:
            continue
    raise ImportFailed("the catalogue file is not text (UTF-8 expected)")


def import_catalog(*, csv_bytes: bytes, source_name: str, images_dir: Path | None = None,
                   csv_dir: Path | None = None, user=None, confine_images: bool = False) -> ImportReport:
    """Import products from a catalogue CSV. Raises ImportFailed only if nothing is readable.

    ``confine_images`` (uploads): image paths must point inside ``images_dir``.
    """
    rows = _read_rows(_decode(csv_bytes))
    vocabulary = db_vocabulary()
    report = ImportReport()
    batch = ImportBatch.objects.create(source_name=source_name[:255], created_by=user, rows_total=len(rows))
    seen: set[str] = set()
    for line, row in rows:
        try:
            _import_row(line, row, seen, (images_dir, csv_dir, confine_images), vocabulary, batch, report)
        except Exception as exc:  # one bad row never stops the batch
            log.exception("import of line %s failed", line)
            report.problems.append(RowProblem(line, (row.get("sku") or "").strip(), f"unexpected error: {exc}", False))
    batch.rows_created, batch.rows_updated = len(report.created), len(report.updated)
    batch.rows_failed = sum(not p.imported for p in report.problems)
    batch.problems = [p.as_dict() for p in report.problems]
    batch.save()
    report.batch = batch
    if rows and not report.rows_read:
        raise ImportFailed("no row could be imported:\n" + "\n".join(str(p) for p in report.problems[:50]))
    return report


def _clean(row: dict, name: str) -> str:
    value = row.get(name)
    value = value if isinstance(value, str) else ""
    return " ".join(value.split())


def _import_row(line, row, seen, where, vocabulary: ColorVocabulary, batch, report):
    sku = _clean(row, "sku")
    if not sku:
        report.problems.append(RowProblem(line, "", "missing sku", False))
        return
    too_long = [c for c, n in MAX_FIELD.items() if len(_clean(row, c)) > n]
    if too_long:
        name = too_long[0]
        report.problems.append(RowProblem(line, sku[:40], f"{name} is longer than {MAX_FIELD[name]} characters", False))
        return
    if sku in seen:
        report.problems.append(RowProblem(line, sku, "sku appears earlier in the same file", False))
        return
    seen.add(sku)
    image_value = _clean(row, "image")
    stored, image_error = None, ""
    if not image_value:
        image_error = "no image given"
    else:
        try:
            path = resolve_image(image_value, *where)
            if not path.is_file():
                raise ImageError(f"image file not found: {image_value}")
            stored = store_image(path.read_bytes(), path.suffix)
        except ImageError as exc:
            image_error = str(exc)
        except OSError as exc:
            image_error = f"image file cannot be read: {exc.strerror or exc}"
    extras = {k: v for k, v in row.items() if k and k not in COLUMNS and v not in (None, "")}
    result = _upsert(sku, row, stored, image_value, image_error, extras, vocabulary, batch)
    getattr(report, result.outcome).append(result.product_id)
    if image_error:
        report.problems.append(RowProblem(line, sku, image_error, True))
    if result.needs_prediction:
        report.to_predict.append(result.product_id)
    elif result.tag_changed:
        report.retagged.append(result.product_id)


@dataclass
class UpsertResult:
    product_id: int
    outcome: str  # created / updated / unchanged
    needs_prediction: bool = False
    tag_changed: bool = False


@transaction.atomic
def _upsert(sku, row, stored, image_value, image_error, extras, vocabulary, batch) -> UpsertResult:
    raw_color = _clean(row, "seller_color")
    mapped = vocabulary.match(raw_color)
    color = ColorName.objects.filter(name=mapped).first() if mapped else None
    fields = {
        "title": _clean(row, "title"),
        "category": _clean(row, "category"),
        "seller_color_raw": raw_color,
        "seller_color": color,
        "attributes": extras,
        "image_source": image_value[:1000],
    }
    image_fields = {"image": stored.path if stored else "", "image_checksum": stored.checksum if stored else "",
                    "image_error": image_error}
    product = Product.objects.select_for_update().filter(sku=sku).first()
    if product is None:
        product = Product.objects.create(
            sku=sku, **fields, **image_fields, import_batch=batch,
            final_color=color.name if color else raw_color,
            status=Product.Status.FAILED if image_error else Product.Status.PENDING,
            status_detail=image_error)
        return UpsertResult(product.id, "created", needs_prediction=not image_error)
    return _update(product, fields, image_fields, batch)


def _update(product: Product, fields: dict, image_fields: dict, batch: ImportBatch) -> UpsertResult:
    tag_changed = fields["seller_color_raw"] != product.seller_color_raw
    image_changed = (image_fields["image_checksum"] != product.image_checksum
                     or image_fields["image_error"] != product.image_error)
    category_changed = fields["category"] != product.category
    other_changed = any(getattr(product, k) != fields[k] for k in ("title", "attributes"))
    if not (tag_changed or image_changed or category_changed or other_changed):
        return UpsertResult(product.id, "unchanged")
    for k, v in {**fields, **image_fields}.items():
        setattr(product, k, v)
    product.import_batch = batch
    if tag_changed:
        product.final_color = product.seller_color.name if product.seller_color else product.seller_color_raw
    needs_prediction = False
    if image_changed or category_changed:
        _supersede_pending(product, "image changed" if image_changed else "category changed")
        product.status = Product.Status.FAILED if product.image_error else Product.Status.PENDING
        product.status_detail = product.image_error
        needs_prediction = not product.image_error
    elif tag_changed:
        _supersede_pending(product, "seller colour changed")
    product.save()
    return UpsertResult(product.id, "updated", needs_prediction, tag_changed and not needs_prediction)


def _supersede_pending(product: Product, why: str) -> None:
    for s in Suggestion.objects.filter(product=product, status=Suggestion.Status.PENDING):
        updated = Suggestion.objects.filter(pk=s.pk, status=Suggestion.Status.PENDING).update(
            status=Suggestion.Status.SUPERSEDED)
        if updated:
            ReviewEvent.objects.create(product=product, suggestion=s, action=ReviewEvent.Action.SUPERSEDE,
                                       from_status=Suggestion.Status.PENDING,
                                       to_status=Suggestion.Status.SUPERSEDED,
                                       from_color=s.suggested_color, note=why,
                                       model_version=s.prediction.model_version)
