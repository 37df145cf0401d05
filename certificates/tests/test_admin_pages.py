"""The Django admin at /admin/ (SPEC §14): pages load, show no private key, audit is read-only."""

from __future__ import annotations

from typing import Any

import pytest
from django.db.models import Model
from django.test import Client
from django.urls import reverse

from audit.models import AuditLog
from certificates import services
from certificates.models import Certificate, CertificateAuthority
from certificates.tests.conftest import create_ca, issue_certificate


@pytest.fixture
def pki(admin_a, user_a) -> dict[str, Model]:
    root = create_ca(admin_a, "Admin Root")
    inter = create_ca(admin_a, "Admin Issuing", parent=root)
    cert = issue_certificate(admin_a, inter, "admin.example.com")
    revoked = issue_certificate(admin_a, inter, "revoked.example.com")
    services.certificate_revoke(actor=admin_a, cert=revoked, reason="key_compromise")
    return {
        "root": root,
        "inter": inter,
        "cert": cert,
        "revoked": Certificate.objects.get(pk=revoked.pk),
        "audit": AuditLog.objects.order_by("id").first(),
        "user": user_a,
        "org": admin_a.organization,
    }


@pytest.fixture
def console(superuser) -> Client:
    client = Client()
    client.force_login(superuser)
    return client


def stored_tokens() -> list[str]:
    """Every private key as stored (Fernet tokens), to look for in the pages."""
    tokens = [*CertificateAuthority.objects.values_list("private_key", flat=True)]
    tokens += Certificate.objects.exclude(private_key=None).values_list("private_key", flat=True)
    assert len(tokens) == 4
    return tokens


def assert_no_key(response: Any) -> None:
    body = response.content.decode()
    assert "PRIVATE KEY" not in body
    for token in stored_tokens():
        assert token not in body
        assert token[:40] not in body  # not even a truncated form


MODELS = {
    "ca": ("certificates_certificateauthority", "root"),
    "intermediate": ("certificates_certificateauthority", "inter"),
    "certificate": ("certificates_certificate", "cert"),
    "revoked-certificate": ("certificates_certificate", "revoked"),
    "audit": ("audit_auditlog", "audit"),
    "user": ("accounts_user", "user"),
    "organization": ("orgs_organization", "org"),
}


@pytest.mark.parametrize("model", sorted({name for name, _ in MODELS.values()}))
def test_changelist_loads_without_keys(console: Client, pki: dict[str, Model], model: str) -> None:
    response = console.get(reverse(f"admin:{model}_changelist"))

    assert response.status_code == 200
    assert_no_key(response)


@pytest.mark.parametrize(("model", "obj"), list(MODELS.values()), ids=list(MODELS))
def test_change_page_loads_without_keys(console: Client, pki: dict[str, Model], model: str, obj: str) -> None:
    response = console.get(reverse(f"admin:{model}_change", args=[pki[obj].pk]))

    assert response.status_code == 200
    assert_no_key(response)
    assert str(pki[obj]) in response.content.decode()


@pytest.mark.parametrize(
    ("model", "query"),
    [
        ("certificates_certificateauthority", "?q=Admin"),
        ("certificates_certificateauthority", "?key_algorithm__exact=ecdsa"),
        ("certificates_certificate", "?q=admin.example.com"),
        ("certificates_certificate", "?certificate_type__exact=server"),
        ("audit_auditlog", "?action__exact=cert_revoke"),
    ],
)
def test_search_and_filters(console: Client, pki: dict[str, Model], model: str, query: str) -> None:
    response = console.get(reverse(f"admin:{model}_changelist") + query)

    assert response.status_code == 200
    assert_no_key(response)


def test_index_loads(console: Client, pki: dict[str, Model]) -> None:
    response = console.get(reverse("admin:index"))

    assert response.status_code == 200
    assert_no_key(response)


def test_private_key_is_not_a_field_of_the_pki_forms(console: Client, pki: dict[str, Model]) -> None:
    for model, obj in (("certificates_certificateauthority", "root"), ("certificates_certificate", "cert")):
        body = console.get(reverse(f"admin:{model}_change", args=[pki[obj].pk])).content.decode()
        assert 'name="private_key"' not in body
        assert "field-private_key" not in body


