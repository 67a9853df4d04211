"""Runs survive dead workers, redeliveries, poison images and a second run over the same products."""

from __future__ import annotations

import socket
import subprocess
import time
from datetime import timedelta
from unittest import mock

import pytest
from django.db import IntegrityError
from django.utils import timezone

from colorreview.models import PipelineRun, Prediction, Product, Worker
from colorreview.services import progress
from colorreview.services.catalog import import_catalog
from colorreview.services.predictions import pipeline_run_create, predict_products
from colorreview.services.runs import (
    pipeline_run_cancel,
    pipeline_run_here,
    run_resume,
    run_stalled,
    runs_adopt,
    runs_recover,
)
from colorreview.services.workers import WorkerHere, live_workers, worker_beat, workers_forget
from inference.pipeline import Pipeline
from tests.conftest import small_catalogue

_ORIGINAL = Pipeline.predict_batch

pytestmark = pytest.mark.django_db


@pytest.fixture
def catalogue(tmp_path, fast_pipeline):
    fast_pipeline.COLORREVIEW_BATCH_SIZE = 4
    import_catalog(csv_bytes=small_catalogue(tmp_path / "shots", 10), source_name="c.csv", csv_dir=tmp_path / "shots")
    return Product.objects.order_by("pk")


def _dead_pid() -> int:
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_redelivered_batch_counts_nothing_twice(catalogue):
    plan = pipeline_run_create()
    for batch in plan.batches:
        predict_products(product_ids=batch, run_id=plan.run.pk)
    predict_products(product_ids=plan.batches[0], run_id=plan.run.pk)  # delivered again
    run = PipelineRun.objects.get(pk=plan.run.pk)
    assert (run.status, run.total, run.done + run.failed) == ("finished", 10, 10)
    assert Prediction.objects.count() == 10
    assert not Product.objects.filter(status__in=progress.UNFINISHED).exists()


def test_a_second_run_leaves_out_the_products_waiting_in_a_first(catalogue):
    first = pipeline_run_create(product_ids=list(catalogue.values_list("pk", flat=True)[:6]))
    second = pipeline_run_create()
    assert (first.run.total, second.run.total) == (6, 4)
    assert pipeline_run_create() is None
    assert set(Product.objects.values_list("pipeline_run", flat=True)) == {first.run.pk, second.run.pk}


def test_a_batch_whose_worker_died_is_read_again_one_product_at_a_time(catalogue):
    plan = pipeline_run_create()
    batch_ids = plan.batches[0]
    progress.batch_claim(run_id=plan.run.pk, product_ids=batch_ids)  # the worker died here
    assert set(Product.objects.filter(pk__in=batch_ids).values_list("status", "attempts")) == {("running", 1)}
    sizes = []

    def batch(self, inputs):
        sizes.append(len(inputs))
        return _ORIGINAL(self, inputs)

    with mock.patch.object(Pipeline, "predict_batch", batch):
        predict_products(product_ids=batch_ids, run_id=plan.run.pk)
    assert sizes == [1, 1, 1, 1]
    assert Product.objects.filter(pk__in=batch_ids, status="predicted").count() == 4


def test_an_image_that_kills_its_worker_three_times_is_given_up_and_the_run_ends(catalogue):
    plan = pipeline_run_create()
    poison = plan.batches[0][1]
    Product.objects.filter(pk=poison).update(attempts=progress.MAX_ATTEMPTS, status="running")
    for batch in plan.batches:
        predict_products(product_ids=batch, run_id=plan.run.pk)
    run = PipelineRun.objects.get(pk=plan.run.pk)
    assert (run.status, run.done, run.failed) == ("finished", 9, 1)
    assert "stopped 3 times" in Product.objects.get(pk=poison).status_detail


