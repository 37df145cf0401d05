"""`/service-accounts`: create, list, read, update, delete, and who may do each (SPEC §13)."""

from __future__ import annotations

import pytest

from audit.models import AuditLog
from serviceaccounts.models import IssuancePolicy, ServiceAccount, ServiceAccountToken
from serviceaccounts.tests.conftest import API, WEB_POLICY, make_account, token_client

URL = f"{API}/service-accounts"
FIELDS = {
    "id", "name", "description", "organization_id", "created_by_user_id", "disabled_at", "can_create_ca",
    "can_create_cert", "can_revoke_cert", "can_export_private_key", "can_delete_ca", "created_at", "updated_at",
}  # fmt: skip


def _persona(request, name):
    return None if name == "anon" else request.getfixturevalue(name)


def _client(request, client_for, anon, name):
    persona = _persona(request, name)
    return anon if persona is None else client_for(persona)


# --- create ---------------------------------------------------------------------------------

# (persona, organization_id given: "own" = org A, "other" = org B, None = left out) -> status
CREATE = [
    ("superuser", "own", 201),
    ("superuser", "other", 201),
    ("superuser", None, 400),  # a superuser must name the organization
    ("admin_a", None, 201),  # defaults to the admin's own
    ("admin_a", "own", 201),
    ("admin_a", "other", 403),
    ("admin_b", "own", 403),
    ("user_a", None, 403),
    ("user_a_capable", None, 403),
    ("anon", None, 401),
]


@pytest.mark.parametrize(("persona", "org", "expected"), CREATE, ids=[f"{p}-{o}" for p, o, _ in CREATE])
def test_who_may_create(request, client_for, anon, org_a, org_b, persona, org, expected):
    body = {"name": "ci-deploy", "description": "CI pipeline", "can_create_cert": True}
    if org is not None:
        body["organization_id"] = (org_a if org == "own" else org_b).pk

    response = _client(request, client_for, anon, persona).post(f"{URL}/", body)

    assert response.status_code == expected, response.content
    if expected == 201:
        data = response.json()
        assert set(data) == FIELDS
        assert (data["name"], data["description"], data["can_create_cert"], data["can_revoke_cert"]) == (
            "ci-deploy", "CI pipeline", True, False,
        )  # fmt: skip
        assert data["organization_id"] == (org_b.pk if org == "other" else org_a.pk)
        assert data["disabled_at"] is None
        entry = AuditLog.objects.get(action="service_account_create")
        assert (entry.resource_id, entry.organization_id) == (data["id"], data["organization_id"])
    else:
        assert not ServiceAccount.objects.exists()
        assert not AuditLog.objects.filter(action="service_account_create").exists()


def test_a_service_account_cannot_create_service_accounts(client_for, org_a):
    robot = make_account(org_a, "robot")

    response = token_client(robot).post(f"{URL}/", {"name": "child"})

    assert response.status_code == 403
    assert list(ServiceAccount.objects.values_list("name", flat=True)) == ["robot"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": ""}, "name"),
        ({"name": "   "}, "name"),
        ({"name": "x" * 101}, "name"),
        ({"name": "bad\nname"}, "name"),
        ({}, "name"),
        ({"name": "ok", "organization_id": 999999}, "organization_id"),
        ({"name": "ok", "can_create_cert": "maybe"}, "can_create_cert"),
    ],
)
def test_invalid_create_is_400_naming_the_field(client_for, superuser, org_a, body, field):
    body = {"organization_id": org_a.pk, **body}

    response = client_for(superuser).post(URL, body)

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"]
    assert not ServiceAccount.objects.exists()


def test_names_are_unique_per_organization_ignoring_case(client_for, superuser, org_a, org_b):
    client = client_for(superuser)
    assert client.post(URL, {"name": "deployer", "organization_id": org_a.pk}).status_code == 201

    same_org = client.post(URL, {"name": "DEPLOYER", "organization_id": org_a.pk})
    other_org = client.post(URL, {"name": "deployer", "organization_id": org_b.pk})

    assert same_org.status_code == 400
    assert same_org.json()["errors"] == {"name": [same_org.json()["detail"]]}
    assert other_org.status_code == 201


# --- list and read --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("persona", "expected"),
    [
        ("superuser", ["a1", "b1", "a2"]),  # id order
        ("admin_a", ["a1", "a2"]),
        ("admin_b", ["b1"]),
        ("user_a", 403),
        ("user_a_capable", 403),
        ("anon", 401),
    ],
)
def test_who_sees_which_accounts(request, client_for, anon, org_a, org_b, persona, expected):
    for name, org in [("a1", org_a), ("b1", org_b), ("a2", org_a)]:
        make_account(org, name)

    response = _client(request, client_for, anon, persona).get(URL)

    if isinstance(expected, int):
        assert response.status_code == expected
    else:
        assert response.status_code == 200
        assert [a["name"] for a in response.json()] == expected
        assert response["X-Total-Count"] == str(len(expected))


def test_list_paginates_with_skip_and_limit(client_for, superuser, org_a):
    for n in range(5):
        make_account(org_a, f"bot{n}")

    response = client_for(superuser).get(URL, {"skip": 1, "limit": 2})

    assert [a["name"] for a in response.json()] == ["bot1", "bot2"]
    assert response["X-Total-Count"] == "5"


