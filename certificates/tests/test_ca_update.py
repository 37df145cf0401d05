"""PATCH /api/v1/cas/{id}: description, leaf certificates and ACME settings (SPEC §15)."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import connection, connections, transaction

from audit.models import AuditLog
from certificates import services
from certificates.models import CertificateAuthority
from certificates.tests.conftest import create_ca, issue_certificate
from pkiserver.errors import Invalid

URL = "/api/v1/cas/{}"
FIELDS = ("description", "allow_leaf_certs", "acme_enabled", "acme_eab_required", "acme_max_validity_days")


@pytest.fixture
def ca(admin_a):
    return create_ca(admin_a, "Settings CA", key_algorithm="ecdsa", key_size=256)


def test_a_new_ca_has_acme_off(client_for, admin_a, ca):
    shown = client_for(admin_a).get(URL.format(ca.pk)).json()

    assert (shown["acme_enabled"], shown["acme_eab_required"], shown["acme_max_validity_days"]) == (False, True, None)


def test_patch_changes_the_settings_and_audits_them(client_for, admin_a, ca):
    body = {
        "description": "for the web tier",
        "acme_enabled": True,
        "acme_eab_required": False,
        "acme_max_validity_days": 90,
    }

    response = client_for(admin_a).patch(URL.format(ca.pk), body, format="json")

    assert response.status_code == 200, response.content
    assert {name: response.json()[name] for name in body} == body
    stored = CertificateAuthority.objects.get(pk=ca.pk)
    assert {name: getattr(stored, name) for name in body} == body
    entry = AuditLog.objects.get(action="ca_update")
    assert (entry.user_id, entry.resource_type, entry.resource_id) == (admin_a.pk, "ca", ca.pk)
    assert entry.organization_id == ca.organization_id
    assert "acme_enabled false -> true" in entry.detail
    assert "acme_max_validity_days none -> 90" in entry.detail
    assert "description none -> 'for the web tier'" in entry.detail


def test_the_same_values_are_no_change(client_for, admin_a, ca):
    response = client_for(admin_a).patch(
        URL.format(ca.pk), {"acme_enabled": False, "allow_leaf_certs": True}, format="json"
    )

    assert response.status_code == 200
    assert not AuditLog.objects.filter(action="ca_update").exists()
    assert CertificateAuthority.objects.get(pk=ca.pk).allow_leaf_certs_explicit is False


def test_closing_a_ca_to_leaves_stops_issuance_and_opening_it_again_is_kept(client_for, admin_a, ca):
    client = client_for(admin_a)
    assert client.patch(URL.format(ca.pk), {"allow_leaf_certs": False}, format="json").status_code == 200
    with pytest.raises(Invalid, match="does not allow leaf certificates"):
        issue_certificate(admin_a, CertificateAuthority.objects.get(pk=ca.pk), "closed.example.com")

    assert client.patch(URL.format(ca.pk), {"allow_leaf_certs": True}, format="json").status_code == 200
    create_ca(admin_a, "Settings Child", parent=ca, key_algorithm="ecdsa", key_size=256)

    # Chosen explicitly: the first child CA no longer closes it to leaves.
    assert CertificateAuthority.objects.get(pk=ca.pk).allow_leaf_certs is True
    issue_certificate(admin_a, CertificateAuthority.objects.get(pk=ca.pk), "open.example.com")


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "Renamed"}, "name"),
        ({"acme_enabled": True, "subject_dn": "CN=Other"}, "subject_dn"),
        ({"acme_max_validity_days": 0}, "acme_max_validity_days"),
        ({"acme_max_validity_days": 36501}, "acme_max_validity_days"),
        ({"acme_enabled": "sometimes"}, "acme_enabled"),
        ({"allow_leaf_certs": None}, "allow_leaf_certs"),
    ],
)
def test_a_bad_body_is_400_naming_the_field_and_changes_nothing(client_for, admin_a, ca, body, field):
    response = client_for(admin_a).patch(URL.format(ca.pk), body, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert response.json()["detail"].startswith(f"{field}: ")
    stored = CertificateAuthority.objects.get(pk=ca.pk)
    assert (stored.name, stored.acme_enabled, stored.acme_max_validity_days) == ("Settings CA", False, None)
    assert not AuditLog.objects.filter(action="ca_update").exists()


@pytest.mark.parametrize("body", [{"acme_enabled": True}, {"allow_leaf_certs": True}])
def test_a_revoked_ca_is_not_opened_again(client_for, admin_a, ca, body):
    sub = create_ca(admin_a, "Revoked Sub", parent=ca, key_algorithm="ecdsa", key_size=256, allow_leaf_certs=False)
    services.ca_revoke(actor=admin_a, ca=sub, reason="superseded")

    response = client_for(admin_a).patch(URL.format(sub.pk), body, format="json")

    assert response.status_code == 409
    assert response.json()["code"] == "ca_revoked"
    assert client_for(admin_a).patch(URL.format(sub.pk), {"description": "retired"}, format="json").status_code == 200


def test_put_is_not_allowed(client_for, admin_a, ca):
    response = client_for(admin_a).put(URL.format(ca.pk), {"acme_enabled": True}, format="json")

    assert response.status_code == 405
    assert CertificateAuthority.objects.get(pk=ca.pk).acme_enabled is False


def test_the_schema_documents_the_patch(client_for, admin_a):
    schema = client_for(admin_a).get("/api/v1/openapi.json").json()
    patch = schema["paths"]["/api/v1/cas/{id}/"]["patch"]

    body = patch["requestBody"]["content"]["application/json"]["schema"]["$ref"].rsplit("/", 1)[1]
    assert set(schema["components"]["schemas"][body]["properties"]) == set(FIELDS)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="row locks: PostgreSQL")
@pytest.mark.django_db(transaction=True)
def test_closing_to_leaves_waits_for_an_issuance_that_holds_the_ca(admin_a):
    ca = create_ca(admin_a, "Busy CA", key_algorithm="ecdsa", key_size=256)
    held, done_at = threading.Event(), []

    def close() -> None:
        try:
            assert held.wait(10)
            services.ca_update(actor=admin_a, ca=ca, changes={"allow_leaf_certs": False})
            done_at.append(time.monotonic())
        finally:
            connections.close_all()

    thread = threading.Thread(target=close)
    thread.start()
    try:
        with transaction.atomic():  # an issuance between its check and its commit
            assert services.common.hold_ca(ca.pk) == (True, False)
            held.set()
            time.sleep(0.5)
            assert done_at == []
            committed = time.monotonic()
    finally:
        thread.join(30)
    assert done_at and done_at[0] >= committed
    assert CertificateAuthority.objects.get(pk=ca.pk).allow_leaf_certs is False
