from __future__ import annotations

import pytest
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from colorreview.models import ReviewEvent, Suggestion
from tests.factories import PredictionFactory, ProductFactory, SuggestionFactory, UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def api():
    return APIClient()


def _token_client(user) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=user)[0].key}")
    return client


def _mislabel(sku="M1"):
    product = ProductFactory(sku=sku, tag="Red", category="Shirts")
    return SuggestionFactory(prediction=PredictionFactory(product=product, predicted_color="Blue"), kind="mislabel")


def test_anonymous_callers_are_asked_for_credentials_and_role_less_ones_refused(api, outsider, client):
    anonymous = api.get("/api/products/")
    assert anonymous.status_code == 401 and anonymous["WWW-Authenticate"] == "Token"
    wrong = APIClient()
    wrong.credentials(HTTP_AUTHORIZATION="Token not-a-token")
    assert wrong.get("/api/products/").status_code == 401
    role_less = _token_client(outsider).get("/api/products/")
    assert role_less.status_code == 403 and "no ColorReview role" in role_less.json()["detail"]
    client.force_login(outsider)  # signed in on the site, no role: refused the same way
    assert client.get("/api/products/").status_code == 403


def test_products_list_and_filter_with_a_token(curator):
    ProductFactory(sku="X1", tag="Sunset Glow", category="Jeans")
    ProductFactory(sku="X2", tag="Red", category="Shirts")
    client = _token_client(curator)
    body = client.get("/api/products/").json()
    assert len(body["results"]) == 2 and body["next"] is None
    unmapped = client.get("/api/products/?unmapped=1").json()["results"]
    assert [p["sku"] for p in unmapped] == ["X1"] and unmapped[0]["seller_color_unmapped"] is True
    assert len(client.get("/api/products/?category=jeans").json()["results"]) == 1
    assert client.get("/api/products/X2/").json()["seller_color_mapped"] == "Red"
    assert [p["sku"] for p in client.get("/api/products/?unmapped=false").json()["results"]] == ["X2"]
    assert [p["sku"] for p in client.get("/api/products/?unmapped=True").json()["results"]] == ["X1"]
    for bad in ("unmapped=banana", "status=bogus"):
        r = client.get(f"/api/products/?{bad}")
        assert r.status_code == 400 and bad.split("=")[0] in r.json(), bad


def test_products_are_filtered_by_what_is_open_on_them_of_the_kinds_the_caller_decides(curator, merchandiser):
    flagged = _mislabel("F1")
    SuggestionFactory(prediction=PredictionFactory(product=ProductFactory(sku="I1", tag=""), predicted_color="Blue"),
                      kind="impute")
    ProductFactory(sku="Q1", tag="Green")
    decided = _mislabel("D1")
    decided.status = Suggestion.Status.ACCEPTED
    decided.save()

    def skus(api, value):
        return [p["sku"] for p in api.get(f"/api/products/?open={value}").json()["results"]]

    curating, merchandising = _token_client(curator), _token_client(merchandiser)
    assert skus(curating, "any") == [flagged.product.sku]  # a curator decides mislabel flags only
    assert skus(curating, "mislabel") == [flagged.product.sku] and skus(curating, "impute") == []
    assert skus(curating, "none") == ["D1", "I1", "Q1"]
    assert skus(merchandising, "any") == ["I1"] and skus(merchandising, "mislabel") == []
    assert skus(merchandising, "none") == ["D1", "F1", "Q1"]
    r = curating.get("/api/products/?open=maybe")
    assert r.status_code == 400 and "open" in r.json()


def test_a_text_filter_longer_than_any_column_answers_400_not_a_server_error(curator):
    api = _token_client(curator)
    for url in ("/api/products/?q=", "/api/products/?category=", "/api/products/?seller_color=",
                "/api/suggestions/?q=", "/api/suggestions/?color=", "/api/predictions/?sku="):
        name = url.rsplit("?", 1)[1][:-1]
        r = api.get(url + "x" * 60_000)
        assert r.status_code == 400 and "at most 500 characters" in str(r.json()[name]), url
    assert api.get("/api/products/?q=" + "x" * 500).status_code == 200


