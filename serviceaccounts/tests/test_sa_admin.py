"""Service accounts in the Django admin: read-only, superusers only, never a token hash."""

from __future__ import annotations

import pytest
from django.urls import reverse

from serviceaccounts.models import ServiceAccount, ServiceAccountToken
from serviceaccounts.tests.conftest import make_account, token_client


@pytest.fixture
def token(org_a) -> ServiceAccountToken:
    token_client(make_account(org_a, "robot"))
    return ServiceAccountToken.objects.get()


@pytest.mark.parametrize("model", ["serviceaccount", "serviceaccounttoken", "issuancepolicy"])
@pytest.mark.parametrize(("persona", "shown"), [("superuser", True), ("admin_a", False), ("user_a", False)])
def test_only_superusers_see_the_lists(request, client, token, model, persona, shown):
    client.force_login(request.getfixturevalue(persona))

    response = client.get(reverse(f"admin:serviceaccounts_{model}_changelist"))

    # Others are sent to the login page (no console) or refused (console, but not these pages).
    assert response.status_code == 200 if shown else response.status_code in (302, 403)
    assert (token.public_id in response.content.decode()) is (shown and model == "serviceaccounttoken")


def test_pages_are_read_only_and_hide_the_hash(client, superuser, token):
    client.force_login(superuser)

    add = client.get(reverse("admin:serviceaccounts_serviceaccount_add"))
    page = client.get(reverse("admin:serviceaccounts_serviceaccounttoken_change", args=[token.pk]))
    posted = client.post(reverse("admin:serviceaccounts_serviceaccount_change", args=[token.service_account_id]), {
        "name": "renamed",
    })  # fmt: skip

    assert add.status_code == 403
    assert page.status_code == 200
    assert token.public_id in page.content.decode()
    assert token.secret_hash not in page.content.decode()
    assert posted.status_code == 403
    assert ServiceAccount.objects.get().name == "robot"