def test_a_cancelled_runs_figures_are_final_while_a_worker_finishes_the_batch_it_had_started(catalogue):
    plan = pipeline_run_create()
    first, started, *rest = plan.batches
    predict_products(product_ids=first, run_id=plan.run.pk)

    def cancelled_while_reading(self, inputs):
        assert pipeline_run_cancel(run=plan.run)
        return _ORIGINAL(self, inputs)

    with mock.patch.object(Pipeline, "predict_batch", cancelled_while_reading):
        predict_products(product_ids=started, run_id=plan.run.pk)
    run = PipelineRun.objects.get(pk=plan.run.pk)
    assert (run.status, run.total, run.done, run.failed) == ("cancelled", 10, 4, 0)
    at_cancel = run.progress_at
    # the batch the worker had started is finished and kept, not counted
    assert set(Product.objects.filter(pk__in=started).values_list("status", flat=True)) == {"predicted"}
    assert Prediction.objects.filter(product_id__in=started).count() == 4
    for batch in [*rest, started]:  # a batch still queued, and one delivered again: nothing read, nothing counted
        assert predict_products(product_ids=batch, run_id=plan.run.pk) == {"done": 0, "failed": 0}
    progress.run_finish_if_done(plan.run.pk)
    run = PipelineRun.objects.get(pk=plan.run.pk)
    assert (run.status, run.done, run.failed, run.progress_at) == ("cancelled", 4, 0, at_cancel)
    assert set(Product.objects.filter(pk__in=rest[0]).values_list("status", flat=True)) == {"pending"}


def test_a_worker_that_died_in_a_cancelled_run_is_not_read_again_in_it(catalogue):
    plan = pipeline_run_create()
    progress.batch_claim(run_id=plan.run.pk, product_ids=plan.batches[0])  # the worker died here
    pipeline_run_cancel(run=plan.run)
    assert predict_products(product_ids=plan.batches[0], run_id=plan.run.pk) == {"done": 0, "failed": 0}
    assert not Prediction.objects.exists() and PipelineRun.objects.get(pk=plan.run.pk).done == 0
    # what the dead worker was reading is not left "running": it waits, like the rest of the run
    assert set(Product.objects.values_list("status", flat=True)) == {"pending"}
    assert pipeline_run_create().run.total == 10  # a new run takes them all


def test_a_worker_that_died_in_a_cancelled_run_leaves_nothing_running_once_no_worker_is_alive(catalogue):
    plan = pipeline_run_create()
    progress.batch_claim(run_id=plan.run.pk, product_ids=plan.batches[0])  # the worker died here, its message gone
    pipeline_run_cancel(run=plan.run)
    assert Product.objects.filter(status="running").count() == 4
    Worker.objects.create(name="dead@here", host=socket.gethostname(), pid=_dead_pid(),
                          seen_at=timezone.now())
    assert runs_recover(worker_name="new@here") == 0  # nothing of an ended run is read again in it
    assert set(Product.objects.values_list("status", flat=True)) == {"pending"}
    assert set(Product.objects.values_list("pipeline_run", flat=True)) == {plan.run.pk}
    assert PipelineRun.objects.get(pk=plan.run.pk).status == "cancelled"


def test_an_image_the_pipeline_cannot_take_fails_alone(catalogue):
    plan = pipeline_run_create()
    bad = Product.objects.get(pk=plan.batches[0][2]).sku

    def batch(self, inputs):
        if any(item.key == bad for item in inputs):
            raise ValueError("cannot reshape array")
        return _ORIGINAL(self, inputs)

    with mock.patch.object(Pipeline, "predict_batch", batch):
        run = pipeline_run_here(plan=plan)
    assert (run.status, run.done, run.failed) == ("finished", 9, 1)
    assert "cannot reshape array" in Product.objects.get(sku=bad).status_detail
    assert Product.objects.get(sku=bad).status == "failed"


def test_a_pending_suggestion_opened_meanwhile_is_retried_not_a_failed_batch(catalogue):
    plan = pipeline_run_create()
    from colorreview.services import storage

    real = storage.suggestions_refresh_batch
    calls = []

    def racing(**kwargs):
        calls.append(1)
        if len(calls) == 1:
            raise IntegrityError("duplicate key value violates one_pending_suggestion_per_product")
        return real(**kwargs)

    with mock.patch.object(storage, "suggestions_refresh_batch", racing):
        run = pipeline_run_here(plan=plan)
    assert (run.done, run.failed) == (10, 0)


def test_a_starting_worker_queues_again_what_a_dead_worker_was_reading(catalogue, published):
    plan = pipeline_run_create()
    progress.batch_claim(run_id=plan.run.pk, product_ids=plan.batches[1])
    Worker.objects.create(name="dead@here", host=socket.gethostname(), pid=_dead_pid(),
                          seen_at=timezone.now())
    assert live_workers() == []
    assert runs_recover(worker_name="new@here") == 4
    assert published == [(plan.batches[1], plan.run.pk)]


