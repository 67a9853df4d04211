"""Keyset pages and a constant number of queries per page, whatever the size of the catalogue."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.test import APIClient

from colorreview.models import Suggestion
from colorreview.paging import decode_cursor, encode_cursor, keyset_page
from tests.factories import PredictionFactory, ProductFactory, SuggestionFactory

pytestmark = pytest.mark.django_db


def _suggestions(n: int, kind: str = "mislabel", start: int = 0) -> None:
    for i in range(start, start + n):
        product = ProductFactory(sku=f"K{i:04d}", tag="Red" if kind == "mislabel" else "", title=f"Shirt {i}")
        SuggestionFactory(prediction=PredictionFactory(product=product, predicted_color="Blue"), kind=kind,
                          score=round(0.5 + (i % 7) / 20, 2))  # many equal scores: ties broken by id


def test_keyset_pages_walk_the_whole_order_both_ways():
    _suggestions(23)
    qs = Suggestion.objects.all()
    expected = list(qs.order_by("-score", "id").values_list("pk", flat=True))
    seen, cursor, pages = [], None, []
    while True:
        page = keyset_page(qs, ordering=["-score", "id"], size=5, cursor=cursor)
        pages.append(page)
        seen += [s.pk for s in page]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert seen == expected and len(pages) == 5 and pages[0].prev_cursor is None
    back = keyset_page(qs, ordering=["-score", "id"], size=5, cursor=pages[3].prev_cursor)
    assert [s.pk for s in back] == [s.pk for s in pages[2]]
    assert decode_cursor("not a cursor") is None and decode_cursor(encode_cursor((1, 2), "after")) == ("after", (1, 2))


def test_keyset_pages_walk_the_queue_order_across_tiers_both_ways():
    _suggestions(9)
    shades = list(Suggestion.objects.order_by("id").values_list("pk", flat=True))[::2]
    Suggestion.objects.filter(pk__in=shades).update(severity="shade")
    qs, order = Suggestion.objects.all(), list(Suggestion.QUEUE_ORDER)
    expected = list(qs.order_by(*order).values_list("pk", flat=True))
    tiers = list(qs.order_by(*order).values_list("tier", flat=True))
    assert tiers == sorted(tiers) and set(tiers) == {0, 1}
    seen, cursor, pages = [], None, []
    while True:
        page = keyset_page(qs, ordering=order, size=2, cursor=cursor)
        pages.append(page)
        seen += [s.pk for s in page]
        if not page.next_cursor:
            break
        cursor = page.next_cursor
    assert seen == expected and len(pages) == 5
    back = keyset_page(qs, ordering=order, size=2, cursor=pages[3].prev_cursor)  # across the tiers' edge
    assert [s.pk for s in back] == [s.pk for s in pages[2]]


def _get(client, url: str, **extra):
    response = client.get(url, **extra)
    assert response.status_code == 200, url
    return response


PAGES = ["/review/", "/review/?color=Blue", "/review/?q=Shirt+1", "/review/?q=k0001", "/review/?q=K0001&match=contains",
         "/review/?kind=mislabel&category=Tshirts",
         "/imputations/", "/", "/products/", "/products/?q=K00"]


@pytest.mark.parametrize("url", PAGES)
def test_each_page_costs_the_same_queries_at_any_size(client, admin_user, url, django_assert_num_queries):
    _suggestions(3)
    _suggestions(2, kind="impute", start=3)
    client.force_login(admin_user)
    _get(client, url)  # the summary is computed once, on the first view
    with CaptureQueriesContext(connection) as small:
        _get(client, url)
    _suggestions(60, start=10)
    _suggestions(30, kind="impute", start=100)
    with django_assert_num_queries(len(small.captured_queries)):
        _get(client, url)


def test_a_deep_queue_page_is_reached_by_cursor_with_the_same_queries(client, curator, django_assert_num_queries):
    _suggestions(80)
    client.force_login(curator)
    first = _get(client, "/review/").content.decode()
    cursor = re.search(r'href="\?page=([^"&]+)" rel="next"', first).group(1)
    with CaptureQueriesContext(connection) as one:
        second = _get(client, f"/review/?page={cursor}").content.decode()
    assert 'rel="prev"' in second
    for _ in range(2):
        cursor = re.search(r'page=([^"&]+)" rel="next"', second).group(1)
        with django_assert_num_queries(len(one.captured_queries)):
            second = _get(client, f"/review/?page={cursor}").content.decode()


def test_the_api_lists_are_cursor_paginated(admin_user, django_assert_num_queries):
    _suggestions(120)
    api = APIClient()
    api.force_authenticate(admin_user)
    body = api.get("/api/suggestions/").json()
    assert len(body["results"]) == 50 and body["previous"] is None and "count" not in body
    ids = [r["id"] for r in body["results"]]
    with CaptureQueriesContext(connection) as one:
        body = api.get(body["next"]).json()
    ids += [r["id"] for r in body["results"]]
    with django_assert_num_queries(len(one.captured_queries)):
        body = api.get(body["next"]).json()
    ids += [r["id"] for r in body["results"]]
    assert body["next"] is None and len(set(ids)) == 120
    assert ids == list(Suggestion.objects.order_by("-score", "id").values_list("pk", flat=True))
    products = api.get("/api/products/").json()
    assert products["next"] and api.get(products["next"]).json()["results"][0]["sku"] == "K0050"


def test_a_whole_sku_finds_its_product_alone_and_the_reviewer_can_ask_for_every_match(client, curator):
    _suggestions(15)
    variant = ProductFactory(sku="K0001-B", tag="Red", title="Shirt 1, second colour")
    SuggestionFactory(prediction=PredictionFactory(product=variant, predicted_color="Blue"), kind="mislabel")
    client.force_login(curator)
    whole = _get(client, "/review/?q=k0001").content.decode()  # any case
    assert "K0001" in whole and "K0001-B" not in whole and "K0010" not in whole
    assert "SKU K0001 only" in whole and "match=contains" in whole
    every = _get(client, "/review/?q=K0001&match=contains").content.decode()
    assert "K0001-B" in every and "SKU K0001 only" not in every
    partial = _get(client, "/review/?q=K001").content.decode()  # not a whole SKU: a substring search
    assert all(sku in partial for sku in ("K0010", "K0011")) and "SKU K001 only" not in partial


def test_a_whole_sku_finds_the_product_of_that_exact_case_when_skus_differ_only_in_case(client, curator):
    for sku, title in (("T-001", "Upper tee"), ("t-001", "Lower tee")):
        SuggestionFactory(prediction=PredictionFactory(product=ProductFactory(sku=sku, tag="Red", title=title),
                                                       predicted_color="Blue"), kind="mislabel")
    client.force_login(curator)
    for typed, other in (("t-001", "Upper tee"), ("T-001", "Lower tee")):
        page = _get(client, f"/review/?q={typed}").content.decode()
        assert f"SKU {typed} only" in page and other not in page, typed


@pytest.mark.parametrize("values", [["x", 1], [None, 1], [10**30, 1], [1.5e400, 1], [[1], 1], ["2026-13-45", 1],
                                    ["a\x00b", 1], ["\ud800", 1], ["0001-01-01T00:00:00+01:00", 1]])
def test_a_forged_cursor_gives_the_first_page_and_the_api_refuses_one_of_another_shape(values, admin_user):
    import base64
    import json

    _suggestions(3)
    raw = base64.urlsafe_b64encode(json.dumps(["after", values]).encode()).decode().rstrip("=")
    first = keyset_page(Suggestion.objects.all(), ordering=["-score", "id"], size=2)
    forged = keyset_page(Suggestion.objects.all(), ordering=["-score", "id"], size=2, cursor=raw)
    assert [s.pk for s in forged] == [s.pk for s in first] and forged.prev_cursor is None
    api = APIClient()
    api.force_authenticate(admin_user)
    for url in ("/api/suggestions/", "/api/products/", "/api/predictions/"):
        for direction in ("after", "before"):
            edge = base64.urlsafe_b64encode(json.dumps([direction, values]).encode()).decode().rstrip("=")
            r = api.get(url, {"cursor": edge})
            # a cursor that does not parse, or (in sku order) of two values, is no cursor of the list: refused;
            # one of the right shape with values no answer gave: the first page, as on the pages
            if decode_cursor(edge) is None or url == "/api/products/":
                assert r.status_code == 404 and r.json()["detail"].startswith("Invalid cursor"), (url, direction)
            else:
                assert r.status_code == 200, (url, direction)


def test_a_whole_sku_with_no_open_suggestion_says_what_became_of_it(client, curator):
    from colorreview.services.review import suggestion_accept

    _suggestions(2)
    decided = Suggestion.objects.get(product__sku="K0000")
    suggestion_accept(suggestion=decided, user=curator)
    ProductFactory(sku="QUIET-1", tag="Red")
    client.force_login(curator)
    page = _get(client, "/review/?q=k0000").content.decode()
    assert '<a href="/products/K0000/">K0000</a> has no open suggestion here: its latest (mislabel flag, Blue) is ' \
           "accepted by curator on " in page
    quiet = _get(client, "/review/?q=QUIET-1").content.decode()
    assert "QUIET-1</a> has no open suggestion here: none was ever made for it" in quiet
    assert "No open suggestion matches “nothing-like-this”." in _get(client, "/review/?q=nothing-like-this").content.decode()
