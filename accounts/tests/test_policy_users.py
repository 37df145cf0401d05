"""The user.* and org.* rows of the policy, checked on unsaved instances (no database; only the
first-user bootstrap asks it whether a user exists)."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db.models import Q

from accounts.api.views import UserViewSet
from accounts.models import CAPABILITY_FLAGS, Role, User
from accounts.policy import RULES, Action, can, require, visible_q
from orgs.models import Organization
from pkiserver.errors import PolicyDenied

ORG_A = Organization(pk=1, name="Org A")
ORG_B = Organization(pk=2, name="Org B")


def person(pk: int, role: str, org: Organization | None, **fields: object) -> User:
    return User(pk=pk, username=f"person{pk}", email=f"person{pk}@example.com", role=role, organization=org, **fields)


def service_account() -> User:
    account = person(12, Role.USER, ORG_A, **dict.fromkeys(CAPABILITY_FLAGS, True))
    account.is_service_account = True
    return account


ACTORS: dict[str, object] = {
    "superuser": person(1, Role.SUPERUSER, None),
    "superuser_in_a": person(2, Role.SUPERUSER, ORG_A),
    "admin_a": person(3, Role.ADMIN, ORG_A),
    "admin_b": person(4, Role.ADMIN, ORG_B),
    "admin_no_org": person(5, Role.ADMIN, None),
    "user_a": person(6, Role.USER, ORG_A),
    "user_a_capable": person(7, Role.USER, ORG_A, **dict.fromkeys(CAPABILITY_FLAGS, True)),
    "user_b": person(8, Role.USER, ORG_B),
    "user_no_org": person(9, Role.USER, None),
    "inactive_superuser": person(10, Role.SUPERUSER, None, is_active=False),
    "inactive_admin_a": person(11, Role.ADMIN, ORG_A, is_active=False),
    "service_account": service_account(),
    "anonymous": AnonymousUser(),
    "none": None,
}
TARGETS: dict[str, object] = {
    "nothing": None,
    "org_a": ORG_A,
    "org_b": ORG_B,
    **{name: ACTORS[name] for name in ("user_a", "user_b", "user_no_org", "admin_a", "superuser_in_a")},
}

SUPERUSERS = {"superuser", "superuser_in_a"}
ADMINS = {"admin_a", "admin_b", "admin_no_org"}
ACTIVE_PEOPLE = SUPERUSERS | ADMINS | {"user_a", "user_a_capable", "user_b", "user_no_org"}
NOT_LOGGED_IN = {"anonymous", "none", "inactive_superuser", "inactive_admin_a"}  # inactive counts as anonymous

# (action, target) -> the actors allowed; every other actor is denied. Written from SPEC §3-§4.
EXPECTED: dict[tuple[Action, str], set[str]] = {
    (Action.USER_CREATE, "nothing"): ACTIVE_PEOPLE | NOT_LOGGED_IN,  # registration open (pinned below)
    (Action.USER_CREATE_OR_BOOTSTRAP, "nothing"): ACTIVE_PEOPLE | NOT_LOGGED_IN,  # registration open
    (Action.USER_CREATE_PRIVILEGED, "nothing"): SUPERUSERS,
    (Action.USER_CREATE_IN_ORG, "org_a"): SUPERUSERS | {"admin_a"},
    (Action.USER_CREATE_IN_ORG, "org_b"): SUPERUSERS | {"admin_b"},
    (Action.USER_LIST, "nothing"): SUPERUSERS,
    (Action.USER_VIEW, "user_a"): SUPERUSERS | ADMINS | {"user_a"},
    (Action.USER_VIEW, "superuser_in_a"): SUPERUSERS | ADMINS,
    (Action.USER_EDIT_PROFILE, "user_a"): SUPERUSERS | {"user_a", "admin_a"},
    (Action.USER_EDIT_PROFILE, "user_b"): SUPERUSERS | {"user_b", "admin_b"},
    (Action.USER_EDIT_PROFILE, "admin_a"): SUPERUSERS | {"admin_a"},
    (Action.USER_EDIT_PROFILE, "superuser_in_a"): SUPERUSERS,  # an org admin cannot take over a superuser
    (Action.USER_SET_FLAGS, "user_a"): SUPERUSERS | {"admin_a"},
    (Action.USER_SET_FLAGS, "user_no_org"): SUPERUSERS,
    (Action.USER_SET_FLAGS, "superuser_in_a"): SUPERUSERS,
    (Action.USER_SET_ROLE, "user_a"): SUPERUSERS,
    (Action.USER_SET_ROLE, "admin_a"): SUPERUSERS,
    (Action.USER_DELETE, "user_a"): SUPERUSERS,
    (Action.USER_DELETE, "admin_a"): SUPERUSERS,
    (Action.USER_MOVE, "user_a"): SUPERUSERS | {"admin_a"},
    (Action.USER_MOVE, "user_b"): SUPERUSERS | {"admin_b"},
    (Action.USER_MOVE, "user_no_org"): ACTIVE_PEOPLE,  # takes nobody out of an organization
    (Action.ORG_CREATE, "nothing"): SUPERUSERS | ADMINS,
    (Action.ORG_LIST, "nothing"): ACTIVE_PEOPLE,
    (Action.ORG_LIST_ALL, "nothing"): SUPERUSERS,
    (Action.ORG_VIEW, "org_a"): SUPERUSERS | {"admin_a", "user_a", "user_a_capable"},
    (Action.ORG_VIEW, "org_b"): SUPERUSERS | {"admin_b", "user_b"},
    (Action.ORG_UPDATE, "org_a"): SUPERUSERS | {"admin_a"},
    (Action.ORG_UPDATE, "org_b"): SUPERUSERS | {"admin_b"},
    (Action.ORG_DELETE, "org_a"): SUPERUSERS,
    (Action.ORG_VIEW_MEMBERS, "org_a"): SUPERUSERS | {"admin_a", "user_a", "user_a_capable"},
    (Action.ORG_MANAGE_MEMBERS, "org_a"): SUPERUSERS | {"admin_a"},
    (Action.ORG_MANAGE_MEMBERS, "org_b"): SUPERUSERS | {"admin_b"},
}

CASES = [
    (action, target, actor, actor in allowed) for (action, target), allowed in EXPECTED.items() for actor in ACTORS
]


@pytest.fixture(autouse=True)
def _registration_open(settings):
    settings.ALLOW_UNAUTHENTICATED_REGISTRATION = True


@pytest.mark.parametrize(
    ("action", "target", "actor", "allowed"),
    CASES,
    ids=[f"{action.value}-{target}-{actor}-{'allow' if ok else 'deny'}" for action, target, actor, ok in CASES],
)
def test_policy_table(action, target, actor, allowed):
    assert can(ACTORS[actor], action, TARGETS[target]) is allowed


@pytest.mark.parametrize("actor", list(ACTORS))
def test_closed_registration_needs_a_login(settings, actor):
    settings.ALLOW_UNAUTHENTICATED_REGISTRATION = False

    assert can(ACTORS[actor], Action.USER_CREATE) is (actor in ACTIVE_PEOPLE)


def test_the_first_user_bootstrap_is_a_row_of_the_table():
    assert RULES[Action.USER_CREATE_OR_BOOTSTRAP].name == (
        "anyone while registration is open | anyone while no user exists"
    )
    assert UserViewSet.policy["create"] is Action.USER_CREATE_OR_BOOTSTRAP


@pytest.mark.django_db
@pytest.mark.parametrize("actor", list(ACTORS))
def test_closed_registration_lets_anyone_ask_for_the_first_user_only(settings, actor):
    settings.ALLOW_UNAUTHENTICATED_REGISTRATION = False
    assert not User.objects.exists()

    assert can(ACTORS[actor], Action.USER_CREATE_OR_BOOTSTRAP) is (actor != "service_account")
    assert can(ACTORS[actor], Action.USER_CREATE) is (actor in ACTIVE_PEOPLE)  # the service's check after the first

    User.objects.create_user(username="founder", email="founder@example.com", password="Founder-Pass-2024")

    assert can(ACTORS[actor], Action.USER_CREATE_OR_BOOTSTRAP) is (actor in ACTIVE_PEOPLE)


def test_every_user_and_org_action_is_in_the_table():
    covered = {action for action, _ in EXPECTED}
    wanted = {action for action in Action if action.value.startswith(("user.", "org."))}

    assert covered == wanted


def test_require_raises_a_403_with_the_message():
    with pytest.raises(PolicyDenied) as denied:
        require(ACTORS["user_a"], Action.USER_DELETE, ACTORS["user_b"], message="nope")

    assert (denied.value.status_code, denied.value.detail) == (403, "nope")
    require(ACTORS["superuser"], Action.USER_DELETE, ACTORS["user_b"])  # allowed: no exception


NOBODY = Q(pk__in=[])
VISIBLE_TABLE = [
    ("superuser", "user", Q()),
    ("superuser_in_a", "organization", Q()),
    ("admin_a", "user", Q(pk=3)),
    ("user_a", "user", Q(pk=6)),
    ("user_a", "organization", Q(pk=1)),
    ("admin_b", "organization", Q(pk=2)),
    ("user_no_org", "organization", NOBODY),
    ("inactive_superuser", "user", NOBODY),
    ("anonymous", "user", NOBODY),
    ("none", "organization", NOBODY),
]


@pytest.mark.parametrize(("actor", "kind", "expected"), VISIBLE_TABLE, ids=[f"{a}-{k}" for a, k, _ in VISIBLE_TABLE])
def test_rows_each_actor_may_list(actor, kind, expected):
    assert visible_q(ACTORS[actor], kind) == expected
