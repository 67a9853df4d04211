"""The product page's Archive and Unarchive (admins only), its banner and history, the product list's
filter and the export's option."""

from __future__ import annotations

import csv
import io

import pytest

from colorreview.models import Product, ReviewEvent, Suggestion
from colorreview.services.archive import product_archive
from tests.factories import PredictionFactory, ProductFactory, SuggestionFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.mark.parametrize("role", ["curator", "merchandiser"])
def test_only_an_admin_may_archive_or_unarchive(client, request, role, admin_user):
    product = ProductFactory()
    client.force_login(request.getfixturevalue(role))
    assert client.post(f"/products/{product.sku}/archive/", {"note": "x"}).status_code == 403
    product_archive(product=product, user=admin_user)
    assert client.post(f"/products/{product.sku}/unarchive/", {"note": "x"}, **HTMX).status_code == 403
    assert Product.objects.get(pk=product.pk).archived
    html = client.get(f"/products/{product.sku}/").content.decode()
    assert "Archived</b> on" in html and "by boss" in html and "/unarchive/" not in html


def test_an_admin_archives_with_htmx_and_sees_the_banner_and_the_history(client, admin_user):
    suggestion = SuggestionFactory(prediction=PredictionFactory(product=ProductFactory(tag="Red"),
                                                                predicted_color="Blue"))
    sku = suggestion.product.sku
    client.force_login(admin_user)
    assert f'hx-post="/products/{sku}/archive/"' in client.get(f"/products/{sku}/").content.decode()
    html = client.post(f"/products/{sku}/archive/", {"note": "end of line"}, **HTMX).content.decode()
    assert 'id="archive-panel"' in html and "Archived</b> on" in html and "by boss" in html
    assert f'hx-post="/products/{sku}/unarchive/"' in html
    assert 'hx-swap-oob="true"' in html and 'class="event-archive"' in html and "end of line" in html
    assert Suggestion.objects.get(pk=suggestion.pk).status == "superseded"
    again = client.post(f"/products/{sku}/archive/", {}, **HTMX).content.decode()
    assert "already archived" in again and ReviewEvent.objects.filter(action="archive").count() == 1
    response = client.post(f"/products/{sku}/unarchive/", {"note": "back"})  # a plain form post
    assert response.status_code == 302 and response["Location"] == f"/products/{sku}/"
    assert not Product.objects.get(sku=sku).archived


def test_archiving_with_htmx_takes_the_colour_form_away_and_unarchiving_brings_it_back(client, admin_user):
    sku = ProductFactory(tag="Red").sku
    client.force_login(admin_user)
    assert 'id="manual-color"' in client.get(f"/products/{sku}/").content.decode()
    archived = client.post(f"/products/{sku}/archive/", {}, **HTMX).content.decode()
    assert '<div id="manual-color-panel" hx-swap-oob="true"></div>' in archived
    back = client.post(f"/products/{sku}/unarchive/", {}, **HTMX).content.decode()
    assert '<div id="manual-color-panel" hx-swap-oob="true">' in back and 'id="manual-color"' in back
    assert f'action="/products/{sku}/color/"' in back and "<option selected>Red</option>" in back


def test_the_product_list_hides_archived_products_unless_asked(client, curator, admin_user):
    ProductFactory(sku="LIST-A")
    product_archive(product=ProductFactory(sku="LIST-B"), user=admin_user)
    client.force_login(curator)
    dashboard = client.get("/").content.decode()
    assert "<b>1</b> products" in dashboard and '<b>1</b> <a href="/products/?archived=1">archived</a>' in dashboard

    def skus(query=""):
        html = client.get(f"/products/{query}").content.decode()
        return [s for s in ("LIST-A", "LIST-B") if f">{s}</a>" in html]

    assert skus() == ["LIST-A"]
    assert skus("?archived=1") == ["LIST-B"]
    assert skus("?archived=all") == ["LIST-A", "LIST-B"]


