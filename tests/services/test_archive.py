"""Archiving products: admin only, conditional, an event for each change, pending suggestions withdrawn,
set-based in chunks, and a command."""

from __future__ import annotations

import pytest
from django.core.management import CommandError, call_command

from colorreview.models import Product, ReviewEvent, Suggestion
from colorreview.roles import RoleError
from colorreview.services import ServiceError, archive, bulk
from colorreview.services.archive import (
    ArchiveConflict,
    product_archive,
    product_unarchive,
    products_archive,
    products_unarchive,
)
from colorreview.services.review import suggestion_accept, suggestion_reject, suggestion_reopen, suggestion_undo_last
from colorreview.services.suggestions import suggestion_refresh
from inference.colors import default_vocabulary
from tests.factories import PredictionFactory, ProductFactory, SuggestionFactory, probabilities

pytestmark = pytest.mark.django_db


def _flagged(sku: str | None = None, tag: str = "Red", color: str = "Blue", confidence: float = 0.96) -> Suggestion:
    """A product whose latest prediction contradicts its tag, with the pending flag that makes."""
    product = ProductFactory(tag=tag, **({"sku": sku} if sku else {}))
    prediction = PredictionFactory(product=product, predicted_color=color, confidence=confidence,
                                   family=default_vocabulary().family(color),
                                   probabilities=probabilities(**{color: confidence}))
    return suggestion_refresh(product=product, prediction=prediction)


def test_archiving_withdraws_pending_suggestions_and_records_who_and_why(thresholds, admin_user):
    flag = _flagged()
    product = product_archive(product=flag.product, user=admin_user, note=" discontinued ")
    assert product.archived and product.archived_by == admin_user
    flag.refresh_from_db()
    assert flag.status == Suggestion.Status.SUPERSEDED
    archived = ReviewEvent.objects.get(product=product, action="archive")
    assert (archived.actor, archived.from_status, archived.to_status, archived.note) == (
        admin_user, "active", "archived", "discontinued")
    withdrawn = flag.events.get(action="supersede")
    assert withdrawn.note == "withdrawn: the product was archived by boss" and withdrawn.from_color == "Blue"


def test_a_second_archive_is_refused_and_writes_nothing(admin_user):
    product = product_archive(product=ProductFactory(), user=admin_user)
    with pytest.raises(ArchiveConflict, match=r"already archived on \d{4}-\d\d-\d\d \d\d:\d\d by boss"):
        product_archive(product=product, user=admin_user)
    with pytest.raises(ArchiveConflict, match="not archived"):
        product_unarchive(product=ProductFactory(), user=admin_user)
    assert ReviewEvent.objects.filter(action__in=["archive", "unarchive"]).count() == 1


def test_only_admins_archive_and_unarchive(curator, merchandiser, outsider, admin_user):
    product = ProductFactory()
    for user in (curator, merchandiser, outsider):
        with pytest.raises(RoleError, match="needs the role admin"):
            product_archive(product=product, user=user)
        with pytest.raises(RoleError):
            products_archive(user=user, skus=[product.sku])
    product_archive(product=product, user=admin_user)
    with pytest.raises(RoleError):
        product_unarchive(product=product, user=curator)
    assert Product.objects.get(pk=product.pk).archived
    assert ReviewEvent.objects.filter(action="archive").count() == 1


def test_unarchive_judges_the_latest_prediction_again_and_leaves_decisions_decided(thresholds, admin_user, curator):
    open_flag, decided = _flagged(), _flagged()
    suggestion_reject(suggestion=decided, user=curator)
    for s in (open_flag, decided):
        product_archive(product=s.product, user=admin_user)
        product_unarchive(product=s.product, user=admin_user, note="back in the range")
    reopened = Suggestion.objects.get(product=open_flag.product, status="pending")
    assert reopened.pk != open_flag.pk and reopened.suggested_color == "Blue"
    assert list(open_flag.product.events.values_list("action", flat=True))[-4:] == [
        "archive", "supersede", "unarchive", "suggested"]
    assert Suggestion.objects.get(pk=decided.pk).status == "rejected"
    assert not Suggestion.objects.filter(product=decided.product, status="pending").exists()
    back = ReviewEvent.objects.filter(product=decided.product, action="unarchive").get()
    assert (back.actor, back.from_status, back.to_status, back.note) == (admin_user, "archived", "active",
                                                                         "back in the range")
    assert not Product.objects.get(pk=decided.product_id).archived


def test_an_archived_product_gets_no_suggestion_and_a_stray_one_is_withdrawn(thresholds, admin_user):
    product = product_archive(product=ProductFactory(tag="Red"), user=admin_user)
    prediction = PredictionFactory(product=product, predicted_color="Blue", confidence=0.96, family="Blue",
                                   probabilities=probabilities(Blue=0.96))
    assert suggestion_refresh(product=product, prediction=prediction) is None
    stray = SuggestionFactory(prediction=prediction)  # opened while it was being archived
    assert suggestion_refresh(product=product, prediction=prediction) is None
    stray.refresh_from_db()
    assert stray.status == "superseded" and stray.events.get().note == "the product is archived"


