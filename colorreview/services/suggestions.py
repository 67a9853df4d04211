"""Turning predictions into suggestions: impute a missing tag, flag a tag that disagrees."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

from django.conf import settings
from django.db import transaction
from django.db.models import Max, Q

from inference.classify.model import DEFAULT_WEIGHTS
from inference.colors import ColorVocabulary
from inference.errors import WeightsError
from inference.segment import RegionTable
from inference.suggest import Proposal, Thresholds, colour_shares, propose, tag_support, thresholds_from_card
from inference.weights import card_path, load_card

from ..models import Prediction, Product, ReviewEvent, Suggestion
from ..selectors import active_weights_dir
from .regions import current_readings, wanted_readings
from .vocabulary import db_region_table, db_vocabulary

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
    weights_dir = active_weights_dir()
    return _read_calibration(DEFAULT_WEIGHTS, weights_dir, _card_stamp(weights_dir))


def _card_stamp(weights_dir: str | None) -> int:
    """When the model card last changed: it is read again only then, not once per product."""
    try:
        return card_path(DEFAULT_WEIGHTS, weights_dir).stat().st_mtime_ns
    except OSError:
        return 0


@lru_cache(maxsize=4)
def _read_calibration(name: str, weights_dir: str | None, stamp: int) -> dict:
    try:
        return load_card(name, weights_dir).get("calibration", {})
    except WeightsError:
        return {}


def _interpolate(curve: list[list[float]], value: float) -> tuple[float | None, float | None]:
    """(precision, coverage) of the first curve point at or above ``value``."""
    for threshold, precision, coverage in sorted(curve):
        if threshold >= value - 1e-9:
            return precision, coverage
    return None, None


def active_thresholds(calibration: dict | None = None) -> dict[str, Threshold]:
    """The impute and mislabel thresholds now; ``calibration``: the card's, when the caller read it already."""
    calibration = _card_calibration() if calibration is None else calibration
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
                  thresholds: dict[str, Threshold], rules: Thresholds | None = None,
                  set_by_hand: bool = False) -> Candidate | None:
    """The suggestion the prediction makes for the product, or None. A colour a person decided (a decision
    that gave another colour than the seller's tag, a colour set by hand) stands until the seller's tag
    changes: no new suggestion reopens it, whatever a later reading or threshold says."""
    if prediction.error or set_by_hand or product.final_color != product.seller_color_display:
        return None
    rules = rules or flag_rules(thresholds)
    tag = product.seller_color.name if product.seller_color_id else None
    proposal = propose(prediction.predicted_color, prediction.confidence, prediction.probabilities, tag, vocabulary,
                       rules, colour_shares(prediction.dominant_colors))
    if proposal is None or proposal.color not in vocabulary:  # a colour an admin took out is never suggested
        return None
    if proposal.kind == "mislabel" and proposal.color in (rules.outside or {}):  # the KD-tree's reading
        return Candidate(proposal, Threshold("outside", rules.outside[proposal.color], None, None, "model card"))
    if proposal.severity == "shade":
        source = "settings" if settings.COLORREVIEW_SHADE_THRESHOLD is not None else "model card"
        return Candidate(proposal, Threshold("shade", rules.shade_for(vocabulary.family(tag)), None, None, source))
    return Candidate(proposal, thresholds[proposal.kind])


def flag_rules(thresholds: dict[str, Threshold], calibration: dict | None = None) -> Thresholds:
    """The active thresholds with the mislabel rule, per-colour thresholds and shade flags of the
    model card, unless the settings say otherwise."""
    calibration = dict(_card_calibration() if calibration is None else calibration)
    if settings.COLORREVIEW_FLAG_RULE:
        calibration["rule"] = settings.COLORREVIEW_FLAG_RULE
    return thresholds_from_card(calibration, thresholds["impute"].value, thresholds["mislabel"].value,
                                shade=settings.COLORREVIEW_SHADE_THRESHOLD,
                                shade_on=settings.COLORREVIEW_SHADE_SUGGESTIONS)


def suggestion_refresh(*, product: Product, prediction: Prediction | None = None) -> Suggestion | None:
    """Bring the product's open suggestion in line with its latest prediction and seller tag."""
    prediction = prediction or latest_prediction(product)
    if prediction is not None:
        suggestions_refresh_batch(pairs=[(product, prediction)])
    return Suggestion.objects.filter(product=product, status=Suggestion.Status.PENDING).first()


