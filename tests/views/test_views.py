from __future__ import annotations

import csv
import io
import re
import zipfile
from unittest import mock

import pytest

from colorreview.models import BulkApproval, ColorName, ImportBatch, PipelineRun, Product, Suggestion
from tests.conftest import jpeg_bytes
from tests.factories import PredictionFactory, ProductFactory, SuggestionFactory, probabilities

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _mislabel():
    product = ProductFactory(tag="Red")
    return SuggestionFactory(prediction=PredictionFactory(product=product, predicted_color="Blue"), kind="mislabel")


def test_pages_need_a_login(client):
    for url in ("/", "/review/", "/imputations/", "/import/", "/export/", "/export.csv", "/products/"):
        response = client.get(url)
        assert response.status_code == 302 and response["Location"].startswith("/login/")


def test_an_outsider_is_told_why(client, outsider):
    client.force_login(outsider)
    response = client.get("/")
    assert response.status_code == 403 and b"no role yet" in response.content


def test_the_queue_shows_image_tags_confidence_and_swatches(client, curator):
    s = _mislabel()
    client.force_login(curator)
    html = client.get("/review/").content.decode()
    assert f'id="suggestion-{s.pk}"' in html and s.product.sku in html
    assert "Should be" in html and "Blue" in html and "97%" in html
    assert 'class="swatch"' in html and f"/media/{s.product.image}" in html
    assert "the garment's dominant colours" in html.split('class="swatches"')[1].split("</div>")[0]


def test_the_garments_colours_are_labelled_and_two_clusters_of_one_named_colour_make_one_swatch():
    from colorreview.templatetags.colorreview import swatches

    dominant = [{"color": "Lavender", "name": "thistle", "hex": "#d8bfd8", "fraction": 0.32},
                {"color": "White", "name": "white", "hex": "#ffffff", "fraction": 0.25},
                {"color": "Lavender", "name": "thistle", "hex": "#d0b8d0", "fraction": 0.20},
                {"color": "Purple", "name": "indigo", "hex": "#4b0082", "fraction": 0.15}]
    shown = swatches(dominant)
    assert [(d["label"], round(d["fraction"], 2)) for d in shown] == [
        ("Lavender", 0.52), ("White", 0.25), ("Purple", 0.15)]


def test_a_flag_card_puts_how_likely_the_tag_is_wrong_by_the_tag_and_the_models_reading_by_the_colour(client,
                                                                                                     curator):
    product = ProductFactory(tag="Cream")
    prediction = PredictionFactory(product=product, predicted_color="Black", family="Black", confidence=0.4,
                                   probabilities=probabilities(Black=0.4, Charcoal=0.35, Cream=0.001))
    SuggestionFactory(prediction=prediction, kind="mislabel", score=0.999)
    client.force_login(curator)
    html = client.get("/review/").content.decode()
    seller = html.split('<span class="label">Seller</span>')[1].split("</div>")[0]
    should = html.split('<span class="label">Should be</span>')[1].split("</div>")[0]
    assert '<span class="conf" title="probability that the tag is wrong">99.9% wrong</span>' in seller
    assert '<span class="conf" title="the model\'s probability of this colour">40%</span>' in should
    assert "99.9%" not in should  # the tag's chance of being wrong is not the suggested colour's


def test_accept_with_htmx_swaps_the_card(client, curator):
    s = _mislabel()
    client.force_login(curator)
    response = client.post(f"/review/{s.pk}/accept/", **HTMX)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.lstrip().startswith("<article") and "Accepted by curator" in html and "<html" not in html
    assert Suggestion.objects.get(pk=s.pk).status == "accepted"


def test_a_second_decision_is_reported_not_applied(client, curator, admin_user):
    s = _mislabel()
    client.force_login(curator)
    client.post(f"/review/{s.pk}/reject/", **HTMX)
    client.force_login(admin_user)
    html = client.post(f"/review/{s.pk}/correct/", {"color": "Green"}, **HTMX).content.decode()
    assert "already rejected by curator" in html.lower()
    assert Product.objects.get(pk=s.product_id).final_color == "Red"


def test_a_merchandiser_cannot_decide_mislabels(client, merchandiser):
    s = _mislabel()
    client.force_login(merchandiser)
    assert client.post(f"/review/{s.pk}/accept/").status_code == 403
    assert Suggestion.objects.get(pk=s.pk).status == "pending"


def test_bulk_approval_shows_the_count_asks_to_confirm_and_can_be_undone(client, merchandiser):
    items = [SuggestionFactory(prediction=PredictionFactory(product=ProductFactory(tag=""), confidence=c),
                               kind="impute") for c in (0.99, 0.98, 0.5)]
    client.force_login(merchandiser)
    page = client.get("/imputations/").content.decode()
    assert all(f'value="{s.pk}"' in page for s in items)
    html = client.post("/imputations/", {"scope": "selected", "ids": [items[0].pk, items[2].pk]}, **HTMX).content.decode()
    assert "<b>2</b> imputations selected will be approved" in html and "Approve 2" in html
    assert not Suggestion.objects.filter(status="accepted").exists()  # nothing before the confirmation
    # the list under the confirmation keeps the ticks (Cancel or a change of mind loses nothing)
    ticked = set(re.findall(r'name="ids" value="(\d+)" aria-label="[^"]+" checked', html))
    assert ticked == {str(items[0].pk), str(items[2].pk)}
    asked = client.post("/imputations/", {"scope": "threshold", "min_confidence": "80"}, **HTMX).content.decode()
    assert 'name="min_confidence" min="0" max="100" step="0.1" value="80"' in asked
    html = client.post("/imputations/", {"scope": "selected", "ids": [items[0].pk, items[2].pk], "confirm": "1"},
                       **HTMX).content.decode()
    assert "Accepted 2" in html
    html = client.post("/imputations/", {"scope": "threshold", "min_confidence": "95"}, **HTMX).content.decode()
    assert "<b>1</b> imputation at or above 95% will be approved" in html
    html = client.post("/imputations/", {"scope": "threshold", "min_confidence": "95", "confirm": "1"},
                       **HTMX).content.decode()
    assert "Accepted 1" in html
    assert Suggestion.objects.filter(status="accepted").count() == 3
    first = BulkApproval.objects.order_by("pk").first()
    html = client.post(f"/imputations/bulk/{first.pk}/", **HTMX).content.decode()
    assert "undone: 2 of 2 imputations back in the queue" in html
    assert set(Suggestion.objects.filter(pk__in=[items[0].pk, items[2].pk]).values_list("status", flat=True)) == {
        "pending"}
    assert client.post("/imputations/", {"scope": "threshold", "min_confidence": "abc"}, **HTMX).status_code == 200


