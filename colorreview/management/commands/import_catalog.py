from __future__ import annotations

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ...services.catalog import ImportFailed
from ...services.runs import ModelUnavailable, QueueUnavailable, catalog_import_and_queue, embedded_queue


class Command(BaseCommand):
    help = ("Import a catalogue CSV (sku,title,category,image,seller_color; extra columns are kept as "
            "attributes). Re-importing a sku updates it. Bad rows are reported with their line number.")

    def add_arguments(self, parser):
        parser.add_argument("csv", help="catalogue CSV file")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")
        parser.add_argument("--images", default=None,
                            help="folder the image paths are relative to (default: the CSV's folder)")

    def handle(self, *args, **opts):
        path = Path(opts["csv"])
        if not path.is_file():
            raise CommandError(f"catalogue file not found: {path}")
        images = Path(opts["images"]) if opts["images"] else None
        if images is not None and not images.is_dir():
            raise CommandError(f"images folder not found: {images}")
        bar = tqdm(total=path.stat().st_size, desc="import", unit="B", unit_scale=True, disable=opts["quiet"])

        def progress(batch) -> bool:
            bar.update(batch.bytes_done - bar.n)
            return True

        try:
            with bar:
                report, run = catalog_import_and_queue(
                    queue=not embedded_queue(), csv_path=path, source_name=path.name,
                    images_dir=images, csv_dir=path.resolve().parent, progress=progress)
        except ImportFailed as exc:
            raise CommandError(str(exc)) from exc
        except (QueueUnavailable, ModelUnavailable) as exc:
            report, run = exc.report, None
            self.stderr.write(f"imported, but not queued: {exc}")
        for problem in report.problems:
            self.stderr.write(str(problem))
        unlisted = report.rejected + report.flagged - len(report.problems)
        if unlisted > 0:
            self.stderr.write(f"... and {unlisted} more problems")
        self.stdout.write(self.style.SUCCESS(f"{path.name}: {report.summary()}"))
        if run is not None:
            plural = "" if run.total == 1 else "s"
            self.stdout.write(f"queued {run.total} product{plural} for the pipeline (run {run.pk})")
        elif report.to_predict:
            n = report.to_predict
            self.stdout.write(f"{n} product{'' if n == 1 else 's'} {'needs' if n == 1 else 'need'} the pipeline: "
                              "python manage.py run_pipeline --wait")
