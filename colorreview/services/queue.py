"""Handing jobs to the task queue. A broker that cannot be reached is said plainly (``QueueUnavailable``)
and what the message was for is put back, never a server error or a state left waiting for ever."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.db import transaction
from kombu.exceptions import OperationalError as BrokerError

log = logging.getLogger(__name__)

#: what publishing raises when the broker is down or unreachable
BROKER_ERRORS = (BrokerError, OSError)


class QueueUnavailable(Exception):
    """The task queue (broker) cannot be reached; nothing was queued. ``report`` carries the import
    that was done before, if any."""

    report = None


def unavailable(exc: BaseException, then: str = "try again when it is back") -> QueueUnavailable:
    return QueueUnavailable(f"the task queue is unavailable ({exc}); {then}")


def send(task, *args, on_failure: Callable[[BaseException], None] | None = None,
         then: str = "try again when it is back", **kwargs) -> None:
    """Queue ``task(*args, **kwargs)``: at once outside a transaction, else once it commits.

    When the broker cannot be reached, ``on_failure(exc)`` puts back the state the job was for. Outside a
    transaction ``QueueUnavailable`` is then raised to the caller; inside one the rows are committed by the
    time the message is sent, so the failure is only logged and put back (an exception there would
    skip the transaction's other callbacks)."""
    in_transaction = transaction.get_connection().in_atomic_block

    def publish() -> None:
        try:
            task.apply_async(args, kwargs)
        except BROKER_ERRORS as exc:
            log.warning("could not queue %s: %s", task.name, exc)
            if on_failure is not None:
                on_failure(exc)
            if not in_transaction:
                raise unavailable(exc, then) from exc

    if in_transaction:
        transaction.on_commit(publish)
    else:
        publish()


def check_queue() -> None:
    """Raise ``QueueUnavailable`` when the broker cannot be reached now (before a change that needs it)."""
    from ..celery import app

    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=app.conf.broker_connection_timeout)
    except BROKER_ERRORS as exc:
        raise unavailable(exc) from exc
