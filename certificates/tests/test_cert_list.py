"""Listing certificates: scope, filters, pagination and query count (SPEC §1, §5, §7)."""

from __future__ import annotations

import secrets
import shutil
import subprocess
from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from certificates.models import Certificate, CertificateAuthority
from tests.factories import UserFactory

API = "/api/v1/certificates/"


def issue(client, ca: CertificateAuthority, common_name: str) -> Certificate:
    body = {"common_name": common_name, "subject_dn": f"CN={common_name}", "certificate_type": "server",
            "key_algorithm": "ecdsa"}  # fmt: skip
    response = client.post(f"{API}?ca_id={ca.pk}", body, format="json")
    assert response.status_code == 201, response.json()
    return Certificate.objects.get(pk=response.json()["id"])


def clone(template: Certificate, count: int, **fields) -> list[Certificate]:
    """`count` rows copied from one issued certificate, with fresh serials: cheap list fodder."""
    rows = []
    for i in range(count):
        row = Certificate.objects.get(pk=template.pk)
        row.pk = None
        row.serial_number = format(secrets.randbits(120) | 1 << 120, "x")
        row.common_name = f"clone{i}.example.com"
        for name, value in fields.items():
            setattr(row, name, value)
        rows.append(row)
    return Certificate.objects.bulk_create(rows)


def ids(response) -> list[int]:
    assert response.status_code == 200, response.json()
    return [row["id"] for row in response.json()]


@pytest.fixture
def world(make_ca, client_for, admin_a, admin_b):
    """Two organizations, each with a CA and certificates; org A has a second CA."""
    a_api, b_api = client_for(admin_a), client_for(admin_b)
    ca_a, ca_a2, ca_b = make_ca(admin_a, "A Root"), make_ca(admin_a, "A Second"), make_ca(admin_b, "B Root")
    certs = {
        "a1": issue(a_api, ca_a, "one.a.example.com"),
        "a2": issue(a_api, ca_a, "two.a.example.com"),
        "a3": issue(a_api, ca_a2, "three.a.example.com"),
        "b1": issue(b_api, ca_b, "one.b.example.com"),
    }
    return {"ca_a": ca_a, "ca_a2": ca_a2, "ca_b": ca_b, **certs}


@pytest.mark.parametrize(
    ("persona", "visible"),
    [
        ("superuser", ["a1", "a2", "a3", "b1"]),
        ("admin_a", ["a1", "a2", "a3"]),
        ("user_a", ["a1", "a2", "a3"]),
        ("user_a_capable", ["a1", "a2", "a3"]),
        ("admin_b", ["b1"]),
        ("user_b", ["b1"]),
    ],
)
def test_list_is_scoped_to_the_organization(request, client_for, world, persona, visible):
    response = client_for(request.getfixturevalue(persona)).get(API)

    assert ids(response) == [world[name].pk for name in visible]
    assert response["X-Total-Count"] == str(len(visible))


def test_user_without_organization_sees_nothing(client_for, world):
    response = client_for(UserFactory(username="drifter")).get(API)

    assert ids(response) == [] and response["X-Total-Count"] == "0"


def test_anonymous_is_refused(anon, world):
    assert anon.get(API).status_code == 401


def test_filter_by_ca(client_for, superuser, admin_a, world):
    assert ids(client_for(admin_a).get(API, {"ca_id": world["ca_a2"].pk})) == [world["a3"].pk]
    assert ids(client_for(admin_a).get(API, {"ca_id": world["ca_b"].pk})) == []  # scope still applies
    assert ids(client_for(superuser).get(API, {"ca_id": world["ca_b"].pk})) == [world["b1"].pk]
    assert ids(client_for(admin_a).get(API, {"ca_id": 999999})) == []
    huge = client_for(admin_a).get(API, {"ca_id": "9" * 30})
    assert huge.status_code == 400 and "ca_id" in huge.json()["errors"]


def test_filter_by_status(client_for, admin_a, world):
    api = client_for(admin_a)
    assert api.post(f"{API}{world['a1'].pk}/revoke", {}, format="json").status_code == 200
    Certificate.objects.filter(pk=world["a2"].pk).update(not_after=timezone.now() - timedelta(minutes=1))

    assert ids(api.get(API, {"status": "revoked"})) == [world["a1"].pk]
    assert ids(api.get(API, {"status": "expired"})) == [world["a2"].pk]
    assert ids(api.get(API, {"status": "valid"})) == [world["a3"].pk]
    assert [row["status"] for row in api.get(API).json()] == ["revoked", "expired", "valid"]


def test_revoked_and_expired_counts_as_revoked(client_for, admin_a, world):
    api = client_for(admin_a)
    api.post(f"{API}{world['a1'].pk}/revoke", {}, format="json")
    Certificate.objects.filter(pk=world["a1"].pk).update(not_after=timezone.now() - timedelta(minutes=1))

    assert ids(api.get(API, {"status": "revoked"})) == [world["a1"].pk]
    assert ids(api.get(API, {"status": "expired"})) == []


@pytest.mark.parametrize("spelling", ["two.a.example.com", "TWO.A.Example.COM"])
def test_filter_by_common_name(client_for, admin_a, world, spelling):
    assert ids(client_for(admin_a).get(API, {"common_name": spelling})) == [world["a2"].pk]


