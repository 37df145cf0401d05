"""Issuing certificates: `POST /api/v1/certificates/?ca_id=N` (SPEC §7)."""

from __future__ import annotations

import shutil
import subprocess
from datetime import timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID
from django.utils import timezone

from audit.models import AuditLog
from certificates.models import Certificate
from certificates.x509 import load_private_key_pem

API = "/api/v1/certificates/"
BASE = "http://testserver"
SERVER_AUTH, CLIENT_AUTH = ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH


def body(common_name: str = "www.example.com", certificate_type: str = "server", **extra) -> dict:
    return {
        "common_name": common_name,
        "subject_dn": f"CN={common_name},O=Acme,C=US",
        "certificate_type": certificate_type,
        "key_algorithm": "ecdsa",
        **extra,
    }


def issue(client, ca_id, payload: dict):
    return client.post(f"{API}?ca_id={ca_id}", payload, format="json")


def parsed(response) -> x509.Certificate:
    return x509.load_pem_x509_certificate(response.json()["certificate"].encode())


def names_field(response, field: str) -> bool:
    """The 400 answer carries a message for `field` (or one of its items, `field.0`)."""
    return any(key == field or key.startswith(f"{field}.") for key in response.json().get("errors", {}))


def ext(cert: x509.Certificate, kind):
    return cert.extensions.get_extension_for_class(kind).value


# --- extensions by type and key -----------------------------------------------------------


@pytest.mark.parametrize(
    ("certificate_type", "ekus"),
    [
        ("server", {SERVER_AUTH}),
        ("client", {CLIENT_AUTH}),
        ("dual_purpose", {SERVER_AUTH, CLIENT_AUTH}),
    ],
)
def test_extended_key_usage_follows_the_type(api, ca, certificate_type, ekus):
    response = issue(api, ca.pk, body("leaf.example.com", certificate_type))

    assert response.status_code == 201, response.json()
    cert = parsed(response)
    assert set(ext(cert, x509.ExtendedKeyUsage)) == ekus
    constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical and constraints.value.ca is False
    assert response.json()["certificate_type"] == certificate_type


