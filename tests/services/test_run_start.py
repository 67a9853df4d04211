"""A run over the whole catalogue: started at once, queued in the background by keyset, one at a time per
model version, cancellable."""

from __future__ import annotations

import pytest

from colorreview.models import PipelineRun, Product
from colorreview.services import progress
from colorreview.services.catalog import import_catalog
from colorreview.services.predictions import predict_products, products_to_predict
from colorreview.services.runs import RunAlreadyActive, pipeline_run_cancel, pipeline_run_start, run_enqueue
from tests.conftest import small_catalogue

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(tmp_path, fast_pipeline):
    fast_pipeline.COLORREVIEW_BATCH_SIZE = 2
    import_catalog(csv_bytes=small_catalogue(tmp_path / "shots", 7), source_name="c.csv", csv_dir=tmp_path / "shots")
    return Product.objects.order_by("pk")


def test_a_start_creates_the_run_and_a_job_queues_it_chunk_by_chunk(catalogue, published,
                                                                     django_capture_on_commit_callbacks,
                                                                     django_assert_max_num_queries, monkeypatch):
    monkeypatch.setattr("colorreview.tasks.enqueue_run.delay", lambda pk: None)
    with django_capture_on_commit_callbacks(execute=True):
        run = pipeline_run_start()
    assert (run.status, run.enqueued, run.total) == ("queued", False, 0)
    assert not Product.objects.filter(status="queued").exists()  # nothing queued in the request
    with pytest.raises(RunAlreadyActive, match=f"run {run.pk} of this model version is still queued"):
        pipeline_run_start()
    with django_assert_max_num_queries(12 + 4 * 5):  # a few statements per chunk of 3, none per product
        assert run_enqueue(run_id=run.pk, window=3) == 7
    run.refresh_from_db()
    assert (run.enqueued, run.total, run.enqueued_upto) == (True, 7, catalogue.last().pk)
    assert [len(ids) for ids, _ in published] == [3, 3, 1]  # ranges of up to 4 batches of 2, never across a chunk
    assert sorted(pk for ids, _ in published for pk in ids) == list(catalogue.values_list("pk", flat=True))
    assert set(Product.objects.values_list("status", flat=True)) == {"pending"}  # no product row written
    assert [(b.first_id, b.last_id, b.size) for b in run.batches.all()] == [
        (ids[0], ids[-1], len(ids)) for ids, _ in published]
    for delivery in published.deliveries():
        predict_products(**delivery)
    run.refresh_from_db()
    assert (run.status, run.done + run.failed, run.total) == ("finished", 7, 7)
    assert not run.batches.exists()  # a finished run drops its ranges
    assert run_enqueue(run_id=run.pk) == 0  # delivered again: nothing more


@pytest.fixture
def queued_run(catalogue, published, monkeypatch):
    """A run over the catalogue, queued by its job in ranges of 3 ids: the run and its batches."""
    monkeypatch.setattr("colorreview.tasks.enqueue_run.delay", lambda pk: None)
    run = pipeline_run_start()
    run_enqueue(run_id=run.pk, window=3)
    return run, published.deliveries()


def test_a_range_is_adopted_once_and_a_second_delivery_reads_nothing_new(queued_run):
    run, (first, *rest) = queued_run
    assert predict_products(**first) == {"done": 3, "failed": 0}  # a range of 3, read as batches of 2 and 1
    assert set(run.products.values_list("status", flat=True)) == {"predicted"}
    assert predict_products(**first) == {"done": 0, "failed": 0}  # delivered twice: nothing read again
    assert predict_products(**{**rest[0], "product_ids": []}) == {"done": 3, "failed": 0}  # a resumed range
    assert run.products.count() == 6 and PipelineRun.objects.get(pk=run.pk).status == "running"


def test_ranges_taken_while_the_job_still_queues_are_counted_once(catalogue, monkeypatch):
    from colorreview.services import runs

    monkeypatch.setattr("colorreview.tasks.enqueue_run.delay", lambda pk: None)
    run = pipeline_run_start()
    taken = []

    def publish_and_take_the_first(run_id, batches, release=True, batch_ids=None):
        if not taken:  # a worker takes the first range at once
            taken.append(predict_products(product_ids=batches[0], run_id=run_id, batch_id=batch_ids[0]))

    monkeypatch.setattr(runs, "_publish", publish_and_take_the_first)
    run_enqueue(run_id=run.pk, window=3)
    run.refresh_from_db()
    assert taken == [{"done": 3, "failed": 0}] and (run.total, run.done, run.status) == (7, 3, "running")


