import csv

from django.db import migrations

from inference.colors.vocabulary import DATA_DIR

ROLES = ("curator", "merchandiser", "admin")


def seed(apps, schema_editor):
    Group = apps.get_model("auth", "Group")
    ColorName = apps.get_model("colorreview", "ColorName")
    CategoryRegion = apps.get_model("colorreview", "CategoryRegion")
    for role in ROLES:
        Group.objects.get_or_create(name=role)
    with open(DATA_DIR / "vocabulary.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            ColorName.objects.get_or_create(name=row["name"], defaults={
                "hex": row["hex"], "family": row["family"], "nameable": row["kd"] == "1",
                "aliases": row["aliases"]})
    with open(DATA_DIR / "category_regions.csv", newline="", encoding="utf-8") as fh:
        for row in csv.DictReader(fh):
            CategoryRegion.objects.get_or_create(category=row["category"], defaults={"region": row["region"]})


class Migration(migrations.Migration):
    dependencies = [("colorreview", "0001_initial"), ("auth", "0012_alter_user_first_name_max_length")]
    operations = [migrations.RunPython(seed, migrations.RunPython.noop)]