def test_ca_type_is_a_ca_certificate_without_eku(api, ca):
    response = issue(api, ca.pk, body("Sub CA", "ca"))

    assert response.status_code == 201, response.json()
    cert = parsed(response)
    constraints = ext(cert, x509.BasicConstraints)
    assert constraints.ca is True and constraints.path_length == 0
    usage = ext(cert, x509.KeyUsage)
    assert usage.key_cert_sign and usage.crl_sign
    with pytest.raises(x509.ExtensionNotFound):
        cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_openssl_accepts_a_ca_type_certificate_as_an_intermediate(api, ca, tmp_path):
    sub = issue(api, ca.pk, body("Team CA", "ca"))
    (tmp_path / "root.pem").write_text(ca.certificate)
    (tmp_path / "sub.pem").write_text(sub.json()["certificate"])

    result = subprocess.run(
        ["openssl", "verify", "-x509_strict", "-purpose", "any", "-CAfile", str(tmp_path / "root.pem"),
         str(tmp_path / "sub.pem")],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip

    assert result.returncode == 0, result.stdout + result.stderr


def test_ca_type_is_refused_under_a_path_length_zero_ca(make_ca, admin_a, api):
    ca = make_ca(admin_a, "Zero CA", path_length=0)

    refused = issue(api, ca.pk, body("Team CA", "ca"))
    leaf = issue(api, ca.pk, body())

    assert refused.status_code == 400, refused.json()
    assert names_field(refused, "certificate_type")
    assert leaf.status_code == 201


@pytest.mark.parametrize(
    ("key_algorithm", "key_size", "key_type", "expected_size", "key_encipherment"),
    [
        ("rsa", 2048, rsa.RSAPublicKey, 2048, True),
        ("ecdsa", None, ec.EllipticCurvePublicKey, 256, False),
        ("ecdsa", 384, ec.EllipticCurvePublicKey, 384, False),
        ("ed25519", None, ed25519.Ed25519PublicKey, 256, False),
    ],
    ids=["rsa-2048", "ecdsa-p256", "ecdsa-p384", "ed25519"],
)
def test_key_usage_fits_the_key_algorithm(api, ca, key_algorithm, key_size, key_type, expected_size, key_encipherment):
    payload = body(key_algorithm=key_algorithm, key_size=key_size)

    response = issue(api, ca.pk, payload)

    assert response.status_code == 201, response.json()
    data, cert = response.json(), parsed(response)
    assert isinstance(cert.public_key(), key_type)
    assert data["key_algorithm"] == key_algorithm and data["key_size"] == expected_size
    key_usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert key_usage.critical
    assert key_usage.value.digital_signature is True
    assert key_usage.value.key_encipherment is key_encipherment
    assert key_usage.value.key_cert_sign is False
    # The key returned once belongs to the certificate.
    assert load_private_key_pem(data["private_key"]).public_key() == cert.public_key()


@pytest.mark.parametrize(
    ("public_base_url", "crl_base_url", "expected_base"),
    [
        ("", None, BASE),
        ("https://pki.example.com/", None, "https://pki.example.com"),
        ("https://pki.example.com", "https://crl.example.net", "https://crl.example.net"),
    ],
    ids=["request-host", "PUBLIC_BASE_URL", "ca-crl_base_url"],
)
def test_key_identifiers_and_public_urls(make_ca, settings, admin_a, api, public_base_url, crl_base_url, expected_base):
    settings.PUBLIC_BASE_URL = public_base_url
    ca = make_ca(admin_a, "Acme Issuing", crl_base_url=crl_base_url)
    ca_cert = x509.load_pem_x509_certificate(ca.certificate.encode())

    cert = parsed(issue(api, ca.pk, body()))

    ski = ext(cert, x509.SubjectKeyIdentifier)
    assert ski.digest == x509.SubjectKeyIdentifier.from_public_key(cert.public_key()).digest
    assert ext(cert, x509.AuthorityKeyIdentifier).key_identifier == ext(ca_cert, x509.SubjectKeyIdentifier).digest
    assert cert.issuer == ca_cert.subject
    [point] = ext(cert, x509.CRLDistributionPoints)
    assert [n.value for n in point.full_name] == [f"{expected_base}/crl/{ca.slug}"]
    access = {(d.access_method, d.access_location.value) for d in ext(cert, x509.AuthorityInformationAccess)}
    assert access == {
        (AuthorityInformationAccessOID.CA_ISSUERS, f"{expected_base}/ca/{ca.slug}.crt"),
        (AuthorityInformationAccessOID.OCSP, f"{expected_base}/ocsp/{ca.slug}"),
    }
    assert ca.slug == f"acme-issuing-{ca.pk}"


# --- subjectAltName rules ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("certificate_type", "common_name", "sans", "dns", "ips", "emails"),
    [
        ("server", "www.example.com", {}, ["www.example.com"], [], []),
        ("dual_purpose", "api.example.com", {}, ["api.example.com"], [], []),
        ("server", "www.example.com", {"san_dns_names": ["a.example.com"]}, ["a.example.com"], [], []),
        (
            "server",
            "www.example.com",
            {"san_ip_addresses": ["192.0.2.1", "2001:db8::1"]},
            ["www.example.com"],
            ["192.0.2.1", "2001:db8::1"],
            [],
        ),
        ("client", "alice@example.com", {}, [], [], ["alice@example.com"]),
        ("client", "alice@example.com", {"san_email_addresses": ["a@example.org"]}, [], [], ["a@example.org"]),
        ("client", "Alice Smith", {}, [], [], []),
        (
            "dual_purpose",
            "svc.example.com",
            {"san_email_addresses": ["ops@example.com"]},
            ["svc.example.com"],
            [],
            ["ops@example.com"],
        ),
    ],
    ids=[
        "server-cn-becomes-dns",
        "dual-cn-becomes-dns",
        "server-given-dns-kept",
        "server-ip-sans-plus-cn",
        "client-email-cn-becomes-email",
        "client-given-email-kept",
        "client-plain-cn-no-san",
        "dual-email-allowed",
    ],
)
def test_san_rules(api, ca, certificate_type, common_name, sans, dns, ips, emails):
    response = issue(api, ca.pk, body(common_name, certificate_type, **sans))

    assert response.status_code == 201, response.json()
    data, cert = response.json(), parsed(response)
    assert (data["san_dns_names"], data["san_ip_addresses"], data["san_email_addresses"]) == (dns, ips, emails)
    if not (dns or ips or emails):
        with pytest.raises(x509.ExtensionNotFound):
            cert.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        return
    san = ext(cert, x509.SubjectAlternativeName)
    assert san.get_values_for_type(x509.DNSName) == dns
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == ips
    assert san.get_values_for_type(x509.RFC822Name) == emails