def test_a_cursor_that_no_answer_gave_is_refused_and_a_given_one_pages_on(curator):
    for i in range(3):
        ProductFactory(sku=f"CUR-{i}")
    from colorreview.api.pagination import KeysetCursorPagination

    api = _token_client(curator)
    first = api.get("/api/products/").json()
    assert first["next"] is None and len(first["results"]) == 3

    KeysetCursorPagination.page_size, size = 2, KeysetCursorPagination.page_size
    try:
        given = api.get("/api/products/").json()["next"]
        assert [p["sku"] for p in api.get(given).json()["results"]] == ["CUR-2"]
        for forged in ("abc", "eyJ4IjoxfQ", given.split("cursor=")[1][:-4] + "AAAA"):
            r = api.get(f"/api/products/?cursor={forged}")
            assert r.status_code == 404 and r.json()["detail"].startswith("Invalid cursor"), forged
    finally:
        KeysetCursorPagination.page_size = size


def test_predictions_are_listed_by_sku(curator):
    PredictionFactory(product=ProductFactory(sku="P9", category="Jeans"), predicted_color="Olive")
    rows = _token_client(curator).get("/api/predictions/?sku=P9").json()["results"]
    assert rows[0]["predicted_color"] == "Olive" and rows[0]["model_version"] == "test-model"
    assert rows[0]["category_region"] == "lower"  # the garment region the product's category picked when read


def test_accept_reject_correct_through_the_api(curator):
    client = _token_client(curator)
    a, b, c = _mislabel("A"), _mislabel("B"), _mislabel("C")
    listed = client.get("/api/suggestions/?kind=mislabel").json()
    assert len(listed["results"]) == 3
    r = client.post(f"/api/suggestions/{a.pk}/accept/", {"note": "ok"}, format="json")
    assert r.status_code == 200 and r.json()["status"] == "accepted" and r.json()["decided_by"] == "curator"
    assert client.post(f"/api/suggestions/{b.pk}/reject/").json()["final_color"] == "Red"
    r = client.post(f"/api/suggestions/{c.pk}/correct/", {"color": "navy"}, format="json")
    assert r.json()["final_color"] == "Navy Blue"
    assert ReviewEvent.objects.filter(actor=curator).count() == 3


def test_deciding_twice_is_a_conflict(curator, admin_user):
    s = _mislabel()
    assert _token_client(curator).post(f"/api/suggestions/{s.pk}/accept/").status_code == 200
    r = _token_client(admin_user).post(f"/api/suggestions/{s.pk}/reject/")
    assert r.status_code == 409 and "already accepted" in r.json()["detail"]


def test_bad_corrections_and_wrong_roles(curator, merchandiser):
    s = _mislabel()
    r = _token_client(curator).post(f"/api/suggestions/{s.pk}/correct/", {"color": "Sunset Glow"}, format="json")
    assert r.status_code == 400 and "vocabulary" in r.json()["detail"]
    r = _token_client(merchandiser).post(f"/api/suggestions/{s.pk}/accept/")
    assert r.status_code in (403, 404)


def test_deciding_a_suggestion_that_is_not_there_answers_a_json_404(curator, admin_user):
    s = _mislabel()
    client = _token_client(curator)
    for pk in ("abc", "%20", str(s.pk + 1000)):
        for verb, body in (("accept", {}), ("reject", {}), ("correct", {"color": "Navy Blue"})):
            r = client.post(f"/api/suggestions/{pk}/{verb}/", body, format="json")
            assert (r.status_code, r.json()) == (404, {"detail": "no such suggestion"}), (pk, verb)
    r = _token_client(admin_user).post("/api/suggestions/abc/reopen/", {}, format="json")
    assert (r.status_code, r["Content-Type"]) == (404, "application/json")
    assert client.get("/api/suggestions/abc/").status_code == 404
    for url in ("/api/bulk-approvals/abc/undo/", "/api/runs/abc/cancel/", "/api/runs/abc/resume/"):
        r = _token_client(admin_user).post(url, {}, format="json")
        assert (r.status_code, r["Content-Type"]) == (404, "application/json"), url
    assert client.get(f"/api/suggestions/{s.pk}/").json()["status"] == "pending"

def test_bulk_accept_through_the_api(merchandiser):
    items = [SuggestionFactory(prediction=PredictionFactory(product=ProductFactory(tag=""), confidence=c),
                               kind="impute") for c in (0.99, 0.6)]
    r = _token_client(merchandiser).post("/api/suggestions/bulk-accept/", {"min_confidence": 0.9}, format="json")
    assert r.status_code == 200 and (r.json()["accepted"], r.json()["accepted_ids"]) == (1, [items[0].pk])
    r = _token_client(merchandiser).post("/api/suggestions/bulk-accept/", {}, format="json")
    assert r.status_code == 400


