"""`DELETE /api/v1/users/{id}`: superuser only, never oneself, never the last active superuser."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from accounts.models import AuthSession, Role, User
from accounts.services import user_delete
from accounts.tokens import session_start
from audit.models import AuditAction, AuditLog
from pkiserver.errors import Invalid
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def url(user_id: int) -> str:
    return f"/api/v1/users/{user_id}"


DELETE_TABLE = [
    # caller, target, expected status
    ("anon", "user_a", 401),
    ("user_a", "user_a", 403),
    ("user_a", "user_a_capable", 403),
    ("user_a", "user_b", 403),
    ("user_a_capable", "user_a", 403),
    ("admin_a", "user_a", 403),
    ("admin_a", "admin_a", 403),
    ("admin_a", "user_b", 403),
    ("admin_b", "user_a", 403),
    ("superuser", "user_a", 204),
    ("superuser", "admin_b", 204),
    ("superuser", "superuser", 400),
]


@pytest.mark.parametrize(("caller", "target", "expected"), DELETE_TABLE, ids=[f"{c}->{t}" for c, t, _ in DELETE_TABLE])
def test_who_may_delete_whom(request, client_for, caller, target, expected):
    victim = request.getfixturevalue(target)
    actor = None if caller == "anon" else request.getfixturevalue(caller)
    client = APIClient() if actor is None else client_for(actor)

    response = client.delete(url(victim.pk))

    assert response.status_code == expected, response.content
    entries = AuditLog.objects.filter(action=AuditAction.USER_DELETE, resource_id=victim.pk)
    if expected == 204:
        assert response.content == b""
        assert not User.objects.filter(pk=victim.pk).exists()
        entry = entries.get()
        assert (entry.user_id, entry.username) == (actor.pk, actor.username)
        assert victim.username in entry.detail
    else:
        assert User.objects.filter(pk=victim.pk, is_active=True).exists()
        assert not entries.exists()


def test_deleting_a_user_closes_their_sessions(client_for, superuser, user_a):
    session_start(user=user_a)

    assert client_for(superuser).delete(url(user_a.pk)).status_code == 204

    assert not AuthSession.objects.filter(user_id=user_a.pk).exists()


def test_a_superuser_may_delete_another_superuser(client_for, superuser):
    other = UserFactory(role=Role.SUPERUSER)

    assert client_for(superuser).delete(url(other.pk)).status_code == 204
    assert not User.objects.filter(pk=other.pk).exists()


def test_an_inactive_superuser_is_not_the_last_one(client_for, superuser):
    dormant = UserFactory(role=Role.SUPERUSER, is_active=False)

    assert client_for(superuser).delete(url(dormant.pk)).status_code == 204
    assert list(User.objects.active_superusers()) == [superuser]


def test_the_last_active_superuser_can_never_be_removed(superuser):
    """Two superusers, one of them (the caller) deactivated after authenticating: the target is
    then the last active superuser. Through HTTP a caller is always an active superuser itself."""
    last = UserFactory(role=Role.SUPERUSER)
    User.objects.filter(pk=superuser.pk).update(is_active=False)

    with pytest.raises(Invalid) as refused:
        user_delete(actor=superuser, user=last)

    assert (refused.value.status_code, refused.value.code) == (400, "last_superuser")
    assert User.objects.filter(pk=last.pk, is_active=True).exists()
    assert not AuditLog.objects.filter(action=AuditAction.USER_DELETE).exists()


@pytest.mark.parametrize("caller", ["user_a", "admin_a", "superuser"])
def test_deleting_a_missing_user_is_404(request, client_for, caller):
    client = client_for(request.getfixturevalue(caller))
    missing = User.objects.order_by("-pk").values_list("pk", flat=True).first() + 1000

    assert client.delete(url(missing)).status_code == 404


@pytest.mark.parametrize("path", ["/api/v1/users/{id}", "/api/v1/users/{id}/"], ids=["no-slash", "slash"])
def test_delete_answers_with_and_without_slash(client_for, superuser, user_a, path):
    response = client_for(superuser).delete(path.format(id=user_a.pk))

    assert response.status_code == 204
    assert not User.objects.filter(pk=user_a.pk).exists()
