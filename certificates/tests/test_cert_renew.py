"""Renewing certificates: `POST /api/v1/certificates/{id}/renew` (SPEC §7)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from audit.models import AuditLog
from certificates.models import Certificate, CertificateAuthority
from certificates.tests.conftest import CERTIFICATE_ACTORS, certificate_action, issue_by_api
from certificates.x509 import load_private_key_pem

API = "/api/v1/certificates/"


def make_csr(key, common_name: str = "csr.example.com", dns=()) -> str:
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, common_name)])
    )
    if dns:
        builder = builder.add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


def parsed(data: dict) -> x509.Certificate:
    return x509.load_pem_x509_certificate(data["certificate"].encode())


def sans_of(cert: x509.Certificate) -> list[str]:
    try:
        return [str(n.value) for n in cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value]
    except x509.ExtensionNotFound:
        return []


def issue(client, ca: CertificateAuthority, **payload) -> dict:
    """A certificate with a subject of several parts, which a renewal must keep whole."""
    return issue_by_api(client, ca, **{"subject_dn": "CN=app.example.com,OU=Web,O=Acme,C=US", **payload})


def renew(client, cert_id: int, body: dict | None = None):
    return certificate_action(client, cert_id, "renew", body)


@pytest.fixture(scope="module")
def csr_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.mark.parametrize(
    ("payload", "sans"),
    [
        ({"certificate_type": "server", "san_ip_addresses": ["192.0.2.10"]}, ["app.example.com", "192.0.2.10"]),
        (
            {
                "certificate_type": "client",
                "common_name": "alice@example.com",
                "subject_dn": "CN=alice@example.com,O=Acme",
            },
            ["alice@example.com"],
        ),
        (
            {"certificate_type": "dual_purpose", "san_dns_names": ["a.example.com", "b.example.com"]},
            ["a.example.com", "b.example.com"],
        ),
        ({"certificate_type": "server", "key_algorithm": "ed25519"}, ["app.example.com"]),
        ({"certificate_type": "server", "key_algorithm": "rsa", "key_size": 2048}, ["app.example.com"]),
    ],
    ids=["server-ecdsa", "client", "dual-purpose", "ed25519", "rsa-2048"],
)
def test_server_keyed_certificate_renews_with_a_fresh_key(api, ca, payload, sans):
    original = issue(api, ca, valid_days=30, **payload)

    response = renew(api, original["id"])

    assert response.status_code == 201, response.json()
    renewed = response.json()
    old_cert, new_cert = parsed(original), parsed(renewed)
    new_key = load_private_key_pem(renewed["private_key"])
    assert new_key.public_key() == new_cert.public_key()
    assert new_cert.public_key() != old_cert.public_key()
    assert new_cert.subject == old_cert.subject
    assert sans_of(new_cert) == sans_of(old_cert) == sans
    assert renewed["serial_number"] != original["serial_number"]
    assert new_cert.serial_number != old_cert.serial_number
    for name in ("certificate_type", "common_name", "subject_dn", "issuer_id", "key_algorithm", "key_size",
                 "san_dns_names", "san_ip_addresses", "san_email_addresses"):  # fmt: skip
        assert renewed[name] == original[name], name
    assert renewed["renewed_from_id"] == original["id"]
    assert original.get("renewed_from_id") is None
    assert new_cert.not_valid_after_utc - new_cert.not_valid_before_utc == timedelta(days=30)
    assert new_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value == (
        old_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    )
    # The fresh key is stored (the original's was), and readable through the key route.
    stored = api.get(f"{API}{renewed['id']}/private-key")
    assert stored.status_code == 200 and stored.json()["private_key"] == renewed["private_key"]
    assert "private_key" not in api.get(f"{API}{renewed['id']}").json()


def test_renewed_from_is_shown_on_reads(api, ca):
    original = issue(api, ca)
    renewed = renew(api, original["id"]).json()

    assert api.get(f"{API}{renewed['id']}").json()["renewed_from_id"] == original["id"]
    assert {row["id"]: row["renewed_from_id"] for row in api.get(API).json()} == {
        original["id"]: None,
        renewed["id"]: original["id"],
    }


def _sign(client, ca: CertificateAuthority, csr: str) -> dict:
    response = client.post(
        f"{API}sign-csr",
        {
            "csr": csr,
            "ca_id": ca.pk,
            "certificate_type": "server",
            "san_dns_names": ["csr.example.com", "alt.example.com"],
        },
        format="json",
    )
    assert response.status_code == 201, response.json()
    return response.json()


@pytest.mark.parametrize("body", [{}, {"csr": None}, {"csr": ""}], ids=["no-csr", "null-csr", "blank-csr"])
def test_csr_origin_certificate_needs_a_new_csr(api, ca, csr_key, body):
    original = _sign(api, ca, make_csr(csr_key))

    response = renew(api, original["id"], body)

    assert response.status_code == 400, response.json()
    assert "csr" in response.json()["errors"]
    assert Certificate.objects.count() == 1
    assert not AuditLog.objects.filter(action="cert_renew").exists()


def test_csr_origin_certificate_renews_with_a_new_csr(api, ca, csr_key):
    original = _sign(api, ca, make_csr(csr_key))
    new_key = ec.generate_private_key(ec.SECP256R1())

    # The new CSR's own subject and SANs do not matter: a renewal keeps the original's.
    response = renew(api, original["id"], {"csr": make_csr(new_key, "ignored.example.com", ["ignored.example.com"])})

    assert response.status_code == 201, response.json()
    renewed = response.json()
    new_cert, old_cert = parsed(renewed), parsed(original)
    assert new_cert.public_key() == new_key.public_key()
    assert new_cert.subject == old_cert.subject
    assert sans_of(new_cert) == ["csr.example.com", "alt.example.com"]
    assert renewed["private_key"] is None
    assert renewed["renewed_from_id"] == original["id"]
    assert Certificate.objects.get(pk=renewed["id"]).private_key is None
    assert api.get(f"{API}{renewed['id']}/private-key").status_code == 404


def test_server_keyed_certificate_may_be_renewed_from_a_csr(api, ca, csr_key):
    original = issue(api, ca)

    response = renew(api, original["id"], {"csr": make_csr(csr_key)})

    assert response.status_code == 201, response.json()
    assert parsed(response.json()).public_key() == csr_key.public_key()
    assert response.json()["private_key"] is None
    assert Certificate.objects.get(pk=response.json()["id"]).private_key is None


@pytest.mark.parametrize(
    "csr",
    ["garbage", "-----BEGIN CERTIFICATE REQUEST-----\nAAAA\n-----END CERTIFICATE REQUEST-----\n", "certificate"],
)
def test_bad_renewal_csr_is_refused(api, ca, csr):
    original = issue(api, ca)

    response = renew(api, original["id"], {"csr": ca.certificate if csr == "certificate" else csr})

    assert response.status_code == 400, response.json()
    assert "csr" in response.json()["errors"]


def test_renew_is_audited(api, ca, admin_a):
    original = issue(api, ca)

    renewed = renew(api, original["id"]).json()

    entry = AuditLog.objects.get(action="cert_renew")
    assert (entry.resource_type, entry.resource_id) == ("certificate", renewed["id"])
    assert (entry.user_id, entry.organization_id) == (admin_a.pk, admin_a.organization_id)
    assert f"renewing certificate {original['id']}" in entry.detail


@pytest.mark.parametrize(("persona", "allowed"), CERTIFICATE_ACTORS)
def test_renew_needs_create_cert_on_the_ca(request, client_for, api, ca, persona, allowed):
    status = 201 if allowed else 403
    original = issue(api, ca)

    response = renew(client_for(request.getfixturevalue(persona)), original["id"])

    assert response.status_code == status, response.json()
    assert Certificate.objects.filter(renewed_from_id=original["id"]).count() == (1 if allowed else 0)


def test_the_create_cert_flag_decides_for_a_user(api, client_for, user_a, ca):
    # user_a may view the certificate (same organization) but lacks can_create_cert on the CA.
    original = issue(api, ca)

    assert client_for(user_a).get(f"{API}{original['id']}").status_code == 200
    assert renew(client_for(user_a), original["id"]).status_code == 403
    user_a.can_create_cert = True
    user_a.save(update_fields=["can_create_cert"])
    assert renew(client_for(user_a), original["id"]).status_code == 201


@pytest.mark.parametrize("missing", [999999, 10**30], ids=["unknown", "beyond-bigint"])
def test_renew_of_a_missing_certificate_is_404(api, missing):
    assert renew(api, missing).status_code == 404


def test_renew_under_a_ca_that_stopped_issuing_leaves(api, ca):
    original = issue(api, ca)
    CertificateAuthority.objects.filter(pk=ca.pk).update(allow_leaf_certs=False)

    response = renew(api, original["id"])

    assert response.status_code == 400
    assert Certificate.objects.count() == 1


@pytest.mark.parametrize("reason", ["key_compromise", "superseded", "free text", None])
@pytest.mark.parametrize("origin", ["server-key", "csr"])
def test_a_revoked_certificate_is_not_renewed(api, ca, reason, origin):
    if origin == "csr":
        key = ec.generate_private_key(ec.SECP256R1())
        signed = api.post(
            "/api/v1/certificates/sign-csr",
            {"csr": make_csr(key), "ca_id": ca.pk, "certificate_type": "server"},
            format="json",
        )
        assert signed.status_code == 201, signed.json()
        cert = signed.json()
    else:
        cert = issue_by_api(api, ca)
    assert certificate_action(api, cert["id"], "revoke", {"reason": reason}).status_code == 200
    count = Certificate.objects.count()
    body = {"csr": make_csr(ec.generate_private_key(ec.SECP256R1()))} if origin == "csr" else {}

    response = certificate_action(api, cert["id"], "renew", body)

    assert response.status_code == 409, response.json()
    assert response.json()["code"] == "revoked"
    assert Certificate.objects.count() == count
    assert not AuditLog.objects.filter(action="cert_renew").exists()