def test_a_starting_worker_leaves_the_batches_of_a_live_worker_alone(catalogue, published):
    plan = pipeline_run_create()
    progress.batch_claim(run_id=plan.run.pk, product_ids=plan.batches[1])
    worker_beat(name="busy@here")  # this process: alive
    assert runs_recover(worker_name="new@here") == 0 and published == []


def test_a_quiet_run_without_busy_workers_is_stalled_and_resumes(catalogue, published, settings):
    plan = pipeline_run_create()
    predict_products(product_ids=plan.batches[0], run_id=plan.run.pk)
    run = PipelineRun.objects.get(pk=plan.run.pk)
    assert not run_stalled(run)
    settings.COLORREVIEW_STALL_SECONDS = 0
    assert run_stalled(run)
    worker_beat(name="alive@here")
    assert run_stalled(run)  # alive, but idle: no run moves, so its batches are gone
    settings.COLORREVIEW_STALL_SECONDS = 60
    PipelineRun.objects.create(model_version="v", total=1, status="running", progress_at=timezone.now())
    PipelineRun.objects.filter(pk=run.pk).update(progress_at=timezone.now() - timedelta(minutes=5))
    run.refresh_from_db()
    assert not run_stalled(run)  # workers busy with another run: this one waits its turn
    Worker.objects.all().delete()
    assert run_stalled(run)
    assert run_resume(run=run) == 6
    assert published == [(plan.batches[1], run.pk), (plan.batches[2], run.pk)]


def test_run_pipeline_wait_finishes_a_run_left_by_a_dead_worker(catalogue):
    plan = pipeline_run_create()
    predict_products(product_ids=plan.batches[0], run_id=plan.run.pk)
    progress.batch_claim(run_id=plan.run.pk, product_ids=plan.batches[1])  # then the worker died
    for adopted in runs_adopt():
        pipeline_run_here(plan=adopted)
    run = PipelineRun.objects.get(pk=plan.run.pk)
    assert (run.status, run.done + run.failed) == ("finished", 10)
    assert Prediction.objects.count() == 10


def test_a_process_reading_a_run_itself_is_a_worker_whose_products_a_second_one_leaves_alone(catalogue):
    plan = pipeline_run_create()
    reading = plan.batches[0]
    progress.batch_claim(run_id=plan.run.pk, product_ids=reading)  # a first `run_pipeline --wait` reads these
    assert pipeline_run_cancel(run=plan.run)
    with WorkerHere() as first:
        assert [w.name for w in live_workers()] == [first.name]
        assert runs_adopt(me="in-process@elsewhere:1") == []  # a second command: the first is alive
        assert set(Product.objects.filter(pk__in=reading).values_list("status", flat=True)) == {"running"}
    assert not Worker.objects.exists()  # the first has ended, and said so
    assert runs_adopt(me="in-process@elsewhere:1") == []  # nothing active to adopt, but its orphans wait again
    assert set(Product.objects.filter(pk__in=reading).values_list("status", flat=True)) == {"pending"}


def test_a_run_a_live_process_reads_is_followed_by_a_second_run_pipeline_wait_not_read_again(catalogue, capsys):
    from django.core.management import CommandError, call_command

    plan = pipeline_run_create()
    reading = plan.batches[0]
    progress.batch_claim(run_id=plan.run.pk, product_ids=reading)  # a first `run_pipeline --wait` reads these
    with WorkerHere(name="in-process@first"):
        assert runs_adopt(me="in-process@second") == []
        with pytest.raises(CommandError, match=f"run {plan.run.pk} not finished after"):
            call_command("run_pipeline", "--wait", "--timeout", "1")
    assert f"run {plan.run.pk} of this model version is still running" in capsys.readouterr().out
    assert list(PipelineRun.objects.values_list("pk", flat=True)) == [plan.run.pk]  # no second run of it
    taken = Product.objects.filter(pk__in=reading)
    assert set(taken.values_list("status", "attempts")) == {("running", 1)}  # not claimed a second time
    call_command("run_pipeline", "--wait")  # the first has gone without finishing: this one takes its run over
    assert PipelineRun.objects.get(pk=plan.run.pk).status == "finished"


