"""One scoping seam: every detail route reaches its object through `get_object()`, so the policy's
object check runs, and creation under a CA asks the policy on that CA, before any action body.

A service's own `require()` would answer 403 too, so a 403 alone proves nothing: the probe records
the object checks `PolicyPermission.has_object_permission` makes and asks that the route's object
was checked and refused.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.shortcuts import get_object_or_404
from rest_framework.decorators import action
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.test import APIRequestFactory, force_authenticate

from accounts.models import User
from accounts.policy import Action
from certificates.api.views import CertificateViewSet
from certificates.models import Certificate, CertificateAuthority
from certificates.tests.conftest import create_ca, issue_certificate
from orgs.models import Organization
from pkiserver.api.permissions import PolicyPermission
from pkiserver.api.viewsets import PolicyViewSet
from pkiserver.urls import router
from serviceaccounts import services as sa_services
from serviceaccounts.models import ServiceAccount


def detail_routes(a_router: SimpleRouter) -> list[tuple[type, str, str, dict[str, str]]]:
    """(viewset, HTTP method, DRF action, extra URL kwargs) for every detail route of the router."""
    found = []
    for _prefix, viewset, _basename in a_router.registry:
        for route in a_router.get_routes(viewset):
            if not route.detail:
                continue
            extra = {name: "999999" for name in re.findall(r"\(\?P<(\w+)>", route.url) if name != "pk"}
            for method, name in a_router.get_method_map(viewset, route.mapping).items():
                found.append((viewset, method, name, extra))
    return found


def record_object_checks(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Any, bool]]:
    """A list that fills with (action, object, verdict) for every object check the policy makes."""
    checks: list[tuple[str, Any, bool]] = []
    original = PolicyPermission.has_object_permission

    def recording(self: PolicyPermission, request: Any, view: Any, obj: Any) -> bool:
        verdict = original(self, request, view, obj)
        checks.append((view.action, obj, verdict))
        return verdict

    monkeypatch.setattr(PolicyPermission, "has_object_permission", recording)
    return checks


def probe(
    monkeypatch: pytest.MonkeyPatch, viewset: type, method: str, name: str, kwargs: dict[str, str], user: User, pk: int
) -> tuple[int, list[tuple[str, Any, bool]]]:
    """The status of `method` on the route, and the object checks made on the way."""
    checks = record_object_checks(monkeypatch)
    request = getattr(APIRequestFactory(), method)("/", {}, format="json")
    force_authenticate(request, user=user)
    response = viewset.as_view({method: name})(request, pk=str(pk), **kwargs)
    monkeypatch.undo()
    return response.status_code, checks


def seam_problems(
    monkeypatch: pytest.MonkeyPatch, a_router: SimpleRouter, targets: dict[type, Any], user: User
) -> list[str]:
    """Every detail route that answers a foreign caller without refusing it on the route's object."""
    problems = []
    for viewset, method, name, kwargs in detail_routes(a_router):
        target = targets[viewset.queryset.model]
        status, checks = probe(monkeypatch, viewset, method, name, kwargs, user, target.pk)
        refused = [(action_name, obj) for action_name, obj, verdict in checks if not verdict]
        where = f"{method.upper()} {viewset.__name__}.{name}"
        if (name, target) not in refused:
            problems.append(f"{where}: the object was not refused by the policy's object check ({checks})")
        elif status != 403:
            problems.append(f"{where}: answered {status}, not 403")
    return problems


@pytest.fixture
def targets(admin_a, org_a) -> dict[type, Any]:
    """One object of organization A for each model a routed viewset serves."""
    ca = create_ca(admin_a, "Seam Root")
    account = sa_services.service_account_create(actor=admin_a, name="seam-bot")
    return {
        User: admin_a,
        Organization: org_a,
        CertificateAuthority: ca,
        Certificate: issue_certificate(admin_a, ca, "seam.example.com"),
        ServiceAccount: account,
    }


def test_the_walk_finds_detail_routes_of_every_viewset():
    seen = {(viewset.__name__, name) for viewset, _, name, _ in detail_routes(router)}

    assert {
        ("CertificateViewSet", "revoke"),
        ("CertificateViewSet", "private_key"),
        ("CAViewSet", "private_key"),
        ("CertificateExportViewSet", "pkcs12"),
        ("OrganizationViewSet", "member"),
        ("ServiceAccountViewSet", "token"),
        ("UserViewSet", "partial_update"),
    } <= seen
    assert {viewset for viewset, *_ in detail_routes(router)} == {
        viewset for _, viewset, _ in router.registry if viewset.__name__ != "AuditLogViewSet"
    }


def test_every_detail_route_refuses_another_organization_on_its_object(monkeypatch, targets, user_b):
    assert seam_problems(monkeypatch, router, targets, user_b) == []


class ForgetfulViewSet(PolicyViewSet):
    """A detail action that looks its object up itself: the seam test must catch it."""

    queryset = Certificate.objects.all()
    policy = {"peek": Action.CERT_VIEW}
    object_actions = ("peek",)

    @action(detail=True, methods=["get"])
    def peek(self, request: Any, pk: str) -> Response:
        return Response({"id": get_object_or_404(Certificate, pk=pk).pk})


def test_a_detail_action_that_skips_get_object_is_caught(monkeypatch, targets, user_b):
    forgetful = SimpleRouter()
    forgetful.register("peek", ForgetfulViewSet, basename="peek")

    problems = seam_problems(monkeypatch, forgetful, targets, user_b)

    assert len(problems) == 1 and "ForgetfulViewSet.peek" in problems[0]


@pytest.mark.parametrize(
    ("name", "query", "body"),
    [
        ("create", lambda ca: {"ca_id": ca.pk}, lambda ca: {}),
        ("sign_csr", lambda ca: {}, lambda ca: {"csr": "-", "ca_id": ca.pk}),
    ],
)
def test_creation_under_another_organizations_ca_is_refused_on_the_ca(monkeypatch, targets, user_b, name, query, body):
    ca = targets[CertificateAuthority]
    checks = record_object_checks(monkeypatch)
    request = APIRequestFactory().post(f"/?ca_id={ca.pk}" if query(ca) else "/", body(ca), format="json")
    force_authenticate(request, user=user_b)

    response = CertificateViewSet.as_view({"post": name})(request)

    assert (name, ca, False) in checks
    assert response.status_code == 403
