"""Certificates in the admin console: filters, search, revoke with reason, downloads, keys (SPEC §7, §14)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import User
from accounts.policy import RULES, SUPERUSER_ONLY, Action
from audit.models import AuditAction, AuditLog
from certificates import services
from certificates.models import Certificate, CertificateAuthority
from certificates.tests.conftest import create_ca, issue_certificate

CHANGELIST = reverse("admin:certificates_certificate_changelist")
NAMES = ("valid.example.com", "soon.example.com", "old.example.com", "gone.example.com", "robot")


def console(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(view: str, cert: Certificate) -> str:
    return reverse(f"admin:certificates_certificate_{view}", args=[cert.pk])


@pytest.fixture
def ca(admin_a) -> CertificateAuthority:
    return create_ca(admin_a, "Issuing A")


@pytest.fixture
def certs(admin_a, ca) -> dict[str, Certificate]:
    """One certificate in each state, with SANs of each kind to search for."""
    made = {
        "valid": issue_certificate(admin_a, ca, "valid.example.com", san_dns_names=("alias.internal.test",)),
        "expiring": issue_certificate(admin_a, ca, "soon.example.com", san_ip_addresses=("192.0.2.44",)),
        "expired": issue_certificate(admin_a, ca, "old.example.com"),
        "revoked": issue_certificate(admin_a, ca, "gone.example.com"),
        "client": issue_certificate(
            admin_a, ca, "robot", certificate_type="client", san_email_addresses=("robot@mail.test",)
        ),
    }
    now = timezone.now()
    Certificate.objects.filter(pk=made["expiring"].pk).update(not_after=now + timedelta(days=10))
    Certificate.objects.filter(pk=made["expired"].pk).update(not_after=now - timedelta(days=1))
    Certificate.objects.filter(pk=made["revoked"].pk).update(revoked_at=now, revocation_reason="superseded")
    return {name: Certificate.objects.get(pk=cert.pk) for name, cert in made.items()}


def listed(client: Client, query: str) -> set[str]:
    body = client.get(CHANGELIST + query).content.decode()
    table = body[body.index('id="result_list"') :] if 'id="result_list"' in body else ""
    return {cn.split(".")[0] for cn in NAMES if f">{cn}</a>" in table}  # the linked first column


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", {"valid", "soon", "old", "gone", "robot"}),
        ("?status=valid", {"valid", "soon", "robot"}),
        ("?status=expiring", {"soon"}),
        ("?status=expired", {"old"}),
        ("?status=revoked", {"gone"}),
        ("?certificate_type__exact=client", {"robot"}),
    ],
)
def test_status_and_type_filters(admin_a, certs, query: str, expected: set[str]) -> None:
    assert listed(console(admin_a), query) == expected


@pytest.mark.parametrize(
    ("term", "expected"),
    [
        ("soon.example", {"soon"}),
        ("alias.internal", {"valid"}),  # a DNS SAN that is not the common name
        ("192.0.2.44", {"soon"}),
        ("robot@mail", {"robot"}),
        ("nothing-like-it", set()),
    ],
)
def test_search_by_name_and_san(admin_a, certs, term: str, expected: set[str]) -> None:
    assert listed(console(admin_a), f"?q={term}") == expected


@pytest.mark.parametrize("form", ["as-shown", "upper-case-with-colons", "leading-zeros"])
def test_search_by_serial_as_people_type_it(admin_a, certs, form: str) -> None:
    serial = certs["expired"].serial_number
    typed = {
        "as-shown": serial,
        "upper-case-with-colons": ":".join(serial[i : i + 2] for i in range(0, len(serial), 2)).upper(),
        "leading-zeros": "00:" + serial,  # as openssl prints a serial with its top bit set
    }[form]

    assert listed(console(admin_a), f"?q={typed}") == {"old"}


def test_the_list_shows_status_type_ca_and_expiry(admin_a, certs) -> None:
    body = console(admin_a).get(CHANGELIST).content.decode()

    for text in (
        "revoked",
        "expired",
        "valid",
        "Issuing A",
        "Client",
        "Server",
        "Valid until",
        certs["valid"].serial_number,
    ):
        assert text in body
    assert "PRIVATE KEY" not in body


# --- revoke with reason -----------------------------------------------------------------------


def action(name: str, *certs: Certificate, **extra: str) -> dict[str, Any]:
    return {"action": name, "_selected_action": [str(cert.pk) for cert in certs], **extra}


def test_revoking_asks_for_the_reason_first(admin_a, certs) -> None:
    response = console(admin_a).post(CHANGELIST, action("revoke_with_reason", certs["valid"]))

    body = response.content.decode()
    assert response.status_code == 200
    assert "valid.example.com" in body and certs["valid"].serial_number in body
    assert '<option value="key_compromise">Key compromise</option>' in body
    assert 'value="remove_from_crl"' not in body
    assert Certificate.objects.get(pk=certs["valid"].pk).revoked_at is None


def crl_entry(ca: CertificateAuthority, cert: Certificate) -> x509.RevokedCertificate | None:
    crl = x509.load_der_x509_crl(bytes(services.crl_current(ca=ca).der))
    return crl.get_revoked_certificate_by_serial_number(int(cert.serial_number, 16))


def test_revoking_with_a_reason_and_a_comment(admin_a, ca, certs) -> None:
    client = console(admin_a)
    form = action("revoke_with_reason", certs["valid"], confirm="yes", reason="key_compromise", comment="laptop stolen")

    response = client.post(CHANGELIST, form)

    cert = Certificate.objects.get(pk=certs["valid"].pk)
    assert response.status_code == 302
    assert (cert.revocation_reason, cert.revocation_reason_code) == ("key_compromise: laptop stolen", 1)
    entry = crl_entry(ca, cert)
    assert entry is not None
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.key_compromise
    assert AuditLog.objects.get(action=AuditAction.CERT_REVOKE).detail.endswith("(key_compromise: laptop stolen)")
    assert "Revoked 1 certificate(s)" in client.get(CHANGELIST).content.decode()


def test_an_already_revoked_certificate_is_reported_and_the_rest_revoked(admin_a, certs) -> None:
    client = console(admin_a)
    form = action("revoke_with_reason", certs["revoked"], certs["expiring"], confirm="yes")

    client.post(CHANGELIST, form | {"reason": "superseded"})

    body = client.get(CHANGELIST).content.decode()
    assert f"Certificate {certs['revoked'].pk} is already revoked." in body
    assert "Revoked 1 certificate(s)" in body
    assert Certificate.objects.get(pk=certs["revoked"].pk).revocation_reason == "superseded"  # unchanged
    assert Certificate.objects.get(pk=certs["expiring"].pk).revoked_at is not None


def test_an_unknown_reason_is_asked_again(admin_a, certs) -> None:
    response = console(admin_a).post(
        CHANGELIST, action("revoke_with_reason", certs["valid"], confirm="yes", reason="remove_from_crl")
    )

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert Certificate.objects.get(pk=certs["valid"].pk).revoked_at is None


def test_another_organizations_certificates_cannot_be_selected(admin_b, certs) -> None:
    console(admin_b).post(CHANGELIST, action("revoke_with_reason", certs["valid"], confirm="yes", reason="superseded"))

    assert Certificate.objects.get(pk=certs["valid"].pk).revoked_at is None
    assert not AuditLog.objects.filter(action=AuditAction.CERT_REVOKE).exists()


# --- downloads and the private key ------------------------------------------------------------


def test_pem_and_chain_downloads(admin_a, certs) -> None:
    client = console(admin_a)
    cert = certs["valid"]

    single = client.get(url("certificate", cert))
    chain = client.get(url("chain", cert))
    bundle = client.post(CHANGELIST, action("download_chain", certs["valid"], certs["client"]))

    assert single["Content-Disposition"] == f'attachment; filename="certificate_{cert.pk}_certificate.pem"'
    assert [c.serial_number for c in x509.load_pem_x509_certificates(single.content)] == [int(cert.serial_number, 16)]
    assert len(x509.load_pem_x509_certificates(chain.content)) == 2
    assert len(x509.load_pem_x509_certificates(bundle.content)) == 4
    for response in (single, chain, bundle):
        assert b"PRIVATE KEY" not in response.content


def test_the_private_key_download_is_a_post_and_audited(admin_a, certs) -> None:
    client = console(admin_a)
    cert = certs["valid"]

    page = client.get(url("change", cert)).content.decode()
    refused = client.get(url("private_key", cert))
    response = client.post(url("private_key", cert))

    assert url("private_key", cert) in page and 'formmethod="post"' in page
    assert "PRIVATE KEY" not in page
    assert refused.status_code == 405
    assert response["Content-Disposition"] == f'attachment; filename="certificate_{cert.pk}_private_key.pem"'
    key = serialization.load_pem_private_key(response.content, password=None)
    assert key.public_key() == x509.load_pem_x509_certificate(cert.certificate.encode()).public_key()
    entry = AuditLog.objects.get(action=AuditAction.CERT_EXPORT_PRIVATE_KEY)
    assert (entry.username, entry.resource_id) == ("alice_admin", cert.pk)


def test_no_key_button_for_those_the_policy_refuses(monkeypatch, admin_a, certs) -> None:
    monkeypatch.setitem(RULES, Action.CERT_EXPORT_KEY, SUPERUSER_ONLY)
    client = console(admin_a)
    cert = certs["valid"]

    page = client.get(url("change", cert)).content.decode()
    response = client.post(url("private_key", cert))

    assert url("private_key", cert) not in page
    assert response.status_code == 403
    assert not AuditLog.objects.filter(action=AuditAction.CERT_EXPORT_PRIVATE_KEY).exists()


def test_a_certificate_without_a_stored_key_says_so(admin_a, ca) -> None:
    cert = issue_certificate(admin_a, ca, "keyless.example.com", include_private_key=False)
    client = console(admin_a)

    page = client.get(url("change", cert)).content.decode()
    response = client.post(url("private_key", cert))

    assert "not stored" in page
    assert response["Location"] == url("change", cert)
    assert "has no stored private key" in client.get(response["Location"]).content.decode()


def test_another_organizations_key_is_not_found(admin_b, certs) -> None:
    response = console(admin_b).post(url("private_key", certs["valid"]))

    assert response.status_code == 404
    assert not AuditLog.objects.filter(action=AuditAction.CERT_EXPORT_PRIVATE_KEY).exists()


def test_certificates_are_never_edited_added_or_deleted_here(superuser, certs) -> None:
    client = console(superuser)
    cert = certs["valid"]

    assert client.get(reverse("admin:certificates_certificate_add")).status_code == 403
    assert client.post(url("change", cert), {"common_name": "x"}).status_code == 403
    assert client.post(url("delete", cert), {"post": "yes"}).status_code == 403
    assert Certificate.objects.get(pk=cert.pk).common_name == "valid.example.com"


@pytest.mark.parametrize("model", ["certificate", "certificateauthority"])
def test_a_query_string_cannot_probe_the_stored_keys(admin_a, certs, model: str) -> None:
    """`?private_key__startswith=…` would answer, row by row, what a stored key begins with."""
    response = console(admin_a).get(reverse(f"admin:certificates_{model}_changelist") + "?private_key__startswith=g")

    assert response.status_code == 400
