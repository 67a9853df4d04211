from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from django.core.files.storage import default_storage
from django.core.management import call_command
from django.core.management.base import CommandError

from colorreview.models import ModelVersion, PipelineRun, Product, Suggestion
from colorreview.selectors import active_model_version, review_labels
from colorreview.services.catalog import import_catalog
from colorreview.services.predictions import model_version, pipeline_run_create, predict_products
from colorreview.services.retrain import TooFewLabels, model_retrain
from colorreview.services.review import (
    product_color_set,
    suggestion_accept,
    suggestion_correct,
    suggestion_reject,
    suggestion_undo_last,
)
from inference.pipeline import Pipeline, PipelineConfig
from inference.weights import WEIGHTS_DIR
from tests.conftest import jpeg_bytes
from tests.factories import PredictionFactory, ProductFactory, SuggestionFactory

pytestmark = pytest.mark.django_db

RED, BLUE, GREEN = (200, 30, 40), (30, 60, 160), (40, 140, 60)


def test_labels_come_from_each_kind_of_decision(curator, merchandiser):
    accepted = SuggestionFactory(prediction=PredictionFactory(predicted_color="Blue", product__tag="Red"))
    corrected = SuggestionFactory(prediction=PredictionFactory(predicted_color="Blue", product__tag="Red"))
    confirmed = SuggestionFactory(prediction=PredictionFactory(predicted_color="Blue", product__tag="Green"))
    imputed = SuggestionFactory(kind="impute", prediction=PredictionFactory(predicted_color="Pink"))
    refused = SuggestionFactory(kind="impute", prediction=PredictionFactory(predicted_color="Pink"))
    undone = SuggestionFactory(prediction=PredictionFactory(predicted_color="Blue", product__tag="Red"))
    by_hand = ProductFactory(tag="Black")
    suggestion_accept(suggestion=accepted, user=curator)
    suggestion_correct(suggestion=corrected, user=curator, color="navy")
    suggestion_reject(suggestion=confirmed, user=curator)
    suggestion_accept(suggestion=imputed, user=merchandiser)
    suggestion_reject(suggestion=refused, user=merchandiser)
    suggestion_accept(suggestion=undone, user=curator)
    suggestion_undo_last(user=curator)
    product_color_set(product=by_hand, user=curator, color="Charcoal", note="looked at it")

    labels = {pid: (label.color, label.source) for pid, label in review_labels().items()}
    assert labels == {accepted.product_id: ("Blue", "accepted"), corrected.product_id: ("Navy Blue", "corrected"),
                      confirmed.product_id: ("Green", "rejected"), imputed.product_id: ("Pink", "accepted"),
                      by_hand.pk: ("Charcoal", "manual")}


def test_a_colour_set_by_hand_after_a_decision_is_the_label(curator):
    suggestion = SuggestionFactory(prediction=PredictionFactory(predicted_color="Blue", product__tag="Red"))
    suggestion_accept(suggestion=suggestion, user=curator)
    product_color_set(product=suggestion.product, user=curator, color="Navy Blue", note="darker")
    assert review_labels()[suggestion.product_id].color == "Navy Blue"


def test_a_decision_about_an_image_the_product_no_longer_has_gives_no_label(curator):
    suggestion = SuggestionFactory(prediction=PredictionFactory(predicted_color="Blue", product__tag="Red"))
    suggestion_accept(suggestion=suggestion, user=curator)
    Product.objects.filter(pk=suggestion.product_id).update(image_checksum="f" * 64)
    assert review_labels() == {}


def test_too_few_reviewed_labels_are_refused_and_change_nothing(settings, curator):
    settings.COLORREVIEW_RETRAIN_MIN_LABELS = 50
    suggestion = SuggestionFactory(prediction=PredictionFactory(predicted_color="Blue", product__tag="Red"))
    suggestion_accept(suggestion=suggestion, user=curator)
    with pytest.raises(CommandError, match="only 1 reviewed labels.*at least 50.*Nothing was changed"):
        call_command("retrain", "--wait")
    with pytest.raises(TooFewLabels):
        model_retrain()
    assert not ModelVersion.objects.exists() and not PipelineRun.objects.exists()


def test_labels_in_colours_the_classifier_lacks_are_counted_apart_and_said_so(settings, curator):
    settings.COLORREVIEW_RETRAIN_MIN_LABELS = 50
    flag = SuggestionFactory(prediction=PredictionFactory(predicted_color="Blue", product__tag="Red"))
    suggestion_correct(suggestion=flag, user=curator, color="Teal")
    with pytest.raises(TooFewLabels, match=r"only 0 reviewed labels \(1 more reviewed label names a colour the "
                                           r"classifier does not have, and cannot teach it\)"):
        model_retrain()


