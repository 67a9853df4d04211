"""From a prediction and a seller's tag to a suggestion: impute a missing tag, flag a wrong one.

Pure logic shared by the product and the evaluation, so that the figures measured on the
validation split are those of the decisions the product makes.
"""

from __future__ import annotations

from dataclasses import dataclass

from .colors import ColorVocabulary

IMPUTE, MISLABEL = "impute", "mislabel"


@dataclass(frozen=True)
class Thresholds:
    impute: float = 0.8
    mislabel: float = 0.9
    shade: float | None = None  # None: no flags for a shade within the tag's family


@dataclass(frozen=True)
class Proposal:
    kind: str
    severity: str  # "" for imputations, "family" or "shade" for mislabels
    color: str
    score: float  # calibrated probability that acting on the proposal is right


def tag_support(probabilities: dict[str, float], tag: str, vocabulary: ColorVocabulary) -> tuple[float, float]:
    """(P(exactly the tag), P(the tag's family)) under a prediction's probabilities."""
    family = vocabulary.family(tag)
    exact = float(probabilities.get(tag, 0.0))
    fam = float(sum(p for c, p in probabilities.items() if vocabulary.family(c) == family))
    return exact, fam


def propose(predicted: str | None, confidence: float | None, probabilities: dict[str, float],
            tag: str | None, vocabulary: ColorVocabulary, thresholds: Thresholds) -> Proposal | None:
    """The suggestion for one product, or None.

    ``tag`` is the seller's colour mapped to the vocabulary (None when missing or unknown).
    A missing tag is imputed when the prediction is confident. A tag is flagged when the
    probability that its whole family is wrong reaches the mislabel threshold; a shade
    within the family only when shade flags are on.
    """
    if not predicted:
        return None
    confidence = confidence or 0.0
    if tag is None:
        return Proposal(IMPUTE, "", predicted, confidence) if confidence >= thresholds.impute else None
    exact, family_p = tag_support(probabilities, tag, vocabulary)
    same_family = vocabulary.family(predicted) == vocabulary.family(tag)
    if not same_family and 1 - family_p >= thresholds.mislabel:
        return Proposal(MISLABEL, "family", predicted, 1 - family_p)
    if thresholds.shade is not None and same_family and predicted != tag \
            and confidence >= thresholds.shade and exact < 0.05:
        return Proposal(MISLABEL, "shade", predicted, confidence)
    return None
