"""Validation figures per catalogue category, for whoever sets that category's thresholds.

Every figure is read from out-of-fold probabilities (each half of the split calibrated on the
other half). Imputations are judged as if every product's tag were missing; the lowest impute
threshold that reaches the target on a category is checked on held-out halves too (each half
judged at the threshold chosen on the other); mislabel flags are counted on the audit's real tags.
Categories with fewer than ``min_items`` products are pooled as ``other``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import numpy as np

from ..colors import ColorVocabulary
from ..suggest import Thresholds
from . import audit, noisy
from .study import fold_of, report
from .tuning import lowest_threshold

MIN_ITEMS = 20
OTHER = "other"


def category_groups(categories: list[str | None], min_items: int = MIN_ITEMS) -> list[str]:
    """Each product's category, or ``other`` where its category has fewer than ``min_items`` products."""
    counts = Counter(categories)
    return [c if c and counts[c] >= min_items else OTHER for c in categories]


def per_category(keys: list[str], truth: list[str], categories: list[str | None], probs: np.ndarray,
                 classes: list[str], vocabulary: ColorVocabulary, thresholds: Thresholds, impute_target: float,
                 audit_rows: list[audit.AuditRow] | None = None, min_items: int = MIN_ITEMS) -> dict:
    """The figures of each category (largest first, ``other`` last) at the shipped ``thresholds``."""
    groups = np.array(category_groups(categories, min_items), dtype=object)
    by_image = {f"{k}.jpg": p for k, p in zip(keys, probs)}
    group_of = {f"{k}.jpg": g for k, g in zip(keys, groups)}
    folds = np.array([fold_of(k) for k in keys])
    names = sorted(set(groups) - {OTHER}, key=lambda g: (-(groups == g).sum(), g))
    rows = []
    for name in names + ([OTHER] if OTHER in set(groups) else []):
        mask = groups == name
        part = [t for t, m in zip(truth, mask) if m]
        row = {"category": name, "items": int(mask.sum()),
               **_accuracy(probs[mask], part, classes, vocabulary),
               "impute": _imputation(probs[mask], part, folds[mask], classes, vocabulary, thresholds, impute_target)}
        if name == OTHER:
            row["pooled"] = sorted({c for c, g in zip(categories, groups) if g == OTHER and c})
        if audit_rows:
            mine = [r for r in audit_rows if group_of.get(r.image) == name]
            row["mislabel"] = _flags(audit.judge_flags(mine, by_image, classes, vocabulary, thresholds))
        rows.append(row)
    return {"min_items": min_items, "impute_threshold": thresholds.impute, "impute_target_precision": impute_target,
            "mislabel_threshold": thresholds.mislabel, "rule": thresholds.rule, "categories": rows}


def _accuracy(probs: np.ndarray, truth: list[str], classes: list[str], vocabulary: ColorVocabulary) -> dict:
    r = report(probs, truth, classes, vocabulary)
    return {"accuracy": _round(r["accuracy"]), "family_accuracy": _round(r["family_accuracy"])}


def _imputation(probs: np.ndarray, truth: list[str], folds: np.ndarray, classes: list[str],
                vocabulary: ColorVocabulary, thresholds: Thresholds, target: float) -> dict:
    """At the shipped threshold; the lowest threshold reaching ``target`` (None where none does),
    and that choice judged on held-out halves."""
    at = _impute_outcome(probs, truth, classes, vocabulary, thresholds)
    right = np.array([classes[int(p.argmax())] == t for p, t in zip(probs, truth)])
    held_out = noisy.RepairOutcome()
    for k in (0, 1):
        chosen = lowest_threshold(probs[folds != k].max(1), right[folds != k], target)
        if chosen is not None:
            judged = [t for t, f in zip(truth, folds) if f == k]
            held_out.add(_impute_outcome(probs[folds == k], judged, classes, vocabulary,
                                         replace(thresholds, impute=chosen)))
        else:
            held_out.missing += int((folds == k).sum())
    return {"accuracy": _round(at.imputation_accuracy), "family_accuracy": _round(at.imputation_family_accuracy),
            "coverage": _round(at.imputation_coverage),
            "lowest_threshold": lowest_threshold(probs.max(1), right, target),
            "held_out": {"accuracy": _round(held_out.imputation_accuracy),
                         "coverage": _round(held_out.imputation_coverage)}}


def _impute_outcome(probs: np.ndarray, truth: list[str], classes: list[str], vocabulary: ColorVocabulary,
                    thresholds: Thresholds) -> noisy.RepairOutcome:
    """Every product imputed as if its tag were missing."""
    catalogue = noisy.NoisyCatalogue(list(truth), [None] * len(truth), ["missing"] * len(truth))
    return noisy.repair(catalogue, probs, classes, vocabulary, thresholds)


def _flags(outcome: audit.FlagOutcome) -> dict:
    return {"audited": outcome.wrong + outcome.confirmed + outcome.ambiguous, "wrong": outcome.wrong,
            "flagged": outcome.flagged_wrong, "missed": outcome.wrong - outcome.flagged_wrong,
            "false_alarms": outcome.flagged_confirmed, "flagged_ambiguous": outcome.flagged_ambiguous}


def _round(value: float) -> float | None:
    return None if value is None or np.isnan(value) else round(float(value), 4)