def test_weights_whose_checksum_does_not_match_their_card_are_refused(damaged_weights, curator):
    with pytest.raises(CommandError, match="colornet_image.pt does not match its model card"):
        call_command("retrain", "--wait")
    assert not ModelVersion.objects.exists()


# --- a retrain end to end, on tiny images --------------------------------------------------------

def _images(folder: Path, prefix: str, colors: list[tuple], first_size: int) -> list[str]:
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    for i, color in enumerate(colors):
        name = f"{prefix}{i}.jpg"
        (folder / name).write_bytes(jpeg_bytes(color, size=(first_size + 2 * i, first_size + 24 + 2 * i)))
        names.append(name)
    return names


@pytest.fixture
def retrain_setup(settings, thresholds, tmp_path):
    """Border segmenter and the shipped classifier; an audit of six tiny images whose verified colour is
    what the shipped model reads; a catalogue of eight: four tagged as read, four untagged (imputed)."""
    pytest.importorskip("inference.evaluate.audit", reason="the audit reader judges candidates on the audited set")
    settings.COLORREVIEW_SEGMENTER = "border"
    settings.COLORREVIEW_IMPUTE_THRESHOLD = 0.0
    settings.COLORREVIEW_RETRAIN_MIN_LABELS = 3
    settings.COLORREVIEW_REPREDICT_MARGIN = 0.0  # only products with an open suggestion are read again
    settings.COLORREVIEW_MODELS_DIR = tmp_path / "models"
    settings.COLORREVIEW_FEATURE_CACHE = tmp_path / "features"
    audit_dir = tmp_path / "audit"
    names = _images(audit_dir, "A", [RED, BLUE, GREEN] * 2, 60)
    pipeline = Pipeline(PipelineConfig(segmenter="border"))
    read = [r.predicted_color for r in pipeline.predict_batch([_input(audit_dir / n) for n in names])]
    lines = ["image,category,seller_color,verdict,color"] + [f"{n},Tshirts,{c},confirmed,{c}"
                                                              for n, c in zip(names, read)]
    (audit_dir / "audit.csv").write_text("\n".join(lines) + "\n")
    settings.COLORREVIEW_AUDIT_CSV, settings.COLORREVIEW_AUDIT_IMAGES = audit_dir / "audit.csv", audit_dir

    shop = tmp_path / "shop"
    names = _images(shop, "P", [RED, BLUE, GREEN, RED, BLUE, GREEN, RED, BLUE], 40)
    rows = ["sku,title,category,image,seller_color"] + [f"P{i},Tee,Tshirts,{n}," for i, n in enumerate(names)]
    import_catalog(csv_bytes=("\n".join(rows) + "\n").encode(), source_name="shop.csv", csv_dir=shop)
    predict_products(product_ids=list(Product.objects.values_list("pk", flat=True)))
    for product in Product.objects.filter(sku__in=["P4", "P5", "P6", "P7"]):  # tagged as read: nothing to say
        Suggestion.objects.filter(product=product).update(status=Suggestion.Status.SUPERSEDED)
        color = product.predictions.get().predicted_color
        Product.objects.filter(pk=product.pk).update(seller_color_raw=color, seller_color_id=_color_id(color))
    return dict(zip(read, names))


def _input(path: Path):
    from inference.pipeline import ImageInput

    return ImageInput(path, "Tshirts", path.name)


def _color_id(name: str) -> int:
    from colorreview.models import ColorName

    return ColorName.objects.get(name=name).pk


def _decide(user, wrong: bool) -> None:
    """A merchandiser decides three of the four imputations: right as read, or all wrongly corrected."""
    for sku in ("P0", "P1", "P2"):
        suggestion = Suggestion.objects.get(product__sku=sku, status="pending")
        if wrong:
            suggestion_correct(suggestion=suggestion, user=user, color="Yellow")
        else:
            suggestion_accept(suggestion=suggestion, user=user)


