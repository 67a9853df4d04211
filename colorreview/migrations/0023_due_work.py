"""Work a migration leaves owed to the data is recorded as due and done at the end of ``migrate`` (see
``services.due_work``), so that a ``migrate`` stopped short leaves it to the next one rather than losing it.

The first: the seller tags stored while their spelling could not match the vocabulary (``Crème`` before
accents were set aside, ``Off–White`` before any dash separated words) are mapped again as an edit of the
vocabulary maps them (``services.vocabulary.seller_colors_remap``: the mapping, the final colour nobody
chose, the history events and the open suggestions). Only tags that are not ASCII can map differently;
mapping again a catalogue already mapped changes nothing.
"""

import django.utils.timezone
from django.db import migrations, models

SELLER_TAGS_REMAP = "seller_tags_remap"  # services.due_work.SELLER_TAGS_REMAP, as it was when this was written


def seller_tags_remap_due(apps, schema_editor):
    tags = apps.get_model("colorreview", "Product").objects.exclude(seller_color_raw="").values_list(
        "seller_color_raw", flat=True).distinct()
    if all(tag.isascii() for tag in tags.iterator()):
        return  # what changed in matching (accents, Unicode dashes and spaces) only concerns tags that are not ASCII
    apps.get_model("colorreview", "DueWork").objects.get_or_create(name=SELLER_TAGS_REMAP, defaults={
        "reason": "seller tags that are not ASCII may match the vocabulary now (accents, dashes, spaces)"})


class Migration(migrations.Migration):

    dependencies = [
        ('colorreview', '0022_suggestion_queue_tier'),
    ]

    operations = [
        migrations.CreateModel(
            name='DueWork',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('name', models.CharField(max_length=64, unique=True)),
                ('reason', models.TextField(blank=True)),
                ('requested_at', models.DateTimeField(default=django.utils.timezone.now)),
            ],
            options={
                'verbose_name_plural': 'due work',
            },
        ),
        migrations.RunPython(seller_tags_remap_due, migrations.RunPython.noop, elidable=True),
    ]
