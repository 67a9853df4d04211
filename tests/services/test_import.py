from __future__ import annotations

from pathlib import Path
from unittest import mock

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
    assert report.created == 4 and sorted(Product.objects.values_list("sku", flat=True)) == ["A1", "A2", "A3", "A4"]
    a1 = Product.objects.get(sku="A1")
    assert a1.seller_color.name == "Navy Blue" and a1.seller_color_raw == "navy" and a1.attributes == {"brand": "Acme"}
    a4 = Product.objects.get(sku="A4")
    assert a4.seller_color is None and a4.seller_color_unmapped and a4.final_color == "Sunset Glow"
    broken = Product.objects.get(sku="A2")
    assert broken.status == Product.Status.FAILED and "corrupt" in broken.image_error
    assert report.to_predict == 2 and report.rejected == 2 and report.flagged == 2
    assert ImportBatch.objects.get().rows_failed == 2


def test_seller_tags_written_with_accents_are_mapped_to_the_vocabulary(tmp_path):
    _import(_catalogue(tmp_path, ["A1,Tee,Tshirts,imgs/red.jpg,Crème,", "A2,Tee,Tshirts,imgs/red.jpg, BEÍGE ,",
                                  "A3,Tee,Tshirts,imgs/red.jpg,Rosé Glow,"]))
    mapped = {p.sku: (p.seller_color and p.seller_color.name, p.seller_color_raw, p.final_color)
              for p in Product.objects.select_related("seller_color")}
    assert mapped == {"A1": ("Cream", "Crème", "Cream"), "A2": ("Beige", "BEÍGE", "Beige"),
                      "A3": (None, "Rosé Glow", "Rosé Glow")}


def test_reimport_updates_and_requeues_only_changed_images(tmp_path):
    _import(_catalogue(tmp_path, ["A1,Red tee,Tshirts,imgs/red.jpg,Red,Acme", "A2,Blue,Shirts,imgs/blue.jpg,Blue,"]))
    a1 = Product.objects.get(sku="A1")
    old = PredictionFactory(product=a1)
    pending = SuggestionFactory(prediction=old)
    report = _import(_catalogue(tmp_path, ["A1,Red tee v2,Tshirts,imgs/blue.jpg,Red,Acme",
                                           "A2,Blue,Shirts,imgs/blue.jpg,Blue,"]))
    assert (report.updated, report.unchanged, report.to_predict) == (1, 1, 1)
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
    assert product.suggestions.count() == 0
    assert product.final_color == "Red" and product.seller_color.name == "Red"


def test_a_file_without_the_required_columns_is_refused(tmp_path):
    csv = _catalogue(tmp_path, ["x,y"], header="name,picture")
    with pytest.raises(ImportFailed, match="no column sku, image"):
        _import(csv)


def test_a_header_naming_a_column_twice_is_refused_and_nothing_imported(tmp_path):
    csv = _catalogue(tmp_path, ["A1,A2,Tee,x.jpg,Red"], header="sku,sku,title,image,seller_color")
    with pytest.raises(ImportFailed, match=r"names a column more than once \(sku in columns 1, 2\)"):
        _import(csv)
    assert not Product.objects.exists()


def test_a_misspelt_seller_colour_column_is_refused_rather_than_every_tag_lost(tmp_path):
    csv = _catalogue(tmp_path, ["A1,Tee,x.jpg,Red"], header="sku,title,image,seller_colour")
    with pytest.raises(ImportFailed, match="no column seller_color but has seller_colour"):
        _import(csv)
    assert not Product.objects.exists()


@pytest.mark.parametrize("column", ["colour_family", "color_code", "colorway", "is_multicolor", "decolorized"])
def test_other_colour_columns_of_a_catalogue_without_tags_are_attributes(tmp_path, column):
    _import(_catalogue(tmp_path, ["A1,Tee,imgs/red.jpg,x"], header=f"sku,title,image,{column}"))
    assert Product.objects.get().attributes == {column: "x"}


@pytest.mark.parametrize("column", ["Seller Colour", "colour", "baseColour", "seller_colors", "selle_color"])
def test_the_seller_colour_column_under_another_name_is_refused(tmp_path, column):
    with pytest.raises(ImportFailed, match="no column seller_color but has"):
        _import(_catalogue(tmp_path, ["A1,Tee,imgs/red.jpg,Red"], header=f"sku,title,image,{column}"))


