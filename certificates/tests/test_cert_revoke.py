"""Revoking certificates, the reason codes in the CRL, and openssl's view of it (SPEC §7, §9)."""

from __future__ import annotations

import re
import shutil
import subprocess
from datetime import datetime
from pathlib import Path

import pytest
from cryptography import x509

from audit.models import AuditLog
from certificates import services
from certificates.models import Certificate, CertificateAuthority, RevocationList
from certificates.tests.conftest import CERTIFICATE_ACTORS, certificate_action, issue_by_api

API = "/api/v1/certificates/"

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


def revoke(client, cert_id: int, body: dict | None = None):
    return certificate_action(client, cert_id, "revoke", body)


def fetch_crl(client, ca: CertificateAuthority) -> x509.CertificateRevocationList:
    response = client.get(f"/crl/{ca.slug}")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pkix-crl"
    return x509.load_der_x509_crl(response.content)


def crl_number(crl: x509.CertificateRevocationList) -> int:
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def crl_reason(crl: x509.CertificateRevocationList, serial_hex: str) -> x509.ReasonFlags | None:
    entry = crl.get_revoked_certificate_by_serial_number(int(serial_hex, 16))
    assert entry is not None, "serial not in the CRL"
    try:
        return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except x509.ExtensionNotFound:
        return None


def openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30, check=False)


def openssl_crl_entries(der: bytes, tmp_path: Path) -> dict[int, str | None]:
    """Serial -> reason text, as `openssl crl -inform DER -noout -text` prints them."""
    path = tmp_path / "crl.der"
    path.write_bytes(der)
    result = openssl("crl", "-inform", "DER", "-in", str(path), "-noout", "-text")
    assert result.returncode == 0, result.stderr
    entries: dict[int, str | None] = {}
    for block in re.split(r"\n\s*Serial Number: ", result.stdout)[1:]:
        serial, _, rest = block.partition("\n")
        reason = re.search(r"X509v3 CRL Reason Code:\s*\n\s*(.+)", rest.split("Serial Number:")[0])
        entries[int(serial.strip(), 16)] = reason.group(1).strip() if reason else None
    return entries


REASONS = [
    ("key_compromise", x509.ReasonFlags.key_compromise, "Key Compromise"),
    ("Key Compromise", x509.ReasonFlags.key_compromise, "Key Compromise"),
    ("keyCompromise", x509.ReasonFlags.key_compromise, "Key Compromise"),
    ("KEY-COMPROMISE", x509.ReasonFlags.key_compromise, "Key Compromise"),
    ("affiliationChanged", x509.ReasonFlags.affiliation_changed, "Affiliation Changed"),
    ("superseded", x509.ReasonFlags.superseded, "Superseded"),
    ("Cessation of Operation", x509.ReasonFlags.cessation_of_operation, "Cessation Of Operation"),
    ("privilege_withdrawn", x509.ReasonFlags.privilege_withdrawn, "Privilege Withdrawn"),
]
# Reasons that fit only a CA certificate (SPEC §7): accepted for a certificate of type `ca`.
CA_ONLY_REASONS = [
    ("ca_compromise", x509.ReasonFlags.ca_compromise, "CA Compromise"),
    ("cACompromise", x509.ReasonFlags.ca_compromise, "CA Compromise"),
    ("aa_compromise", x509.ReasonFlags.aa_compromise, "AA Compromise"),
]


@needs_openssl
@pytest.mark.parametrize(("reason", "flag", "openssl_text"), REASONS, ids=[r[0] for r in REASONS])
def test_rfc5280_reason_names_become_crl_reason_codes(api, anon, ca, tmp_path, reason, flag, openssl_text):
    cert = issue_by_api(api, ca)

    response = revoke(api, cert["id"], {"reason": reason})

    assert response.status_code == 200, response.json()
    assert response.json()["revocation_reason"] == reason
    crl_response = anon.get(f"/crl/{ca.slug}")
    assert crl_reason(x509.load_der_x509_crl(crl_response.content), cert["serial_number"]) is flag
    assert openssl_crl_entries(crl_response.content, tmp_path) == {int(cert["serial_number"], 16): openssl_text}


@needs_openssl
@pytest.mark.parametrize(("reason", "flag", "openssl_text"), CA_ONLY_REASONS, ids=[r[0] for r in CA_ONLY_REASONS])
def test_ca_only_reasons_revoke_a_ca_certificate(api, anon, ca, tmp_path, reason, flag, openssl_text):
    cert = issue_by_api(api, ca, "Sub CA", certificate_type="ca", subject_dn="CN=Sub CA,O=Acme")

    response = revoke(api, cert["id"], {"reason": reason})

    assert response.status_code == 200, response.json()
    crl_response = anon.get(f"/crl/{ca.slug}")
    assert crl_reason(x509.load_der_x509_crl(crl_response.content), cert["serial_number"]) is flag
    assert openssl_crl_entries(crl_response.content, tmp_path) == {int(cert["serial_number"], 16): openssl_text}


