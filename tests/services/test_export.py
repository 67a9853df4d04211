from __future__ import annotations

import csv
import io

import pytest
from django.core.management import call_command

from colorreview.services.export import COLUMNS, neutralise, write_export
from colorreview.services.review import suggestion_accept
from tests.factories import PredictionFactory, ProductFactory, SuggestionFactory

pytestmark = pytest.mark.django_db


def _rows():
    buf = io.StringIO()
    write_export(buf)
    buf.seek(0)
    return list(csv.DictReader(buf))


def test_columns_are_exactly_the_documented_ones():
    ProductFactory()
    buf = io.StringIO()
    write_export(buf)
    assert buf.getvalue().splitlines()[0] == (
        "sku,title,category,seller_color,predicted_color,confidence,suggestion,review_status,final_color,"
        "reviewed_by,reviewed_at")
    assert COLUMNS[-1] == "reviewed_at"


def test_final_colour_follows_the_decisions(curator):
    plain = ProductFactory(sku="A-plain", tag="Black")
    PredictionFactory(product=plain, predicted_color="Black", confidence=0.99)
    pending = ProductFactory(sku="B-pending", tag="Red")
    SuggestionFactory(prediction=PredictionFactory(product=pending, predicted_color="Blue"))
    accepted = ProductFactory(sku="C-accepted", tag="Red")
    s = SuggestionFactory(prediction=PredictionFactory(product=accepted, predicted_color="Green"))
    suggestion_accept(suggestion=s, user=curator)
    rows = {r["sku"]: r for r in _rows()}
    assert rows["A-plain"]["suggestion"] == "" and rows["A-plain"]["final_color"] == "Black"
    assert rows["A-plain"]["predicted_color"] == "Black" and rows["A-plain"]["confidence"] == "0.9900"
    assert (rows["B-pending"]["review_status"], rows["B-pending"]["final_color"]) == ("pending", "Red")
    c = rows["C-accepted"]
    assert (c["suggestion"], c["review_status"], c["final_color"], c["reviewed_by"]) == \
        ("mislabel", "accepted", "Green", "curator")
    assert c["reviewed_at"]


@pytest.mark.parametrize("value, expected", [("=1+2", "'=1+2"), ("+33+1", "'+33+1"), ("-1-A1", "'-1-A1"),
                                             ("@SUM(A1)", "'@SUM(A1)"), ("-2+3", "'-2+3"), ("+44 20 7946", "'+44 20 7946"),
                                             ("=123", "'=123"), ("\t-1", "'\t-1"), ("\r5", "'\r5"), ("-1\n", "'-1\n"),
                                             ("-123-A", "'-123-A"), ("Navy Blue", "Navy Blue"), (None, "")])
def test_formula_cells_are_neutralised(value, expected):
    assert neutralise(value) == expected


@pytest.mark.parametrize("number", ["-123", "+44.5", "-0.5", "+.5", "-1e3", "007", "-00123"])
def test_a_signed_number_is_left_as_it_is(number):
    assert neutralise(number) == number


def test_a_sku_that_is_a_negative_number_joins_back_to_the_catalogue():
    ProductFactory(sku="-123", title="-2+3")
    assert [(r["sku"], r["title"]) for r in _rows()] == [("-123", "'-2+3")]


def test_export_command_writes_a_neutralised_file(tmp_path):
    ProductFactory(sku="=HYPERLINK(\"http://x\")", title="@evil")
    out = tmp_path / "tags.csv"
    call_command("export_tags", "--out", str(out))
    row = next(csv.DictReader(out.open()))
    assert row["sku"].startswith("'=") and row["title"] == "'@evil"


def test_the_export_command_writes_a_bom_only_when_asked(tmp_path):
    ProductFactory(sku="C1", title="Café")
    call_command("export_tags", "--out", str(tmp_path / "plain.csv"))
    call_command("export_tags", "--out", str(tmp_path / "excel.csv"), "--bom")
    plain = (tmp_path / "plain.csv").read_bytes()
    assert plain.startswith(b"sku,") and (tmp_path / "excel.csv").read_bytes() == b"\xef\xbb\xbf" + plain