def test_absolute_paths_and_the_images_option(tmp_path):
    other = tmp_path / "elsewhere"
    other.mkdir()
    (other / "pic.jpg").write_bytes(jpeg_bytes())
    csv = _catalogue(tmp_path, [f"A1,Abs,Tshirts,{other / 'pic.jpg'},Red,", "A2,Rel,Tshirts,pic.jpg,Red,"])
    report = _import(csv, images=other)
    assert not report.problems and report.created == 2


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


def _write(tmp_path: Path, data: bytes) -> Path:
    (tmp_path / "imgs").mkdir(exist_ok=True)
    (tmp_path / "imgs" / "red.jpg").write_bytes(jpeg_bytes((200, 30, 40)))
    path = tmp_path / "odd.csv"
    path.write_bytes(data)
    return path


@pytest.mark.parametrize("encoding", ["utf-16", "utf-8-sig", "utf-16-le"])
def test_utf16_and_bom_catalogues_are_read_correctly(tmp_path, encoding):
    text = "sku,title,category,image,seller_color\r\nÉ1,Crème tee,Tshirts,imgs/red.jpg,Red\r\n"
    report = _import(_write(tmp_path, text.encode(encoding)))
    assert report.created == 1 and not report.problems
    assert Product.objects.get(sku="É1").title == "Crème tee"


def test_broken_rows_are_reported_by_line_and_good_rows_kept(tmp_path, settings):
    big = "x" * 200_000
    data = (b"sku,title,category,image,seller_color\n"
            b"G1,Good,Tshirts,imgs/red.jpg,Red\n"
            + f"B1,{big},Tshirts,imgs/red.jpg,Red\n".encode()
            + b"B2,Nul\x00here,Tshirts,imgs/red.jpg,Red\n"
            b"B3,Bad \xff\xfe bytes \xc3\xa9,Tshirts,imgs/red.jpg,Red\n"
            b'G2,"A quoted\nnewline",Tshirts,imgs/red.jpg,Red\n'
            b"B4,Too,many,imgs/red.jpg,Red,extra,more\n"
            b"G3,After,Tshirts,imgs/red.jpg,Red\n")
    report = _import(_write(tmp_path, data))
    reasons = {p.line: p.reason for p in report.problems}
    assert "title is longer than 500" in reasons[3]
    assert "NUL" in reasons[4]
    assert "not valid utf-8" in reasons[5]
    assert "7 fields, the header 5" in reasons[8]
    assert sorted(Product.objects.values_list("sku", flat=True)) == ["G1", "G2", "G3"]
    assert Product.objects.get(sku="G2").title == "A quoted newline"
    assert ImportBatch.objects.get().rows_failed == 4


def test_an_image_outside_the_upload_is_refused(tmp_path):
    (tmp_path / "secret.jpg").write_bytes(jpeg_bytes())
    inside = tmp_path / "upload"
    inside.mkdir()
    csv = _write(tmp_path, f"sku,image\nA1,{tmp_path / 'secret.jpg'}\nA2,../secret.jpg\n".encode())
    report = import_catalog(csv_path=csv, source_name="x.csv", images_dir=inside, confine_images=True)
    assert [p.reason.split(":")[0] for p in report.problems] == ["image path must be inside the uploaded archive"] * 2
    assert set(Product.objects.values_list("image", flat=True)) == {""}


def test_problems_are_all_counted_and_the_first_ones_listed(tmp_path, monkeypatch):
    monkeypatch.setattr("colorreview.services.catalog.MAX_LISTED_PROBLEMS", 5)
    csv = _write(tmp_path, ("sku,image\nA1,imgs/red.jpg\n" + ",x.jpg\n" * 12).encode())
    report = _import(csv)
    batch = ImportBatch.objects.get()
    assert report.rejected == batch.rows_failed == 12 and len(batch.problems) == 5
    assert [p["line"] for p in batch.problems] == [3, 4, 5, 6, 7]


