"""Validation figures per catalogue category, on a small catalogue whose outcomes can be counted by hand."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from inference.colors import default_vocabulary
from inference.evaluate.audit import AuditRow
from inference.evaluate.categories import OTHER, category_groups, per_category
from inference.evaluate.study import fold_of
from inference.suggest import Thresholds

CLASSES = ["Blue", "Navy Blue", "Red"]
SURE_RED = [0.02, 0.03, 0.95]  # right, imputed at 0.8
NAVY_FOR_BLUE = [0.1, 0.85, 0.05]  # truth Blue: wrong shade, right family, imputed at 0.8
UNSURE_BLUE = [0.6, 0.1, 0.3]  # truth Red: wrong family, not imputed at 0.8


def _keys(fold: int, n: int, prefix: str) -> list[str]:
    """``n`` keys that fall in the given half of the cross-fitting."""
    return list(itertools.islice((k for k in (f"{prefix}{i}" for i in itertools.count()) if fold_of(k) == fold), n))


def _catalogue():
    keys, truth, categories, probs = [], [], [], []

    def add(key_list, colour, p, category):
        for k in key_list:
            keys.append(k)
            truth.append(colour)
            categories.append(category)
            probs.append(p)

    for fold in (0, 1):  # each half of Tees: 6 right and sure, 1 wrong shade, 1 wrong family
        add(_keys(fold, 6, f"a{fold}-"), "Red", SURE_RED, "Tees")
        add(_keys(fold, 1, f"b{fold}-"), "Blue", NAVY_FOR_BLUE, "Tees")
        add(_keys(fold, 1, f"c{fold}-"), "Red", UNSURE_BLUE, "Tees")
    add([f"s{i}" for i in range(3)], "Red", [0.1, 0.2, 0.7], "Socks")
    add([f"h{i}" for i in range(2)], "Red", [0.1, 0.2, 0.7], "Caps")
    return keys, truth, categories, np.array(probs)


def test_small_categories_are_pooled_as_other():
    assert category_groups(["Tees"] * 3 + ["Caps", None], min_items=3) == ["Tees"] * 3 + [OTHER, OTHER]


def test_per_category_figures_at_the_shipped_thresholds():
    keys, truth, categories, probs = _catalogue()
    tees = [k for k, c in zip(keys, categories) if c == "Tees"]
    audit = [AuditRow(f"{tees[0]}.jpg", "Tees", "Blue", "wrong colour", "Red"),  # flagged
             AuditRow(f"{tees[7]}.jpg", "Tees", "Red", "wrong colour", "Blue"),  # P(Red family) 0.3: missed
             AuditRow(f"{tees[1]}.jpg", "Tees", "Blue", "confirmed", "Blue"),  # flagged: a false alarm
             AuditRow("s0.jpg", "Socks", "Red", "confirmed", "Red"),
             AuditRow("elsewhere.jpg", "Tees", "Red", "wrong colour", "Blue")]  # not among the readings
    out = per_category(keys, truth, categories, probs, CLASSES, default_vocabulary(),
                       Thresholds(impute=0.8, mislabel=0.9), 0.9, audit, min_items=10)
    assert (out["min_items"], out["impute_threshold"], out["mislabel_threshold"]) == (10, 0.8, 0.9)
    tees_row, other = out["categories"]
    assert (tees_row["category"], tees_row["items"]) == ("Tees", 16)
    assert tees_row["accuracy"] == 0.75 and tees_row["family_accuracy"] == 0.875
    impute = tees_row["impute"]
    assert impute["accuracy"] == pytest.approx(12 / 14, abs=1e-4) and impute["family_accuracy"] == 1.0
    assert impute["coverage"] == 0.875
    assert impute["lowest_threshold"] == 0.86  # above the wrong shade's 0.85, every imputation is right
    assert impute["held_out"] == {"accuracy": 1.0, "coverage": 0.75}  # each half at 0.86 chosen on the other
    assert tees_row["mislabel"] == {"audited": 3, "wrong": 2, "flagged": 1, "missed": 1, "false_alarms": 1,
                                    "flagged_ambiguous": 0}
    assert (other["category"], other["items"], other["pooled"]) == (OTHER, 5, ["Caps", "Socks"])
    assert other["accuracy"] == 1.0 and other["impute"]["coverage"] == 0.0 and other["impute"]["accuracy"] is None
    assert other["impute"]["lowest_threshold"] == 0.3  # right at any threshold the grid has
    assert other["mislabel"]["audited"] == 1 and other["mislabel"]["wrong"] == 0


def test_a_category_without_a_threshold_that_reaches_the_target_says_none():
    keys, truth, categories, probs = _catalogue()
    blue = [("Blue" if c == "Tees" else t) for t, c in zip(truth, categories)]  # only the unsure ones right
    out = per_category(keys, blue, categories, probs, CLASSES, default_vocabulary(),
                       Thresholds(impute=0.8, mislabel=0.9), 0.9, None, min_items=10)
    impute = out["categories"][0]["impute"]
    assert impute["lowest_threshold"] is None and impute["accuracy"] == 0.0
    assert impute["held_out"] == {"accuracy": None, "coverage": 0.0}
    assert "mislabel" not in out["categories"][0]
