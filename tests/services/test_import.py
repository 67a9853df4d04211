from __future__ import annotations

from pathlib import Path

import pytest
from django.core.management import CommandError, call_command

from colorreview.models import ImportBatch, Product, Suggestion
from colorreview.services.catalog import ImportFailed, import_catalog
from tests.conftest import jpeg_bytes
from tests.factories import PredictionFactory, SuggestionFactory

pytestmark = pytest.mark.django_db


def _catalogue(tmp_path: Path, lines: list[str], header="sku,title,category,image,seller_color,brand") -> Path:
    (tmp_path / "imgs").mkdir(exist_ok=True)
    (tmp_path / "imgs" / "red.jpg").write_bytes(jpeg_bytes((200, 30, 40)))
    (tmp_path / "imgs" / "blue.jpg").write_bytes(jpeg_bytes((40, 80, 200)))
    (tmp_path / "imgs" / "broken.jpg").write_bytes(jpeg_bytes()[:300])
    csv = tmp_path / "catalog.csv"
    csv.write_text("\n".join([header, *lines]) + "\n")
    return csv


def _import(csv: Path, images: Path | None = None):
    return import_catalog(csv_bytes=csv.read_bytes(), source_name=csv.name, images_dir=images, csv_dir=csv.parent)


def test_good_rows_are_imported_and_bad_rows_reported_with_line_numbers(tmp_path):
    csv = _catalogue(tmp_path, [
        "A1,Red tee,Tshirts,imgs/red.jpg,navy,Acme",
        ",No sku,Tshirts,imgs/red.jpg,Red,Acme",
        "A2,Broken,Shirts,imgs/broken.jpg,,Acme",
        "A3,Missing,Shirts,imgs/nowhere.jpg,Red,Acme",
        "A1,Duplicate,Tshirts,imgs/red.jpg,Red,Acme",
        "A4,Odd colour,Jeans,imgs/blue.jpg,Sunset Glow,",
    ])
    report = _import(csv)
    problems = {(p.line, p.imported): p.reason for p in report.problems}
    assert problems[(3, False)] == "missing sku"
    assert "truncated or corrupt" in problems[(4, True)]
    assert "not found" in problems[(5, True)]
    assert "earlier in the same file" in problems[(6, False)]
    assert len(report.created) == 4 and sorted(Product.objects.values_list("sku", flat=True)) == ["A1", "A2", "A3", "A4"]
    a1 = Product.objects.get(sku="A1")
    assert a1.seller_color.name == "Navy Blue" and a1.seller_color_raw == "navy" and a1.attributes == {"brand": "Acme"}
    a4 = Product.objects.get(sku="A4")
    assert a4.seller_color is None and a4.seller_color_unmapped and a4.final_color == "Sunset Glow"
    broken = Product.objects.get(sku="A2")
    assert broken.status == Product.Status.FAILED and "corrupt" in broken.image_error
    assert set(report.to_predict) == {a1.id, a4.id}
    assert ImportBatch.objects.get().rows_failed == 2


def test_reimport_updates_and_requeues_only_changed_images(tmp_path):
    _import(_catalogue(tmp_path, ["A1,Red tee,Tshirts,imgs/red.jpg,Red,Acme", "A2,Blue,Shirts,imgs/blue.jpg,Blue,"]))
    a1 = Product.objects.get(sku="A1")
    old = PredictionFactory(product=a1)
    pending = SuggestionFactory(prediction=old)
    report = _import(_catalogue(tmp_path, ["A1,Red tee v2,Tshirts,imgs/blue.jpg,Red,Acme",
                                           "A2,Blue,Shirts,imgs/blue.jpg,Blue,"]))
    assert report.updated == [a1.id] and report.unchanged == [Product.objects.get(sku="A2").id]
    assert report.to_predict == [a1.id]
    a1.refresh_from_db()
    assert a1.title == "Red tee v2" and a1.status == Product.Status.PENDING
    pending.refresh_from_db()
    assert pending.status == Suggestion.Status.SUPERSEDED
    assert pending.events.filter(action="supersede", note="image changed").exists()


def test_a_new_seller_tag_resets_the_final_colour(tmp_path):
    _import(_catalogue(tmp_path, ["A1,Tee,Tshirts,imgs/red.jpg,Blue,"]))
    report = _import(_catalogue(tmp_path, ["A1,Tee,Tshirts,imgs/red.jpg,red,"]))
    product = Product.objects.get(sku="A1")
    assert report.retagged == [product.id] and not report.to_predict
    assert product.final_color == "Red" and product.seller_color.name == "Red"


def test_a_file_without_the_required_columns_is_refused(tmp_path):
    csv = _catalogue(tmp_path, ["x,y"], header="name,picture")
    with pytest.raises(ImportFailed, match="no column sku, image"):
        _import(csv)


def test_absolute_paths_and_the_images_option(tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "pic.jpg").write_bytes(jpeg_bytes())
    csv = _catalogue(tmp_path, [f"A1,Abs,Tshirts,{other / 'pic.jpg'},Red,", "A2,Rel,Tshirts,pic.jpg,Red,"])
    report = _import(csv, images=other)
    assert not report.problems and len(report.created) == 2


def test_command_exits_non_zero_only_when_nothing_is_readable(tmp_path, capsys):
    csv = _catalogue(tmp_path, ["A1,Red,Tshirts,imgs/red.jpg,Red,", ",bad,,imgs/red.jpg,,"])
    call_command("import_catalog", str(csv))
    out = capsys.readouterr()
    assert "1 created" in out.out and "line 3" in out.err and "missing sku" in out.err
    nothing = _catalogue(tmp_path, [",bad,,x.jpg,,", ",worse,,y.jpg,,"])
    with pytest.raises(CommandError, match="no row could be imported"):
        call_command("import_catalog", str(nothing))
    with pytest.raises(CommandError, match="not found"):
        call_command("import_catalog", str(tmp_path / "missing.csv"))
