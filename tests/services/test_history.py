"""The review history is append-only in the database, and every change of a final colour is in it."""

from __future__ import annotations

import pytest
from django.db import DatabaseError, connection, transaction
from django.db.models import ProtectedError

from colorreview.models import ColorName, Product, ReviewEvent
from colorreview.services.catalog import import_catalog
from colorreview.services.review import product_color_set, suggestion_accept
from colorreview.services.vocabulary import seller_colors_remap
from tests.conftest import jpeg_bytes
from tests.factories import PredictionFactory, ProductFactory, SuggestionFactory

pytestmark = pytest.mark.django_db


def _event(curator):
    product = ProductFactory(tag="Red")
    s = SuggestionFactory(prediction=PredictionFactory(product=product, predicted_color="Blue"), kind="mislabel")
    suggestion_accept(suggestion=s, user=curator)
    return ReviewEvent.objects.get(suggestion=s, action="accept")


@pytest.mark.parametrize("sql", [
    "UPDATE colorreview_reviewevent SET to_color = 'Green' WHERE id = %s",
    "DELETE FROM colorreview_reviewevent WHERE id = %s",
])
def test_raw_sql_cannot_change_or_erase_an_event(curator, sql):
    event = _event(curator)
    with pytest.raises(DatabaseError, match="append-only"), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute(sql, [event.pk])
    assert ReviewEvent.objects.get(pk=event.pk).to_color == "Blue"


def test_bulk_queryset_updates_and_deletes_are_refused(curator):
    event = _event(curator)
    with pytest.raises(DatabaseError), transaction.atomic():
        ReviewEvent.objects.filter(pk=event.pk).update(note="rewritten")
    with pytest.raises(DatabaseError), transaction.atomic():
        ReviewEvent.objects.all()._raw_delete(ReviewEvent.objects.db)
    assert ReviewEvent.objects.get(pk=event.pk).note == ""


@pytest.mark.skipif(connection.vendor != "postgresql", reason="TRUNCATE is PostgreSQL's")
def test_truncate_is_refused_on_postgresql(curator):
    _event(curator)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("TRUNCATE colorreview_reviewevent CASCADE")
    assert ReviewEvent.objects.exists()


def test_products_suggestions_and_users_with_events_cannot_be_deleted(curator):
    event = _event(curator)
    for obj in (event.product, event.suggestion, event.actor):
        with pytest.raises(ProtectedError), transaction.atomic():
            obj.delete()
    assert ReviewEvent.objects.filter(pk=event.pk).exists()


def test_a_colour_set_by_hand_is_an_event_and_closes_the_open_suggestion(curator):
    product = ProductFactory(tag="Red")
    s = SuggestionFactory(prediction=PredictionFactory(product=product, predicted_color="Blue"), kind="mislabel")
    product_color_set(product=product, user=curator, color="navy", note="checked the sample")
    product.refresh_from_db()
    s.refresh_from_db()
    assert product.final_color == "Navy Blue" and s.status == "superseded"
    event = ReviewEvent.objects.get(product=product, action="manual")
    assert (event.actor, event.from_color, event.to_color, event.note) == (curator, "Red", "Navy Blue",
                                                                          "checked the sample")


def test_a_colour_set_by_hand_needs_a_note_and_a_vocabulary_colour(curator, outsider):
    from colorreview.roles import RoleError
    from colorreview.services import ServiceError

    product = ProductFactory(tag="Red")
    with pytest.raises(ServiceError, match="note"):
        product_color_set(product=product, user=curator, color="Blue", note=" ")
    with pytest.raises(ServiceError, match="not a colour"):
        product_color_set(product=product, user=curator, color="Sunset Glow", note="x")
    with pytest.raises(RoleError):
        product_color_set(product=product, user=outsider, color="Blue", note="x")
    assert Product.objects.get(pk=product.pk).final_color == "Red"
    assert not ReviewEvent.objects.filter(product=product).exists()


def test_import_and_reimport_with_a_new_tag_are_events(tmp_path, admin_user):
    (tmp_path / "red.jpg").write_bytes(jpeg_bytes())
    first = "sku,title,category,image,seller_color\nH1,Tee,Tshirts,red.jpg,Red\n"
    import_catalog(csv_bytes=first.encode(), source_name="one.csv", csv_dir=tmp_path, user=admin_user)
    import_catalog(csv_bytes=first.replace(",Red", ",navy").encode(), source_name="two.csv", csv_dir=tmp_path,
                   user=admin_user)
    events = list(Product.objects.get(sku="H1").events.values_list("action", "actor", "from_color", "to_color"))
    assert events == [("import", admin_user.pk, "", "Red"), ("import", admin_user.pk, "Red", "Navy Blue")]
    assert "seller colour Red → navy (two.csv)" in Product.objects.get(sku="H1").events.last().note


def test_a_remap_that_changes_the_final_colour_is_an_event():
    product = ProductFactory(tag="Sunset Glow")
    orange = ColorName.objects.get(name="Orange")
    orange.aliases += "|sunset glow"
    orange.save()
    seller_colors_remap()
    event = ReviewEvent.objects.get(product=product, action="remap")
    assert (event.actor, event.from_color, event.to_color) == (None, "Sunset Glow", "Orange")
