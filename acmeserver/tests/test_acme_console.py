"""ACME in the admin console: CA admins turn ACME on and off; superusers make bindings (the key
shown once), read accounts and bindings (never a key) and revoke bindings."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import reverse

from acmeserver.models import AcmeAccount, EabCredential
from acmeserver.services import eab_create
from audit.models import AuditLog
from certificates.models import CertificateAuthority
from certificates.tests.conftest import create_ca
from certificates.tests.test_admin_cas import console
from serviceaccounts.tests.conftest import make_account


def _action(name: str, *objects) -> dict:
    return {"action": name, "_selected_action": [str(obj.pk) for obj in objects]}


def test_an_admin_turns_acme_on_and_off_from_the_ca_list(admin_a):
    ca = create_ca(admin_a, "Console CA", key_algorithm="ecdsa", key_size=256)
    url = reverse("admin:certificates_certificateauthority_changelist")

    on = console(admin_a).post(url, _action("acme_on", ca), follow=True)

    assert on.status_code == 200 and "ACME is on for 1 CA(s)." in on.content.decode()
    assert CertificateAuthority.objects.get(pk=ca.pk).acme_enabled is True
    console(admin_a).post(url, _action("acme_off", ca))
    assert CertificateAuthority.objects.get(pk=ca.pk).acme_enabled is False
    assert AuditLog.objects.filter(action="ca_update", resource_id=ca.pk).count() == 2


def test_a_user_without_the_permission_is_not_offered_the_actions(admin_a, user_a):
    create_ca(admin_a, "Console CA", key_algorithm="ecdsa", key_size=256)

    body = console(user_a).get(reverse("admin:certificates_certificateauthority_changelist")).content.decode()

    assert "acme_on" not in body and "acme_off" not in body


def test_a_superuser_makes_a_binding_and_sees_its_key_once(superuser, org_a):
    robot = make_account(org_a, "console-bot")
    client = Client()
    client.force_login(superuser)

    page = client.post(reverse("admin:serviceaccounts_serviceaccount_changelist"), _action("make_acme_binding", robot))

    assert page.status_code == 200 and "no-store" in page["Cache-Control"]
    body = page.content.decode()
    kid = re.search(r'class="eab-kid">([A-Za-z0-9_-]+)<', body).group(1)
    key = re.search(r'class="eab-hmac-key">([A-Za-z0-9_-]+)<', body).group(1)
    credential = EabCredential.objects.get(kid=kid, service_account=robot)
    assert AuditLog.objects.filter(action="acme_eab_create").count() == 1
    # The binding's own page never shows the key again.
    detail = client.get(reverse("admin:acmeserver_eabcredential_change", args=[credential.pk])).content.decode()
    assert kid in detail and key not in detail and credential.hmac_key not in detail


def test_a_superuser_revokes_bindings_and_reads_accounts(superuser, admin_a, org_a):
    robot = make_account(org_a, "console-bot")
    credential, _ = eab_create(actor=admin_a, account=robot)
    ca = create_ca(admin_a, "Console CA", key_algorithm="ecdsa", key_size=256)
    AcmeAccount.objects.create(ca=ca, thumbprint="t" * 43, jwk={"kty": "EC"}, service_account=robot)
    client = Client()
    client.force_login(superuser)

    client.post(reverse("admin:acmeserver_eabcredential_changelist"), _action("revoke", credential))
    accounts = client.get(reverse("admin:acmeserver_acmeaccount_changelist"))

    assert EabCredential.objects.get(pk=credential.pk).revoked_at is not None
    assert AuditLog.objects.filter(action="acme_eab_revoke").count() == 1
    assert accounts.status_code == 200 and "Console CA" in accounts.content.decode()


@pytest.mark.parametrize("persona", ["admin_a", "user_a"])
def test_others_cannot_make_bindings_or_read_acme_pages(request, persona, org_a):
    robot = make_account(org_a, "console-bot")
    client = Client()
    client.force_login(request.getfixturevalue(persona))

    made = client.post(reverse("admin:serviceaccounts_serviceaccount_changelist"), _action("make_acme_binding", robot))
    listed = client.get(reverse("admin:acmeserver_eabcredential_changelist"))

    assert made.status_code in (302, 403) and listed.status_code in (302, 403)
    assert not EabCredential.objects.exists()
