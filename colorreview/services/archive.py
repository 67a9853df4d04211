"""Archiving products that leave the catalogue. Products with a history cannot be deleted, so an archived
one stays, with its history, but leaves the review work: its pending suggestions are withdrawn, it gets
no new ones, no new pipeline run takes it, and the lists, the dashboard's figures and the export leave
it out unless asked for it.

Set-based: a chunk of products costs a few statements whatever its size, each change with its event."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice

from django.db import transaction
from django.utils import timezone

from .. import roles
from ..models import Product, ReviewEvent
from . import ServiceError, note_text
from .suggestions import pending_supersede, suggestions_refresh_products
from .summary import summary_request_refresh

#: products archived or unarchived per transaction
CHUNK = 2000
ACTIVE, ARCHIVED = "active", "archived"


class ArchiveConflict(ServiceError):
    """The product is already in the state asked for (someone else may have changed it first)."""


@dataclass
class ArchiveOutcome:
    changed: int = 0
    unchanged: int = 0  # already in the state asked for
    unknown: list[str] = field(default_factory=list)  # skus that are not in the catalogue


def _require_admin(user) -> None:
    if user is not None:  # None: the command line, recorded as the system
        roles.require(user, roles.ADMIN, action="archiving products")


def product_archive(*, product: Product, user, note: str = "") -> Product:
    """Archive one product (admin): its pending suggestions are withdrawn, each with an event."""
    note = note_text(note)
    _require_admin(user)
    if not _archive_chunk([product.pk], user, note):
        product.refresh_from_db()
        raise ArchiveConflict(f"{product.sku} was already archived{archived_since(product)}")
    summary_request_refresh()
    product.refresh_from_db()
    return product


def product_unarchive(*, product: Product, user, note: str = "") -> Product:
    """Bring an archived product back (admin). Its latest prediction is judged again, so a suggestion it
    still warrants opens anew with its own event; what reviewers decided stays decided."""
    note = note_text(note)
    _require_admin(user)
    if not _unarchive_chunk([product.pk], user, note):
        raise ArchiveConflict(f"{product.sku} is not archived")
    summary_request_refresh()
    product.refresh_from_db()
    return product


def products_archive(*, user, skus: Iterable[str], note: str = "") -> ArchiveOutcome:
    """Archive many products by sku, a chunk at a time (a stream of any length, in constant memory)."""
    note = note_text(note)
    _require_admin(user)
    return _each_chunk(skus, lambda ids: _archive_chunk(ids, user, note))


def products_unarchive(*, user, skus: Iterable[str], note: str = "") -> ArchiveOutcome:
    """Bring many archived products back by sku, a chunk at a time."""
    note = note_text(note)
    _require_admin(user)
    return _each_chunk(skus, lambda ids: _unarchive_chunk(ids, user, note))


def archived_since(product: Product) -> str:
    """When and by whom the product was archived, for messages (empty when it is not archived)."""
    if product.archived_at is None:
        return ""
    by = product.archived_by.username if product.archived_by_id else "the command line"
    return f" on {timezone.localtime(product.archived_at):%Y-%m-%d %H:%M} by {by}"


def _chunks(skus: Iterable[str]) -> Iterator[list[str]]:
    stream = iter(skus)
    while chunk := list(dict.fromkeys(s.strip() for s in islice(stream, CHUNK) if s.strip())):
        yield chunk


def _each_chunk(skus: Iterable[str], step: Callable[[list[int]], int]) -> ArchiveOutcome:
    outcome = ArchiveOutcome()
    for chunk in _chunks(skus):
        found = dict(Product.objects.filter(sku__in=chunk).values_list("sku", "pk"))
        outcome.unknown += [sku for sku in chunk if sku not in found]
        changed = step(list(found.values()))
        outcome.changed += changed
        outcome.unchanged += len(found) - changed
    if outcome.changed:
        summary_request_refresh()
    return outcome


def _archive_chunk(ids: list[int], user, note: str) -> int:
    """Archive the products of ``ids`` not archived yet, then withdraw their pending suggestions (an
    update and its events). Returns how many."""
    with transaction.atomic():
        ids = _switch(ids, user, note, archive=True)
        why = f"withdrawn: the product was archived by {user or 'the command line'}"
        pending_supersede(product_reasons=dict.fromkeys(ids, why))
    return len(ids)


def _unarchive_chunk(ids: list[int], user, note: str) -> int:
    """Bring back the archived products of ``ids``; their open suggestions are judged again in bulk."""
    with transaction.atomic():
        ids = _switch(ids, user, note, archive=False)
        if ids:
            suggestions_refresh_products(product_ids=ids)
    return len(ids)


def _switch(ids: list[int], user, note: str, *, archive: bool) -> list[int]:
    """Archive (or bring back) the products of ``ids`` not in that state yet: one locking read, one update
    and an event each. Returns the ids it changed."""
    ids = list(Product.objects.select_for_update().filter(pk__in=ids, archived_at__isnull=archive).order_by("pk")
               .values_list("pk", flat=True))
    if ids:
        now = timezone.now()
        Product.objects.filter(pk__in=ids, archived_at__isnull=archive).update(
            archived_at=now if archive else None, archived_by=user if archive else None, updated_at=now)
        action = ReviewEvent.Action.ARCHIVE if archive else ReviewEvent.Action.UNARCHIVE
        _record(ids, user, action, *((ACTIVE, ARCHIVED) if archive else (ARCHIVED, ACTIVE)), note)
    return ids


def _record(ids: list[int], user, action: str, before: str, after: str, note: str) -> None:
    ReviewEvent.objects.bulk_create([ReviewEvent(product_id=pk, actor=user, action=action, from_status=before,
                                                 to_status=after, note=note) for pk in ids])
