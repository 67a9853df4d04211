from __future__ import annotations

import sys
from collections.abc import Iterator
from itertools import chain
from pathlib import Path

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from ... import roles


class Command(BaseCommand):
    help = ("Archive products by sku (their pending suggestions are withdrawn; they leave the review work, new "
            "pipeline runs, the dashboard's figures and the default lists and export), or bring them back with "
            "--undo. Skus come from --sku (repeatable) and --file (one a line); a file of any length is read "
            "as a stream.")
    requires_system_checks = []  # the checks load every view, and with them the vision stack

    def add_arguments(self, parser):
        parser.add_argument("--sku", action="append", default=[], help="a product's sku (repeat for more)")
        parser.add_argument("--file", help="a text file of skus, one a line ('-': standard input)")
        parser.add_argument("--undo", action="store_true", help="unarchive instead")
        parser.add_argument("--note", default="", help="why, recorded in each product's history")
        parser.add_argument("--user", help="an admin to record as the one who did it (default: the command line)")

    def handle(self, *args, sku: list[str], file: str | None, undo: bool, note: str, user: str | None, **opts):
        from ...services.archive import products_archive, products_unarchive

        if not sku and not file:
            raise CommandError("give skus with --sku or --file")
        if file not in (None, "-") and not Path(file).is_file():
            raise CommandError(f"sku file not found: {file}")
        actor = self._actor(user)
        change = products_unarchive if undo else products_archive
        outcome = change(user=actor, skus=chain(sku, self._lines(file)), note=note)
        for missing in outcome.unknown[:50]:
            self.stderr.write(f"unknown sku: {missing}")
        if len(outcome.unknown) > 50:
            self.stderr.write(f"... and {len(outcome.unknown) - 50} more unknown skus")
        done, state = ("unarchived", "active") if undo else ("archived", "archived")
        self.stdout.write(self.style.SUCCESS(f"{outcome.changed} products {done}, {outcome.unchanged} already "
                                             f"{state}, {len(outcome.unknown)} unknown"))

    @staticmethod
    def _actor(username: str | None):
        if username is None:
            return None
        user = get_user_model().objects.filter(username=username).first()
        if user is None or not roles.has_role(user, roles.ADMIN):
            raise CommandError(f"{username!r} is not a user with the admin role")
        return user

    @staticmethod
    def _lines(file: str | None) -> Iterator[str]:
        if file == "-":
            yield from sys.stdin
        elif file is not None:
            with open(file, encoding="utf-8-sig") as fh:
                yield from fh
