"""Move the CRL's DER to the last column of its table, keeping every stored CRL.

SQLite keeps a row's columns in table order, and a column stored after a 5 MB blob is reached
only by walking the blob's overflow pages, so reading a CRL's number and dates (what a fetch reads
before taking the DER from its cache) cost as much as reading the whole CRL. A new column is
added at the end, filled from the old one, the old one dropped and the new one renamed; on SQLite
the table ends up as (ca_id, number, this_update, next_update, entries, der). On PostgreSQL, where
a large value lives out of line anyway, the same steps change nothing but the column order.
"""

from django.db import migrations, models
from django.db.models import F


def copy_forward(apps, schema_editor):
    RevocationList = apps.get_model("certificates", "RevocationList")
    RevocationList.objects.using(schema_editor.connection.alias).update(der_new=F("der"))


def copy_back(apps, schema_editor):
    RevocationList = apps.get_model("certificates", "RevocationList")
    RevocationList.objects.using(schema_editor.connection.alias).update(der=F("der_new"))


class Migration(migrations.Migration):
    dependencies = [
        ("certificates", "0003_crl_and_status_indexes"),
    ]

    operations = [
        migrations.AddField(
            model_name="revocationlist",
            name="der_new",
            field=models.BinaryField(default=b""),
            preserve_default=False,
        ),
        migrations.RunPython(copy_forward, copy_back),
        # State only: gives the old column a default so that migrating backwards can add it
        # again to a table that has rows (then copy_back fills it).
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.AlterField(model_name="revocationlist", name="der", field=models.BinaryField(default=b"")),
            ],
        ),
        migrations.RemoveField(model_name="revocationlist", name="der"),
        migrations.RenameField(model_name="revocationlist", old_name="der_new", new_name="der"),
    ]
