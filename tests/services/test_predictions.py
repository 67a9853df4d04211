from __future__ import annotations

from unittest import mock

import numpy as np
import pytest
from django.core.management import call_command

from colorreview.models import PipelineRun, Prediction, Product
from colorreview.services.catalog import import_catalog
from colorreview.services.predictions import (
    REGION_COLORS,
    model_version,
    outline_color,
    overlay_image,
    pipeline_run_create,
    predict_products,
)
from colorreview.services.runs import pipeline_run_here
from colorreview.tasks import predict_products as predict_task
from tests.conftest import DEMO, jpeg_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(tmp_path, thresholds):
    thresholds.COLORREVIEW_IMPUTE_THRESHOLD = 0.5  # the shipped models are not all that sure of the shirt
    (tmp_path / "broken.jpg").write_bytes(jpeg_bytes()[:300])
    csv = tmp_path / "catalog.csv"
    csv.write_text("sku,title,category,image,seller_color\n"
                   f"P1,Polo,Tshirts,{DEMO / 'images/19557.jpg'},Red\n"
                   f"P2,Trousers,Trousers,{DEMO / 'images/12677.jpg'},grey\n"
                   f"P3,Shirt,Shirts,{DEMO / 'images/13760.jpg'},\n"
                   f"P4,Broken,Shirts,{tmp_path / 'broken.jpg'},Red\n")
    import_catalog(csv_bytes=csv.read_bytes(), source_name="catalog.csv", csv_dir=tmp_path)
    return csv


def test_a_run_predicts_stores_and_suggests(catalogue):
    plan = pipeline_run_create()
    assert plan.run.total == 3  # the broken image was already marked at import
    run = pipeline_run_here(plan=plan)
    assert (run.status, run.done, run.failed) == ("finished", 3, 0)
    polo = Product.objects.get(sku="P1")
    prediction = polo.predictions.get()
    assert prediction.model_version == model_version() and prediction.region == prediction.category_region == "upper"
    assert prediction.family == "Green" and prediction.dominant_colors and prediction.mask
    assert prediction.config["segmenter"]["name"] == "effunet"
    assert polo.status == "predicted"
    assert polo.suggestions.get().kind == "mislabel"  # tagged Red, plainly olive green
    assert not Product.objects.get(sku="P2").suggestions.exists()  # grey trousers tagged grey
    shirt = Product.objects.get(sku="P3").suggestions.get()
    assert (shirt.kind, shirt.suggested_color) == ("impute", "Purple")
    assert Product.objects.get(sku="P4").status == "failed"


def test_rerunning_the_same_model_creates_nothing_new(catalogue):
    ids = list(Product.objects.values_list("pk", flat=True))
    predict_products(product_ids=ids)
    before = Prediction.objects.count()
    counts = predict_products(product_ids=ids)  # as a re-delivered task would
    assert Prediction.objects.count() == before == 3
    assert counts == {"done": 3, "failed": 1}
    assert pipeline_run_create() is None


def test_run_pipeline_command_waits_with_progress(catalogue, capsys):
    call_command("run_pipeline", "--wait")
    out = capsys.readouterr().out
    assert "3 predicted" in out and PipelineRun.objects.get().status == "finished"
    call_command("run_pipeline", "--wait")
    assert "nothing to do" in capsys.readouterr().out


def test_a_batch_that_fails_for_good_is_recorded_on_its_products_and_run(catalogue):
    plan = pipeline_run_create()
    with mock.patch("colorreview.services.predictions.current_pipeline", side_effect=RuntimeError("GPU on fire")):
        predict_task.apply(args=(plan.batches[0], plan.run.pk))
    run = PipelineRun.objects.get(pk=plan.run.pk)
    assert run.failed == 3 and run.status == "finished" and "GPU on fire" in run.error
    assert set(Product.objects.filter(pk__in=plan.batches[0]).values_list("status", flat=True)) == {"failed"}


def test_the_garment_outline_stands_out_from_the_garment():
    assert outline_color("upper", (30, 60, 200)) == REGION_COLORS["upper"]  # red outline on a blue shirt
    on_red = outline_color("upper", (220, 50, 60))  # a red shirt: not red
    assert np.linalg.norm(np.subtract(on_red, (220, 50, 60))) > 150
    garment = np.zeros((40, 40), dtype=bool)
    garment[10:30, 10:30] = True
    rgba = np.asarray(overlay_image(garment, "upper", (220, 50, 60)))
    assert tuple(rgba[10, 20, :3]) == on_red and rgba[10, 20, 3] == 255  # the edge
    assert rgba[0, 0, 3] == 150 and rgba[20, 20, 3] == 0  # veiled outside, untouched inside
