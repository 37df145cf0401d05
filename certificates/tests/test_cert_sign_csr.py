"""Signing CSRs: `POST /api/v1/certificates/sign-csr` (SPEC §7)."""

from __future__ import annotations

import ipaddress

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID
from django.db import IntegrityError

from audit.models import AuditLog
from certificates import services
from certificates.models import Certificate, CertificateAuthority

API = "/api/v1/certificates/sign-csr"


def make_csr(
    key,
    subject: str | None = "CN=app.example.com,O=Acme,C=US",
    dns=(),
    ips=(),
    emails=(),
    extra: x509.ExtensionType | None = None,
) -> x509.CertificateSigningRequest:
    name = x509.Name.from_rfc4514_string(subject) if subject else x509.Name([])
    builder = x509.CertificateSigningRequestBuilder().subject_name(name)
    general = [x509.DNSName(d) for d in dns]
    general += [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    general += [x509.RFC822Name(e) for e in emails]
    if general:
        builder = builder.add_extension(x509.SubjectAlternativeName(general), critical=False)
    if extra is not None:
        builder = builder.add_extension(extra, critical=False)
    return builder.sign(key, hashes.SHA256())


def pem(csr: x509.CertificateSigningRequest) -> str:
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def parsed(response) -> x509.Certificate:
    return x509.load_pem_x509_certificate(response.json()["certificate"].encode())


def sans_of(cert: x509.Certificate) -> tuple[list[str], list[str], list[str]]:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return [], [], []
    return (
        san.get_values_for_type(x509.DNSName),
        [str(i) for i in san.get_values_for_type(x509.IPAddress)],
        san.get_values_for_type(x509.RFC822Name),
    )


def names_field(response, field: str) -> bool:
    return any(key == field or key.startswith(f"{field}.") for key in response.json().get("errors", {}))


@pytest.fixture(scope="module")
def ec_key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


@pytest.fixture(scope="module")
def rsa_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


# --- choosing the CA ----------------------------------------------------------------------


def test_sign_by_ca_id(api, ca, ec_key, admin_a):
    csr = make_csr(ec_key, dns=["app.example.com", "www.example.com"])

    response = api.post(API, {"csr": pem(csr), "ca_id": ca.pk, "certificate_type": "server"}, format="json")

    assert response.status_code == 201, response.json()
    data, cert = response.json(), parsed(response)
    assert cert.public_key() == ec_key.public_key()
    assert cert.subject == csr.subject
    assert cert.issuer.rfc4514_string() == "CN=Root A,O=Test,C=US"
    assert sans_of(cert) == (["app.example.com", "www.example.com"], [], [])
    assert [ExtendedKeyUsageOID.SERVER_AUTH] == list(
        cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    )
    assert (data["issuer_id"], data["common_name"], data["organization_id"]) == (
        ca.pk,
        "app.example.com",
        admin_a.organization_id,
    )


@pytest.mark.parametrize("spelling", ["Root A", "root a", "  Root A "])
def test_sign_by_ca_name_in_own_organization(api, ca, ec_key, spelling):
    response = api.post(API, {"csr": pem(make_csr(ec_key)), "ca_name": spelling}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["issuer_id"] == ca.pk


def test_ca_name_of_another_organization_is_not_found(client_for, admin_b, ca, ec_key):
    response = client_for(admin_b).post(API, {"csr": pem(make_csr(ec_key)), "ca_name": ca.name}, format="json")

    assert response.status_code == 404, response.json()
    assert not Certificate.objects.exists()


def test_ca_name_picks_the_callers_organization(make_ca, client_for, admin_a, admin_b, ec_key):
    mine, theirs = make_ca(admin_a, "Shared Name"), make_ca(admin_b, "Shared Name")

    for actor, expected in ((admin_a, mine), (admin_b, theirs)):
        response = client_for(actor).post(API, {"csr": pem(make_csr(ec_key)), "ca_name": "Shared Name"}, format="json")
        assert response.status_code == 201, response.json()
        assert response.json()["issuer_id"] == expected.pk


def test_superuser_finds_a_ca_name_anywhere(client_for, superuser, ca, ec_key):
    response = client_for(superuser).post(API, {"csr": pem(make_csr(ec_key)), "ca_name": ca.name}, format="json")

    assert response.status_code == 201, response.json()
    assert response.json()["issuer_id"] == ca.pk


def test_superuser_with_an_ambiguous_name_must_use_ca_id(make_ca, client_for, superuser, admin_a, admin_b, ec_key):
    make_ca(admin_a, "Twin"), make_ca(admin_b, "Twin")

    response = client_for(superuser).post(API, {"csr": pem(make_csr(ec_key)), "ca_name": "Twin"}, format="json")

    assert response.status_code == 400
    assert names_field(response, "ca_name")


@pytest.mark.parametrize(
    "choice",
    [{}, {"ca_name": ""}, {"ca_id": None, "ca_name": None}, "both"],
    ids=["neither", "blank-name", "both-null", "both"],
)
def test_exactly_one_of_ca_id_or_ca_name(api, ca, ec_key, choice):
    if choice == "both":
        choice = {"ca_id": ca.pk, "ca_name": ca.name}

    response = api.post(API, {"csr": pem(make_csr(ec_key)), **choice}, format="json")

    assert response.status_code == 400, response.json()
    assert names_field(response, "ca_id") or names_field(response, "ca_name"), response.json()


@pytest.mark.parametrize(("persona", "status"), [("user_a", 403), ("user_b", 403), ("user_a_capable", 201)])
def test_sign_needs_create_cert_on_the_ca(request, client_for, ca, ec_key, persona, status):
    client = client_for(request.getfixturevalue(persona))

    response = client.post(API, {"csr": pem(make_csr(ec_key)), "ca_id": ca.pk}, format="json")

    assert response.status_code == status, response.json()


@pytest.mark.parametrize("missing", [999999, 10**30], ids=["unknown", "beyond-bigint"])
def test_unknown_ca_id_is_not_found(api, ec_key, missing):
    response = api.post(API, {"csr": pem(make_csr(ec_key)), "ca_id": missing}, format="json")

    assert response.status_code in (400, 404), response.content
    assert response.status_code == 404 or names_field(response, "ca_id")


def test_ca_without_leaf_certificates_refuses(make_ca, api, admin_a, ec_key):
    ca = make_ca(admin_a, "Leafless", allow_leaf_certs=False)

    response = api.post(API, {"csr": pem(make_csr(ec_key)), "ca_id": ca.pk}, format="json")

    assert response.status_code == 400


# --- overrides ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("csr_fields", "overrides", "subject", "sans"),
    [
        ({}, {}, "CN=app.example.com,O=Acme,C=US", (["app.example.com"], [], [])),
        (
            {"dns": ["a.example.com"], "ips": ["192.0.2.5"]},
            {},
            "CN=app.example.com,O=Acme,C=US",
            (["a.example.com"], ["192.0.2.5"], []),
        ),
        (
            {"dns": ["a.example.com"]},
            {"common_name": "renamed.example.com"},
            "CN=renamed.example.com,O=Acme,C=US",
            (["a.example.com"], [], []),
        ),
        (
            {},
            {"subject_dn": "CN=other.example.com,O=Other,C=DE"},
            "CN=other.example.com,O=Other,C=DE",
            (["other.example.com"], [], []),
        ),
        (
            {"dns": ["a.example.com"], "ips": ["192.0.2.5"]},
            {"san_dns_names": ["b.example.com"]},
            "CN=app.example.com,O=Acme,C=US",
            (["b.example.com"], ["192.0.2.5"], []),
        ),
        (
            {"dns": ["a.example.com"], "ips": ["192.0.2.5"]},
            {"san_ip_addresses": ["198.51.100.1"]},
            "CN=app.example.com,O=Acme,C=US",
            (["a.example.com"], ["198.51.100.1"], []),
        ),
        (
            {"dns": ["a.example.com"]},
            {"san_dns_names": []},
            "CN=app.example.com,O=Acme,C=US",
            (["app.example.com"], [], []),
        ),
    ],
    ids=["csr-only", "csr-sans", "cn-override", "subject-override", "dns-override", "ip-override", "dns-cleared"],
)
def test_overrides_and_csr_sans(api, ca, ec_key, csr_fields, overrides, subject, sans):
    payload = {"csr": pem(make_csr(ec_key, **csr_fields)), "ca_id": ca.pk, "certificate_type": "server", **overrides}

    response = api.post(API, payload, format="json")

    assert response.status_code == 201, response.json()
    cert = parsed(response)
    assert cert.subject.rfc4514_string() == subject
    assert sans_of(cert) == sans
    data = response.json()
    assert (data["san_dns_names"], data["san_ip_addresses"], data["san_email_addresses"]) == tuple(map(list, sans))


def test_client_csr_emails_and_email_override(api, ca, ec_key):
    csr = make_csr(ec_key, subject="CN=alice@example.com", emails=["alice@example.com"])

    kept = api.post(API, {"csr": pem(csr), "ca_id": ca.pk, "certificate_type": "client"}, format="json")
    swapped = api.post(
        API,
        {"csr": pem(csr), "ca_id": ca.pk, "certificate_type": "client", "san_email_addresses": ["bob@example.com"]},
        format="json",
    )

    assert kept.status_code == swapped.status_code == 201
    assert sans_of(parsed(kept)) == ([], [], ["alice@example.com"])
    assert sans_of(parsed(swapped)) == ([], [], ["bob@example.com"])


@pytest.mark.parametrize(
    ("csr_fields", "payload", "field"),
    [
        ({}, {"common_name": "x.example.com", "subject_dn": "CN=y.example.com"}, "common_name"),
        ({}, {"subject_dn": "garbage"}, "subject_dn"),
        ({}, {"common_name": "c" * 65}, "common_name"),
        ({"dns": ["a.example.com"]}, {"certificate_type": "client"}, "san_dns_names"),
        ({"emails": ["a@example.com"]}, {"certificate_type": "server"}, "san_email_addresses"),
        ({}, {"san_ip_addresses": ["300.1.1.1"]}, "san_ip_addresses"),
        ({"dns": ["bad_label.example.com"]}, {}, "san_dns_names"),
        ({}, {"certificate_type": "weird"}, "certificate_type"),
        ({}, {"valid_days": 0}, "valid_days"),
    ],
    ids=[
        "cn-mismatch",
        "bad-subject",
        "cn-too-long",
        "client-with-dns",
        "server-with-email",
        "bad-ip",
        "bad-csr-dns",
        "bad-type",
        "bad-days",
    ],
)
def test_invalid_requests_name_the_field(api, ca, ec_key, csr_fields, payload, field):
    body = {"csr": pem(make_csr(ec_key, **csr_fields)), "ca_id": ca.pk, **payload}

    response = api.post(API, body, format="json")

    assert response.status_code == 400, response.json()
    assert names_field(response, field), response.json()


# --- bad CSRs -----------------------------------------------------------------------------


def _broken_signature(key) -> str:
    der = bytearray(make_csr(key).public_bytes(serialization.Encoding.DER))
    der[-3] ^= 0x01  # inside the signature value
    broken = x509.load_der_x509_csr(bytes(der))
    assert not broken.is_signature_valid
    return broken.public_bytes(serialization.Encoding.PEM).decode()


def _der(tag: int, body: bytes) -> bytes:
    size = len(body)
    length = (
        bytes([size]) if size < 128 else bytes([0x81, size]) if size < 256 else bytes([0x82]) + size.to_bytes(2, "big")
    )
    return bytes([tag]) + length + body


def _undecodable_subject(key: ec.EllipticCurvePrivateKey) -> str:
    """A correctly signed CSR whose CN is a UTF8String holding invalid UTF-8."""
    tbs = make_csr(key, subject="CN=aaaa").tbs_certrequest_bytes.replace(b"aaaa", b"\xff\xfe\xff\xfe")
    signature = key.sign(tbs, ec.ECDSA(hashes.SHA256()))
    ecdsa_with_sha256 = bytes.fromhex("300a06082a8648ce3d040302")
    csr = x509.load_der_x509_csr(_der(0x30, tbs + ecdsa_with_sha256 + _der(0x03, b"\x00" + signature)))
    assert csr.is_signature_valid
    return pem(csr)


def _bad_csr(kind: str, ca: CertificateAuthority, ec_key, rsa_key) -> str:
    if kind == "undecodable-subject":
        return _undecodable_subject(ec_key)
    if kind == "empty-subject-no-san":
        return pem(make_csr(ec_key, subject=None))
    if kind == "broken-ec-signature":
        return _broken_signature(ec_key)
    if kind == "broken-rsa-signature":
        return _broken_signature(rsa_key)
    if kind == "certificate-pem":
        return ca.certificate
    if kind == "private-key-pem":
        return ec_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        ).decode()
    if kind == "rsa-1024":
        return pem(make_csr(rsa.generate_private_key(public_exponent=65537, key_size=1024)))
    if kind == "malformed-san-extension":
        return pem(
            make_csr(ec_key, extra=x509.UnrecognizedExtension(ExtensionOID.SUBJECT_ALTERNATIVE_NAME, b"\x05\x00"))
        )
    if kind == "truncated":
        text = pem(make_csr(ec_key)).splitlines()
        return "\n".join(text[:3] + text[-1:]) + "\n"
    return {
        "garbage": "hello, I am not a CSR",
        "empty-pem": "-----BEGIN CERTIFICATE REQUEST-----\n-----END CERTIFICATE REQUEST-----\n",
        "bad-base64": "-----BEGIN CERTIFICATE REQUEST-----\n!!!!\n-----END CERTIFICATE REQUEST-----\n",
        "non-ascii": "-----BEGIN CERTIFICATE REQUEST-----\nMIIé\n-----END CERTIFICATE REQUEST-----\n",
        "oversized": "A" * (64 * 1024 + 1),
        "blank": "",
    }[kind]


