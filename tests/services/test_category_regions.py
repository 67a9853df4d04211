"""A re-import that changes a product's category but not its image: the garment read is the one its category
picks now (upper, lower or full body)."""

from __future__ import annotations

import pytest

from colorreview.models import Prediction, Product, Suggestion
from colorreview.services.catalog import import_catalog
from colorreview.services.predictions import model_version, pipeline_run_create, predict_products, products_to_predict
from colorreview.services.runs import pipeline_run_here
from inference.pipeline import ColorPrediction
from inference.segment import default_region_table
from tests.conftest import jpeg_bytes
from tests.factories import PredictionFactory, ProductFactory, probabilities

pytestmark = pytest.mark.django_db

#: what the stand-in model reads in each region: a red top over blue trousers, a green dress
COLOURS = {"upper": "Red", "lower": "Blue", "full": "Green"}


class RegionPipeline:
    """Reads the colour of the region the product's category picks, without decoding the image."""

    version = "regions-1"
    config_digest = "0"

    def __init__(self):
        self.region_table = default_region_table()
        self.seen: list[tuple[str, str]] = []  # (sku, region) of each image read

    def describe(self) -> dict:
        return {"version": self.version}

    def predict_batch(self, inputs):
        out = []
        for item in inputs:
            region = self.region_table.region_for(item.category) or "full"
            self.seen.append((item.key, region))
            colour = COLOURS[region]
            out.append(ColorPrediction(key=item.key, predicted_color=colour, confidence=0.95, family=colour,
                                       probabilities=probabilities(**{colour: 0.95}), region=region))
        return out


@pytest.fixture
def reader(monkeypatch, thresholds):
    pipeline = RegionPipeline()
    monkeypatch.setattr("colorreview.services.predictions.current_pipeline", lambda: pipeline)
    return pipeline


def _import(tmp_path, rows: list[str]) -> None:
    for name in ("outfit.jpg", "other.jpg"):
        if not (tmp_path / name).exists():
            (tmp_path / name).write_bytes(jpeg_bytes((200, 30, 40) if name == "outfit.jpg" else (30, 60, 160)))
    csv = "sku,title,category,image,seller_color\n" + "".join(f"{row}\n" for row in rows)
    import_catalog(csv_bytes=csv.encode(), source_name="catalog.csv", csv_dir=tmp_path)


def _run() -> None:
    plan = pipeline_run_create()
    if plan is not None:
        pipeline_run_here(plan=plan)


def _open(sku: str) -> Suggestion | None:
    return Suggestion.objects.filter(product__sku=sku, status="pending").first()


@pytest.fixture
def read_once(tmp_path, reader):
    """An outfit sold as a T-shirt tagged Red (its top is red: nothing to flag), and a T-shirt with no tag."""
    _import(tmp_path, ["OUT,Outfit,Tshirts,outfit.jpg,Red", "TEE,Tee,Tshirts,other.jpg,"])
    _run()
    assert reader.seen == [("OUT", "upper"), ("TEE", "upper")]
    assert _open("OUT") is None and (_open("TEE").kind, _open("TEE").suggested_color) == ("impute", "Red")
    return reader


def test_a_category_that_picks_another_region_reads_the_image_again_for_it(tmp_path, read_once):
    _import(tmp_path, ["OUT,Outfit,Trousers,outfit.jpg,Red", "TEE,Tee,Tshirts,other.jpg,"])  # same image
    _run()
    assert read_once.seen[2:] == [("OUT", "lower")]  # read again, for the trousers
    outfit = Product.objects.get(sku="OUT")
    old, new = outfit.predictions.order_by("created_at", "id")
    assert (old.category_region, old.predicted_color) == ("upper", "Red")
    assert (new.category_region, new.region, new.predicted_color) == ("lower", "lower", "Blue")
    assert new.image_checksum == old.image_checksum and new.model_version == old.model_version
    flag = _open("OUT")  # the Red tag is flagged from the trousers' reading
    assert (flag.kind, flag.suggested_color, flag.prediction_id) == ("mislabel", "Blue", new.pk)
    assert outfit.status == "predicted"


