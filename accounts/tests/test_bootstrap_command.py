"""`manage.py bootstrap`: the first superuser from the console (SPEC §14)."""

from __future__ import annotations

import getpass
import io
import sys

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from accounts.models import Role, SystemState, User
from audit.models import AuditAction, AuditLog
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

GOOD_PASSWORD = "stable-orbit-lantern"


class FakeTerminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.fixture(autouse=True)
def _no_password_in_env(monkeypatch):
    monkeypatch.delenv("PKI_BOOTSTRAP_PASSWORD", raising=False)


@pytest.fixture
def terminal(monkeypatch):
    """A TTY on stdin whose getpass prompts answer from `answers`, in order."""
    answers: list[str] = []
    monkeypatch.setattr(sys, "stdin", FakeTerminal())
    monkeypatch.setattr(getpass, "getpass", lambda prompt="": answers.pop(0))
    return answers


def bootstrap(*args: str) -> tuple[str, str]:
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "bootstrap",
        "--username",
        "admin",
        "--email",
        "admin@example.com",
        *args,
        stdout=out,
        stderr=err,
    )
    return out.getvalue(), err.getvalue()


def test_creates_the_first_superuser_through_the_service():
    out, _ = bootstrap("--password", GOOD_PASSWORD)

    admin = User.objects.get()
    assert (admin.username, admin.email, admin.role) == (
        "admin",
        "admin@example.com",
        Role.SUPERUSER,
    )
    assert admin.check_password(GOOD_PASSWORD)
    assert f"Created superuser 'admin' (id {admin.pk})" in out
    assert SystemState.objects.filter(pk=1).exists()  # the same first-user guard as the API
    entry = AuditLog.objects.get(action=AuditAction.USER_CREATE)
    assert (entry.user_id, entry.username, entry.resource_id) == (
        admin.pk,
        "admin",
        admin.pk,
    )
    assert entry.detail.endswith("(first user)")


def test_password_comes_from_the_environment(monkeypatch):
    monkeypatch.setenv("PKI_BOOTSTRAP_PASSWORD", GOOD_PASSWORD)

    bootstrap()

    assert User.objects.get(username="admin").check_password(GOOD_PASSWORD)


def test_password_option_wins_over_the_environment(monkeypatch):
    monkeypatch.setenv("PKI_BOOTSTRAP_PASSWORD", "the-env-password-x")

    bootstrap("--password", GOOD_PASSWORD)

    assert User.objects.get(username="admin").check_password(GOOD_PASSWORD)


def test_prompts_twice_on_a_terminal(terminal):
    terminal.extend([GOOD_PASSWORD, GOOD_PASSWORD])

    bootstrap()

    assert User.objects.get(username="admin").check_password(GOOD_PASSWORD)
    assert terminal == []  # both prompts were asked


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        pytest.param([GOOD_PASSWORD, "something-else-1"], "do not match", id="mismatch"),
        pytest.param(["", ""], "cannot be empty", id="empty"),
    ],
)
def test_prompted_password_must_be_confirmed(terminal, answers, message):
    terminal.extend(answers)

    with pytest.raises(CommandError, match=message):
        bootstrap()

    assert not User.objects.exists()


def test_without_terminal_or_password_fails_clearly(monkeypatch):
    monkeypatch.setattr(sys, "stdin", io.StringIO())  # as in a container or a CI job

    with pytest.raises(CommandError, match="PKI_BOOTSTRAP_PASSWORD"):
        bootstrap()

    assert not User.objects.exists()


def test_is_idempotent_when_the_superuser_exists():
    admin = UserFactory(username="admin", email="old@example.com", role=Role.SUPERUSER)
    entries = AuditLog.objects.count()

    # No password is needed to find out there is nothing to do.
    out, _ = bootstrap()

    assert "already exists" in out
    admin.refresh_from_db()
    assert admin.email == "old@example.com"
    assert User.objects.count() == 1
    assert AuditLog.objects.count() == entries


def test_refuses_when_other_users_exist(user_a):
    with pytest.raises(CommandError, match="--force") as exc:
        bootstrap("--password", GOOD_PASSWORD)

    assert exc.value.returncode == 1
    assert "1 user(s) already exist" in str(exc.value)
    assert list(User.objects.values_list("username", flat=True)) == ["carol"]


def test_force_creates_the_superuser_beside_other_users(user_a):
    out, _ = bootstrap("--password", GOOD_PASSWORD, "--force")

    admin = User.objects.get(username="admin")
    assert admin.role == Role.SUPERUSER
    assert admin.organization_id is None
    assert "Created superuser 'admin'" in out
    entry = AuditLog.objects.get(action=AuditAction.USER_CREATE, resource_id=admin.pk)
    assert entry.detail.endswith("(from the server console)")


def test_force_does_not_overwrite_a_regular_user_of_that_name(org_a):
    UserFactory(username="admin", organization=org_a)

    with pytest.raises(CommandError, match="username: A user with username 'admin'"):
        bootstrap("--password", GOOD_PASSWORD, "--force")

    assert User.objects.get(username="admin").role == Role.USER


@pytest.mark.parametrize(
    ("password", "message"),
    [
        pytest.param("short1", "too short", id="too-short"),
        pytest.param("password123", "too common", id="common"),
        pytest.param("4816203957", "entirely numeric", id="numeric"),
        pytest.param("admin@example", "too similar", id="like-the-email"),
    ],
)
def test_password_validation_errors_are_reported(password, message):
    with pytest.raises(CommandError, match=f"Cannot create superuser: password: .*{message}"):
        bootstrap("--password", password)

    assert not User.objects.exists()
    assert not AuditLog.objects.exists()


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        pytest.param("--username", "bad name!", "Invalid username", id="username"),
        pytest.param("--email", "not-an-email", "Invalid email", id="email"),
        pytest.param("--username", "  ", "cannot be empty", id="blank-username"),
    ],
)
def test_invalid_identity_is_refused(option, value, message):
    args = {"--username": "admin", "--email": "admin@example.com", option: value}

    with pytest.raises(CommandError, match=message):
        call_command("bootstrap", *sum(args.items(), ()), "--password", GOOD_PASSWORD)

    assert not User.objects.exists()
