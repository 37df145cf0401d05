"""Reading CAs: scoped lists, details, private-key reads and PEM downloads (SPEC §5, §6, §8)."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.db import connection
from django.test.utils import CaptureQueriesContext

from audit.models import AuditLog
from certificates.models import CertificateAuthority
from tests.factories import UserFactory

URL = "/api/v1/cas/"


@pytest.fixture
def cas(make_ca, superuser, admin_a, admin_b):
    """Two CAs in org A (a root and its child), one in org B, one without organization."""
    root_a = make_ca(admin_a, "Root A")
    return {
        "a": [root_a, make_ca(admin_a, "Issuing A", parent=root_a)],
        "b": [make_ca(admin_b, "Root B")],
        "none": [make_ca(superuser, "Global Root")],
    }


def ids(response) -> list[int]:
    return [ca["id"] for ca in response.json()]


def test_superuser_lists_every_ca_in_id_order(client_for, superuser, cas):
    response = client_for(superuser).get(URL)

    assert response.status_code == 200
    everything = sorted(ca.pk for group in cas.values() for ca in group)
    assert ids(response) == everything
    assert response["X-Total-Count"] == "4"


@pytest.mark.parametrize(
    ("persona", "org"),
    [("admin_a", "a"), ("user_a", "a"), ("admin_b", "b"), ("user_b", "b")],
)
def test_others_list_only_their_organizations_cas(client_for, cas, request, persona, org):
    response = client_for(request.getfixturevalue(persona)).get(URL)

    assert response.status_code == 200
    assert isinstance(response.json(), list)
    assert ids(response) == [ca.pk for ca in cas[org]]
    assert response["X-Total-Count"] == str(len(cas[org]))


def test_a_user_without_organization_lists_nothing(client_for, cas):
    response = client_for(UserFactory(username="loner")).get(URL)

    assert response.status_code == 200
    assert response.json() == []
    assert response["X-Total-Count"] == "0"


def test_anonymous_cannot_list(anon, cas):
    response = anon.get(URL)

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_skip_and_limit(client_for, admin_a, make_ca):
    made = [make_ca(admin_a, f"CA {n}").pk for n in range(4)]
    client = client_for(admin_a)

    page = client.get(URL, {"skip": 1, "limit": 2})

    assert ids(page) == made[1:3]
    assert page["X-Total-Count"] == "4"
    assert ids(client.get(URL, {"skip": 3})) == made[3:]
    assert client.get(URL, {"skip": 10}).json() == []
    assert client.get(f"{URL[:-1]}", {"limit": 1}).status_code == 200  # no trailing slash


@pytest.mark.parametrize("params", [{"limit": 0}, {"limit": 1001}, {"skip": -1}, {"limit": "x"}])
def test_bad_paging_is_refused(client_for, admin_a, params):
    response = client_for(admin_a).get(URL, params)

    assert response.status_code == 400
    assert set(params) <= set(response.json()["errors"])


def test_list_and_detail_never_show_a_private_key(client_for, superuser, admin_a, cas):
    ca = cas["a"][0]
    for client in (client_for(superuser), client_for(admin_a)):
        for path in (URL, f"{URL}{ca.pk}", f"{URL}{ca.pk}/", f"{URL}{ca.pk}/chain", f"{URL}{ca.pk}/children"):
            response = client.get(path)
            assert response.status_code == 200, path
            assert b"PRIVATE KEY" not in response.content, path
            rows = response.json() if isinstance(response.json(), list) else [response.json()]
            assert rows and all("private_key" not in row for row in rows), path


def test_detail(client_for, admin_a, cas):
    ca = cas["a"][1]

    response = client_for(admin_a).get(f"{URL}{ca.pk}")

    assert response.status_code == 200
    body = response.json()
    assert (body["id"], body["name"], body["parent_ca_id"], body["is_root"]) == (
        ca.pk,
        "Issuing A",
        cas["a"][0].pk,
        False,
    )
    assert body["certificate"] == ca.certificate
    assert body["slug"] == f"issuing-a-{ca.pk}"


@pytest.mark.parametrize(
    ("persona", "org", "expected"),
    [
        ("superuser", "b", 200),
        ("superuser", "none", 200),
        ("admin_a", "a", 200),
        ("user_a", "a", 200),
        ("admin_a", "b", 403),
        ("user_a", "b", 403),
        ("admin_a", "none", 403),
        ("user_b", "a", 403),
    ],
)
def test_detail_is_scoped(client_for, cas, request, persona, org, expected):
    client = client_for(request.getfixturevalue(persona))

    response = client.get(f"{URL}{cas[org][0].pk}")

    assert response.status_code == expected
    if expected == 403:
        assert response.json()["detail"] == "Not enough permissions"
        assert b"CERTIFICATE" not in response.content


def test_missing_ca_is_404(client_for, admin_a, superuser, cas):
    for user in (admin_a, superuser):
        response = client_for(user).get(f"{URL}999999")
        assert response.status_code == 404
        assert "detail" in response.json()


# --- GET /cas/{id}/private-key (audited, needs the key permission)


def _assert_key_of(pem: str, certificate_pem: str) -> None:
    key = serialization.load_pem_private_key(pem.encode(), password=None)
    cert = x509.load_pem_x509_certificate(certificate_pem.encode())
    fmt = (serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)
    assert key.public_key().public_bytes(*fmt) == cert.public_key().public_bytes(*fmt)


@pytest.mark.parametrize("persona", ["admin_a", "user_a_capable", "superuser"])
def test_private_key_read_is_allowed_and_audited(client_for, cas, request, persona):
    user = request.getfixturevalue(persona)
    ca = cas["a"][0]

    response = client_for(user).get(f"{URL}{ca.pk}/private-key")

    assert response.status_code == 200
    _assert_key_of(response.json()["private_key"], ca.certificate)
    entry = AuditLog.objects.get(action="ca_export_private_key")
    assert (entry.user_id, entry.resource_type, entry.resource_id) == (user.pk, "ca", ca.pk)
    assert entry.organization_id == ca.organization_id


@pytest.mark.parametrize(("persona", "org"), [("user_a", "a"), ("admin_b", "a"), ("user_b", "a"), ("admin_a", "b")])
def test_private_key_read_is_refused_without_permission(client_for, cas, request, persona, org):
    response = client_for(request.getfixturevalue(persona)).get(f"{URL}{cas[org][0].pk}/private-key")

    assert response.status_code == 403
    assert b"PRIVATE KEY" not in response.content
    assert not AuditLog.objects.filter(action="ca_export_private_key").exists()


def test_private_key_of_a_missing_ca_is_404(client_for, admin_a):
    assert client_for(admin_a).get(f"{URL}424242/private-key").status_code == 404


# --- /api/v1/export/ca/{id}/...


@pytest.mark.parametrize("slash", ["", "/"])
def test_export_certificate_is_a_pem_attachment(client_for, user_a, cas, slash):
    ca = cas["a"][0]

    response = client_for(user_a).get(f"/api/v1/export/ca/{ca.pk}/certificate{slash}")

    assert response.status_code == 200
    assert response["Content-Disposition"] == f'attachment; filename="ca_{ca.pk}_certificate.pem"'
    assert response.content.decode() == ca.certificate
    assert x509.load_pem_x509_certificate(response.content).subject.rfc4514_string() == "CN=Root A,O=Test,C=US"
    assert b"PRIVATE KEY" not in response.content


@pytest.mark.parametrize(("persona", "org", "expected"), [("admin_b", "a", 403), ("user_a", "b", 403)])
def test_export_certificate_of_another_organization(client_for, cas, request, persona, org, expected):
    response = client_for(request.getfixturevalue(persona)).get(f"/api/v1/export/ca/{cas[org][0].pk}/certificate")

    assert response.status_code == expected


def test_export_certificate_of_a_missing_ca_is_404(client_for, admin_a):
    assert client_for(admin_a).get("/api/v1/export/ca/31337/certificate").status_code == 404


def test_export_private_key_is_an_audited_attachment(client_for, user_a_capable, cas):
    ca = cas["a"][0]

    response = client_for(user_a_capable).get(f"/api/v1/export/ca/{ca.pk}/private-key")

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment; filename=")
    _assert_key_of(response.content.decode(), ca.certificate)
    entry = AuditLog.objects.get(action="ca_export_private_key")
    assert (entry.user_id, entry.resource_id) == (user_a_capable.pk, ca.pk)


@pytest.mark.parametrize(("persona", "org"), [("user_a", "a"), ("admin_b", "a")])
def test_export_private_key_needs_the_permission(client_for, cas, request, persona, org):
    response = client_for(request.getfixturevalue(persona)).get(f"/api/v1/export/ca/{cas[org][0].pk}/private-key")

    assert response.status_code == 403
    assert b"PRIVATE KEY" not in response.content
    assert not AuditLog.objects.filter(action="ca_export_private_key").exists()


def test_export_private_key_of_a_missing_ca_is_404(client_for, admin_a):
    assert client_for(admin_a).get("/api/v1/export/ca/31337/private-key").status_code == 404


@pytest.mark.parametrize("route", ["list", "chain", "children"])
def test_reads_cost_no_more_queries_as_they_grow(client_for, admin_a, make_ca, route):
    def queries_for(count: int) -> int:
        for ca in CertificateAuthority.objects.order_by("-id"):
            ca.delete()
        # A line of `count` CAs (so the chain grows) plus `count` children of the root.
        line = [make_ca(admin_a, "Root")]
        for n in range(count - 1):
            line.append(make_ca(admin_a, f"Level {n}", parent=line[-1]))
        for n in range(count):
            make_ca(admin_a, f"Leaf {n}", parent=line[0])
        path = {"list": "", "chain": f"{line[-1].pk}/chain", "children": f"{line[0].pk}/children"}[route]
        client = client_for(admin_a)
        with CaptureQueriesContext(connection) as context:
            response = client.get(URL + path)
        assert response.status_code == 200
        assert len(response.json()) >= count
        return len(context.captured_queries)

    assert queries_for(2) == queries_for(6)
