"""Admins set thresholds per category; other categories keep the global ones."""

from __future__ import annotations

import pytest

from colorreview.models import CategoryThreshold, Suggestion
from colorreview.roles import RoleError
from colorreview.services.suggestions import suggestion_refresh
from colorreview.services.thresholds import (
    BadThreshold,
    category_suggestions_refresh,
    category_threshold_set,
    category_threshold_table,
    thresholds_for_category,
)
from tests.factories import PredictionFactory, ProductFactory, SuggestionFactory, probabilities

pytestmark = pytest.mark.django_db


def _untagged(category: str, confidence: float):
    product = ProductFactory(tag="", category=category)
    prediction = PredictionFactory(product=product, predicted_color="Green", confidence=confidence,
                                   probabilities=probabilities(Green=confidence))
    return product, prediction


def test_a_category_threshold_applies_to_that_category_only(admin_user, thresholds):
    jeans, jeans_prediction = _untagged("Jeans", 0.9)
    shirt, shirt_prediction = _untagged("Shirts", 0.9)
    category_threshold_set(user=admin_user, category="Jeans", kind="impute", value=0.95)
    assert suggestion_refresh(product=jeans, prediction=jeans_prediction) is None  # 0.9 < 0.95
    assert suggestion_refresh(product=shirt, prediction=shirt_prediction).threshold == 0.8  # the global one
    assert thresholds_for_category("jeans")["impute"].source == "set for jeans"
    assert thresholds_for_category("Shirts")["mislabel"].value == 0.9


def test_lowering_a_category_threshold_brings_its_suggestions_in_line(admin_user, thresholds):
    thresholds.COLORREVIEW_IMPUTE_THRESHOLD = 0.95
    product, prediction = _untagged("Jeans", 0.9)
    assert suggestion_refresh(product=product, prediction=prediction) is None
    assert category_threshold_set(user=admin_user, category="Jeans", kind="impute", value=0.85)
    assert category_suggestions_refresh(category="Jeans") == 1
    s = Suggestion.objects.get(product=product, status="pending")
    assert (s.kind, s.threshold) == ("impute", 0.85)
    assert category_threshold_set(user=admin_user, category="Jeans", kind="impute", value=None)
    assert not CategoryThreshold.objects.exists()


def test_only_admins_set_thresholds_and_only_probabilities(curator, admin_user):
    with pytest.raises(RoleError):
        category_threshold_set(user=curator, category="Jeans", kind="impute", value=0.9)
    with pytest.raises(BadThreshold):
        category_threshold_set(user=admin_user, category="Jeans", kind="impute", value=1.5)
    assert not CategoryThreshold.objects.exists()


@pytest.mark.parametrize("value", [0, 0.009, -0.5])
def test_a_threshold_below_one_percent_is_refused_as_it_lets_every_product_through(admin_user, value):
    ProductFactory(category="Jeans")
    with pytest.raises(BadThreshold, match="between 1% and 100% .below 1% nearly every product"):
        category_threshold_set(user=admin_user, category="Jeans", kind="impute", value=value)
    assert not CategoryThreshold.objects.exists()
    assert category_threshold_set(user=admin_user, category="Jeans", kind="impute", value=0.01)


def test_the_thresholds_page_takes_0_9_for_a_probability_and_suggests_90(client, admin_user, thresholds):
    ProductFactory(category="Jeans")
    client.force_login(admin_user)
    for form in ({"impute": "0.9"}, {"impute": "92", "mislabel": "0.9"}, {"mislabel": "0"}):
        page = client.post("/thresholds/", {"category": "Jeans", **form}, follow=True).content.decode()
        assert "Jeans: not changed:" in page, form
        assert not CategoryThreshold.objects.exists(), form  # neither of the form's thresholds
    assert "thresholds are percentages: 0.9 would be 0.9%, which nearly every product reaches; for 90%, enter 90" \
        in client.post("/thresholds/", {"category": "Jeans", "impute": "0.9"}, follow=True).content.decode()
    client.post("/thresholds/", {"category": "Jeans", "impute": "1", "mislabel": "90"})
    assert dict(CategoryThreshold.objects.values_list("kind", "value")) == {"impute": 0.01, "mislabel": 0.9}


