"""A real Celery worker process runs the pipeline tasks and writes the rows (Redis, and the
embedded folder-backed queue that needs no server)."""

from __future__ import annotations

import pytest

from colorreview.models import PipelineRun, Prediction, Product, Suggestion, Worker
from colorreview.services.catalog import import_catalog
from colorreview.services.runs import pipeline_run_start
from tests.conftest import DEMO
from tests.tasks.harness import wait_until


@pytest.mark.redis
@pytest.mark.django_db(transaction=True, serialized_rollback=True)
@pytest.mark.parametrize("broker", ["redis", "embedded"], indirect=True)
def test_a_real_worker_runs_the_pipeline_and_writes_the_rows(broker, tmp_path, thresholds):
    csv = tmp_path / "catalog.csv"
    csv.write_text("sku,title,category,image,seller_color\n"
                   f"W1,Polo,Tshirts,{DEMO / 'images/19557.jpg'},Red\n"
                   f"W2,Shirt,Shirts,{DEMO / 'images/13760.jpg'},\n"
                   f"W3,Trousers,Trousers,{DEMO / 'images/12677.jpg'},Grey\n")
    import_catalog(csv_bytes=csv.read_bytes(), source_name="catalog.csv", csv_dir=tmp_path)
    worker = broker.start("solo")
    run = pipeline_run_start()  # the worker's enqueue job then queues its products
    assert run is not None

    def finished() -> bool:
        assert worker.poll() is None, "the worker died"
        run.refresh_from_db()
        return run.status == PipelineRun.Status.FINISHED

    wait_until(finished, 240, "the run", step=1)
    assert (run.total, run.done, run.failed) == (3, 3, 0)
    assert Prediction.objects.filter(run=run).count() == 3
    assert set(Product.objects.values_list("status", flat=True)) == {"predicted"}
    assert Suggestion.objects.get(product__sku="W1").kind == "mislabel"
    assert Suggestion.objects.get(product__sku="W2").kind == "impute"
    assert Worker.objects.get().queues == "default,gpu"  # the worker announced itself and its queues
