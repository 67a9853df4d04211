"""Every URL as each role and as an anonymous visitor. ACCESS is the table in the README
("Who may do what"); a URL pattern missing from it fails the test."""

from __future__ import annotations

import json

import pytest
from django.contrib.auth.models import Group, User
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone

from colorreview.models import BulkApproval, ImportBatch, PipelineRun, Product, Suggestion
from colorreview.services.review import suggestion_accept
from tests.factories import PredictionFactory, ProductFactory, SuggestionFactory

pytestmark = pytest.mark.django_db
ROLES = ("anonymous", "outsider", "curator", "merchandiser", "admin")
LOGIN, DENIED = "login", 403  # "login": pages send anonymous visitors to the sign-in page
SIGN_IN = 401  # the API asks anonymous callers for credentials (WWW-Authenticate)
OK, DONE = 200, 302  # DONE: a form post that redirects back after acting

#: (url name, method, path template) -> expected status for anonymous, outsider, curator, merchandiser, admin
ACCESS = {
    ("dashboard", "GET", "/"): (LOGIN, DENIED, OK, OK, OK),
    ("login", "GET", "/login/"): (OK, DONE, DONE, DONE, DONE),  # signed in: on to the dashboard
    ("logout", "POST", "/logout/"): (DONE, DONE, DONE, DONE, DONE),
    ("queue", "GET", "/review/"): (LOGIN, DENIED, OK, OK, OK),
    ("undo", "POST", "/review/undo/"): (LOGIN, DENIED, DONE, DONE, DONE),
    ("decide", "POST", "/review/{mislabel}/accept/"): (LOGIN, DENIED, DONE, DENIED, DONE),
    ("decide", "POST", "/review/{impute}/accept/"): (LOGIN, DENIED, DENIED, DONE, DONE),
    ("decide", "POST", "/review/{decided}/reopen/"): (LOGIN, DENIED, DENIED, DENIED, DONE),
    ("bulk", "GET", "/imputations/"): (LOGIN, DENIED, DENIED, OK, OK),
    ("bulk-progress", "GET", "/imputations/bulk/{bulk}/"): (LOGIN, DENIED, DENIED, 404, 286),  # the admin's own
    ("bulk-progress", "POST", "/imputations/bulk/{bulk}/"): (LOGIN, DENIED, DENIED, 404, OK),
    ("products", "GET", "/products/"): (LOGIN, DENIED, OK, OK, OK),
    ("product", "GET", "/products/{sku}/"): (LOGIN, DENIED, OK, OK, OK),
    ("product-color", "POST", "/products/{sku}/color/"): (LOGIN, DENIED, DONE, DONE, DONE),
    ("archive-product", "POST", "/products/{archivable}/archive/"): (LOGIN, DENIED, DENIED, DENIED, DONE),
    ("unarchive-product", "POST", "/products/{archivable}/unarchive/"): (LOGIN, DENIED, DENIED, DENIED, DONE),
    ("import", "GET", "/import/"): (LOGIN, DENIED, DENIED, DENIED, OK),
    ("import-detail", "GET", "/import/{batch}/"): (LOGIN, DENIED, DENIED, DENIED, OK),
    ("import-cancel", "POST", "/import/{batch}/cancel/"): (LOGIN, DENIED, DENIED, DENIED, DONE),
    ("thresholds", "GET", "/thresholds/"): (LOGIN, DENIED, DENIED, DENIED, OK),
    ("thresholds", "POST", "/thresholds/"): (LOGIN, DENIED, DENIED, DENIED, DONE),
    ("run-start", "POST", "/runs/start/"): (LOGIN, DENIED, DENIED, DENIED, OK),
    ("run-progress", "GET", "/runs/{run}/progress/"): (LOGIN, DENIED, OK, OK, OK),
    ("cancel-run", "POST", "/runs/{run}/cancel/"): (LOGIN, DENIED, DENIED, DENIED, OK),
    ("resume-run", "POST", "/runs/{run}/resume/"): (LOGIN, DENIED, DENIED, DENIED, OK),
    ("healthz", "GET", "/healthz"): (OK, OK, OK, OK, OK),
    ("export-page", "GET", "/export/"): (LOGIN, DENIED, DENIED, DENIED, OK),
    ("export", "GET", "/export.csv"): (LOGIN, DENIED, DENIED, DENIED, OK),
    ("media", "GET", "/media/images/aa/test.jpg"): (LOGIN, DENIED, OK, OK, OK),
    ("admin", "GET", "/admin/"): (LOGIN, LOGIN, LOGIN, LOGIN, OK),
    ("schema", "GET", "/api/schema/"): (SIGN_IN, DENIED, OK, OK, OK),
    ("docs", "GET", "/api/docs/"): (SIGN_IN, DENIED, OK, OK, OK),
    ("api-root", "GET", "/api/"): (SIGN_IN, DENIED, OK, OK, OK),
    ("product-list", "GET", "/api/products/"): (SIGN_IN, DENIED, OK, OK, OK),
    ("product-detail", "GET", "/api/products/{sku}/"): (SIGN_IN, DENIED, OK, OK, OK),
    ("product-archive", "POST", "/api/products/{archivable}/archive/"): (SIGN_IN, DENIED, DENIED, DENIED, OK),
    ("product-unarchive", "POST", "/api/products/{archivable}/unarchive/"): (SIGN_IN, DENIED, DENIED, DENIED, 409),
    ("prediction-list", "GET", "/api/predictions/"): (SIGN_IN, DENIED, OK, OK, OK),
    ("prediction-detail", "GET", "/api/predictions/{prediction}/"): (SIGN_IN, DENIED, OK, OK, OK),
    ("suggestion-list", "GET", "/api/suggestions/"): (SIGN_IN, DENIED, OK, OK, OK),
    ("suggestion-detail", "GET", "/api/suggestions/{mislabel}/"): (SIGN_IN, DENIED, OK, 404, OK),
    ("suggestion-detail", "GET", "/api/suggestions/{decided}/"): (SIGN_IN, DENIED, OK, 404, OK),
    ("suggestion-accept", "POST", "/api/suggestions/{mislabel}/accept/"): (SIGN_IN, DENIED, OK, DENIED, OK),
    ("suggestion-reject", "POST", "/api/suggestions/{mislabel}/reject/"): (SIGN_IN, DENIED, OK, DENIED, OK),
    ("suggestion-correct", "POST", "/api/suggestions/{mislabel}/correct/"): (SIGN_IN, DENIED, OK, DENIED, OK),
    ("suggestion-bulk-accept", "POST", "/api/suggestions/bulk-accept/"): (SIGN_IN, DENIED, DENIED, OK, OK),
    ("suggestion-undo", "POST", "/api/suggestions/undo/"): (SIGN_IN, DENIED, 409, 409, OK),
    ("suggestion-reopen", "POST", "/api/suggestions/{decided}/reopen/"): (SIGN_IN, DENIED, DENIED, DENIED, OK),
    ("run-list", "GET", "/api/runs/"): (SIGN_IN, DENIED, OK, OK, OK),
    ("bulk-approval-list", "GET", "/api/bulk-approvals/"): (SIGN_IN, DENIED, OK, OK, OK),
    ("bulk-approval-detail", "GET", "/api/bulk-approvals/{bulk}/"): (SIGN_IN, DENIED, 404, 404, OK),
    ("bulk-approval-undo", "POST", "/api/bulk-approvals/{bulk}/undo/"): (SIGN_IN, DENIED, 404, 404, 409),  # undone above
    ("run-detail", "GET", "/api/runs/{run}/"): (SIGN_IN, DENIED, OK, OK, OK),
    ("run-list", "POST", "/api/runs/"): (SIGN_IN, DENIED, DENIED, DENIED, OK),
    ("run-cancel", "POST", "/api/runs/{run}/cancel/"): (SIGN_IN, DENIED, DENIED, DENIED, OK),
    ("run-resume", "POST", "/api/runs/{run}/resume/"): (SIGN_IN, DENIED, DENIED, DENIED, OK),
    ("api-export", "GET", "/api/export/"): (SIGN_IN, DENIED, DENIED, DENIED, OK),
}
BODIES = {"/products/{sku}/color/": {"color": "Blue", "note": "checked"},
          "/thresholds/": {"category": "Tshirts", "impute": "85", "mislabel": ""},
          "/api/suggestions/{mislabel}/correct/": {"color": "Green"},
          "/api/suggestions/bulk-accept/": {"kind": "impute", "ids": ["{impute}"]}}