def test_a_category_that_picks_the_same_region_keeps_its_reading(tmp_path, read_once):
    first = Prediction.objects.get(product__sku="TEE")
    _import(tmp_path, ["OUT,Outfit,Tshirts,outfit.jpg,Red", "TEE,Tee,Shirts,other.jpg,"])  # a shirt: upper too
    assert Product.objects.get(sku="TEE").status == "pending" and _open("TEE") is None  # judged again next run
    _run()
    assert len(read_once.seen) == 2  # no image read again
    assert list(Prediction.objects.filter(product__sku="TEE")) == [first]
    again = _open("TEE")
    assert (again.kind, again.suggested_color, again.prediction_id) == ("impute", "Red", first.pk)


def test_running_again_after_a_category_change_creates_nothing_new(tmp_path, read_once):
    _import(tmp_path, ["OUT,Outfit,Trousers,outfit.jpg,Red", "TEE,Tee,Shirts,other.jpg,"])
    _run()
    counts = (Prediction.objects.count(), Suggestion.objects.count(), len(read_once.seen))
    assert counts == (3, 3, 3)  # one more reading (the trousers); the tee's suggestion superseded and made again
    assert pipeline_run_create() is None  # nothing left to read
    ids = list(Product.objects.values_list("pk", flat=True))
    assert predict_products(product_ids=ids) == {"done": 2, "failed": 0}  # as a re-delivered task would
    assert (Prediction.objects.count(), Suggestion.objects.count(), len(read_once.seen)) == counts


def test_the_category_changing_back_takes_up_its_earlier_reading_again(tmp_path, read_once):
    _import(tmp_path, ["OUT,Outfit,Trousers,outfit.jpg,Red", "TEE,Tee,Tshirts,other.jpg,"])
    _run()
    _import(tmp_path, ["OUT,Outfit,Tshirts,outfit.jpg,Red", "TEE,Tee,Tshirts,other.jpg,"])
    _run()
    assert len(read_once.seen) == 3 and Prediction.objects.filter(product__sku="OUT").count() == 2
    assert _open("OUT") is None  # the top's reading again: the Red tag stands
    assert pipeline_run_create() is None


def test_a_reading_of_another_region_is_planned_again_even_when_the_product_is_not_waiting(reader):
    """As left by an import that changed the category while the product was being read."""
    trousers = ProductFactory(category="Trousers", status="predicted")
    PredictionFactory(product=trousers, model_version=model_version(reader), category_region="upper")
    kept = ProductFactory(category="Jeans", status="predicted")  # read before the region was recorded: kept
    PredictionFactory(product=kept, model_version=model_version(reader), category_region=None)
    same = ProductFactory(category="Jeans", status="predicted")
    PredictionFactory(product=same, model_version=model_version(reader), category_region="lower")
    assert list(products_to_predict(model_version(reader)).values_list("pk", flat=True)) == [trousers.pk]


def test_readings_made_before_the_region_was_recorded_take_it_from_what_they_read():
    from importlib import import_module

    from django.apps import apps

    derive = import_module("colorreview.migrations.0021_prediction_category_region").derive_category_region
    readings = {
        "lower": PredictionFactory(region="lower", flags=["fallback_with_full"]),  # the category's region
        "": PredictionFactory(region="upper", flags=["region_from_largest"]),  # the category was not in the table
        None: PredictionFactory(region="foreground", flags=["fallback_foreground"]),  # not known: it stands
    }
    unknown = PredictionFactory(region="", flags=["fallback_foreground", "empty_garment"], error="no garment")
    Prediction.objects.update(category_region=None)
    derive(apps, None)
    assert {expected: Prediction.objects.get(pk=p.pk).category_region for expected, p in readings.items()} == {
        "lower": "lower", "": "", None: None}
    assert Prediction.objects.get(pk=unknown.pk).category_region is None