@pytest.fixture
def run_jobs(monkeypatch):
    """Background jobs run when their transaction commits; pipeline batches are only recorded."""
    from colorreview import tasks

    queued = []
    monkeypatch.setattr(tasks.import_catalog_job, "apply_async",
                        lambda args=(), kwargs=None, **kw: tasks.import_catalog_job.apply(args, kwargs))
    monkeypatch.setattr(tasks.enqueue_run, "delay", lambda pk: tasks.enqueue_run.apply(args=(pk,)))
    monkeypatch.setattr(tasks.predict_products, "apply_async", lambda args, **kw: queued.append(tuple(args)))
    return queued


def _upload(client, catalogue: bytes, archive: bytes | None = None, capture=None):
    files = {"catalog": io.BytesIO(catalogue)}
    files["catalog"].name = "cat.csv"
    if archive is not None:
        files["images"] = io.BytesIO(archive)
        files["images"].name = "imgs.zip"
    with capture(execute=True):
        response = client.post("/import/", files)
    assert response.status_code == 302
    return client.get(response["Location"]).content.decode()


def test_import_upload_runs_in_the_background_and_queues_a_run(client, admin_user, run_jobs,
                                                               django_capture_on_commit_callbacks):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("shots/red.jpg", jpeg_bytes())
        z.writestr("../escape.jpg", jpeg_bytes())
    client.force_login(admin_user)
    html = _upload(client, b"sku,title,category,image,seller_color\nU1,Tee,Tshirts,shots/red.jpg,Red\n"
                           b",No sku,Tshirts,shots/red.jpg,\nU2,Esc,Tshirts,../escape.jpg,\n",
                   archive.getvalue(), django_capture_on_commit_callbacks)
    assert "missing sku" in html and "must be inside the uploaded archive" in html
    assert "finished" in html and 'hx-get="/import/' not in html  # the poller stopped
    assert Product.objects.get(sku="U1").image_checksum
    run = PipelineRun.objects.get()
    assert run_jobs == [([Product.objects.get(sku="U1").pk], run.pk)]
    assert f'hx-get="/runs/{run.pk}/progress/"' in html
    batch = ImportBatch.objects.get()
    assert batch.status == "finished" and batch.upload_dir == "" and batch.run == run


def test_an_upload_zipped_from_a_folder_finds_its_images_and_one_without_a_zip_says_so(
        client, admin_user, run_jobs, django_capture_on_commit_callbacks):
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("photos/red.jpg", jpeg_bytes())
        z.writestr("__MACOSX/photos/._red.jpg", b"fork")
    client.force_login(admin_user)
    html = _upload(client, b"sku,image\nU1,red.jpg\n", archive.getvalue(), django_capture_on_commit_callbacks)
    assert "finished" in html and Product.objects.get(sku="U1").image_checksum
    html = _upload(client, b"sku,image\nU2,red.jpg\n", None, django_capture_on_commit_callbacks)
    assert "image file not found: red.jpg (no image archive was uploaded" in html


def test_an_images_file_that_is_not_a_zip_is_refused_on_the_import_page(client, admin_user, settings, tmp_path):
    settings.COLORREVIEW_UPLOAD_DIR = tmp_path / "uploads"
    catalogue, images = io.BytesIO(b"sku,image\nU1,red.jpg\n"), io.BytesIO(jpeg_bytes())
    catalogue.name, images.name = "cat.csv", "red.jpg"
    client.force_login(admin_user)
    response = client.post("/import/", {"catalog": catalogue, "images": images}, follow=True)
    assert response.redirect_chain == [("/import/", 302)]
    assert "red.jpg is not a ZIP archive (it looks like a JPEG image): the images must be uploaded as one ZIP " \
           "archive (.zip) beside the CSV" in response.content.decode()
    assert not ImportBatch.objects.exists()


def test_import_progress_polls_until_the_import_ends(client, admin_user):
    batch = ImportBatch.objects.create(source_name="x.csv", status="running", bytes_total=100, bytes_done=40)
    client.force_login(admin_user)
    response = client.get(f"/import/{batch.pk}/", HTTP_HX_REQUEST="true")
    assert response.status_code == 200 and 'value="0.400"' in response.content.decode()
    client.post(f"/import/{batch.pk}/cancel/")
    assert ImportBatch.objects.get(pk=batch.pk).cancel_requested
    ImportBatch.objects.filter(pk=batch.pk).update(status="cancelled")
    assert client.get(f"/import/{batch.pk}/", HTTP_HX_REQUEST="true").status_code == 286


def test_an_upload_over_the_limit_is_refused_before_it_is_read(client, admin_user, settings, monkeypatch):
    settings.COLORREVIEW_MAX_UPLOAD_BYTES = 1000
    monkeypatch.setattr("colorreview.views.pages.import_upload_store", mock.Mock(side_effect=AssertionError))
    client.force_login(admin_user)
    catalogue = io.BytesIO(b"sku,image\n" + b"A,x.jpg\n" * 500)
    catalogue.name = "big.csv"
    response = client.post("/import/", {"catalog": catalogue})
    assert response.status_code == 413 and "the limit is" in response.content.decode()
    assert not ImportBatch.objects.exists()