@pytest.mark.django_db(transaction=True, serialized_rollback=True)  # as every test outside a transaction here
def test_a_process_reading_a_run_itself_beats_while_a_batch_takes_long(settings):
    settings.COLORREVIEW_WORKER_BEAT = 0.05
    with WorkerHere(name="in-process@slow") as here:
        first = Worker.objects.get(name=here.name).seen_at
        deadline = timezone.now() + timedelta(seconds=10)
        while Worker.objects.get(name=here.name).seen_at == first and timezone.now() < deadline:
            time.sleep(0.05)  # a batch that takes its time, beating nothing itself
        assert Worker.objects.get(name=here.name).seen_at > first
    assert not Worker.objects.filter(name=here.name).exists()


def test_import_then_run_pipeline_with_a_broker_queues_each_product_once(tmp_path, fast_pipeline, published,
                                                                          capsys, django_capture_on_commit_callbacks,
                                                                          monkeypatch):
    from django.core.management import call_command

    from colorreview.services.runs import run_enqueue

    fast_pipeline.COLORREVIEW_EMBEDDED_QUEUE = False
    monkeypatch.setattr("colorreview.tasks.enqueue_run.delay", lambda pk: run_enqueue(run_id=pk))
    folder = tmp_path / "shots"
    (tmp_path / "c.csv").write_bytes(small_catalogue(folder, 5))
    with django_capture_on_commit_callbacks(execute=True):
        call_command("import_catalog", str(tmp_path / "c.csv"), "--images", str(folder))
    call_command("run_pipeline")
    assert "of this model version is still queued" in capsys.readouterr().out
    assert PipelineRun.objects.count() == 1 and len(published) == 1


def test_products_imported_while_a_queued_run_is_read_join_it_and_are_read(tmp_path, fast_pipeline, published,
                                                                           django_capture_on_commit_callbacks,
                                                                           monkeypatch):
    from colorreview.services.runs import catalog_import_and_queue, run_enqueue

    fast_pipeline.COLORREVIEW_EMBEDDED_QUEUE = False
    monkeypatch.setattr("colorreview.tasks.enqueue_run.delay", lambda pk: run_enqueue(run_id=pk))
    first = tmp_path / "first"
    with django_capture_on_commit_callbacks(execute=True):
        _, run = catalog_import_and_queue(csv_bytes=small_catalogue(first, 5), source_name="a.csv", csv_dir=first)
    run.refresh_from_db()
    assert run.enqueued and run.status == "queued" and len(published) == 1  # queued, not read yet
    second = tmp_path / "second"
    _, same = catalog_import_and_queue(csv_bytes=small_catalogue(second, 2, prefix="N"), source_name="b.csv",
                                       csv_dir=second)
    assert same.pk == run.pk and PipelineRun.objects.count() == 1
    new = list(Product.objects.filter(sku__startswith="N").order_by("pk").values_list("pk", flat=True))
    assert set(Product.objects.filter(pk__in=new).values_list("status", "pipeline_run_id")) == {("queued", run.pk)}
    assert published[-1] == (new, run.pk)  # handed to the workers with the run
    for (batch, run_id), batch_id in zip(list(published), list(published.batch_ids)):  # the workers read them
        predict_products(product_ids=batch, run_id=run_id, batch_id=batch_id)
    run.refresh_from_db()
    assert (run.status, run.done + run.failed) == ("finished", 7)
    assert Prediction.objects.filter(product_id__in=new).count() == 2


def test_a_product_imported_as_the_run_ends_is_read_by_a_new_run(tmp_path, fast_pipeline, published, monkeypatch):
    from colorreview.services.runs import run_extend

    fast_pipeline.COLORREVIEW_EMBEDDED_QUEUE = False
    monkeypatch.setattr("colorreview.tasks.enqueue_run.delay", lambda pk: None)
    import_catalog(csv_bytes=small_catalogue(tmp_path, 2), source_name="c.csv", csv_dir=tmp_path)
    ended = PipelineRun.objects.create(model_version="v", total=0, status="finished", enqueued=True)
    run_extend(run=ended)  # the import saw it active; it ended before the products could join it
    assert PipelineRun.objects.exclude(pk=ended.pk).filter(status="queued").count() == 1


def test_workers_silent_for_a_day_are_forgotten(db):
    worker_beat(name="fresh@here")
    Worker.objects.create(name="old@there", host="elsewhere", pid=1, seen_at=timezone.now() - timedelta(days=2))
    assert workers_forget() == 1
    assert list(Worker.objects.values_list("name", flat=True)) == ["fresh@here"]
