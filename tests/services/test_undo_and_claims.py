"""Undo and reopen put a card back as events; claims keep two reviewers off the same card."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from colorreview import selectors
from colorreview.models import Product, ReviewEvent, Suggestion
from colorreview.roles import RoleError
from colorreview.services import AlreadyDecided, ServiceError
from colorreview.services.claims import ClaimedByOther, suggestion_release, suggestions_claim
from colorreview.services.review import (
    NothingToUndo,
    product_color_set,
    suggestion_accept,
    suggestion_correct,
    suggestion_reject,
    suggestion_reopen,
    suggestion_undo_last,
)
from tests.factories import PredictionFactory, ProductFactory, SuggestionFactory, UserFactory, probabilities

pytestmark = pytest.mark.django_db


def _mislabel(tag="Red", suggested="Blue", score=0.97):
    product = ProductFactory(tag=tag)
    return SuggestionFactory(prediction=PredictionFactory(product=product, predicted_color=suggested),
                             kind="mislabel", score=score)


def test_undo_brings_the_last_decision_back_and_records_it(curator):
    first, second = _mislabel(), _mislabel(tag="Green")
    suggestion_accept(suggestion=first, user=curator)
    suggestion_correct(suggestion=second, user=curator, color="Navy Blue")
    undone = suggestion_undo_last(user=curator)
    assert undone.pk == second.pk and undone.status == "pending" and undone.decided_by is None
    assert Product.objects.get(pk=second.product_id).final_color == "Green"
    event = ReviewEvent.objects.get(suggestion=second, action="undo")
    assert (event.actor, event.from_status, event.to_status, event.from_color, event.to_color) == \
        (curator, "corrected", "pending", "Navy Blue", "Green")
    assert suggestion_undo_last(user=curator).pk == first.pk  # again: one step further back
    with pytest.raises(NothingToUndo):
        suggestion_undo_last(user=curator)
    assert ReviewEvent.objects.filter(action__in=["accept", "correct"]).count() == 2  # nothing overwritten


def test_undo_only_takes_back_the_users_own_decisions(curator):
    other = UserFactory(username="other-curator", roles=["curator"])
    s = _mislabel()
    suggestion_reject(suggestion=s, user=other)
    with pytest.raises(NothingToUndo):
        suggestion_undo_last(user=curator)
    assert Suggestion.objects.get(pk=s.pk).status == "rejected"


def test_an_admin_reopens_any_decision_and_a_curator_cannot(curator, admin_user):
    s = _mislabel()
    suggestion_accept(suggestion=s, user=curator)
    with pytest.raises(RoleError):
        suggestion_reopen(suggestion=s, user=curator)
    reopened = suggestion_reopen(suggestion=s, user=admin_user, note="wrong garment")
    assert reopened.status == "pending" and Product.objects.get(pk=s.product_id).final_color == "Red"
    assert ReviewEvent.objects.get(suggestion=s, action="reopen").note == "wrong garment"
    with pytest.raises(AlreadyDecided):
        suggestion_reopen(suggestion=s, user=admin_user)


def test_reopening_keeps_a_colour_set_by_hand_after_the_decision(curator, admin_user):
    s = _mislabel()
    suggestion_accept(suggestion=s, user=curator)
    product_color_set(product=s.product, user=curator, color="Black", note="photo was wrong")
    suggestion_reopen(suggestion=s, user=admin_user)
    assert Product.objects.get(pk=s.product_id).final_color == "Black"
    assert "kept" in ReviewEvent.objects.get(suggestion=s, action="reopen").note


@pytest.mark.parametrize("hand_set", ["Black", "Red"])  # another colour than the tag, or the tag confirmed
def test_a_colour_set_by_hand_is_not_reopened_by_a_later_judgement_until_the_tag_changes(thresholds, curator,
                                                                                       hand_set):
    from colorreview.services.catalog_write import TAG_CHANGE
    from colorreview.services.suggestions import suggestion_refresh

    product = ProductFactory(tag="Red")
    PredictionFactory(product=product, predicted_color="Blue", family="Blue")
    flag = suggestion_refresh(product=product)
    assert flag is not None and flag.kind == "mislabel"
    product_color_set(product=product, user=curator, color=hand_set, note="checked on the sample")
    assert Suggestion.objects.get(pk=flag.pk).status == "superseded"
    # a new threshold, a new reading or a re-run judges the product again: the person's colour stands
    assert suggestion_refresh(product=Product.objects.get(pk=product.pk)) is None
    assert Product.objects.get(pk=product.pk).final_color == hand_set
    # a re-import with another seller tag opens the question again
    from colorreview.models import ColorName

    Product.objects.filter(pk=product.pk).update(seller_color=ColorName.objects.get(name="Green"),
                                                 seller_color_raw="Green", final_color="Green")
    ReviewEvent.objects.create(product=product, action="import", from_color=hand_set, to_color="Green",
                               note=f"re-imported: {TAG_CHANGE} Red → Green (catalog.csv)")
    again = suggestion_refresh(product=Product.objects.get(pk=product.pk))
    assert again is not None and again.suggested_color == "Blue" and again.seller_color == "Green"


def test_a_decision_taken_back_after_the_seller_emptied_the_tag_judges_the_product_as_it_is_now(thresholds,
                                                                                                 curator):
    from colorreview.services.catalog_write import TAG_CHANGE
    from colorreview.services.suggestions import suggestion_refresh

    product = ProductFactory(tag="Red")
    PredictionFactory(product=product, predicted_color="Blue", family="Blue", confidence=0.97,
                      probabilities=probabilities(Blue=0.97))
    flag = suggestion_refresh(product=product)
    suggestion_correct(suggestion=flag, user=curator, color="Navy Blue")
    # a re-import empties the tag: the colour the curator decided is kept
    Product.objects.filter(pk=product.pk).update(seller_color=None, seller_color_raw="")
    ReviewEvent.objects.create(product=product, action="import", from_color="Navy Blue", to_color="Navy Blue",
                               note=f"re-imported: {TAG_CHANGE} Red → (none) (catalog.csv)")
    undone = suggestion_undo_last(user=curator)
    assert undone.pk == flag.pk and undone.status == "superseded"  # a flag of a tag the product no longer has
    assert Product.objects.get(pk=product.pk).final_color == ""  # the decision taken back: no tag, no colour
    now = Suggestion.objects.get(product=product, status="pending")
    assert (now.kind, now.suggested_color, now.seller_color) == ("impute", "Blue", "")
    assert ReviewEvent.objects.get(suggestion=flag, action="supersede").note == \
        "taken back, but the seller tag changed since the decision (Red → none)"


def test_a_decision_taken_back_under_flag_rules_that_no_longer_make_it_says_so(thresholds, curator):
    from colorreview.services.suggestions import suggestion_refresh

    product = ProductFactory(tag="Red")
    PredictionFactory(product=product, predicted_color="Blue", family="Blue", confidence=0.93,
                      probabilities=probabilities(Blue=0.93, Red=0.05))  # the tag 95% likely wrong
    flag = suggestion_refresh(product=product)
    suggestion_accept(suggestion=flag, user=curator)
    thresholds.COLORREVIEW_MISLABEL_THRESHOLD = 0.99  # an admin raised the threshold since
    undone = suggestion_undo_last(user=curator)
    assert undone.status == "superseded"
    assert ReviewEvent.objects.get(suggestion=flag, action="supersede").note == \
        "taken back, but the flag rules in force now no longer make this suggestion"
    assert Product.objects.get(pk=product.pk).final_color == "Red"


def test_an_accepted_flag_is_not_reopened_by_another_reading(thresholds, curator):
    from colorreview.services.suggestions import suggestion_refresh

    s = _mislabel(tag="Red", suggested="Blue")
    suggestion_accept(suggestion=s, user=curator)
    PredictionFactory(product=s.product, predicted_color="Green", family="Green", model_version="newer-model")
    assert suggestion_refresh(product=Product.objects.get(pk=s.product_id)) is None  # Blue, decided, stands
    assert Product.objects.get(pk=s.product_id).final_color == "Blue"


def test_a_card_held_by_another_reviewer_cannot_be_decided(curator):
    other = UserFactory(username="other-curator", roles=["curator"])
    s = _mislabel()
    assert suggestions_claim(user=other, suggestion_ids=[s.pk]) == {s.pk}
    assert suggestions_claim(user=curator, suggestion_ids=[s.pk]) == set()
    with pytest.raises(ClaimedByOther, match="being reviewed by other-curator"):
        suggestion_accept(suggestion=s, user=curator)
    assert Suggestion.objects.get(pk=s.pk).status == "pending"
    assert s.pk not in {x.pk for x in selectors.suggestion_work_queue(user=curator)}
    assert s.pk in {x.pk for x in selectors.suggestion_work_queue(user=other)}


def test_a_claim_lapses_by_itself_and_can_be_given_back(curator):
    other = UserFactory(username="other-curator", roles=["curator"])
    s, t = _mislabel(), _mislabel()
    suggestions_claim(user=other, suggestion_ids=[s.pk, t.pk])
    Suggestion.objects.filter(pk=s.pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert suggestion_release(suggestion=t, user=other)
    assert suggestions_claim(user=curator, suggestion_ids=[s.pk, t.pk]) == {s.pk, t.pk}
    assert suggestion_accept(suggestion=s, user=curator).status == "accepted"


def test_undo_is_refused_when_a_newer_suggestion_is_open(curator):
    s = _mislabel()
    suggestion_accept(suggestion=s, user=curator)
    SuggestionFactory(prediction=PredictionFactory(product=s.product, predicted_color="Green",
                                                   image_checksum="f" * 64), kind="mislabel")
    with pytest.raises(ServiceError, match="newer suggestion"):
        suggestion_undo_last(user=curator)
    assert Suggestion.objects.get(pk=s.pk).status == "accepted"


def test_setting_the_colour_a_product_already_has_changes_nothing_unless_it_closes_a_flag(curator):
    s = _mislabel(tag="Red", suggested="Blue")
    product_color_set(product=s.product, user=curator, color="Red", note="the tag is right")  # closes the flag
    event = ReviewEvent.objects.get(suggestion=s, action="supersede")
    assert event.actor == curator and Suggestion.objects.get(pk=s.pk).status == "superseded"
    with pytest.raises(ServiceError, match="is already Red; nothing changed"):
        product_color_set(product=Product.objects.get(pk=s.product_id), user=curator, color="red", note="again")
    assert ReviewEvent.objects.filter(product=s.product, action="manual").count() == 1


def test_a_decision_on_a_superseded_suggestion_says_why_and_by_whom(curator, merchandiser):
    s = _mislabel()
    product_color_set(product=s.product, user=merchandiser, color="Green", note="seen on the sample")
    with pytest.raises(AlreadyDecided, match="already superseded: colour set by hand by merchandiser"):
        suggestion_accept(suggestion=s, user=curator)
