"""Status and CA filters page through exactly the right certificates, wherever those sit in id order
(SPEC §7).

These tests hold each page to the plain definition of each status, for rows laid out the ways that
make a database walk or sort: expired rows last, first, or spread.
"""

from __future__ import annotations

import secrets
from datetime import timedelta

import pytest
from django.utils import timezone

from certificates.models import Certificate, CertificateAuthority
from certificates.tests.conftest import create_ca, issue_certificate

API = "/api/v1/certificates/"

# One letter per certificate, in id order: v valid, s valid and expiring within 30 days,
# e expired, r revoked, x revoked after it expired, b valid in organization B.
LAYOUTS = {
    "expired after a revoked block": "v" * 25 + "s" * 4 + "b" * 5 + "r" * 15 + "x" * 2 + "e" * 17,
    "expired first": "e" * 17 + "x" * 2 + "r" * 15 + "b" * 5 + "s" * 4 + "v" * 25,
    "spread": "vevsrbvexvrevsvevbre" * 3 + "e" * 5,
}
STATUS_OF = {"v": "valid", "s": "valid", "e": "expired", "r": "revoked", "x": "revoked"}


def _lay_out(layout: str, ca_a: CertificateAuthority, ca_b: CertificateAuthority) -> dict[str, list[int]]:
    """The layout's certificates (copies of one issued certificate, new serials), ids by letter."""
    template = issue_certificate(ca_a.created_by_user, ca_a, "template.example.com")
    now = timezone.now()
    not_after = {"v": now + timedelta(days=300), "s": now + timedelta(days=5), "e": now - timedelta(days=3),
                 "r": now + timedelta(days=300), "x": now - timedelta(days=3), "b": now + timedelta(days=300)}  # fmt: skip
    rows = []
    for i, letter in enumerate(layout):
        row = Certificate.objects.get(pk=template.pk)
        row.pk = None
        row.serial_number = format(secrets.randbits(120) | 1 << 120, "x")
        row.common_name = f"{letter}{i}.example.com"
        row.not_after = not_after[letter]
        if letter in "rx":
            row.revoked_at, row.revocation_reason, row.revocation_reason_code = now, "superseded", 4
        if letter == "b":
            row.issuer, row.organization = ca_b, ca_b.organization
        rows.append(row)
    created = Certificate.objects.bulk_create(rows)
    ids: dict[str, list[int]] = {"v": [template.pk]}
    for letter, row in zip(layout, created, strict=True):
        ids.setdefault(letter, []).append(row.pk)
    return ids


def _all_pages(api, params: dict[str, object], limit: int) -> tuple[list[int], set[str]]:
    """Every row of the list, read `limit` at a time, and the totals the pages announced."""
    seen: list[int] = []
    totals = set()
    for skip in range(0, 200, limit):
        response = api.get(API, {**params, "skip": skip, "limit": limit})
        assert response.status_code == 200, response.json()
        totals.add(response["X-Total-Count"])
        page = [row["id"] for row in response.json()]
        if not page:
            break
        seen += page
    return seen, totals


@pytest.fixture(params=LAYOUTS.values(), ids=LAYOUTS.keys())
def laid_out(request, admin_a, admin_b) -> dict[str, list[int]]:
    return _lay_out(request.param, create_ca(admin_a, "A Root"), create_ca(admin_b, "B Root"))


@pytest.mark.parametrize(
    ("params", "letters"),
    [
        ({"status": "expired"}, "e"),
        ({"status": "valid"}, "vs"),
        ({"status": "revoked"}, "rx"),
        ({"expiring_within_days": 30}, "s"),
        ({"status": "valid", "expiring_within_days": 30}, "s"),
        ({"status": "expired", "expiring_within_days": 30}, ""),
        ({}, "vserx"),
    ],
    ids=["expired", "valid", "revoked", "expiring", "valid-and-expiring", "expired-and-expiring", "all"],
)
@pytest.mark.parametrize("limit", [1, 7, 100])
def test_pages_hold_exactly_the_matching_certificates_in_id_order(
    client_for, admin_a, laid_out, params, letters, limit
):
    expected = sorted(pk for letter in letters for pk in laid_out.get(letter, []))

    seen, totals = _all_pages(client_for(admin_a), params, limit)

    assert seen == expected
    assert totals == {str(len(expected))}