def test_a_zip_member_cannot_escape_and_is_streamed(tmp_path):
    from colorreview.services.imports import extract_zip

    archive = tmp_path / "a.zip"
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("ok/a.jpg", b"x" * 10)
        z.writestr("../../outside.jpg", b"y")
        z.writestr("/abs.jpg", b"z")
        z.writestr("ok/../../sibling.jpg", b"w")
    into = tmp_path / "into"
    into.mkdir()
    extract_zip(archive, into, limit=1000)
    assert sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*.jpg")) == ["into/ok/a.jpg"]
    with pytest.raises(Exception, match="more than 5 bytes"):
        extract_zip(archive, tmp_path / "again", limit=5)


def test_run_progress_polls_until_the_run_ends(client, curator):
    run = PipelineRun.objects.create(model_version="v", total=4, done=2)
    client.force_login(curator)
    assert client.get(f"/runs/{run.pk}/progress/", **HTMX).status_code == 200
    PipelineRun.objects.filter(pk=run.pk).update(done=4, status="finished")
    response = client.get(f"/runs/{run.pk}/progress/", **HTMX)
    assert response.status_code == 286 and b"finished" in response.content


def test_export_download_for_admins_only(client, curator, admin_user):
    ProductFactory(sku="=cmd", tag="Red")
    client.force_login(curator)
    assert client.get("/export.csv").status_code == 403
    client.force_login(admin_user)
    response = client.get("/export.csv")
    assert response["Content-Type"].startswith("text/csv") and "attachment" in response["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))
    assert rows[0][0] == "sku" and rows[1][0] == "'=cmd"


def _download(client, query: str) -> bytes:
    response = client.get(f"/export.csv{query}")
    assert response.status_code == 200, response.content
    return b"".join(response.streaming_content)


def test_the_export_page_offers_the_filters_and_downloads_with_them(client, admin_user):
    ProductFactory(sku="C1", title="Café tee", tag="Red", category="Tshirts")
    client.force_login(admin_user)
    page = client.get("/")
    assert 'href="/export/">Export</a>' in page.content.decode() and 'href="/export.csv"' not in page.content.decode()
    html = client.get("/export/?kind=impute").content.decode()
    start = html.index('<form class="export-form"')
    form = html[start:html.index("</form>", start)]
    assert 'method="get" action="/export.csv"' in form
    assert re.findall(r'<select id="export-\w+" name="(\w+)"', form) == ["kind", "status", "category", "changed",
                                                                         "archived", "bom"]
    assert '<option value="impute" selected>Imputation: the seller gave no colour' in form
    assert re.search(r'<option value="Tshirts"\s*>Tshirts \(1 product\)</option>', form)
    assert "Download CSV" in form
    # what the form sends as it comes: every filter empty
    data = _download(client, "?kind=&status=&category=&changed=&archived=exclude&bom=1")
    assert "Café tee".encode() in data
    assert b"C1" not in _download(client, "?kind=impute&category=Tshirts")


def test_the_page_s_download_starts_with_a_bom_for_excel_unless_asked_not_to(client, admin_user):
    ProductFactory(sku="C1", title="Café tee")
    client.force_login(admin_user)
    form = client.get("/export/").content.decode()
    assert re.search(r'<option value="1"\s*>Excel and other spreadsheets: UTF-8 with a byte-order mark', form)
    assert '<option value="0" selected>Scripts and databases' in client.get("/export/?bom=0").content.decode()
    excel = _download(client, "?bom=1")
    assert excel.startswith(b"\xef\xbb\xbfsku,") and excel.decode("utf-8-sig").splitlines()[1].startswith("C1,Café tee")
    assert _download(client, "?bom=0") == excel[3:]
    assert _download(client, "") == excel  # a bare /export.csv is downloaded to be opened, as the page's file
    assert client.get("/export.csv?bom=yes").status_code == 400


def test_a_misspelt_export_parameter_is_refused_naming_it(client, admin_user):
    ProductFactory(sku="C1", tag="Red")
    client.force_login(admin_user)
    response = client.get("/export.csv?kinds=impute&status=pending&archive=only")
    assert response.status_code == 400
    assert response.content.decode() == (
        "Nothing exported: unknown parameter 'archive', 'kinds' (the export takes: kind, status, category, changed, "
        "archived, bom)\n")
    assert client.get("/export.csv?format=json").status_code == 400  # only the API reads DRF's format


def test_an_export_with_an_unknown_filter_value_exports_nothing_and_says_why(client, admin_user):
    ProductFactory(sku="A1", tag="Red")
    client.force_login(admin_user)
    response = client.get("/export.csv?status=bogus&archived=only")
    assert response.status_code == 400 and not response.has_header("Content-Disposition")
    assert "status='bogus' (one of: pending, accepted, rejected, corrected)" in response.content.decode()
    assert client.get("/export.csv?status=accepted&changed=1").status_code == 200


def test_media_is_served_to_reviewers_only(client, curator, settings):
    path = settings.MEDIA_ROOT / "images" / "ab" / "x.jpg"
    path.parent.mkdir(parents=True)
    path.write_bytes(jpeg_bytes())
    assert client.get("/media/images/ab/x.jpg").status_code == 302
    client.force_login(curator)
    assert client.get("/media/images/ab/x.jpg").status_code == 200
    assert client.get("/media/images/../../etc/passwd").status_code in (400, 404)
    weights = settings.MEDIA_ROOT / "models" / "r1" / "colornet.pt"  # a promoted model's copy: not served
    weights.parent.mkdir(parents=True)
    weights.write_bytes(b"weights")
    assert client.get("/media/models/r1/colornet.pt").status_code == 404


def test_product_page_shows_history(client, curator):
    from colorreview.services.review import suggestion_accept

    s = _mislabel()
    suggestion_accept(suggestion=s, user=curator)
    client.force_login(curator)
    html = client.get(f"/products/{s.product.sku}/").content.decode()
    row = re.search(r'<tr class="event-accept">(.*?)</tr>', html, re.S).group(1)
    cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
    assert cells[1:5] == ["Accepted (pending → accepted)", "curator", "Red", "Blue"]


def test_uploaded_catalogues_cannot_reach_server_files(client, admin_user, tmp_path, run_jobs,
                                                       django_capture_on_commit_callbacks):
    secret = tmp_path / "server.jpg"
    secret.write_bytes(jpeg_bytes())
    catalogue = io.BytesIO(f"sku,title,category,image,seller_color\nS1,Tee,Tshirts,{secret},Red\n".encode())
    catalogue.name = "cat.csv"
    client.force_login(admin_user)
    html = _upload(client, catalogue.getvalue(), capture=django_capture_on_commit_callbacks)
    assert "must be inside the uploaded archive" in html
    assert Product.objects.get(sku="S1").image_checksum == ""


def test_a_plain_form_post_goes_back_to_the_queue(client, curator):
    s = _mislabel()
    client.force_login(curator)
    response = client.post(f"/review/{s.pk}/accept/", HTTP_REFERER="/review/?kind=mislabel")
    assert response.status_code == 302 and response["Location"] == "/review/?kind=mislabel"
    assert Suggestion.objects.get(pk=s.pk).status == "accepted"


def test_the_dashboard_draws_its_charts_from_real_decisions(client, curator, admin_user):
    from colorreview.services.review import suggestion_accept, suggestion_reject

    sure, unsure = _mislabel(), _mislabel()
    Suggestion.objects.filter(pk=unsure.pk).update(score=0.55)
    suggestion_accept(suggestion=sure, user=curator)
    suggestion_reject(suggestion=Suggestion.objects.get(pk=unsure.pk), user=curator)
    client.force_login(admin_user)
    html = client.get("/").content.decode()
    assert html.count('<svg class="chart"') == 3 and "<script" not in html.split('id="charts"')[1].split("</section>")[0]
    assert "95–100%: 1 of 1 confirmed" in html and "50–60%: 0 rejected" not in html and "50–60%: 1 rejected" in html
    assert "Today" not in html and ": 2 decisions</title>" in html  # both decided today
    assert "seller Red, final Blue: 1" in html and "curator 2" in html


def test_a_decision_on_a_suggestion_that_is_gone_says_so(client, curator):
    client.force_login(curator)
    html = client.post("/review/999999/accept/", **HTMX).content.decode()
    assert 'id="suggestion-999999"' in html and "no longer exists" in html
    plain = client.post("/review/999999/accept/", follow=True)
    assert plain.status_code == 200 and b"no longer exists" in plain.content


def test_paging_links_carry_one_page_parameter(client, curator, monkeypatch):
    monkeypatch.setattr("colorreview.views.review.PAGE_SIZE", 1)
    for _ in range(3):
        _mislabel()
    client.force_login(curator)
    html = client.get("/review/?kind=mislabel").content.decode()
    following = re.search(r'href="\?(kind=mislabel&amp;page=[^"&]+)" rel="next"', html).group(1)
    html = client.get("/review/?" + following.replace("&amp;", "&")).content.decode()
    links = re.findall(r'href="\?([^"]*)"', html)  # previous, first, next: the filter once, a page at most once
    assert len(links) == 3 and all(link.count("page=") <= 1 and link.count("kind=") == 1 for link in links)
    assert 'rel="prev"' in html and 'rel="next"' in html


def test_undo_brings_the_card_back_and_the_note_shows_as_text(client, curator):
    s = _mislabel()
    client.force_login(curator)
    client.post(f"/review/{s.pk}/reject/", {"note": "the <i>seller</i> is right"}, **HTMX)
    response = client.post("/review/undo/", **HTMX)
    assert response.status_code == 200 and 'class="card pending' in response.content.decode()
    assert client.post("/review/undo/", **HTMX).status_code == 409  # nothing left to undo
    page = client.get(f"/products/{s.product.sku}/").content.decode()
    assert "the &lt;i&gt;seller&lt;/i&gt; is right" in page and "Undone" in page


def test_an_undo_says_when_the_product_changed_since_and_the_suggestion_no_longer_applies(client, curator):
    s = _mislabel()  # tagged Red, read as Blue
    client.force_login(curator)
    client.post(f"/review/{s.pk}/accept/", {"note": ""}, **HTMX)
    from colorreview.models import ReviewEvent
    from colorreview.services.catalog_write import TAG_CHANGE

    Product.objects.filter(pk=s.product_id).update(seller_color=ColorName.objects.get(name="Blue"),
                                                   seller_color_raw="Blue")  # a re-import agrees with the model
    ReviewEvent.objects.create(product_id=s.product_id, action="import", from_color="Blue", to_color="Blue",
                               note=f"re-imported: {TAG_CHANGE} Red → Blue (catalog.csv)")
    html = client.post("/review/undo/", **HTMX).content.decode()
    assert 'class="card superseded' in html
    assert "undone; taken back, but the seller tag changed since the decision (Red → Blue): the suggestion is " \
           "superseded" in html
    assert not Suggestion.objects.filter(product_id=s.product_id, status="pending").exists()
    assert Product.objects.get(pk=s.product_id).final_color == "Blue"  # the tag's colour, as it is now


def test_a_search_longer_than_any_column_is_cut_with_a_word_and_the_export_refuses_it(client, admin_user):
    client.force_login(admin_user)
    for url in ("/products/?q=", "/products/?category=", "/review/?q=", "/review/?color="):
        response = client.get(url + "x" * 60_000)
        assert response.status_code == 200, url
        assert "was cut to its first 500 characters" in response.content.decode(), url
    refused = client.get("/export.csv?category=" + "x" * 60_000)
    assert refused.status_code == 400 and "category is longer than 500 characters" in refused.content.decode()


def test_a_card_never_rounds_a_probability_to_certainty(client, curator):
    s = _mislabel()
    Suggestion.objects.filter(pk=s.pk).update(score=0.9996, threshold=0.99)
    type(s.prediction).objects.filter(pk=s.prediction_id).update(probabilities={"Blue": 0.9996, "Red": 0.0004})
    client.force_login(curator)
    html = client.get("/review/").content.decode()
    assert "over 99.9% probability that the tag is wrong: the model gives Red only under 0.1%, and reads Blue" in html
    assert "reaches the threshold of 99%" in html and ">100%<" not in html


def test_a_card_says_when_the_tag_is_a_colour_the_model_does_not_name(client, curator):
    s = _mislabel()
    Suggestion.objects.filter(pk=s.pk).update(seller_color="Burgundy", score=0.98)
    client.force_login(curator)
    html = client.get("/review/").content.decode()
    assert "the model does not name Burgundy itself, so the tag is judged by its family; it gives only 2% to" in html


def test_a_fragment_asked_for_after_the_session_ended_sends_the_whole_window_to_sign_in(client, merchandiser):
    headers = {"HTTP_HX_REQUEST": "true", "HTTP_HX_CURRENT_URL": "http://testserver/imputations/?page=abc"}
    r = client.post("/imputations/", {"scope": "selected", "ids": ["1"]}, **headers)
    assert r.status_code == 200 and r.content == b""
    assert r["HX-Redirect"] == "/login/?next=%2Fimputations%2F%3Fpage%3Dabc&expired=1"
    page = client.get(r["HX-Redirect"]).content.decode()
    assert "Your session has ended, so what you just did was not saved." in page
    assert client.post("/imputations/", {"scope": "selected"}).status_code == 302  # a whole page: a plain redirect
    client.force_login(merchandiser)
    assert not client.post("/imputations/", {"scope": "selected"}, **headers).has_header("HX-Redirect")


def test_a_form_sent_after_the_session_ended_comes_back_to_its_page_after_signing_in(client, curator):
    product = ProductFactory(tag="Red")
    r = client.post(f"/products/{product.sku}/color/", {"color": "Blue", "note": "sample"},
                    HTTP_REFERER=f"http://testserver/products/{product.sku}/?from=list")
    assert r.status_code == 302
    assert r["Location"] == f"/login/?next=%2Fproducts%2F{product.sku}%2F%3Ffrom%3Dlist&expired=1"
    assert "Your session has ended, so what you just did was not saved." in client.get(r["Location"]).content.decode()
    signed_in = client.post(r["Location"], {"username": "curator", "password": "pw"})
    assert signed_in["Location"] == f"/products/{product.sku}/?from=list"
    assert client.get(signed_in["Location"]).status_code == 200
    assert Product.objects.get(pk=product.pk).final_color == "Red"


def test_a_form_sent_after_the_session_ended_from_another_site_comes_back_to_the_dashboard(client, admin_user):
    for referer in ("https://elsewhere.example/thresholds/", "http://testserver//elsewhere.example/", ""):
        r = client.post("/thresholds/", {"category": "Jeans", "impute": "90"}, HTTP_REFERER=referer)
        assert r["Location"] == "/login/?next=%2F&expired=1", referer
    assert client.get("/thresholds/")["Location"] == "/login/?next=/thresholds/"  # a page: as Django sends it
    client.force_login(admin_user)
    assert client.post("/logout/")["Location"] == "/login/?signed_out=1"  # signing out is no ended session


def test_the_queues_are_fetched_again_on_back_rather_than_restored_stale(client, curator, merchandiser):
    client.force_login(curator)
    r = client.get("/review/")
    assert "no-store" in r["Cache-Control"] and '"historyCacheSize": 0, "refreshOnHistoryMiss": true' in r.content.decode()
    client.force_login(merchandiser)
    assert "no-store" in client.get("/imputations/")["Cache-Control"]


def test_the_dashboard_counts_the_decisions_that_stand(client, curator, admin_user):
    from colorreview.services.review import suggestion_accept, suggestion_undo_last

    first, second = _mislabel(), _mislabel()
    suggestion_accept(suggestion=first, user=curator)
    suggestion_accept(suggestion=second, user=curator)
    suggestion_undo_last(user=curator)  # the second is taken back
    client.force_login(admin_user)
    html = client.get("/").content.decode()
    assert "<b>1</b> decisions made" in html and "curator 1" in html and ": 1 decisions</title>" in html


def test_a_product_whose_photo_could_not_be_read_says_so_instead_of_an_empty_frame(client, curator):
    product = ProductFactory(sku="BROKEN-2", tag="Red")
    Product.objects.filter(pk=product.pk).update(image_error="image is truncated or corrupt", status="failed",
                                                 status_detail="image is truncated or corrupt")
    client.force_login(curator)
    html = client.get("/products/BROKEN-2/").content.decode()
    assert "The photo could not be read: image is truncated or corrupt" in html
    assert "data-toggle-mask" not in html and "failed: <span class=\"error\">image is truncated" in html


def test_the_colour_picker_asks_for_a_choice_when_the_product_has_none(client, curator):
    ProductFactory(sku="NOCOLOUR-1", tag="")
    client.force_login(curator)
    html = client.get("/products/NOCOLOUR-1/").content.decode()
    assert '<select name="color" required><option value="" selected disabled>choose a colour</option>' in html


def test_a_running_import_shows_how_much_of_the_file_is_read(client, admin_user):
    batch = ImportBatch.objects.create(source_name="c.csv", status="running", bytes_total=1000, bytes_done=250)
    client.force_login(admin_user)
    html = client.get(f"/import/{batch.pk}/", HTTP_HX_REQUEST="true").content.decode()
    assert "25% of the file read" in html


def test_reopening_on_a_card_says_so_and_keeps_the_reason(client, curator, admin_user):
    from colorreview.models import ReviewEvent
    from colorreview.services.review import suggestion_accept

    s = _mislabel()
    suggestion_accept(suggestion=s, user=curator)
    client.force_login(admin_user)
    html = client.get("/review/?status=accepted").content.decode()
    assert 'placeholder="why (optional)"' in html
    card = client.post(f"/review/{s.pk}/reopen/", {"note": "the photo was the wrong variant"}, **HTMX).content.decode()
    assert 'role="status">Reopened: the suggestion is open again' in card
    assert ReviewEvent.objects.get(action="reopen").note == "the photo was the wrong variant"


def test_a_garment_in_a_colour_no_class_names_is_flagged_and_its_card_says_why(client, curator, thresholds,
                                                                                monkeypatch):
    from colorreview.services.suggestions import suggestion_refresh

    monkeypatch.setattr("colorreview.services.suggestions._card_calibration",
                        lambda: {"outside": {"colours": {"Teal": 0.75}}})
    product = ProductFactory(tag="Green")
    PredictionFactory(product=product, predicted_color="Green", family="Green", dominant_colors=[
        {"color": "Teal", "hex": "#1f7a7a", "fraction": 0.83, "family": "Blue", "name": "teal", "delta_e": 3.0},
        {"color": "White", "hex": "#f7f7f7", "fraction": 0.17, "family": "White", "name": "white", "delta_e": 1.0}])
    flag = suggestion_refresh(product=product)  # the classifier reads the tag itself: Green at 97%
    assert (flag.kind, flag.severity, flag.suggested_color, flag.score, flag.threshold) == (
        "mislabel", "family", "Teal", 0.83, 0.75)
    client.force_login(curator)
    html = client.get("/review/").content.decode()
    assert ("83% of the garment reads as Teal, a colour the classifier does not name and sellers tag as different "
            "colours, so a Green tag is likely wrong (the classifier reads Green)") in html
    client.post(f"/review/{flag.pk}/accept/", **HTMX)
    assert Product.objects.get(pk=product.pk).final_color == "Teal"


def test_a_shade_is_flagged_only_in_a_family_the_card_names_and_its_card_says_why(client, curator, thresholds,
                                                                                  monkeypatch):
    from colorreview.services.suggestions import suggestion_refresh

    thresholds.COLORREVIEW_SHADE_SUGGESTIONS = thresholds.COLORREVIEW_SHADE_THRESHOLD = None  # as the card says
    thresholds.COLORREVIEW_FLAG_RULE = None
    monkeypatch.setattr("colorreview.services.suggestions._card_calibration",
                        lambda: {"rule": "tag", "shade_families": {"families": {"Blue": 0.75}}})
    navy = ProductFactory(tag="Blue")
    PredictionFactory(product=navy, predicted_color="Navy Blue", family="Blue", confidence=0.78,
                      probabilities=probabilities(**{"Navy Blue": 0.78, "Blue": 0.2}))
    flag = suggestion_refresh(product=navy)
    assert (flag.kind, flag.severity, flag.suggested_color, flag.threshold) == ("mislabel", "shade", "Navy Blue", 0.75)
    assert flag.score == pytest.approx(0.8)
    off_white = ProductFactory(tag="Off White")  # the card gives the White family no shade flags
    PredictionFactory(product=off_white, predicted_color="White", family="White", confidence=0.97,
                      probabilities=probabilities(White=0.97, **{"Off White": 0.02}))
    assert suggestion_refresh(product=off_white) is None
    client.force_login(curator)
    html = client.get("/review/").content.decode()
    assert ("The tag names another shade of the same colour family: the model reads Navy Blue at 78% and gives "
            "Blue only 20%. It is shown because that reaches the threshold of 75%.") in html
    assert """<span class="badge" title="another shade of the tag's colour family">shade</span>""" in html


def test_shade_flags_come_after_the_family_flags_in_the_queue_the_work_queue_and_the_api(client, curator, thresholds,
                                                                                           monkeypatch):
    from rest_framework.test import APIClient

    from colorreview.services.suggestions import suggestion_refresh

    thresholds.COLORREVIEW_SHADE_SUGGESTIONS = thresholds.COLORREVIEW_SHADE_THRESHOLD = None
    thresholds.COLORREVIEW_FLAG_RULE = None
    monkeypatch.setattr("colorreview.services.suggestions._card_calibration",
                        lambda: {"rule": "tag", "shade_families": {"families": {"Blue": 0.75}}})
    navy = ProductFactory(sku="NAVY", tag="Blue")
    PredictionFactory(product=navy, predicted_color="Navy Blue", family="Blue", confidence=0.99,
                      probabilities=probabilities(**{"Navy Blue": 0.99, "Blue": 0.005}))
    red = ProductFactory(sku="RED", tag="Red")
    PredictionFactory(product=red, predicted_color="Green", family="Green", confidence=0.93,
                      probabilities=probabilities(Green=0.93, Red=0.05))
    shade, family = suggestion_refresh(product=navy), suggestion_refresh(product=red)
    assert (shade.severity, shade.tier, family.severity, family.tier) == ("shade", 1, "family", 0)
    assert shade.score > family.score  # more certain, yet a shade: it waits behind the other family
    client.force_login(curator)
    html = client.get("/review/").content.decode()  # the work queue: cards in order
    assert html.index("RED") < html.index("NAVY")
    decided = client.get("/review/?status=").content.decode()  # every state, the same order
    assert decided.index("RED") < decided.index("NAVY")
    api = APIClient()
    api.force_authenticate(curator)
    listed = api.get("/api/suggestions/").json()["results"]
    assert [(r["sku"], r["tier"]) for r in listed] == [("RED", 0), ("NAVY", 1)]


def test_the_product_page_shows_its_open_suggestion_with_a_link_to_review_it(client, curator):
    s = _mislabel()
    client.force_login(curator)
    html = client.get(f"/products/{s.product.sku}/").content.decode()
    section = html.split('id="open-suggestion">')[1].split("</dd>")[0]
    assert f"mislabel flag: <b>{s.suggested_color}</b> (the tag 97% likely wrong)" in section
    assert f'href="/review/?q={s.product.sku}&amp;kind=mislabel">review it</a>' in section
    Suggestion.objects.filter(pk=s.pk).update(status="rejected")
    assert 'id="open-suggestion">none</dd>' in client.get(f"/products/{s.product.sku}/").content.decode()


def test_a_merchandiser_is_told_whose_open_flag_it_is_and_that_setting_the_colour_closes_it(client, merchandiser):
    s = _mislabel()
    client.force_login(merchandiser)
    html = client.get(f"/products/{s.product.sku}/").content.decode()
    section = html.split('id="open-suggestion">')[1].split("</dd>")[0]
    assert "review it</a>" not in section and "for curators to review" in section
    assert "Setting the colour closes the open mislabel flag (Blue), which curators would otherwise review" in html
    listed = client.get("/products/?open=none").content.decode()
    assert '<option value="none" selected>With nothing open for you</option>' in listed


def test_sign_in_keeps_the_username_after_a_wrong_password_says_when_signed_out_and_skips_the_form_when_in(
        client, curator):
    page = client.post("/login/", {"username": "curator", "password": "wrong"}).content.decode()
    assert "didn&#x27;t match" in page or "didn't match" in page
    assert 'name="username" value="curator"' in page
    assert "You are signed out." in client.get("/login/?signed_out=1").content.decode()
    client.force_login(curator)
    response = client.get("/login/")
    assert response.status_code == 302 and response["Location"] == "/"


def test_the_dashboard_names_product_states_in_words(client, admin_user):
    from colorreview.templatetags.colorreview import product_state

    assert product_state("pending") == "waiting for the pipeline" and product_state("no_prediction") == "no prediction"
    assert product_state("something") == "something"
    ProductFactory(sku="S1")
    client.force_login(admin_user)
    assert client.get("/").status_code == 200


def test_an_unknown_review_action_is_not_found(client, curator):
    s = _mislabel()
    client.force_login(curator)
    assert client.post(f"/review/{s.pk}/bogus/", **HTMX).status_code == 404
    assert Suggestion.objects.get(pk=s.pk).status == "pending"


def test_the_heat_map_shows_the_colours_that_changed_before_the_merely_common_ones():
    from colorreview.selectors import seller_vs_final

    counts = [[c, c, 100 - i] for i, c in enumerate(["Black", "White", "Blue", "Grey", "Red"])] + [["Skin", "Navy Blue", 1]]
    colors, pairs = seller_vs_final(limit=4, counts=counts)
    assert colors[:2] == ["Navy Blue", "Skin"] and pairs[("Skin", "Navy Blue")] == 1
    assert colors[2:] == ["Black", "White"]


def test_the_dashboard_says_when_nothing_was_decided_yet(client, admin_user):
    client.force_login(admin_user)
    assert 'id="no-decisions"' in client.get("/").content.decode()


def test_the_product_page_outlines_the_reading_of_the_region_its_category_picks_now(client, curator):
    product = ProductFactory(category="Trousers")
    PredictionFactory(product=product, category_region="lower", mask="masks/lower.png")
    PredictionFactory(product=product, category_region="upper", mask="masks/upper.png")  # newer, read as a top
    client.force_login(curator)
    html = client.get(f"/products/{product.sku}/").content.decode()
    assert '<img class="mask" src="/media/masks/lower.png" alt="garment mask">' in html
    assert "data-toggle-mask" in html and 'src="/media/masks/upper.png"' not in html


def test_the_product_list_shows_what_the_model_reads_and_the_open_suggestion(client, curator):
    flagged = _mislabel()  # tagged Red, read as Blue
    quiet = ProductFactory(sku="QUIET-1", tag="Green")
    PredictionFactory(product=quiet, predicted_color="Green", family="Green", confidence=0.91)
    ProductFactory(sku="UNREAD-1", tag="Black")
    client.force_login(curator)
    html = client.get("/products/").content.decode()
    rows = {row.split('">', 2)[1].split("<")[0]: row for row in html.split("<tr><td><a href=")[1:]}
    assert "Blue</span> <span class=\"small\">97%</span>" in rows[flagged.product.sku]
    assert f"?q={flagged.product.sku}&amp;kind=mislabel" in rows[flagged.product.sku]
    assert "flag → Blue</a>" in rows[flagged.product.sku]
    assert "Green</span> <span class=\"small\">91%</span>" in rows["QUIET-1"]
    assert '<td class="open">—</td>' in rows["QUIET-1"]
    assert '<td class="reading">—</td>' in rows["UNREAD-1"]


def test_the_product_list_filters_by_a_category_it_offers(client, curator):
    ProductFactory(sku="JEANS-1", category="Jeans", tag="Blue")
    ProductFactory(sku="SHIRT-1", category="Shirts", tag="White")
    client.force_login(curator)
    html = client.get("/products/").content.decode()
    assert '<option value="Jeans" >Jeans (1)</option>' in html and "SHIRT-1" in html
    filtered = client.get("/products/?category=jeans").content.decode()
    assert "JEANS-1" in filtered and "SHIRT-1" not in filtered
    assert '<option value="Jeans" selected>Jeans (1)</option>' in filtered


def test_a_card_offers_the_colours_the_model_reads_next_as_one_click_corrections(client, curator):
    product = ProductFactory(sku="ALT-1", tag="Cream")
    prediction = PredictionFactory(product=product, predicted_color="Black", family="Black", confidence=0.5,
                                   probabilities=probabilities(Black=0.5, Charcoal=0.3, Cream=0.01))
    flag = SuggestionFactory(prediction=prediction, kind="mislabel", score=0.99)
    client.force_login(curator)
    html = client.get("/review/").content.decode()
    alts = html.split('<div class="alts">')[1].split("</div>")[0]
    # Black is the suggestion, Cream the tag: the next readings are Charcoal and the rest (Grey, 19%)
    assert [re.search(r'value="([^"]+)"', form).group(1) for form in alts.split('<form class="alt"')[1:]] == [
        "Charcoal", "Grey"]
    assert "Charcoal 30%" in alts and f'hx-post="/review/{flag.pk}/correct/"' in alts
    answer = client.post(f"/review/{flag.pk}/correct/", {"color": "Charcoal", "note": ""}, **HTMX)
    assert answer.status_code == 200
    flag.refresh_from_db()
    assert (flag.status, flag.final_color) == ("corrected", "Charcoal")
    assert Product.objects.get(pk=product.pk).final_color == "Charcoal"


def test_a_colour_taken_out_of_the_vocabulary_is_not_offered_as_a_one_click_correction(client, curator):
    ColorName.objects.filter(name="Charcoal").update(active=False)
    product = ProductFactory(sku="ALT-2", tag="Cream")
    SuggestionFactory(prediction=PredictionFactory(product=product, predicted_color="Black", family="Black",
                                                   confidence=0.5,
                                                   probabilities=probabilities(Black=0.5, Charcoal=0.3, Grey=0.15)),
                      kind="mislabel", score=0.99)
    client.force_login(curator)
    alts = client.get("/review/").content.decode().split('<div class="alts">')[1].split("</div>")[0]
    assert [re.search(r'value="([^"]+)"', form).group(1) for form in alts.split('<form class="alt"')[1:]] == ["Grey"]


def test_the_dashboard_says_how_many_open_flags_are_shade_flags(client, curator):
    _mislabel()
    SuggestionFactory(prediction=PredictionFactory(product=ProductFactory(sku="SH-1", tag="Blue"),
                                                   predicted_color="Navy Blue"), kind="mislabel", severity="shade")
    client.force_login(curator)
    html = client.get("/").content.decode()
    assert "2 mislabel flags</a> (1 of them shade flags, another shade of the tag's colour family, " \
           "listed last)" in html


def test_the_product_list_shows_only_the_open_suggestions_the_viewer_may_decide_and_keeps_a_new_category(
        client, merchandiser):
    flagged = _mislabel()
    client.force_login(merchandiser)
    html = client.get("/products/").content.decode()
    row = html.split(f'">{flagged.product.sku}</a>')[1].split("</tr>")[0]
    assert '<td class="open">—</td>' in row  # a merchandiser does not decide mislabel flags
    newer = client.get("/products/?category=Ponchos").content.decode()  # not in the summary yet
    assert '<option value="Ponchos" selected>Ponchos</option>' in newer


def test_the_product_list_filters_by_what_is_open_of_the_kinds_the_viewer_decides(client, curator, merchandiser):
    flagged = _mislabel()
    SuggestionFactory(prediction=PredictionFactory(product=ProductFactory(sku="IMP-1", tag=""),
                                                   predicted_color="Blue"), kind="impute")
    ProductFactory(sku="QUIET-1", tag="Green")
    client.force_login(curator)
    html = client.get("/products/?open=mislabel").content.decode()
    assert flagged.product.sku in html and "IMP-1" not in html and "QUIET-1" not in html
    assert '<option value="mislabel" selected>With an open mislabel flag</option>' in html
    assert 'value="impute"' not in html.split('<select name="open">')[1].split("</select>")[0]
    nothing_open = client.get("/products/?open=none").content.decode()
    assert "QUIET-1" in nothing_open and "IMP-1" in nothing_open and f">{flagged.product.sku}<" not in nothing_open
    refused = client.get("/products/?open=impute", follow=True).content.decode()  # not a curator's kind
    assert "no open-suggestion filter &#x27;impute&#x27; for you" in refused and "QUIET-1" in refused
    client.force_login(merchandiser)
    assert "IMP-1" in client.get("/products/?open=impute").content.decode()


def test_the_queue_lists_the_flags_of_another_family_or_the_shade_flags_alone(client, curator):
    family = SuggestionFactory(prediction=PredictionFactory(product=ProductFactory(sku="FAM-1", tag="Red"),
                                                            predicted_color="Blue"), kind="mislabel",
                               severity="family", score=0.9)
    shade = SuggestionFactory(prediction=PredictionFactory(product=ProductFactory(sku="SHD-1", tag="Blue"),
                                                           predicted_color="Navy Blue"), kind="mislabel",
                              severity="shade", score=0.99)
    client.force_login(curator)
    both = client.get("/review/").content.decode()
    assert both.index("FAM-1") < both.index("SHD-1") and '<select name="severity">' in both
    shades = client.get("/review/?severity=shade").content.decode()
    assert f'id="suggestion-{shade.pk}"' in shades and f'id="suggestion-{family.pk}"' not in shades
    assert '<option value="shade" selected>' in shades
    families = client.get("/review/?severity=family").content.decode()
    assert f'id="suggestion-{family.pk}"' in families and f'id="suggestion-{shade.pk}"' not in families
    assert f'id="suggestion-{shade.pk}"' in client.get("/review/?severity=bright").content.decode()  # ignored


def test_a_merchandiser_gets_no_flag_level_filter(client, merchandiser):
    client.force_login(merchandiser)
    assert '<select name="severity">' not in client.get("/review/").content.decode()
