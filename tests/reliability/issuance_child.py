"""A process for test_sigkill_issuance to kill: issues certificates in a loop, slowly.

    python -m tests.reliability.issuance_child setup          → {"user": id, "ca": id}
    python -m tests.reliability.issuance_child issue USER CA  → "issued ID", "in-transaction SERIAL" lines
    python -m tests.reliability.issuance_child report CA SERIAL...  → what the database holds

Settings come from the environment (DATABASE_URL, DATA_DIR, SECRET_KEY, ...). REL_AUDIT_DELAY,
read only here, makes `issue` sleep inside the issuance's transaction: after the certificate row and
its audit entry are written, before the commit, which is where the test kills it. The child opens
that transaction itself, around the issuance's own.
"""

from __future__ import annotations

import json
import os
import sys
import time
from typing import Any

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pkiserver.settings")
django.setup()

from django.db import transaction  # noqa: E402

from accounts.models import Role, User  # noqa: E402
from audit.models import AuditAction, AuditLog  # noqa: E402
from certificates import services  # noqa: E402
from certificates.models import Certificate, CertificateAuthority  # noqa: E402
from certificates.services import issuance  # noqa: E402

FAST_KEY = {"key_algorithm": "ecdsa", "key_size": 256}


def setup() -> dict[str, int]:
    name = f"kill-{os.getpid()}"
    user = User.objects.create_user(name, f"{name}@example.com", None, role=Role.SUPERUSER)
    data = services.CARequest(name=f"Kill Root {os.getpid()}", subject_dn="CN=Kill Root,O=Rel", **FAST_KEY)
    ca = services.ca_create(actor=user, data=data, request_base="http://127.0.0.1").obj
    return {"user": user.pk, "ca": ca.pk}


def issue(user_id: int, ca_id: int) -> None:
    delay = float(os.environ["REL_AUDIT_DELAY"])
    audit_record = issuance.audit_record

    def slow_audit_record(**entry: Any) -> Any:
        written = audit_record(**entry)
        print(f"in-transaction {entry['target'].serial_number}", flush=True)  # row and entry written, not committed
        time.sleep(delay)
        return written

    issuance.audit_record = slow_audit_record  # type: ignore[assignment]
    user, ca = User.objects.get(pk=user_id), CertificateAuthority.objects.get(pk=ca_id)
    n = 0
    while True:
        name = f"k{os.getpid()}-{n}.kill.example.com"
        data = services.CertRequest(certificate_type="server", common_name=name, subject_dn=f"CN={name}", **FAST_KEY)
        with transaction.atomic():
            issued = services.certificate_issue(actor=user, ca=ca, data=data, request_base="http://127.0.0.1")
        print(f"issued {issued.obj.pk}", flush=True)
        n += 1


def report(ca_id: int, killed: list[str]) -> dict[str, Any]:
    ca = CertificateAuthority.objects.get(pk=ca_id)
    certs = dict(Certificate.objects.filter(issuer=ca).values_list("pk", "serial_number"))
    entries = AuditLog.objects.filter(action=AuditAction.CERT_CREATE, resource_type="certificate")
    mine = list(entries.filter(detail__endswith=f"from CA {ca.name}").values_list("resource_id", "detail"))
    return {
        "certificates": sorted(certs),
        "unaudited": [pk for pk in certs if entries.filter(resource_id=pk).count() != 1],
        "entries_without_certificate": [pk for pk, _ in mine if pk not in certs],
        "entries_naming_another_serial": [pk for pk, detail in mine if pk in certs and certs[pk] not in detail],
        "killed_rows": Certificate.objects.filter(serial_number__in=killed).count(),
        "killed_entries": [detail for _, detail in mine if any(serial in detail for serial in killed)],
        "empty_rows": Certificate.objects.filter(issuer=ca, certificate="").count(),
    }


if __name__ == "__main__":
    command, *args = sys.argv[1:]
    if command == "setup":
        print(json.dumps(setup()))
    elif command == "issue":
        issue(int(args[0]), int(args[1]))
    elif command == "report":
        print(json.dumps(report(int(args[0]), args[1:])))
    else:
        sys.exit(f"unknown command {command!r}")
