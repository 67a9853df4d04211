"""A prediction records the garment region its product's category picked when it was read, and is unique per
product, image, model version and that region: a product whose category now picks another region is read again.

The readings made before are given the region they record they read where that was the category's pick (upper,
lower or full body), and "" where the category was not in the region table (their flags say the largest region
was read). The others (the garment was read from the whole foreground, or not found) keep null: not known, a
reading that stands for whatever region the category picks now, as before. Set-based: two statements whatever
the number of predictions."""

from django.db import migrations, models
from django.db.models import F, TextField
from django.db.models.functions import Cast

REGIONS = ("upper", "lower", "full")


def derive_category_region(apps, schema_editor):
    Prediction = apps.get_model("colorreview", "Prediction")
    Prediction.objects.filter(region__in=REGIONS).update(category_region=F("region"))
    largest = (Prediction.objects.annotate(flags_text=Cast("flags", TextField()))
               .filter(flags_text__contains='"region_from_largest"').values("pk"))
    Prediction.objects.filter(pk__in=largest).update(category_region="")


class Migration(migrations.Migration):

    dependencies = [
        ('colorreview', '0020_remap_seller_tags'),
    ]

    operations = [
        migrations.RemoveConstraint(
            model_name='prediction',
            name='one_prediction_per_image_and_model',
        ),
        migrations.AddField(
            model_name='prediction',
            name='category_region',
            field=models.CharField(blank=True, help_text="the region the product's category picked when read (empty: none, the largest was read; null: not recorded, read before it was kept)", max_length=8, null=True),
        ),
        migrations.AddConstraint(
            model_name='prediction',
            constraint=models.UniqueConstraint(fields=('product', 'image_checksum', 'model_version', 'category_region'), name='one_prediction_per_image_model_and_region'),
        ),
        migrations.RunPython(derive_category_region, migrations.RunPython.noop),
    ]