def test_unknown_parameter_names_and_values_are_all_named():
    from colorreview.services.export import export_problems

    assert export_problems({"kind": "impute", "bom": "1", "category": "Any thing"}) == []
    assert export_problems({"kinds": "impute", "status": "done", "format": "json"}, accepted={"format"}) == [
        "unknown parameter 'kinds' (the export takes: kind, status, category, changed, archived, bom)",
        "unknown filter value status='done' (one of: pending, accepted, rejected, corrected)"]


def test_filters_and_chunks_keep_the_sku_order(curator, monkeypatch, django_assert_max_num_queries):
    from colorreview.services import export

    monkeypatch.setattr(export, "CHUNK", 4)
    for i in range(10):
        product = ProductFactory(sku=f"F{i:02d}", tag="Red", category="Jeans" if i % 2 else "Shirts")
        s = SuggestionFactory(prediction=PredictionFactory(product=product, predicted_color="Blue"),
                              kind="mislabel" if i < 6 else "impute")
        if i < 3:
            suggestion_accept(suggestion=s, user=curator)
    with django_assert_max_num_queries(4 * 4):  # four queries a chunk: 3 chunks and an empty one
        rows = list(export.export_rows())
    assert [r[0] for r in rows] == [f"F{i:02d}" for i in range(10)]

    def skus(**filters):
        return [r[0] for r in export.export_rows(export.ExportFilters(**filters))]

    assert skus(kind="impute") == ["F06", "F07", "F08", "F09"]
    assert skus(changed_only=True) == ["F00", "F01", "F02"]
    assert skus(category="jeans", status="pending") == ["F03", "F05", "F07", "F09"]


def test_the_export_command_does_not_load_the_vision_stack():
    import subprocess
    import sys

    from tests.conftest import ROOT

    code = ("import os, sys, django; os.environ['DJANGO_SETTINGS_MODULE'] = 'tests.settings'; django.setup(); "
            "from django.core.management import load_command_class; "
            "command = load_command_class('colorreview', 'export_tags'); "
            "print(command.requires_system_checks == [], 'torch' in sys.modules, 'timm' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True)
    assert out.stdout.strip().splitlines()[-1:] == ["True False False"], out.stderr[-2000:]


def test_the_state_filters_judge_the_suggestion_the_row_shows(curator):
    from colorreview.services import export

    product = ProductFactory(sku="X1", tag="Red")
    first = SuggestionFactory(prediction=PredictionFactory(product=product, predicted_color="Blue"), kind="mislabel")
    suggestion_accept(suggestion=first, user=curator)
    # the seller re-tags it and a new flag opens: the row shows the new, pending one
    SuggestionFactory(prediction=PredictionFactory(product=product, predicted_color="Green",
                                                   model_version="newer-model"), kind="mislabel")
    [row] = list(export.export_rows())
    assert row[6:8] == ["mislabel", "pending"]
    assert [r[0] for r in export.export_rows(export.ExportFilters(status="pending"))] == ["X1"]
    assert list(export.export_rows(export.ExportFilters(status="accepted"))) == []
    assert list(export.export_rows(export.ExportFilters(kind="impute"))) == []


def test_a_colour_set_by_hand_says_who_set_it_and_when(curator, admin_user):
    from colorreview.services import export
    from colorreview.services.review import product_color_set

    product = ProductFactory(sku="H1", tag="Red")
    s = SuggestionFactory(prediction=PredictionFactory(product=product, predicted_color="Blue"), kind="mislabel")
    suggestion_accept(suggestion=s, user=curator)
    [row] = list(export.export_rows())
    assert row[8:10] == ["Blue", "curator"]
    product_color_set(product=product, user=admin_user, color="Navy Blue", note="checked the sample")
    [row] = list(export.export_rows())
    assert row[8:10] == ["Navy Blue", admin_user.username] and row[10]
    plain = ProductFactory(sku="H2", tag="Green")
    product_color_set(product=plain, user=curator, color="Olive", note="photo shows olive")
    assert list(export.export_rows())[1][8:10] == ["Olive", "curator"]