REFUSED_FOR_LEAVES = [
    "ca_compromise", "CA Compromise", "cACompromise", "aa_compromise", "aACompromise", "AA-COMPROMISE",
    "certificate_hold", "certificateHold", "Certificate Hold", "remove_from_crl", "removeFromCRL",
]  # fmt: skip


@pytest.mark.parametrize("certificate_type", ["server", "client", "dual_purpose"])
@pytest.mark.parametrize("reason", REFUSED_FOR_LEAVES)
def test_reasons_that_cannot_revoke_a_leaf_are_refused(api, anon, ca, reason, certificate_type):
    cn = "someone@example.com" if certificate_type == "client" else "app.example.com"
    cert = issue_by_api(api, ca, cn, certificate_type=certificate_type)
    crl_before = anon.get(f"/crl/{ca.slug}").content

    response = revoke(api, cert["id"], {"reason": reason})

    assert response.status_code == 400, response.json()
    assert "reason" in response.json()["errors"]
    assert Certificate.objects.get(pk=cert["id"]).revoked_at is None
    assert not AuditLog.objects.filter(action="cert_revoke", resource_id=cert["id"]).exists()
    assert anon.get(f"/crl/{ca.slug}").content == crl_before


@pytest.mark.parametrize("reason", ["certificate_hold", "certificateHold", "remove_from_crl"])
def test_hold_is_refused_for_ca_certificates_too(api, ca, reason):
    cert = issue_by_api(api, ca, "Sub CA", certificate_type="ca", subject_dn="CN=Sub CA,O=Acme")

    response = revoke(api, cert["id"], {"reason": reason})

    assert response.status_code == 400, response.json()
    assert Certificate.objects.get(pk=cert["id"]).revoked_at is None


@needs_openssl
@pytest.mark.parametrize(
    ("body", "stored"),
    [
        ({"reason": "laptop left on a train"}, "laptop left on a train"),
        ({"reason": "key compromised?"}, "key compromised?"),
        ({"reason": "unspecified"}, "unspecified"),
        ({"reason": ""}, None),
        ({"reason": None}, None),
        ({}, None),
    ],
    ids=["free-text", "near-miss", "unspecified", "blank", "null", "absent"],
)
def test_other_reasons_are_kept_without_a_reason_code(api, anon, ca, tmp_path, body, stored):
    cert = issue_by_api(api, ca)

    response = revoke(api, cert["id"], body)

    assert response.status_code == 200, response.json()
    assert response.json()["revocation_reason"] == stored
    assert Certificate.objects.get(pk=cert["id"]).revocation_reason == stored
    der = anon.get(f"/crl/{ca.slug}").content
    assert crl_reason(x509.load_der_x509_crl(der), cert["serial_number"]) is None
    assert openssl_crl_entries(der, tmp_path) == {int(cert["serial_number"], 16): None}


@pytest.mark.parametrize(
    "body",
    [{"reason": "x" * 256}, {"reason": "remove_from_crl"}, {"reason": "Remove From CRL"}, {"reason": ["a"]}],
    ids=["too-long", "remove-from-crl", "remove-from-crl-spaced", "not-a-string"],
)
def test_unusable_reasons_are_refused(api, ca, body):
    cert = issue_by_api(api, ca)

    response = revoke(api, cert["id"], body)

    assert response.status_code == 400, response.json()
    assert "reason" in response.json()["errors"]
    assert Certificate.objects.get(pk=cert["id"]).revoked_at is None


def test_revoke_answers_the_revoked_certificate_and_audits(api, anon, admin_a, ca):
    cert = issue_by_api(api, ca)
    before = crl_number(fetch_crl(anon, ca))

    response = revoke(api, cert["id"], {"reason": "superseded"})

    assert response.status_code == 200
    data = response.json()
    assert (data["id"], data["status"]) == (cert["id"], "revoked")
    revoked_at = datetime.fromisoformat(data["revoked_at"].replace("Z", "+00:00"))
    assert revoked_at.tzinfo is not None
    assert "private_key" not in data
    assert api.get(f"{API}{cert['id']}").json()["status"] == "revoked"
    crl = fetch_crl(anon, ca)
    assert crl_number(crl) == before + 1
    assert [entry.serial_number for entry in crl] == [int(cert["serial_number"], 16)]
    assert crl.get_revoked_certificate_by_serial_number(int(cert["serial_number"], 16)).revocation_date_utc == (
        revoked_at.replace(microsecond=0)
    )
    entry = AuditLog.objects.get(action="cert_revoke")
    assert (entry.resource_type, entry.resource_id) == ("certificate", cert["id"])
    assert (entry.user_id, entry.organization_id) == (admin_a.pk, admin_a.organization_id)


