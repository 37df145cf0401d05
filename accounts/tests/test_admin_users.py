"""People in the admin console: fields by the policy, saves through accounts.services (SPEC §3, §14)."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from accounts.models import CAPABILITY_FLAGS, AuthSession, Role, User
from accounts.tokens import session_start
from audit.models import AuditAction, AuditLog
from tests.factories import PASSWORD, UserFactory

CHANGELIST = reverse("admin:accounts_user_changelist")
ADD = reverse("admin:accounts_user_add")
NEW_PASSWORD = "a-new-long-passphrase"


def change_url(user: User) -> str:
    return reverse("admin:accounts_user_change", args=[user.pk])


def password_url(user: User) -> str:
    return reverse("admin:auth_user_password_change", args=[user.pk])


@pytest.fixture
def superuser_in_a(org_a) -> User:
    return UserFactory(username="sam_super", role=Role.SUPERUSER, organization=org_a)


def console(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def editable(body: str, field: str) -> bool:
    """Whether the page offers `field` as an input that is not disabled."""
    marker = f'name="{field}"'
    if marker not in body:
        return False
    tag = body[body.rindex("<", 0, body.index(marker)) : body.index(">", body.index(marker))]
    return "disabled" not in tag


def form_data(user: User, **changes: Any) -> dict[str, Any]:
    """The change form as the browser would post it, with `changes` applied."""
    data: dict[str, Any] = {"email": user.email, "role": user.role, "organization": user.organization_id or ""}
    data.update({name: "on" for name in CAPABILITY_FLAGS if getattr(user, name)})
    if user.is_active:
        data["is_active"] = "on"
    for name, value in changes.items():
        if value is False:
            data.pop(name, None)
        else:
            data[name] = "on" if value is True else value
    return data


# --- the list ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("persona", "organizations"), [("superuser", True), ("admin_a", False)])
def test_the_list_shows_role_flags_and_state(request, user_a_capable, persona: str, organizations: bool) -> None:
    """The organization column and filter only for superusers: an admin's list has one organization."""
    body = console(request.getfixturevalue(persona)).get(CHANGELIST).content.decode()

    for text in ("dave", "Role", "Is active", "Can create ca", "Can export private key"):
        assert text in body
    assert ("column-organization" in body, "By organization" in body) == (organizations, organizations)


@pytest.mark.parametrize(
    ("query", "shown", "hidden"), [("?role__exact=admin", "alice_admin", "carol"), ("?q=carol", "carol", "dave")]
)
def test_filters_and_search(admin_a, user_a, user_a_capable, query: str, shown: str, hidden: str) -> None:
    body = console(admin_a).get(CHANGELIST + query).content.decode()

    assert f">{shown}<" in body
    assert f">{hidden}<" not in body


def test_flags_are_editable_in_the_list_only_where_the_policy_allows(admin_a, user_a, superuser_in_a) -> None:
    body = console(admin_a).get(CHANGELIST).content.decode()
    rows = {user.username: i for i, user in enumerate(User.objects.filter(organization=admin_a.organization))}

    assert editable(body, f"form-{rows['carol']}-can_create_ca")
    assert not editable(body, f"form-{rows['sam_super']}-can_create_ca")  # an admin's authority stops at superusers


def list_post(users: list[User], **flags: dict[str, bool]) -> dict[str, Any]:
    """The list's formset, saving `flags[username]` for each listed user."""
    data: dict[str, Any] = {
        "form-TOTAL_FORMS": str(len(users)),
        "form-INITIAL_FORMS": str(len(users)),
        "_save": "Save",
    }
    for i, user in enumerate(users):
        data[f"form-{i}-id"] = str(user.pk)
        wanted = {name: getattr(user, name) for name in CAPABILITY_FLAGS} | flags.get(user.username, {})
        data.update({f"form-{i}-{name}": "on" for name, value in wanted.items() if value})
    return data


def test_saving_flags_from_the_list_goes_through_user_update(admin_a, user_a) -> None:
    users = list(User.objects.filter(organization=admin_a.organization).order_by("id"))

    response = console(admin_a).post(CHANGELIST, list_post(users, carol={"can_revoke_cert": True}))

    assert response.status_code == 302
    assert User.objects.get(pk=user_a.pk).can_revoke_cert is True
    entry = AuditLog.objects.get(action=AuditAction.USER_UPDATE)
    assert (entry.username, entry.resource_id, entry.detail) == (
        "alice_admin",
        user_a.pk,
        "updated user carol: can_revoke_cert",
    )


