"""Status lists read a page's ids from an index alone: the id joins the unrevoked-by-expiry index,
and a second partial index keeps unrevoked rows in id order with their expiry.

`status=expired` collects its ids from the expiry range and sorts them; `status=valid` walks ids in
order and skips expired rows inside the index. Neither reads a table row for a candidate that is
not on the page.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [
        ("certificates", "0004_revocationlist_der_last"),
    ]

    operations = [
        migrations.RemoveIndex(model_name="certificate", name="cert_unrevoked_expiry_idx"),
        migrations.AddIndex(
            model_name="certificate",
            index=models.Index(
                fields=["organization", "not_after", "id"],
                condition=models.Q(revoked_at__isnull=True),
                name="cert_unrevoked_expiry_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="certificate",
            index=models.Index(
                fields=["organization", "id", "not_after"],
                condition=models.Q(revoked_at__isnull=True),
                name="cert_unrevoked_org_idx",
            ),
        ),
    ]
