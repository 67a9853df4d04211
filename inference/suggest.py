"""From a prediction and a seller's tag to a suggestion: impute a missing tag, flag a wrong one.

Pure logic shared by the product and the evaluation, so that the figures measured on the
validation split are those of the decisions the product makes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace

from .colors import ColorVocabulary

IMPUTE, MISLABEL = "impute", "mislabel"
FAMILY_RULE, TAG_RULE, CONFIDENT_RULE = "family", "tag", "confident"
RULES = (FAMILY_RULE, TAG_RULE, CONFIDENT_RULE)


@dataclass(frozen=True)
class Thresholds:
    """When to impute and when to flag.

    ``rule="family"``: flag when P(the tag's whole family is wrong) >= ``mislabel``; a shade within
    the family when the prediction's confidence >= ``shade`` (None: no shade flags).
    ``rule="tag"``: flag when P(exactly the tag is wrong) >= ``mislabel`` and the most probable colour
    is of another family; >= ``shade`` when it is another shade of the tag's family.
    ``rule="confident"`` (confident learning, Northcutt et al.): each colour has its own threshold,
    the mean probability the model gives that colour on products tagged with it (``per_class``); a
    tag is flagged when the most probable colour above its own threshold is another colour and
    P(tag is wrong) >= ``mislabel`` (a floor that trades recall for precision), or, when that colour
    is a shade of the tag's family, P(tag is wrong) >= ``shade`` (None: no shade flags).

    ``outside``: vocabulary colours the classifier does not name and the catalogue's tags do not agree on
    (teal, turquoise: tagged Green by some sellers, Blue by others), each with the share of the garment the
    KD-tree must read in it. Whatever the rule, a tag that is another colour is flagged when the garment's
    dominant colours reach that share (the classifier, which only knows the tags' colours, cannot tell).

    ``shade_families``: families whose shade flags are reliable (navy tagged Blue, maroon tagged Red), each
    with its own shade threshold, used when ``shade`` is None (``shade`` turns shade flags on for every
    family at one threshold).
    """

    impute: float = 0.8
    mislabel: float = 0.9
    shade: float | None = None  # None: no flags for a shade within the tag's family
    rule: str = FAMILY_RULE
    per_class: Mapping[str, float] | None = None
    outside: Mapping[str, float] | None = None
    shade_families: Mapping[str, float] | None = None

    def shade_for(self, family: str | None) -> float | None:
        """The shade threshold for a tag of ``family`` (None: no shade flags for it)."""
        return self.shade if self.shade is not None else (self.shade_families or {}).get(family or "")


def thresholds_from_card(calibration: dict, impute: float | None = None, mislabel: float | None = None,
                         shade: float | None = None, shade_on: bool | None = None) -> Thresholds:
    """The thresholds a classifier card's ``calibration`` ships (rule, per-colour thresholds, shade
    threshold, the families whose shade flags the audit confirms, the colours outside the classes), each
    overridable; ``shade_on=False`` turns every shade flag off, True on for every family (at ``shade``); ``shade``
    alone sets the threshold of the families the card names."""
    card_shade = (calibration.get("shade") or {}).get("threshold")
    if shade_on is False:
        chosen_shade = None
    elif shade_on:
        chosen_shade = shade if shade is not None else card_shade if card_shade is not None else 0.9
    else:
        chosen_shade = shade if shade is not None and card_shade is not None else card_shade
    rule = calibration.get("rule", FAMILY_RULE)
    return Thresholds(
        impute if impute is not None else float(calibration.get("impute", {}).get("threshold", 0.8)),
        mislabel if mislabel is not None else float(calibration.get("mislabel", {}).get("threshold", 0.9)),
        chosen_shade, rule if rule in RULES else FAMILY_RULE, calibration.get("per_class") or None,
        (calibration.get("outside") or {}).get("colours") or None,
        _shade_families(calibration, shade if shade_on is None else None) if shade_on is not False else None)


def _shade_families(calibration: dict, shade: float | None) -> dict[str, float] | None:
    """The families the card gives shade flags, each at its own threshold, or at ``shade`` when one is set."""
    families = (calibration.get("shade_families") or {}).get("families") or {}
    return {f: shade if shade is not None else t for f, t in families.items()} or None


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
            tag: str | None, vocabulary: ColorVocabulary, thresholds: Thresholds,
            shares: Mapping[str, float] | None = None) -> Proposal | None:
    """The suggestion for one product, or None.

    ``tag`` is the seller's colour mapped to the vocabulary (None when missing or unknown).
    A missing tag is imputed when the prediction is confident. A tag is flagged when the
    probability that its whole family is wrong reaches the mislabel threshold; a shade
    within the family only when shade flags are on. ``shares``: the share of the garment the KD-tree
    reads in each vocabulary colour, for the ``outside`` colours (see ``Thresholds``).
    """
    if not predicted:
        return None
    confidence = confidence or 0.0
    if tag is None:
        return Proposal(IMPUTE, "", predicted, confidence) if confidence >= thresholds.impute else None
    return _classifier_flag(predicted, confidence, probabilities, tag, vocabulary, thresholds) or \
        outside_flag(shares, tag, vocabulary, thresholds.outside)


def colour_shares(dominant) -> dict[str, float]:
    """The share of the garment in each vocabulary colour, from its dominant colours (``DominantColor``s or
    their stored dicts)."""
    pairs = [(d["color"], d["fraction"]) if isinstance(d, Mapping) else (d.color, d.fraction) for d in dominant or ()]
    total = sum(f for _, f in pairs) or 1.0
    shares: dict[str, float] = {}
    for colour, fraction in pairs:
        shares[colour] = shares.get(colour, 0.0) + fraction / total
    return shares


def outside_flag(shares: Mapping[str, float] | None, tag: str, vocabulary: ColorVocabulary,
                 outside: Mapping[str, float] | None) -> Proposal | None:
    """A flag for a garment mostly in a colour the classifier does not name, tagged as another colour;
    its score is the share of the garment in that colour."""
    if not shares or not outside:
        return None
    found = [(shares.get(c, 0.0), c) for c, need in outside.items() if c != tag and shares.get(c, 0.0) >= need]
    if not found:
        return None
    share, colour = max(found)
    severity = "shade" if vocabulary.family(colour) == vocabulary.family(tag) else "family"
    return Proposal(MISLABEL, severity, colour, float(share))


def _classifier_flag(predicted: str, confidence: float, probabilities: dict[str, float], tag: str,
                     vocabulary: ColorVocabulary, thresholds: Thresholds) -> Proposal | None:
    if probabilities and tag not in probabilities:
        # a tag the classifier cannot name (a vocabulary colour outside its classes: Burgundy, Teal, Skin): its
        # own probability is unknown, not zero, so it is judged by its family alone, whatever the rule, and
        # never as a shade
        thresholds = replace(thresholds, rule=FAMILY_RULE, shade=None, shade_families=None)
    if thresholds.rule == CONFIDENT_RULE and thresholds.per_class:
        return _confident_flag(probabilities, tag, vocabulary, thresholds)
    if thresholds.rule == TAG_RULE:
        return _tag_flag(predicted, probabilities, tag, vocabulary, thresholds)
    exact, family_p = tag_support(probabilities, tag, vocabulary)
    same_family = vocabulary.family(predicted) == vocabulary.family(tag)
    if not same_family and 1 - family_p >= thresholds.mislabel:
        return Proposal(MISLABEL, "family", predicted, 1 - family_p)
    shade = thresholds.shade_for(vocabulary.family(tag))
    if shade is not None and same_family and predicted != tag and confidence >= shade and exact < 0.05:
        return Proposal(MISLABEL, "shade", predicted, confidence)
    return None


def confident_colour(probabilities: dict[str, float], per_class: Mapping[str, float]) -> str | None:
    """The most probable colour among those at or above their own threshold (None if none is)."""
    above = [(p, c) for c, p in probabilities.items() if c in per_class and p >= per_class[c]]
    return max(above)[1] if above else None


def _tag_flag(predicted: str, probabilities: dict[str, float], tag: str, vocabulary: ColorVocabulary,
              thresholds: Thresholds) -> Proposal | None:
    if predicted == tag:
        return None
    wrong = 1.0 - float(probabilities.get(tag, 0.0))
    if vocabulary.family(predicted) != vocabulary.family(tag):
        return Proposal(MISLABEL, "family", predicted, wrong) if wrong >= thresholds.mislabel else None
    shade = thresholds.shade_for(vocabulary.family(tag))
    if shade is not None and wrong >= shade:
        return Proposal(MISLABEL, "shade", predicted, wrong)
    return None


def _confident_flag(probabilities: dict[str, float], tag: str, vocabulary: ColorVocabulary,
                    thresholds: Thresholds) -> Proposal | None:
    colour = confident_colour(probabilities, thresholds.per_class or {})
    if colour is None or colour == tag or tag not in (thresholds.per_class or {}):
        return None
    wrong = 1.0 - float(probabilities.get(tag, 0.0))
    if vocabulary.family(colour) != vocabulary.family(tag):
        _, family_p = tag_support(probabilities, tag, vocabulary)
        return Proposal(MISLABEL, "family", colour, 1 - family_p) if wrong >= thresholds.mislabel else None
    shade = thresholds.shade_for(vocabulary.family(tag))
    if shade is not None and wrong >= shade:
        return Proposal(MISLABEL, "shade", colour, wrong)
    return None