def test_reimporting_an_unchanged_file_reads_no_image_and_writes_nothing(tmp_path, monkeypatch):
    csv = _catalogue(tmp_path, [f"A{i},Tee {i},Tshirts,imgs/red.jpg,Red,Acme" for i in range(30)])
    _import(csv)
    stamp = dict(Product.objects.values_list("sku", "updated_at"))
    read = mock.Mock(side_effect=AssertionError("image read again"))
    monkeypatch.setattr("colorreview.services.catalog.store_image_file", read)
    report = _import(csv)
    assert (report.created, report.updated, report.unchanged) == (0, 0, 30)
    assert dict(Product.objects.values_list("sku", "updated_at")) == stamp and not read.called


def test_rows_are_written_in_a_constant_number_of_statements(tmp_path, django_assert_max_num_queries):
    small = _catalogue(tmp_path, ["A1,Tee,Tshirts,imgs/red.jpg,Red,Acme"])
    (tmp_path / "second").mkdir()
    big = _catalogue(tmp_path / "second", [f"B{i},Tee,Tshirts,imgs/red.jpg,Red,Acme" for i in range(200)])
    with django_assert_max_num_queries(13):  # with the one that records the import's end
        _import(small)
    with django_assert_max_num_queries(17):  # SQLite splits the product and history inserts into batches of ~90
        _import(big)
    assert Product.objects.count() == 201


def test_an_emptied_tag_keeps_the_colour_a_reviewer_decided(tmp_path, curator, thresholds):
    from colorreview.services.review import product_color_set
    from colorreview.services.suggestions import suggestion_refresh

    _import(_catalogue(tmp_path, ["A1,Tee,Tshirts,imgs/red.jpg,Blue,", "A2,Tee,Tshirts,imgs/blue.jpg,Blue,"]))
    product_color_set(product=Product.objects.get(sku="A1"), user=curator, color="Navy Blue", note="darker")
    _import(_catalogue(tmp_path, ["A1,Tee,Tshirts,imgs/red.jpg,,", "A2,Tee,Tshirts,imgs/blue.jpg,,"]))
    assert dict(Product.objects.values_list("sku", "final_color")) == {"A1": "Navy Blue", "A2": ""}
    for product in Product.objects.all():  # the decided colour is not offered as an imputation; a missing one is
        suggestion_refresh(product=product, prediction=PredictionFactory(product=product, predicted_color="Red",
                                                                         confidence=0.99))
    assert dict(Suggestion.objects.filter(status="pending").values_list("product__sku", "kind")) == {"A2": "impute"}
    _import(_catalogue(tmp_path, ["A1,Tee,Tshirts,imgs/red.jpg,Red,"]))  # a new tag is the seller's new claim
    assert Product.objects.get(sku="A1").final_color == "Red"


def test_an_emptied_tag_keeps_the_tags_colour_a_reviewer_confirmed(tmp_path, curator, thresholds):
    from colorreview.services.review import product_color_set, suggestion_reject
    from colorreview.services.suggestions import suggestion_refresh

    _import(_catalogue(tmp_path, ["A1,Tee,Tshirts,imgs/red.jpg,Red,", "A2,Tee,Tshirts,imgs/red.jpg,Red,",
                                  "A3,Tee,Tshirts,imgs/red.jpg,Red,"]))
    flag = suggestion_refresh(product=Product.objects.get(sku="A1"), prediction=PredictionFactory(
        product=Product.objects.get(sku="A1"), predicted_color="Blue", family="Blue", confidence=0.99))
    suggestion_reject(suggestion=flag, user=curator)  # the curator confirms the tag: Red
    suggestion_refresh(product=Product.objects.get(sku="A2"), prediction=PredictionFactory(
        product=Product.objects.get(sku="A2"), predicted_color="Blue", family="Blue", confidence=0.99))
    product_color_set(product=Product.objects.get(sku="A2"), user=curator, color="Red", note="checked, it is red")
    _import(_catalogue(tmp_path, ["A1,Tee,Tshirts,imgs/red.jpg,,", "A2,Tee,Tshirts,imgs/red.jpg,,",
                                  "A3,Tee,Tshirts,imgs/red.jpg,,"]))
    assert dict(Product.objects.values_list("sku", "final_color")) == {"A1": "Red", "A2": "Red", "A3": ""}


@pytest.mark.parametrize("head, kind", [(jpeg_bytes(), "a JPEG image"), (b"PK\x03\x04rest", "a ZIP archive"),
                                        (b"%PDF-1.7\n", "a PDF document")])
