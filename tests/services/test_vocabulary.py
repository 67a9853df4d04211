from __future__ import annotations

import pytest

from colorreview.models import ColorName, DueWork, Product, ReviewEvent, Suggestion
from colorreview.services.suggestions import suggestion_refresh
from colorreview.services.vocabulary import configuration_digest, seller_colors_remap
from tests.factories import PredictionFactory, ProductFactory, probabilities

pytestmark = pytest.mark.django_db


def test_a_new_alias_maps_unmapped_tags_and_updates_their_suggestions(thresholds):
    product = ProductFactory(tag="Sunset Glow")
    prediction = PredictionFactory(product=product, predicted_color="Blue", confidence=0.95,
                                   probabilities=probabilities(Blue=0.95))
    assert suggestion_refresh(product=product, prediction=prediction).kind == "impute"
    orange = ColorName.objects.get(name="Orange")
    orange.aliases += "|sunset glow"
    orange.save()
    assert seller_colors_remap() == [product.pk]
    product.refresh_from_db()
    assert product.seller_color == orange and product.final_color == "Orange"
    # the tag now says Orange while the image is plainly blue: the imputation became a flag
    assert Suggestion.objects.get(product=product, status="pending").kind == "mislabel"
    assert Suggestion.objects.filter(product=product, status="superseded").count() == 1


def test_aliases_do_not_change_the_model_version():
    before = configuration_digest()
    red = ColorName.objects.get(name="Red")
    red.aliases += "|fire engine"
    red.save()
    assert configuration_digest() == before
    red.hex = "#ff0000"
    red.save()
    assert configuration_digest() != before


def test_the_admin_remaps_after_an_edit_in_the_background(client, admin_user, thresholds, monkeypatch,
                                                          django_capture_on_commit_callbacks):
    from colorreview import tasks

    monkeypatch.setattr(tasks.remap_seller_colors, "apply_async", lambda *a, **kw: tasks.remap_seller_colors.apply())
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    product = ProductFactory(tag="Sunset Glow")
    client.force_login(admin_user)
    orange = ColorName.objects.get(name="Orange")
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(f"/admin/colorreview/colorname/{orange.pk}/change/", {
            "name": "Orange", "hex": orange.hex, "family": "Orange", "nameable": "on", "active": "on",
            "aliases": orange.aliases + "|sunset glow"}, follow=True)
    assert response.status_code == 200 and b"mapped again in the background" in response.content
    assert Product.objects.get(pk=product.pk).seller_color == orange


def test_a_retired_colour_unmaps_its_tags_and_leaves_other_products_alone():
    orange, blue = ProductFactory(tag="Orange"), ProductFactory(tag="Blue")
    assert orange.seller_color.name == "Orange"
    ColorName.objects.filter(name="Orange").update(active=False)
    assert seller_colors_remap() == [orange.pk]
    orange.refresh_from_db()
    blue.refresh_from_db()
    assert orange.seller_color is None and orange.final_color == "Orange"  # the seller's words are kept
    assert blue.seller_color.name == "Blue"
    assert seller_colors_remap() == []  # nothing left to change


def test_a_remap_is_set_based(thresholds, monkeypatch, django_assert_max_num_queries):
    from colorreview.services import vocabulary

    monkeypatch.setattr(vocabulary, "REMAP_CHUNK", 5)
    products = [ProductFactory(tag="Sunset Glow") for _ in range(12)]
    for product in products[:4]:
        PredictionFactory(product=product, predicted_color="Orange", confidence=0.97)
    orange = ColorName.objects.get(name="Orange")
    orange.aliases += "|sunset glow"
    orange.save()
    with django_assert_max_num_queries(6 + 3 * 16):  # a handful a chunk of 5, whatever the chunk holds
        assert seller_colors_remap() == sorted(p.pk for p in products)
    assert set(Product.objects.values_list("final_color", flat=True)) == {"Orange"}
    assert ReviewEvent.objects.filter(action="remap").count() == 12


