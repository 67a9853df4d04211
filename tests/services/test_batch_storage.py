"""Storing a batch of predictions: a constant number of statements, shared images read once."""

from __future__ import annotations

import pytest

from colorreview.models import Prediction, Product, Suggestion
from colorreview.services.predictions import predict_products
from inference.pipeline import ColorPrediction
from inference.segment import default_region_table
from tests.factories import ProductFactory, probabilities

pytestmark = pytest.mark.django_db


class NoOpPipeline:
    """Answers "Red, 0.95" for every image without looking at it."""

    version = "noop-1"
    config_digest = "0"
    region_table = default_region_table()

    def __init__(self):
        self.seen: list[str] = []

    def describe(self) -> dict:
        return {"version": self.version}

    def predict_batch(self, inputs):
        self.seen += [i.key for i in inputs]
        return [ColorPrediction(key=i.key, predicted_color="Red", confidence=0.95, family="Red",
                                probabilities=probabilities(Red=0.95)) for i in inputs]


@pytest.fixture
def noop(monkeypatch, thresholds, settings):
    image = settings.MEDIA_ROOT / "images/aa/test.jpg"  # the factories' image; the no-op model never opens it
    image.parent.mkdir(parents=True, exist_ok=True)
    image.write_bytes(b"not decoded")
    pipeline = NoOpPipeline()
    monkeypatch.setattr("colorreview.services.predictions.current_pipeline", lambda: pipeline)
    return pipeline


def _products(n: int, tag: str = "", shared: int | None = None) -> list[int]:
    return [ProductFactory(tag=tag, status="queued", **({"image_checksum": f"{i % shared:064x}"} if shared else {})).pk
            for i in range(n)]


def test_a_batch_is_stored_in_a_constant_number_of_statements(noop, django_assert_num_queries,
                                                              django_assert_max_num_queries):
    small, large = _products(2), _products(40)
    with django_assert_max_num_queries(21) as few:  # 21: the suggestions re-read which products are archived
        predict_products(product_ids=small)
    with django_assert_num_queries(len(few.captured_queries)):
        assert predict_products(product_ids=large) == {"done": 40, "failed": 0}
    assert Suggestion.objects.filter(kind="impute", status="pending").count() == 42
    assert set(Product.objects.values_list("status", flat=True)) == {"predicted"}
    assert Suggestion.objects.get(product_id=large[0]).events.get().action == "suggested"


def test_products_sharing_an_image_are_read_once(noop):
    ids = _products(6, shared=2)
    predict_products(product_ids=ids[:3])
    predict_products(product_ids=ids[3:])  # the same two images, read in the first batch
    assert len(noop.seen) == 2
    assert Prediction.objects.filter(product_id__in=ids).count() == 6


def test_a_redelivered_batch_changes_nothing(noop):
    ids = _products(5, tag="Blue")
    predict_products(product_ids=ids)
    before = (Prediction.objects.count(), Suggestion.objects.count())
    assert predict_products(product_ids=ids) == {"done": 5, "failed": 0}
    assert (Prediction.objects.count(), Suggestion.objects.count()) == before == (5, 5)
    assert len(noop.seen) == 5


def test_a_product_reimported_while_its_batch_was_read_keeps_its_new_image_waiting(noop, monkeypatch):
    ids = _products(3)
    real = noop.predict_batch

    def read_while_an_import_changes_one(inputs):
        Product.objects.filter(pk=ids[1]).update(image_checksum="f" * 64, status="pending")  # committed meanwhile
        results = real(inputs)
        results[2] = ColorPrediction(key=results[2].key, error="no garment found in the image")
        return results

    monkeypatch.setattr(noop, "predict_batch", read_while_an_import_changes_one)
    assert predict_products(product_ids=ids) == {"done": 2, "failed": 1}  # what was read: the old image too
    states = dict(Product.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert [states[pk] for pk in ids] == ["predicted", "pending", "no_prediction"]
    assert Product.objects.get(pk=ids[2]).status_detail == "no garment found in the image"


def test_a_product_whose_earlier_image_comes_back_is_judged_again_without_a_second_reading(noop):
    from colorreview.services.predictions import model_version, products_to_predict
    from colorreview.services.suggestions import pending_supersede

    [pk] = _products(1, tag="Blue")
    predict_products(product_ids=[pk])
    flag = Suggestion.objects.get(product_id=pk, status="pending")
    assert flag.kind == "mislabel" and noop.seen == [Product.objects.get(pk=pk).sku]
    # an import swaps the image and back (each supersedes the flag and leaves the product waiting)
    pending_supersede(product_reasons={pk: "image changed"})
    Product.objects.filter(pk=pk).update(status="pending")
    assert list(products_to_predict(model_version(noop)).values_list("pk", flat=True)) == [pk]
    assert predict_products(product_ids=[pk]) == {"done": 1, "failed": 0}
    assert Product.objects.get(pk=pk).status == "predicted"
    again = Suggestion.objects.get(product_id=pk, status="pending")
    assert again.pk != flag.pk and again.kind == "mislabel" and again.suggested_color == "Red"
    assert Prediction.objects.filter(product_id=pk).count() == 1 and len(noop.seen) == 1  # read once
    assert not products_to_predict(model_version(noop)).exists()