def test_the_export_includes_archived_products_when_asked(client, admin_user):
    ProductFactory(sku="EXP-A")
    product_archive(product=ProductFactory(sku="EXP-B"), user=admin_user)
    client.force_login(admin_user)

    def rows(query=""):
        response = client.get(f"/export.csv{query}")
        return list(csv.reader(io.StringIO(b"".join(response.streaming_content).decode("utf-8-sig"))))

    plain = rows()
    assert plain[0][-1] == "reviewed_at" and [r[0] for r in plain[1:]] == ["EXP-A"]
    both = rows("?archived=include")
    assert both[0][-1] == "archived_at" and [r[0] for r in both[1:]] == ["EXP-A", "EXP-B"] and both[2][-1]


def test_the_django_admin_archives_a_selection_after_asking_for_a_note(client, admin_user):
    admin_user.is_staff = True  # as `assign_role USER admin` leaves it
    admin_user.save()
    chosen = [ProductFactory(sku=f"ADM-{i}") for i in range(3)]
    client.force_login(admin_user)
    form = {"action": "archive_selected", "index": "0", "select_across": "0",
            "_selected_action": [str(p.pk) for p in chosen[:2]]}
    page = client.post("/admin/colorreview/product/", form)
    assert page.status_code == 200 and b"Archive 2 products?" in page.content
    assert not Product.objects.filter(archived_at__isnull=False).exists()
    done = client.post("/admin/colorreview/product/", {**form, "apply": "1", "note": "sold out"})
    assert done.status_code == 302
    assert sorted(Product.objects.filter(archived_by=admin_user).values_list("sku", flat=True)) == ["ADM-0", "ADM-1"]
    assert set(ReviewEvent.objects.filter(action="archive").values_list("note", flat=True)) == {"sold out"}


def test_the_product_list_says_when_a_state_filter_is_unknown(client, curator):
    ProductFactory(sku="LIST-C")
    client.force_login(curator)
    html = client.get("/products/?status=bogus").content.decode()
    assert "There is no product state &#x27;bogus&#x27;; every state is shown." in html and ">LIST-C</a>" in html


def test_an_archived_product_offers_no_hand_set_colour(client, curator, admin_user):
    product = ProductFactory(sku="ARCH-COLOUR")
    client.force_login(curator)
    assert 'id="manual-color"' in client.get("/products/ARCH-COLOUR/").content.decode()
    product_archive(product=product, user=admin_user)
    assert 'id="manual-color"' not in client.get("/products/ARCH-COLOUR/").content.decode()


@pytest.mark.parametrize("action", ["color", "archive", "unarchive"])
def test_a_sku_ending_in_an_action_name_opens_its_page_and_its_actions_change_it_alone(client, admin_user, action):
    sku = f"ABC/{action}"
    ProductFactory(sku="ABC", tag="Red")
    ProductFactory(sku=sku, tag="Red")
    client.force_login(admin_user)
    page = client.get(f"/products/{sku}/")
    assert page.status_code == 200 and page.context["product"].sku == sku
    html = page.content.decode()
    assert f'action="/products/{sku}/color/"' in html and f'hx-post="/products/{sku}/archive/"' in html
    colored = client.post(f"/products/{sku}/color/", {"color": "Blue", "note": "checked"})
    assert colored.status_code == 302 and client.get(colored["Location"]).context["product"].sku == sku
    assert client.post(f"/products/{sku}/archive/", {"note": "gone"}).status_code == 302
    changed, other = Product.objects.get(sku=sku), Product.objects.get(sku="ABC")
    assert changed.archived and changed.final_color == "Blue"
    assert not other.archived and other.final_color == "Red"
    assert client.post(f"/products/{sku}/unarchive/", {}).status_code == 302
    assert not Product.objects.get(sku=sku).archived


def test_reading_an_action_url_shows_the_page_of_that_sku_or_none(client, admin_user):
    ProductFactory(sku="ABC", tag="Red")
    client.force_login(admin_user)
    for action in ("color", "archive", "unarchive"):
        assert client.get(f"/products/ABC/{action}/").status_code == 404
    assert not Product.objects.get(sku="ABC").archived