def test_flags_of_a_row_the_admin_may_not_change_are_ignored(admin_a, user_a, superuser_in_a) -> None:
    users = list(User.objects.filter(organization=admin_a.organization).order_by("id"))

    console(admin_a).post(CHANGELIST, list_post(users, sam_super={"can_delete_ca": True}))

    assert User.objects.get(pk=superuser_in_a.pk).can_delete_ca is False
    assert not AuditLog.objects.filter(action=AuditAction.USER_UPDATE).exists()


def test_a_refused_row_saves_no_row(superuser, user_a, user_b) -> None:
    """Superusers may change anyone's flags; a failing row (a vanished user) keeps the others unsaved."""
    users = [user_a, user_b]
    data = list_post(users, carol={"can_create_ca": True}, erin={"can_create_ca": True})
    data["form-1-id"] = "999999"

    response = console(superuser).post(CHANGELIST, data)

    assert response.status_code in (200, 400)
    assert User.objects.get(pk=user_a.pk).can_create_ca is False


# --- the change page --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("actor", "target", "fields"),
    [
        ("admin_a", "user_a", {"email", "can_create_ca"}),
        ("admin_a", "admin_a", {"email", "can_create_ca"}),
        ("admin_a", "superuser_in_a", set()),
        ("superuser", "user_a", {"email", "can_create_ca", "role", "is_active", "organization"}),
    ],
)
def test_the_change_page_offers_only_what_the_api_would_let_change(
    request, actor: str, target: str, fields: set[str]
) -> None:
    user = request.getfixturevalue(target)

    body = console(request.getfixturevalue(actor)).get(change_url(user)).content.decode()

    offered = {name for name in ("email", "can_create_ca", "role", "is_active", "organization") if editable(body, name)}
    assert offered == fields
    assert user.username in body
    assert (password_url(user) in body or "../password/" in body) is bool(fields)
    assert user.password not in body and user.password[-20:] not in body  # never the hash


def test_an_admin_posting_a_role_changes_nothing_but_what_the_form_offers(admin_a, user_a, org_b) -> None:
    data = form_data(user_a, role=Role.SUPERUSER, organization=org_b.pk, is_active=False, can_create_ca=True)

    response = console(admin_a).post(change_url(user_a), data)

    user = User.objects.get(pk=user_a.pk)
    assert response.status_code == 302
    assert (user.role, user.organization_id, user.is_active, user.can_create_ca) == (
        Role.USER, admin_a.organization_id, True, True,
    )  # fmt: skip
    assert AuditLog.objects.get(action=AuditAction.USER_UPDATE).detail == "updated user carol: can_create_ca"


def test_an_admin_cannot_post_to_a_superusers_page(admin_a, superuser_in_a) -> None:
    response = console(admin_a).post(change_url(superuser_in_a), form_data(superuser_in_a, email="mine@example.com"))

    assert response.status_code == 403
    assert User.objects.get(pk=superuser_in_a.pk).email == superuser_in_a.email


def test_deactivating_a_user_ends_their_api_sessions(superuser, user_a) -> None:
    session_start(user=user_a)

    response = console(superuser).post(change_url(user_a), form_data(user_a, is_active=False))

    assert response.status_code == 302
    assert User.objects.get(pk=user_a.pk).is_active is False
    assert AuthSession.objects.get(user=user_a).revoked_reason == "deactivated"


def test_the_services_refusals_are_form_errors(superuser) -> None:
    """The last superuser cannot demote themselves: user_update says so, and nothing is saved."""
    response = console(superuser).post(change_url(superuser), form_data(superuser, role=Role.USER))

    assert response.status_code == 200
    assert "A superuser cannot demote or deactivate themselves." in response.content.decode()
    assert User.objects.get(pk=superuser.pk).role == Role.SUPERUSER
    assert not AuditLog.objects.filter(action=AuditAction.USER_UPDATE).exists()


# --- the password -----------------------------------------------------------------------------


