"""Imports run from the command line (and the demo seed) were left *running* once done: a batch that has no
upload waiting (``upload_dir`` empty) and is still *running* is one of those, and ends as it did."""

from django.db import migrations
from django.db.models import F


def finish(apps, schema_editor):
    ImportBatch = apps.get_model("colorreview", "ImportBatch")
    ImportBatch.objects.filter(status="running", upload_dir="").update(
        status="finished", finished_at=F("created_at"))


class Migration(migrations.Migration):
    dependencies = [("colorreview", "0012_suggestion_tally")]
    operations = [migrations.RunPython(finish, migrations.RunPython.noop)]