@pytest.mark.parametrize(
    "kind",
    [
        "garbage",
        "blank",
        "empty-pem",
        "bad-base64",
        "non-ascii",
        "oversized",
        "truncated",
        "certificate-pem",
        "private-key-pem",
        "broken-ec-signature",
        "broken-rsa-signature",
        "rsa-1024",
        "malformed-san-extension",
        "undecodable-subject",
        "empty-subject-no-san",
    ],
)
def test_bad_csrs_answer_400_never_500(api, ca, ec_key, rsa_key, kind):
    response = api.post(API, {"csr": _bad_csr(kind, ca, ec_key, rsa_key), "ca_id": ca.pk}, format="json")

    assert response.status_code == 400, response.content
    assert response.json()["detail"]
    assert not Certificate.objects.exists()
    assert not AuditLog.objects.filter(action="cert_sign_csr").exists()


def test_non_string_csr_is_refused(api, ca):
    response = api.post(API, {"csr": {"pem": "x"}, "ca_id": ca.pk}, format="json")

    assert response.status_code == 400
    assert names_field(response, "csr")


# --- keys and audit -----------------------------------------------------------------------


def test_no_private_key_is_stored_or_returned(api, ca, rsa_key):
    response = api.post(API, {"csr": pem(make_csr(rsa_key)), "ca_id": ca.pk}, format="json")

    assert response.status_code == 201, response.json()
    data = response.json()
    assert data["private_key"] is None
    assert (data["key_algorithm"], data["key_size"]) == ("rsa", 2048)
    row = Certificate.objects.get(pk=data["id"])
    assert row.private_key is None and row.from_csr
    assert api.get(f"/api/v1/certificates/{row.pk}/private-key").status_code == 404
    assert api.get(f"/api/v1/export/certificate/{row.pk}/private-key").status_code == 404
    usage = parsed(response).extensions.get_extension_for_class(x509.KeyUsage).value
    assert usage.key_encipherment  # an RSA key from a CSR gets keyEncipherment too