def test_a_starting_worker_queues_again_the_rest_of_a_range_a_dead_worker_had_taken(queued_run, published):
    from colorreview.services import runs

    run, (first, *rest) = queued_run
    ids = progress.batch_adopt(run_id=run.pk, batch_id=first["batch_id"], todo=products_to_predict(
        run.model_version))
    progress.batch_claim(run_id=run.pk, product_ids=ids[:2])  # its first batch of 2; then the worker died
    del published[:], published.batch_ids[:]
    assert runs.runs_recover(worker_name="new@here") == 3
    # the embedded queue (these tests' default) dropped what the dead worker had received: the untaken
    # ranges are sent again too; a range is adopted once, so a message that survived reads nothing
    assert published.batch_ids == [d["batch_id"] for d in rest] + [None, None]
    assert [ids for ids, _ in published][-2:] == [ids[:2], ids[2:]]
    for delivery in published.deliveries() + rest:
        predict_products(**delivery)
    assert set(Product.objects.values_list("status", flat=True)) == {"predicted"}
    assert PipelineRun.objects.get(pk=run.pk).status == "finished"


def test_a_range_that_fails_for_good_fails_what_it_was_reading_and_releases_the_rest(queued_run):
    run, (first, *_) = queued_run
    ids = progress.batch_adopt(run_id=run.pk, batch_id=first["batch_id"], todo=products_to_predict(
        run.model_version))
    progress.batch_claim(run_id=run.pk, product_ids=ids[:2])  # its first batch is being read
    progress.run_record_failure(run_id=run.pk, product_ids=[], error="boom", batch_id=first["batch_id"])
    states = dict(Product.objects.filter(pk__in=ids).values_list("pk", "status"))
    assert [states[pk] for pk in ids] == ["failed", "failed", "pending"]  # the untried one waits for a later run
    assert run.batches.get(pk=first["batch_id"]).taken


def test_a_starting_worker_restarts_the_queuing_job_of_a_run_left_half_queued(catalogue, monkeypatch):
    from colorreview.services import runs

    class Died(Exception):
        pass

    def publish_then_die(run_id, batches, release=True, batch_ids=None):
        raise Died  # the job's worker stopped after it had recorded (and sent) its first window

    sent = []
    monkeypatch.setattr("colorreview.tasks.enqueue_run.delay", sent.append)
    run = pipeline_run_start()
    with monkeypatch.context() as patched:
        patched.setattr(runs, "_publish", publish_then_die)
        with pytest.raises(Died):
            run_enqueue(run_id=run.pk, window=3)
    assert run.batches.count() == 1 and not PipelineRun.objects.get(pk=run.pk).enqueued
    runs.runs_recover(worker_name="new@here")
    assert sent == [run.pk]  # the queuing job, sent again (the start's waits for a commit that a test never makes)
    monkeypatch.setattr(runs, "_publish", lambda *args, **kwargs: None)
    run_enqueue(run_id=run.pk, window=3)  # goes on from the cursor: no range recorded twice
    assert [b.size for b in run.batches.all()] == [3, 3, 1]
    assert PipelineRun.objects.get(pk=run.pk).total == 7


def test_a_broker_gone_while_a_run_is_queued_keeps_its_ranges_for_a_resume(catalogue, published, monkeypatch):
    from kombu.exceptions import OperationalError

    from colorreview.services import runs

    monkeypatch.setattr("colorreview.tasks.enqueue_run.delay", lambda pk: None)
    run = pipeline_run_start()
    real, calls = runs._publish, []

    def broker_goes_after_the_first_window(*args, **kwargs):
        calls.append(1)
        if len(calls) > 1:
            raise runs.QueueUnavailable("the task queue is unavailable") from OperationalError("down")
        return real(*args, **kwargs)

    with monkeypatch.context() as patched:
        patched.setattr(runs, "_publish", broker_goes_after_the_first_window)
        with pytest.raises(runs.QueueUnavailable):
            run_enqueue(run_id=run.pk, window=3)
    run.refresh_from_db()
    assert (run.status, run.enqueued, run.batches.count(), len(published)) == ("queued", False, 2, 1)
    assert "unavailable" in run.error
    del published[:], published.batch_ids[:]
    assert runs.run_resume(run=run) == 6  # the two recorded ranges; the job goes on from its cursor
    run_enqueue(run_id=run.pk, window=3)
    for delivery in published.deliveries():
        predict_products(**delivery)
    assert PipelineRun.objects.get(pk=run.pk).status == "finished"
    assert set(Product.objects.values_list("status", flat=True)) == {"predicted"}