def test_bulk_accept_answers_the_bulk_approval_as_it_is_listed_with_the_ids_it_took(merchandiser):
    taken, decided = [SuggestionFactory(prediction=PredictionFactory(product=ProductFactory(tag=""), confidence=0.99),
                                        kind="impute") for _ in range(2)]
    api = _token_client(merchandiser)
    api.post(f"/api/suggestions/{decided.pk}/reject/", {}, format="json")
    posted = api.post("/api/suggestions/bulk-accept/", {"ids": [taken.pk, decided.pk]}, format="json").json()
    listed = api.get("/api/bulk-approvals/").json()["results"][0]
    assert posted == {**listed, "accepted_ids": [taken.pk],
                      "skipped": [{"id": decided.pk, "reason": "not a pending suggestion of that kind you may take"}]}
    assert (listed["matched"], listed["accepted"]) == (1, 1)
    assert api.get(f"/api/bulk-approvals/{posted['id']}/").json() == listed

def test_bulk_accept_with_an_idempotency_key_is_one_approval_however_often_sent(merchandiser):
    from colorreview.models import BulkApproval

    items = [SuggestionFactory(prediction=PredictionFactory(product=ProductFactory(tag=""), confidence=0.99),
                               kind="impute") for _ in range(2)]
    api = _token_client(merchandiser)
    body = {"ids": [s.pk for s in items]}
    answers = [api.post("/api/suggestions/bulk-accept/", body, format="json", HTTP_IDEMPOTENCY_KEY="retry-1")
               for _ in range(2)]
    assert [r.status_code for r in answers] == [200, 200]
    assert answers[0].json()["id"] == answers[1].json()["id"]
    assert answers[1].json()["accepted"] == 2 and answers[1].json()["accepted_ids"] == sorted(body["ids"])
    assert BulkApproval.objects.count() == 1
    r = api.post("/api/suggestions/bulk-accept/", {"min_confidence": 0.5}, format="json", HTTP_IDEMPOTENCY_KEY="retry-1")
    assert r.status_code == 400 and "already used" in r.json()["detail"]


def test_bulk_accept_of_nothing_or_of_ids_no_row_has_answers_400(merchandiser, client):
    from colorreview.models import BulkApproval

    api = _token_client(merchandiser)
    for body in ({"ids": []}, {"ids": [10**25]}):
        r = api.post("/api/suggestions/bulk-accept/", body, format="json")
        assert r.status_code == 400 and r.json()["detail"].startswith("nothing to approve"), body
    client.force_login(merchandiser)
    page = client.post("/imputations/", {"scope": "selected", "ids": [str(10**25)], "confirm": "1"}).content.decode()
    assert "Not approved: nothing to approve" in page
    page = client.post("/imputations/", {"scope": "threshold", "min_confidence": "abc"}).content.decode()
    assert "Not approved: the confidence is a percentage between 0 and 100" in page
    for odd in ("\u00b2", "9" * 5000):  # a digit that int() refuses, more digits than it reads
        page = client.post("/imputations/", {"scope": "selected", "ids": [odd]})
        assert page.status_code == 200 and "tick at least one imputation" in page.content.decode()
    assert not BulkApproval.objects.exists()


def test_session_authentication_works_too(api, curator):
    api.force_login(curator)
    assert api.get("/api/suggestions/").status_code == 200


def test_starting_a_run_needs_the_admin_role(curator, admin_user, settings):
    assert _token_client(curator).post("/api/runs/").status_code == 403
    r = _token_client(admin_user).post("/api/runs/")
    assert r.status_code == 200 and "Every product" in r.json()["detail"]


def test_cancelling_or_resuming_a_run_that_has_ended_answers_409_and_changes_nothing(admin_user):
    from colorreview.models import PipelineRun

    run = PipelineRun.objects.create(model_version="v", total=3, done=3, status="finished")
    r = _token_client(admin_user).post(f"/api/runs/{run.pk}/cancel/")
    assert r.status_code == 409 and r.json()["detail"] == f"run {run.pk} has ended already (finished); nothing to cancel"
    assert PipelineRun.objects.get(pk=run.pk).status == "finished"
    resumed = _token_client(admin_user).post(f"/api/runs/{run.pk}/resume/")
    assert resumed.status_code == 409 and resumed.json()["detail"] == f"run {run.pk} has ended (finished); nothing to resume"
    live = PipelineRun.objects.create(model_version="v", total=3, status="running")
    assert _token_client(admin_user).post(f"/api/runs/{live.pk}/cancel/").json()["status"] == "cancelled"