@pytest.mark.slow
def test_a_promoted_version_changes_the_model_version_and_requeues_only_the_chosen(retrain_setup, merchandiser,
                                                                                  settings, tmp_path):
    _decide(merchandiser, wrong=False)
    before = model_version()
    version = model_retrain()

    assert version.status == "promoted", version.message
    assert active_model_version() == version and version.version in model_version() != before
    assert version.pipeline_version == model_version() and version.carried_versions == [before]
    assert version.labels == {"accepted": 3, "catalogue": 4, "reviewed": 3, "outside_classes": 0}
    assert version.figures["evaluation"] == "audited set" and version.figures["n"] == 6
    assert version.figures["after"]["exact"] >= version.figures["before"]["exact"]
    assert "promoted: not worse" in version.message and "exact colour" in version.message
    requeued = set(version.run.products.values_list("sku", flat=True))
    assert requeued == {"P3"} and version.requeued == 1  # the one open imputation; decided and quiet ones stay
    assert pipeline_run_create() is None  # the others' predictions stand for the new version
    cards = {p.name: json.loads(p.read_text()) for p in Path(version.weights_dir).glob("*.json")}
    assert {"colornet.json", "colornet_image.json", "u2netp_garment.json"} <= set(cards)
    assert cards["colornet.json"]["fine_tuning"]["labels"]["reviewed"] == 3
    assert cards["colornet.json"]["calibration"] == json.loads((WEIGHTS_DIR / "colornet.json").read_text())[
        "calibration"]
    # a host without the folder (a worker elsewhere) fetches it from the media storage: the same version
    folder = Path(version.weights_dir)
    assert set(default_storage.listdir(f"models/{folder.name}")[1]) == {p.name for p in folder.iterdir()}
    shutil.rmtree(folder)
    settings.COLORREVIEW_MODELS_DIR = tmp_path / "another-host"
    assert active_model_version().weights_dir == str(tmp_path / "another-host" / folder.name)
    assert model_version() == version.pipeline_version


@pytest.mark.slow
def test_a_model_that_cannot_be_copied_to_the_media_storage_is_not_promoted(retrain_setup, merchandiser,
                                                                            monkeypatch, settings):
    from colorreview.services import retrain

    def storage_down(folder):
        raise ConnectionError("the bucket cannot be reached")

    monkeypatch.setattr(retrain, "model_publish", storage_down)
    _decide(merchandiser, wrong=False)
    before = model_version()
    version = model_retrain()
    assert version.status == "refused" and "could not be copied to the media storage" in version.message
    assert version.weights_dir == "" and active_model_version() is None and model_version() == before
    assert not any(Path(settings.COLORREVIEW_MODELS_DIR).iterdir())  # the candidate's folder is gone


def test_reviewed_labels_without_a_readable_image_do_not_count(retrain_setup, merchandiser, settings):
    _decide(merchandiser, wrong=False)
    for product in Product.objects.filter(sku__in=["P0", "P1"]):  # gone from the media storage
        (Path(settings.MEDIA_ROOT) / product.image).unlink()
    with pytest.raises(TooFewLabels, match="only 1 of the 3 reviewed labels have a readable image"):
        model_retrain()
    refused = ModelVersion.objects.get()  # the candidate's row says why, and nothing is in use
    assert refused.status == "refused" and "only 1 of the 3 reviewed labels" in refused.message
    assert active_model_version() is None and not PipelineRun.objects.exists()


def test_a_second_retrain_is_refused_while_one_runs_and_a_lost_one_is_marked(settings, curator):
    from datetime import timedelta

    from django.utils import timezone

    from colorreview.services.retrain import RetrainError

    settings.COLORREVIEW_RETRAIN_MIN_LABELS = 0
    settings.COLORREVIEW_AUDIT_CSV = settings.MEDIA_ROOT / "no-audit.csv"
    running = ModelVersion.objects.create(version="(training)", base_version="b", created_by=curator)
    with pytest.raises(RetrainError, match="a retrain is already running .* by curator.*Nothing was changed"):
        model_retrain()
    ModelVersion.objects.filter(pk=running.pk).update(
        created_at=timezone.now() - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 1))
    with pytest.raises(RetrainError):  # no label at all: refused on its own row, after the lost one is marked
        model_retrain()
    lost = ModelVersion.objects.get(pk=running.pk)
    assert lost.status == "refused" and lost.message.startswith("lost:")


def test_a_promoted_folder_missing_on_this_host_is_fetched_from_the_media_storage(settings, tmp_path, monkeypatch):
    from colorreview.services import model_store
    from colorreview.services.model_store import local_weights_dir, model_publish

    folder = tmp_path / "trained-elsewhere" / "r20261128-000000-000001"
    folder.mkdir(parents=True)
    (folder / "colornet.json").write_text("{}")
    (folder / "colornet.pt").write_bytes(bytes(range(256)) * 40)
    assert model_publish(folder) == 2
    shutil.rmtree(folder)
    settings.COLORREVIEW_MODELS_DIR = tmp_path / "this-host"
    here = local_weights_dir(str(folder))
    assert here == tmp_path / "this-host" / folder.name
    assert (here / "colornet.pt").read_bytes() == bytes(range(256)) * 40 and (here / "colornet.json").read_text() == "{}"
    monkeypatch.setattr(model_store, "_fetch", lambda *a: pytest.fail("fetched a second time"))
    assert local_weights_dir(str(folder)) == here  # fetched once
    monkeypatch.undo()
    assert local_weights_dir(str(tmp_path / "nowhere" / "r0")) is None


