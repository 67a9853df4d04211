from __future__ import annotations

import tempfile
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from ...services.catalog import ImportFailed
from ...services.image_archive import archive_problem
from ...services.imports import catalog_import_from_archive
from ...services.runs import ModelUnavailable, QueueUnavailable, catalog_import_and_queue, embedded_queue


class Command(BaseCommand):
    help = ("Import a catalogue CSV (sku,title,category,image,seller_color; extra columns are kept as "
            "attributes). Re-importing a sku updates it. Bad rows are reported with their line number.")

    def add_arguments(self, parser):
        parser.add_argument("csv", help="catalogue CSV file")
        parser.add_argument("--quiet", action="store_true", help="no progress bar")
        parser.add_argument("--images", default=None,
                            help="folder the image paths are relative to (default: the CSV's folder), or a ZIP "
                                 "archive of the images, searched as the Import page searches an uploaded one")

    def handle(self, *args, **opts):
        path = Path(opts["csv"])
        if not path.is_file():
            raise CommandError(f"catalogue file not found: {path}")
        images = Path(opts["images"]) if opts["images"] else None
        if images is not None and not images.exists():
            raise CommandError(f"images folder or ZIP archive not found: {images}")
        if images is not None and images.is_file():
            with open(images, "rb") as archive:
                if problem := archive_problem(archive):
                    raise CommandError(problem)
        bar = tqdm(total=path.stat().st_size, desc="import", unit="B", unit_scale=True, disable=opts["quiet"])

        def progress(batch) -> bool:
            bar.update(batch.bytes_done - bar.n)
            return True

        try:
            with bar:
                report, run = self._import(path, images, progress)
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

    def _import(self, path: Path, images: Path | None, progress):
        where = {"queue": not embedded_queue(), "csv_path": path, "source_name": path.name, "progress": progress}
        if images is None or images.is_dir():
            return catalog_import_and_queue(images_dir=images, csv_dir=path.resolve().parent, **where)
        with tempfile.TemporaryDirectory(prefix="import-") as folder:
            return catalog_import_from_archive(archive=images, folder=Path(folder), **where)
