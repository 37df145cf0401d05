"""Creating root CAs over the API: fields, the key shown once, validation, extensions (SPEC §6)."""

from __future__ import annotations

import re
import threading

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID
from django.db import connection

from accounts.models import Role
from audit.models import AuditLog
from certificates.models import CertificateAuthority
from tests.factories import UserFactory

URL = "/api/v1/cas/"
FAST = {"key_algorithm": "ecdsa", "key_size": 256}

# SPEC §6: the request fields, the server's fields, and the [beyond] ones.
CA_FIELDS = {
    "id", "name", "description", "subject_dn", "key_size", "valid_days", "parent_ca_id", "path_length",
    "allow_leaf_certs", "crl_base_url", "certificate", "organization_id", "created_by_user_id", "is_root",
    "created_at", "updated_at", "serial_number", "not_before", "not_after", "slug",
}  # fmt: skip


def create(client, name="Acme Root CA", subject_dn="CN=Acme Root,O=Acme,C=US", **fields):
    return client.post(URL, {"name": name, "subject_dn": subject_dn, **FAST, **fields}, format="json")


def spki(key) -> bytes:
    return key.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def cert_spki(cert: x509.Certificate) -> bytes:
    return cert.public_key().public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)


def test_root_answer_has_every_field_and_the_key_once(client_for, admin_a, org_a):
    client = client_for(admin_a)

    response = create(client, name="My Root CA", description="the top", valid_days=730, path_length=1)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert CA_FIELDS <= set(body)
    assert body["name"] == "My Root CA"
    assert body["description"] == "the top"
    assert body["subject_dn"] == "CN=Acme Root,O=Acme,C=US"
    assert body["key_size"] == 256
    assert body["valid_days"] == 730
    assert body["parent_ca_id"] is None
    assert body["path_length"] == 1
    assert body["allow_leaf_certs"] is True
    assert body["crl_base_url"] is None
    assert body["organization_id"] == org_a.pk
    assert body["created_by_user_id"] == admin_a.pk
    assert body["is_root"] is True
    assert body["slug"] == f"my-root-ca-{body['id']}"
    assert body["private_key"].startswith("-----BEGIN PRIVATE KEY-----")

    cert = x509.load_pem_x509_certificate(body["certificate"].encode())
    key = serialization.load_pem_private_key(body["private_key"].encode(), password=None)
    assert spki(key) == cert_spki(cert)
    assert cert.issuer == cert.subject  # self-signed
    assert body["not_before"] == cert.not_valid_before_utc.isoformat().replace("+00:00", "Z")
    assert body["not_after"] == cert.not_valid_after_utc.isoformat().replace("+00:00", "Z")
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 730

    detail = client.get(f"{URL}{body['id']}")
    assert detail.status_code == 200
    assert "private_key" not in detail.json()
    assert b"PRIVATE KEY" not in detail.content
    assert {k: v for k, v in detail.json().items() if k != "updated_at"} == {
        k: v for k, v in body.items() if k in detail.json() and k != "updated_at"
    }


def test_create_is_audited(client_for, admin_a):
    response = create(client_for(admin_a))

    assert response.status_code == 201
    entry = AuditLog.objects.get(action="ca_create")
    assert (entry.user_id, entry.resource_type, entry.resource_id) == (admin_a.pk, "ca", response.json()["id"])
    assert entry.organization_id == admin_a.organization_id


def test_serial_number_is_lowercase_hex_of_the_certificate_serial(client_for, admin_a):
    body = create(client_for(admin_a)).json()

    serial = body["serial_number"]
    assert re.fullmatch(r"[1-9a-f][0-9a-f]*", serial), serial
    cert = x509.load_pem_x509_certificate(body["certificate"].encode())
    assert int(serial, 16) == cert.serial_number
    assert 0 < cert.serial_number < 2**159


def test_subject_with_an_escaped_comma_round_trips(client_for, admin_a):
    dn = r"CN=Root,O=Acme\, Inc.,C=US"

    response = create(client_for(admin_a), subject_dn=dn)

    assert response.status_code == 201, response.json()
    assert response.json()["subject_dn"] == dn
    cert = x509.load_pem_x509_certificate(response.json()["certificate"].encode())
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == "Acme, Inc."
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Root"
    assert cert.subject.rfc4514_string() == dn


