"""The flag rules the open suggestions were judged by, recorded each time they change."""

from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('colorreview', '0018_cream_alias_creme'),
    ]

    operations = [
        migrations.CreateModel(
            name='FlagRules',
            fields=[
                ('id', models.BigAutoField(auto_created=True, primary_key=True, serialize=False, verbose_name='ID')),
                ('fingerprint', models.CharField(help_text='SHA-256 of ``rules``', max_length=64)),
                ('rules', models.JSONField(default=dict)),
                ('applied_at', models.DateTimeField()),
                ('products', models.PositiveIntegerField(default=0, help_text='products judged again under them')),
                ('changed', models.PositiveIntegerField(default=0, help_text='open suggestions opened, withdrawn or replaced')),
            ],
            options={
                'verbose_name_plural': 'flag rules',
                'ordering': ['-applied_at', '-id'],
            },
        ),
    ]
