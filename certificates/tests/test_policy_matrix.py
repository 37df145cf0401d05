"""Who may call each CA and certificate route, over HTTP: one table, written apart from RULES (SPEC §5)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from rest_framework.test import APIClient

from accounts.models import Role
from audit.models import AuditLog
from certificates.tests.conftest import create_ca, issue_certificate
from tests.factories import UserFactory

FLAGS = ("can_create_ca", "can_create_cert", "can_revoke_cert", "can_export_private_key", "can_delete_ca")
FAST = {"key_algorithm": "ecdsa", "key_size": 256}
MISSING = 987654


@dataclass
class World:
    """The objects of one row: org A's CA and certificate made by `creator`, and org B's CA."""

    ca: Any  # made by the creator (the target of CA routes, and the issuer for issue / sign-csr)
    sub: Any  # an intermediate under `ca`, made by the creator (the target of ca-revoke)
    cert: Any  # made by the creator under `issuer`, a CA the creator did not make
    issuer: Any
    ca_b: Any


def _csr_pem() -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "csr.example.com")])
    csr = x509.CertificateSigningRequestBuilder().subject_name(subject).sign(key, hashes.SHA256())
    return csr.public_bytes(serialization.Encoding.PEM).decode()


CSR_PEM = _csr_pem()


@dataclass(frozen=True)
class Route:
    method: str
    path: Callable[[World], str]
    body: Callable[[World], dict[str, Any]] | None = None
    flag: str | None = None  # the one flag a `user` of the organization needs


ROUTES: dict[str, Route] = {
    "ca-get": Route("get", lambda w: f"/api/v1/cas/{w.ca.pk}"),
    "ca-chain": Route("get", lambda w: f"/api/v1/cas/{w.ca.pk}/chain"),
    "ca-children": Route("get", lambda w: f"/api/v1/cas/{w.ca.pk}/children"),
    "ca-private-key": Route("get", lambda w: f"/api/v1/cas/{w.ca.pk}/private-key", flag="can_export_private_key"),
    "ca-update": Route(
        "patch", lambda w: f"/api/v1/cas/{w.ca.pk}", lambda w: {"acme_enabled": True}, flag="can_create_ca"
    ),
    "ca-delete": Route("delete", lambda w: f"/api/v1/cas/{w.sub.pk}", flag="can_delete_ca"),
    "ca-revoke": Route(
        "post", lambda w: f"/api/v1/cas/{w.sub.pk}/revoke", lambda w: {"reason": "superseded"}, "can_delete_ca"
    ),
    "ca-create-root": Route(
        "post",
        lambda w: "/api/v1/cas/",
        lambda w: {"name": "Fresh Root", "subject_dn": "CN=Fresh Root", **FAST},
        flag="can_create_ca",
    ),
    "ca-create-intermediate-org-a": Route(
        "post",
        lambda w: "/api/v1/cas/",
        lambda w: {"name": "Fresh Sub", "subject_dn": "CN=Fresh Sub", "parent_ca_id": w.ca.pk, **FAST},
        flag="can_create_ca",
    ),
    "ca-create-intermediate-org-b": Route(
        "post",
        lambda w: "/api/v1/cas/",
        lambda w: {"name": "Fresh Sub", "subject_dn": "CN=Fresh Sub", "parent_ca_id": w.ca_b.pk, **FAST},
        flag="can_create_ca",
    ),
    "export-ca-certificate": Route("get", lambda w: f"/api/v1/export/ca/{w.ca.pk}/certificate"),
    "export-ca-private-key": Route(
        "get", lambda w: f"/api/v1/export/ca/{w.ca.pk}/private-key", flag="can_export_private_key"
    ),
    "cert-issue": Route(
        "post",
        lambda w: f"/api/v1/certificates/?ca_id={w.ca.pk}",
        lambda w: {
            "common_name": "new.example.com",
            "subject_dn": "CN=new.example.com",
            "certificate_type": "server",
            **FAST,
        },
        flag="can_create_cert",
    ),
    # CA:TRUE needs can_create_ca as well (SPEC §5): the one flag given here is not enough.
    "cert-issue-ca-type": Route(
        "post",
        lambda w: f"/api/v1/certificates/?ca_id={w.ca.pk}",
        lambda w: {"common_name": "Sub", "subject_dn": "CN=Sub", "certificate_type": "ca", **FAST},
        flag="can_create_cert",
    ),
    "cert-sign-csr-ca-type": Route(
        "post",
        lambda w: "/api/v1/certificates/sign-csr",
        lambda w: {"csr": CSR_PEM, "ca_id": w.ca.pk, "certificate_type": "ca"},
        flag="can_create_cert",
    ),
    "cert-sign-csr": Route(
        "post",
        lambda w: "/api/v1/certificates/sign-csr",
        lambda w: {"csr": CSR_PEM, "ca_id": w.ca.pk, "certificate_type": "server"},
        flag="can_create_cert",
    ),
    "cert-get": Route("get", lambda w: f"/api/v1/certificates/{w.cert.pk}"),
    "cert-revoke": Route(
        "post",
        lambda w: f"/api/v1/certificates/{w.cert.pk}/revoke",
        lambda w: {"reason": "key_compromise"},
        flag="can_revoke_cert",
    ),
    "cert-private-key": Route(
        "get", lambda w: f"/api/v1/certificates/{w.cert.pk}/private-key", flag="can_export_private_key"
    ),
    "cert-renew": Route(
        "post", lambda w: f"/api/v1/certificates/{w.cert.pk}/renew", lambda w: {}, flag="can_create_cert"
    ),
    "export-cert": Route("get", lambda w: f"/api/v1/export/certificate/{w.cert.pk}"),
    "export-cert-chain": Route("get", lambda w: f"/api/v1/export/certificate/{w.cert.pk}/chain"),
    "export-cert-private-key": Route(
        "get", lambda w: f"/api/v1/export/certificate/{w.cert.pk}/private-key", flag="can_export_private_key"
    ),
    "export-cert-pkcs12": Route(
        "get", lambda w: f"/api/v1/export/certificate/{w.cert.pk}/pkcs12?password=s3cret", flag="can_export_private_key"
    ),
    "export-cert-pkcs12-post": Route(
        "post",
        lambda w: f"/api/v1/export/certificate/{w.cert.pk}/pkcs12",
        lambda w: {"password": "s3cret"},
        flag="can_export_private_key",
    ),
}

ACTORS = (
    "superuser",
    "admin_same_org",
    "admin_other_org",
    "user_same_org",
    "user_same_org_flag",  # only the route's flag (none for reads)
    "user_other_org",  # every flag, in the other organization
    "creator",  # made the object with flags it has since lost
    "creator_moved",  # the creator, moved to the other organization and given every flag there
    "anonymous",
)

# Written from SPEC §5 by hand, not derived from accounts.policy.RULES.
# Columns follow ACTORS: su, admin A, admin B, user A, user A+flag, user B (all flags), creator, creator
# moved to B (tenancy comes before authorship: as user B), anonymous.
EXPECTED: dict[str, tuple[int, ...]] = {
    "ca-get":                       (200, 200, 403, 200, 200, 403, 200, 403, 401),
    "ca-chain":                     (200, 200, 403, 200, 200, 403, 200, 403, 401),
    "ca-children":                  (200, 200, 403, 200, 200, 403, 200, 403, 401),
    "ca-private-key":               (200, 200, 403, 403, 200, 403, 200, 403, 401),
    # Settings need the CA-creation permission on the CA; making the CA is not enough.
    "ca-update":                    (200, 200, 403, 403, 200, 403, 403, 403, 401),
    "ca-delete":                    (204, 204, 403, 403, 204, 403, 204, 403, 401),
    "ca-revoke":                    (200, 200, 403, 403, 200, 403, 200, 403, 401),
    # A root lands in the caller's own organization: org B's people may make one there.
    "ca-create-root":               (201, 201, 201, 403, 201, 201, 403, 201, 401),
    # Creating under the creator's own CA still needs can_create_ca in the organization.
    "ca-create-intermediate-org-a": (201, 201, 403, 403, 201, 403, 403, 403, 401),
    "ca-create-intermediate-org-b": (201, 403, 201, 403, 403, 201, 403, 201, 401),
    "export-ca-certificate":        (200, 200, 403, 200, 200, 403, 200, 403, 401),
    "export-ca-private-key":        (200, 200, 403, 403, 200, 403, 200, 403, 401),
    # The creator made the issuing CA: issuing under one's own CA is allowed.
    "cert-issue":                   (201, 201, 403, 403, 201, 403, 201, 403, 401),
    # ...but not a CA certificate: that needs can_create_ca, which neither the creator nor the
    # holder of can_create_cert alone has.
    "cert-issue-ca-type":           (201, 201, 403, 403, 403, 403, 403, 403, 401),
    "cert-sign-csr-ca-type":        (201, 201, 403, 403, 403, 403, 403, 403, 401),
    "cert-sign-csr":                (201, 201, 403, 403, 201, 403, 201, 403, 401),
    "cert-get":                     (200, 200, 403, 200, 200, 403, 200, 403, 401),
    "cert-revoke":                  (200, 200, 403, 403, 200, 403, 200, 403, 401),
    "cert-private-key":             (200, 200, 403, 403, 200, 403, 200, 403, 401),
    # Renewing needs create_cert on the issuing CA, which the certificate's creator did not make.
    "cert-renew":                   (201, 201, 403, 403, 201, 403, 403, 403, 401),
    "export-cert":                  (200, 200, 403, 200, 200, 403, 200, 403, 401),
    "export-cert-chain":            (200, 200, 403, 200, 200, 403, 200, 403, 401),
    "export-cert-private-key":      (200, 200, 403, 403, 200, 403, 200, 403, 401),
    "export-cert-pkcs12":           (200, 200, 403, 403, 200, 403, 200, 403, 401),
    "export-cert-pkcs12-post":      (200, 200, 403, 403, 200, 403, 200, 403, 401),
}  # fmt: skip

CASES = [
    pytest.param(route, actor, status, id=f"{route}-{actor}-{status}")
    for route, statuses in EXPECTED.items()
    for actor, status in zip(ACTORS, statuses, strict=True)
]


def test_the_table_covers_every_route():
    assert set(EXPECTED) == set(ROUTES)


@pytest.fixture
def creator(org_a):
    return UserFactory(username="maker", organization=org_a, **dict.fromkeys(FLAGS, True))


@pytest.fixture
def world(admin_a, admin_b, creator) -> World:
    issuer = create_ca(admin_a, "Admin CA")
    ca = create_ca(creator, "Creator CA", allow_leaf_certs=True)
    world = World(
        ca=ca,
        sub=create_ca(creator, "Creator Sub", parent=ca),
        cert=issue_certificate(creator, issuer, "made.example.com"),
        issuer=issuer,
        ca_b=create_ca(admin_b, "Root B"),
    )
    creator.__dict__.update(dict.fromkeys(FLAGS, False))
    creator.save(update_fields=list(FLAGS))
    return world


def _client(actor: str, route: Route, request, client_for, creator, org_a, org_b) -> APIClient:
    if actor == "anonymous":
        return APIClient()
    if actor == "creator":
        return client_for(creator)
    if actor == "creator_moved":
        creator.organization = org_b
        creator.__dict__.update(dict.fromkeys(FLAGS, True))
        creator.save()
        return client_for(creator)
    if actor == "user_same_org_flag":
        flags = {route.flag: True} if route.flag else {}
        return client_for(UserFactory(username="flagged", organization=org_a, **flags))
    if actor == "user_other_org":
        return client_for(UserFactory(username="outsider", organization=org_b, **dict.fromkeys(FLAGS, True)))
    persona = {"superuser": "superuser", "admin_same_org": "admin_a", "admin_other_org": "admin_b"}.get(actor)
    if persona:
        return client_for(request.getfixturevalue(persona))
    assert actor == "user_same_org"
    return client_for(request.getfixturevalue("user_a"))


def _call(client: APIClient, route: Route, world: World):
    body = route.body(world) if route.body else None
    return getattr(client, route.method)(route.path(world), body, format="json" if body is not None else None)


@pytest.mark.parametrize(("route_name", "actor", "expected"), CASES)
def test_policy_matrix(request, client_for, world, creator, org_a, org_b, route_name, actor, expected):
    route = ROUTES[route_name]
    client = _client(actor, route, request, client_for, creator, org_a, org_b)
    audit_before = AuditLog.objects.count()

    response = _call(client, route, world)

    assert response.status_code == expected, response.content[:300]
    if expected in (401, 403):
        assert AuditLog.objects.count() == audit_before  # a refusal changes nothing
        assert b"PRIVATE KEY" not in response.content
        assert b"CERTIFICATE" not in response.content


# --- An id that does not exist answers 404, whoever asks (a missing parent is a bad request body).


def _missing(path: str) -> str:
    return path.replace("{id}", str(MISSING))


MISSING_ROUTES: list[tuple[str, str, dict[str, Any] | None, int]] = [
    ("get", "/api/v1/cas/{id}", None, 404),
    ("get", "/api/v1/cas/{id}/chain", None, 404),
    ("get", "/api/v1/cas/{id}/children", None, 404),
    ("get", "/api/v1/cas/{id}/private-key", None, 404),
    ("delete", "/api/v1/cas/{id}", None, 404),
    ("post", "/api/v1/cas/", {"name": "Sub", "subject_dn": "CN=Sub", "parent_ca_id": MISSING, **FAST}, 400),
    ("get", "/api/v1/export/ca/{id}/certificate", None, 404),
    ("get", "/api/v1/export/ca/{id}/private-key", None, 404),
    ("post", "/api/v1/certificates/?ca_id={id}",
     {"common_name": "x.example.com", "subject_dn": "CN=x.example.com", "certificate_type": "server", **FAST}, 404),
    ("post", "/api/v1/certificates/sign-csr", {"csr": CSR_PEM, "ca_id": MISSING, "certificate_type": "server"}, 404),
    ("get", "/api/v1/certificates/{id}", None, 404),
    ("post", "/api/v1/certificates/{id}/revoke", {"reason": "superseded"}, 404),
    ("get", "/api/v1/certificates/{id}/private-key", None, 404),
    ("post", "/api/v1/certificates/{id}/renew", {}, 404),
    ("get", "/api/v1/export/certificate/{id}", None, 404),
    ("get", "/api/v1/export/certificate/{id}/chain", None, 404),
    ("get", "/api/v1/export/certificate/{id}/private-key", None, 404),
    ("get", "/api/v1/export/certificate/{id}/pkcs12", None, 404),
    ("post", "/api/v1/export/certificate/{id}/pkcs12", {"password": "s3cret"}, 404),
    ("post", "/api/v1/cas/{id}/revoke", {"reason": "superseded"}, 404),
]  # fmt: skip


@pytest.mark.parametrize("persona", ["superuser", "admin_a", "user_a_capable"])
@pytest.mark.parametrize(
    ("method", "path", "body", "expected"),
    [pytest.param(*row, id=f"{row[0]}-{row[1]}-{row[3]}") for row in MISSING_ROUTES],
)
def test_missing_ids(request, client_for, persona, method, path, body, expected):
    client = client_for(request.getfixturevalue(persona))

    response = getattr(client, method)(_missing(path), body, format="json" if body is not None else None)

    assert response.status_code == expected, response.content[:300]
    assert "detail" in response.json()


def test_a_superuser_role_is_what_counts(client_for, world, org_b):
    # A superuser who belongs to org B is still a superuser everywhere.
    outsider_root = UserFactory(username="root_b", role=Role.SUPERUSER, organization=org_b)

    assert client_for(outsider_root).get(f"/api/v1/cas/{world.ca.pk}/private-key").status_code == 200
