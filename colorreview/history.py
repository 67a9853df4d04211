"""The review history is append-only in the database itself: triggers refuse UPDATE and DELETE
on the event table (and TRUNCATE on PostgreSQL), whoever sends them."""

from __future__ import annotations

from contextlib import contextmanager

TABLE = "colorreview_reviewevent"
MESSAGE = "review events are append-only"

_SQLITE_INSTALL = [
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_no_update BEFORE UPDATE ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
    f"CREATE TRIGGER IF NOT EXISTS {TABLE}_no_delete BEFORE DELETE ON {TABLE} "
    f"BEGIN SELECT RAISE(ABORT, '{MESSAGE}'); END",
]
_SQLITE_REMOVE = [f"DROP TRIGGER IF EXISTS {TABLE}_no_update", f"DROP TRIGGER IF EXISTS {TABLE}_no_delete"]

_PG_INSTALL = [
    f"CREATE OR REPLACE FUNCTION {TABLE}_append_only() RETURNS trigger LANGUAGE plpgsql AS $$ "
    f"BEGIN RAISE EXCEPTION '{MESSAGE}' USING ERRCODE = 'integrity_constraint_violation'; END $$",
    f"DROP TRIGGER IF EXISTS {TABLE}_no_change ON {TABLE}",
    f"CREATE TRIGGER {TABLE}_no_change BEFORE UPDATE OR DELETE ON {TABLE} "
    f"FOR EACH ROW EXECUTE FUNCTION {TABLE}_append_only()",
    f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE}",
    f"CREATE TRIGGER {TABLE}_no_truncate BEFORE TRUNCATE ON {TABLE} "
    f"FOR EACH STATEMENT EXECUTE FUNCTION {TABLE}_append_only()",
]
_PG_REMOVE = [f"DROP TRIGGER IF EXISTS {TABLE}_no_change ON {TABLE}",
              f"DROP TRIGGER IF EXISTS {TABLE}_no_truncate ON {TABLE}"]


def _statements(connection, install: bool) -> list[str]:
    if connection.vendor == "postgresql":
        return _PG_INSTALL if install else _PG_REMOVE
    if connection.vendor == "sqlite":
        return _SQLITE_INSTALL if install else _SQLITE_REMOVE
    return []  # other databases: the model's own save()/delete() guard only


def guard_install(connection) -> None:
    with connection.cursor() as cursor:
        for sql in _statements(connection, install=True):
            cursor.execute(sql)


def guard_remove(connection) -> None:
    with connection.cursor() as cursor:
        for sql in _statements(connection, install=False):
            cursor.execute(sql)


@contextmanager
def guard_lifted(connection):
    """Only for `manage.py flush`, which empties every table by design."""
    guard_remove(connection)
    try:
        yield
    finally:
        guard_install(connection)


def guard_after_migrate(*, using: str = "default", **kwargs) -> None:
    from django.db import connections

    connection = connections[using]
    if TABLE in connection.introspection.table_names():
        guard_install(connection)