def test_a_file_that_is_not_a_csv_is_refused_saying_what_it_is(head, kind):
    with pytest.raises(ImportFailed, match=f"not a CSV catalogue: it looks like {kind}"):
        import_catalog(csv_bytes=head, source_name="catalog.csv")
    batch = ImportBatch.objects.get()  # run from the command line: recorded as failed, not left running
    assert batch.status == "failed" and kind in batch.error and batch.finished_at is not None


def test_an_uploaded_image_renamed_csv_fails_its_import_with_a_message(settings, tmp_path):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from colorreview.services.imports import import_job_run, import_upload_store

    settings.COLORREVIEW_UPLOAD_DIR = tmp_path / "uploads"
    batch = import_upload_store(catalog=SimpleUploadedFile("img.csv", jpeg_bytes()))
    batch = import_job_run(batch_id=batch.pk)
    assert batch.status == "failed" and "it looks like a JPEG image" in batch.error


def test_undecodable_bytes_in_a_header_are_stored_and_shown_replaced():
    with pytest.raises(ImportFailed, match="no column sku") as caught:
        import_catalog(csv_bytes=b"\x81\x8dname,\x90pic\nx,y\n", source_name="odd.csv")
    assert "\ufffd" in str(caught.value) and not any(0xDC80 <= ord(c) <= 0xDCFF for c in str(caught.value))
    assert "\ufffd" in ImportBatch.objects.get().error


def test_a_command_line_import_ends_finished(tmp_path):
    _import(_catalogue(tmp_path, ["A1,Tee,Tshirts,imgs/red.jpg,Blue,"]))
    batch = ImportBatch.objects.get()
    assert batch.status == "finished" and batch.finished_at is not None and batch.rows_created == 1


def _rows(*lines: bytes) -> bytes:
    return b"sku,title,category,image,seller_color\n" + b"".join(line + b"\n" for line in lines)


def test_a_quote_left_open_is_reported_with_the_lines_it_swallowed(tmp_path):
    data = _rows(b"G1,Good,Tshirts,imgs/red.jpg,Red", b'Q1,"Unclosed quote,Tshirts,imgs/red.jpg,Red',
                 b"L1,Last,Tshirts,imgs/red.jpg,Red")
    report = _import(_write(tmp_path, data))
    reasons = {p.line: p.reason for p in report.problems}
    assert "quote opened in this row is never closed" in reasons[3] and "lines 3–4" in reasons[3]
    assert list(Product.objects.values_list("sku", flat=True)) == ["G1"]


@pytest.mark.parametrize("new_row, restored", [("A1,Tee,Tshirts,imgs/red.jpg,Olive,", "Olive"),  # retagged
                                                 ("A1,New title,Tshirts,imgs/red.jpg,Grey,", "Grey")])
def test_reopening_a_decision_restores_the_colour_of_the_tag_as_it_is_now(tmp_path, curator, admin_user,
                                                                          new_row, restored):
    from colorreview.services.review import suggestion_accept, suggestion_reopen

    _import(_catalogue(tmp_path, ["A1,Tee,Tshirts,imgs/red.jpg,Grey,"]))
    product = Product.objects.get(sku="A1")
    flag = SuggestionFactory(prediction=PredictionFactory(product=product, predicted_color="Olive"), kind="mislabel")
    suggestion_accept(suggestion=flag, user=curator)
    _import(_catalogue(tmp_path, [new_row]))  # the seller fixes the tag, or only the title
    suggestion_reopen(suggestion=flag, user=admin_user)
    assert Product.objects.get(pk=product.pk).final_color == restored


def test_problems_are_listed_in_file_order_with_the_image_path_as_written(tmp_path):
    report = _import(_catalogue(tmp_path, ["A1,Tee,Tshirts,imgs/nope.jpg,Red,", ",No sku,Tshirts,imgs/red.jpg,Red,",
                                           "A3,Tee,Tshirts,imgs/red.jpg,Red,"]))
    assert any(p.reason == "image file not found: imgs/nope.jpg" for p in report.problems)
    assert [p["line"] for p in ImportBatch.objects.get().problems] == [2, 3]


