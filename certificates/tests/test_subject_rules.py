"""Every path into a certificate keeps RFC 5280's subject rules (SPEC §7): issue, sign-csr, renew, CAs.

A subject that breaks them is a 400 naming the attribute (never a 500, on either database), and
nothing is written; a fine value in the wrong string type is re-encoded; what is issued lints clean.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID

from audit.models import AuditLog
from certificates.models import Certificate, CertificateAuthority
from certificates.tests.conftest import CERTIFICATES_API, certificate_action
from certificates.x509 import name_to_rfc4514
from certificates.x509.tests.helpers import (
    BIT_STRING,
    BMP,
    IA5,
    PRINTABLE,
    T61,
    UNIVERSAL,
    UTF8,
    RawAttribute,
    csr_with_subject,
    lint_certificate,
)

SIGN = "/api/v1/certificates/sign-csr"
CAS = "/api/v1/cas/"
CN, ORG, L, C, DC, E = "2.5.4.3", "2.5.4.10", "2.5.4.7", "2.5.4.6", "0.9.2342.19200300.100.1.25", "1.2.840.113549.1.9.1"
T = _ASN1Type


@pytest.fixture(autouse=True)
def _public_urls_pkilint_accepts(settings):
    # The test client's host, "testserver", is no domain name: pkilint would flag every CDP and AIA URL.
    settings.PUBLIC_BASE_URL = "http://pki.example.com"


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def pem(csr: x509.CertificateSigningRequest) -> str:
    return csr.public_bytes(serialization.Encoding.PEM).decode()


def certificate(response) -> x509.Certificate:
    return x509.load_pem_x509_certificate(response.json()["certificate"].encode())


def types(subject: x509.Name) -> list[tuple[str, str, _ASN1Type]]:
    return [(a.oid.dotted_string, str(a.value), a._type) for a in subject]


def refused(response, field: str, message: str) -> None:
    """A 400 naming `field`, whose detail says `message`; no certificate was written."""
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body.get("errors", {}), body
    assert message in body["detail"], body
    assert not Certificate.objects.exists()


# --- sign-csr: the CSR's own subject -----------------------------------------------------------

# (a CSR subject in DER order, as raw attributes; what the refusal says)
HOSTILE_CSR_SUBJECTS: dict[str, tuple[list[list[RawAttribute]], str]] = {
    "cn-100-characters": ([[(CN, UTF8, b"x" * 100)]], "CN is longer than 64 characters"),
    "cn-300-characters": ([[(CN, UTF8, b"x" * 300)]], "CN is longer than 64 characters"),  # was a 500 on PostgreSQL
    "cn-65-bytes-utf8": ([[(CN, UTF8, "é".encode() * 33)]], "CN is longer than 64 bytes"),
    "cn-nul": ([[(CN, UTF8, b"web\x00.example.com")]], "CN contains control characters"),  # was a 500 on PostgreSQL
    "cn-terminal-escape": ([[(CN, UTF8, b"a\x1b[2Jb")]], "CN contains control characters"),
    "cn-empty": ([[(CN, UTF8, b"")]], "CN has an empty value"),
    "cn-bit-string": ([[(CN, BIT_STRING, b"\x00\x01")]], "subject cannot be parsed"),
    "cn-twice-in-one-rdn": ([[(CN, UTF8, b"a"), (CN, UTF8, b"b")]], "multi-valued RDN repeats CN"),
    "c-three-letters": ([[(C, UTF8, b"USA")], [(CN, UTF8, b"x")]], "C must be a two-letter code"),
    "c-one-letter": ([[(C, PRINTABLE, b"U")], [(CN, UTF8, b"x")]], "C must be a two-letter code"),
    "o-65-characters": ([[(ORG, UTF8, b"o" * 65)], [(CN, UTF8, b"x")]], "O is longer than 64"),
    "l-129-characters": ([[(L, UTF8, b"l" * 129)], [(CN, UTF8, b"x")]], "L is longer than 128"),
    "dc-non-ascii": ([[(DC, UTF8, b"com")], [(DC, UTF8, "bücher".encode())]], "DC must be ASCII"),
    "dc-one-label": ([[(DC, IA5, b"example")], [(CN, UTF8, b"x")]], "two labels or more"),
    "dc-bad-a-label": ([[(DC, IA5, b"com")], [(DC, IA5, b"xn--zz")]], "'xn--zz' is not a valid IDNA 2008"),
    "email-utf8-non-ascii": ([[(E, UTF8, "josé@example.com".encode())]], "emailAddress must be ASCII"),
    "email-not-a-mailbox": ([[(E, IA5, b"not-an-email")]], "emailAddress: 'not-an-email' is not a valid"),
    "email-256-characters": ([[(E, IA5, b"a" * 244 + b"@example.com")]], "emailAddress is longer than 255"),
    "challenge-password": ([[("1.2.840.113549.1.9.7", UTF8, b"s3cret")]], "challengePassword cannot be part"),
    "unknown-type-control": ([[("1.3.6.1.4.1.55555.1", UTF8, b"\x07")]], "contains control characters"),
}


@pytest.mark.parametrize("case", HOSTILE_CSR_SUBJECTS)
def test_sign_csr_refuses_a_csr_subject_breaking_rfc_5280(api, ca, key, case):
    rdns, message = HOSTILE_CSR_SUBJECTS[case]
    csr = csr_with_subject(key, rdns, emails=["client@example.com"])

    response = api.post(SIGN, {"csr": pem(csr), "ca_id": ca.pk, "certificate_type": "client"}, format="json")

    refused(response, "csr", message)
    assert not AuditLog.objects.filter(action="cert_sign_csr").exists()


def test_a_bad_csr_subject_is_refused_even_when_subject_dn_replaces_it(api, ca, key):
    csr = csr_with_subject(key, [[(CN, UTF8, b"x" * 300)]], dns=["app.example.com"])

    response = api.post(SIGN, {"csr": pem(csr), "ca_id": ca.pk, "subject_dn": "CN=app.example.com"}, format="json")

    refused(response, "csr", "CN is longer than 64 characters")


@pytest.mark.parametrize(
    ("overrides", "field", "message"),
    [
        ({"common_name": "x" * 65}, "common_name", "CN is longer than 64 characters"),
        ({"common_name": "é" * 40}, "common_name", "64 bytes"),
        ({"common_name": "web\x1b.example.com"}, "common_name", "control characters"),
        ({"subject_dn": "CN=x,DC=example"}, "subject_dn", "two labels or more"),
        ({"subject_dn": "CN=a+CN=b"}, "subject_dn", "repeats CN"),
    ],
    ids=["cn-65", "cn-80-bytes", "cn-escape", "dc-one-label", "cn-twice-in-one-rdn"],
)
def test_sign_csr_overrides_keep_the_rules(api, ca, key, overrides, field, message):
    csr = csr_with_subject(key, [[(CN, UTF8, b"app.example.com")]], dns=["app.example.com"])

    response = api.post(SIGN, {"csr": pem(csr), "ca_id": ca.pk, **overrides}, format="json")

    refused(response, field, message)


# (a CSR subject whose values are fine in the wrong string type; the subject issued)
FIXABLE = [
    [(C, UTF8, b"us")],
    [(DC, UTF8, b"com")],
    [(DC, UTF8, b"example")],
    [(ORG, BMP, "Ächme Ltd".encode("utf-16-be"))],
    [("2.5.4.11", UNIVERSAL, "Ops 😀".encode("utf-32-be"))],
    [("2.5.4.17", T61, b"75001")],
    [("2.5.4.5", UTF8, b"ABC-123")],
    [(CN, IA5, b"Alice Example")],
    [(E, UTF8, b"alice@Example.COM")],
]
FIXED = [
    (C, "US", T.PrintableString),
    (DC, "com", T.IA5String),
    (DC, "example", T.IA5String),
    (ORG, "Ächme Ltd", T.UTF8String),
    ("2.5.4.11", "Ops 😀", T.UTF8String),
    ("2.5.4.17", "75001", T.UTF8String),
    ("2.5.4.5", "ABC-123", T.PrintableString),
    (CN, "Alice Example", T.UTF8String),
    (E, "alice@example.com", T.IA5String),
]


def test_sign_csr_re_encodes_fine_values_in_the_wrong_string_type(api, ca, key, tmp_path: Path):
    pytest.importorskip("pkilint")
    csr = csr_with_subject(key, FIXABLE, emails=["alice@example.com"])

    response = api.post(SIGN, {"csr": pem(csr), "ca_id": ca.pk, "certificate_type": "client"}, format="json")

    assert response.status_code == 201, response.content
    issued = certificate(response)
    assert types(issued.subject) == FIXED
    assert lint_certificate(response.json()["certificate"], tmp_path) == []
    assert Certificate.objects.get().subject_dn == name_to_rfc4514(issued.subject)


# Edge cases that are fine: every upper bound reached, non-ASCII text, a private attribute type.
EDGE = [
    [(C, PRINTABLE, b"DE")],
    [(DC, IA5, b"de")],
    [(DC, IA5, b"xn--bcher-kva")],
    [("2.5.4.8", UTF8, "ß".encode() * 128)],
    [(L, UTF8, b"l" * 128)],
    [(ORG, UTF8, b"o" * 64)],
    [("2.5.4.11", UTF8, "日本".encode() * 32)],
    [("1.3.6.1.4.1.55555.1", UTF8, b"private attribute")],
    [(CN, UTF8, b"c" * 48 + b".example.com"), ("2.5.4.5", PRINTABLE, b"9" * 64)],
]


@pytest.mark.parametrize("certificate_type", ["server", "client", "dual_purpose", "ca"])
def test_a_csr_with_edge_case_subjects_gives_a_certificate_pkilint_finds_clean(
    api, ca, key, tmp_path: Path, certificate_type
):
    pytest.importorskip("pkilint")
    sans = {"dns": ["c" * 48 + ".example.com"]} if certificate_type != "client" else {"emails": ["e@example.com"]}
    csr = csr_with_subject(key, EDGE, **sans)

    response = api.post(SIGN, {"csr": pem(csr), "ca_id": ca.pk, "certificate_type": certificate_type}, format="json")

    assert response.status_code == 201, response.content
    issued = certificate(response)
    assert issued.subject.public_bytes() == csr.subject.public_bytes()  # kept byte for byte
    assert lint_certificate(response.json()["certificate"], tmp_path) == []


# --- issue: subject_dn and common_name ---------------------------------------------------------


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"common_name": "x" * 100, "subject_dn": "O=Acme"}, "common_name", "CN is longer than 64"),
        ({"common_name": "x" * 300, "subject_dn": "O=Acme"}, "common_name", "255 characters"),  # was a 500 (PG)
        ({"common_name": "é" * 40, "subject_dn": "O=Acme"}, "common_name", "64 bytes"),
        ({"common_name": "a\x01b", "subject_dn": "O=Acme"}, "common_name", "control characters"),
        ({"common_name": "a\x85b", "subject_dn": "O=Acme"}, "common_name", "control characters"),
        ({"subject_dn": "CN=web.example.com,DC=example"}, "subject_dn", "two labels or more"),
        ({"subject_dn": "CN=web.example.com,DC=example,DC=c1"}, "subject_dn", "two labels or more"),
        ({"subject_dn": "CN=web.example.com,DC=a\\ b,DC=com"}, "subject_dn", "do not spell a valid domain"),
        ({"subject_dn": "CN=web.example.com,O=Acme+O=Other"}, "subject_dn", "repeats O"),
        ({"subject_dn": "CN=web.example.com,E=not-an-email"}, "subject_dn", "emailAddress: 'not-an-email'"),
        ({"subject_dn": "CN=web.example.com,E=ops@localhost"}, "subject_dn", "two labels or more"),
        ({"subject_dn": "CN=web.example.com,1.2.840.113549.1.9.7=pw"}, "subject_dn", "challengePassword"),
        ({"subject_dn": "CN=web.example.com,2.5.4.45=x"}, "subject_dn", "x500UniqueIdentifier"),
        ({"subject_dn": "CN=web.example.com,2.5.4.17=" + "1" * 41}, "subject_dn", "2.5.4.17 is longer than 40"),
        ({"subject_dn": "CN=web.example.com,2.5.4.6=USA"}, "subject_dn", "two-letter code"),
        ({"subject_dn": "CN=web.example.com,gn=" + "\\07"}, "subject_dn", "control characters"),
    ],
    ids=[
        "cn-100", "cn-300", "cn-80-bytes", "cn-control", "cn-c1-control", "dc-one-label", "dc-numeric-tld", "dc-space",
        "o-twice-in-one-rdn", "email-not-a-mailbox", "email-single-label-domain", "challenge-password",
        "x500-unique-identifier", "postal-code-41", "c-by-oid", "escaped-control",
    ],
)  # fmt: skip
def test_issue_refuses_a_subject_breaking_rfc_5280(api, ca, fields, field, message):
    body = {"common_name": "web.example.com", "certificate_type": "client", "key_algorithm": "ecdsa", **fields}

    response = api.post(f"{CERTIFICATES_API}?ca_id={ca.pk}", {k: v for k, v in body.items() if v}, format="json")

    refused(response, field, message)


def test_issue_with_an_edge_case_subject_lints_clean(api, ca, tmp_path: Path):
    pytest.importorskip("pkilint")
    cn = "w" * 52 + ".example.com"
    subject_dn = (
        f"CN={cn},OU={'ü' * 64},O={'o' * 64},L={'l' * 128},ST={'s' * 128},C=us,DC=example,DC=com,"
        f"serialNumber={'9' * 64},UID=jdoe,1.3.6.1.4.1.55555.1=private"
    )
    body = {"common_name": cn, "subject_dn": subject_dn, "certificate_type": "server", "key_algorithm": "ecdsa"}

    response = api.post(f"{CERTIFICATES_API}?ca_id={ca.pk}", body, format="json")

    assert response.status_code == 201, response.content
    issued = certificate(response)
    assert issued.subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "US"
    assert lint_certificate(response.json()["certificate"], tmp_path) == []


# An emailAddress in a subject must be repeated as an email SAN (RFC 5280 4.1.2.6; pkilint:
# pkix.subject_email_address_not_in_san).


@pytest.mark.parametrize("path", ["issue", "sign-csr"])
def test_a_subject_email_is_repeated_as_an_email_san(api, ca, key, tmp_path: Path, path):
    pytest.importorskip("pkilint")
    if path == "issue":
        body = {"common_name": "Alice", "subject_dn": "CN=Alice,E=alice@example.com", "certificate_type": "client"}
        response = api.post(f"{CERTIFICATES_API}?ca_id={ca.pk}", {**body, "key_algorithm": "ecdsa"}, format="json")
    else:
        csr = csr_with_subject(key, [[(E, UTF8, b"alice@Example.com")], [(CN, UTF8, b"Alice")]])
        response = api.post(SIGN, {"csr": pem(csr), "ca_id": ca.pk, "certificate_type": "client"}, format="json")

    assert response.status_code == 201, response.content
    assert response.json()["san_email_addresses"] == ["alice@example.com"]
    assert lint_certificate(response.json()["certificate"], tmp_path) == []


def test_a_server_certificate_refuses_a_subject_email(api, ca):
    body = {
        "common_name": "www.example.com",
        "subject_dn": "CN=www.example.com,E=ops@example.com",
        "certificate_type": "server",
    }

    response = api.post(f"{CERTIFICATES_API}?ca_id={ca.pk}", {**body, "key_algorithm": "ecdsa"}, format="json")

    refused(response, "subject_dn", "Server certificates cannot have an emailAddress in the subject")


# --- renew ---------------------------------------------------------------------------------------


def test_renew_refuses_a_csr_whose_subject_breaks_rfc_5280(api, ca, key):
    good = csr_with_subject(key, [[(CN, UTF8, b"app.example.com")]], dns=["app.example.com"])
    signed = api.post(SIGN, {"csr": pem(good), "ca_id": ca.pk}, format="json")
    assert signed.status_code == 201, signed.content
    hostile = csr_with_subject(key, [[(CN, UTF8, b"app\x00.example.com" + b"x" * 300)]])

    response = certificate_action(api, signed.json()["id"], "renew", {"csr": pem(hostile)})

    assert response.status_code == 400, response.content
    assert "csr" in response.json()["errors"]
    assert Certificate.objects.count() == 1


def test_renew_keeps_a_re_encoded_subject_byte_for_byte(api, ca, key, tmp_path: Path):
    pytest.importorskip("pkilint")
    csr = csr_with_subject(key, FIXABLE, emails=["alice@example.com"])
    signed = api.post(SIGN, {"csr": pem(csr), "ca_id": ca.pk, "certificate_type": "client"}, format="json")
    assert signed.status_code == 201, signed.content
    fresh = csr_with_subject(key, [[(CN, UTF8, b"whatever the new CSR says")]])

    response = certificate_action(api, signed.json()["id"], "renew", {"csr": pem(fresh)})

    assert response.status_code == 201, response.content
    assert certificate(response).subject.public_bytes() == certificate(signed).subject.public_bytes()
    assert types(certificate(response).subject) == FIXED
    assert lint_certificate(response.json()["certificate"], tmp_path) == []


# --- CAs: POST /cas/ subject_dn ------------------------------------------------------------------


def create_ca(client, subject_dn: str, **fields):
    body = {"name": "Subject Test CA", "subject_dn": subject_dn, "key_algorithm": "ecdsa", "key_size": 256, **fields}
    return client.post(CAS, body, format="json")


@pytest.mark.parametrize(
    ("subject_dn", "message"),
    [
        ("CN=Root,DC=example", "two labels or more"),
        ("CN=Root,DC=xn--zz,DC=com", "'xn--zz' is not a valid IDNA 2008 label"),
        ("CN=Root,E=pki@example.com", "emailAddress cannot be part of this subject"),  # a CA here has no SAN
        ("CN=Root+CN=Other", "repeats CN"),
        ("CN=Root,O=" + "o" * 65, "longer than 64"),
        ("CN=Root,C=USA", "two-letter"),
        ("CN=Root,1.2.840.113549.1.9.14=x", "extensionRequest cannot be part"),
        ("CN=Root,2.5.4.65=" + "p" * 129, "2.5.4.65 is longer than 128"),
        ("CN=Root\\0a", "control characters"),
    ],
    ids=["dc-one-label", "dc-bad-a-label", "email", "cn-twice", "o-65", "c-usa", "extension-request", "pseudonym",
         "newline"],
)  # fmt: skip
def test_ca_create_refuses_a_subject_breaking_rfc_5280(client_for, admin_a, subject_dn, message):
    response = create_ca(client_for(admin_a), subject_dn)

    assert response.status_code == 400, response.content
    assert "subject_dn" in response.json()["errors"]
    assert message in response.json()["detail"]
    assert not CertificateAuthority.objects.exists()


def test_root_and_intermediate_with_edge_case_subjects_lint_clean(client_for, admin_a, tmp_path: Path):
    pytest.importorskip("pkilint")
    client = client_for(admin_a)
    subject_dn = f"CN={'r' * 64},OU={'ü' * 64},O=Acme,L={'l' * 128},C=de,DC=example,DC=com"
    root = create_ca(client, subject_dn)
    assert root.status_code == 201, root.content
    child = create_ca(client, "CN=" + "é" * 32 + ",O=Acme,C=fr", name="Child", parent_ca_id=root.json()["id"])
    assert child.status_code == 201, child.content

    assert certificate(root).subject.get_attributes_for_oid(NameOID.COUNTRY_NAME)[0].value == "DE"
    assert lint_certificate(root.json()["certificate"], tmp_path, "root") == []
    assert lint_certificate(child.json()["certificate"], tmp_path, "child") == []
