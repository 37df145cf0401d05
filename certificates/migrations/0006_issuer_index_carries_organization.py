"""A CA's certificates are counted from one index: (issuer, id) carries the organization on
PostgreSQL, so an organization-scoped count by CA is an index-only scan. The foreign keys' own
single-column indexes go: (issuer, id) and (organization, id) lead with the same columns, and every
issuance wrote both for nothing.
"""

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("certificates", "0005_unrevoked_expiry_and_id_indexes"),
        ("orgs", "0001_initial"),
        migrations.swappable_dependency(settings.AUTH_USER_MODEL),
    ]

    operations = [
        migrations.RemoveIndex(
            model_name="certificate",
            name="cert_issuer_id_idx",
        ),
        migrations.AlterField(
            model_name="certificate",
            name="issuer",
            field=models.ForeignKey(
                db_index=False,
                on_delete=django.db.models.deletion.CASCADE,
                related_name="certificates",
                to="certificates.certificateauthority",
            ),
        ),
        migrations.AlterField(
            model_name="certificate",
            name="organization",
            field=models.ForeignKey(
                blank=True,
                db_index=False,
                null=True,
                on_delete=django.db.models.deletion.PROTECT,
                related_name="certificates",
                to="orgs.organization",
            ),
        ),
        migrations.AddIndex(
            model_name="certificate",
            index=models.Index(fields=["issuer", "id"], include=("organization",), name="cert_issuer_id_idx"),
        ),
    ]
