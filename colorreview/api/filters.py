"""Query filters of the API lists, declared with django-filter (and so described in the schema)."""

from __future__ import annotations

import django_filters as filters
from django.db.models import Q
from django_filters.fields import ChoiceField

from ..models import Prediction, Product, Suggestion
from ..selectors import (
    ARCHIVED_CHOICES,
    OPEN_CHOICES,
    TEXT_FILTER_MAX,
    of_open,
    of_seller_color,
    of_severity,
    visible_kinds,
)


def _sku_or_title(prefix: str = ""):
    def search(queryset, name, value):
        return queryset.filter(Q(**{f"{prefix}sku__icontains": value}) | Q(**{f"{prefix}title__icontains": value}))

    return search


class TextFilter(filters.CharFilter):
    """Text of at most ``TEXT_FILTER_MAX`` characters (a longer one answers 400)."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("max_length", TEXT_FILTER_MAX)
        super().__init__(*args, **kwargs)


#: what ``unmapped`` accepts (anything else answers 400 rather than being read as 0)
UNMAPPED_VALUES = {"1": True, "true": True, "yes": True, "0": False, "false": False, "no": False}


class _AnyCaseChoiceField(ChoiceField):
    def to_python(self, value):
        return super().to_python(value).lower()


class AnyCaseChoiceFilter(filters.ChoiceFilter):
    """A choice in any case (``True``, ``YES``: what HTTP clients send for a boolean)."""

    field_class = _AnyCaseChoiceField


class ProductFilter(filters.FilterSet):
    status = filters.ChoiceFilter(choices=Product.Status.choices)
    category = TextFilter(lookup_expr="iexact")
    q = TextFilter(method=lambda qs, name, value: _sku_or_title()(qs, name, value),
                           label="text in the sku or title")
    seller_color = TextFilter(method="filter_seller_color",
                              label="seller colour, as written (any case) or mapped as an import maps it "
                                    "(gray, navy, off-white)")
    unmapped = AnyCaseChoiceFilter(choices=[(v, v) for v in UNMAPPED_VALUES], method="filter_unmapped",
                                   label="1: seller colour outside the vocabulary, 0: inside")
    archived = filters.ChoiceFilter(choices=[("0", "active"), ("1", "archived"), ("all", "both")],
                                    method="filter_archived",
                                    label="archived products: lists leave them out (0) unless 1 (only them) or all")
    open = filters.ChoiceFilter(choices=list(OPEN_CHOICES.items()), method="filter_open",
                                label="by what is open on a product, of the kinds the caller may decide: any, "
                                      "mislabel, impute or none")

    class Meta:
        model = Product
        fields = ["status", "category", "q", "seller_color", "unmapped", "archived", "open"]

    def filter_open(self, queryset, name, value):
        return queryset.filter(of_open(value, kinds=visible_kinds(self.request.user)))

    def filter_seller_color(self, queryset, name, value):
        return queryset.filter(of_seller_color(value))

    def filter_archived(self, queryset, name, value):
        archived = ARCHIVED_CHOICES[value]
        return queryset if archived is None else queryset.filter(archived_at__isnull=not archived)

    def filter_unmapped(self, queryset, name, value):
        unmapped = Q(seller_color__isnull=True) & ~Q(seller_color_raw="")
        return queryset.filter(unmapped) if UNMAPPED_VALUES[value] else queryset.exclude(unmapped)


class PredictionFilter(filters.FilterSet):
    sku = TextFilter(field_name="product__sku")
    model_version = TextFilter()
    predicted_color = TextFilter(lookup_expr="iexact")

    class Meta:
        model = Prediction
        fields = ["sku", "model_version", "predicted_color"]


class SuggestionFilter(filters.FilterSet):
    kind = filters.ChoiceFilter(choices=Suggestion.Kind.choices)
    status = filters.ChoiceFilter(choices=[*Suggestion.Status.choices, ("all", "all")], method="filter_status",
                                  label="state (lists default to pending; 'all' for every state)")
    color = TextFilter(field_name="suggested_color", lookup_expr="iexact")
    category = TextFilter(field_name="product__category", lookup_expr="iexact")
    q = TextFilter(method=lambda qs, name, value: _sku_or_title("product__")(qs, name, value),
                           label="text in the sku or title")
    severity = filters.ChoiceFilter(choices=[c for c in Suggestion.Severity.choices if c[0]], method="filter_severity",
                                    label="mislabel flags of another colour family, or of another shade of the tag's")

    class Meta:
        model = Suggestion
        fields = ["kind", "status", "color", "category", "q", "severity"]

    def filter_severity(self, queryset, name, value):
        return queryset.filter(of_severity(value))

    def filter_status(self, queryset, name, value):
        return queryset if value == "all" else queryset.filter(status=value)
