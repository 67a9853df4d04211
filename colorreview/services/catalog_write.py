"""Writing one chunk of catalogue rows: one read of the rows it touches, one upsert, one supersede."""

from __future__ import annotations

from dataclasses import dataclass, field

from django.db import transaction

from ..models import ColorName, ImportBatch, Product, ReviewEvent, Suggestion
from .suggestions import pending_supersede
from .vocabulary import db_vocabulary

_EXISTING = ("id", "sku", "title", "category", "seller_color_raw", "seller_color_id", "final_color", "image",
             "image_checksum", "image_error", "image_source", "image_source_stat", "attributes", "status",
             "status_detail", "archived_at")
#: how the history says that a re-import changed the seller's tag (reopening a decision looks for it)
TAG_CHANGE = "seller colour"
_UPSERT_FIELDS = ["title", "category", "seller_color_raw", "seller_color", "final_color", "image",
                  "image_checksum", "image_error", "image_source", "image_source_stat", "attributes", "status",
                  "status_detail", "import_batch", "updated_at"]


@dataclass
class RowData:
    line: int
    sku: str
    title: str
    category: str
    seller_color_raw: str
    image_source: str
    attributes: dict
    image: str = ""
    image_checksum: str = ""
    image_error: str = ""
    image_stat: str = ""


@dataclass
class ChunkOutcome:
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    to_predict: int = 0
    retagged: list[int] = field(default_factory=list)


class ChunkWriter:
    """Holds the vocabulary for a whole import; writes chunk after chunk."""

    def __init__(self, batch: ImportBatch):
        self.batch = batch
        self.vocabulary = db_vocabulary()
        self.color_ids = dict(ColorName.objects.filter(active=True).values_list("name", "id"))
        self._confirmed: set[int] = set()  # of the chunk being written: colours a person decided

    def existing(self, skus: list[str]) -> dict[str, dict]:
        return {p["sku"]: p for p in Product.objects.filter(sku__in=skus).values(*_EXISTING)}

    def write(self, rows: list[RowData], existing: dict[str, dict]) -> ChunkOutcome:
        outcome, upserts, superseded, events = ChunkOutcome(), [], {}, []
        emptied = [existing[row.sku] for row in rows
                   if not row.seller_color_raw and row.sku in existing and existing[row.sku]["seller_color_raw"]]
        self._confirmed = _person_decided(emptied)
        for row in rows:
            mapped = self.vocabulary.match(row.seller_color_raw) if row.seller_color_raw else None
            color_id = self.color_ids.get(mapped or "")
            product = self._product(row, color_id, mapped)
            current = existing.get(row.sku)
            if current is None:
                outcome.created += 1
                outcome.to_predict += not row.image_error
                upserts.append(product)
                events.append((row.sku, "", product.final_color, "imported"))
            elif self._update(product, current, outcome, superseded):
                upserts.append(product)
                if why := _reimport_reason(current, product):
                    events.append((row.sku, current["final_color"], product.final_color, why))
        with transaction.atomic():
            if upserts:
                Product.objects.bulk_create(upserts, update_conflicts=True, unique_fields=["sku"],
                                            update_fields=_UPSERT_FIELDS)
            pending_supersede(product_reasons=superseded)
            self._record(events, upserts)
        return outcome

    def _record(self, events: list[tuple[str, str, str, str]], written: list[Product]) -> None:
        """The import in each product's history (who imported what, and a final colour it changed)."""
        ids = {p.sku: p.pk for p in written if p.pk is not None}
        if len(ids) < len(written):  # a database that does not return the ids of an upsert
            ids = dict(Product.objects.filter(sku__in=[e[0] for e in events]).values_list("sku", "id"))
        ReviewEvent.objects.bulk_create([ReviewEvent(
            product_id=ids[sku], actor_id=self.batch.created_by_id, action=ReviewEvent.Action.IMPORT,
            from_color=before, to_color=after, note=f"{why} ({self.batch.source_name})")
            for sku, before, after, why in events])

    def _product(self, row: RowData, color_id: int | None, mapped: str | None) -> Product:
        return Product(
            sku=row.sku, title=row.title, category=row.category, seller_color_raw=row.seller_color_raw,
            seller_color_id=color_id, final_color=mapped if color_id else row.seller_color_raw,
            image=row.image, image_checksum=row.image_checksum, image_error=row.image_error,
            image_source=row.image_source, image_source_stat=row.image_stat, attributes=row.attributes,
            status=Product.Status.FAILED if row.image_error else Product.Status.PENDING,
            status_detail=row.image_error, import_batch=self.batch)

    def _tag_colour(self, raw: str) -> str:
        """The final colour a seller tag gives a product on import."""
        return (self.vocabulary.match(raw) or raw) if raw else ""

    def _update(self, product: Product, current: dict, outcome: ChunkOutcome, superseded: dict[int, str]) -> bool:
        """Fill ``product`` from the stored row and what changed; False when nothing needs writing. An
        archived product takes the new row but stays archived: it is neither queued nor re-judged. A tag
        emptied by the seller does not erase a colour that a person decided: one the old tag did not give, or
        the tag's own colour confirmed (a flag rejected, a colour set by hand)."""
        tag_changed = product.seller_color_raw != current["seller_color_raw"]
        image_changed = (product.image_checksum, product.image_error) != (current["image_checksum"],
                                                                           current["image_error"])
        category_changed = product.category != current["category"]
        other_changed = (product.title, product.attributes) != (current["title"], current["attributes"])
        if not (tag_changed or image_changed or category_changed or other_changed):
            outcome.unchanged += 1
            for name in ("seller_color_id", "final_color", "status", "status_detail"):
                setattr(product, name, current[name])
            return (product.image_source, product.image_source_stat) != (current["image_source"],
                                                                          current["image_source_stat"])
        outcome.updated += 1
        archived = current["archived_at"] is not None
        if not tag_changed:
            product.seller_color_id, product.final_color = current["seller_color_id"], current["final_color"]
        elif not product.seller_color_raw and current["final_color"] and (
                current["final_color"] != self._tag_colour(current["seller_color_raw"])
                or current["id"] in self._confirmed):
            product.final_color = current["final_color"]
        if image_changed or category_changed:
            superseded[current["id"]] = "image changed" if image_changed else "category changed"
            outcome.to_predict += not (product.image_error or archived)
        else:
            product.status, product.status_detail = current["status"], current["status_detail"]
            if tag_changed:
                superseded[current["id"]] = "seller colour changed"
                if not archived:
                    outcome.retagged.append(current["id"])
        return True