@pytest.mark.slow
def test_a_worse_candidate_is_refused_and_changes_nothing(retrain_setup, merchandiser, settings):
    settings.COLORREVIEW_RETRAIN_REVIEW_WEIGHT = 50.0
    _decide(merchandiser, wrong=True)
    before = model_version()
    with pytest.raises(CommandError, match="refused: worse on the audited set: exact colour 100.0% → .*Nothing was"):
        call_command("retrain", "--wait")
    version = ModelVersion.objects.get()
    assert version.status == "refused" and version.weights_dir == "" and version.run is None
    assert active_model_version() is None and model_version() == before
    assert not PipelineRun.objects.exists()


def test_the_retrain_task_runs_on_the_default_queue_and_reports_a_refusal(settings):
    from colorreview.celery import app
    from colorreview.tasks import retrain_job

    settings.COLORREVIEW_RETRAIN_MIN_LABELS = 1
    assert app.amqp.router.route({}, retrain_job.name)["queue"].name == "default"
    refused = ModelVersion.objects.get(pk=retrain_job.apply().get())  # no reviewed label: refused before reading
    assert refused.status == "refused" and refused.message.startswith("refused before training: only 0 reviewed")
    assert active_model_version() is None and not PipelineRun.objects.exists()


def test_retrain_wait_on_a_broker_reports_a_refusal_made_by_the_worker(settings, monkeypatch):
    from colorreview import tasks

    settings.COLORREVIEW_RETRAIN_MIN_LABELS = 0
    monkeypatch.setattr("colorreview.management.commands.retrain.embedded_queue", lambda: False)

    def worker_refuses(*args, **kwargs):  # what a worker does with the job: here, nothing can be read
        settings.COLORREVIEW_RETRAIN_MIN_LABELS = 1
        tasks.retrain_job.apply()

    monkeypatch.setattr(tasks.retrain_job, "delay", worker_refuses)
    with pytest.raises(CommandError, match="^refused before training: only 0 reviewed labels"):
        call_command("retrain", "--wait", "--timeout", "10")


def test_the_database_holds_one_retrain_at_a_time(curator):
    from django.db import IntegrityError, transaction

    from colorreview.services.retrain import RetrainError, _begin

    ModelVersion.objects.create(version="(training)", base_version="b", created_by=curator)
    with pytest.raises(IntegrityError), transaction.atomic():  # what a second start at the same instant meets
        ModelVersion.objects.create(version="(training)", base_version="b")
    labels = type("Labels", (), {"counts": lambda self: {}})()
    shipped = type("Shipped", (), {"version": "b"})()
    with pytest.raises(RetrainError, match=r"already running \(started \d\d:\d\d by curator\).*Nothing was changed"):
        _begin(shipped, labels, curator)
    assert ModelVersion.objects.filter(status="candidate").count() == 1


def test_a_promotion_keeps_the_weights_of_the_newest_versions_only(settings, tmp_path):
    from datetime import timedelta

    from django.utils import timezone

    from colorreview.selectors import shipped_classifier_version
    from colorreview.services.model_store import model_prune, model_publish

    settings.COLORREVIEW_MODELS_DIR = tmp_path / "models"
    base = shipped_classifier_version()
    versions = []
    for i, version_base in enumerate([base, "colornet-of-earlier-weights", base, base, base]):
        folder = settings.COLORREVIEW_MODELS_DIR / f"r2026112{i}"
        folder.mkdir(parents=True)
        (folder / "colornet.json").write_text("{}")
        model_publish(folder)
        versions.append(ModelVersion.objects.create(
            version=f"colornet-v{i}", base_version=version_base, status="promoted", weights_dir=str(folder),
            message="promoted"))
        ModelVersion.objects.filter(pk=versions[-1].pk).update(created_at=timezone.now() + timedelta(minutes=i))
    assert model_prune(keep=2) == ["r20261122", "r20261121", "r20261120"]
    for i, version in enumerate(versions):
        version.refresh_from_db()
        name = f"r2026112{i}"
        kept = i >= 3
        assert default_storage.exists(f"models/{name}/colornet.json") is kept
        assert (settings.COLORREVIEW_MODELS_DIR / name).is_dir() is kept
        assert (version.weights_dir != "") is kept and version.status == "promoted"
        assert ("weights were removed: only the newest 2" in version.message) is not kept
    assert model_prune(keep=2) == []
