"""Re-encrypt every stored private key under the newest `PRIVATE_KEY_ENCRYPTION_KEY`.

Resumable: rows already under the newest key are skipped, each batch commits on its own, and
every row is swapped only if nobody changed it meanwhile.
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction
from tqdm import tqdm

from certificates import keystore
from certificates.models import Certificate, CertificateAuthority

BATCH = 500


class Command(BaseCommand):
    help = "Re-encrypt all stored private keys under the newest PRIVATE_KEY_ENCRYPTION_KEY (list old keys after it)."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("--batch-size", type=int, default=BATCH)
        parser.add_argument("--no-progress", action="store_true", help="Do not draw a progress bar.")

    def handle(self, *args: Any, batch_size: int, no_progress: bool, **options: Any) -> None:
        rotated = skipped = 0
        for model, label in ((CertificateAuthority, "CAs"), (Certificate, "certificates")):
            rows = model.objects.exclude(private_key=None).exclude(private_key="")
            total = rows.count()
            bar = tqdm(total=total, desc=f"Rotating {label}", unit="key", disable=no_progress, file=self.stderr)
            last_pk = 0
            while True:
                batch = list(rows.filter(pk__gt=last_pk).order_by("pk").values_list("pk", "private_key")[:batch_size])
                if not batch:
                    break
                with transaction.atomic():
                    for pk, stored in batch:
                        if keystore.is_current(stored):
                            skipped += 1
                            continue
                        try:
                            fresh = keystore.rotate(stored)
                        except keystore.KeyDecryptionError:
                            raise CommandError(
                                f"Cannot decrypt the private key of {label[:-1]} id={pk}: "
                                "list every key still in use in PRIVATE_KEY_ENCRYPTION_KEY (newest first)."
                            ) from None
                        rotated += model.objects.filter(pk=pk, private_key=stored).update(private_key=fresh)
                last_pk = batch[-1][0]
                bar.update(len(batch))
            bar.close()
        self.stdout.write(self.style.SUCCESS(f"Rotated {rotated} key(s); {skipped} were already under the newest key."))
