"""Workers die, two share a run, Redis restarts: every product still ends with exactly one prediction
for the model version, and the run finishes with the right counts."""

from __future__ import annotations

import os
import shutil
import signal
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest
from django.conf import settings
from django.db.models import Count

from colorreview.models import PipelineRun, Prediction, Product
from colorreview.services.catalog import import_catalog
from colorreview.services.predictions import model_version
from colorreview.services.runs import pipeline_run_start
from tests.conftest import need, small_catalogue
from tests.factories import ProductFactory
from tests.tasks.harness import OwnRedis, use_broker, wait_until

pytestmark = [pytest.mark.redis, pytest.mark.django_db(transaction=True, serialized_rollback=True)]
PRODUCTS = 200


def _catalogue(tmp_path: Path, bad: bool = True) -> Product | None:
    """A few hundred products; with ``bad``, one image that turns unreadable after its import."""
    folder = tmp_path / "shots"
    import_catalog(csv_bytes=small_catalogue(folder, PRODUCTS), source_name="c.csv", csv_dir=folder)
    if not bad:
        return None
    broken = Product.objects.get(sku="C0100")
    (Path(settings.MEDIA_ROOT) / broken.image).write_bytes(b"\xff\xd8\xff\xe0 not a jpeg after all")
    return broken


def _started(run: PipelineRun) -> bool:
    return Product.objects.filter(pipeline_run=run, status="predicted").count() >= 24 and \
        Product.objects.filter(pipeline_run=run, status="running").exists()


def _finished(run: PipelineRun) -> bool:
    run.refresh_from_db()
    return run.status == "finished"


def _assert_complete(run: PipelineRun, broken: Product | None) -> None:
    run.refresh_from_db()
    failed = 1 if broken else 0
    assert (run.status, run.total, run.done, run.failed) == ("finished", PRODUCTS, PRODUCTS - failed, failed)
    version = model_version()
    per_product = Counter(dict(Product.objects.annotate(n=Count("predictions")).values_list("sku", "n")))
    assert set(per_product.values()) == {1}
    assert Prediction.objects.filter(model_version=version).count() == PRODUCTS
    assert not Product.objects.filter(status__in=["queued", "running"]).exists()
    if broken:
        broken.refresh_from_db()
        assert broken.status == "no_prediction" and "corrupt" in broken.status_detail


def _kill_mid_run(broker, tmp_path: Path, pool: str, kill: Callable[[], None]) -> None:
    """A worker reads a run; ``kill`` strikes mid-batch (and may start another worker); the run ends whole."""
    broken = _catalogue(tmp_path)
    broker.start("first", pool=pool)
    run = pipeline_run_start()
    wait_until(lambda: _started(run), 120, "the first batches")
    kill()
    wait_until(lambda: _finished(run), 240, "the run to finish after the kill")
    _assert_complete(run, broken)


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_a_pool_process_killed_mid_batch_loses_nothing(broker, traced_pipeline, tmp_path):
    _kill_mid_run(broker, tmp_path, "prefork", lambda: os.kill(broker.child_of("first"), signal.SIGKILL))
    assert Product.objects.filter(attempts__gt=1).exists()  # the killed batch was delivered again


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_a_whole_worker_killed_on_redis_is_replaced_by_a_new_one(broker, traced_pipeline, tmp_path):
    def host_dies():
        broker.kill_all("first")  # its batch stays unacknowledged in Redis until the visibility timeout
        broker.start("successor", pool="prefork")

    _kill_mid_run(broker, tmp_path, "prefork", host_dies)


@pytest.mark.parametrize("broker", ["embedded"], indirect=True)
def test_the_embedded_worker_killed_mid_batch_loses_nothing(broker, traced_pipeline, tmp_path):
    def worker_dies():
        broker.kill("first")
        # the embedded queue dropped that batch's message when the worker took it
        assert Product.objects.filter(status="running").exists()
        broker.start("second")

    _kill_mid_run(broker, tmp_path, "solo", worker_dies)


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_two_workers_on_one_run_read_each_product_once(broker, traced_pipeline, tmp_path):
    _catalogue(tmp_path, bad=False)
    broker.start("one")
    broker.start("two")
    run = pipeline_run_start()
    wait_until(lambda: _finished(run), 240, "the run")
    _assert_complete(run, None)
    reads = Counter(traced_pipeline.read_text().split())
    assert len(reads) == PRODUCTS and set(reads.values()) == {1}
    assert Prediction.objects.values("run").distinct().count() == 1


@pytest.mark.parametrize("broker", ["redis"], indirect=True)
def test_a_run_completes_across_a_redis_restart(broker, traced_pipeline, tmp_path, client, admin_user):
    need(shutil.which("redis-server") is not None, "redis-server (Debian package redis-server)")
    own = OwnRedis(tmp_path / "redis")
    own.start()
    try:
        broker.env["CELERY_BROKER_URL"] = own.url
        use_broker(own.url, {"visibility_timeout": 3600})
        broken = _catalogue(tmp_path)
        broker.start("steady")
        run = pipeline_run_start()
        wait_until(lambda: _started(run), 120, "the first batches")
        own.stop()
        newcomer = ProductFactory(status="pending")  # outside the run: the next run would take it
        client.force_login(admin_user)
        assert client.get("/").status_code == 200  # pages that need no queue keep working
        assert client.get("/products/").status_code == 200
        refused = client.post("/runs/start/", HTTP_HX_REQUEST="true")  # one run per model version at a time
        assert refused.status_code == 200 and f"run {run.pk} of this model version is still" in refused.content.decode()
        newcomer.refresh_from_db()
        assert newcomer.status == "pending"
        newcomer.delete()
        own.start()
        wait_until(lambda: _finished(run), 300, "the run to finish after Redis came back")
        _assert_complete(run, broken)
    finally:
        own.stop()
