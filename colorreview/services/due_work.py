"""Work a migration leaves owed to the data, done at the end of ``migrate`` once every migration of the app
has run (the current models then describe the tables), and kept as due until it is done: a ``migrate``
stopped between the migration and its end leaves it to the next one."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import connections

log = logging.getLogger(__name__)

APP = "colorreview"
#: the seller tags mapped again after the matching of tags changed (see migration 0023)
SELLER_TAGS_REMAP = "seller_tags_remap"


def _seller_tags_remap() -> str:
    from .vocabulary import seller_colors_remap

    return f"seller tags mapped again: {len(seller_colors_remap())} products changed"


#: what each due work's name does; it returns what it did, in words
WORK: dict[str, Callable[[], str]] = {SELLER_TAGS_REMAP: _seller_tags_remap}


def migrations_complete(using: str = "default") -> bool:
    """Whether every migration of the app has been applied to the database."""
    from django.db.migrations.loader import MigrationLoader

    loader = MigrationLoader(connections[using], ignore_no_migrations=True)
    return set(loader.graph.leaf_nodes(APP)) <= set(loader.applied_migrations)


def due_work_run(*, using: str = "default") -> list[str]:
    """Do the due work (each idempotent), removing its row once done; returns what was done. Nothing
    while some migration of the app is still to run (the models do not describe the tables yet)."""
    from ..models import DueWork

    if DueWork._meta.db_table not in connections[using].introspection.table_names():
        return []
    # the columns every version of the table has: a later migration may add others not there yet
    due = list(DueWork.objects.using(using).order_by("pk").values_list("pk", "name"))
    if not due:
        return []
    if not migrations_complete(using):
        log.warning("due work waits for the last migration: %s", ", ".join(name for _, name in due))
        return []
    if using != "default":  # the work runs on the app's own database
        log.warning("due work is done by a migrate of the default database: %s", ", ".join(n for _, n in due))
        return []
    done = []
    for pk, name in due:
        run = WORK.get(name)
        if run is None:
            log.error("due work %r is not known here: left due", name)
            continue
        try:
            said = run()  # in chunks of its own; if it stops, the row stays and the next migrate does it again
        except Exception:  # the schema is migrated whatever happens here: the work stays due, for the next one
            log.exception("due work %r failed and stays due: the next `python manage.py migrate` tries again", name)
            continue
        DueWork.objects.using(using).filter(pk=pk).delete()
        log.info("%s", said)
        done.append(said)
    return done


def due_work_after_migrate(*, using: str = "default", **kwargs) -> None:
    """``post_migrate`` (sent for this app once its migrations have run); what is done is logged."""
    due_work_run(using=using)
