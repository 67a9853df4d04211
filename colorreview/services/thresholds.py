"""Per-category thresholds: an admin may set, for one product category, the threshold of a kind of
suggestion; everything else uses the global thresholds (settings, else the shipped model card)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.db.models import Count, Q

from .. import roles
from ..models import CategoryThreshold, Product, Suggestion
from . import ServiceError, suggestions
from .suggestions import Threshold, _interpolate, active_thresholds

KINDS = ("impute", "mislabel")


def thresholds_for_category(category: str, base: dict[str, Threshold] | None = None) -> dict[str, Threshold]:
    """The thresholds a product of ``category`` is judged by."""
    out = dict(base or active_thresholds())
    if not category:
        return out
    curves = suggestions._card_calibration()
    for kind, value in CategoryThreshold.objects.filter(category__iexact=category).values_list("kind", "value"):
        precision, coverage = _interpolate(curves.get(kind, {}).get("curve", []), value)
        out[kind] = Threshold(kind, value, precision, coverage, f"set for {category}")
    return out


def thresholds_by_category(categories: set[str], calibration: dict | None = None) -> dict[str, dict[str, Threshold]]:
    """``thresholds_for_category`` for many categories at once (one query, for a batch of products);
    ``calibration``: the model card's, when the caller read it already."""
    curves = suggestions._card_calibration() if calibration is None else calibration
    base = active_thresholds(curves)
    wanted = {c.lower() for c in categories if c}
    rows: dict[str, list] = {}
    for category, kind, value in CategoryThreshold.objects.values_list("category", "kind", "value"):
        if category.lower() in wanted:
            rows.setdefault(category.lower(), []).append((kind, value))
    out = {}
    for category in categories:
        out[category] = dict(base)
        for kind, value in rows.get(category.lower(), []) if category else []:
            precision, coverage = _interpolate(curves.get(kind, {}).get("curve", []), value)
            out[category][kind] = Threshold(kind, value, precision, coverage, f"set for {category}")
    return out


#: the lowest threshold a category may have: below it nearly every product of the category qualifies
LOWEST = 0.01


class BadThreshold(ServiceError):
    """A threshold outside 1–100%, an unknown kind or category."""


def category_threshold_set(*, user, category: str, kind: str, value: float | None) -> bool:
    """Set (or with None, remove) a category's threshold; True when something changed. The category's
    open suggestions are brought in line afterwards (see ``category_suggestions_refresh``)."""
    roles.require(user, roles.ADMIN, action="changing thresholds")
    if kind not in KINDS:
        raise BadThreshold(f"unknown kind {kind!r}")
    if value is not None and not LOWEST <= value <= 1:
        raise BadThreshold(f"a threshold is a probability between {LOWEST:.0%} and 100% (below {LOWEST:.0%} nearly "
                           f"every product of the category qualifies), not {value * 100:g}%")
    if not category.strip():
        raise BadThreshold("name the category whose threshold changes")
    if value is not None and not Product.objects.filter(category__iexact=category).exists():
        raise BadThreshold(f"no product of the catalogue has the category '{category}'; thresholds are set for "
                           "the catalogue's categories")
    with transaction.atomic():
        current = CategoryThreshold.objects.filter(category=category, kind=kind).first()
        if value is None:
            return bool(current and current.delete()[0])
        if current and abs(current.value - value) < 1e-7:  # the same percentage sent back by the form
            return False
        CategoryThreshold.objects.update_or_create(category=category, kind=kind,
                                                   defaults={"value": value, "updated_by": user})
    return True


def category_suggestions_refresh(*, category: str) -> int:
    """Re-judge every predicted product of the category under its thresholds now; returns how many."""
    from .suggestions import suggestion_refresh

    products = Product.objects.filter(category=category, status=Product.Status.PREDICTED).select_related(
        "seller_color")
    count = 0
    for product in products.iterator():
        suggestion_refresh(product=product)
        count += 1
    return count


@dataclass(frozen=True)
class CategoryFigures:
    """A category's figures on the validation split, as the model card gives them (``figures``: one entry of
    its ``per_category`` list). ``pooled``: the category was too small to be judged alone, and the figures
    are those of all such categories together."""

    figures: dict
    pooled: bool


def validation_by_category() -> dict:
    """The model card's per-category validation figures (``calibration.per_category``), or {} without them."""
    return suggestions._card_calibration().get("per_category") or {}


def _figures_index(per_category: dict) -> dict[str, CategoryFigures]:
    """Lower-cased category -> its figures; each category pooled into ``other`` points at that entry."""
    index = {}
    for entry in per_category.get("categories", []):
        if entry.get("pooled") is not None:
            index.update({name.lower(): CategoryFigures(entry, True) for name in entry["pooled"]})
        else:
            index[entry["category"].lower()] = CategoryFigures(entry, False)
    return index


@dataclass
class CategoryRow:
    category: str
    products: int
    thresholds: dict[str, Threshold]
    overridden: set[str]
    decided: int  # reviewed mislabel flags of the category
    confirmed: int  # of them, accepted or corrected (the flag was right that the tag was wrong)
    validation: CategoryFigures | None = None  # None: the validation split has no product of the category

    @property
    def confirmed_share(self) -> float | None:
        return self.confirmed / self.decided if self.decided else None


def category_counts() -> dict:
    """Products per category (not archived) and the reviewers' verdicts on mislabel flags per category (for the
    catalogue summary). Imputations are left out: a flag is confirmed when the tag was wrong, and an imputation
    has no tag to be wrong."""
    products = dict(Product.objects.filter(archived_at__isnull=True).exclude(category="").values_list("category")
                    .annotate(n=Count("id")).order_by())
    verdicts = {row["product__category"]: {"decided": row["decided"], "confirmed": row["confirmed"]}
                for row in Suggestion.objects.filter(status__in=Suggestion.DECIDED, kind=Suggestion.Kind.MISLABEL)
                .values("product__category").annotate(
                    decided=Count("id"), confirmed=Count("id", filter=Q(status__in=["accepted", "corrected"])))
                .order_by()}
    return {"products": products, "verdicts": verdicts}


def category_threshold_table(counts: dict | None = None) -> list[CategoryRow]:
    """Every category of the catalogue with its thresholds, their validation figures, the category's own
    validation figures from the model card and the reviewers' verdicts so far. ``counts``:
    ``category_counts()`` as the catalogue summary holds them."""
    calibration = suggestions._card_calibration()
    base = active_thresholds(calibration)
    overrides: dict[str, set[str]] = {}
    for category, kind in CategoryThreshold.objects.values_list("category", "kind"):
        overrides.setdefault(category, set()).add(kind)
    judged = thresholds_by_category(set(overrides), calibration)  # one query for every overridden category
    counts = category_counts() if counts is None else counts
    products, verdicts = counts["products"], counts["verdicts"]
    figures = _figures_index(calibration.get("per_category") or {})
    rows = []
    for category in sorted(set(products) | set(overrides)):
        verdict = verdicts.get(category, {})
        rows.append(CategoryRow(
            category, products.get(category, 0), judged.get(category, base),
            overrides.get(category, set()), verdict.get("decided", 0), verdict.get("confirmed", 0),
            figures.get(category.lower())))
    return rows
