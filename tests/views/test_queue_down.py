"""Actions that need the task queue, with the broker down (a port where nothing listens): each says so,
with no server error, and leaves nothing half done: what it was for is put back or never made."""

from __future__ import annotations

from contextlib import contextmanager

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from colorreview.models import BulkApproval, CategoryThreshold, ColorName, Product, Suggestion
from colorreview.services import bulk
from tests.factories import PredictionFactory, ProductFactory, SuggestionFactory

# outside a transaction, as a request is: the jobs are queued at once
pytestmark = pytest.mark.django_db(transaction=True, serialized_rollback=True)
HTMX = {"HTTP_HX_REQUEST": "true"}


@contextmanager
def broker_down():
    """The broker replaced by a port where nothing listens, for every publish and check; then the one before."""
    from colorreview.celery import app
    from tests.tasks.harness import use_broker

    saved = app.conf.broker_url, dict(app.conf.broker_transport_options or {})
    use_broker("redis://127.0.0.1:1/0", {})
    try:
        yield
    finally:
        use_broker(*saved)


@pytest.fixture
def dead_broker():
    with broker_down():
        yield


def _imputations(n: int) -> list[Suggestion]:
    return [SuggestionFactory(kind="impute", prediction=PredictionFactory(
        product=ProductFactory(tag=""), confidence=0.97, predicted_color="Red")) for _ in range(n)]


def test_a_large_bulk_approval_says_the_queue_is_down_and_approves_nothing(client, merchandiser, settings,
                                                                          dead_broker):
    settings.COLORREVIEW_BULK_INLINE = 2
    _imputations(4)
    client.force_login(merchandiser)
    response = client.post("/imputations/", {"scope": "threshold", "min_confidence": "90", "confirm": "1"}, **HTMX)
    page = response.content.decode()
    assert response.status_code == 200 and "Not approved" in page and "task queue is unavailable" in page
    approval = BulkApproval.objects.get()
    assert approval.status == "failed" and "nothing was approved" in approval.error
    assert set(Suggestion.objects.values_list("status", flat=True)) == {"pending"}
    api = client.post("/api/suggestions/bulk-accept/", {"kind": "impute", "min_confidence": 0.9},
                      content_type="application/json")
    assert api.status_code == 503 and "task queue is unavailable" in api.json()["detail"]


def test_an_undo_with_the_queue_down_keeps_the_batch_approved_and_can_be_done_later(client, merchandiser,
                                                                                    settings, dead_broker):
    items = _imputations(4)
    approval = bulk.bulk_approval_start(user=merchandiser, ids=[s.pk for s in items])  # small: runs at once
    settings.COLORREVIEW_BULK_INLINE = 2  # its undo goes to the queue
    client.force_login(merchandiser)
    response = client.post(f"/api/bulk-approvals/{approval.pk}/undo/")
    assert response.status_code == 503 and "nothing was undone" in response.json()["detail"]
    approval.refresh_from_db()
    assert (approval.status, approval.undone_by, approval.reverted) == ("finished", None, 0)
    assert set(Suggestion.objects.values_list("status", flat=True)) == {"accepted"}
    page = client.post(f"/imputations/bulk/{approval.pk}/", **HTMX).content.decode()
    assert "task queue is unavailable" in page and "already undone" not in page


def test_an_undo_refused_while_the_queue_was_down_goes_through_when_it_is_back(client, merchandiser, settings,
                                                                               monkeypatch):
    from colorreview import tasks

    items = _imputations(3)
    approval = bulk.bulk_approval_start(user=merchandiser, ids=[s.pk for s in items])
    settings.COLORREVIEW_BULK_INLINE = 1
    client.force_login(merchandiser)
    with broker_down():
        assert client.post(f"/api/bulk-approvals/{approval.pk}/undo/").status_code == 503
    monkeypatch.setattr(tasks.bulk_undo_job, "apply_async",  # the queue is back: a worker runs the job
                        lambda args=(), kwargs=None, **kw: tasks.bulk_undo_job.apply(args, kwargs))
    response = client.post(f"/api/bulk-approvals/{approval.pk}/undo/")
    assert response.status_code == 200 and response.json()["status"] == "undone"
    assert set(Suggestion.objects.values_list("status", flat=True)) == {"pending"}


def test_an_undo_job_whose_undo_was_taken_back_changes_nothing(merchandiser):
    items = _imputations(2)
    approval = bulk.bulk_approval_start(user=merchandiser, ids=[s.pk for s in items])
    bulk.bulk_undo_run(approval_id=approval.pk)  # a message delivered although publishing seemed to fail
    assert set(Suggestion.objects.values_list("status", flat=True)) == {"accepted"}


def test_a_threshold_is_not_changed_while_its_suggestions_cannot_be_brought_in_line(client, admin_user,
                                                                                   dead_broker):
    client.force_login(admin_user)
    response = client.post("/thresholds/", {"category": "Jeans", "impute": "92", "mislabel": ""}, follow=True)
    page = response.content.decode()
    assert response.status_code == 200 and "Jeans: not changed: the task queue is unavailable" in page
    assert not CategoryThreshold.objects.exists()


def test_a_vocabulary_edit_is_saved_and_says_the_remap_waits_for_the_queue(client, admin_user, thresholds,
                                                                          dead_broker):
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    orange = ColorName.objects.get(name="Orange")
    client.force_login(admin_user)
    response = client.post(f"/admin/colorreview/colorname/{orange.pk}/change/", {
        "name": "Orange", "hex": orange.hex, "family": "Orange", "nameable": "on", "active": "on",
        "aliases": orange.aliases + "|sunset glow"}, follow=True)
    page = response.content.decode()
    assert response.status_code == 200 and "could not be mapped again: the task queue is unavailable" in page
    assert "sunset glow" in ColorName.objects.get(pk=orange.pk).aliases


def test_a_retrain_with_the_queue_down_says_so(settings, dead_broker):
    settings.COLORREVIEW_RETRAIN_MIN_LABELS = 0
    with pytest.raises(CommandError, match="task queue is unavailable"):
        call_command("retrain")


def test_starting_a_run_with_damaged_weights_says_so(client, admin_user, damaged_weights):
    ProductFactory(status="pending")
    client.force_login(admin_user)
    page = client.post("/runs/start/", **HTMX).content.decode()
    assert "colour models cannot be loaded" in page and "does not match its model card" in page
    api = client.post("/api/runs/")
    assert api.status_code == 503 and "no run was started" in api.json()["detail"]
    with pytest.raises(CommandError, match="colornet_image.pt does not match its model card"):
        call_command("run_pipeline")
    assert Product.objects.get().status == "pending"


def test_an_upload_with_the_queue_down_fails_its_import_saying_so(client, admin_user, settings, tmp_path,
                                                                 dead_broker):
    from django.core.files.uploadedfile import SimpleUploadedFile

    from colorreview.models import ImportBatch

    settings.COLORREVIEW_UPLOAD_DIR = tmp_path / "uploads"
    client.force_login(admin_user)
    response = client.post("/import/", {"catalog": SimpleUploadedFile("c.csv", b"sku,image\nA1,a.jpg\n")})
    batch = ImportBatch.objects.get()
    assert response.status_code == 302 and batch.status == "failed" and "upload the file again" in batch.error
    assert not any((tmp_path / "uploads").iterdir())  # the stored upload is removed
