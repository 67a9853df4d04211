from __future__ import annotations

import pytest

from colorreview.models import Product, ReviewEvent, Suggestion
from colorreview.services.review import suggestion_reject
from colorreview.services.suggestions import active_thresholds, suggestion_refresh, tag_support
from inference.colors import default_vocabulary
from tests.factories import PredictionFactory, ProductFactory, probabilities

pytestmark = pytest.mark.django_db


def _predict(product, color, confidence, **extra):
    return PredictionFactory(product=product, predicted_color=color, confidence=confidence,
                             family=default_vocabulary().family(color),
                             probabilities=probabilities(**{color: confidence}, **extra))


def test_a_missing_tag_with_a_confident_prediction_is_imputed(thresholds):
    product = ProductFactory(tag="")
    s = suggestion_refresh(product=product, prediction=_predict(product, "Red", 0.93))
    assert s.kind == "impute" and s.suggested_color == "Red" and s.score == pytest.approx(0.93)
    event = ReviewEvent.objects.get(suggestion=s)
    assert event.action == "suggested" and event.model_version == "test-model"


def test_an_unsure_prediction_imputes_nothing(thresholds):
    product = ProductFactory(tag="")
    assert suggestion_refresh(product=product, prediction=_predict(product, "Red", 0.6)) is None
    assert not Suggestion.objects.exists()


def test_an_unmapped_tag_counts_as_missing(thresholds):
    product = ProductFactory(tag="Sunset Glow")
    s = suggestion_refresh(product=product, prediction=_predict(product, "Orange", 0.95))
    assert s.kind == "impute" and s.seller_color == "Sunset Glow"


def test_a_confident_disagreement_across_families_is_a_mislabel(thresholds):
    product = ProductFactory(tag="Red")
    s = suggestion_refresh(product=product, prediction=_predict(product, "Blue", 0.96))
    assert s.kind == "mislabel" and s.severity == "family" and s.suggested_color == "Blue"


def test_a_shade_within_the_family_is_not_flagged_by_default(thresholds):
    product = ProductFactory(tag="Navy Blue")
    assert suggestion_refresh(product=product, prediction=_predict(product, "Blue", 0.97)) is None


def test_shade_flags_can_be_switched_on(thresholds):
    thresholds.COLORREVIEW_SHADE_SUGGESTIONS = True
    product = ProductFactory(tag="Navy Blue")
    s = suggestion_refresh(product=product, prediction=_predict(product, "Blue", 0.97))
    assert s.kind == "mislabel" and s.severity == "shade"


def test_family_probability_protects_a_plausible_tag(thresholds):
    # the top class disagrees, but much of the mass is on the tag's family: not worth a flag
    product = ProductFactory(tag="Navy Blue")
    prediction = _predict(product, "Black", 0.85, **{"Navy Blue": 0.12})
    assert suggestion_refresh(product=product, prediction=prediction) is None
    exact, family = tag_support(prediction.probabilities, "Navy Blue", default_vocabulary())
    assert exact == pytest.approx(0.12) and family >= 0.12


def test_thresholds_come_from_settings_before_the_model_card(settings):
    settings.COLORREVIEW_IMPUTE_THRESHOLD = 0.55
    settings.COLORREVIEW_MISLABEL_THRESHOLD = None
    t = active_thresholds()
    assert t["impute"].value == 0.55 and t["impute"].source == "settings"
    assert t["mislabel"].source in ("model card", "default")


def test_a_refresh_keeps_an_identical_pending_suggestion(thresholds):
    product = ProductFactory(tag="")
    prediction = _predict(product, "Red", 0.93)
    first = suggestion_refresh(product=product, prediction=prediction)
    again = suggestion_refresh(product=product, prediction=prediction)
    assert first.pk == again.pk and Suggestion.objects.count() == 1


def test_a_new_prediction_supersedes_the_pending_suggestion(thresholds):
    product = ProductFactory(tag="")
    first = suggestion_refresh(product=product, prediction=_predict(product, "Red", 0.93))
    newer = PredictionFactory(product=product, model_version="v2", predicted_color="Blue", confidence=0.95,
                              probabilities=probabilities(Blue=0.95))
    second = suggestion_refresh(product=product, prediction=newer)
    first.refresh_from_db()
    assert first.status == "superseded" and second.suggested_color == "Blue"
    assert Suggestion.objects.filter(status="pending").count() == 1