@pytest.mark.parametrize(
    ("certificate_type", "sans", "field"),
    [
        ("server", {"san_email_addresses": ["ops@example.com"]}, "san_email_addresses"),
        ("client", {"san_dns_names": ["host.example.com"]}, "san_dns_names"),
        ("client", {"san_ip_addresses": ["192.0.2.7"]}, "san_ip_addresses"),
        ("server", {"san_ip_addresses": ["999.1.1.1"]}, "san_ip_addresses"),
        ("server", {"san_ip_addresses": ["not-an-ip"]}, "san_ip_addresses"),
        ("server", {"san_dns_names": ["bad_name!.example.com"]}, "san_dns_names"),
        ("dual_purpose", {"san_dns_names": ["-leading.example.com"]}, "san_dns_names"),
        ("server", {"san_dns_names": [""]}, "san_dns_names"),
        ("client", {"san_email_addresses": ["not-an-email"]}, "san_email_addresses"),
        ("dual_purpose", {"san_email_addresses": ["a@b@c"]}, "san_email_addresses"),
    ],
    ids=[
        "server-email",
        "client-dns",
        "client-ip",
        "bad-ipv4",
        "ip-garbage",
        "dns-bad-chars",
        "dns-leading-hyphen",
        "dns-empty",
        "email-no-at",
        "email-two-ats",
    ],
)
def test_san_refusals_name_the_field(api, ca, certificate_type, sans, field):
    common_name = "alice" if certificate_type == "client" else "www.example.com"

    response = issue(api, ca.pk, body(common_name, certificate_type, **sans))

    assert response.status_code == 400, response.json()
    assert names_field(response, field), response.json()
    assert not Certificate.objects.exists()


# --- subject ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("payload", "status", "field", "subject_dn"),
    [
        ({"subject_dn": "CN=www.example.com,O=Acme,C=US"}, 201, None, "CN=www.example.com,O=Acme,C=US"),
        ({"subject_dn": "O=Acme,C=US"}, 201, None, None),
        ({"subject_dn": "CN=other.example.com,O=Acme"}, 400, "common_name", None),
        ({"subject_dn": "not a dn"}, 400, "subject_dn", None),
        ({"subject_dn": "CN=www.example.com,C=USA"}, 400, "subject_dn", None),
        ({"subject_dn": "O=Acme", "common_name": "a" * 65}, 400, "common_name", None),
        ({"subject_dn": f"CN=www.example.com,OU={'u' * 65}"}, 400, "subject_dn", None),
    ],
    ids=[
        "matching-cn",
        "dn-without-cn-gets-it",
        "mismatching-cn",
        "garbage-dn",
        "bad-country",
        "cn-too-long",
        "dn-ou-too-long",
    ],
)
def test_subject_and_common_name(api, ca, payload, status, field, subject_dn):
    response = issue(api, ca.pk, {**body("www.example.com"), **payload})

    assert response.status_code == status, response.json()
    data = response.json()
    if status == 400:
        assert field in data["errors"]
        return
    assert data["common_name"] == "www.example.com"
    cert = parsed(response)
    assert [a.value for a in cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)] == ["www.example.com"]
    if subject_dn:
        assert data["subject_dn"] == subject_dn


# --- keys ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("key_algorithm", "key_size", "field"),
    [
        ("rsa", 1024, "key_size"),
        (None, 1024, "key_size"),
        ("rsa", 1000, "key_size"),
        ("ecdsa", 2048, "key_size"),
        ("ecdsa", 1024, "key_size"),
        ("dsa", None, "key_algorithm"),
    ],
)
def test_bad_key_specs_are_refused(api, ca, key_algorithm, key_size, field):
    payload = {**body(), "key_algorithm": key_algorithm, "key_size": key_size}

    response = issue(api, ca.pk, payload)

    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]