def _named_patterns(patterns=None, prefix="") -> set[str]:
    names = set()
    for p in patterns if patterns is not None else get_resolver().url_patterns:
        if isinstance(p, URLResolver):
            if p.namespace == "admin":
                names.add("admin")
            else:
                names |= _named_patterns(p.url_patterns, prefix)
        elif isinstance(p, URLPattern) and p.name and not p.name.endswith("format"):
            names.add(p.name)
    return names


def test_every_url_pattern_is_in_the_access_table():
    assert _named_patterns() - {name for name, _, _ in ACCESS} == set()


@pytest.fixture
def world(curator, merchandiser, admin_user, settings, monkeypatch):
    settings.MEDIA_ROOT.joinpath("images/aa").mkdir(parents=True)
    settings.MEDIA_ROOT.joinpath("images/aa/test.jpg").write_bytes(b"jpeg")
    monkeypatch.setattr("colorreview.views.pages.pipeline_run_start", lambda **_: None)
    monkeypatch.setattr("colorreview.api.views.pipeline_run_start", lambda **_: None)
    mislabel = SuggestionFactory(prediction=PredictionFactory(product=ProductFactory(tag="Red"),
                                                              predicted_color="Blue"), kind="mislabel")
    impute = SuggestionFactory(prediction=PredictionFactory(product=ProductFactory(tag="")), kind="impute")
    decided = suggestion_accept(suggestion=SuggestionFactory(prediction=PredictionFactory(
        product=ProductFactory(tag="Green"), predicted_color="Red"), kind="mislabel"), user=admin_user)
    admin_user.is_staff = True  # as `assign_role USER admin` leaves it
    admin_user.save()
    users = {"anonymous": None, "outsider": User.objects.create_user("nobody", password="pw"),
             "curator": curator, "merchandiser": merchandiser, "admin": admin_user}
    ids = {"admin": admin_user.pk, "mislabel": mislabel.pk, "impute": impute.pk, "decided": decided.pk, "sku": mislabel.product.sku,
           "prediction": mislabel.prediction_id, "run": PipelineRun.objects.create(model_version="m", total=1).pk,
           "batch": ImportBatch.objects.create(source_name="c.csv", status="finished").pk,
           "bulk": BulkApproval.objects.create(created_by=admin_user, kind="impute", status="finished").pk,
           "archivable": ProductFactory(sku="ARCHIVABLE").sku}
    return users, ids