def test_a_run_waits_for_every_range_and_resume_queues_those_not_taken(queued_run, published):
    from colorreview.services.runs import run_resume

    run, deliveries = queued_run
    predict_products(**deliveries[0])
    assert not progress.run_finish_if_done(run.pk)  # two ranges untaken: their messages may be lost
    del published[:], published.batch_ids[:]
    assert run_resume(run=PipelineRun.objects.get(pk=run.pk)) == 4
    assert published.batch_ids == [d["batch_id"] for d in deliveries[1:]]
    for delivery in published.deliveries():
        predict_products(**delivery)
    assert PipelineRun.objects.get(pk=run.pk).status == "finished"
    assert set(Product.objects.values_list("status", flat=True)) == {"predicted"}


def test_a_run_being_queued_does_not_finish_early(catalogue, published):
    run = PipelineRun.objects.create(model_version="m", enqueued=False)
    assert not progress.run_finish_if_done(run.pk)
    assert PipelineRun.objects.get(pk=run.pk).status == "queued"


def test_cancel_sends_the_products_back_and_the_run_stays_cancelled(queued_run):
    run, deliveries = queued_run
    predict_products(**deliveries[0])
    assert pipeline_run_cancel(run=run) and not pipeline_run_cancel(run=run)
    assert not Product.objects.filter(status__in=["queued", "running"]).exists()
    assert Product.objects.filter(status="pending").count() == 4
    assert predict_products(**deliveries[1]) == {"done": 0, "failed": 0}
    assert Product.objects.filter(status="pending").count() == 4  # a range of a cancelled run adopts nothing
    progress.run_finish_if_done(run.pk)
    assert PipelineRun.objects.get(pk=run.pk).status == "cancelled"
    assert pipeline_run_start() is not None  # the cancelled run no longer blocks a new one


def test_a_range_whose_worker_died_after_the_cancel_puts_what_it_was_reading_back_to_waiting(queued_run):
    from colorreview.models import RunBatch
    from colorreview.services.runs import runs_release_orphans

    run, (first, *rest) = queued_run
    ids = progress.batch_adopt(run_id=run.pk, batch_id=first["batch_id"], todo=products_to_predict(
        run.model_version))
    progress.batch_claim(run_id=run.pk, product_ids=ids[:2])  # reading its first batch; the run is cancelled
    assert pipeline_run_cancel(run=run)
    assert Product.objects.filter(status="running").count() == 2  # the worker may still be reading them
    # it died: its range is delivered again to another worker, which reads nothing and releases them
    assert predict_products(**first) == {"done": 0, "failed": 0}
    assert set(Product.objects.values_list("status", flat=True)) == {"pending"}
    assert PipelineRun.objects.get(pk=run.pk).done == 0
    assert runs_release_orphans() == 0 and not RunBatch.objects.filter(run_id=run.pk).exists()


def test_a_cancel_drops_the_ranges_no_worker_took_and_the_rest_go_once_no_delivery_can_come(queued_run, published,
                                                                                          settings):
    from datetime import timedelta

    from django.utils import timezone

    from colorreview.models import RunBatch
    from colorreview.services.runs import run_resume, runs_forget_ranges

    run, (first, *rest) = queued_run
    progress.batch_adopt(run_id=run.pk, batch_id=first["batch_id"], todo=products_to_predict(run.model_version))
    assert pipeline_run_cancel(run=run)
    assert list(RunBatch.objects.filter(run_id=run.pk).values_list("pk", flat=True)) == [first["batch_id"]]
    del published[:], published.batch_ids[:]
    assert run_resume(run=run) == 0 and published == []  # a run that ended stays as it ended
    assert runs_forget_ranges() == 0  # a redelivery may still come
    PipelineRun.objects.filter(pk=run.pk).update(finished_at=timezone.now() - timedelta(days=1))
    assert runs_forget_ranges() == 1 and not RunBatch.objects.exists()


def test_an_import_while_a_run_is_active_points_at_that_run(catalogue, tmp_path, monkeypatch):
    from colorreview.services.runs import catalog_import_and_queue

    monkeypatch.setattr("colorreview.tasks.enqueue_run.delay", lambda pk: None)
    run = pipeline_run_start()
    report, returned = catalog_import_and_queue(csv_bytes=small_catalogue(tmp_path / "more", 2, prefix="M"),
                                                source_name="more.csv", csv_dir=tmp_path / "more")
    assert report.created == 2 and returned.pk == run.pk