# --- the audit log is read-only --------------------------------------------------------------------


def test_audit_entries_cannot_be_added(console: Client, pki: dict[str, Model]) -> None:
    count = AuditLog.objects.count()

    assert console.get(reverse("admin:audit_auditlog_add")).status_code == 403
    assert console.post(reverse("admin:audit_auditlog_add"), {"action": "ca_delete"}).status_code == 403
    assert AuditLog.objects.count() == count


def test_audit_entries_cannot_be_deleted(console: Client, pki: dict[str, Model]) -> None:
    entry = pki["audit"]
    url = reverse("admin:audit_auditlog_delete", args=[entry.pk])

    assert console.get(url).status_code == 403
    assert console.post(url, {"post": "yes"}).status_code == 403
    assert AuditLog.objects.filter(pk=entry.pk).exists()


def test_audit_entries_cannot_be_bulk_deleted(console: Client, pki: dict[str, Model]) -> None:
    ids = list(AuditLog.objects.values_list("pk", flat=True))

    response = console.post(
        reverse("admin:audit_auditlog_changelist"),
        {"action": "delete_selected", "_selected_action": ids, "post": "yes"},
    )

    assert response.status_code in (200, 302, 403)
    assert sorted(AuditLog.objects.values_list("pk", flat=True)) == sorted(ids)


def test_audit_entries_cannot_be_changed(console: Client, pki: dict[str, Model]) -> None:
    entry = pki["audit"]
    url = reverse("admin:audit_auditlog_change", args=[entry.pk])

    page = console.get(url)
    response = console.post(url, {"action": "ca_delete", "detail": "rewritten", "username": "mallory"})

    assert page.status_code == 200
    assert 'name="detail"' not in page.content.decode()  # shown, not editable
    assert response.status_code == 403
    again = AuditLog.objects.get(pk=entry.pk)
    assert (again.action, again.detail, again.username) == (entry.action, entry.detail, entry.username)


def test_pki_objects_are_not_edited_here_and_a_parent_is_not_deleted(console: Client, pki: dict[str, Model]) -> None:
    ca = pki["root"]  # the parent of "Admin Issuing"
    change = reverse("admin:certificates_certificateauthority_change", args=[ca.pk])

    edited = console.post(change, {"name": "renamed"})
    deleted = console.post(reverse("admin:certificates_certificateauthority_delete", args=[ca.pk]), {"post": "yes"})

    assert console.get(reverse("admin:certificates_certificateauthority_add")).status_code == 200  # a service form
    assert edited.status_code == 403
    assert (deleted.status_code, deleted["Location"]) == (302, change)
    assert CertificateAuthority.objects.get(pk=ca.pk).name == "Admin Root"


# --- who gets in -------------------------------------------------------------------------------------


@pytest.mark.parametrize(("persona", "gets_in"), [("admin_a", True), ("user_a", False), ("user_a_capable", False)])
@pytest.mark.parametrize(
    "path",
    ["admin:index", "admin:certificates_certificateauthority_changelist", "admin:audit_auditlog_changelist"],
)
def test_admins_get_in_and_users_do_not(request, pki: dict[str, Model], persona: str, gets_in: bool, path: str) -> None:
    client = Client()
    client.force_login(request.getfixturevalue(persona))
    url = reverse(path)

    response = client.get(url)

    if gets_in:
        assert response.status_code == 200
    else:
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    assert_no_key(response)


def test_anonymous_is_sent_to_login(pki: dict[str, Model]) -> None:
    response = Client().get(reverse("admin:certificates_certificate_changelist"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("admin:login"))


def test_admin_reaches_only_their_organizations_change_page(admin_a, admin_b, pki: dict[str, Model]) -> None:
    url = reverse("admin:certificates_certificateauthority_change", args=[pki["root"].pk])
    own, other = Client(), Client()
    own.force_login(admin_a)
    other.force_login(admin_b)

    mine = own.get(url)
    theirs = other.get(url, follow=True)

    assert mine.status_code == 200
    assert_no_key(mine)
    assert theirs.redirect_chain == [(reverse("admin:index"), 302)]
    assert "Admin Root" not in theirs.content.decode()
    assert_no_key(theirs)
