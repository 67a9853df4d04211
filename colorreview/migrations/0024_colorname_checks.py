"""A colour of the vocabulary is checked where admins edit it: a reference colour #rrggbb (a bad one stopped
every run start), a family that is a colour of the vocabulary, one colour per name whatever its case (the
last two in ``ColorName.clean``)."""

import django.core.validators
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('colorreview', '0023_due_work'),
    ]

    operations = [
        migrations.AlterField(
            model_name='colorname',
            name='family',
            field=models.CharField(help_text='the name of a vocabulary colour (its own, or e.g. Blue for Navy Blue)', max_length=32),
        ),
        migrations.AlterField(
            model_name='colorname',
            name='hex',
            field=models.CharField(help_text='reference colour, #rrggbb', max_length=7, validators=[django.core.validators.RegexValidator('^#[0-9a-fA-F]{6}\\Z', 'a reference colour is #rrggbb, e.g. #1f2a44')]),
        ),
    ]