def suggestions_refresh_batch(*, pairs: list[tuple[Product, Prediction]],
                              vocabulary: ColorVocabulary | None = None, region_table: RegionTable | None = None,
                              why: str = "a newer prediction or tag replaced it") -> int:
    """Refresh the open suggestions of many products in a handful of statements; returns how many were made.

    A pending suggestion that still says the same (kind, colour and seller tag, for the same image) stays, the
    same row with its claim, and takes the figures of a newer reading (a new model version's); one that no
    longer does is superseded; a new one is made unless a reviewer already decided that very suggestion for
    this image and seller tag. An archived product gets none (read again here, inside the transaction: it
    may have been archived while its image was being read).
    ``vocabulary``, ``region_table``: those the caller holds already (a worker's pipeline), else the database's.
    ``why``: what the history says of a suggestion superseded here.
    """
    from .thresholds import thresholds_by_category  # it builds on this module's thresholds

    if not pairs:
        return 0
    vocabulary = vocabulary or db_vocabulary()
    calibration = _card_calibration()  # which weights are active is looked up once a batch
    rules: dict[str, Thresholds] = {}
    ids = [product.pk for product, _ in pairs]
    with transaction.atomic(savepoint=False):
        pairs = _as_they_are_now(pairs, region_table or db_region_table())  # the products locked first
        pending, decided = {}, set()
        for row in (Suggestion.objects.select_for_update(of=("self",)).filter(product_id__in=ids)
                    .exclude(status=Suggestion.Status.SUPERSEDED).order_by("pk").values_list(
                        "id", "product_id", "status", "kind", "suggested_color", "seller_color", "prediction_id",
                        "prediction__image_checksum", "prediction__model_version", "prediction__category_region",
                        "severity", "threshold", "expected_precision")):
            pk, product_id, status, kind, color, seller, prediction_id, checksum, *rest = row
            if status == Suggestion.Status.PENDING:
                pending[product_id] = _Open(pk, product_id, kind, color, seller, prediction_id, checksum, *rest)
            else:
                decided.add((product_id, checksum, color, seller))
        archived = {product.pk for product, _ in pairs if product.archived_at is not None}
        judged_by = thresholds_by_category({product.category for product, _ in pairs}, calibration)
        by_hand = _set_by_hand(ids)
        stale, made, kept = [], [], []
        for product, prediction in pairs:
            thresholds = judged_by[product.category]
            if product.category not in rules:  # the model card is read once a category, not once a product
                rules[product.category] = flag_rules(thresholds, calibration)
            candidate = None if product.pk in archived else candidate_for(
                product, prediction, vocabulary, thresholds, rules[product.category], product.pk in by_hand)
            current = pending.get(product.pk)
            if current and _newer(current, prediction):
                continue  # a newer reading of this image judged it meanwhile (a worker, while these pairs were read)
            if current and candidate and _same(current, candidate, prediction, product):
                if current.prediction_id != prediction.id or current.figures != _figures(candidate):
                    kept.append((current.id, _suggestion(product, prediction, candidate), candidate))
                continue
            if current:
                stale.append(current)
            key = (product.pk, prediction.image_checksum, candidate.color if candidate else "",
                   product.seller_color_display)
            if candidate is not None and key not in decided:
                made.append((_suggestion(product, prediction, candidate), candidate))
        _supersede_rows([(s.id, s.product_id, s.suggested_color, s.model_version) for s in stale],
                        {s.product_id: "the product is archived" if s.product_id in archived
                         else why for s in stale})
        _renew(kept)
        created = Suggestion.objects.bulk_create([suggestion for suggestion, _ in made])
        ReviewEvent.objects.bulk_create([_suggested_event(s, c) for s, (_, c) in zip(created, made)])
    return len(created)


def products_lock(product_ids: list[int]) -> None:
    """Lock the products (by id, in id order) before their suggestions: the order every writer takes them in, so
    that none deadlocks with a worker storing readings, a decision or a re-judging pass."""
    list(Product.objects.select_for_update(no_key=True).filter(pk__in=product_ids).order_by("pk")
         .values_list("pk", flat=True))


def _as_they_are_now(pairs: list[tuple[Product, Prediction]], table: RegionTable) -> list[tuple[Product, Prediction]]:
    """The pairs with each product as it is now, locked (products before their suggestions, the order every
    writer takes them in): a product read by a worker may have been re-imported, decided or set by hand since
    it was loaded. A reading that is no longer of the product's image, or of the region its category picks
    now, is left out (the change queued the product to be read again)."""
    fresh = {product.pk: product for product in Product.objects.select_for_update(no_key=True, of=("self",))
             .select_related("seller_color").filter(pk__in=[product.pk for product, _ in pairs]).order_by("pk")}
    wanted = wanted_readings(table, [(p.pk, p.image_checksum, p.category) for p in fresh.values()])
    current = current_readings(((product.pk, prediction.image_checksum, prediction.category_region, prediction)
                                for product, prediction in pairs), wanted)
    return [(fresh[product.pk], prediction) for product, prediction in pairs
            if current.get(product.pk) is prediction]