def test_sign_csr_is_audited(api, ca, ec_key, admin_a):
    response = api.post(API, {"csr": pem(make_csr(ec_key)), "ca_id": ca.pk}, format="json")

    entry = AuditLog.objects.get(action="cert_sign_csr")
    assert (entry.resource_type, entry.resource_id) == ("certificate", response.json()["id"])
    assert (entry.user_id, entry.organization_id) == (admin_a.pk, admin_a.organization_id)
    assert not AuditLog.objects.filter(action="cert_create").exists()


def test_ca_type_csr_keeps_the_subject(api, ca, ec_key):
    csr = make_csr(ec_key, subject="CN=Team Sub CA,O=Acme")

    response = api.post(API, {"csr": pem(csr), "ca_id": ca.pk, "certificate_type": "ca"}, format="json")

    assert response.status_code == 201, response.json()
    cert = parsed(response)
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Team Sub CA"
    assert cert.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True


# --- a serial already taken under the CA ------------------------------------------------------


def test_a_taken_serial_is_signed_again_with_a_new_one(api, ca, ec_key, monkeypatch):
    """The issuance transaction is retried whole: one certificate and one audit entry each."""
    body = {"csr": pem(make_csr(ec_key)), "ca_id": ca.pk, "certificate_type": "server"}
    taken = parsed(api.post(API, body, format="json")).serial_number
    serials = iter([taken, taken, taken + 1])
    monkeypatch.setattr(services.pki, "random_serial", lambda: next(serials))

    response = api.post(API, body, format="json")

    assert response.status_code == 201, response.json()
    assert parsed(response).serial_number == taken + 1
    assert next(serials, None) is None  # two collisions, then the third serial
    assert Certificate.objects.filter(issuer=ca).count() == 2
    assert AuditLog.objects.filter(action="cert_sign_csr", resource_id=response.json()["id"]).count() == 1
    assert AuditLog.objects.filter(action="cert_sign_csr").count() == 2


def test_a_serial_taken_on_every_attempt_fails_and_leaves_nothing(api, ca, ec_key, monkeypatch):
    body = {"csr": pem(make_csr(ec_key)), "ca_id": ca.pk, "certificate_type": "server"}
    taken = parsed(api.post(API, body, format="json")).serial_number
    monkeypatch.setattr(services.pki, "random_serial", lambda: taken)

    with pytest.raises(IntegrityError):  # the test client re-raises what the server would answer as 500
        api.post(API, body, format="json")

    assert Certificate.objects.filter(issuer=ca).count() == 1
    assert AuditLog.objects.filter(action="cert_sign_csr").count() == 1