def test_text_after_a_closing_quote_is_read_as_spreadsheets_read_it(tmp_path):
    data = _rows(b'S1,"Tee" ,Tshirts,imgs/red.jpg,"Red" ', b'S2,"Polo"x,Tshirts,imgs/red.jpg,Red',
                 b"S3,After,Tshirts,imgs/red.jpg,Red")
    report = _import(_write(tmp_path, data))
    assert not [p for p in report.problems if not p.imported]
    assert dict(Product.objects.values_list("sku", "title")) == {"S1": "Tee", "S2": "Polox", "S3": "After"}
    assert Product.objects.get(sku="S1").seller_color.name == "Red"


def test_an_import_with_damaged_weights_keeps_its_rows_and_says_the_run_waits(tmp_path, damaged_weights):
    from colorreview.services.runs import ModelUnavailable, catalog_import_and_queue

    csv = _catalogue(tmp_path, ["A1,Tee,Tshirts,imgs/red.jpg,Red,"])
    with pytest.raises(ModelUnavailable, match="colornet_image.pt does not match its model card") as caught:
        catalog_import_and_queue(csv_bytes=csv.read_bytes(), source_name=csv.name, csv_dir=csv.parent)
    assert caught.value.report.created == 1 and Product.objects.get().sku == "A1"
    assert ImportBatch.objects.get().status == "finished"


@pytest.mark.parametrize("d", [b";", b"\t"])
def test_a_catalogue_separated_by_semicolons_or_tabs_is_read(tmp_path, d):
    _catalogue(tmp_path, [])  # the images
    data = d.join([b"sku", b"title", b"category", b"image", b"seller_color"]) + b"\n" + \
        d.join([b"S1", b'"Tee, striped' + d + b' slim"', b"Tshirts", b"imgs/red.jpg", b"Red"]) + b"\n" + \
        d.join([b"S2", b"Shirt", b"Shirts", b"imgs/blue.jpg", b"Blue"]) + b"\n"
    report = _import(_write(tmp_path, data))
    assert report.rows_read == 2 and not report.problems
    titles = dict(Product.objects.values_list("sku", "title"))
    assert titles == {"S1": "Tee, striped; slim" if d == b";" else "Tee, striped slim", "S2": "Shirt"}  # tabs: spaces
    assert dict(Product.objects.values_list("sku", "seller_color_raw")) == {"S1": "Red", "S2": "Blue"}


def test_a_catalogue_with_its_header_alone_fails_saying_so(tmp_path):
    with pytest.raises(ImportFailed, match="has its header but no product row"):
        _import(_write(tmp_path, b"sku,title,category,image,seller_color\n\n\n"))
    assert not Product.objects.exists()


@pytest.mark.parametrize("data", [b"\xef\xbb\xbf\xef\xbb\xbf", b"\xff\xfe", b"\xfe\xff", b"\xef\xbb\xbf"])
def test_a_file_of_byte_order_marks_alone_is_an_empty_catalogue(tmp_path, data):
    with pytest.raises(ImportFailed, match="the catalogue file is empty"):
        _import(_write(tmp_path, data))


def _archive(tmp_path: Path, members: dict[str, bytes]) -> Path:
    import zipfile

    archive = tmp_path / "images.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for name, data in members.items():
            z.writestr(name, data)
    return archive


def _import_upload(tmp_path: Path, rows: list[str], members: dict[str, bytes] | None):
    """An upload's import: the archive (if any) unpacked as the import job does, images confined to it."""
    from colorreview.services.imports import extract_zip

    images = None
    if members is not None:
        images = tmp_path / "unpacked"
        images.mkdir()
        extract_zip(_archive(tmp_path, members), images, limit=10_000_000)
    csv = _write(tmp_path, ("sku,image\n" + "\n".join(rows) + "\n").encode())
    report = import_catalog(csv_path=csv, source_name="x.csv", images_dir=images, confine_images=True)
    return {p.sku: p.reason for p in report.problems}


def test_an_image_of_a_zipped_folder_is_found_by_its_file_name(tmp_path):
    red, blue = jpeg_bytes((200, 30, 40)), jpeg_bytes((40, 80, 200))
    problems = _import_upload(tmp_path, ["A1,a.jpg", "A2,photos\\sub\\b.jpg", "A3,sub\\b.jpg", "A4,other/a.jpg"],
                              {"photos/a.jpg": red, "photos/sub/b.jpg": blue})
    assert problems == {}
    images = dict(Product.objects.values_list("sku", "image_checksum"))
    assert images["A1"] == images["A4"] != images["A2"] == images["A3"] != ""


