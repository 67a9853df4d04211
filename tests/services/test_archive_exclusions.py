"""What an archived product is left out of: the review queue, the imputations and bulk approvals, new
pipeline runs and a batch that read it meanwhile, the dashboard's figures, the product list, the export;
and a re-import that leaves it archived."""

from __future__ import annotations

import csv
import io

import pytest

from colorreview import selectors
from colorreview.models import Product, Suggestion
from colorreview.services import bulk
from colorreview.services.archive import product_archive, products_archive
from colorreview.services.catalog import import_catalog
from colorreview.services.export import ExportFilters, write_export
from colorreview.services.predictions import predict_products
from colorreview.services.runs import pipeline_run_start, run_enqueue
from colorreview.services.summary import summary_compute
from tests.conftest import jpeg_bytes, small_catalogue
from tests.factories import PredictionFactory, ProductFactory, SuggestionFactory
from tests.services.test_batch_storage import NoOpPipeline

pytestmark = pytest.mark.django_db


def _imputations(n: int) -> list[Suggestion]:
    return [SuggestionFactory(prediction=PredictionFactory(product=ProductFactory(tag=""), confidence=0.97),
                              kind="impute") for _ in range(n)]


def test_the_queue_the_imputations_and_a_bulk_approval_leave_archived_products_out(merchandiser, admin_user):
    items = _imputations(3)
    product_archive(product=items[0].product, user=admin_user)
    queue = selectors.suggestion_work_queue(user=merchandiser)
    assert items[0].pk not in {s.pk for s in queue} and queue.count() == 2
    assert selectors.queue_counts(user=merchandiser)["impute"] == 2
    assert bulk.bulk_approval_count(user=merchandiser, min_confidence=0.9) == 2
    approval = bulk.bulk_approval_start(user=merchandiser, min_confidence=0.9)
    assert approval.accepted == 2
    assert Suggestion.objects.get(pk=items[0].pk).status == "superseded"
    assert Product.objects.get(pk=items[0].product_id).final_color == ""


def test_a_new_run_leaves_archived_products_out(tmp_path, fast_pipeline, published, admin_user, monkeypatch):
    monkeypatch.setattr("colorreview.tasks.enqueue_run.delay", lambda pk: None)
    import_catalog(csv_bytes=small_catalogue(tmp_path / "shots", 5), source_name="c.csv", csv_dir=tmp_path / "shots")
    products_archive(user=admin_user, skus=["C0001", "C0003"])
    run = pipeline_run_start(user=admin_user)
    assert run_enqueue(run_id=run.pk, window=2) == 3
    queued = Product.objects.filter(pk__in=[pk for ids, _ in published for pk in ids])
    assert sorted(queued.values_list("sku", flat=True)) == ["C0000", "C0002", "C0004"]


def test_a_batch_read_while_its_product_was_archived_opens_no_suggestion(thresholds, settings, monkeypatch,
                                                                         admin_user):
    image = settings.MEDIA_ROOT / "images/aa/test.jpg"  # the factories' image; the no-op model never opens it
    image.parent.mkdir(parents=True, exist_ok=True)
    image.write_bytes(b"not decoded")
    monkeypatch.setattr("colorreview.services.predictions.current_pipeline", lambda: NoOpPipeline())
    ids = [ProductFactory(status="queued").pk for _ in range(3)]
    product_archive(product=Product.objects.get(pk=ids[0]), user=admin_user)
    assert predict_products(product_ids=ids) == {"done": 3, "failed": 0}
    assert sorted(Suggestion.objects.values_list("product_id", flat=True)) == ids[1:]


def test_the_dashboard_figures_count_archived_products_apart(curator, admin_user):
    kept = ProductFactory(tag="Red", category="Jeans")
    gone = ProductFactory(tag="Red", category="Shirts")
    untagged = _imputations(1)[0]
    product_archive(product=gone, user=admin_user)
    product_archive(product=untagged.product, user=admin_user)
    figures = summary_compute()
    assert (figures["products"], figures["archived"], figures["untagged"], figures["pending"]) == (1, 2, 0, 0)
    assert figures["status"] == {"predicted": 1}
    assert figures["category_counts"]["products"] == {"Jeans": 1}
    assert figures["seller_final"] == [["Red", "Red", 1]] and kept.final_color == "Red"


def test_the_product_list_leaves_archived_products_out_unless_asked(admin_user):
    active, archived = ProductFactory(sku="A-1"), ProductFactory(sku="A-2")
    product_archive(product=archived, user=admin_user)
    assert list(selectors.product_list()) == [active]
    assert list(selectors.product_list(archived=True)) == [archived]
    assert list(selectors.product_list(archived=None)) == [active, archived]


def _export(**filters) -> tuple[list[str], list[dict]]:
    buf = io.StringIO()
    write_export(buf, ExportFilters(**filters))
    buf.seek(0)
    reader = csv.DictReader(buf)
    return reader.fieldnames, list(reader)


def test_the_export_leaves_archived_products_out_unless_asked(admin_user):
    ProductFactory(sku="E-1")
    product_archive(product=ProductFactory(sku="E-2"), user=admin_user)
    header, rows = _export()
    assert [r["sku"] for r in rows] == ["E-1"] and header[-1] == "reviewed_at"
    header, rows = _export(archived="include")
    assert header[-1] == "archived_at" and [(r["sku"], bool(r["archived_at"])) for r in rows] == [
        ("E-1", False), ("E-2", True)]
    assert [r["sku"] for r in _export(archived="only")[1]] == ["E-2"]
    with pytest.raises(ValueError, match="exclude, include, only"):
        _export(archived="yes")


def test_a_reimport_updates_an_archived_product_and_leaves_it_archived(tmp_path, thresholds, admin_user):
    (tmp_path / "red.jpg").write_bytes(jpeg_bytes((200, 30, 40)))
    (tmp_path / "blue.jpg").write_bytes(jpeg_bytes((40, 80, 200)))

    def load(image: str, tag: str):
        data = f"sku,title,category,image,seller_color\nR1,Tee,Tshirts,{image},{tag}\n".encode()
        return import_catalog(csv_bytes=data, source_name="c.csv", csv_dir=tmp_path)

    load("red.jpg", "Red")
    product_archive(product=Product.objects.get(sku="R1"), user=admin_user)
    report = load("blue.jpg", "Blue")
    product = Product.objects.get(sku="R1")
    assert product.archived and product.archived_by == admin_user and product.seller_color_raw == "Blue"
    assert (report.updated, report.to_predict, report.retagged) == (1, 0, [])
    assert product.events.filter(action="import").last().note.startswith(
        "re-imported: seller colour Red → Blue, new image, kept archived")
    assert not selectors.product_list().filter(sku="R1").exists()
