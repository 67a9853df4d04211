from __future__ import annotations

import sys

from django.core.management.base import BaseCommand

from ...services.export import ARCHIVED_OPTIONS, KIND_OPTIONS, STATUS_OPTIONS, ExportFilters, write_export


class Command(BaseCommand):
    help = ("Export the catalogue's corrected colour tags as CSV, streamed in constant memory. Filters: "
            "--kind, --status (of the product's suggestion), --category, --changed-only, --archived "
            "(archived products are left out unless asked for); --bom for a file that Excel opens as UTF-8.")
    requires_system_checks = []  # the checks load every view, and with them the vision stack

    def add_arguments(self, parser):
        parser.add_argument("--out", default="-", help="CSV file to write (default: standard output)")
        parser.add_argument("--kind", choices=KIND_OPTIONS, help="products with a suggestion of this kind")
        parser.add_argument("--status", choices=STATUS_OPTIONS,
                            help="products whose suggestion is in this state")
        parser.add_argument("--category", help="one product category")
        parser.add_argument("--changed-only", action="store_true",
                            help="only products whose final colour differs from the seller's tag")
        parser.add_argument("--archived", choices=ARCHIVED_OPTIONS, default="exclude",
                            help="archived products: left out (default), included, or only them; when they may be "
                                 "in the file a last column archived_at says when each was archived")
        parser.add_argument("--bom", action="store_true",
                            help="start the file with a UTF-8 byte-order mark, so that Excel reads its accents right")

    def handle(self, *args, **opts):
        filters = ExportFilters(kind=opts["kind"], status=opts["status"], category=opts["category"],
                                changed_only=opts["changed_only"], archived=opts["archived"])
        if opts["out"] == "-":
            n = write_export(sys.stdout, filters, bom=opts["bom"])
        else:
            with open(opts["out"], "w", newline="", encoding="utf-8") as fh:
                n = write_export(fh, filters, bom=opts["bom"])
            self.stdout.write(self.style.SUCCESS(f"wrote {n} products to {opts['out']}"))
