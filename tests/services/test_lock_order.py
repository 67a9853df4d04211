"""Writers lock a product before its suggestions, so a worker storing a reading, a decision, a colour set by
hand and a re-judging pass on the same product wait for one another instead of deadlocking (PostgreSQL)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection

from colorreview.models import Product, Suggestion
from colorreview.services.rejudge import _rejudge_batch
from colorreview.services.review import product_color_set, suggestion_accept
from colorreview.services.storage import suggestions_for
from colorreview.services.suggestions import suggestion_refresh
from tests.factories import PredictionFactory, ProductFactory, probabilities

pytestmark = [pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks are PostgreSQL's"),
              pytest.mark.django_db(transaction=True, serialized_rollback=True)]


def _in_thread(fn, errors: list) -> threading.Thread:
    def run():
        try:
            fn()
        except Exception as exc:  # noqa: BLE001 - reported by the test
            errors.append(exc)
        finally:
            connection.close()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


@pytest.mark.parametrize("other", ["decision", "colour set by hand", "re-judging"])
def test_a_worker_storing_a_reading_and_another_writer_on_the_same_product_wait_for_each_other(
        thresholds, curator, other):
    product = ProductFactory(tag="Red")
    first = PredictionFactory(product=product, predicted_color="Blue", family="Blue", confidence=0.96,
                              probabilities=probabilities(Blue=0.96, Red=0.02))
    flag = suggestion_refresh(product=product, prediction=first)
    newer = PredictionFactory(product=product, model_version="v2", predicted_color="Blue", family="Blue",
                              confidence=0.97, probabilities=probabilities(Blue=0.97, Red=0.01))
    holding, release = threading.Event(), threading.Event()

    def pause_after_the_first_lock(execute, sql, params, many, context):  # the worker holds its first lock a while
        result = execute(sql, params, many, context)
        if not holding.is_set() and " FOR " in sql and "UPDATE" in sql:
            holding.set()
            release.wait(10)
        return result

    def work():
        with connection.execute_wrapper(pause_after_the_first_lock):
            suggestions_for([(loaded, newer)])

    errors: list = []
    loaded = Product.objects.get(pk=product.pk)
    worker = _in_thread(work, errors)
    assert holding.wait(10)
    act = {"decision": lambda: suggestion_accept(suggestion=flag, user=curator),
           "colour set by hand": lambda: product_color_set(product=Product.objects.get(pk=product.pk),
                                                            color="Navy Blue", user=curator, note="navy"),
           "re-judging": lambda: _rejudge_batch([product.pk])}[other]
    writer = _in_thread(act, errors)
    time.sleep(0.5)  # the other writer now waits for the worker's locks
    release.set()
    worker.join(20)
    writer.join(20)
    assert not worker.is_alive() and not writer.is_alive()
    assert errors == []  # no "deadlock detected"
    pending = Suggestion.objects.filter(product=product, status="pending").first()
    if other == "decision":
        assert Suggestion.objects.get(pk=flag.pk).status == "accepted"
        assert Product.objects.get(pk=product.pk).final_color == "Blue"
    elif other == "colour set by hand":
        assert pending is None and Product.objects.get(pk=product.pk).final_color == "Navy Blue"
    else:
        assert pending.pk == flag.pk and pending.prediction_id == newer.pk
