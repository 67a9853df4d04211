"""Seller tags stored while their spelling could not match the vocabulary (``Crème`` before accents were set
aside and Cream took the alias ``creme``, ``Off–White`` before any dash separated words) are mapped again as an
edit of the vocabulary maps them: by the product's own remap (``services.vocabulary.seller_colors_remap``),
which sets the mapping, the final colour nobody chose, the history events and the open suggestions.

That remap works on the app's current models, which describe the tables as this migration leaves them only
while it is the app's latest. When a later migration is still to run (a database migrated across both), the
remap waits for the end of the ``migrate`` command (``post_migrate``), when every table has its current shape.
"""

import logging

from django.db import connections, migrations
from django.db.models.signals import post_migrate

APP = "colorreview"
NAME = "0020_remap_seller_tags"

log = logging.getLogger(__name__)


def remap_seller_tags(apps, schema_editor):
    tags = apps.get_model(APP, "Product").objects.exclude(seller_color_raw="").values_list("seller_color_raw",
                                                                                          flat=True).distinct()
    if all(tag.isascii() for tag in tags.iterator()):
        return  # what changed in matching (accents, Unicode dashes and spaces) only concerns tags that are not ASCII
    if _latest():
        _remap()
    else:
        post_migrate.connect(remap_after_migrate, dispatch_uid=NAME, weak=False)


def _latest() -> bool:
    """Is this the app's latest migration (its current models are those of this migration's state)?"""
    return _leaves() == [(APP, NAME)]


def _leaves() -> list[tuple[str, str]]:
    from django.db.migrations.loader import MigrationLoader

    return MigrationLoader(None, ignore_no_migrations=True).graph.leaf_nodes(APP)


def _remap() -> None:
    from colorreview.services.vocabulary import seller_colors_remap

    log.info("seller tags mapped again: %d products", len(seller_colors_remap()))


def remap_after_migrate(sender, using="default", **kwargs):
    """The deferred remap, once the app's migrations have all run (``post_migrate`` is sent once an app)."""
    from django.db.migrations.recorder import MigrationRecorder

    if sender.name != APP:
        return
    post_migrate.disconnect(dispatch_uid=NAME)
    if set(_leaves()) <= set(MigrationRecorder(connections[using]).applied_migrations()):
        _remap()
    else:  # stopped short of the latest migration: the models do not describe the tables yet
        log.warning("seller tags were not mapped again: migrate to the latest migration, then save any colour "
                    "of the vocabulary in the admin, which maps them again")


class Migration(migrations.Migration):
    dependencies = [("colorreview", "0019_flag_rules")]
    operations = [migrations.RunPython(remap_seller_tags, migrations.RunPython.noop, elidable=True)]