def test_a_bulk_approval_names_at_most_ten_thousand_ids_and_a_longer_list_is_refused_whole(merchandiser):
    api = _token_client(merchandiser)
    r = api.post("/api/suggestions/bulk-accept/", {"kind": "impute", "ids": list(range(1, 250_002))}, format="json")
    assert r.status_code == 400 and "no more than 10000" in str(r.json()["ids"])
    assert not Suggestion.objects.filter(status="accepted").exists()


def test_the_seller_colour_filter_matches_a_colour_as_an_import_does(curator):
    ProductFactory(sku="G1", tag="Grey")
    from colorreview.models import ColorName, Product

    gray = ProductFactory(sku="G2", tag="gray")
    Product.objects.filter(pk=gray.pk).update(seller_color=ColorName.objects.get(name="Grey"))  # as imported
    ProductFactory(sku="N1", tag="Navy Blue")
    ProductFactory(sku="W1", tag="Off White")
    ProductFactory(sku="U1", tag="Sunset Glow")
    api = _token_client(curator)

    def skus(value):
        return sorted(p["sku"] for p in api.get(f"/api/products/?seller_color={value}").json()["results"])

    assert skus("grey") == skus("gray") == ["G1", "G2"]
    assert skus("navy") == ["N1"] and skus("off-white") == ["W1"]
    assert skus("sunset glow") == ["U1"]  # a tag outside the vocabulary, as written


def test_a_decided_suggestion_is_found_and_lists_filter_by_state(curator):
    from colorreview.services.review import suggestion_accept

    decided, pending = _mislabel("D1"), _mislabel("D2")
    suggestion_accept(suggestion=decided, user=curator)
    client = _token_client(curator)
    assert client.get(f"/api/suggestions/{decided.pk}/").json()["status"] == "accepted"
    assert [s["id"] for s in client.get("/api/suggestions/").json()["results"]] == [pending.pk]
    assert [s["id"] for s in client.get("/api/suggestions/?status=accepted").json()["results"]] == [decided.pk]
    assert client.get("/api/suggestions/?status=bogus").status_code == 400
    schema = client.get("/api/schema/", HTTP_ACCEPT="application/json").json()
    names = {p["name"] for p in schema["paths"]["/api/suggestions/"]["get"]["parameters"]}
    assert {"kind", "status", "color", "category", "q"} <= names


def test_undo_and_reopen_over_the_api(curator, admin_user):
    s = _mislabel("U1")
    client = _token_client(curator)
    assert client.post(f"/api/suggestions/{s.pk}/reject/", {"note": "fine"}, format="json").status_code == 200
    undone = client.post("/api/suggestions/undo/", {}, format="json")
    assert undone.status_code == 200 and undone.json()["id"] == s.pk and undone.json()["status"] == "pending"
    again = client.post("/api/suggestions/undo/", {}, format="json")
    assert again.status_code == 409 and "no decision left" in again.json()["detail"]
    client.post(f"/api/suggestions/{s.pk}/accept/", {}, format="json")
    assert client.post(f"/api/suggestions/{s.pk}/reopen/", {}, format="json").status_code == 403
    assert _token_client(admin_user).post(f"/api/suggestions/{s.pk}/reopen/", {}, format="json").json()["status"] \
        == "pending"
    assert list(ReviewEvent.objects.filter(suggestion=s).exclude(action="suggested").values_list(
        "action", flat=True)) == ["reject", "undo", "accept", "reopen"]


def test_the_product_list_leaves_archived_products_out_unless_filtered(curator, admin_user):
    from colorreview.services.archive import product_archive

    ProductFactory(sku="K1")
    product_archive(product=ProductFactory(sku="K2"), user=admin_user, note="gone")
    client = _token_client(curator)

    def skus(query=""):
        return [p["sku"] for p in client.get(f"/api/products/{query}").json()["results"]]

    assert skus() == ["K1"] and skus("?archived=0") == ["K1"]
    assert skus("?archived=1") == ["K2"] and skus("?archived=all") == ["K1", "K2"]
    assert client.get("/api/products/?archived=yes").status_code == 400
    found = client.get("/api/products/K2/").json()  # a single product is found either way
    assert found["archived_at"] and found["archived_by"] == "boss"


