"""`PUT|GET|DELETE /service-accounts/{id}/policy`: deny by default, validated whole, replaced whole."""

from __future__ import annotations

import pytest

from audit.models import AuditLog
from serviceaccounts.issuance import PolicyInvalid, validate_rules
from serviceaccounts.models import IssuancePolicy
from serviceaccounts.tests.conftest import API, WEB_POLICY, make_account, make_ca

TYPES = ("server", "client", "dual_purpose", "ca")

# (field, bad value) -> 400 naming the field
INVALID = [
    ("cn_patterns", ["**.example.com"]),
    ("cn_patterns", ["a.*.b"]),
    ("cn_patterns", [""]),
    ("cn_patterns", ["web*.example.com"]),
    ("san_dns_patterns", ["**.x"]),
    ("san_dns_patterns", ["a.*.b"]),
    ("san_dns_patterns", ["*.*.example.com"]),
    ("san_dns_patterns", [""]),
    ("san_dns_patterns", ["example..com"]),
    ("san_dns_patterns", ["example.com."]),
    ("san_dns_patterns", ["-bad.example.com"]),
    ("san_dns_patterns", ["under_score.example.com"]),
    ("san_dns_patterns", ["a" * 64 + ".example.com"]),
    ("san_ip_cidrs", ["10.0.0.0/33"]),
    ("san_ip_cidrs", ["10.0.0.1/8"]),  # host bits set: say what you mean
    ("san_ip_cidrs", ["not-a-cidr"]),
    ("san_ip_cidrs", ["fd00::/129"]),
    ("san_ip_cidrs", [""]),
    ("san_email_domains", ["*.example.com"]),
    ("san_email_domains", ["exa mple.com"]),
    ("san_email_domains", [""]),
    ("allowed_certificate_types", ["webserver"]),
    ("allowed_certificate_types", ["Server"]),
    ("max_validity_days", -1),
    ("max_validity_days", 0),
    ("max_validity_days", 36501),
]


@pytest.mark.parametrize(("field", "value"), INVALID, ids=[f"{f}={v!r}" for f, v in INVALID])
def test_validate_rules_refuses(field, value):
    fields = {"max_validity_days": 30, field: value}

    with pytest.raises(PolicyInvalid) as caught:
        validate_rules(**fields, certificate_types=TYPES, max_days=36500)

    assert caught.value.field == field


def test_validate_rules_normalises():
    rules = validate_rules(
        cn_patterns=["*.SVC.Example.com", "*.svc.example.com"],
        san_dns_patterns=["*.bücher.example"],
        san_ip_cidrs=["fd00:0::/8", "10.0.0.0/8"],
        san_email_domains=["Example.COM"],
        allowed_ca_ids=[2, 2, 1],
        allowed_certificate_types=["server"],
        max_validity_days=30,
        certificate_types=TYPES,
        max_days=36500,
    )

    assert rules.cn_patterns == ("*.svc.example.com",)
    assert rules.san_dns_patterns == ("*.xn--bcher-kva.example",)
    assert rules.san_ip_cidrs == ("fd00::/8", "10.0.0.0/8")
    assert rules.san_email_domains == ("example.com",)
    assert rules.allowed_ca_ids == (2, 1)


@pytest.fixture
def account(org_a):
    return make_account(org_a)


def _url(account) -> str:
    return f"{API}/service-accounts/{account.pk}/policy"


def test_no_policy_is_404_and_means_deny_all(client_for, admin_a, account):
    response = client_for(admin_a).get(_url(account))

    assert response.status_code == 404
    assert "no issuance policy" in response.json()["detail"]


def test_put_creates_then_replaces_the_policy(client_for, admin_a, account, root_a):
    client = client_for(admin_a)

    created = client.put(_url(account), {**WEB_POLICY, "allowed_ca_ids": [root_a.pk]})
    replaced = client.put(_url(account) + "/", {"san_dns_patterns": ["api.example.com"], "max_validity_days": 7})

    assert created.status_code == 200, created.content
    body = created.json()
    assert body["service_account_id"] == account.pk
    assert body["allowed_ca_ids"] == [root_a.pk]
    assert body["san_ip_cidrs"] == ["10.0.0.0/8", "fd00::/8"]
    assert {"id", "created_at", "updated_at"} <= set(body)
    assert replaced.status_code == 200
    assert replaced.json()["cn_patterns"] == []  # a list left out is empty: the PUT replaces it all
    assert client.get(_url(account)).json() == replaced.json()
    assert IssuancePolicy.objects.count() == 1
    actions = list(AuditLog.objects.filter(resource_type="service_account").values_list("action", flat=True))
    assert actions == ["service_account_update", "service_account_update"]


