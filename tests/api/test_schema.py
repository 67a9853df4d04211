"""The OpenAPI schema says what each action takes and what it answers."""

from __future__ import annotations

import pytest
from drf_spectacular.generators import SchemaGenerator


@pytest.fixture(scope="module")
def schema() -> dict:
    return SchemaGenerator().get_schema(request=None, public=True)


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
        assert _answers(schema, path) == {"200": "Suggestion", "401": "Detail", "409": "Detail"}, path
    assert _fields(schema, "Decision") == ({"note"}, set())
    assert _request(schema, "/api/suggestions/{id}/correct/") == "Correction"
    assert _fields(schema, "Correction") == ({"note", "color"}, {"color"})
    assert _answers(schema, "/api/suggestions/{id}/correct/") == {"200": "Suggestion", "401": "Detail",
                                                                      "409": "Detail"}


def test_bulk_accept_takes_its_criteria_and_answers_the_bulk_approval(schema):
    path = "/api/suggestions/bulk-accept/"
    assert _request(schema, path) == "BulkAccept"
    assert _fields(schema, "BulkAccept") == ({"kind", "ids", "min_confidence", "note", "count_only"}, set())
    answers = _answers(schema, path)
    assert (answers["202"], answers["503"]) == ("BulkApproval", "Detail")
    either = schema["components"]["schemas"][answers["200"]]["oneOf"]  # the approval, or with count_only a count
    assert [one["$ref"].rsplit("/", 1)[1] for one in either] == ["BulkAcceptResult", "BulkCount"]
    listed, ran = (schema["components"]["schemas"][name]["properties"] for name in ("BulkApproval", "BulkAcceptResult"))
    assert listed["accepted"]["type"] == ran["accepted"]["type"] == "integer"
    assert set(ran) == set(listed) | {"accepted_ids", "skipped"}
    assert ran["accepted_ids"]["items"]["type"] == "integer"
    assert _fields(schema, "Skipped") == ({"id", "reason"}, {"id", "reason"})


def test_archiving_takes_a_note_and_run_actions_take_no_body(schema):
    for path in ("/api/products/{sku}/archive/", "/api/products/{sku}/unarchive/"):
        assert _request(schema, path) == "Decision", path
        assert _answers(schema, path) == {"200": "Product", "401": "Detail", "409": "Detail"}, path
    for path in ("/api/runs/", "/api/runs/{id}/cancel/", "/api/runs/{id}/resume/", "/api/bulk-approvals/{id}/undo/"):
        assert _request(schema, path) is None, path
    assert _answers(schema, "/api/runs/") == {"201": "PipelineRun", "200": "Detail", "401": "Detail",
                                              "409": "RunActive", "503": "Detail"}
    assert _fields(schema, "RunActive")[0] == {"detail", "run"}
    assert _answers(schema, "/api/runs/{id}/resume/") == {"200": "RunResumed", "401": "Detail", "503": "Detail"}
    assert _answers(schema, "/api/bulk-approvals/{id}/undo/") == {"200": "BulkApproval", "401": "Detail",
                                                                   "409": "Detail", "503": "Detail"}


def test_the_schema_is_served_as_json_with_the_documented_bodies(client, curator):
    client.force_login(curator)
    served = client.get("/api/schema/?format=json").json()
    assert _request(served, "/api/suggestions/{id}/correct/") == "Correction"
    assert _answers(served, "/api/suggestions/bulk-accept/")["202"] == "BulkApproval"


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