# (persona) -> status of GET, PATCH and DELETE on an account of organization A
OBJECT_ACCESS = [
    ("superuser", 200),
    ("admin_a", 200),
    ("admin_b", 403),
    ("user_a", 403),
    ("user_a_capable", 403),
    ("anon", 401),
]


@pytest.mark.parametrize(("persona", "expected"), OBJECT_ACCESS)
def test_who_may_read(request, client_for, anon, org_a, persona, expected):
    account = make_account(org_a)

    response = _client(request, client_for, anon, persona).get(f"{URL}/{account.pk}")

    assert response.status_code == expected
    if expected == 200:
        assert response.json()["name"] == "deployer"


@pytest.mark.parametrize(("persona", "expected"), OBJECT_ACCESS)
def test_who_may_update(request, client_for, anon, org_a, persona, expected):
    account = make_account(org_a)

    response = _client(request, client_for, anon, persona).patch(f"{URL}/{account.pk}", {"can_revoke_cert": True})

    assert response.status_code == expected
    account.refresh_from_db()
    assert account.can_revoke_cert is (expected == 200)


@pytest.mark.parametrize(("persona", "expected"), OBJECT_ACCESS)
def test_who_may_delete(request, client_for, anon, org_a, persona, expected):
    account = make_account(org_a)

    response = _client(request, client_for, anon, persona).delete(f"{URL}/{account.pk}/")

    assert response.status_code == (204 if expected == 200 else expected)
    assert ServiceAccount.objects.filter(pk=account.pk).exists() is (expected != 200)


def test_missing_account_is_404(client_for, superuser):
    assert client_for(superuser).get(f"{URL}/999999").status_code == 404


def test_put_is_not_offered(client_for, superuser, org_a):
    account = make_account(org_a)

    assert client_for(superuser).put(f"{URL}/{account.pk}", {"name": "x"}).status_code == 405


# --- update ---------------------------------------------------------------------------------


def test_patch_changes_only_what_is_given(client_for, admin_a, org_a):
    account = make_account(org_a, description="keep me", can_create_cert=True)

    response = client_for(admin_a).patch(f"{URL}/{account.pk}", {"name": "renamed", "can_revoke_cert": True})

    assert response.status_code == 200
    data = response.json()
    assert (data["name"], data["description"], data["can_create_cert"], data["can_revoke_cert"]) == (
        "renamed", "keep me", True, True,
    )  # fmt: skip
    entry = AuditLog.objects.get(action="service_account_update")
    assert entry.username == admin_a.username
    assert "name" in entry.detail and "can_revoke_cert" in entry.detail


def test_disable_then_enable(client_for, admin_a, org_a):
    account = make_account(org_a)
    client = client_for(admin_a)

    disabled = client.patch(f"{URL}/{account.pk}", {"disabled": True}).json()
    again = client.patch(f"{URL}/{account.pk}", {"disabled": True}).json()
    enabled = client.patch(f"{URL}/{account.pk}", {"disabled": False}).json()

    assert disabled["disabled_at"] is not None
    assert again["disabled_at"] == disabled["disabled_at"]  # disabling twice keeps the first time
    assert enabled["disabled_at"] is None


def test_rename_to_a_taken_name_is_400(client_for, admin_a, org_a):
    make_account(org_a, "taken")
    account = make_account(org_a, "mine")

    response = client_for(admin_a).patch(f"{URL}/{account.pk}", {"name": "Taken"})

    assert response.status_code == 400
    account.refresh_from_db()
    assert account.name == "mine"


def test_the_organization_cannot_be_changed(client_for, superuser, org_a, org_b):
    account = make_account(org_a)

    client_for(superuser).patch(f"{URL}/{account.pk}", {"organization_id": org_b.pk})

    account.refresh_from_db()
    assert account.organization_id == org_a.pk


# --- delete ---------------------------------------------------------------------------------


def test_delete_takes_tokens_and_policy_with_it(client_for, admin_a, org_a):
    account = make_account(org_a)
    robot = token_client(account)
    client_for(admin_a).put(f"{URL}/{account.pk}/policy", WEB_POLICY)
    assert robot.get(f"{API}/cas/").status_code == 200

    response = client_for(admin_a).delete(f"{URL}/{account.pk}")

    assert response.status_code == 204
    assert not ServiceAccountToken.objects.exists()
    assert not IssuancePolicy.objects.exists()
    assert robot.get(f"{API}/cas/").status_code == 401
    entry = AuditLog.objects.get(action="service_account_delete")
    assert (entry.resource_id, entry.username) == (account.pk, admin_a.username)


def test_an_organization_with_accounts_is_not_deleted_until_they_are(client_for, superuser, org_b):
    # SPEC §4: service accounts left -> 409 naming them; deleting the account first lets it go.
    account = make_account(org_b)
    robot = token_client(account)
    client = client_for(superuser)

    refused = client.delete(f"{API}/organizations/{org_b.pk}")
    assert refused.status_code == 409, refused.content
    assert "1 service account(s)" in refused.json()["detail"]
    assert robot.get(f"{API}/cas/").status_code == 200

    assert client.delete(f"{API}/service-accounts/{account.pk}").status_code == 204
    response = client.delete(f"{API}/organizations/{org_b.pk}")

    assert response.status_code == 204, response.content
    assert not ServiceAccount.objects.exists()
    assert not ServiceAccountToken.objects.exists()
    assert robot.get(f"{API}/cas/").status_code == 401
