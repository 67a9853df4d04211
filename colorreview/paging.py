"""Keyset (seek) pagination: a page starts after or before the key of a row, never at an OFFSET, so the
thousandth page costs what the first does. A cursor is the opaque, URL-safe key of a page's edge row."""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field

from django.core.exceptions import ValidationError
from django.db.models import Q, QuerySet

from .models import BIGINT_MAX


@dataclass
class KeysetPage:
    items: list
    next_cursor: str | None = None  # the page after this one
    prev_cursor: str | None = None  # the page before this one
    size: int = 0
    numbers: dict = field(default_factory=dict)

    def __iter__(self):
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    @property
    def has_other_pages(self) -> bool:
        return bool(self.next_cursor or self.prev_cursor)


def encode_cursor(values: tuple, direction: str) -> str:
    raw = json.dumps([direction, list(values)], separators=(",", ":"), default=str)  # datetimes as text
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> tuple[str, tuple] | None:
    """("after" | "before", key) or None for the first page (also for a cursor that does not parse)."""
    if not cursor:
        return None
    try:
        direction, values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, TypeError):
        return None
    if direction not in ("after", "before") or not isinstance(values, list) or not all(map(_plain, values)):
        return None
    return direction, tuple(values)


def _plain(value) -> bool:
    """A key value a cursor can carry: text, a number a column holds, or a boolean (never null: keys are not)."""
    if isinstance(value, bool):
        return True
    if isinstance(value, str):  # text a database stores: no NUL, no lone surrogate
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return False
        return "\x00" not in value
    if isinstance(value, int):
        return -BIGINT_MAX <= value <= BIGINT_MAX  # a larger one is not a key of any row
    return isinstance(value, float) and value == value and abs(value) != float("inf")


def _beyond(ordering: list[str], values: tuple, forward: bool) -> Q:
    """Rows after ``values`` in ``ordering`` (forward) or before them: (a, b) > (x, y) as OR of ANDs."""
    condition = Q()
    for i, name in enumerate(ordering):
        descending = name.startswith("-")
        column = name.lstrip("-")
        later = "lt" if descending == forward else "gt"
        step = Q(**{f"{column}__{later}": values[i]})
        for prior, value in zip(ordering[:i], values[:i]):
            step &= Q(**{prior.lstrip("-"): value})
        condition |= step
    first = ordering[0]
    bound = "lte" if first.startswith("-") == forward else "gte"
    # the same rows, said once more as a range on the leading column so that an index scan starts there
    return Q(**{f"{first.lstrip('-')}__{bound}": values[0]}) & condition


def _reverse(ordering: list[str]) -> list[str]:
    return [name[1:] if name.startswith("-") else f"-{name}" for name in ordering]


def keyset_page(qs: QuerySet, *, ordering: list[str], size: int, cursor: str | None = None) -> KeysetPage:
    """One page of ``qs`` in ``ordering`` (its last field unique), from a cursor of a previous page."""
    decoded = decode_cursor(cursor)
    if decoded and len(decoded[1]) != len(ordering):
        decoded = None
    if decoded:
        try:  # values of the wrong type for their columns (a cursor of another list): the first page
            beyond = qs.filter(_beyond(ordering, decoded[1], decoded[0] == "after"))
            beyond.query.sql_with_params()  # values are converted for the database here (a date out of range)
        except (ValueError, TypeError, OverflowError, ValidationError):
            decoded = None
    forward = decoded is None or decoded[0] == "after"
    page_qs = (beyond if decoded else qs).order_by(*(ordering if forward else _reverse(ordering)))
    rows = list(page_qs[:size + 1])
    more = len(rows) > size
    rows = rows[:size]
    if not forward:
        rows.reverse()
    page = KeysetPage(rows, size=size)
    if rows:
        key = lambda row: tuple(_value(row, name.lstrip("-")) for name in ordering)  # noqa: E731
        if more or not forward:
            page.next_cursor = encode_cursor(key(rows[-1]), "after")
        if decoded and (forward or more):
            page.prev_cursor = encode_cursor(key(rows[0]), "before")
    return page


def _value(row, path: str):
    for part in path.split("__"):
        row = getattr(row, part)
    return row
