"""Suggestions another reviewer holds are not silently missing: the queue and bulk approval say so."""

from __future__ import annotations

import pytest

from colorreview.services.claims import suggestions_claim
from tests.factories import PredictionFactory, ProductFactory, SuggestionFactory, UserFactory

pytestmark = pytest.mark.django_db
HTMX = {"HTTP_HX_REQUEST": "true"}


def _flags(n: int):
    return [SuggestionFactory(prediction=PredictionFactory(product=ProductFactory(tag="Red"), predicted_color="Blue"),
                              kind="mislabel") for _ in range(n)]


def _imputations(n: int):
    return [SuggestionFactory(kind="impute", prediction=PredictionFactory(
        product=ProductFactory(tag=""), confidence=0.97, predicted_color="Red")) for _ in range(n)]


def _held_by_another(role: str, suggestions) -> set[int]:
    """A second reviewer of ``role`` takes these cards; the ids it holds."""
    other = UserFactory(username=f"other-{role}", roles=[role])
    return suggestions_claim(user=other, suggestion_ids=[s.pk for s in suggestions])


def test_an_empty_queue_says_how_many_others_hold_and_when_they_come_back(client, curator):
    flags = _flags(3)
    assert _held_by_another("curator", flags) == {s.pk for s in flags}
    client.force_login(curator)
    page = client.get("/review/").content.decode()
    assert "Nothing to review here: 3 suggestions are being reviewed by someone else (the first comes back at" in page


def test_the_counts_leave_out_cards_another_reviewer_holds_and_follow_a_filter_change(client, curator):
    flags = _flags(3)
    _held_by_another("curator", flags[:1])
    client.force_login(curator)
    page = client.get("/review/").content.decode()
    assert "Pending for you: <b>2</b> mislabel flags (1 more held by other reviewers for a few minutes)." in page
    assert 'data-label="Mislabels" >Mislabels (2)</option>' in page
    assert 'data-mislabel="2"' in page
    # a filter change swaps the list alone; the counts line comes with it, out of band
    fragment = client.get("/review/?kind=mislabel", HTTP_HX_TARGET="queue-list", **HTMX).content.decode()
    assert 'id="queue-counts" data-mislabel="2" data-impute="0" hx-swap-oob="true"' in fragment
    assert fragment.count('id="queue-counts"') == 1
    # a decision's card carries the new counts
    card = client.post(f"/review/{flags[1].pk}/accept/", **HTMX).content.decode()
    assert "Pending for you: <b>1</b> mislabel flag (1 more held by other reviewers" in card
    # once the other reviewer's lease lapses, the card counts again
    from datetime import timedelta

    from django.utils import timezone

    type(flags[0]).objects.filter(pk=flags[0].pk).update(claimed_until=timezone.now() - timedelta(seconds=1))
    assert "Pending for you: <b>2</b> mislabel flags." in client.get("/review/").content.decode()


def test_a_bulk_confirmation_says_how_many_held_ones_are_left_out(client, merchandiser):
    items = _imputations(4)
    _held_by_another("merchandiser", items[:1])
    client.force_login(merchandiser)
    page = client.post("/imputations/", {"ids": [s.pk for s in items]}, **HTMX).content.decode()
    assert "<b>3</b> imputations selected will be approved" in page
    assert "1 more is being reviewed by someone else and is left out." in page


def test_past_bulk_approvals_are_listed_with_an_undo(client, merchandiser, admin_user, settings):
    from colorreview.services import bulk

    items = _imputations(3)
    done = bulk.bulk_approval_start(user=merchandiser, ids=[s.pk for s in items])
    failed = bulk.BulkApproval.objects.create(created_by=merchandiser, kind="impute", matched=2, status="failed",
                                              error="not started: the task queue was unavailable")
    mine = UserFactory(username="another-merchandiser", roles=["merchandiser"])
    client.force_login(mine)
    section = client.get("/imputations/").content.decode().split('id="recent-approvals"')[1].split("</section>")[0]
    assert 'hx-disinherit="*" hidden>' in section and "<td>" not in section  # only one's own: none, hidden
    client.force_login(merchandiser)
    page = client.get("/imputations/").content.decode()
    assert f'id="recent-{done.pk}">3 accepted <button hx-post="/imputations/bulk/{done.pk}/"' in page
    assert f'id="recent-{failed.pk}">did not run' in page
    client.force_login(admin_user)
    assert f'id="recent-{done.pk}"' in client.get("/imputations/").content.decode()  # admins see every batch
    client.force_login(merchandiser)
    settings.COLORREVIEW_BULK_INLINE = 100
    fragment = client.post(f"/imputations/bulk/{done.pk}/", **HTMX).content.decode()
    assert f"Bulk approval {done.pk} undone: 3 of 3" in fragment


def test_two_shades_of_one_catalogue_colour_are_told_apart_on_a_card(client, curator):
    prediction = PredictionFactory(product=ProductFactory(tag="Red"), predicted_color="Purple", dominant_colors=[
        {"color": "Purple", "name": "indigo", "hex": "#4b0082", "fraction": 0.59},
        {"color": "Purple", "name": "orchid", "hex": "#da70d6", "fraction": 0.35},
        {"color": "White", "name": "white", "hex": "#ffffff", "fraction": 0.06}])
    SuggestionFactory(prediction=prediction, kind="mislabel")
    client.force_login(curator)
    page = client.get("/review/").content.decode()
    assert "Purple (indigo) 59%" in page and "Purple (orchid) 35%" in page and "White 6%" in page


