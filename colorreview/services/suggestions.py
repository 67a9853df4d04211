"""Turning predictions into suggestions: impute a missing tag, flag a tag that disagrees."""

from __future__ import annotations

from dataclasses import dataclass

from django.conf import settings
from django.db import transaction

from inference.classify.model import DEFAULT_WEIGHTS
from inference.colors import ColorVocabulary
from inference.errors import WeightsError
from inference.suggest import Proposal, Thresholds, propose, tag_support, thresholds_from_card
from inference.weights import load_card

from ..models import Prediction, Product, ReviewEvent, Suggestion
from ..selectors import active_weights_dir
from .vocabulary import db_vocabulary

#: used when neither the settings nor the model card give a threshold
FALLBACK_THRESHOLDS = {"impute": 0.8, "mislabel": 0.9}


@dataclass(frozen=True)
class Threshold:
    kind: str
    value: float
    expected_precision: float | None  # from the model card's validation curve
    coverage: float | None  # share of candidates it lets through on validation
    source: str  # "settings", "model card" or "default"


def _card_calibration() -> dict:
    """The shipped classifier's calibration (thresholds and validation curves), if any."""
    if settings.COLORREVIEW_CLASSIFIER != "timm":
        return {}
    try:
        return load_card(DEFAULT_WEIGHTS, active_weights_dir()).get("calibration", {})
    except WeightsError:
        return {}


def _interpolate(curve: list[list[float]], value: float) -> tuple[float | None, float | None]:
    """(precision, coverage) of the first curve point at or above ``value``."""
    for threshold, precision, coverage in sorted(curve):
        if threshold >= value - 1e-9:
            return precision, coverage
    return None, None


def active_thresholds() -> dict[str, Threshold]:
    calibration = _card_calibration()
    out = {}
    for kind in ("impute", "mislabel"):
        configured = getattr(settings, f"COLORREVIEW_{kind.upper()}_THRESHOLD")
        card = calibration.get(kind, {})
        if configured is not None:
            value, source = configured, "settings"
        elif "threshold" in card:
            value, source = float(card["threshold"]), "model card"
        else:
            value, source = FALLBACK_THRESHOLDS[kind], "default"
        precision, coverage = _interpolate(card.get("curve", []), value)
        out[kind] = Threshold(kind, value, precision, coverage, source)
    return out


@dataclass(frozen=True)
class Candidate:
    proposal: Proposal
    threshold: Threshold

    @property
    def kind(self) -> str:
        return self.proposal.kind

    @property
    def color(self) -> str:
        return self.proposal.color


def candidate_for(product: Product, prediction: Prediction, vocabulary: ColorVocabulary,
                  thresholds: dict[str, Threshold]) -> Candidate | None:
    if prediction.error:
        return None
    rules = flag_rules(thresholds)
    tag = product.seller_color.name if product.seller_color_id else None
    proposal = propose(prediction.predicted_color, prediction.confidence, prediction.probabilities, tag, vocabulary,
                       rules)
    if proposal is None:
        return None
    if proposal.severity == "shade":
        source = "settings" if settings.COLORREVIEW_SHADE_THRESHOLD is not None else "model card"
        return Candidate(proposal, Threshold("shade", rules.shade, None, None, source))
    return Candidate(proposal, thresholds[proposal.kind])


def flag_rules(thresholds: dict[str, Threshold]) -> Thresholds:
    """The active thresholds with the mislabel rule, per-colour thresholds and shade flags of the
    model card, unless the settings say otherwise."""
    calibration = dict(_card_calibration())
    if settings.COLORREVIEW_FLAG_RULE:
        calibration["rule"] = settings.COLORREVIEW_FLAG_RULE
    return thresholds_from_card(calibration, thresholds["impute"].value, thresholds["mislabel"].value,
                                shade=settings.COLORREVIEW_SHADE_THRESHOLD,
                                shade_on=settings.COLORREVIEW_SHADE_SUGGESTIONS)


