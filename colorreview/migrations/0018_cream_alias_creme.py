"""Cream takes the alias ``creme`` (a seller's ``Crème`` once accents are set aside) in a vocabulary seeded
before the alias shipped; the aliases an admin gave it are kept."""

from django.db import migrations

ALIAS = "creme"


def add_alias(apps, schema_editor):
    cream = apps.get_model("colorreview", "ColorName").objects.filter(name="Cream").first()
    if cream is None:
        return
    aliases = [a.strip() for a in cream.aliases.split("|") if a.strip()]
    if ALIAS not in (a.lower() for a in aliases):
        cream.aliases = "|".join([*aliases, ALIAS])
        cream.save(update_fields=["aliases"])


class Migration(migrations.Migration):
    dependencies = [("colorreview", "0017_import_batches_name")]
    operations = [migrations.RunPython(add_alias, migrations.RunPython.noop)]
