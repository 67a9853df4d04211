"""Shade flags come after the other suggestions in the review queue: a suggestion's tier (1 for a shade flag,
else 0) and its queue rank (the score less the tier), both computed by the database from the row, so that
the queue's order is one descending column its indexes lead with (a deep page starts where an index does).
Adding the two stored columns rewrites the suggestion table once."""

import django.db.models.expressions
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):

    dependencies = [
        ('colorreview', '0021_prediction_category_region'),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='suggestion',
            options={'ordering': ['-queue_rank', 'id']},
        ),
        migrations.RemoveIndex(
            model_name='suggestion',
            name='suggestion_pending_rank',
        ),
        migrations.RemoveIndex(
            model_name='suggestion',
            name='suggestion_pending_kind_rank',
        ),
        migrations.RemoveIndex(
            model_name='suggestion',
            name='suggestion_pending_color_rank',
        ),
        migrations.RemoveIndex(
            model_name='suggestion',
            name='suggestion_status_rank',
        ),
        migrations.AddField(
            model_name='suggestion',
            name='queue_rank',
            field=models.GeneratedField(db_persist=True, expression=django.db.models.expressions.CombinedExpression(models.F('score'), '-', models.Case(models.When(severity='shade', then=models.Value(1.0)), default=models.Value(0.0))), help_text="the review queue's sort key, highest first: the score, less 1 for a shade flag (its tier)", output_field=models.FloatField()),
        ),
        migrations.AddField(
            model_name='suggestion',
            name='tier',
            field=models.GeneratedField(db_persist=True, expression=models.Case(models.When(severity='shade', then=models.Value(1)), default=models.Value(0)), help_text='place in the review queue before the score: 0 first; shade flags are 1, after every other', output_field=models.PositiveSmallIntegerField()),
        ),
        migrations.AddIndex(
            model_name='suggestion',
            index=models.Index(models.OrderBy(models.F('queue_rank'), descending=True), models.F('id'), condition=models.Q(('status', 'pending')), name='suggestion_pending_queue'),
        ),
        migrations.AddIndex(
            model_name='suggestion',
            index=models.Index(models.F('kind'), models.OrderBy(models.F('queue_rank'), descending=True), models.F('id'), condition=models.Q(('status', 'pending')), name='suggestion_pending_kind_queue'),
        ),
        migrations.AddIndex(
            model_name='suggestion',
            index=models.Index(models.F('suggested_color'), models.OrderBy(models.F('queue_rank'), descending=True), models.F('id'), condition=models.Q(('status', 'pending')), name='suggestion_pending_color_queue'),
        ),
        migrations.AddIndex(
            model_name='suggestion',
            index=models.Index(fields=['status', '-queue_rank', 'id'], name='suggestion_status_queue'),
        ),
    ]