def test_each_revocation_read_adds_one_to_the_crl_number(api, anon, ca):
    certs = [issue_by_api(api, ca, f"h{i}.example.com") for i in range(3)]
    numbers = []

    for cert in certs:
        assert revoke(api, cert["id"]).status_code == 200
        numbers.append(crl_number(fetch_crl(anon, ca)))
        assert RevocationList.objects.get(ca=ca).number == numbers[-1]

    assert numbers == [numbers[0], numbers[0] + 1, numbers[0] + 2]
    crl = fetch_crl(anon, ca)
    assert crl_number(crl) == numbers[-1]
    assert sorted(e.serial_number for e in crl) == sorted(int(c["serial_number"], 16) for c in certs)
    assert crl.is_signature_valid(x509.load_pem_x509_certificate(ca.certificate.encode()).public_key())


def test_revoking_twice_is_a_conflict(api, anon, ca):
    cert = issue_by_api(api, ca)
    assert revoke(api, cert["id"], {"reason": "key_compromise"}).status_code == 200
    number = crl_number(fetch_crl(anon, ca))

    again = revoke(api, cert["id"], {"reason": "superseded"})

    assert again.status_code == 409, again.json()
    assert again.json()["code"] == "already_revoked"
    row = Certificate.objects.get(pk=cert["id"])
    assert (row.revocation_reason, row.revocation_reason_code) == ("key_compromise", 1)
    assert crl_number(fetch_crl(anon, ca)) == number
    assert AuditLog.objects.filter(action="cert_revoke").count() == 1


def test_other_certificates_of_the_ca_stay_valid(api, anon, ca):
    revoked, kept = issue_by_api(api, ca, "gone.example.com"), issue_by_api(api, ca, "kept.example.com")

    revoke(api, revoked["id"])

    assert api.get(f"{API}{kept['id']}").json()["status"] == "valid"
    crl = fetch_crl(anon, ca)
    assert crl.get_revoked_certificate_by_serial_number(int(kept["serial_number"], 16)) is None


@pytest.mark.parametrize(("persona", "allowed"), CERTIFICATE_ACTORS)
def test_who_may_revoke(request, client_for, api, ca, persona, allowed):
    status = 200 if allowed else 403
    cert = issue_by_api(api, ca)

    response = revoke(client_for(request.getfixturevalue(persona)), cert["id"])

    assert response.status_code == status, response.json()
    assert (Certificate.objects.get(pk=cert["id"]).revoked_at is not None) is allowed
    assert AuditLog.objects.filter(action="cert_revoke").count() == (1 if allowed else 0)


def test_the_creator_may_revoke_without_the_flag(client_for, user_a, ca):
    user_a.can_create_cert = True
    user_a.save(update_fields=["can_create_cert"])
    client = client_for(user_a)
    cert = issue_by_api(client, ca)

    assert revoke(client, cert["id"]).status_code == 200


@pytest.mark.parametrize("missing", [999999, 10**30], ids=["unknown", "beyond-bigint"])
def test_revoking_a_missing_certificate_is_404(api, missing):
    assert revoke(api, missing).status_code == 404


def test_anonymous_cannot_revoke(api, anon, ca):
    cert = issue_by_api(api, ca)

    assert revoke(anon, cert["id"]).status_code == 401


@needs_openssl
@pytest.mark.parametrize("issuer", ["root", "intermediate"])
def test_openssl_verify_with_crl_check(make_ca, admin_a, api, anon, tmp_path, issuer):
    root = make_ca(admin_a, "Verify Root")
    ca = root if issuer == "root" else make_ca(admin_a, "Verify Issuing", parent=root)
    good, bad = issue_by_api(api, ca, "good.example.com"), issue_by_api(api, ca, "bad.example.com")
    assert revoke(api, bad["id"], {"reason": "keyCompromise"}).status_code == 200

    chain = "".join(c.certificate for c in services.ca_chain(ca))
    files = {"chain.pem": chain, "crl.pem": anon.get(f"/crl/{ca.slug}.pem").content.decode()}
    for name, cert in (("good.pem", good), ("bad.pem", bad)):
        files[name] = api.get(f"/api/v1/export/certificate/{cert['id']}").content.decode()
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    verify = ("verify", "-crl_check", "-CAfile", str(tmp_path / "chain.pem"), "-CRLfile", str(tmp_path / "crl.pem"))

    accepted = openssl(*verify, str(tmp_path / "good.pem"))
    rejected = openssl(*verify, str(tmp_path / "bad.pem"))

    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    assert "OK" in accepted.stdout
    assert rejected.returncode != 0
    assert "certificate revoked" in rejected.stdout + rejected.stderr