@pytest.mark.parametrize("role", ROLES)
def test_every_url_answers_each_role_as_the_table_says(world, role):
    users, ids = world
    got, expected = {}, {}
    for (_name, method, template), statuses in ACCESS.items():
        client = Client()
        if users[role] is not None:
            client.force_login(users[role])
        path = template.format(**ids)
        body = json.loads(json.dumps(BODIES.get(template, {})).replace('"{impute}"', str(ids["impute"])))
        if method == "GET":
            response = client.get(path)
        elif path.startswith("/api/"):
            response = client.post(path, body, content_type="application/json")
        else:
            response = client.post(path, body)
        want = statuses[ROLES.index(role)]
        status = response.status_code
        if want == LOGIN:
            status = LOGIN if status == 302 and "login" in response["Location"] else status
        got[f"{method} {template}"], expected[f"{method} {template}"] = status, want
        _reset(ids)
    assert got == expected


def _reset(ids):
    """Each URL is tried on the same starting state."""
    Suggestion.objects.filter(pk__in=[ids["mislabel"], ids["impute"]]).update(
        status="pending", decided_by=None, decided_at=None, final_color="", claimed_by=None, claimed_until=None)
    Suggestion.objects.filter(pk=ids["decided"]).update(status="accepted", decided_by=ids["admin"],
                                                       decided_at=timezone.now(), final_color="Red")
    Product.objects.filter(sku=ids["archivable"]).update(archived_at=None, archived_by=None)
    PipelineRun.objects.filter(pk=ids["run"]).update(status="queued", finished_at=None)


def test_every_post_needs_a_csrf_token(world):
    users, ids = world
    client = Client(enforce_csrf_checks=True)
    client.force_login(users["admin"])
    for (_, method, template), _statuses in ACCESS.items():
        if method == "POST":
            response = client.post(template.format(**ids), {})
            assert response.status_code == 403, template
    assert Suggestion.objects.get(pk=ids["mislabel"]).status == "pending"


def test_a_forged_role_changes_nothing(world):
    users, ids = world
    client = Client()
    client.force_login(users["merchandiser"])
    Group.objects.get_or_create(name="Curator")  # a look-alike group name is not a role
    users["merchandiser"].groups.add(Group.objects.get(name="Curator"))
    assert client.post(f"/review/{ids['mislabel']}/accept/", {"role": "curator"}).status_code == 403
    assert Suggestion.objects.get(pk=ids["mislabel"]).status == "pending"
