"""The queue's counts: on PostgreSQL read from the tally that triggers keep, equal to counting the
suggestions, after inserts, decisions, set-based updates, deletions and folds."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.models import Count

from colorreview import selectors
from colorreview.models import Product, Suggestion, SuggestionTally
from colorreview.services.summary import tally_fold
from tests.factories import SuggestionFactory

pytestmark = pytest.mark.django_db


def counted(user) -> dict[str, int]:
    pending = dict(Suggestion.objects.filter(status="pending").values_list("kind").annotate(n=Count("id"))
                   .order_by())
    return {kind: pending.get(kind, 0) if kind in selectors.visible_kinds(user) else 0
            for kind in ("mislabel", "impute")}


def test_counts_follow_every_kind_of_change(admin_user, curator, django_assert_num_queries):
    made = SuggestionFactory.create_batch(5) + SuggestionFactory.create_batch(3, kind="impute")
    assert selectors.queue_counts(user=admin_user) == counted(admin_user) == {"mislabel": 5, "impute": 3}
    assert selectors.queue_counts(user=curator) == counted(curator) == {"mislabel": 5, "impute": 0}
    Suggestion.objects.filter(pk=made[0].pk).update(status="accepted")  # one decision
    Suggestion.objects.filter(kind="impute").update(status="accepted")  # a bulk approval
    Suggestion.objects.filter(pk=made[1].pk).update(claimed_by=curator)  # no count moves
    Product.objects.filter(pk=made[2].product_id).delete()  # its suggestions go with it
    assert selectors.queue_counts(user=admin_user) == counted(admin_user) == {"mislabel": 3, "impute": 0}
    if connection.vendor == "postgresql":
        assert SuggestionTally.objects.count() > 2
        tally_fold()
        assert SuggestionTally.objects.filter(status="pending").count() == 1  # one row per kind and status
        with django_assert_num_queries(1):  # the tally's rows: no scan of the suggestions
            assert selectors.queue_counts(user=admin_user) == {"mislabel": 3, "impute": 0}