def test_a_new_model_version_that_says_the_same_keeps_the_pending_suggestion_and_its_claim(thresholds, curator):
    from colorreview.services.claims import suggestions_claim

    flagged, missing = ProductFactory(tag="Red"), ProductFactory(tag="")
    first = {p.pk: suggestion_refresh(product=p, prediction=_predict(p, "Blue", 0.93, Red=0.05))
             for p in (flagged, missing)}
    suggestions_claim(user=curator, suggestion_ids=[s.pk for s in first.values()])
    for product in (flagged, missing):
        newer = PredictionFactory(product=product, model_version="v2", predicted_color="Blue", confidence=0.97,
                                  family="Blue", probabilities=probabilities(Blue=0.97, Red=0.01))
        kept = suggestion_refresh(product=product, prediction=newer)
        assert kept.pk == first[product.pk].pk and kept.kind == first[product.pk].kind
        assert (kept.prediction_id, kept.confidence, kept.claimed_by) == (newer.pk, pytest.approx(0.97), curator)
        assert kept.score > first[product.pk].score
        events = list(ReviewEvent.objects.filter(suggestion=kept).values_list("action", "model_version"))
        assert events == [("suggested", "test-model"), ("suggested", "v2")]
    assert not Suggestion.objects.exclude(status="pending").exists()


def test_a_new_model_version_that_says_another_colour_supersedes_the_pending_suggestion(thresholds):
    product = ProductFactory(tag="Red")
    first = suggestion_refresh(product=product, prediction=_predict(product, "Blue", 0.93))
    newer = PredictionFactory(product=product, model_version="v2", predicted_color="Green", confidence=0.96,
                              family="Green", probabilities=probabilities(Green=0.96))
    second = suggestion_refresh(product=product, prediction=newer)
    first.refresh_from_db()
    assert first.status == "superseded" and (second.pk != first.pk, second.suggested_color) == (True, "Green")


def test_a_decided_suggestion_is_not_proposed_again(thresholds, curator):
    product = ProductFactory(tag="Red")
    prediction = _predict(product, "Blue", 0.96)
    s = suggestion_refresh(product=product, prediction=prediction)
    suggestion_reject(suggestion=s, user=curator)
    product.refresh_from_db()
    assert suggestion_refresh(product=product, prediction=prediction) is None


def _as_a_worker_stores(product, prediction):
    """What a worker does once it has read an image: suggestions for the products as it loaded them."""
    from colorreview.services.storage import suggestions_for

    suggestions_for([(product, prediction)])
    return Suggestion.objects.filter(product=product, status="pending").first()


def test_a_tag_changed_while_the_image_was_read_is_judged_as_it_is_now(thresholds):
    from colorreview.models import ColorName

    product = ProductFactory(tag="Red")
    loaded = Product.objects.get(pk=product.pk)  # the worker's copy, loaded before the re-import
    blue = ColorName.objects.get(name="Blue")
    Product.objects.filter(pk=product.pk).update(seller_color=blue, seller_color_raw="Blue", final_color="Blue")
    assert _as_a_worker_stores(loaded, _predict(product, "Blue", 0.96)) is None  # the new tag agrees
    green = _as_a_worker_stores(loaded, PredictionFactory(product=product, model_version="v2", predicted_color="Green",
                                                          family="Green", confidence=0.97,
                                                          probabilities=probabilities(Green=0.97)))
    assert (green.kind, green.seller_color, green.suggested_color) == ("mislabel", "Blue", "Green")


def test_a_colour_a_reviewer_decided_while_the_image_was_read_stands(thresholds, curator):
    from colorreview.services.review import suggestion_correct

    product = ProductFactory(tag="Red")
    flag = suggestion_refresh(product=product, prediction=_predict(product, "Blue", 0.96))
    loaded = Product.objects.get(pk=product.pk)  # a worker reads the image with a new model meanwhile
    suggestion_correct(suggestion=flag, user=curator, color="Navy Blue")
    newer = PredictionFactory(product=product, model_version="v2", predicted_color="Green", family="Green",
                              confidence=0.97, probabilities=probabilities(Green=0.97))
    assert _as_a_worker_stores(loaded, newer) is None
    assert Product.objects.get(pk=product.pk).final_color == "Navy Blue"


def test_a_reading_of_the_region_a_category_no_longer_picks_makes_no_suggestion(thresholds):
    product = ProductFactory(tag="Red", category="Tshirts")
    loaded = Product.objects.get(pk=product.pk)
    upper = _predict(product, "Blue", 0.96)
    assert upper.category_region == "upper"
    Product.objects.filter(pk=product.pk).update(category="Jeans")  # re-imported as trousers while read
    assert _as_a_worker_stores(loaded, upper) is None
    assert not Suggestion.objects.exists()