def test_an_admin_sets_a_members_password_with_djangos_form(admin_a, user_a) -> None:
    session_start(user=user_a)
    client = console(admin_a)

    page = client.get(password_url(user_a))
    response = client.post(password_url(user_a), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert page.status_code == 200
    assert "Disable password-based authentication" not in page.content.decode()
    assert response.status_code == 302
    assert User.objects.get(pk=user_a.pk).check_password(NEW_PASSWORD)
    assert AuthSession.objects.get(user=user_a).revoked_reason == "password_change"
    assert AuditLog.objects.get(action=AuditAction.USER_UPDATE).detail == "updated user carol: password"
    assert client.get(reverse("admin:index")).status_code == 200  # the admin is still signed in


def test_changing_ones_own_password_keeps_one_signed_in(admin_a) -> None:
    client = console(admin_a)

    client.post(password_url(admin_a), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert client.get(reverse("admin:index")).status_code == 200


@pytest.mark.parametrize(
    ("password1", "password2", "message"),
    [("a-new-long-passphrase", "something-else-entirely", "match"), ("12345678", "12345678", "too common")],
)
def test_a_bad_password_is_refused_on_the_form(admin_a, user_a, password1: str, password2: str, message: str) -> None:
    old_hash = user_a.password

    response = console(admin_a).post(password_url(user_a), {"password1": password1, "password2": password2})

    assert response.status_code == 200
    assert message in response.content.decode()
    assert User.objects.get(pk=user_a.pk).password == old_hash


def test_an_admin_cannot_set_a_superusers_password(admin_a, superuser_in_a) -> None:
    client = console(admin_a)

    page = client.get(password_url(superuser_in_a))
    posted = client.post(password_url(superuser_in_a), {"password1": NEW_PASSWORD, "password2": NEW_PASSWORD})

    assert (page.status_code, posted.status_code) == (403, 403)
    assert not User.objects.get(pk=superuser_in_a.pk).check_password(NEW_PASSWORD)


# --- adding and deleting ----------------------------------------------------------------------


def new_user(**fields: Any) -> dict[str, Any]:
    return {
        "username": "frank",
        "email": "frank@example.com",
        "password1": NEW_PASSWORD,
        "password2": NEW_PASSWORD,
    } | fields


def test_an_admins_new_user_joins_the_admins_organization(admin_a, org_b) -> None:
    client = console(admin_a)

    page = client.get(ADD).content.decode()
    response = client.post(ADD, new_user(role=Role.ADMIN, organization=org_b.pk, can_create_cert="on"))

    assert 'name="role"' not in page and 'name="organization"' not in page
    frank = User.objects.get(username="frank")
    assert response.status_code == 302
    assert (frank.role, frank.organization_id, frank.can_create_cert) == (Role.USER, admin_a.organization_id, True)
    assert frank.check_password(NEW_PASSWORD)
    assert AuditLog.objects.get(action=AuditAction.USER_CREATE).username == "alice_admin"


def test_a_superuser_creates_an_admin_of_any_organization(superuser, org_b) -> None:
    response = console(superuser).post(ADD, new_user(role=Role.ADMIN, organization=org_b.pk))

    frank = User.objects.get(username="frank")
    assert response.status_code == 302
    assert (frank.role, frank.organization_id) == (Role.ADMIN, org_b.pk)


def test_a_duplicate_email_is_a_form_error(admin_a, user_a) -> None:
    response = console(admin_a).post(ADD, new_user(email=user_a.email.upper()))

    assert response.status_code == 200
    assert "already exists" in response.content.decode()
    assert not User.objects.filter(username="frank").exists()


def test_only_superusers_delete_and_never_themselves(superuser, admin_a, user_a) -> None:
    refused = console(admin_a).post(reverse("admin:accounts_user_delete", args=[user_a.pk]), {"post": "yes"})
    deleted = console(superuser).post(reverse("admin:accounts_user_delete", args=[user_a.pk]), {"post": "yes"})
    client = console(superuser)
    themselves = client.post(reverse("admin:accounts_user_delete", args=[superuser.pk]), {"post": "yes"})

    assert refused.status_code == 403
    assert deleted.status_code == 302
    assert not User.objects.filter(pk=user_a.pk).exists()
    assert AuditLog.objects.get(action=AuditAction.USER_DELETE).resource_id == user_a.pk
    assert themselves["Location"] == change_url(superuser)
    assert "A superuser cannot delete themselves." in client.get(themselves["Location"]).content.decode()
    assert User.objects.filter(pk=superuser.pk).exists()


def test_the_headers_change_password_goes_through_user_update(admin_a) -> None:
    session_start(user=admin_a)
    client = console(admin_a)
    form = {"old_password": PASSWORD, "new_password1": NEW_PASSWORD, "new_password2": NEW_PASSWORD}

    wrong = client.post(reverse("admin:password_change"), form | {"old_password": "not-it"})
    response = client.post(reverse("admin:password_change"), form)

    assert "Your old password was entered incorrectly" in wrong.content.decode()
    assert response["Location"] == reverse("admin:password_change_done")
    assert User.objects.get(pk=admin_a.pk).check_password(NEW_PASSWORD)
    assert AuthSession.objects.get(user=admin_a).revoked_reason == "password_change"
    assert AuditLog.objects.get(action=AuditAction.USER_UPDATE).detail == "updated user alice_admin: password"
    assert client.get(reverse("admin:index")).status_code == 200  # still signed in
