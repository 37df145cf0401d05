"""Who gets into the admin console and what each person sees there (SPEC §14), as tables."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.cache import cache
from django.test import Client
from django.urls import reverse

from audit.models import AuditAction, AuditLog
from certificates.tests.conftest import create_ca, issue_certificate
from serviceaccounts.tests.conftest import make_account, token_client
from tests.factories import PASSWORD

OK, GONE, LOGIN = "ok", "gone", "login"  # 200; "does not exist" redirect; sent to sign in

MODELS = {
    "user": "accounts_user",
    "organization": "orgs_organization",
    "ca": "certificates_certificateauthority",
    "certificate": "certificates_certificate",
    "audit": "audit_auditlog",
}
# What names each organization's object in pages (a username, a CA name, a common name…).
MARKERS = {
    "user": ("carol", "erin"),
    "organization": ("Org A", "Org B"),
    "ca": ("Root A", "Root B"),
    "certificate": ("a.example.com", "b.example.com"),
    "audit": ("Root A", "Root B"),
}
# persona -> (list page, object of organization A, object of organization B). Written from SPEC §14.
EXPECTED = {
    "superuser": (OK, OK, OK),
    "admin_a": (OK, OK, GONE),
    "admin_b": (OK, GONE, OK),
    "user_a": (LOGIN, LOGIN, LOGIN),
    "user_a_capable": (LOGIN, LOGIN, LOGIN),
}
SEES = {"superuser": (True, True), "admin_a": (True, False), "admin_b": (False, True)}


@pytest.fixture
def world(superuser, admin_a, admin_b, user_a, user_a_capable, user_b, org_a, org_b) -> dict[str, tuple[Any, Any]]:
    """One object of each kind in each organization."""
    root_a, root_b = create_ca(admin_a, "Root A"), create_ca(admin_b, "Root B")
    cert_a = issue_certificate(admin_a, root_a, "a.example.com")
    cert_b = issue_certificate(admin_b, root_b, "b.example.com")
    audit = AuditLog.objects.filter(action=AuditAction.CA_CREATE)
    return {
        "user": (user_a, user_b),
        "organization": (org_a, org_b),
        "ca": (root_a, root_b),
        "certificate": (cert_a, cert_b),
        "audit": (audit.get(organization_id=org_a.pk), audit.get(organization_id=org_b.pk)),
    }


def signed_in(request, persona: str) -> Client:
    client = Client()
    client.force_login(request.getfixturevalue(persona))
    return client


def outcome(response: Any) -> str:
    if response.status_code == 200:
        return OK
    assert response.status_code == 302, response.status_code
    if response["Location"].startswith(reverse("admin:login")):
        return LOGIN
    assert response["Location"] == reverse("admin:index")  # Django's "… doesn't exist" redirect
    return GONE


CASES = [
    (persona, model, view, expected[i])
    for persona, expected in EXPECTED.items()
    for model in MODELS
    for i, view in enumerate(("changelist", "object_a", "object_b"))
]


@pytest.mark.parametrize(("persona", "model", "view", "expected"), CASES, ids=["-".join(case) for case in CASES])
def test_access_table(request, world, persona: str, model: str, view: str, expected: str) -> None:
    client = signed_in(request, persona)
    if view == "changelist":
        url = reverse(f"admin:{MODELS[model]}_changelist")
    else:
        obj = world[model][0 if view == "object_a" else 1]
        url = reverse(f"admin:{MODELS[model]}_change", args=[obj.pk])

    response = client.get(url)

    assert outcome(response) == expected
    if expected == GONE:  # nothing of the object on the page it lands on
        landed = client.get(response["Location"]).content.decode()
        assert MARKERS[model][1 if view == "object_b" else 0] not in landed


@pytest.mark.parametrize("model", list(MODELS))
@pytest.mark.parametrize("persona", list(SEES))
def test_lists_show_only_what_the_policy_lets_see(request, world, persona: str, model: str) -> None:
    body = signed_in(request, persona).get(reverse(f"admin:{MODELS[model]}_changelist")).content.decode()

    assert (MARKERS[model][0] in body, MARKERS[model][1] in body) == SEES[persona]


def object_urls(model: str, pk: int) -> list[str]:
    """Every page and download of one object, for URL guessing."""
    name = MODELS[model]
    urls = [reverse(f"admin:{name}_{view}", args=[pk]) for view in ("change", "history", "delete")]
    if model == "user":
        urls.append(reverse("admin:auth_user_password_change", args=[pk]))
    if model in ("ca", "certificate"):
        urls += [reverse(f"admin:{name}_{view}", args=[pk]) for view in ("certificate", "chain")]
    if model == "certificate":
        urls.append(reverse("admin:certificates_certificate_private_key", args=[pk]))
    return urls


@pytest.mark.parametrize("model", list(MODELS))
def test_guessing_urls_of_another_organization_shows_nothing(request, world, model: str) -> None:
    client = signed_in(request, "admin_a")
    other = world[model][1]

    for url in object_urls(model, other.pk):
        for response in (client.get(url), client.post(url, {"post": "yes"})):
            assert response.status_code in (302, 403, 404, 405), url
            assert MARKERS[model][1] not in response.content.decode(), url
            if response.status_code == 302:
                assert MARKERS[model][1] not in client.get(response["Location"]).content.decode(), url
    assert type(other).objects.filter(pk=other.pk).exists()


@pytest.mark.parametrize("persona", ["user_a", "user_a_capable"])
@pytest.mark.parametrize("model", list(MODELS))
def test_regular_users_are_sent_to_sign_in_from_every_object_url(request, world, persona: str, model: str) -> None:
    client = signed_in(request, persona)

    for url in object_urls(model, world[model][0].pk):
        response = client.get(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith(reverse("admin:login")), url


def test_the_index_lists_the_consoles_sections_for_an_admin(request, world) -> None:
    body = signed_in(request, "admin_a").get(reverse("admin:index")).content.decode()

    for name in MODELS.values():
        assert reverse(f"admin:{name}_changelist") in body
    assert "Groups" not in body  # Django's groups are not ours
    assert reverse("admin:serviceaccounts_serviceaccount_changelist") not in body  # superusers only


def test_a_service_account_token_does_not_open_the_console(org_a) -> None:
    """Machines have a token and no password: the console knows only signed-in people."""
    robot = token_client(make_account(org_a, "robot", can_create_cert=True))
    assert robot.get("/api/v1/certificates/").status_code == 200  # the token itself works

    for url in (reverse("admin:index"), reverse("admin:certificates_certificate_changelist")):
        response = robot.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))


# --- signing in through the form --------------------------------------------------------------


def sign_in(username: str, password: str = PASSWORD) -> Any:
    form = {"username": username, "password": password, "next": reverse("admin:index")}  # as the page sends
    return Client().post(reverse("admin:login"), form, follow=True)


@pytest.mark.parametrize(("persona", "gets_in"), [("superuser", True), ("admin_a", True), ("user_a", False)])
def test_sign_in_with_the_normal_password(request, persona: str, gets_in: bool) -> None:
    user = request.getfixturevalue(persona)

    response = sign_in(user.username)

    assert response.wsgi_request.user.is_authenticated is gets_in
    assert (response.redirect_chain[-1][0] if response.redirect_chain else None) == (
        reverse("admin:index") if gets_in else None
    )
    entry = AuditLog.objects.get(resource_type="user", resource_id=user.pk)
    assert entry.action == (AuditAction.LOGIN_SUCCESS if gets_in else AuditAction.LOGIN_FAILURE)


def test_a_regular_user_is_told_the_console_is_not_for_them(user_a) -> None:
    body = sign_in(user_a.username).content.decode()

    assert "cannot sign in to the admin console" in body
    assert "for administrators and superusers" in body


@pytest.mark.parametrize("case", ["wrong-password", "unknown-user", "inactive-admin"])
def test_bad_credentials_get_djangos_message_and_an_audit_entry(admin_a, case: str) -> None:
    if case == "inactive-admin":
        admin_a.is_active = False
        admin_a.save()
    username = "nobody" if case == "unknown-user" else admin_a.username
    password = "wrong-password" if case == "wrong-password" else PASSWORD

    response = sign_in(username, password)

    assert not response.wsgi_request.user.is_authenticated
    assert "Please enter the correct username and password" in response.content.decode()
    assert AuditLog.objects.get(action=AuditAction.LOGIN_FAILURE).username == username


def test_sign_in_attempts_share_the_apis_throttle(settings, admin_a) -> None:
    settings.AUTH_RATE_LIMIT = "2/minute"
    cache.clear()  # earlier tests' attempts from the same address

    first, second = sign_in(admin_a.username, "wrong-one"), sign_in(admin_a.username, "wrong-two")
    third = sign_in(admin_a.username)  # the right password, too late

    assert "Too many sign-in attempts" not in first.content.decode() + second.content.decode()
    assert "Too many sign-in attempts" in third.content.decode()
    assert not third.wsgi_request.user.is_authenticated
