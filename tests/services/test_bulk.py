"""Bulk approval: set-based chunks, a background job for large selections, undone as one batch."""

from __future__ import annotations

import pytest

from colorreview.models import BulkApproval, Product, ReviewEvent, Suggestion
from colorreview.roles import RoleError
from colorreview.services import ServiceError, bulk
from colorreview.services.review import suggestion_accept
from tests.factories import PredictionFactory, ProductFactory, SuggestionFactory, UserFactory

pytestmark = pytest.mark.django_db


def _imputations(n: int, confidence: float = 0.97) -> list[Suggestion]:
    return [SuggestionFactory(prediction=PredictionFactory(product=ProductFactory(tag=""), confidence=confidence,
                                                           predicted_color="Red"), kind="impute")
            for _ in range(n)]


def test_approval_is_set_based_whatever_its_size(merchandiser, monkeypatch, django_assert_max_num_queries):
    monkeypatch.setattr(bulk, "CHUNK", 10)
    _imputations(3)
    with django_assert_max_num_queries(20) as small:
        bulk.bulk_approval_start(user=merchandiser, min_confidence=0.9)
    _imputations(25)
    with django_assert_max_num_queries(len(small.captured_queries) + 2 * 10):  # two more chunks of 10
        approval = bulk.bulk_approval_start(user=merchandiser, min_confidence=0.9)
    assert (approval.status, approval.matched, approval.accepted) == ("finished", 25, 25)
    assert Suggestion.objects.filter(status="accepted", bulk__isnull=False).count() == 28
    assert set(Product.objects.values_list("final_color", flat=True)) == {"Red"}
    event = ReviewEvent.objects.filter(action="accept").first()
    assert event.actor == merchandiser and event.to_color == "Red" and "bulk approval" in event.note


def test_a_large_selection_runs_in_the_background(merchandiser, settings, django_capture_on_commit_callbacks):
    settings.COLORREVIEW_BULK_INLINE = 2
    _imputations(5)
    assert bulk.bulk_approval_count(user=merchandiser, min_confidence=0.9) == 5
    with django_capture_on_commit_callbacks() as queued:
        approval = bulk.bulk_approval_start(user=merchandiser, min_confidence=0.9)
    assert approval.status == "queued" and approval.matched == 5 and len(queued) == 1
    assert not Suggestion.objects.filter(status="accepted").exists()
    done = bulk.bulk_approval_run(approval_id=approval.pk)  # what the job does
    assert (done.status, done.accepted, done.progress) == ("finished", 5, 1.0)
    assert bulk.bulk_approval_run(approval_id=approval.pk).accepted == 5  # delivered twice: nothing more


def test_undo_puts_the_whole_batch_back_and_restores_the_colours(merchandiser, admin_user):
    items = _imputations(4)
    approval = bulk.bulk_approval_start(user=merchandiser, ids=[s.pk for s in items])
    changed = items[0].product
    Product.objects.filter(pk=changed.pk).update(final_color="Blue")  # changed by hand since
    undone = bulk.bulk_approval_undo(approval=approval, user=merchandiser)
    assert (undone.status, undone.reverted) == ("undone", 4)
    assert set(Suggestion.objects.filter(pk__in=[s.pk for s in items]).values_list("status", flat=True)) == {"pending"}
    colours = dict(Product.objects.values_list("pk", "final_color"))
    assert colours.pop(changed.pk) == "Blue" and set(colours.values()) == {""}
    assert ReviewEvent.objects.filter(action="undo").count() == 4
    with pytest.raises(ServiceError, match="already undone"):
        bulk.bulk_approval_undo(approval=approval, user=admin_user)


def test_only_its_author_or_an_admin_undoes_a_batch_and_decided_cards_are_skipped(merchandiser, admin_user):
    items = _imputations(2)
    suggestion_accept(suggestion=items[0], user=admin_user)
    approval = bulk.bulk_approval_start(user=merchandiser, ids=[s.pk for s in items])
    assert approval.accepted == 1  # the other one was already decided
    other = UserFactory(username="m2", roles=["merchandiser"])
    with pytest.raises(RoleError):
        bulk.bulk_approval_undo(approval=approval, user=other)
    assert bulk.bulk_approval_undo(approval=approval, user=admin_user).reverted == 1
    assert BulkApproval.objects.get().undone_by == admin_user


def test_curators_cannot_approve_imputations(curator):
    with pytest.raises(RoleError):
        bulk.bulk_approval_start(user=curator, kind="impute", min_confidence=0.5)


def test_flags_are_not_bulk_accepted_by_curators_nor_merchandisers(client, curator, merchandiser, admin_user):
    SuggestionFactory(prediction=PredictionFactory(predicted_color="Blue", product__tag="Red"), kind="mislabel")
    for user in (curator, merchandiser):
        client.force_login(user)
        response = client.post("/api/suggestions/bulk-accept/", {"kind": "mislabel", "min_confidence": 0.3,
                                                                 "count_only": True}, content_type="application/json")
        assert response.status_code == 403
    client.force_login(admin_user)
    response = client.post("/api/suggestions/bulk-accept/", {"kind": "mislabel", "min_confidence": 0.3,
                                                             "count_only": True}, content_type="application/json")
    assert response.status_code == 200 and response.json() == {"matched": 1}


