"""One retrain at a time, held by the database. Candidates left over from before (two retrains started at
the same instant could both begin) are settled first: all but the newest are marked lost."""

from django.db import migrations, models
from django.utils import timezone


def settle(apps, schema_editor):
    ModelVersion = apps.get_model("colorreview", "ModelVersion")
    newest = ModelVersion.objects.filter(status="candidate").order_by("-created_at", "-id").first()
    if newest is not None:
        ModelVersion.objects.filter(status="candidate").exclude(pk=newest.pk).update(
            status="refused", finished_at=timezone.now(),
            message="lost: another retrain started at the same time, and only one may run")


class Migration(migrations.Migration):
    dependencies = [("colorreview", "0014_bulk_approval_request_key")]

    operations = [
        migrations.RunPython(settle, migrations.RunPython.noop),
        migrations.AddConstraint(
            model_name="modelversion",
            constraint=models.UniqueConstraint(condition=models.Q(("status", "candidate")), fields=("status",),
                                               name="model_version_one_candidate"),
        ),
    ]