def test_a_threshold_needs_a_category_of_the_catalogue(admin_user):
    ProductFactory(category="Jeans")
    with pytest.raises(BadThreshold, match="name the category"):
        category_threshold_set(user=admin_user, category=" ", kind="impute", value=0.9)
    with pytest.raises(BadThreshold, match="no product of the catalogue has the category 'Jeens'"):
        category_threshold_set(user=admin_user, category="Jeens", kind="impute", value=0.9)
    assert category_threshold_set(user=admin_user, category="jeans", kind="impute", value=0.9)  # as lookups match
    assert list(CategoryThreshold.objects.values_list("category", flat=True)) == ["jeans"]


def test_the_table_lists_every_category_with_reviewers_verdicts(admin_user, thresholds):
    SuggestionFactory(prediction__product=ProductFactory(category="Jeans", tag="Red"), prediction__predicted_color="Blue",
                      kind="mislabel", status="accepted")
    ProductFactory(category="Shirts")
    category_threshold_set(user=admin_user, category="Shirts", kind="mislabel", value=0.97)
    rows = {r.category: r for r in category_threshold_table()}
    assert (rows["Jeans"].decided, rows["Jeans"].confirmed_share, rows["Jeans"].overridden) == (1, 1.0, set())
    assert rows["Shirts"].thresholds["mislabel"].value == 0.97 and rows["Shirts"].overridden == {"mislabel"}


def test_flags_confirmed_by_reviewers_leave_imputations_out(client, admin_user, thresholds):
    for status in ("accepted", "accepted", "rejected"):
        SuggestionFactory(prediction__product=ProductFactory(category="Jeans", tag="Red"),
                          prediction__predicted_color="Blue", kind="mislabel", status=status)
    for _ in range(2):
        SuggestionFactory(prediction__product=ProductFactory(category="Jeans"), kind="impute", status="rejected")
    row = {r.category: r for r in category_threshold_table()}["Jeans"]
    assert (row.decided, row.confirmed) == (3, 2)
    client.force_login(admin_user)
    assert "67% of 3" in client.get("/thresholds/").content.decode()
    assert "67% of 3" in client.get("/").content.decode()


def test_the_thresholds_page_saves_a_category(client, admin_user, thresholds):
    ProductFactory(category="Jeans")
    client.force_login(admin_user)
    page = client.get("/thresholds/").content.decode()
    assert "Jeans" in page and 'placeholder="80%"' in page
    response = client.post("/thresholds/", {"category": "Jeans", "impute": "92", "mislabel": ""})
    assert response.status_code == 302
    assert list(CategoryThreshold.objects.values_list("category", "kind", "value")) == [("Jeans", "impute", 0.92)]
    client.post("/thresholds/", {"category": "Jeans", "impute": "abc"})
    assert CategoryThreshold.objects.get().value == 0.92


def test_saving_one_threshold_sends_the_other_back_unchanged(client, admin_user, thresholds):
    import re

    ProductFactory(category="Trousers")
    client.force_login(admin_user)
    client.post("/thresholds/", {"category": "Trousers", "impute": "92.5", "mislabel": ""})
    page = client.get("/thresholds/").content.decode()
    shown = re.search(r'name="impute" inputmode="decimal" value="([^"]*)"', page.split("Trousers", 1)[1]).group(1)
    assert shown == "92.5"
    client.post("/thresholds/", {"category": "Trousers", "impute": shown, "mislabel": "90"})
    values = dict(CategoryThreshold.objects.values_list("kind", "value"))
    assert values == {"impute": 0.925, "mislabel": 0.9}
    messages = [str(m) for m in client.get("/thresholds/").context["messages"]]
    assert any("Trousers: mislabel threshold changed" in m for m in messages), messages