@pytest.mark.parametrize("status", ["expired", "valid", "revoked"])
def test_every_row_of_a_status_page_has_that_status(client_for, admin_a, laid_out, status):
    rows = client_for(admin_a).get(API, {"status": status, "limit": 1000}).json()

    assert rows and {row["status"] for row in rows} == {status}


def test_superuser_pages_cover_every_organization(client_for, superuser, laid_out):
    seen, _ = _all_pages(client_for(superuser), {"status": "valid"}, 6)

    assert seen == sorted(laid_out["v"] + laid_out["s"] + laid_out["b"])


def test_a_certificate_that_expires_leaves_the_valid_pages_for_the_expired_ones(client_for, admin_a, laid_out):
    api = client_for(admin_a)
    moved = laid_out["v"][3]
    Certificate.objects.filter(pk=moved).update(not_after=timezone.now() - timedelta(seconds=1))

    assert moved in _all_pages(api, {"status": "expired"}, 5)[0]
    assert moved not in _all_pages(api, {"status": "valid"}, 5)[0]


@pytest.mark.parametrize("status", ["expired", "valid"])
def test_status_querysets_slice_like_plain_querysets(admin_a, laid_out, status):
    """Other orders, directions and shapes of the same filter give what slicing a list of all rows gives."""
    org = admin_a.organization_id
    filtered = Certificate.objects.filter(organization_id=org).with_status(status)
    everything = [c for c in Certificate.objects.filter(organization_id=org) if c.status == status]
    by_id = sorted(c.pk for c in everything)

    assert [c.pk for c in filtered.order_by("id")[3:11]] == by_id[3:11]
    assert [c.pk for c in filtered.order_by("-id")[2:9]] == by_id[::-1][2:9]
    assert [c.pk for c in filtered.order_by("-id").reverse()[:4]] == by_id[:4]
    assert list(filtered.order_by("id").values_list("pk", flat=True)[5:8]) == by_id[5:8]
    by_expiry = sorted(everything, key=lambda c: (c.not_after, c.pk))
    assert [c.pk for c in filtered.order_by("not_after", "id")[1:6]] == [c.pk for c in by_expiry[1:6]]
    assert filtered.order_by("id").first().pk == by_id[0]
    page = filtered.select_related("issuer").order_by("id")[:3]
    assert [c.issuer.organization_id for c in page] == [org] * 3


@pytest.mark.parametrize(("status", "letters"), [(None, "vserx"), ("revoked", "rx"), ("valid", "vs")])
@pytest.mark.parametrize("limit", [1, 7, 100])
def test_pages_of_one_ca_hold_exactly_its_certificates(
    client_for, admin_a, superuser, laid_out, status, letters, limit
):
    ca_a, ca_b = (Certificate.objects.get(pk=laid_out[k][0]).issuer_id for k in ("v", "b"))
    params = {"status": status} if status else {}

    seen_a, totals_a = _all_pages(client_for(admin_a), {**params, "ca_id": ca_a}, limit)
    seen_b, _ = _all_pages(client_for(superuser), {**params, "ca_id": ca_b}, limit)
    foreign, _ = _all_pages(client_for(admin_a), {**params, "ca_id": ca_b}, limit)

    assert seen_a == sorted(pk for letter in letters for pk in laid_out.get(letter, []))
    assert totals_a == {str(len(seen_a))}
    assert seen_b == (sorted(laid_out["b"]) if "v" in letters else [])
    assert foreign == []  # another organization's CA lists nothing, not its certificates
