"""A simulated noisy catalogue and how well the suggestions repair it.

Tags are removed (default 26%) or replaced by another product's colour (default 11%),
the rates of the seed paper. Imputations are judged on the removed tags, mislabel flags
on the replaced ones.
"""

from __future__ import annotations

from dataclasses import dataclass, fields, replace

import numpy as np

from ..colors import ColorVocabulary
from ..suggest import IMPUTE, MISLABEL, Thresholds, propose


@dataclass(frozen=True)
class NoisyCatalogue:
    truth: list[str]
    tags: list[str | None]  # None where the tag was removed
    kinds: list[str]  # clean / missing / wrong

    def subset(self, mask) -> NoisyCatalogue:
        pick = [bool(m) for m in mask]
        return NoisyCatalogue(*([x for x, m in zip(seq, pick) if m] for seq in (self.truth, self.tags, self.kinds)))


def simulate(truth: list[str], missing: float = 0.26, wrong: float = 0.11, seed: int = 0) -> NoisyCatalogue:
    rng = np.random.default_rng(seed)
    n = len(truth)
    kinds = np.array(["clean"] * n, dtype=object)
    order = rng.permutation(n)
    n_missing, n_wrong = round(missing * n), round(wrong * n)
    kinds[order[:n_missing]] = "missing"
    kinds[order[n_missing:n_missing + n_wrong]] = "wrong"
    tags: list[str | None] = []
    for t, k in zip(truth, kinds):
        if k == "missing":
            tags.append(None)
        elif k == "wrong":  # copied from another product of a different colour
            others = [u for u in truth if u != t]
            tags.append(others[rng.integers(len(others))])
        else:
            tags.append(t)
    return NoisyCatalogue(list(truth), tags, list(kinds))


class PooledCounts:
    """A dataclass of counts that pools another of its kind into itself field by field."""

    def add(self, other: PooledCounts) -> None:
        """Pool another outcome's counts into this one."""
        for f in fields(self):
            setattr(self, f.name, getattr(self, f.name) + getattr(other, f.name))


@dataclass
class RepairOutcome(PooledCounts):
    imputed: int = 0
    missing: int = 0
    imputed_correct: int = 0
    imputed_family_correct: int = 0
    flagged: int = 0
    flagged_wrong: int = 0  # flags on a replaced tag: true positives
    wrong: int = 0

    @property
    def imputation_coverage(self) -> float:
        return self.imputed / self.missing if self.missing else float("nan")

    @property
    def imputation_accuracy(self) -> float:
        return self.imputed_correct / self.imputed if self.imputed else float("nan")

    @property
    def imputation_family_accuracy(self) -> float:
        return self.imputed_family_correct / self.imputed if self.imputed else float("nan")

    @property
    def mislabel_precision(self) -> float:
        return self.flagged_wrong / self.flagged if self.flagged else float("nan")

    @property
    def mislabel_recall(self) -> float:
        return self.flagged_wrong / self.wrong if self.wrong else float("nan")

    def as_dict(self) -> dict:
        return {"imputation_accuracy": self.imputation_accuracy,
                "imputation_family_accuracy": self.imputation_family_accuracy,
                "imputation_coverage": self.imputation_coverage, "imputed": self.imputed, "missing": self.missing,
                "mislabel_precision": self.mislabel_precision, "mislabel_recall": self.mislabel_recall,
                "flagged": self.flagged, "wrong": self.wrong}


def repair(catalogue: NoisyCatalogue, probs: np.ndarray, classes: list[str], vocabulary: ColorVocabulary,
           thresholds: Thresholds, mapped: dict[str, str] | None = None) -> RepairOutcome:
    """Run the product's suggestion rules over the noisy catalogue and count the outcomes."""
    out = RepairOutcome()
    for p, truth, tag, kind in zip(probs, catalogue.truth, catalogue.tags, catalogue.kinds):
        i = int(p.argmax())
        probabilities = dict(zip(classes, p.tolist()))
        proposal = propose(classes[i], float(p[i]), probabilities, tag, vocabulary, thresholds)
        out.missing += kind == "missing"
        out.wrong += kind == "wrong"
        if proposal is None:
            continue
        if proposal.kind == IMPUTE and kind == "missing":
            out.imputed += 1
            out.imputed_correct += proposal.color == truth
            out.imputed_family_correct += vocabulary.family(proposal.color) == vocabulary.family(truth)
        elif proposal.kind == MISLABEL:
            out.flagged += 1
            out.flagged_wrong += kind == "wrong"
    return out


def curve(catalogue: NoisyCatalogue, probs: np.ndarray, classes: list[str], vocabulary: ColorVocabulary,
          kind: str, grid: np.ndarray | None = None, base: Thresholds | None = None) -> list[list[float]]:
    """[threshold, precision, coverage-or-recall] for a range of thresholds of one suggestion kind
    (the other thresholds and the rule as in ``base``; shade flags off)."""
    grid = np.round(np.arange(0.30, 0.996, 0.01), 3) if grid is None else grid
    base = replace(base or Thresholds(), shade=None, shade_families=None)
    rows = []
    for t in grid:
        th = replace(base, impute=float(t), mislabel=2.0) if kind == IMPUTE \
            else replace(base, impute=2.0, mislabel=float(t))
        o = repair(catalogue, probs, classes, vocabulary, th)
        if kind == IMPUTE:
            rows.append([float(t), o.imputation_accuracy, o.imputation_coverage, o.imputed])
        else:
            rows.append([float(t), o.mislabel_precision, o.mislabel_recall, o.flagged])
    return rows


def choose(rows: list[list[float]], target_precision: float, min_support: int = 10) -> float:
    """Lowest threshold from which precision stays at or above the target (or the best one)."""
    ok = [r for r in rows if r[3] >= min_support and not np.isnan(r[1]) and r[1] >= target_precision]
    stable = [r for r in ok if all(q[1] >= target_precision or q[3] < min_support for q in rows if q[0] >= r[0])]
    if stable:
        return min(r[0] for r in stable)
    scored = [r for r in rows if r[3] >= min_support and not np.isnan(r[1])]
    return max(scored, key=lambda r: (r[1], -r[0]))[0] if scored else rows[-1][0]
