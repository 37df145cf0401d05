"""PKI test helpers: CAs and certificates made quickly through the services (EC P-256 keys)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from django.test import Client

from accounts.models import User
from certificates import services
from certificates.models import Certificate, CertificateAuthority

REQUEST_BASE = "http://testserver"
FAST_KEY = {"key_algorithm": "ecdsa", "key_size": 256}
CERTIFICATES_API = "/api/v1/certificates/"

MakeCA = Callable[..., CertificateAuthority]
MakeCert = Callable[..., Certificate]


def create_ca(
    actor: User,
    name: str = "Test Root CA",
    *,
    parent: CertificateAuthority | None = None,
    subject_dn: str | None = None,
    **fields: Any,
) -> CertificateAuthority:
    """A CA made by `ca_create` as `actor`; a child of `parent` when given."""
    data = services.CARequest(
        name=name,
        subject_dn=subject_dn or f"CN={name},O=Test,C=US",
        parent_ca_id=parent.pk if parent is not None else None,
        **{**FAST_KEY, **fields},
    )
    return services.ca_create(actor=actor, data=data, request_base=REQUEST_BASE).obj


def issue_certificate(
    actor: User,
    ca: CertificateAuthority,
    common_name: str = "www.example.com",
    *,
    certificate_type: str = "server",
    **fields: Any,
) -> Certificate:
    """A leaf certificate issued by `certificate_issue` as `actor`, its key stored."""
    data = services.CertRequest(
        certificate_type=certificate_type,
        common_name=common_name,
        subject_dn=fields.pop("subject_dn", f"CN={common_name}"),
        **{**FAST_KEY, **fields},
    )
    return services.certificate_issue(actor=actor, ca=ca, data=data, request_base=REQUEST_BASE).obj


@pytest.fixture
def make_ca(db) -> MakeCA:
    return create_ca


@pytest.fixture
def make_cert(db) -> MakeCert:
    return issue_certificate


@pytest.fixture
def root_a(admin_a) -> CertificateAuthority:
    """A root CA of organization A, made by its admin."""
    return create_ca(admin_a, "Root A")


@pytest.fixture
def root_b(admin_b) -> CertificateAuthority:
    """A root CA of organization B, made by its admin."""
    return create_ca(admin_b, "Root B")


@pytest.fixture
def cert_a(admin_a, root_a) -> Certificate:
    """A server certificate (with its key) issued by `root_a`."""
    return issue_certificate(admin_a, root_a)


@pytest.fixture
def ca(root_a) -> CertificateAuthority:
    """The CA the certificate API tests issue under: organization A's root."""
    return root_a


@pytest.fixture
def api(client_for, admin_a):
    """An API client of organization A's admin."""
    return client_for(admin_a)


def cert_of(obj: CertificateAuthority | Certificate) -> x509.Certificate:
    """The X.509 certificate of a CA or a certificate row."""
    return x509.load_pem_x509_certificate(obj.certificate.encode())


# --- the certificate API: issue, then renew or revoke ---------------------------------------


def issue_by_api(
    client: Any,
    ca: CertificateAuthority,
    common_name: str = "app.example.com",
    *,
    certificate_type: str = "server",
    **fields: Any,
) -> dict[str, Any]:
    """A certificate issued through `POST /api/v1/certificates/?ca_id=N` by `client`: the 201 answer's body."""
    body = {
        "common_name": common_name,
        "subject_dn": fields.pop("subject_dn", f"CN={common_name},O=Acme"),
        "certificate_type": certificate_type,
        "key_algorithm": "ecdsa",
        **fields,
    }
    response = client.post(f"{CERTIFICATES_API}?ca_id={ca.pk}", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def certificate_action(client: Any, cert_id: int, action: str, body: dict[str, Any] | None = None) -> Any:
    """`POST /api/v1/certificates/{id}/{action}` (`renew`, `revoke`) with a JSON body (`{}` when none)."""
    return client.post(f"{CERTIFICATES_API}{cert_id}/{action}", {} if body is None else body, format="json")


# Who may renew or revoke a certificate under organization A's root: its organization's admin,
# a member holding the capability flag (user_a_capable holds them all) and superusers.
CERTIFICATE_ACTORS = [
    ("superuser", True),
    ("admin_a", True),
    ("user_a_capable", True),
    ("user_a", False),
    ("admin_b", False),
    ("user_b", False),
]


# --- the public routes (SPEC §9): /ca, /crl, /ocsp --------------------------------------------


@pytest.fixture
def public() -> Client:
    """A client without credentials: the public routes need none."""
    return Client()


@pytest.fixture
def root(admin_a) -> CertificateAuthority:
    """Organization A's "My Root CA": its public paths are `my-root-ca-{id}`."""
    return create_ca(admin_a, "My Root CA")


# Slugs no public route may answer for `root` ("My Root CA"). In each, `{id}` is root's id,
# `{other}` the id of another CA and `{free}` an id no CA has (see public_path).
BAD_SLUGS = [
    ("wrong-name-{id}", "wrong name part"),
    ("my-root-ca-{other}", "name of one CA, id of another"),
    ("my-root-ca-{free}", "id that does not exist"),
    ("My-Root-CA-{id}", "not lowercase"),
    ("my-root-ca{id}", "no separator"),
    ("my-root-ca-", "no id"),
    ("my-root-ca-0{id}", "leading zero"),
    ("my-root-ca-0", "id zero"),
    ("{id}", "id only"),
    ("-{id}", "empty name part"),
    ("my-root-ca--{id}", "double hyphen"),
    ("my-root-ca-99999999999999999999999", "id beyond 64 bits"),
    ("my%20root%20ca-{id}", "spaces"),
]


def public_path(template: str, ca: CertificateAuthority, other: CertificateAuthority) -> str:
    """A path of BAD_SLUGS' form filled in: `{id}` is `ca`'s, `{other}` is `other`'s, `{free}` nobody's."""
    return template.format(id=ca.pk, other=other.pk, free=other.pk + 1000)
