from __future__ import annotations

from django.core.management.commands import flush
from django.db import connections

from ...history import guard_lifted


class Command(flush.Command):
    help = flush.Command.help + " The append-only guard of the review history is lifted for it and put back."

    def handle(self, **options):
        with guard_lifted(connections[options["database"]]):
            return super().handle(**options)