def test_private_key_is_returned_once_and_stored_encrypted(api, ca):
    response = issue(api, ca.pk, body())

    assert response.status_code == 201
    data = response.json()
    assert data["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    stored = Certificate.objects.get(pk=data["id"]).private_key
    assert stored and not stored.startswith("-----BEGIN") and "PRIVATE KEY" not in stored
    detail = api.get(f"{API}{data['id']}")
    listing = api.get(API)
    assert detail.status_code == 200 and "private_key" not in detail.json()
    assert [row["id"] for row in listing.json()] == [data["id"]]
    assert all("private_key" not in row for row in listing.json())


def test_include_private_key_false_neither_returns_nor_stores_it(api, ca):
    response = issue(api, ca.pk, body(include_private_key=False))

    assert response.status_code == 201, response.json()
    cert_id = response.json()["id"]
    assert response.json()["private_key"] is None
    assert Certificate.objects.get(pk=cert_id).private_key is None
    for path in (
        f"{API}{cert_id}/private-key",
        f"/api/v1/export/certificate/{cert_id}/private-key",
        f"/api/v1/export/certificate/{cert_id}/pkcs12?password=secret",
    ):
        assert api.get(path).status_code == 404, path
    assert not AuditLog.objects.filter(action="cert_export_private_key").exists()


# --- validity, CA and request checks ------------------------------------------------------


def test_validity_is_capped_at_the_issuer_not_after(make_ca, admin_a, api):
    ca = make_ca(admin_a, "Short CA", valid_days=30)

    response = issue(api, ca.pk, body(valid_days=365))

    assert response.status_code == 201, response.json()
    data, cert = response.json(), parsed(response)
    assert cert.not_valid_after_utc == ca.not_after
    assert data["warnings"] and "capped" in data["warnings"][0]
    assert data["valid_days"] <= 30


def test_validity_inside_the_issuer_is_kept(api, ca):
    response = issue(api, ca.pk, body(valid_days=10))

    assert response.status_code == 201
    cert = parsed(response)
    assert cert.not_valid_after_utc - cert.not_valid_before_utc == timedelta(days=10)
    assert response.json()["warnings"] == [] and response.json()["valid_days"] == 10


@pytest.mark.parametrize("valid_days", [0, -1, 36501, "ten"])
def test_bad_valid_days_are_refused(api, ca, valid_days):
    response = issue(api, ca.pk, body(valid_days=valid_days))

    assert response.status_code == 400
    assert "valid_days" in response.json()["errors"]


def test_ca_without_leaf_certificates_refuses(make_ca, admin_a, api):
    ca = make_ca(admin_a, "No Leaves", allow_leaf_certs=False)

    response = issue(api, ca.pk, body())

    assert response.status_code == 400, response.json()
    assert "leaf" in response.json()["detail"]
    assert not Certificate.objects.exists()


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("", 400),
        ("?ca_id=", 400),
        ("?ca_id=abc", 400),
        ("?ca_id=-1", 400),
        ("?ca_id=1.5", 400),
        ("?ca_id=%C2%B2", 400),
        ("?ca_id=" + "9" * 30, 404),
        ("?ca_id=999999", 404),
    ],
    ids=["missing", "empty", "not-a-number", "negative", "fraction", "superscript-two", "huge", "no-such-ca"],
)
def test_ca_id_is_required_and_must_exist(api, ca, query, status):
    response = api.post(f"{API}{query}", body(), format="json")

    assert response.status_code == status, response.json()
    if status == 400:
        assert "ca_id" in response.json()["errors"]


@pytest.mark.parametrize(
    ("missing", "field"),
    [("common_name", "common_name"), ("subject_dn", "subject_dn"), ("certificate_type", "certificate_type")],
)
def test_required_fields(api, ca, missing, field):
    payload = body()
    del payload[missing]

    response = issue(api, ca.pk, payload)

    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_unknown_certificate_type_is_refused(api, ca):
    response = issue(api, ca.pk, body(certificate_type="code_signing"))

    assert response.status_code == 400
    assert "certificate_type" in response.json()["errors"]


# --- who may issue ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "status"),
    [("superuser", 201), ("admin_a", 201), ("user_a_capable", 201), ("user_a", 403), ("admin_b", 403), ("user_b", 403)],
)
def test_who_may_issue(request, client_for, ca, persona, status):
    actor = request.getfixturevalue(persona)

    response = issue(client_for(actor), ca.pk, body())

    assert response.status_code == status, response.json()
    assert Certificate.objects.count() == (1 if status == 201 else 0)


def test_anonymous_cannot_issue(anon, ca):
    assert issue(anon, ca.pk, body()).status_code == 401


def test_issue_is_audited_and_scoped_to_the_ca_organization(api, admin_a, ca):
    response = issue(api, ca.pk, body())

    data = response.json()
    assert data["issuer_id"] == ca.pk
    assert data["organization_id"] == admin_a.organization_id
    assert data["created_by_user_id"] == admin_a.pk
    assert data["serial_number"] == format(parsed(response).serial_number, "x")
    entry = AuditLog.objects.get(action="cert_create")
    assert (entry.resource_type, entry.resource_id, entry.user_id) == ("certificate", data["id"], admin_a.pk)
    assert entry.organization_id == admin_a.organization_id


# --- status -------------------------------------------------------------------------------


def test_status_valid_revoked_expired(api, ca):
    first = issue(api, ca.pk, body("one.example.com")).json()
    second = issue(api, ca.pk, body("two.example.com")).json()
    assert first["status"] == "valid"

    assert api.post(f"{API}{first['id']}/revoke", {"reason": "superseded"}, format="json").status_code == 200
    Certificate.objects.filter(pk=second["id"]).update(not_after=timezone.now() - timedelta(seconds=1))

    assert api.get(f"{API}{first['id']}").json()["status"] == "revoked"
    assert api.get(f"{API}{second['id']}").json()["status"] == "expired"
    assert {row["id"]: row["status"] for row in api.get(API).json()} == {
        first["id"]: "revoked",
        second["id"]: "expired",
    }