def test_an_older_vocabulary_gets_the_alias_that_maps_creme_and_keeps_its_own():
    import importlib

    from django.apps import apps

    migration = importlib.import_module("colorreview.migrations.0018_cream_alias_creme")
    ColorName.objects.filter(name="Cream").update(aliases="ivory cream|Crema")
    product = ProductFactory(tag="Crème")
    migration.add_alias(apps, None)
    migration.add_alias(apps, None)
    assert ColorName.objects.get(name="Cream").aliases == "ivory cream|Crema|creme"
    assert seller_colors_remap() == [product.pk]
    assert Product.objects.get(pk=product.pk).seller_color.name == "Cream"


def _stored_unmapped(tag: str) -> Product:
    """A product imported while its tag matched no colour of the vocabulary (before its spelling could)."""
    product = ProductFactory(tag=tag)
    Product.objects.filter(pk=product.pk).update(seller_color=None, final_color=tag)
    product.refresh_from_db()
    return product


def _remap_due() -> None:
    """What migration 0023 does on a catalogue: the remap becomes due work when some tag is not ASCII."""
    import importlib

    from django.apps import apps

    importlib.import_module("colorreview.migrations.0023_due_work").seller_tags_remap_due(apps, None)


def _migrated(app: str) -> None:
    """The end of ``migrate`` for ``app``, as Django signals it."""
    from django.apps import apps
    from django.db.models.signals import post_migrate

    config = apps.get_app_config(app)
    post_migrate.send(sender=config, app_config=config, verbosity=0, interactive=False, using="default",
                      apps=apps, plan=[])


def test_the_migration_maps_the_tags_stored_before_their_spelling_matched_as_an_edit_would(thresholds):
    creme, dashed, unknown = _stored_unmapped("Crème"), _stored_unmapped("Off\u2013White"), _stored_unmapped("Rosé Glow")
    decided = _stored_unmapped("CRÈME")
    Product.objects.filter(pk=decided.pk).update(final_color="White")  # a reviewer chose it
    prediction = PredictionFactory(product=creme, predicted_color="Blue", confidence=0.95,
                                   probabilities=probabilities(Blue=0.95))
    assert suggestion_refresh(product=creme, prediction=prediction).kind == "impute"
    _remap_due()
    assert Product.objects.get(pk=creme.pk).seller_color is None  # not while migrations run
    _migrated("colorreview")
    mapped = {p.pk: (p.seller_color and p.seller_color.name, p.final_color)
              for p in Product.objects.select_related("seller_color")}
    assert mapped == {creme.pk: ("Cream", "Cream"), dashed.pk: ("Off White", "Off White"),
                      unknown.pk: (None, "Rosé Glow"), decided.pk: ("Cream", "White")}
    assert sorted(ReviewEvent.objects.filter(action="remap").values_list("product_id", flat=True)) == \
        sorted([creme.pk, dashed.pk])
    # the tag now says Cream while the image is plainly blue: the imputation became a flag
    assert Suggestion.objects.get(product=creme, status="pending").kind == "mislabel"
    assert Suggestion.objects.get(product=creme, status="superseded").kind == "impute"
    assert not DueWork.objects.exists()  # done, and so not done again


def test_a_catalogue_of_ascii_tags_owes_no_remap():
    ProductFactory(tag="Off White")
    _remap_due()
    assert not DueWork.objects.exists()


def test_the_remap_stays_due_until_a_migrate_reaches_its_end(monkeypatch):
    from colorreview.services import due_work

    product = _stored_unmapped("Crème")
    _remap_due()
    _migrated("auth")  # another app's migrations ended: not this one's
    assert Product.objects.get(pk=product.pk).seller_color is None
    monkeypatch.setattr(due_work, "migrations_complete", lambda using="default": False)
    _migrated("colorreview")  # a `migrate colorreview 0021`: the models do not describe the tables yet
    assert Product.objects.get(pk=product.pk).seller_color is None
    assert DueWork.objects.filter(name=due_work.SELLER_TAGS_REMAP).exists()
    monkeypatch.undo()
    # that migrate was stopped there, or the process killed: the next one, with nothing left to apply, does it
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    assert Product.objects.get(pk=product.pk).seller_color.name == "Cream"
    assert not DueWork.objects.exists()