def test_a_double_click_on_approve_records_one_batch(client, merchandiser):
    import re

    from colorreview.models import BulkApproval

    items = _imputations(3)
    client.force_login(merchandiser)
    page = client.post("/imputations/", {"ids": [s.pk for s in items]}, **HTMX).content.decode()
    key = re.search(r'name="request_key" value="([0-9a-f]{32})"', page).group(1)
    assert 'hx-disabled-elt="find button"' in page
    confirm = {"ids": [s.pk for s in items], "confirm": "1", "request_key": key}
    first = client.post("/imputations/", confirm, **HTMX).content.decode()
    second = client.post("/imputations/", confirm, **HTMX).content.decode()
    approval = BulkApproval.objects.get()
    assert (approval.accepted, approval.request_key) == (3, key)
    for fragment in (first, second):
        assert f'id="bulk-{approval.pk}-progress"' in fragment and "Accepted 3." in fragment
    assert "Nothing accepted" not in second


def test_a_merchandiser_sees_and_undoes_only_their_own_bulk_approvals(client, merchandiser, admin_user):
    from colorreview.services import bulk

    theirs = bulk.bulk_approval_start(user=admin_user, ids=[s.pk for s in _imputations(2)])
    other = UserFactory(username="other-merchandiser", roles=["merchandiser"])
    client.force_login(other)
    assert client.get(f"/imputations/bulk/{theirs.pk}/", **HTMX).status_code == 404
    assert client.post(f"/imputations/bulk/{theirs.pk}/", **HTMX).status_code == 404
    theirs.refresh_from_db()
    assert theirs.status == "finished"
    client.force_login(admin_user)
    assert "Undo this batch" in client.get(f"/imputations/bulk/{theirs.pk}/", **HTMX).content.decode()


@pytest.mark.parametrize("confidence, shown", [(0.8464, "84.6"), (0.84596, "84.5"), (0.846, "84.6"), (0.7, "70.0")])
def test_the_bulk_table_shows_confidences_as_the_threshold_reads_them(client, merchandiser, confidence, shown):
    SuggestionFactory(kind="impute", prediction=PredictionFactory(product=ProductFactory(tag=""), confidence=confidence,
                                                                  predicted_color="Red"))
    client.force_login(merchandiser)
    page = client.get("/imputations/").content.decode()
    assert f"<td>{shown}%</td>" in page and 'step="0.1"' in page
    confirm = client.post("/imputations/", {"scope": "threshold", "min_confidence": shown}, **HTMX).content.decode()
    assert f"<b>1</b> imputation at or above {shown}% will be approved" in confirm


def test_skipped_cards_can_be_shown_again(client, curator):
    flags = _flags(2)
    client.force_login(curator)
    for s in flags:
        client.post(f"/review/{s.pk}/skip/", **HTMX)
    page = client.get("/review/").content.decode()
    assert "2 you skipped this session (<a href=\"/review/?unskip=1\">show them again</a>)" in page
    again = client.get("/review/?unskip=1").content.decode()
    assert all(f'id="suggestion-{s.pk}"' in again for s in flags)


def test_approve_selected_with_nothing_ticked_says_to_tick_one(client, merchandiser):
    _imputations(1)
    client.force_login(merchandiser)
    page = client.post("/imputations/", {"scope": "selected"}, **HTMX).content.decode()
    assert "Not approved: tick at least one imputation" in page


def test_the_list_and_the_recent_batches_are_read_again_after_an_approval_or_an_undo(client, merchandiser):
    items = _imputations(3)
    client.force_login(merchandiser)
    page = client.get("/imputations/").content.decode()
    assert 'id="bulk-list" hx-get="/imputations/" hx-trigger="bulk-changed from:body"' in page
    assert 'id="recent-approvals" hx-get="/imputations/?full=1" hx-trigger="bulk-changed from:body"' in page
    done = client.post("/imputations/", {"scope": "selected", "ids": [items[0].pk], "confirm": "1"}, **HTMX)
    assert done["HX-Trigger-After-Settle"] == "bulk-changed"
    recent = client.get("/imputations/?full=1", **HTMX).content.decode()  # what the recent list reads again
    assert "<h2>Recent bulk approvals</h2>" in recent and "1 accepted <button" in recent
    fragment = client.get("/imputations/", **HTMX).content.decode()  # what the list reads again
    assert f'value="{items[0].pk}"' not in fragment and f'value="{items[1].pk}"' in fragment
    from colorreview.models import BulkApproval

    undo = client.post(f"/imputations/bulk/{BulkApproval.objects.get().pk}/", **HTMX)
    assert undo["HX-Trigger-After-Settle"] == "bulk-changed"
    assert f'value="{items[0].pk}"' in client.get("/imputations/", **HTMX).content.decode()


def test_imputations_another_reviewer_holds_are_marked_and_cannot_be_ticked(client, merchandiser):
    items = _imputations(2)
    _held_by_another("merchandiser", items[:1])
    client.force_login(merchandiser)
    page = client.get("/imputations/").content.decode()
    held = page.split(f'id="bulk-{items[0].pk}"')[1].split("</tr>")[0]
    free = page.split(f'id="bulk-{items[1].pk}"')[1].split("</tr>")[0]
    assert "disabled" in held and "held by other-merchandiser until " in held
    assert "disabled" not in free and "held by" not in free