def test_archive_and_unarchive_through_the_api(curator, admin_user):
    product = ProductFactory(sku="Z1")
    assert _token_client(curator).post("/api/products/Z1/archive/").status_code == 403
    client = _token_client(admin_user)
    r = client.post("/api/products/Z1/archive/", {"note": "season over"}, format="json")
    assert r.status_code == 200 and r.json()["archived_by"] == "boss"
    assert client.post("/api/products/Z1/archive/").status_code == 409
    assert ReviewEvent.objects.get(product=product, action="archive").note == "season over"
    r = client.post("/api/products/Z1/unarchive/")
    assert r.status_code == 200 and r.json()["archived_at"] is None
    assert client.post("/api/products/Z1/unarchive/").status_code == 409


def test_a_sku_holding_a_slash_is_reached_and_archived(client, admin_user):
    from urllib.parse import quote

    from tests.factories import ProductFactory

    ProductFactory(sku="T-SLASH/A?B#C", tag="Red")
    ProductFactory(sku="T-SLASH", tag="Blue")
    client.force_login(admin_user)
    url = f"/api/products/{quote('T-SLASH/A?B#C', safe='')}/"
    response = client.get(url)
    assert response.status_code == 200 and response.json()["sku"] == "T-SLASH/A?B#C"
    assert client.get(f"/api/products/{quote('T-SLASH/A', safe='')}/").status_code == 404
    archived = client.post(url + "archive/", {"note": "gone"}, content_type="application/json")
    assert archived.status_code == 200 and archived.json()["sku"] == "T-SLASH/A?B#C"
    assert client.get("/api/products/T-SLASH/").json()["archived_at"] is None


def test_a_note_longer_than_the_pages_allow_is_refused_and_nothing_changes(client, curator):
    from colorreview.models import Suggestion
    from tests.factories import PredictionFactory, ProductFactory, SuggestionFactory

    flag = SuggestionFactory(prediction=PredictionFactory(product=ProductFactory(tag="Red"), predicted_color="Blue"),
                             kind="mislabel")
    client.force_login(curator)
    response = client.post(f"/api/suggestions/{flag.pk}/accept/", {"note": "x" * 100_000},
                           content_type="application/json")
    assert response.status_code == 400 and "500" in str(response.json())
    assert Suggestion.objects.get(pk=flag.pk).status == "pending"
    page = client.post(f"/review/{flag.pk}/accept/", {"note": "y" * 501}, HTTP_HX_REQUEST="true")
    assert "a note is at most 500 characters" in page.content.decode()
    assert Suggestion.objects.get(pk=flag.pk).status == "pending"


def test_admins_export_the_tags_as_csv_with_a_token(curator, admin_user):
    import csv
    import io

    ProductFactory(sku="=cmd", tag="Red")
    assert _token_client(curator).get("/api/export/").status_code == 403
    assert APIClient().get("/api/export/").status_code == 401
    r = _token_client(admin_user).get("/api/export/")
    assert r.status_code == 200 and r["Content-Type"].startswith("text/csv") and "attachment" in r["Content-Disposition"]
    rows = list(csv.reader(io.StringIO(b"".join(r.streaming_content).decode())))
    assert rows[0][0] == "sku" and rows[1][0] == "'=cmd"
    bad = _token_client(admin_user).get("/api/export/?kind=imputes")
    assert bad.status_code == 400 and "kind='imputes' (one of: impute, mislabel)" in bad.content.decode()
    schema = _token_client(admin_user).get("/api/schema/?format=json").json()
    assert "text/csv" in schema["paths"]["/api/export/"]["get"]["responses"]["200"]["content"]