@pytest.mark.parametrize(
    "subject_dn",
    ["XX=1", "", "   ", "C=USA", "CN", "CN=Root,XX=1"],
    ids=["unknown-attribute", "empty", "blank", "three-letter-country", "no-equals", "unknown-second-rdn"],
)
def test_bad_subject_is_refused_naming_subject_dn(client_for, admin_a, subject_dn):
    response = create(client_for(admin_a), subject_dn=subject_dn)

    assert response.status_code == 400
    assert "subject_dn" in response.json()["errors"]
    assert not CertificateAuthority.objects.exists()


def test_missing_name_and_subject_are_named(client_for, admin_a):
    response = client_for(admin_a).post(URL, {}, format="json")

    assert response.status_code == 400
    assert {"name", "subject_dn"} <= set(response.json()["errors"])


@pytest.mark.parametrize(
    ("algorithm", "size", "key_type", "expected_size"),
    [
        ("ecdsa", 256, ec.EllipticCurvePrivateKey, 256),
        ("ecdsa", 384, ec.EllipticCurvePrivateKey, 384),
        ("ecdsa", 521, ec.EllipticCurvePrivateKey, 521),
        ("ed25519", None, ed25519.Ed25519PrivateKey, 256),
        ("rsa", 2048, rsa.RSAPrivateKey, 2048),
    ],
    ids=["ecdsa-256", "ecdsa-384", "ecdsa-521", "ed25519", "rsa-2048"],
)
def test_key_algorithms(client_for, admin_a, algorithm, size, key_type, expected_size):
    fields = {"key_algorithm": algorithm} | ({"key_size": size} if size else {"key_size": None})

    response = create(client_for(admin_a), **fields)

    assert response.status_code == 201, response.json()
    body = response.json()
    assert body["key_size"] == expected_size
    key = serialization.load_pem_private_key(body["private_key"].encode(), password=None)
    assert isinstance(key, key_type)
    cert = x509.load_pem_x509_certificate(body["certificate"].encode())
    assert spki(key) == cert_spki(cert)
    if isinstance(key, ec.EllipticCurvePrivateKey):
        assert key.curve.key_size == size
    if isinstance(key, rsa.RSAPrivateKey):
        assert key.key_size == 2048


@pytest.mark.parametrize(
    ("algorithm", "size", "allowed"),
    [
        ("rsa", 1024, ["2048", "3072", "4096"]),
        ("rsa", 16384, ["2048", "3072", "4096"]),
        ("ecdsa", 123, ["256", "384", "521"]),
    ],
    ids=["rsa-1024", "rsa-16384", "ecdsa-123"],
)
def test_bad_key_size_lists_the_allowed_values(client_for, admin_a, algorithm, size, allowed):
    response = create(client_for(admin_a), key_algorithm=algorithm, key_size=size)

    assert response.status_code == 400
    body = response.json()
    message = " ".join(body["errors"]["key_size"])
    for value in allowed:
        assert value in message
    assert not CertificateAuthority.objects.exists()


def test_unknown_key_algorithm_is_named(client_for, admin_a):
    response = create(client_for(admin_a), key_algorithm="dsa")

    assert response.status_code == 400
    assert "key_algorithm" in response.json()["errors"]


@pytest.mark.parametrize("valid_days", [0, -1, 100000, "many"])
def test_bad_valid_days_is_refused(client_for, admin_a, valid_days):
    response = create(client_for(admin_a), valid_days=valid_days)

    assert response.status_code == 400
    assert "valid_days" in response.json()["errors"]
    assert not CertificateAuthority.objects.exists()


def test_negative_path_length_is_refused(client_for, admin_a):
    response = create(client_for(admin_a), path_length=-1)

    assert response.status_code == 400
    assert "path_length" in response.json()["errors"]


