from __future__ import annotations

import csv
import io
import zipfile

import pytest

from colorreview.models import PipelineRun, Product, Suggestion
from tests.conftest import jpeg_bytes
from tests.factories import PredictionFactory, ProductFactory, SuggestionFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _mislabel():
    product = ProductFactory(tag="Red")
    return SuggestionFactory(prediction=PredictionFactory(product=product, predicted_color="Blue"), kind="mislabel")


def test_pages_need_a_login(client):
    for url in ("/", "/review/", "/imputations/", "/import/", "/export.csv", "/products/"):
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


def test_bulk_approval_of_imputations(client, merchandiser):
    items = [SuggestionFactory(prediction=PredictionFactory(product=ProductFactory(tag=""), confidence=c),
                               kind="impute") for c in (0.99, 0.98, 0.5)]
    client.force_login(merchandiser)
    page = client.get("/imputations/").content.decode()
    assert all(f'value="{s.pk}"' in page for s in items)
    html = client.post("/imputations/", {"scope": "selected", "ids": [items[0].pk, items[2].pk]}, **HTMX).content.decode()
    assert "Accepted 2" in html
    html = client.post("/imputations/", {"scope": "threshold", "min_confidence": "95"}, **HTMX).content.decode()
    assert "Accepted 1" in html
    assert Suggestion.objects.filter(status="accepted").count() == 3


def test_import_upload_with_an_image_archive_queues_a_run(client, admin_user, monkeypatch,
                                                          django_capture_on_commit_callbacks):
    queued = []
    monkeypatch.setattr("colorreview.tasks.predict_products.delay", lambda ids, run: queued.append((ids, run)))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("shots/red.jpg", jpeg_bytes())
        z.writestr("../escape.jpg", jpeg_bytes())
    catalogue = io.BytesIO(b"sku,title,category,image,seller_color\nU1,Tee,Tshirts,shots/red.jpg,Red\n"
                           b",No sku,Tshirts,shots/red.jpg,\nU2,Esc,Tshirts,../escape.jpg,\n")
    catalogue.name, archive.name = "cat.csv", "imgs.zip"
    archive.seek(0)
    client.force_login(admin_user)
    with django_capture_on_commit_callbacks(execute=True):
        html = client.post("/import/", {"catalog": catalogue, "images": archive}).content.decode()
    assert "missing sku" in html and "must be inside the uploaded archive" in html
    assert Product.objects.get(sku="U1").image_checksum
    run = PipelineRun.objects.get()
    assert queued == [([Product.objects.get(sku="U1").pk], run.pk)]
    assert f'hx-get="/runs/{run.pk}/progress/"' in html


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
    rows = list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert rows[0][0] == "sku" and rows[1][0] == "'=cmd"


def test_media_is_served_to_reviewers_only(client, curator, settings):
    path = settings.MEDIA_ROOT / "images" / "ab" / "x.jpg"
    path.parent.mkdir(parents=True)
    path.write_bytes(jpeg_bytes())
    assert client.get("/media/images/ab/x.jpg").status_code == 302
    client.force_login(curator)
    assert client.get("/media/images/ab/x.jpg").status_code == 200
    assert client.get("/media/images/../../etc/passwd").status_code in (400, 404)


def test_product_page_shows_history(client, curator):
    from colorreview.services.review import suggestion_accept

    s = _mislabel()
    suggestion_accept(suggestion=s, user=curator)
    client.force_login(curator)
    html = client.get(f"/products/{s.product.sku}/").content.decode()
    assert "accept" in html and "by curator" in html and "Red → Blue" in html


def test_uploaded_catalogues_cannot_reach_server_files(client, admin_user, tmp_path):
    secret = tmp_path / "server.jpg"
    secret.write_bytes(jpeg_bytes())
    catalogue = io.BytesIO(f"sku,title,category,image,seller_color\nS1,Tee,Tshirts,{secret},Red\n".encode())
    catalogue.name = "cat.csv"
    client.force_login(admin_user)
    html = client.post("/import/", {"catalog": catalogue}).content.decode()
    assert "must be inside the uploaded archive" in html
    assert Product.objects.get(sku="S1").image_checksum == ""


def test_a_plain_form_post_goes_back_to_the_queue(client, curator):
    s = _mislabel()
    client.force_login(curator)
    response = client.post(f"/review/{s.pk}/accept/", HTTP_REFERER="/review/?kind=mislabel")
    assert response.status_code == 302 and response["Location"] == "/review/?kind=mislabel"
    assert Suggestion.objects.get(pk=s.pk).status == "accepted"
