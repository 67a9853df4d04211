"""Judging the model on an audit: products whose tag a person checked against the photo.

An audit row says whether the catalogue's tag is right (``confirmed``), wrong (``wrong shade``,
``wrong colour``, ``wrong, no single right colour``) or ``ambiguous``; ``color`` is the verified
colour where there is one. The model is judged against verified colours, and the product's mislabel
flags against the real wrong tags, with flags on ambiguous rows counted apart.
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from ..colors import ColorVocabulary
from ..suggest import IMPUTE, MISLABEL, Thresholds, propose
from .noisy import PooledCounts


@dataclass(frozen=True)
class AuditRow:
    image: str
    category: str | None
    seller_color: str | None
    verdict: str
    color: str | None

    @property
    def tag_wrong(self) -> bool:
        return self.verdict.startswith("wrong")

    @property
    def tag_right(self) -> bool:
        return self.verdict == "confirmed"


def is_audit(path: str | Path) -> bool:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return "verdict" in (csv.DictReader(fh).fieldnames or [])


def load_audit(path: str | Path) -> list[AuditRow]:
    with open(path, newline="", encoding="utf-8-sig") as fh:
        return [AuditRow(r["image"], r.get("category") or None, (r.get("seller_color") or "").strip() or None,
                         r["verdict"].strip(), (r.get("color") or "").strip() or None)
                for r in csv.DictReader(fh)]


@dataclass
class FlagOutcome(PooledCounts):
    """Mislabel flags raised on the audited rows imported with their real tags."""

    wrong: int = 0
    confirmed: int = 0
    ambiguous: int = 0
    flagged_wrong: int = 0
    flagged_confirmed: int = 0
    flagged_ambiguous: int = 0
    flagged_wrong_named: int = 0  # flags on a wrong tag that name the audited colour
    shade_flags: int = 0

    @property
    def precision(self) -> float:
        decided = self.flagged_wrong + self.flagged_confirmed
        return self.flagged_wrong / decided if decided else float("nan")

    @property
    def recall(self) -> float:
        return self.flagged_wrong / self.wrong if self.wrong else float("nan")

    def as_dict(self) -> dict:
        return {**asdict(self), "precision": self.precision, "recall": self.recall}


def judge_flags(rows: list[AuditRow], probs: dict[str, np.ndarray], classes: list[str],
                vocabulary: ColorVocabulary, thresholds: Thresholds,
                shares: dict[str, dict[str, float]] | None = None) -> FlagOutcome:
    """The product's flags on every audited row whose tag is a class and that has a prediction
    (``shares``: each image's garment share per vocabulary colour, for the ``outside`` colours)."""
    out = FlagOutcome()
    for row in rows:
        tag = vocabulary.match(row.seller_color)
        if row.image not in probs or tag is None:
            continue
        p = probs[row.image]
        i = int(p.argmax())
        proposal = propose(classes[i], float(p[i]), dict(zip(classes, p.tolist())), tag, vocabulary, thresholds,
                           (shares or {}).get(row.image))
        kind = "wrong" if row.tag_wrong else "confirmed" if row.tag_right else "ambiguous"
        setattr(out, kind, getattr(out, kind) + 1)
        if proposal is None or proposal.kind != MISLABEL:
            continue
        setattr(out, f"flagged_{kind}", getattr(out, f"flagged_{kind}") + 1)
        out.shade_flags += proposal.severity == "shade"
        out.flagged_wrong_named += kind == "wrong" and proposal.color == row.color
    return out


def ranking_ceiling(rows: list[AuditRow], probs: dict[str, np.ndarray], classes: list[str],
                    vocabulary: ColorVocabulary, precision: float = 0.8) -> dict:
    """How many real wrong tags a flag on P(tag wrong) could catch at ``precision`` with the best threshold
    for this very audit (in-sample: an upper bound for any threshold on that score, not a figure a rule
    reaches), and how many wrong tags the model reads as the tag itself (no disagreement rule finds them)."""
    scored = []  # (P(tag wrong), tag wrong?) over rows judged right or wrong
    agreeing = no_single = 0
    for row in rows:
        tag = vocabulary.match(row.seller_color)
        if row.image not in probs or tag is None or not (row.tag_wrong or row.tag_right) or tag not in classes:
            continue
        p = probs[row.image]
        scored.append((1.0 - float(p[classes.index(tag)]), row.tag_wrong))
        if row.tag_wrong:
            agreeing += classes[int(p.argmax())] == tag
            no_single += not row.color
    wrong = sum(w for _, w in scored)
    best = {"flagged_wrong": 0, "flagged_confirmed": 0, "threshold": None}
    caught = flagged = 0
    ranked = sorted(scored, key=lambda t: -t[0])
    for i, (score, is_wrong) in enumerate(ranked):
        caught, flagged = caught + is_wrong, flagged + 1
        if i + 1 < len(ranked) and ranked[i + 1][0] == score:
            continue  # a threshold flags every row of equal score together
        if caught / flagged >= precision and caught > best["flagged_wrong"]:
            best = {"flagged_wrong": caught, "flagged_confirmed": flagged - caught, "threshold": round(score, 4)}
    return {"precision_target": precision, "wrong": wrong, **best,
            "recall": best["flagged_wrong"] / wrong if wrong else float("nan"),
            "wrong_read_as_the_tag": agreeing, "wrong_without_a_single_colour": no_single}


def judge_imputations(rows: list[AuditRow], probs: dict[str, np.ndarray], classes: list[str],
                      vocabulary: ColorVocabulary, thresholds: Thresholds) -> dict:
    """Every verified row with its tag removed: how many the product imputes, and how many rightly."""
    imputed = right = family = total = 0
    for row in rows:
        if not row.color or row.image not in probs:
            continue
        total += 1
        p = probs[row.image]
        i = int(p.argmax())
        proposal = propose(classes[i], float(p[i]), dict(zip(classes, p.tolist())), None, vocabulary, thresholds)
        if proposal is None or proposal.kind != IMPUTE:
            continue
        imputed += 1
        right += proposal.color == row.color
        family += vocabulary.family(proposal.color) == vocabulary.family(row.color)
    return {"missing": total, "imputed": imputed, "coverage": imputed / total if total else float("nan"),
            "accuracy": right / imputed if imputed else float("nan"),
            "family_accuracy": family / imputed if imputed else float("nan")}


def seller_accuracy(rows: list[AuditRow], vocabulary: ColorVocabulary) -> dict:
    """How often the catalogue's own tags name the verified colour (exact and family)."""
    verified = [r for r in rows if r.color]
    tags = [vocabulary.match(r.seller_color) for r in verified]
    exact = np.mean([t == r.color for t, r in zip(tags, verified)]) if verified else float("nan")
    fam = np.mean([vocabulary.family(t) == vocabulary.family(r.color) for t, r in zip(tags, verified)]) \
        if verified else float("nan")
    return {"n": len(verified), "accuracy": float(exact), "family_accuracy": float(fam)}


def wrong_pairs(rows: list[AuditRow], vocabulary: ColorVocabulary) -> list[tuple[str, str]]:
    """(wrong tag, verified colour) of every audited wrong tag whose right colour is known."""
    return [(vocabulary.match(r.seller_color), r.color) for r in rows
            if r.tag_wrong and r.color and vocabulary.match(r.seller_color)]