#: what a newer reading changes in a pending suggestion it confirms
RENEWED = ["prediction", "severity", "confidence", "score", "expected_precision", "threshold"]


def _renew(kept: list[tuple[int, Suggestion, Candidate]]) -> None:
    """Locked pending suggestions that a newer reading of the same image, or new flag rules, confirm keep their
    row (their id, their claim) and take the reading's and the rule's figures, with an event that says so (one
    update, events in bulk)."""
    for pk, suggestion, _ in kept:
        suggestion.pk = pk
    Suggestion.objects.bulk_update([suggestion for _, suggestion, _ in kept], RENEWED)
    ReviewEvent.objects.bulk_create([_suggested_event(s, c, renewed=True) for _, s, c in kept])


def _set_by_hand(product_ids: list[int]) -> set[int]:
    """Those of the products whose colour a person set by hand since the seller's tag last changed (one query)."""
    from .catalog_write import TAG_CHANGE

    action = ReviewEvent.Action
    rows = (ReviewEvent.objects.filter(product_id__in=product_ids, action__in=[action.MANUAL, action.IMPORT])
            .values("product_id").order_by()
            .annotate(manual=Max("pk", filter=Q(action=action.MANUAL)),
                      retagged=Max("pk", filter=Q(action=action.IMPORT, note__contains=TAG_CHANGE)))
            .filter(manual__isnull=False))
    return {r["product_id"] for r in rows if r["retagged"] is None or r["manual"] > r["retagged"]}


def suggestions_refresh_products(*, product_ids: list[int]) -> int:
    """The products' open suggestions, judged again against their latest prediction, in bulk."""
    return suggestions_refresh_batch(pairs=latest_pairs(product_ids))


def latest_pairs(product_ids: list[int]) -> list[tuple[Product, Prediction]]:
    """Each of the products with the latest prediction of its current image, for the garment region its
    category picks now (three queries); a product without one is left out."""
    products = list(Product.objects.filter(pk__in=product_ids).select_related("seller_color"))
    latest = current_predictions(products)
    return [(p, latest[p.pk]) for p in products if p.pk in latest]


#: what a list shows of a reading (the rest, the probabilities and colours above all, stays in the database)
READING_SUMMARY = ("id", "product_id", "image_checksum", "category_region", "predicted_color", "confidence", "family",
                   "model_version", "created_at")


def current_predictions(products: list[Product], only: tuple[str, ...] | None = None) -> dict[int, Prediction]:
    """By product id: the latest prediction of the product's image, for the garment region its category picks
    now (``regions.current_readings``, as the export finds them; two queries). ``only``: the fields to load."""
    wanted = wanted_readings(db_region_table(), [(p.pk, p.image_checksum, p.category) for p in products])
    images = {checksum for checksum, _ in wanted.values()}
    rows = Prediction.objects.filter(product_id__in=wanted, image_checksum__in=images).order_by("created_at", "id")
    rows = rows.only(*only) if only else rows
    return current_readings(((pr.product_id, pr.image_checksum, pr.category_region, pr) for pr in rows), wanted)


@dataclass(frozen=True)
class _Open:
    id: int
    product_id: int
    kind: str
    suggested_color: str
    seller_color: str
    prediction_id: int
    image_checksum: str
    model_version: str
    category_region: str | None
    severity: str
    threshold: float | None
    expected_precision: float | None

    @property
    def figures(self) -> tuple:
        return self.severity, self.threshold, self.expected_precision


def _figures(candidate: Candidate) -> tuple:
    """What a suggestion records of the rule that raised it (see ``_Open.figures``)."""
    return candidate.proposal.severity, candidate.threshold.value, candidate.threshold.expected_precision


def _newer(pending: _Open, prediction: Prediction) -> bool:
    """Was the pending suggestion made from a newer reading of the same image and region than ``prediction``?"""
    return (pending.prediction_id > prediction.id and pending.image_checksum == prediction.image_checksum
            and pending.category_region == prediction.category_region)


def _suggestion(product: Product, prediction: Prediction, candidate: Candidate) -> Suggestion:
    return Suggestion(
        product=product, prediction=prediction, kind=candidate.kind, severity=candidate.proposal.severity,
        seller_color=product.seller_color_display, suggested_color=candidate.color,
        confidence=prediction.confidence or 0.0, score=round(candidate.proposal.score, 4),
        expected_precision=candidate.threshold.expected_precision, threshold=candidate.threshold.value)


