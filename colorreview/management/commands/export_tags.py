from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from ...services.export import write_export


class Command(BaseCommand):
    help = "Export the catalogue's corrected colour tags as CSV."

    def add_arguments(self, parser):
        parser.add_argument("--out", default="-", help="CSV file to write (default: standard output)")

    def handle(self, *args, **opts):
        if opts["out"] == "-":
            n = write_export(sys.stdout)
        else:
            with open(opts["out"], "w", newline="", encoding="utf-8") as fh:
                n = write_export(fh)
            self.stdout.write(self.style.SUCCESS(f"wrote {n} products to {opts['out']}"))