@transaction.atomic
def suggestion_refresh(*, product: Product, prediction: Prediction | None = None) -> Suggestion | None:
    """Bring the product's open suggestion in line with its latest prediction and seller tag."""
    from .thresholds import thresholds_for_category  # it builds on this module's thresholds

    prediction = prediction or latest_prediction(product)
    pending = Suggestion.objects.select_for_update().filter(product=product, status=Suggestion.Status.PENDING).first()
    if prediction is None:
        return pending
    candidate = candidate_for(product, prediction, db_vocabulary(), thresholds_for_category(product.category))
    if pending and candidate and _same(pending, candidate, prediction, product):
        return pending
    if pending:
        suggestion_supersede(pending, "a newer prediction or tag replaced it")
    if candidate is None or _already_decided(product, prediction, candidate):
        return None
    suggestion = Suggestion.objects.create(
        product=product, prediction=prediction, kind=candidate.kind, severity=candidate.proposal.severity,
        seller_color=product.seller_color_display, suggested_color=candidate.color,
        confidence=prediction.confidence or 0.0, score=round(candidate.proposal.score, 4),
        expected_precision=candidate.threshold.expected_precision, threshold=candidate.threshold.value)
    ReviewEvent.objects.create(
        product=product, suggestion=suggestion, action=ReviewEvent.Action.SUGGESTED,
        to_status=Suggestion.Status.PENDING, from_color=product.seller_color_display,
        to_color=candidate.color, model_version=prediction.model_version,
        note=f"{candidate.kind} at score {candidate.proposal.score:.3f} (threshold {candidate.threshold.value:.3f}, "
             f"{candidate.threshold.source})")
    return suggestion


def latest_prediction(product: Product) -> Prediction | None:
    return (Prediction.objects.filter(product=product, image_checksum=product.image_checksum)
            .order_by("-created_at", "-id").first())


def _same(pending: Suggestion, candidate: Candidate, prediction: Prediction, product: Product) -> bool:
    return (pending.kind == candidate.kind and pending.suggested_color == candidate.color
            and pending.seller_color == product.seller_color_display and pending.prediction_id == prediction.id)


def _already_decided(product: Product, prediction: Prediction, candidate: Candidate) -> bool:
    """A reviewer already decided this very suggestion for this image and seller tag."""
    return Suggestion.objects.filter(
        product=product, prediction__image_checksum=prediction.image_checksum,
        suggested_color=candidate.color, seller_color=product.seller_color_display,
        status__in=[Suggestion.Status.ACCEPTED, Suggestion.Status.REJECTED, Suggestion.Status.CORRECTED],
    ).exists()


def suggestion_supersede(suggestion: Suggestion, why: str) -> None:
    """A pending suggestion no longer applies (newer prediction or tag, a colour set by hand)."""
    if Suggestion.objects.filter(pk=suggestion.pk, status=Suggestion.Status.PENDING).update(
            status=Suggestion.Status.SUPERSEDED):
        ReviewEvent.objects.create(
            product=suggestion.product, suggestion=suggestion, action=ReviewEvent.Action.SUPERSEDE,
            from_status=Suggestion.Status.PENDING, to_status=Suggestion.Status.SUPERSEDED,
            from_color=suggestion.suggested_color, note=why,
            model_version=suggestion.prediction.model_version)


def pending_supersede(*, product_reasons: dict[int, str]) -> int:
    """Supersede the open suggestions of many products at once (one update, events in bulk)."""
    if not product_reasons:
        return 0
    with transaction.atomic():
        pending = list(Suggestion.objects.select_for_update(of=("self",)).filter(
            product_id__in=product_reasons, status=Suggestion.Status.PENDING).values_list(
            "id", "product_id", "suggested_color", "prediction__model_version"))
        if not pending:
            return 0
        Suggestion.objects.filter(pk__in=[p[0] for p in pending], status=Suggestion.Status.PENDING).update(
            status=Suggestion.Status.SUPERSEDED)
        ReviewEvent.objects.bulk_create([ReviewEvent(
            product_id=product_id, suggestion_id=pk, action=ReviewEvent.Action.SUPERSEDE,
            from_status=Suggestion.Status.PENDING, to_status=Suggestion.Status.SUPERSEDED, from_color=color,
            note=product_reasons[product_id], model_version=version) for pk, product_id, color, version in pending])
    return len(pending)


def tradeoffs(kind: str, points=(0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)) -> list[tuple[float, float, float]]:
    """(threshold, expected precision, coverage or recall) on validation, from the model card's curve."""
    curve = {round(t, 3): (p, c) for t, p, c in _card_calibration().get(kind, {}).get("curve", [])}
    return [(t, *curve[t]) for t in points if t in curve]


__all__ = ["Threshold", "active_thresholds", "candidate_for", "latest_prediction", "suggestion_refresh",
           "tag_support", "tradeoffs"]
