"""PKI test helpers: CAs and certificates made quickly through the services (EC P-256 keys)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from accounts.models import User
from certificates import services
from certificates.models import Certificate, CertificateAuthority

REQUEST_BASE = "http://testserver"
FAST_KEY = {"key_algorithm": "ecdsa", "key_size": 256}

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
