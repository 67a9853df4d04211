"""Seller tags stored while their spelling could not match the vocabulary (``Crème`` before accents were set
aside and Cream took the alias ``creme``, ``Off–White`` before any dash separated words) are to be mapped
again as an edit of the vocabulary maps them.

That remap works on the app's current models, which describe the tables only once every migration has run:
migration 0023 records it as due work, which the end of ``migrate`` does (and, if that ``migrate`` stopped
short, the next one). This migration does nothing itself any more.
"""

from django.db import migrations


class Migration(migrations.Migration):
    dependencies = [("colorreview", "0019_flag_rules")]
    operations = [migrations.RunPython(migrations.RunPython.noop, migrations.RunPython.noop, elidable=True)]
