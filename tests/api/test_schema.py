"""The OpenAPI schema says what each action takes and what it answers."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


#: what every operation may answer besides its own answers: no credentials, no role, over the rate
REFUSALS = {"401": "Detail", "403": "Detail", "429": "Detail"}


def _name(content: dict) -> str:
    return content["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]


def _request(schema: dict, path: str) -> str | None:
    body = schema["paths"][path]["post"].get("requestBody")
    return body and _name(body["content"])


def _answers(schema: dict, path: str) -> dict[str, str]:
    return {code: _name(answer["content"]) for code, answer in schema["paths"][path]["post"]["responses"].items()}


def _fields(schema: dict, component: str) -> tuple[set[str], set[str]]:
    """The properties of a component and those of them that are required."""
    body = schema["components"]["schemas"][component]
    return set(body["properties"]), set(body.get("required", ()))


def test_decisions_take_a_note_and_a_correction_its_colour(schema):
    for verb in ("{id}/accept", "{id}/reject", "{id}/reopen", "undo"):
        path = f"/api/suggestions/{verb}/"
        assert _request(schema, path) == "Decision", path
        assert _answers(schema, path) == {"200": "Suggestion", **REFUSALS, "400": "Invalid", "409": "Detail",
                                          **({"404": "Detail"} if "{id}" in path else {})}, path
    assert _fields(schema, "Decision") == ({"note"}, set())
    assert _request(schema, "/api/suggestions/{id}/correct/") == "Correction"
    assert _fields(schema, "Correction") == ({"note", "color"}, {"color"})
    assert _answers(schema, "/api/suggestions/{id}/correct/") == {"200": "Suggestion", **REFUSALS, "400": "Invalid",
                                                                  "404": "Detail", "409": "Detail"}


def test_bulk_accept_takes_its_criteria_and_answers_the_bulk_approval(schema):
    path = "/api/suggestions/bulk-accept/"
    assert _request(schema, path) == "BulkAccept"
    assert _fields(schema, "BulkAccept") == ({"kind", "ids", "min_confidence", "note", "count_only"}, set())
    answers = _answers(schema, path)
    assert (answers["202"], answers["503"]) == ("BulkApproval", "Detail")
    either = schema["components"]["schemas"][answers["200"]]["oneOf"]  # the approval, or with count_only a count
    assert [one["$ref"].rsplit("/", 1)[1] for one in either] == ["BulkAcceptResult", "BulkCount"]
    assert schema["components"]["schemas"]["BulkCount"]["additionalProperties"] is False  # never both at once
    assert answers["400"] == "Invalid" and schema["components"]["schemas"]["BulkAccept"]["properties"]["ids"][
        "maxItems"] == 10_000
    listed, ran = (schema["components"]["schemas"][name]["properties"] for name in ("BulkApproval", "BulkAcceptResult"))
    assert listed["accepted"]["type"] == ran["accepted"]["type"] == "integer"
    assert set(ran) == set(listed) | {"accepted_ids", "skipped"}
    assert ran["accepted_ids"]["items"]["type"] == "integer"
    assert _fields(schema, "Skipped") == ({"id", "reason"}, {"id", "reason"})


def test_archiving_takes_a_note_and_run_actions_take_no_body(schema):
    for path in ("/api/products/{sku}/archive/", "/api/products/{sku}/unarchive/"):
        assert _request(schema, path) == "Decision", path
        assert _answers(schema, path) == {"200": "Product", **REFUSALS, "400": "Invalid", "404": "Detail",
                                          "409": "Detail"}, path
    for path in ("/api/runs/", "/api/runs/{id}/cancel/", "/api/runs/{id}/resume/", "/api/bulk-approvals/{id}/undo/"):
        assert _request(schema, path) is None, path
    assert _answers(schema, "/api/runs/") == {"201": "PipelineRun", "200": "Detail", **REFUSALS,
                                              "409": "RunActive", "503": "Detail"}
    assert _fields(schema, "RunActive")[0] == {"detail", "run"}
    assert _answers(schema, "/api/runs/{id}/resume/") == {"200": "RunResumed", **REFUSALS, "404": "Detail",
                                                          "409": "Detail", "503": "Detail"}
    assert _answers(schema, "/api/runs/{id}/cancel/") == {"200": "PipelineRun", **REFUSALS, "404": "Detail",
                                                          "409": "Detail"}
    assert _answers(schema, "/api/bulk-approvals/{id}/undo/") == {"200": "BulkApproval", **REFUSALS, "404": "Detail",
                                                                   "409": "Detail", "503": "Detail"}
    listing = schema["paths"]["/api/products/"]["get"]["responses"]
    assert _name(listing["400"]["content"]) == "Invalid" and "cursor" in listing["404"]["description"]


def test_the_schema_is_served_as_json_with_the_documented_bodies(client, curator):
    client.force_login(curator)
    served = client.get("/api/schema/?format=json").json()
    assert _request(served, "/api/suggestions/{id}/correct/") == "Correction"
    assert _answers(served, "/api/suggestions/bulk-accept/")["202"] == "BulkApproval"
    assert client.get("/api/schema/").content.startswith(b"openapi:")  # YAML unless asked otherwise


def test_a_refusal_of_the_schema_is_json_like_every_refusal_of_the_api(client, outsider):
    from rest_framework.test import APIClient

    anonymous = APIClient().get("/api/schema/")
    assert anonymous.status_code == 401 and anonymous["Content-Type"] == "application/json"
    assert set(anonymous.json()) == {"detail"}
    client.force_login(outsider)
    refused = client.get("/api/schema/")
    assert refused.status_code == 403 and "role" in refused.json()["detail"]


def test_the_schema_validates_without_warnings_and_offers_the_token_and_the_session(tmp_path, schema):
    from django.core.management import call_command

    call_command("spectacular", "--validate", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))
    assert set(schema["components"]["securitySchemes"]) == {"tokenAuth", "cookieAuth"}


def _operations(schema: dict):
    for path, item in schema["paths"].items():
        for method, operation in item.items():
            yield path, method, operation


def test_every_operation_documents_the_401_of_a_request_without_credentials(schema):
    for path, method, operation in _operations(schema):
        answer = operation["responses"].get("401")
        assert answer is not None, f"{method.upper()} {path}"
        assert _name(answer["content"]) == "Detail" and "WWW-Authenticate" in answer["headers"], f"{method} {path}"
    assert schema["components"]["schemas"]["Detail"]["properties"] == {"detail": {"type": "string"}}


def test_every_documented_operation_answers_401_with_the_token_challenge_without_credentials(client, schema):
    for path, method, _ in _operations(schema):
        url = path.replace("{id}", "1").replace("{sku}", "SKU-1")
        response = getattr(client, method)(url)
        assert response.status_code == 401, f"{method.upper()} {url}"
        assert response["WWW-Authenticate"] == "Token", f"{method.upper()} {url}"


def _url(path: str) -> str:
    return path.replace("{id}", "1").replace("{sku}", "SKU-1")


def test_every_operation_documents_the_403_of_a_caller_without_the_role_and_the_429_of_its_throttle(schema):
    for path, method, operation in _operations(schema):
        refused, throttled = operation["responses"].get("403"), operation["responses"].get("429")
        assert refused and _name(refused["content"]) == "Detail" and "role" in refused["description"], f"{method} {path}"
        assert throttled and _name(throttled["content"]) == "Detail", f"{method} {path}"
        assert throttled["headers"]["Retry-After"]["schema"] == {"type": "integer"}, f"{method} {path}"
    admin_only = ("/api/products/{sku}/archive/", "/api/runs/", "/api/runs/{id}/cancel/", "/api/export/")
    for path in admin_only:
        method = "get" if path == "/api/export/" else "post"
        assert "admin role" in schema["paths"][path][method]["responses"]["403"]["description"], path
    assert "admin role" not in schema["paths"]["/api/runs/"]["get"]["responses"]["403"]["description"]
    assert "curator or admin" in schema["paths"]["/api/suggestions/{id}/accept/"]["post"]["responses"]["403"][
        "description"]


def test_every_documented_operation_answers_403_to_a_signed_in_caller_without_a_role(client, outsider, schema):
    client.force_login(outsider)
    for path, method, _ in _operations(schema):
        response = getattr(client, method)(_url(path))
        assert response.status_code == 403, f"{method.upper()} {path}"
        assert "no ColorReview role" in response.json()["detail"], f"{method.upper()} {path}"


def test_a_token_without_a_role_is_answered_403_too(outsider, schema):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    api = APIClient()
    api.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.create(user=outsider).key}")
    for path, method in (("/api/products/", "get"), ("/api/suggestions/{id}/accept/", "post"),
                         ("/api/runs/", "post"), ("/api/export/", "get")):
        assert "403" in schema["paths"][path][method]["responses"]
        assert getattr(api, method)(_url(path)).status_code == 403, f"{method.upper()} {path}"


def test_the_documented_403_of_a_role_that_is_not_the_one_needed_is_real(client, curator, merchandiser):
    from tests.factories import SuggestionFactory

    client.force_login(curator)
    for url in ("/api/products/SKU-1/archive/", "/api/runs/", "/api/runs/1/cancel/", "/api/runs/1/resume/"):
        assert client.post(url).status_code == 403, url
    assert client.get("/api/export/").status_code == 403
    flag = SuggestionFactory(kind="mislabel")
    assert client.post(f"/api/suggestions/{flag.pk}/reopen/").status_code == 403
    client.force_login(merchandiser)
    refused = client.post(f"/api/suggestions/{flag.pk}/accept/")
    assert refused.status_code == 403 and "needs the role admin or curator" in refused.json()["detail"]


def test_the_documented_429_is_real_and_says_when_to_try_again(curator, monkeypatch):
    from django.core.cache import cache
    from rest_framework.test import APIClient
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "1/minute", "user": "1/minute"})
    cache.clear()
    api = APIClient()
    api.force_authenticate(curator)
    answers = [api.post("/api/suggestions/undo/") for _ in range(2)]
    cache.clear()
    assert [a.status_code for a in answers] == [409, 429]
    assert int(answers[1]["Retry-After"]) > 0 and answers[1].json()["detail"]


@pytest.mark.parametrize("throttles, rates", [
    ((), {}),
    (("rest_framework.throttling.UserRateThrottle",), {"user": None}),
])
def test_no_429_is_documented_where_no_throttle_can_refuse_a_caller(monkeypatch, throttles, rates):
    from rest_framework.settings import perform_import
    from rest_framework.throttling import SimpleRateThrottle
    from rest_framework.views import APIView

    monkeypatch.setattr(APIView, "throttle_classes", perform_import(list(throttles), "DEFAULT_THROTTLE_CLASSES"))
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", rates)
    unthrottled = SchemaGenerator().get_schema(request=None, public=True)
    for path, method, operation in _operations(unthrottled):
        assert "429" not in operation["responses"] and "403" in operation["responses"], f"{method} {path}"


def test_an_anonymous_rate_alone_documents_a_429_everywhere(monkeypatch):
    from rest_framework.settings import perform_import
    from rest_framework.throttling import SimpleRateThrottle
    from rest_framework.views import APIView

    monkeypatch.setattr(APIView, "throttle_classes", perform_import(["colorreview.api.throttling.AnonThrottle"],
                                                                    "DEFAULT_THROTTLE_CLASSES"))
    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "1/minute"})
    for path, method, operation in _operations(SchemaGenerator().get_schema(request=None, public=True)):
        assert "429" in operation["responses"], f"{method} {path}"  # a wrong token is throttled too


@pytest.fixture
def low_rates(monkeypatch):
    from django.core.cache import cache
    from rest_framework.throttling import SimpleRateThrottle

    monkeypatch.setattr(SimpleRateThrottle, "THROTTLE_RATES", {"anon": "3/minute", "user": "3/minute"})
    cache.clear()
    yield
    cache.clear()


def test_guessing_tokens_or_calling_without_credentials_is_throttled_by_address(low_rates, curator):
    from rest_framework.authtoken.models import Token
    from rest_framework.test import APIClient

    guesser = APIClient()
    answers = []
    for i in range(3):  # a forwarded-for header of its own choosing does not make it another address
        guesser.credentials(HTTP_AUTHORIZATION=f"Token guess{i}", HTTP_X_FORWARDED_FOR=f"10.0.0.{i}")
        answers.append(guesser.get("/api/products/"))
    answers.append(APIClient().get("/api/products/"))  # no credentials, same address: the same budget
    assert [a.status_code for a in answers] == [401, 401, 401, 429]
    assert int(answers[-1]["Retry-After"]) > 0 and "throttled" in answers[-1].json()["detail"].lower()
    honest = APIClient()  # a valid token is counted by its account, not by the address
    honest.credentials(HTTP_AUTHORIZATION=f"Token {Token.objects.get_or_create(user=curator)[0].key}")
    assert honest.get("/api/products/").status_code == 200


def test_an_account_without_a_role_is_throttled_and_a_refusal_after_the_throttles_counts_once(low_rates, outsider,
                                                                                                merchandiser):
    from rest_framework.test import APIClient

    from tests.factories import PredictionFactory, ProductFactory, SuggestionFactory

    role_less = APIClient()
    role_less.force_authenticate(outsider)
    assert [role_less.get("/api/products/").status_code for _ in range(4)] == [403, 403, 403, 429]
    product = ProductFactory(tag="Red")
    flag = SuggestionFactory(prediction=PredictionFactory(product=product, predicted_color="Blue"), kind="mislabel")
    api = APIClient()
    api.force_authenticate(merchandiser)  # a role, not the one deciding mislabels: the view refuses, once counted
    assert [api.post(f"/api/suggestions/{flag.pk}/accept/").status_code for _ in range(4)] == [403, 403, 403, 429]
