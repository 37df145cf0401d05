"""Bulk certificates for the large datasets: COPY on PostgreSQL, executemany on SQLite.

`python -m bench.bulk --ca ID --count N [--revoked-every K] [--expired-every K] --prefix P`, run
with the server's environment. Every row reuses one real certificate PEM of the CA (the scale
checks exercise queries, not parsing) with its own common name and a random 159-bit serial, as
the server makes them (so CRLs have their real size). The API stays the way to issue one
certificate; this is only how 100,000 or 1,000,000 of them get there in seconds, not hours.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import time
from collections.abc import Iterator
from datetime import datetime, timedelta
from typing import Any

COLUMNS = (
    "common_name",
    "subject_dn",
    "certificate_type",
    "key_algorithm",
    "key_size",
    "valid_days",
    "certificate",
    "private_key",
    "serial_number",
    "not_before",
    "not_after",
    "revoked_at",
    "revocation_reason",
    "revocation_reason_code",
    "issuer_id",
    "organization_id",
    "created_by_user_id",
    "san_dns_names",
    "san_ip_addresses",
    "san_email_addresses",
    "from_csr",
    "renewed_from_id",
    "created_at",
    "updated_at",
)


def rows(
    ca: Any, template_pem: str, count: int, prefix: str, revoked_every: int, expired_every: int
) -> Iterator[tuple]:
    from django.utils import timezone

    now = timezone.now().replace(microsecond=0)
    for i in range(count):
        name = f"{prefix}-{i}.bench.example"
        revoked = revoked_every > 0 and i % revoked_every == 0
        expired = not revoked and expired_every > 0 and i % expired_every == expired_every - 1
        yield (
            name,
            f"CN={name}",
            "server",
            "rsa",
            2048,
            365,
            template_pem,
            None,
            format(secrets.randbits(159) | 1 << 158, "x"),
            now - timedelta(days=400 if expired else 1),
            now - timedelta(days=35) if expired else now + timedelta(days=364),
            now - timedelta(seconds=count - i) if revoked else None,
            "key_compromise" if revoked else None,
            1 if revoked else None,
            ca.pk,
            ca.organization_id,
            ca.created_by_user_id,
            json.dumps([name]),
            "[]",
            "[]",
            False,
            None,
            now,
            now,
        )


def insert(ca_id: int, count: int, prefix: str, revoked_every: int, expired_every: int) -> dict[str, Any]:
    from django.db import connection, transaction

    from certificates.models import Certificate, CertificateAuthority

    ca = CertificateAuthority.objects.get(pk=ca_id)
    template = Certificate.objects.filter(issuer=ca).order_by("pk").values_list("certificate", flat=True).first()
    if template is None:
        raise SystemExit(f"CA {ca_id} has no certificate to copy: issue one through the API first")
    start = time.perf_counter()
    data = rows(ca, template, count, prefix, revoked_every, expired_every)
    table = Certificate._meta.db_table
    if connection.vendor == "postgresql":
        with transaction.atomic(), connection.cursor() as cursor:
            raw = cursor.cursor
            with raw.copy(f"COPY {table} ({', '.join(COLUMNS)}) FROM STDIN") as copy:
                for row in data:
                    copy.write_row(row)
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {table}")  # the visibility map, for index-only counts
            cursor.execute("CHECKPOINT")  # write the load out now, not during the measurements
    else:
        placeholders = ", ".join(["%s"] * len(COLUMNS))
        sql = f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({placeholders})"  # noqa: S608 - our own names
        with transaction.atomic(), connection.cursor() as cursor:
            batch: list[tuple] = []
            adapt = connection.ops.adapt_datetimefield_value
            for row in data:
                batch.append(tuple(adapt(v) if isinstance(v, datetime) else v for v in row))
                if len(batch) == 5000:
                    cursor.executemany(sql, batch)
                    batch.clear()
            if batch:
                cursor.executemany(sql, batch)
        connection.cursor().execute("ANALYZE")
    return {"inserted": count, "seconds": round(time.perf_counter() - start, 2)}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--ca", type=int, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--prefix", default="bulk")
    parser.add_argument("--revoked-every", type=int, default=0, help="every K-th row is revoked (1: all)")
    parser.add_argument("--expired-every", type=int, default=0, help="every K-th row has expired")
    args = parser.parse_args()
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pkiserver.settings")
    import django

    django.setup()
    print(json.dumps(insert(args.ca, args.count, args.prefix, args.revoked_every, args.expired_every)))


if __name__ == "__main__":
    main()
