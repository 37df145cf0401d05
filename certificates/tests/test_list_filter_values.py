"""Certificate list filters (django-filter): an empty value filters nothing, a bad one is a 400
naming the parameter (README, "Certificates")."""

from __future__ import annotations

import pytest

from certificates import services
from certificates.tests.conftest import issue_certificate

API = "/api/v1/certificates/"


@pytest.fixture
def listed(admin_a, root_a):
    kept = issue_certificate(admin_a, root_a, "kept.example.com")
    gone = issue_certificate(admin_a, root_a, "gone.example.com")
    services.certificate_revoke(actor=admin_a, cert=gone, reason="superseded")
    return {kept.pk, gone.pk}


@pytest.mark.parametrize("parameter", ["status", "ca_id", "common_name", "serial_number", "expiring_within_days"])
def test_an_empty_value_filters_nothing(client_for, admin_a, listed, parameter):
    response = client_for(admin_a).get(f"{API}?{parameter}=")

    assert response.status_code == 200
    assert {item["id"] for item in response.json()} == listed


def test_status_filters_by_value(client_for, admin_a, listed):
    revoked = client_for(admin_a).get(f"{API}?status=revoked").json()
    valid = client_for(admin_a).get(f"{API}?status=valid").json()

    assert [item["common_name"] for item in revoked] == ["gone.example.com"]
    assert [item["common_name"] for item in valid] == ["kept.example.com"]


@pytest.mark.parametrize(
    ("query", "parameter"),
    [("status=bogus", "status"), ("ca_id=abc", "ca_id"), ("expiring_within_days=soon", "expiring_within_days")],
)
def test_a_bad_value_is_400_naming_the_parameter(client_for, admin_a, listed, query, parameter):
    response = client_for(admin_a).get(f"{API}?{query}")

    assert response.status_code == 400
    assert response.json()["detail"].startswith(f"{parameter}: ")
    assert parameter in response.json()["errors"]