def test_the_api_export_has_no_bom_unless_asked_and_refuses_a_misspelt_parameter(admin_user):
    ProductFactory(sku="C1", title="Café", tag="Red")
    client = _token_client(admin_user)
    plain = b"".join(client.get("/api/export/").streaming_content)
    assert plain.startswith(b"sku,") and "Café".encode() in plain
    assert b"".join(client.get("/api/export/?bom=1").streaming_content) == b"\xef\xbb\xbf" + plain
    assert b"".join(client.get("/api/export/?format=json").streaming_content) == plain  # DRF's own parameter
    assert b"".join(client.get("/api/export/?format=csv").streaming_content) == plain  # the file's own format
    refused = _token_client(UserFactory(username="c2", roles=["curator"])).get("/api/export/?format=csv")
    assert refused.status_code == 403 and b"admin" in refused.content
    bad = client.get("/api/export/?kinds=impute")
    assert bad.status_code == 400 and "unknown parameter 'kinds' (the export takes: kind, status" in bad.content.decode()
    assert "bom" in str(client.get("/api/schema/?format=json").json()["paths"]["/api/export/"]["get"]["parameters"])


def test_a_run_with_nothing_to_read_names_the_products_whose_image_could_not_be_read(admin_user, client):
    from colorreview.models import Product

    ProductFactory(sku="BROKEN-1", tag="Red")
    Product.objects.filter(sku="BROKEN-1").update(image_error="image is truncated or corrupt", status="failed")
    r = _token_client(admin_user).post("/api/runs/")
    assert r.status_code == 200 and r.json()["detail"] == (
        "Every product already has a prediction for the current model, except 1 whose image could not be read "
        "(see each product's page; import a readable image to have it read).")
    client.force_login(admin_user)
    assert "except 1 whose image could not be read" in client.post("/runs/start/").content.decode()


def test_a_sku_ending_in_an_action_name_is_read_and_archived_alone(client, admin_user):
    from tests.factories import ProductFactory

    ProductFactory(sku="ABC", tag="Red")
    ProductFactory(sku="ABC/archive", tag="Red")
    client.force_login(admin_user)
    response = client.get("/api/products/ABC/archive/")
    assert response.status_code == 200 and response.json()["sku"] == "ABC/archive"
    assert client.get("/api/products/ABC/unarchive/").status_code == 404
    archived = client.post("/api/products/ABC/archive/archive/", {}, content_type="application/json")
    assert archived.status_code == 200 and archived.json()["sku"] == "ABC/archive"
    assert client.get("/api/products/ABC/").json()["archived_at"] is None
    assert client.put("/api/products/ABC/archive/", {}, content_type="application/json").status_code == 405


def test_a_product_says_what_the_model_reads_and_its_open_suggestion_in_a_constant_number_of_queries(
        curator, django_assert_max_num_queries):
    flag = _mislabel("F1")
    ProductFactory(sku="F2", tag="Green")
    client = _token_client(curator)
    rows = {r["sku"]: r for r in client.get("/api/products/").json()["results"]}
    assert rows["F1"]["reading"]["predicted_color"] == "Blue" and rows["F1"]["reading"]["confidence"] == 0.97
    assert rows["F1"]["open_suggestion"] == {"id": flag.pk, "kind": "mislabel", "severity": "", "tier": 0,
                                             "suggested_color": "Blue", "score": 0.97}
    assert rows["F2"]["reading"] is None and rows["F2"]["open_suggestion"] is None
    single = client.get("/api/products/F1/").json()
    assert single["reading"] == rows["F1"]["reading"] and single["open_suggestion"]["id"] == flag.pk
    with django_assert_max_num_queries(12) as few:
        client.get("/api/products/")
    for i in range(3, 13):
        _mislabel(f"F{i}")
    with django_assert_max_num_queries(len(few.captured_queries)):
        assert len(client.get("/api/products/").json()["results"]) == 12


def test_mislabel_flags_are_listed_by_severity(curator):
    family = _mislabel("S1")
    shade = SuggestionFactory(prediction=PredictionFactory(product=ProductFactory(sku="S2", tag="Blue"),
                                                           predicted_color="Navy Blue"),
                              kind="mislabel", severity="shade", score=0.99)
    client = _token_client(curator)
    assert [r["sku"] for r in client.get("/api/suggestions/").json()["results"]] == ["S1", "S2"]  # shades last
    assert [r["id"] for r in client.get("/api/suggestions/?severity=shade").json()["results"]] == [shade.pk]
    assert [r["id"] for r in client.get("/api/suggestions/?severity=family").json()["results"]] == []
    Suggestion.objects.filter(pk=family.pk).update(severity="family")
    assert [r["id"] for r in client.get("/api/suggestions/?severity=family").json()["results"]] == [family.pk]
    assert client.get("/api/suggestions/?severity=bright").status_code == 400