@pytest.mark.parametrize("second_name", ["Acme Root CA", "acme root ca"], ids=["same", "other-case"])
def test_duplicate_name_in_the_same_organization_is_refused(client_for, admin_a, user_a_capable, second_name):
    assert create(client_for(admin_a)).status_code == 201

    response = create(client_for(user_a_capable), name=second_name)

    assert response.status_code == 400
    assert "name" in response.json()["errors"]
    assert CertificateAuthority.objects.count() == 1


def test_same_name_in_another_organization_is_fine(client_for, admin_a, admin_b):
    assert create(client_for(admin_a)).status_code == 201

    response = create(client_for(admin_b))

    assert response.status_code == 201
    assert CertificateAuthority.objects.filter(name="Acme Root CA").count() == 2


def test_crl_base_url_must_be_a_url(client_for, admin_a):
    response = create(client_for(admin_a), crl_base_url="not a url")

    assert response.status_code == 400
    assert "crl_base_url" in response.json()["errors"]


@pytest.mark.parametrize("path_length", [None, 0, 3])
def test_root_extensions(client_for, admin_a, path_length):
    body = create(client_for(admin_a), path_length=path_length).json()
    cert = x509.load_pem_x509_certificate(body["certificate"].encode())

    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical
    assert basic.value.ca is True
    assert basic.value.path_length == path_length

    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.key_cert_sign and usage.value.crl_sign and usage.value.digital_signature
    assert not usage.value.key_encipherment

    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(cert.public_key())
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    assert aki.key_identifier == ski.digest  # self-signed: it names its own key
    # A root points nowhere: it has no issuer to fetch.
    for absent in (x509.CRLDistributionPoints, x509.AuthorityInformationAccess):
        with pytest.raises(x509.ExtensionNotFound):
            cert.extensions.get_extension_for_class(absent)


def test_root_without_organization_by_a_superuser(client_for, superuser):
    response = create(client_for(superuser))

    assert response.status_code == 201
    assert response.json()["organization_id"] is None
    assert response.json()["created_by_user_id"] == superuser.pk


def test_defaults_come_from_settings(client_for, admin_a, settings):
    settings.CA_CERT_DAYS = 42

    body = create(client_for(admin_a)).json()

    assert body["valid_days"] == 42
    cert = x509.load_pem_x509_certificate(body["certificate"].encode())
    assert (cert.not_valid_after_utc - cert.not_valid_before_utc).days == 42


def _race(clients, send) -> list[int]:
    """Send one request per client at the same moment; the status codes, sorted."""
    barrier = threading.Barrier(len(clients))
    statuses: list[int] = []

    def run(client) -> None:
        try:
            barrier.wait(timeout=10)
            statuses.append(send(client).status_code)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(client,)) for client in clients]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return sorted(statuses)


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("tenant", ["organization", "no-organization"])
def test_racing_creates_cannot_both_take_a_name(client_for, admin_a, user_a_capable, on_postgres, tenant):
    if not on_postgres:
        pytest.skip("needs PostgreSQL: SQLite serialises writers")
    if tenant == "organization":
        clients = [client_for(admin_a), client_for(user_a_capable)]
    else:  # superusers without organization: their CAs share one namespace
        clients = [client_for(UserFactory(username=f"root{n}", role=Role.SUPERUSER)) for n in range(2)]

    for round_ in range(5):
        name = f"Race {round_}"
        assert _race(clients, lambda client, name=name: create(client, name=name)) == [201, 400]
        assert CertificateAuthority.objects.filter(name=name).count() == 1


def test_create_answers_without_the_trailing_slash(client_for, admin_a):
    response = client_for(admin_a).post(
        URL.rstrip("/"), {"name": "No Slash", "subject_dn": "CN=No Slash", **FAST}, format="json"
    )

    assert response.status_code == 201
    assert CertificateAuthority.objects.filter(name="No Slash").exists()


@pytest.mark.parametrize(("method", "status"), [("put", 405), ("patch", 400)])
def test_a_ca_cannot_be_renamed(client_for, admin_a, root_a, method, status):
    # PATCH changes only a CA's settings (test_ca_update.py); its name and subject are its certificate's.
    response = getattr(client_for(admin_a), method)(f"{URL}{root_a.pk}", {"name": "Renamed"}, format="json")

    assert response.status_code == status
    root_a.refresh_from_db()
    assert root_a.name == "Root A"