def test_max_validity_days_is_required(client_for, admin_a, account):
    response = client_for(admin_a).put(_url(account), {"cn_patterns": ["a.example.com"]})

    assert response.status_code == 400
    assert "max_validity_days" in response.json()["errors"]


API_INVALID = [
    ("cn_patterns", ["**.x"]),
    ("san_dns_patterns", ["a.*.b"]),
    ("san_dns_patterns", [""]),
    ("san_ip_cidrs", ["300.0.0.0/8"]),
    ("san_email_domains", ["*.example.com"]),
    ("allowed_certificate_types", ["webserver"]),
    ("max_validity_days", -5),
    ("san_dns_patterns", "not-a-list"),
    ("allowed_ca_ids", ["x"]),
]


@pytest.mark.parametrize(("field", "value"), API_INVALID, ids=[f"{f}={v!r}" for f, v in API_INVALID])
def test_an_invalid_policy_is_400_naming_the_field_and_changes_nothing(client_for, admin_a, account, field, value):
    client = client_for(admin_a)
    assert client.put(_url(account), WEB_POLICY).status_code == 200
    before = client.get(_url(account)).json()

    response = client.put(_url(account), {**WEB_POLICY, field: value})

    assert response.status_code == 400, response.content
    assert any(name.split(".")[0] == field for name in response.json()["errors"]), response.json()
    assert field in response.json()["detail"]
    assert client.get(_url(account)).json() == before


@pytest.mark.parametrize("whose", ["other organization", "missing"])
def test_allowed_ca_ids_must_be_cas_of_the_accounts_organization(client_for, admin_a, admin_b, account, whose):
    ca_id = make_ca(admin_b, "Root B").pk if whose == "other organization" else 999999

    response = client_for(admin_a).put(_url(account), {**WEB_POLICY, "allowed_ca_ids": [ca_id]})

    assert response.status_code == 400
    assert set(response.json()["errors"]) == {"allowed_ca_ids"}
    assert not IssuancePolicy.objects.exists()


def test_delete_goes_back_to_deny_all(client_for, admin_a, account):
    client = client_for(admin_a)
    client.put(_url(account), WEB_POLICY)

    first, again = client.delete(_url(account)), client.delete(_url(account))

    assert (first.status_code, again.status_code) == (204, 204)
    assert client.get(_url(account)).status_code == 404
    assert not IssuancePolicy.objects.exists()


@pytest.mark.parametrize("method", ["get", "put", "delete"])
@pytest.mark.parametrize(
    ("persona", "expected"),
    [("superuser", 200), ("admin_a", 200), ("admin_b", 403), ("user_a", 403), ("user_a_capable", 403)],
)
def test_who_may_read_and_write_a_policy(request, client_for, account, method, persona, expected):
    client = client_for(request.getfixturevalue(persona))
    if method != "put":
        client_for(request.getfixturevalue("superuser")).put(_url(account), WEB_POLICY)

    response = getattr(client, method)(_url(account), WEB_POLICY if method == "put" else None)

    allowed = expected == 200
    assert response.status_code == ((204 if method == "delete" else 200) if allowed else expected)
    exists = {"get": True, "put": allowed, "delete": not allowed}[method]
    assert IssuancePolicy.objects.exists() is exists


def test_a_service_account_cannot_touch_policies(sa_client, account):
    client = sa_client(account)

    assert client.put(_url(account), WEB_POLICY).status_code == 403
    assert client.get(_url(account)).status_code == 403
    assert not IssuancePolicy.objects.exists()


def test_missing_account_is_404(client_for, superuser):
    assert client_for(superuser).get(f"{API}/service-accounts/999999/policy").status_code == 404