def test_many_are_archived_a_chunk_at_a_time_in_a_few_statements(thresholds, admin_user, monkeypatch,
                                                                 django_assert_max_num_queries):
    monkeypatch.setattr(archive, "CHUNK", 3)
    small = [_flagged().product.sku for _ in range(2)]
    with django_assert_max_num_queries(20) as one_chunk:
        products_archive(user=admin_user, skus=small)
    large = [_flagged().product.sku for _ in range(9)]
    with django_assert_max_num_queries(len(one_chunk.captured_queries) + 3 * 9):  # 11 skus: three more chunks
        outcome = products_archive(user=admin_user, skus=[*large, small[0], "NO-SUCH-SKU", large[0]])
    # small[0] was archived before, large[0] by the first chunk
    assert (outcome.changed, outcome.unchanged, outcome.unknown) == (9, 2, ["NO-SUCH-SKU"])
    assert Product.objects.filter(archived_at__isnull=False).count() == 11
    assert not Suggestion.objects.filter(status="pending").exists()
    assert ReviewEvent.objects.filter(action="archive").count() == 11
    back = products_unarchive(user=admin_user, skus=large[:4])
    assert (back.changed, Suggestion.objects.filter(status="pending").count()) == (4, 4)


def test_undo_passes_over_archived_products_and_reopen_refuses_them(thresholds, curator, admin_user):
    earlier, latest = _flagged(), _flagged()
    suggestion_accept(suggestion=earlier, user=curator)
    suggestion_accept(suggestion=latest, user=curator)
    product_archive(product=latest.product, user=admin_user)
    assert suggestion_undo_last(user=curator).pk == earlier.pk
    with pytest.raises(ServiceError, match="is archived; unarchive it"):
        suggestion_reopen(suggestion=latest, user=admin_user)
    assert Suggestion.objects.get(pk=latest.pk).status == "accepted"


def test_a_bulk_undo_leaves_an_archived_product_decided(merchandiser, admin_user):
    items = [SuggestionFactory(prediction=PredictionFactory(product=ProductFactory(tag="")), kind="impute")
             for _ in range(3)]
    approval = bulk.bulk_approval_start(user=merchandiser, ids=[s.pk for s in items])
    product_archive(product=items[0].product, user=admin_user)
    assert bulk.bulk_approval_undo(approval=approval, user=merchandiser).reverted == 2
    assert Suggestion.objects.get(pk=items[0].pk).status == "accepted"


def test_the_command_archives_from_a_file_and_undoes(thresholds, admin_user, tmp_path, capsys):
    flags = [_flagged(sku=f"CMD-{i}") for i in range(3)]
    listing = tmp_path / "skus.txt"
    listing.write_text("CMD-0\n\nCMD-1\nGONE-9\n", encoding="utf-8-sig")
    call_command("archive_products", "--file", str(listing), "--sku", "CMD-2", "--note", "season over",
                 "--user", "boss")
    out = capsys.readouterr()
    assert "3 products archived, 0 already archived, 1 unknown" in out.out and "unknown sku: GONE-9" in out.err
    assert Product.objects.filter(archived_by=admin_user).count() == 3
    assert set(ReviewEvent.objects.filter(action="archive").values_list("note", flat=True)) == {"season over"}
    call_command("archive_products", "--sku", "CMD-0", "--undo")
    assert "1 products unarchived" in capsys.readouterr().out
    event = ReviewEvent.objects.get(action="unarchive")
    assert event.actor is None and event.product == flags[0].product
    assert Suggestion.objects.filter(product=flags[0].product, status="pending").exists()


def test_the_command_refuses_a_missing_file_and_a_user_without_the_admin_role(curator):
    with pytest.raises(CommandError, match="give skus"):
        call_command("archive_products")
    with pytest.raises(CommandError, match="not found"):
        call_command("archive_products", "--file", "/no/such/file.txt")
    with pytest.raises(CommandError, match="admin role"):
        call_command("archive_products", "--sku", "X", "--user", "curator")


def test_a_colour_set_by_hand_is_refused_on_an_archived_product(curator, admin_user):
    from colorreview.services.review import product_color_set

    product = ProductFactory(tag="Red")
    product_archive(product=product, user=admin_user)
    with pytest.raises(ServiceError, match=f"{product.sku} is archived; unarchive it before setting its colour"):
        product_color_set(product=product, user=curator, color="Blue", note="looks blue")
    product.refresh_from_db()
    assert product.final_color != "Blue" and not ReviewEvent.objects.filter(action="manual").exists()
