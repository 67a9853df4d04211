"""After a promotion: which products to read again. Only those whose result may change: a product
with an open suggestion (the new model may withdraw or change it), or, among products nobody
reviewed, one whose stored reading lies within COLORREVIEW_REPREDICT_MARGIN of a decision boundary:
a top-2 margin below it (the colour may flip), an untagged product whose confidence is that close to
the impute threshold, a tagged one whose probability that the tag's family is wrong is that close to
the mislabel threshold. The new heads are pulled towards the shipped ones, so the other products'
readings move by less than that and keep their predictions."""

from __future__ import annotations

from django.conf import settings
from django.db.models import F

from inference.colors import ColorVocabulary
from inference.suggest import tag_support

from .. import selectors
from ..models import Prediction, Suggestion
from .suggestions import active_thresholds
from .vocabulary import db_vocabulary


def near_boundary(probabilities: dict[str, float], confidence: float, tag: str | None,
                  vocabulary: ColorVocabulary, impute: float, mislabel: float, margin: float) -> bool:
    top = sorted(probabilities.values(), reverse=True)
    if len(top) > 1 and top[0] - top[1] < margin:
        return True
    if tag is None:
        return abs(confidence - impute) < margin
    _, family = tag_support(probabilities, tag, vocabulary)
    return abs((1 - family) - mislabel) < margin


def products_to_repredict(*, previous_versions: list[str]) -> list[int]:
    """Ids of the products to read again with the newly promoted model (see the module's rule)."""
    margin = settings.COLORREVIEW_REPREDICT_MARGIN
    thresholds = active_thresholds()
    impute, mislabel = thresholds["impute"].value, thresholds["mislabel"].value
    vocabulary = db_vocabulary()
    chosen = set(Suggestion.objects.filter(status=Suggestion.Status.PENDING).values_list("product_id", flat=True))
    reviewed = set(selectors.review_labels())
    readings = (Prediction.objects.filter(model_version__in=previous_versions, error="",
                                          image_checksum=F("product__image_checksum"))
                .exclude(predicted_color="")
                .values_list("product_id", "probabilities", "confidence", "product__seller_color__name"))
    for product_id, probabilities, confidence, tag in readings.iterator(chunk_size=2000):
        if product_id in chosen or product_id in reviewed:
            continue
        if near_boundary(probabilities, confidence or 0.0, tag, vocabulary, impute, mislabel, margin):
            chosen.add(product_id)
    return sorted(chosen)
