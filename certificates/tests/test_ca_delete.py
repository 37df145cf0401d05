"""Deleting CAs: certificates go with them, child CAs block it, audited, by policy (SPEC §5, §6)."""

from __future__ import annotations

import pytest

from audit.models import AuditLog
from certificates import services
from certificates.models import Certificate, CertificateAuthority, PendingCrlEntry, RevocationList

URL = "/api/v1/cas/"


def test_delete_removes_the_ca_and_its_certificates(client_for, admin_a, root_a, make_ca, make_cert):
    other = make_ca(admin_a, "Other Root")
    kept = make_cert(admin_a, other, "kept.example.com")
    doomed = [make_cert(admin_a, root_a, f"host{n}.example.com") for n in range(3)]
    services.certificate_revoke(actor=admin_a, cert=doomed[0], reason="superseded")
    services.crl_current(ca=root_a)
    services.certificate_revoke(actor=admin_a, cert=doomed[1], reason="superseded")  # pending
    assert RevocationList.objects.filter(ca=root_a).exists()
    assert PendingCrlEntry.objects.filter(ca=root_a).exists()

    response = client_for(admin_a).delete(f"{URL}{root_a.pk}")

    assert response.status_code == 204
    assert response.content == b""
    assert not CertificateAuthority.objects.filter(pk=root_a.pk).exists()
    assert not Certificate.objects.filter(pk__in=[c.pk for c in doomed]).exists()
    assert not RevocationList.objects.filter(ca_id=root_a.pk).exists()
    assert not PendingCrlEntry.objects.filter(ca_id=root_a.pk).exists()
    assert Certificate.objects.filter(pk=kept.pk).exists()
    assert client_for(admin_a).get(f"{URL}{root_a.pk}").status_code == 404


def test_delete_is_audited(client_for, admin_a, root_a, make_cert):
    make_cert(admin_a, root_a)

    client_for(admin_a).delete(f"{URL}{root_a.pk}/")

    entry = AuditLog.objects.get(action="ca_delete")
    assert (entry.user_id, entry.resource_type, entry.resource_id) == (admin_a.pk, "ca", root_a.pk)
    assert entry.organization_id == root_a.organization_id
    assert "1 certificate" in entry.detail


def test_a_ca_with_children_is_a_conflict(client_for, admin_a, root_a, make_ca, make_cert):
    child = make_ca(admin_a, "Issuing", parent=root_a)
    cert = make_cert(admin_a, child)

    response = client_for(admin_a).delete(f"{URL}{root_a.pk}")

    assert response.status_code == 409
    assert "child" in response.json()["detail"]
    assert CertificateAuthority.objects.filter(pk__in=[root_a.pk, child.pk]).count() == 2
    assert Certificate.objects.filter(pk=cert.pk).exists()
    assert not AuditLog.objects.filter(action="ca_delete").exists()

    # Leaves first, then the root.
    assert client_for(admin_a).delete(f"{URL}{child.pk}").status_code == 204
    assert client_for(admin_a).delete(f"{URL}{root_a.pk}").status_code == 204
    assert not CertificateAuthority.objects.exists()
    assert AuditLog.objects.filter(action="ca_delete").count() == 2


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("superuser", 204),
        ("admin_a", 204),
        ("user_a_capable", 204),
        ("user_a", 403),
        ("admin_b", 403),
        ("user_b", 403),
    ],
)
def test_who_may_delete(client_for, root_a, request, persona, expected):
    response = client_for(request.getfixturevalue(persona)).delete(f"{URL}{root_a.pk}")

    assert response.status_code == expected
    assert CertificateAuthority.objects.filter(pk=root_a.pk).exists() is (expected != 204)
    assert AuditLog.objects.filter(action="ca_delete").exists() is (expected == 204)


def test_a_user_with_only_the_delete_flag_may_delete(client_for, make_ca, admin_a, user_a):
    ca = make_ca(admin_a, "Root")
    user_a.can_delete_ca = True
    user_a.save()

    assert client_for(user_a).delete(f"{URL}{ca.pk}").status_code == 204


def test_anonymous_cannot_delete(anon, root_a):
    assert anon.delete(f"{URL}{root_a.pk}").status_code == 401
    assert CertificateAuthority.objects.filter(pk=root_a.pk).exists()


def test_deleting_a_missing_ca_is_404(client_for, admin_a):
    assert client_for(admin_a).delete(f"{URL}777777").status_code == 404