def test_a_file_name_held_twice_in_the_zip_names_the_paths_it_could_be(tmp_path):
    problems = _import_upload(tmp_path, ["A1,tee.jpg", "A2,women/tee.jpg", "A3,shop/men/tee.jpg"],
                              {"shop/men/tee.jpg": jpeg_bytes(), "shop/women/tee.jpg": jpeg_bytes((1, 2, 3))})
    assert problems == {"A1": "image file name tee.jpg is ambiguous: the archive holds 2 files of that name "
                              "(shop/men/tee.jpg, shop/women/tee.jpg); write the path inside the archive"}
    assert Product.objects.get(sku="A2").image_checksum and Product.objects.get(sku="A3").image_checksum


def test_a_file_name_in_another_case_is_found_when_one_image_has_it(tmp_path):
    problems = _import_upload(tmp_path, ["A1,img_01.jpg", "A2,PHOTOS/Img_01.jpg", "A3,img_02.jpg"],
                              {"photos/IMG_01.JPG": jpeg_bytes(), "photos/img_03.jpg": jpeg_bytes((1, 2, 3))})
    assert problems == {"A3": "image file not found: img_02.jpg"}
    images = dict(Product.objects.values_list("sku", "image_checksum"))
    assert images["A1"] == images["A2"] != ""


def test_a_file_name_as_written_comes_before_one_in_another_case_which_may_be_ambiguous(tmp_path):
    lower, upper = jpeg_bytes((200, 30, 40)), jpeg_bytes((40, 80, 200))
    problems = _import_upload(tmp_path, ["A1,tee.jpg", "A2,TEE.JPG", "A3,Tee.jpg", "A4,Women/Tee.jpg"],
                              {"men/tee.jpg": lower, "women/TEE.JPG": upper})
    assert problems == {"A3": "image file name Tee.jpg is ambiguous: the archive holds 2 files of that name in any "
                              "case (men/tee.jpg, women/TEE.JPG); write the path inside the archive"}
    images = dict(Product.objects.values_list("sku", "image_checksum"))
    assert images["A1"] != images["A2"] == images["A4"] != "" and images["A3"] == ""


def test_macos_extras_in_a_zip_are_neither_unpacked_nor_matched(tmp_path):
    problems = _import_upload(tmp_path, ["A1,a.jpg", "A2,c.jpg", "A3,__MACOSX/photos/._a.jpg", "A4,._d.jpg"],
                              {"photos/a.jpg": jpeg_bytes(), "__MACOSX/photos/._a.jpg": b"fork",
                               "__MACOSX/photos/c.jpg": jpeg_bytes(), "photos/._d.jpg": jpeg_bytes()})
    assert problems == {"A2": "image file not found: c.jpg", "A3": "image file not found: __MACOSX/photos/._a.jpg",
                        "A4": "image file not found: ._d.jpg"}
    assert [p.relative_to(tmp_path / "unpacked").as_posix() for p in (tmp_path / "unpacked").rglob("*")
            if p.is_file()] == ["photos/a.jpg"]


def test_zip_members_with_windows_separators_are_unpacked_as_folders(tmp_path):
    problems = _import_upload(tmp_path, ["A1,photos/sub/b.jpg", "A2,photos\\sub\\b.jpg"],
                              {"photos\\sub\\b.jpg": jpeg_bytes(), "..\\..\\escape.jpg": jpeg_bytes()})
    assert problems == {}
    unpacked = tmp_path / "unpacked"
    assert [p.relative_to(unpacked).as_posix() for p in unpacked.rglob("*") if p.is_file()] == ["photos/sub/b.jpg"]
    assert not (tmp_path.parent / "escape.jpg").exists()


def test_a_file_name_never_reaches_outside_the_upload(tmp_path):
    (tmp_path / "secret.jpg").write_bytes(jpeg_bytes())
    problems = _import_upload(tmp_path, ["A1,..\\secret.jpg", "A2,secret.jpg"], {"photos/a.jpg": jpeg_bytes()})
    assert problems == {"A1": "image path must be inside the uploaded archive: ..\\secret.jpg",
                        "A2": "image file not found: secret.jpg"}