def test_common_name_filter_is_exact_not_a_substring(client_for, admin_a, world):
    assert ids(client_for(admin_a).get(API, {"common_name": "a.example.com"})) == []


def _with_colons(serial: str) -> str:
    padded = serial if len(serial) % 2 == 0 else "0" + serial
    return ":".join(padded[i : i + 2] for i in range(0, len(padded), 2))


@pytest.mark.parametrize(
    "form",
    [str.lower, str.upper, _with_colons, lambda s: _with_colons(s).upper(), lambda s: s.zfill(40), lambda s: f" {s} "],
    ids=["lower", "upper", "colons", "colons-upper", "zero-filled", "padded"],
)
def test_filter_by_serial_number(client_for, admin_a, world, form):
    serial = world["a2"].serial_number

    assert ids(client_for(admin_a).get(API, {"serial_number": form(serial)})) == [world["a2"].pk]


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_filter_by_the_serial_openssl_prints(client_for, admin_a, world, tmp_path):
    (tmp_path / "cert.pem").write_text(world["a3"].certificate)
    printed = subprocess.run(
        ["openssl", "x509", "-in", str(tmp_path / "cert.pem"), "-noout", "-serial"],
        capture_output=True, text=True, timeout=30, check=True,
    ).stdout.strip()  # fmt: skip

    assert printed.startswith("serial=")
    assert ids(client_for(admin_a).get(API, {"serial_number": printed.removeprefix("serial=")})) == [world["a3"].pk]


def test_serial_of_another_organization_is_not_listed(client_for, admin_a, world):
    assert ids(client_for(admin_a).get(API, {"serial_number": world["b1"].serial_number})) == []


def test_filter_expiring_within_days(client_for, admin_a, world):
    now = timezone.now()
    Certificate.objects.filter(pk=world["a1"].pk).update(not_after=now + timedelta(days=5))
    Certificate.objects.filter(pk=world["a2"].pk).update(not_after=now + timedelta(days=40))
    Certificate.objects.filter(pk=world["a3"].pk).update(not_after=now - timedelta(days=1))  # already expired
    api = client_for(admin_a)

    assert ids(api.get(API, {"expiring_within_days": 7})) == [world["a1"].pk]
    assert ids(api.get(API, {"expiring_within_days": 60})) == [world["a1"].pk, world["a2"].pk]
    assert ids(api.get(API, {"expiring_within_days": 0})) == []
    api.post(f"{API}{world['a1'].pk}/revoke", {}, format="json")
    assert ids(api.get(API, {"expiring_within_days": 7})) == []


def test_filters_combine(client_for, admin_a, world):
    api = client_for(admin_a)

    response = api.get(API, {"ca_id": world["ca_a"].pk, "status": "valid", "common_name": "one.a.example.com"})

    assert ids(response) == [world["a1"].pk]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"ca_id": "abc"}, "ca_id"),
        ({"ca_id": "0"}, "ca_id"),
        ({"ca_id": "-3"}, "ca_id"),
        ({"status": "bogus"}, "status"),
        ({"status": "VALIDX"}, "status"),
        ({"serial_number": "xyz"}, "serial_number"),
        ({"serial_number": "12:zz"}, "serial_number"),
        ({"serial_number": "f" * 65}, "serial_number"),
        ({"expiring_within_days": "-1"}, "expiring_within_days"),
        ({"expiring_within_days": "soon"}, "expiring_within_days"),
        ({"skip": "-1"}, "skip"),
        ({"limit": "0"}, "limit"),
        ({"limit": "1001"}, "limit"),
    ],
)
def test_bad_filter_values_are_400(client_for, admin_a, world, params, field):
    response = client_for(admin_a).get(API, params)

    assert response.status_code == 400, response.json()
    assert field in response.json()["errors"]


def test_skip_limit_and_total_count(client_for, admin_a, world):
    clone(world["a1"], 7)
    api = client_for(admin_a)
    every = ids(api.get(API, {"limit": 1000}))

    page = api.get(API, {"skip": 2, "limit": 3})

    assert len(every) == 10 and every == sorted(every)
    assert ids(page) == every[2:5]
    assert page["X-Total-Count"] == "10"
    filtered = api.get(API, {"ca_id": world["ca_a"].pk, "limit": 1})
    assert len(ids(filtered)) == 1 and filtered["X-Total-Count"] == str(2 + 7)


@pytest.mark.parametrize("persona", ["superuser", "admin_a"])
def test_query_count_does_not_grow_with_rows(make_ca, request, client_for, admin_a, persona):
    client = client_for(request.getfixturevalue(persona))
    template = issue(client_for(admin_a), make_ca(admin_a, "Counting CA"), "template.example.com")
    clone(template, 2)
    statuses = {"revoked_at": timezone.now(), "revocation_reason": "superseded"}

    def count() -> tuple[int, int]:
        with CaptureQueriesContext(connection) as queries:
            response = client.get(API, {"limit": 1000})
        assert response.status_code == 200
        return len(queries), len(response.json())

    small, small_rows = count()
    clone(template, 20)
    clone(template, 7, **statuses)
    large, large_rows = count()

    assert (small_rows, large_rows) == (3, 30)
    assert large == small, f"{small} queries for 3 rows, {large} for 30"
