"""Which garment region a product's category picks, and which of its readings read that region.

A reading records the region its product's category picked (``Prediction.category_region``; "" when the
category is not in the region table and the largest garment region was read; None for readings made before
it was recorded, which stand for any region). A product whose category now picks another region is read
again; one whose category changed within the same region keeps its reading."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator
from typing import TypeVar

from django.db import connection
from django.db.models import Case, CharField, OuterRef, Q, Value, When

from inference.segment import RegionTable

from ..models import Product

T = TypeVar("T")
#: by product id: the image checksum and the garment region its category picks, as the pipeline reads it
Wanted = dict[int, tuple[str, str]]


def category_region(table: RegionTable, category: str) -> str:
    """The region ``category`` picks in ``table``; "" when it picks none (the largest region is read)."""
    return table.region_for(category) or ""


def wanted_readings(table: RegionTable, products: Iterable[tuple[int, str, str]]) -> Wanted:
    """For (product id, image checksum, category) rows: each product's image and the region its category picks."""
    regions: dict[str, str] = {}
    wanted: Wanted = {}
    for pk, checksum, category in products:
        if category not in regions:
            regions[category] = category_region(table, category)
        wanted[pk] = (checksum, regions[category])
    return wanted


def product_categories() -> Iterator[str]:
    """The catalogue's distinct categories, found by walking the category index from one to the next (a
    probe per category, not a scan of the products)."""
    table = connection.ops.quote_name(Product._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"WITH RECURSIVE c(category) AS (SELECT MIN(category) FROM {table} UNION ALL "
            f"SELECT (SELECT MIN(category) FROM {table} WHERE category > c.category) FROM c "
            f"WHERE c.category IS NOT NULL) SELECT category FROM c WHERE category IS NOT NULL")
        yield from (category for (category,) in cursor.fetchall())


def category_region_expression(table: RegionTable) -> Case:
    """The region each product's category picks now, as an expression over the product row."""
    names: dict[str, list[str]] = defaultdict(list)
    for category in product_categories():
        if region := category_region(table, category):
            names[region].append(category)
    return Case(*[When(category__in=names[region], then=Value(region)) for region in sorted(names)],
                default=Value(""), output_field=CharField())


def fits(region: str | OuterRef) -> Q:
    """Readings that read ``region`` (a value, or the outer query's), or whose region was never recorded."""
    return Q(category_region__isnull=True) | Q(category_region=region)


def current_readings(rows: Iterable[tuple[int, str, str | None, T]], wanted: Wanted) -> dict[int, T]:
    """Each product's current reading: of ``rows`` (product id, image checksum, region read, reading; oldest
    first), the newest whose image and region are those ``wanted`` for the product (a region never recorded
    fits any). A product whose image or region changed has none until it is read again."""
    newest: dict[int, T] = {}
    for product_id, checksum, region, reading in rows:
        want = wanted.get(product_id)
        if want is not None and checksum == want[0] and region in (None, want[1]):
            newest[product_id] = reading
    return newest


__all__ = ["Wanted", "category_region", "category_region_expression", "current_readings", "fits",
           "product_categories", "wanted_readings"]