def test_without_an_uploaded_zip_a_named_image_says_no_archive_was_uploaded(tmp_path):
    problems = _import_upload(tmp_path, ["A1,a.jpg"], None)
    assert problems == {"A1": "image file not found: a.jpg (no image archive was uploaded; upload the images in "
                              "a ZIP beside the CSV)"}
    assert Product.objects.get(sku="A1").status_detail.startswith("image file not found: a.jpg (no image archive")


def test_the_command_finds_images_in_a_zip_as_the_import_page_does(tmp_path, capsys):
    archive = _archive(tmp_path, {"photos/IMG_01.JPG": jpeg_bytes(), "photos/sub/b.jpg": jpeg_bytes((1, 2, 3)),
                                  "men/tee.jpg": jpeg_bytes(), "women/tee.jpg": jpeg_bytes((9, 9, 9))})
    csv = _write(tmp_path, b"sku,image\nA1,img_01.jpg\nA2,sub\\b.jpg\nA3,tee.jpg\nA4,women/tee.jpg\n")
    call_command("import_catalog", str(csv), "--images", str(archive), "--quiet")
    err = capsys.readouterr().err
    assert "image file name tee.jpg is ambiguous" in err and "(men/tee.jpg, women/tee.jpg)" in err
    images = dict(Product.objects.values_list("sku", "image_checksum"))
    assert "" not in (images["A1"], images["A2"], images["A4"]) and images["A3"] == ""
    assert ImportBatch.objects.get().status == ImportBatch.Status.FINISHED


def test_the_command_refuses_an_images_file_that_is_not_a_zip(tmp_path):
    (tmp_path / "photos.zip").write_bytes(jpeg_bytes())
    csv = _write(tmp_path, b"sku,image\nA1,a.jpg\n")
    with pytest.raises(CommandError, match="photos.zip is not a ZIP archive \\(it looks like a JPEG image\\)"):
        call_command("import_catalog", str(csv), "--images", str(tmp_path / "photos.zip"))
    with pytest.raises(CommandError, match="images folder or ZIP archive not found"):
        call_command("import_catalog", str(csv), "--images", str(tmp_path / "nowhere.zip"))
    assert not Product.objects.exists()


@pytest.mark.parametrize("data, says", [
    (jpeg_bytes(), "photos.zip is not a ZIP archive (it looks like a JPEG image): the images must be uploaded as "
                   "one ZIP archive (.zip) beside the CSV"),
    (b"sku,image\n", "photos.zip is not a ZIP archive: the images must be uploaded"),
    (b"PK\x03\x04truncated", "photos.zip is a damaged or incomplete ZIP archive: the images must be uploaded")])
def test_an_images_file_that_is_not_a_zip_is_refused_at_upload_saying_what_was_expected(settings, tmp_path, data,
                                                                                         says):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from colorreview.services.imports import import_upload_store

    settings.COLORREVIEW_UPLOAD_DIR = tmp_path / "uploads"
    with pytest.raises(ImportFailed) as caught:
        import_upload_store(catalog=SimpleUploadedFile("c.csv", b"sku,image\nA1,a.jpg\n"),
                            images=SimpleUploadedFile("photos.zip", data))
    assert str(caught.value).startswith(says)
    assert not ImportBatch.objects.exists() and not (tmp_path / "uploads").exists()


def test_a_zip_that_cannot_be_unpacked_fails_the_import_saying_so(tmp_path):
    from colorreview.services.imports import extract_zip

    archive = _archive(tmp_path, {"a.jpg": b"plain bytes, stored"})
    data = archive.read_bytes()
    archive.write_bytes(data.replace(b"plain bytes", b"PLAIN BYTES"))  # the member no longer matches its CRC
    with pytest.raises(ImportFailed, match="the image archive cannot be unpacked .*: the images must be uploaded"):
        extract_zip(archive, tmp_path, limit=1000)


def test_a_category_changed_by_a_re_import_is_in_the_history(tmp_path):
    from colorreview.models import ReviewEvent

    _import(_catalogue(tmp_path, ["A1,Tee,Tshirts,imgs/red.jpg,Red,"]))
    _import(_catalogue(tmp_path, ["A1,Tee,Trousers,imgs/red.jpg,Red,"]))
    notes = list(ReviewEvent.objects.filter(product__sku="A1", action="import").values_list("note", flat=True))
    assert any("category Tshirts → Trousers" in note for note in notes), notes