def _person_decided(products: list[dict]) -> set[int]:
    """Of these stored products, those whose final colour a person decided: a standing decision on a
    suggestion that gave it, or a colour set by hand to it (two queries, for the products whose tag a chunk
    empties)."""
    if not products:
        return set()
    final = {p["id"]: p["final_color"] for p in products}
    decided = Suggestion.objects.filter(product_id__in=final, status__in=Suggestion.DECIDED).values_list(
        "product_id", "final_color")
    by_hand = ReviewEvent.objects.filter(product_id__in=final, action=ReviewEvent.Action.MANUAL).values_list(
        "product_id", "to_color")
    return {pk for pk, colour in (*decided, *by_hand) if colour and colour == final[pk]}


def _reimport_reason(current: dict, product: Product) -> str:
    """What a re-import changed that belongs in the history ("" for titles and attributes only)."""
    changes = []
    if product.seller_color_raw != current["seller_color_raw"]:
        before, after = current["seller_color_raw"] or "(none)", product.seller_color_raw or "(none)"
        changes.append(f"{TAG_CHANGE} {before} → {after}")
    if product.image_checksum != current["image_checksum"]:
        changes.append("new image")
    if product.category != current["category"]:
        changes.append(f"category {current['category'] or '(none)'} → {product.category or '(none)'}")
    if changes and current["archived_at"] is not None:
        changes.append("kept archived")
    return "re-imported: " + ", ".join(changes) if changes else ""
