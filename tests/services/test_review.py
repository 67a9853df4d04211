from __future__ import annotations

import pytest

from colorreview.models import Product, ReviewEvent, Suggestion
from colorreview.roles import RoleError
from colorreview.services import AlreadyDecided
from colorreview.services.review import (
    UnknownColor,
    suggestion_accept,
    suggestion_correct,
    suggestion_reject,
    suggestions_bulk_accept,
)
from tests.factories import PredictionFactory, ProductFactory, SuggestionFactory

pytestmark = pytest.mark.django_db


def _mislabel(tag="Red", suggested="Blue"):
    product = ProductFactory(tag=tag)
    return SuggestionFactory(prediction=PredictionFactory(product=product, predicted_color=suggested), kind="mislabel")


def _imputation(confidence=0.95):
    product = ProductFactory(tag="")
    return SuggestionFactory(prediction=PredictionFactory(product=product, predicted_color="Green",
                                                          confidence=confidence), kind="impute")


def test_accept_sets_the_final_colour_and_records_an_event(curator):
    s = suggestion_accept(suggestion=_mislabel(), user=curator, note="clearly blue")
    assert s.status == "accepted" and s.decided_by == curator and s.decided_at is not None
    assert Product.objects.get(pk=s.product_id).final_color == "Blue"
    event = ReviewEvent.objects.get(suggestion=s, action="accept")
    assert (event.actor, event.from_color, event.to_color, event.from_status, event.to_status, event.note) == \
        (curator, "Red", "Blue", "pending", "accepted", "clearly blue")
    assert event.model_version == "test-model"


def test_reject_keeps_the_seller_tag(curator):
    s = suggestion_reject(suggestion=_mislabel(), user=curator)
    assert s.status == "rejected" and Product.objects.get(pk=s.product_id).final_color == "Red"


def test_correct_uses_the_vocabulary_and_refuses_unknown_colours(curator):
    s = _mislabel()
    with pytest.raises(UnknownColor):
        suggestion_correct(suggestion=s, user=curator, color="Sunset Glow")
    s = suggestion_correct(suggestion=s, user=curator, color="navy")
    assert s.status == "corrected" and s.final_color == "Navy Blue"


def test_accept_refuses_a_decided_suggestion(curator, admin_user):
    s = _mislabel()
    suggestion_accept(suggestion=s, user=curator)
    stale = Suggestion.objects.get(pk=s.pk)
    with pytest.raises(AlreadyDecided, match="already accepted by curator"):
        suggestion_reject(suggestion=stale, user=admin_user)
    assert ReviewEvent.objects.filter(suggestion=s).exclude(action="suggested").count() == 1
    assert Product.objects.get(pk=s.product_id).final_color == "Blue"


def test_roles_decide_their_own_kind_only(curator, merchandiser, outsider, admin_user):
    with pytest.raises(RoleError, match="mislabel suggestions needs the role admin or curator"):
        suggestion_accept(suggestion=_mislabel(), user=merchandiser)
    with pytest.raises(RoleError):
        suggestion_accept(suggestion=_imputation(), user=curator)
    with pytest.raises(RoleError):
        suggestion_accept(suggestion=_imputation(), user=outsider)
    assert suggestion_accept(suggestion=_imputation(), user=admin_user).status == "accepted"


def test_bulk_accept_skips_what_was_decided_meanwhile(merchandiser, admin_user):
    a, b, c = _imputation(0.99), _imputation(0.97), _imputation(0.7)
    suggestion_reject(suggestion=b, user=admin_user)
    result = suggestions_bulk_accept(user=merchandiser, suggestion_ids=[a.pk, b.pk, c.pk, 999999])
    assert sorted(result.accepted) == sorted([a.pk, c.pk])
    assert {i for i, _ in result.skipped} == {b.pk, 999999}
    assert ReviewEvent.objects.filter(action="accept").count() == 2


def test_bulk_accept_by_confidence(merchandiser):
    high, low = _imputation(0.99), _imputation(0.7)
    result = suggestions_bulk_accept(user=merchandiser, min_confidence=0.9)
    assert result.accepted == [high.pk]
    assert Suggestion.objects.get(pk=low.pk).status == "pending"


def test_events_are_append_only(curator):
    s = suggestion_accept(suggestion=_mislabel(), user=curator)
    event = ReviewEvent.objects.filter(suggestion=s).first()
    with pytest.raises(ValueError):
        event.save()
    with pytest.raises(ValueError):
        event.delete()