def test_a_confirmation_sent_twice_is_one_approval(merchandiser, settings):
    *items, spare = _imputations(4)
    first = bulk.bulk_approval_start(user=merchandiser, ids=[s.pk for s in items], request_key="k1")
    again = bulk.bulk_approval_start(user=merchandiser, ids=[s.pk for s in reversed(items)], request_key="k1")
    assert again.pk == first.pk and (again.status, again.accepted) == ("finished", 3)
    assert BulkApproval.objects.count() == 1
    with pytest.raises(ServiceError, match=f"already used for bulk approval {first.pk}, with other criteria"):
        bulk.bulk_approval_start(user=merchandiser, min_confidence=0.5, request_key="k1")
    with pytest.raises(ServiceError, match="at most 64"):
        bulk.bulk_approval_start(user=merchandiser, ids=[items[0].pk], request_key="x" * 65)
    other = UserFactory(username="other-merchandiser", roles=["merchandiser"])
    assert bulk.bulk_approval_start(user=other, ids=[spare.pk], request_key="k1").pk != first.pk  # keys are per user
    assert BulkApproval.objects.count() == 2


def test_a_key_whose_approval_never_ran_may_be_sent_again(merchandiser):
    items = _imputations(2)
    failed = BulkApproval.objects.create(created_by=merchandiser, kind="impute", criteria={"ids": [s.pk for s in items]},
                                         matched=2, status="failed", error="not started", request_key="k2")
    retried = bulk.bulk_approval_start(user=merchandiser, ids=[s.pk for s in items], request_key="k2")
    assert retried.pk != failed.pk and (retried.status, retried.accepted, retried.request_key) == ("finished", 2, "k2")
    failed.refresh_from_db()
    assert (failed.status, failed.request_key) == ("failed", "")


def test_a_selection_that_matches_nothing_is_refused_and_not_recorded(merchandiser):
    items = _imputations(2)
    bulk.bulk_approval_start(user=merchandiser, ids=[items[0].pk])
    for criteria in ({"ids": []}, {"ids": [items[0].pk]}, {"ids": [2**63, 10**30]}, {"min_confidence": 0.999}):
        assert bulk.bulk_approval_count(user=merchandiser, **criteria) == 0
        with pytest.raises(bulk.NothingToApprove, match="nothing to approve: no pending imputation matches"):
            bulk.bulk_approval_start(user=merchandiser, **criteria)
    assert BulkApproval.objects.count() == 1
    done = bulk.bulk_approval_start(user=merchandiser, ids=[items[1].pk, 10**30])
    assert (done.accepted, done.criteria) == (1, {"ids": sorted([items[1].pk, 10**30])})


def test_a_small_approval_stopped_by_an_error_is_finished_by_the_same_confirmation_sent_again(merchandiser,
                                                                                               monkeypatch):
    monkeypatch.setattr(bulk, "CHUNK", 2)
    items = _imputations(5)
    real, calls = bulk._approve_chunk, []

    def failing(*args):
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("database is locked")
        return real(*args)

    monkeypatch.setattr(bulk, "_approve_chunk", failing)
    ids = [s.pk for s in items]
    with pytest.raises(RuntimeError):
        bulk.bulk_approval_start(user=merchandiser, ids=ids, request_key="k3")
    stopped = BulkApproval.objects.get()
    assert (stopped.status, stopped.accepted) == ("failed", 2) and "send the same confirmation again" in stopped.error
    monkeypatch.setattr(bulk, "_approve_chunk", real)
    done = bulk.bulk_approval_start(user=merchandiser, ids=ids, request_key="k3")
    assert (done.pk, done.status, done.accepted, done.error) == (stopped.pk, "finished", 5, "")
    assert Suggestion.objects.filter(bulk=done, status="accepted").count() == 5


def test_a_small_approval_left_running_by_a_dead_process_is_taken_up_again(merchandiser):
    from datetime import timedelta

    from django.utils import timezone

    items = _imputations(3)
    left = BulkApproval.objects.create(created_by=merchandiser, kind="impute", criteria={"ids": [s.pk for s in items]},
                                       matched=3, status="running", request_key="k4")
    assert bulk.bulk_approval_start(user=merchandiser, ids=[s.pk for s in items], request_key="k4").status == "running"
    BulkApproval.objects.filter(pk=left.pk).update(created_at=timezone.now() - timedelta(seconds=bulk.INLINE_STALE + 1))
    done = bulk.bulk_approval_start(user=merchandiser, ids=[s.pk for s in items], request_key="k4")
    assert (done.pk, done.status, done.accepted) == (left.pk, "finished", 3)
