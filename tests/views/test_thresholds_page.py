"""The thresholds page shows each category's validation figures from the model card."""

from __future__ import annotations

import json
import re

import pytest

from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

PER_CATEGORY = {
    "min_items": 20, "impute_threshold": 0.6, "impute_target_precision": 0.95, "mislabel_threshold": 0.9,
    "rule": "tag",
    "categories": [
        {"category": "Jeans", "items": 28, "accuracy": 0.9286, "family_accuracy": 0.9643,
         "impute": {"accuracy": 0.9565, "family_accuracy": 1.0, "coverage": 0.8214, "lowest_threshold": 0.36,
                    "held_out": {"accuracy": 0.9286, "coverage": 1.0}},
         "mislabel": {"audited": 17, "wrong": 3, "flagged": 2, "missed": 1, "false_alarms": 1, "flagged_ambiguous": 0}},
        {"category": "Trousers", "items": 42, "accuracy": 0.5, "family_accuracy": 0.619,
         "impute": {"accuracy": 0.5789, "family_accuracy": 0.7, "coverage": 0.4524, "lowest_threshold": None,
                    "held_out": {"accuracy": None, "coverage": 0.0}},
         "mislabel": {"audited": 20, "wrong": 0, "flagged": 0, "missed": 0, "false_alarms": 0, "flagged_ambiguous": 0}},
        {"category": "other", "pooled": ["Jackets", "Skirts"], "items": 23, "accuracy": 0.6957,
         "family_accuracy": 0.7826,
         "impute": {"accuracy": 0.8, "family_accuracy": 0.9, "coverage": 0.6522, "lowest_threshold": 0.95,
                    "held_out": {"accuracy": 0.9, "coverage": 0.3}}},
    ],
}


@pytest.fixture
def card(settings, tmp_path):
    calibration = {"impute": {"threshold": 0.6}, "mislabel": {"threshold": 0.9}, "per_category": PER_CATEGORY}
    (tmp_path / "colornet.json").write_text(json.dumps({"calibration": calibration}))
    settings.COLORREVIEW_CLASSIFIER = "timm"
    settings.COLORREVIEW_WEIGHTS_DIR = str(tmp_path)
    return tmp_path


def _row(html: str, category: str) -> str:
    return re.search(rf'<th scope="row">{category}</th>(.*?)</tr>', html, re.S).group(1)


def test_the_thresholds_page_shows_each_categorys_validation_figures(client, admin_user, card):
    for category in ("jeans", "Trousers", "Jackets", "Socks"):
        ProductFactory(category=category)
    client.force_login(admin_user)
    html = client.get("/thresholds/").content.decode()
    assert "Imputation at 60%: right / filled" in html and "Lowest threshold for 95% right" in html
    jeans = _row(html, "jeans")  # matched whatever the case
    assert "<td>28</td>" in jeans and "93% / 96%" in jeans and "96% / 82%" in jeans
    assert "36% (93% / 100%)" in jeans and "2 / 1 of 3; 1 false alarm" in jeans
    trousers = _row(html, "Trousers")
    assert "none (— / 0%)" in trousers and "none among 20 audited" in trousers
    jackets = _row(html, "Jackets")
    assert "23" in jackets and ">pooled</span>" in jackets and "70% / 78%" in jackets and "95% (90% / 30%)" in jackets
    assert "No validation figures" in _row(html, "Socks") and "No validation figures" not in jeans


def test_without_figures_in_the_card_the_page_says_so(client, admin_user, card):
    (card / "colornet.json").write_text(json.dumps({"calibration": {"impute": {"threshold": 0.6}}}))
    ProductFactory(category="Jeans")
    client.force_login(admin_user)
    html = client.get("/thresholds/").content.decode()
    assert "The model card carries no figures per category" in html
    assert "No validation figures" in _row(html, "Jeans")
