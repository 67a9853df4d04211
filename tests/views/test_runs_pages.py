"""Run pages: a stalled run offers to resume; a broker that is down is reported, not a 500."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone
from kombu.exceptions import OperationalError

from colorreview.models import PipelineRun, Product
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


@pytest.fixture
def broker_down(monkeypatch):
    def refuse(*args, **kwargs):
        raise OperationalError("Error 111 connecting to 127.0.0.1:1. Connection refused.")

    monkeypatch.setattr("colorreview.tasks.predict_products.apply_async", refuse)
    monkeypatch.setattr("colorreview.tasks.enqueue_run.apply_async", refuse)


@pytest.fixture
def stalled_run(settings):
    run = PipelineRun.objects.create(model_version="v", total=2, status="running")
    PipelineRun.objects.filter(pk=run.pk).update(progress_at=timezone.now() - timedelta(minutes=10))
    for _ in range(2):
        ProductFactory(status="queued", pipeline_run=run)
    return run


def test_health_endpoint_checks_the_database(client):
    response = client.get("/healthz")
    assert response.status_code == 200 and response.json() == {"status": "ok", "database": "ok"}


def test_a_stalled_run_shows_as_stalled_with_resume(client, admin_user, stalled_run, monkeypatch):
    client.force_login(admin_user)
    html = client.get("/").content.decode()
    assert '<strong class="run-status">stalled</strong>' in html and f"/runs/{stalled_run.pk}/resume/" in html
    sent = []
    monkeypatch.setattr("colorreview.tasks.predict_products.apply_async", lambda args, **kw: sent.append(args))
    response = client.post(f"/runs/{stalled_run.pk}/resume/", **HTMX)
    assert response.status_code == 200 and "stalled" not in response.content.decode()
    assert sent == [(sorted(stalled_run.products.values_list("pk", flat=True)), stalled_run.pk)]


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # outside a transaction, as a request is: queued at once
def test_starting_a_run_with_the_queue_down_says_so(client, admin_user, broker_down):
    ProductFactory(status="pending")
    client.force_login(admin_user)
    response = client.post("/runs/start/", **HTMX)
    assert response.status_code == 200 and "task queue is unavailable" in response.content.decode()
    run = PipelineRun.objects.get()
    assert run.status == "failed" and "unavailable" in run.error
    assert Product.objects.get().status == "pending"  # free for the next run
    assert client.get("/").status_code == 200 and client.get("/products/").status_code == 200


@pytest.mark.django_db(transaction=True, serialized_rollback=True)
def test_the_api_answers_503_when_the_queue_is_down(client, admin_user, broker_down, stalled_run):
    ProductFactory(status="pending")
    client.force_login(admin_user)
    assert client.post("/api/runs/").status_code == 503
    assert client.post(f"/api/runs/{stalled_run.pk}/resume/").status_code == 503
    runs = client.get("/api/runs/").json()["results"]
    assert [r["stalled"] for r in runs if r["id"] == stalled_run.pk] == [True]


def test_s3_media_storage_is_configured_from_the_environment(monkeypatch):
    import importlib

    import colorreview.settings as project_settings

    monkeypatch.setenv("COLORREVIEW_STORAGE", "s3")
    monkeypatch.setenv("COLORREVIEW_S3_BUCKET", "catalogue-media")
    monkeypatch.setenv("AWS_S3_ENDPOINT_URL", "http://minio:9000")
    try:
        configured = importlib.reload(project_settings).STORAGES["default"]
    finally:
        monkeypatch.undo()
        importlib.reload(project_settings)
    assert configured["BACKEND"] == "storages.backends.s3.S3Storage"
    assert configured["OPTIONS"]["bucket_name"] == "catalogue-media"
    assert configured["OPTIONS"]["endpoint_url"] == "http://minio:9000"
    from storages.backends.s3 import S3Storage

    storage = S3Storage(**configured["OPTIONS"])  # builds without reaching the bucket
    assert storage.bucket_name == "catalogue-media" and storage.file_overwrite


def test_starting_a_run_while_one_runs_says_so_once_without_a_second_copy_of_it(client, admin_user, stalled_run,
                                                                                   monkeypatch):
    from colorreview.services.runs import RunAlreadyActive

    def already(**_):
        raise RunAlreadyActive(stalled_run)

    monkeypatch.setattr("colorreview.views.pages.pipeline_run_start", already)
    client.force_login(admin_user)
    html = client.post("/runs/start/", HTTP_HX_REQUEST="true").content.decode()
    run = stalled_run
    assert f"Not started: run {run.pk} of this model version is still" in html
    assert f'href="#run-{run.pk}">below</a>' in html and f'id="run-{run.pk}"' not in html and "hx-trigger" not in html
    assert client.get("/").content.decode().count(f'id="run-{run.pk}"') == 1


def test_a_cancelled_run_says_its_figures_are_final_and_stops_polling(client, admin_user):
    run = PipelineRun.objects.create(model_version="v", total=10, done=4, status="running")
    ProductFactory(status="running", pipeline_run=run)  # a batch a worker had started
    client.force_login(admin_user)
    response = client.post(f"/runs/{run.pk}/cancel/", **HTMX)
    html = response.content.decode()
    assert '<strong class="run-status">cancelled</strong> · 4 / 10' in html
    assert "these figures are final" in html and "hx-trigger" not in html
    assert client.get(f"/runs/{run.pk}/progress/", **HTMX).status_code == 286
    assert PipelineRun.objects.get(pk=run.pk).done == 4