def _suggested_event(suggestion: Suggestion, candidate: Candidate, renewed: bool = False) -> ReviewEvent:
    still = f"still stands with model {suggestion.prediction.model_version}: " if renewed else ""
    return ReviewEvent(
        product_id=suggestion.product_id, suggestion=suggestion, action=ReviewEvent.Action.SUGGESTED,
        to_status=Suggestion.Status.PENDING, from_color=suggestion.seller_color, to_color=candidate.color,
        model_version=suggestion.prediction.model_version,
        note=f"{still}{candidate.kind} at score {candidate.proposal.score:.3f} "
             f"(threshold {candidate.threshold.value:.3f}, {candidate.threshold.source})")


def products_with_readings(products: list[Product], kinds: list[str] | None = None) -> list[Product]:
    """The products, each with ``reading`` (its current prediction, or None) and ``open_suggestion`` (its
    pending suggestion of one of ``kinds``, those the viewer may decide; None) set: three queries whatever
    their number (a page of a list)."""
    readings = current_predictions(products, only=READING_SUMMARY)
    pending = Suggestion.objects.filter(product__in=products, status=Suggestion.Status.PENDING)
    open_ = {s.product_id: s for s in (pending if kinds is None else pending.filter(kind__in=kinds))}
    for product in products:
        product.reading, product.open_suggestion = readings.get(product.pk), open_.get(product.pk)
    return products


def latest_prediction(product: Product) -> Prediction | None:
    """The latest prediction of the product's image, for the garment region its category picks now."""
    return current_predictions([product]).get(product.pk)


def _same(pending: _Open, candidate: Candidate, prediction: Prediction, product: Product) -> bool:
    """Does the pending suggestion say what the reading says, of the same image (whichever model read it)?"""
    return (pending.kind == candidate.kind and pending.suggested_color == candidate.color
            and pending.seller_color == product.seller_color_display
            and (pending.prediction_id == prediction.id or pending.image_checksum == prediction.image_checksum))


def suggestion_supersede(suggestion: Suggestion, why: str, actor=None) -> None:
    """A pending suggestion no longer applies (newer prediction or tag, a colour set by hand: ``actor``, the
    person who set it)."""
    if Suggestion.objects.filter(pk=suggestion.pk, status=Suggestion.Status.PENDING).update(
            status=Suggestion.Status.SUPERSEDED):
        ReviewEvent.objects.create(
            product=suggestion.product, suggestion=suggestion, action=ReviewEvent.Action.SUPERSEDE, actor=actor,
            from_status=Suggestion.Status.PENDING, to_status=Suggestion.Status.SUPERSEDED,
            from_color=suggestion.suggested_color, note=why,
            model_version=suggestion.prediction.model_version)


def pending_supersede(*, product_reasons: dict[int, str]) -> int:
    """Supersede the open suggestions of many products at once (one update, events in bulk)."""
    if not product_reasons:
        return 0
    with transaction.atomic(savepoint=False):
        pending = list(Suggestion.objects.select_for_update(of=("self",)).filter(
            product_id__in=product_reasons, status=Suggestion.Status.PENDING).order_by("pk").values_list(
            "id", "product_id", "suggested_color", "prediction__model_version"))
        return _supersede_rows(pending, product_reasons)


def _supersede_rows(rows: list[tuple[int, int, str, str]], reasons: dict[int, str]) -> int:
    """(id, product id, suggested colour, model version) of locked pending suggestions -> superseded."""
    if not rows:
        return 0
    Suggestion.objects.filter(pk__in=[r[0] for r in rows], status=Suggestion.Status.PENDING).update(
        status=Suggestion.Status.SUPERSEDED)
    ReviewEvent.objects.bulk_create([ReviewEvent(
        product_id=product_id, suggestion_id=pk, action=ReviewEvent.Action.SUPERSEDE,
        from_status=Suggestion.Status.PENDING, to_status=Suggestion.Status.SUPERSEDED, from_color=color,
        note=reasons[product_id], model_version=version) for pk, product_id, color, version in rows])
    return len(rows)


def tradeoffs(kind: str, points=(0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 0.99)) -> list[tuple[float, float, float]]:
    """(threshold, expected precision, coverage or recall) on validation, from the model card's curve."""
    curve = {round(t, 3): (p, c) for t, p, c in _card_calibration().get(kind, {}).get("curve", [])}
    return [(t, *curve[t]) for t in points if t in curve]


__all__ = ["Threshold", "active_thresholds", "candidate_for", "latest_prediction", "suggestion_refresh",
           "tag_support", "tradeoffs"]