def test_due_work_that_fails_stays_due_for_the_next_migrate_and_says_so(monkeypatch, caplog):
    from colorreview.services import due_work

    product = _stored_unmapped("Crème")
    _remap_due()

    def broken():
        raise RuntimeError("disk full")

    monkeypatch.setitem(due_work.WORK, due_work.SELLER_TAGS_REMAP, broken)
    _migrated("colorreview")  # the schema is migrated: the migrate itself does not fail
    assert "due work 'seller_tags_remap' failed and stays due" in caplog.text and "disk full" in caplog.text
    assert DueWork.objects.filter(name=due_work.SELLER_TAGS_REMAP).exists()
    monkeypatch.undo()
    _migrated("colorreview")
    assert Product.objects.get(pk=product.pk).seller_color.name == "Cream" and not DueWork.objects.exists()


def test_an_admin_cannot_save_a_colour_that_would_stop_the_pipeline(client, admin_user):
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    lime = ColorName.objects.get(name="Lime Green")
    form = {"name": lime.name, "hex": "lime", "family": lime.family, "nameable": "on", "aliases": lime.aliases,
            "active": "on"}
    page = client.post(f"/admin/colorreview/colorname/{lime.pk}/change/", form).content.decode()
    assert "a reference colour is #rrggbb" in page
    assert ColorName.objects.get(pk=lime.pk).hex == lime.hex  # unchanged
    twin = client.post("/admin/colorreview/colorname/add/", {**form, "name": "black", "hex": "#000000",
                                                             "family": "black"}).content.decode()
    assert "the vocabulary has Black already (names differ in more than case)" in twin
    assert not ColorName.objects.filter(name="black").exists()
    stray = client.post("/admin/colorreview/colorname/add/", {**form, "name": "Moss", "hex": "#4a5d23",
                                                              "family": "green"}).content.decode()
    assert "&#x27;green&#x27; is not a colour of the vocabulary (did you mean Green?)" in stray
    assert not ColorName.objects.filter(name="Moss").exists()


def test_a_colour_taken_out_of_the_vocabulary_is_no_longer_suggested_nor_accepted(thresholds, curator):
    from colorreview.services import ServiceError
    from colorreview.services.review import suggestion_accept

    untagged, tagged = ProductFactory(tag=""), ProductFactory(tag="Red")
    for product in (untagged, tagged):
        PredictionFactory(product=product, predicted_color="Brown", family="Brown", confidence=0.97,
                          probabilities=probabilities(Brown=0.97))
        suggestion_refresh(product=product)
    flag = Suggestion.objects.get(product=tagged, status="pending")
    assert set(Suggestion.objects.filter(status="pending").values_list("suggested_color", flat=True)) == {"Brown"}
    ColorName.objects.filter(name="Brown").update(active=False)
    with pytest.raises(ServiceError, match="Brown was taken out of the vocabulary"):
        suggestion_accept(suggestion=flag, user=curator)
    seller_colors_remap()  # what an edit of the vocabulary runs
    assert not Suggestion.objects.filter(status="pending").exists()
    assert Suggestion.objects.filter(status="superseded").count() == 2
    assert suggestion_refresh(product=Product.objects.get(pk=untagged.pk)) is None  # nor made again


def test_a_colour_the_catalogue_is_tagged_with_is_deactivated_not_deleted(client, admin_user):
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    client.force_login(admin_user)
    ProductFactory(tag="Olive")
    olive = ColorName.objects.get(name="Olive")
    page = client.post(f"/admin/colorreview/colorname/{olive.pk}/delete/", {"post": "yes"}, follow=True)
    assert "Olive is the colour of seller tags in the catalogue: turn Active off" in page.content.decode()
    assert ColorName.objects.filter(pk=olive.pk).exists()
