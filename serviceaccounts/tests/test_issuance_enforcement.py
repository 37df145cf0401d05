"""A service account's token issues, signs and renews only what its policy allows (end to end)."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from audit.models import AuditLog
from certificates.models import Certificate
from serviceaccounts.tests.conftest import API, WEB_POLICY, make_account, make_ca, set_policy, token_client

ISSUE = {
    "common_name": "web.svc.example.com",
    "subject_dn": "CN=web.svc.example.com,O=Acme",
    "certificate_type": "server",
    "key_algorithm": "ecdsa",
    "key_size": 256,
    "valid_days": 30,
    "san_dns_names": ["web.svc.example.com", "api.svc.example.com"],
    "san_ip_addresses": ["10.1.2.3", "fd00::5"],
}


def make_csr(common_name: str, dns: list[str] = (), ips: list[str] = ()) -> str:
    import ipaddress

    key = ec.generate_private_key(ec.SECP256R1())
    builder = x509.CertificateSigningRequestBuilder().subject_name(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    )
    names = [x509.DNSName(d) for d in dns] + [x509.IPAddress(ipaddress.ip_address(i)) for i in ips]
    if names:
        builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
    return builder.sign(key, hashes.SHA256()).public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture
def policy(robot, root_a):
    return set_policy(robot, **WEB_POLICY, allowed_ca_ids=[root_a.pk])


def _issue(client, ca, **changes):
    return client.post(f"{API}/certificates/?ca_id={ca.pk}", {**ISSUE, **changes})


def _refused(response, rule: str) -> dict:
    assert response.status_code == 403, response.content
    body = response.json()
    assert body["detail"].startswith("Issuance policy: ")
    assert rule in body["detail"]
    assert body["code"] == "issuance_policy_denied"
    return body


# --- issue (POST /certificates/?ca_id=) -----------------------------------------------------


def test_a_token_issues_within_its_policy(robot_client, robot, policy, root_a):
    response = _issue(robot_client, root_a)

    assert response.status_code == 201, response.content
    cert = Certificate.objects.get()
    assert (cert.common_name, cert.created_by_user_id, cert.organization_id) == (
        "web.svc.example.com", None, robot.organization_id,
    )  # fmt: skip
    entry = AuditLog.objects.get(action="cert_create")
    assert (entry.username, entry.user_id, entry.resource_id) == ("sa:deployer", None, cert.pk)


# (changes to the request, the rule its refusal names)
OUTSIDE = [
    ({"san_dns_names": ["web.svc.example.com", "x.evil.com"]}, "DNS SAN 'x.evil.com' matches no san_dns_patterns"),
    ({"san_dns_names": ["a.b.svc.example.com"]}, "san_dns_patterns"),
    ({"san_dns_names": ["svc.example.com"]}, "san_dns_patterns"),
    (
        {"common_name": "a.b.svc.example.com", "subject_dn": "CN=a.b.svc.example.com"},
        "CN 'a.b.svc.example.com' matches no cn_patterns",
    ),
    ({"san_ip_addresses": ["11.0.0.1"]}, "IP SAN '11.0.0.1' is in none of san_ip_cidrs"),
    ({"san_ip_addresses": ["fe80::1"]}, "san_ip_cidrs"),
    ({"valid_days": 91}, "valid_days 91 exceeds max_validity_days 90"),
    ({"valid_days": None}, "valid_days 365 exceeds max_validity_days 90"),  # CERT_DAYS is what counts
    ({"certificate_type": "dual_purpose"}, "certificate type 'dual_purpose' is not in allowed_certificate_types"),
    (
        {
            "certificate_type": "client",
            "common_name": "ops.svc.example.com",
            "subject_dn": "CN=ops.svc.example.com",
            "san_dns_names": [],
            "san_ip_addresses": [],
            "san_email_addresses": ["ops@evil.org"],
        },
        "email SAN 'ops@evil.org' has a domain not in san_email_domains",
    ),
]


@pytest.mark.parametrize(
    ("changes", "rule"), OUTSIDE, ids=[r.split(" ")[-1] + f"-{i}" for i, (_, r) in enumerate(OUTSIDE)]
)
def test_a_request_outside_the_policy_is_403_naming_the_rule(robot_client, policy, root_a, changes, rule):
    response = _issue(robot_client, root_a, **changes)

    _refused(response, rule)
    assert not Certificate.objects.exists()
    entry = AuditLog.objects.get(action="cert_policy_denied")
    assert (entry.username, entry.user_id, entry.resource_type, entry.resource_id) == (
        "sa:deployer", None, "ca", root_a.pk,
    )  # fmt: skip
    assert rule.split(" ")[-1] in entry.detail


def test_a_ca_outside_the_allow_list_is_refused(robot_client, admin_a, policy):
    other_ca = make_ca(admin_a, "Other CA A")

    _refused(_issue(robot_client, other_ca), f"CA {other_ca.pk} is not in allowed_ca_ids")
    assert not Certificate.objects.exists()


def test_an_omitted_valid_days_passes_when_cert_days_fits(settings, robot_client, policy, root_a):
    settings.CERT_DAYS = 30

    assert _issue(robot_client, root_a, valid_days=None).status_code == 201


def test_a_client_certificate_with_an_allowed_email_domain(robot_client, policy, root_a):
    response = _issue(
        robot_client, root_a, certificate_type="client", common_name="ops.svc.example.com",
        subject_dn="CN=ops.svc.example.com", san_dns_names=[], san_ip_addresses=[],
        san_email_addresses=["ops@Example.com"],
    )  # fmt: skip

    assert response.status_code == 201, response.content
    assert response.json()["san_email_addresses"] == ["ops@example.com"]


def test_without_a_policy_nothing_is_issued(robot_client, root_a):
    response = _issue(robot_client, root_a)

    _refused(response, "has no issuance policy")
    assert not Certificate.objects.exists()
    assert AuditLog.objects.filter(action="cert_policy_denied").count() == 1


def test_a_policy_does_not_replace_the_capability_flag(org_a, root_a):
    account = make_account(org_a, "no-flag", can_create_cert=False)
    set_policy(account, **WEB_POLICY, allowed_ca_ids=[root_a.pk])

    response = _issue(token_client(account), root_a)

    assert response.status_code == 403
    assert response.json()["detail"] == "Not enough permissions"
    assert not Certificate.objects.exists()


def test_a_ca_of_another_organization_is_out_of_reach(robot_client, policy, root_b):
    response = _issue(robot_client, root_b)

    assert response.status_code == 403
    assert not Certificate.objects.exists()


def test_people_are_not_subject_to_service_account_policies(client_for, admin_a, policy, root_a):
    response = _issue(client_for(admin_a), root_a, san_dns_names=["x.evil.com"], valid_days=365)

    assert response.status_code == 201
    assert not AuditLog.objects.filter(action="cert_policy_denied").exists()


@pytest.mark.django_db(transaction=True)
def test_the_refusal_entry_is_committed(org_a, admin_a):
    root = make_ca(admin_a, "Root A")
    account = make_account(org_a, can_create_cert=True)
    set_policy(account, **WEB_POLICY, allowed_ca_ids=[root.pk])

    _refused(_issue(token_client(account), root, san_dns_names=["x.evil.com"]), "x.evil.com")

    assert AuditLog.objects.filter(action="cert_policy_denied", username="sa:deployer").count() == 1
    assert not Certificate.objects.exists()


# --- sign-csr ---------------------------------------------------------------------------------


def test_sign_csr_within_the_policy(robot_client, policy, root_a):
    csr = make_csr("web.svc.example.com", dns=["web.svc.example.com"], ips=["10.0.0.7"])

    by_id = robot_client.post(f"{API}/certificates/sign-csr", {"csr": csr, "ca_id": root_a.pk, "valid_days": 30})
    by_name = robot_client.post(f"{API}/certificates/sign-csr", {"csr": csr, "ca_name": "Root A", "valid_days": 30})

    assert (by_id.status_code, by_name.status_code) == (201, 201), by_id.content
    assert by_id.json()["san_dns_names"] == ["web.svc.example.com"]
    assert {e.username for e in AuditLog.objects.filter(action="cert_sign_csr")} == {"sa:deployer"}


@pytest.mark.parametrize(
    ("csr_args", "overrides", "rule"),
    [
        (("web.svc.example.com", ["web.svc.example.com", "x.evil.com"]), {}, "DNS SAN 'x.evil.com'"),
        (("evil.com", ["web.svc.example.com"]), {}, "CN 'evil.com'"),
        (("web.svc.example.com", ["web.svc.example.com"], ["192.168.0.1"]), {}, "IP SAN '192.168.0.1'"),
        (("web.svc.example.com", ["web.svc.example.com"]), {"san_dns_names": ["x.evil.com"]}, "DNS SAN 'x.evil.com'"),
        (("web.svc.example.com", ["web.svc.example.com"]), {"valid_days": 365}, "max_validity_days"),
    ],
    ids=["csr-dns", "csr-cn", "csr-ip", "override-dns", "validity"],
)
def test_sign_csr_outside_the_policy_is_refused(robot_client, policy, root_a, csr_args, overrides, rule):
    body = {"csr": make_csr(*csr_args), "ca_id": root_a.pk, "valid_days": 30, **overrides}

    _refused(robot_client.post(f"{API}/certificates/sign-csr", body), rule)
    assert not Certificate.objects.exists()
    assert AuditLog.objects.filter(action="cert_policy_denied").count() == 1


# --- renew ----------------------------------------------------------------------------------


def test_renew_is_checked_against_the_current_policy(robot_client, robot, policy, root_a):
    issued = _issue(robot_client, root_a).json()
    renew_url = f"{API}/certificates/{issued['id']}/renew"

    assert robot_client.post(renew_url, {}).status_code == 201
    set_policy(robot, **{**WEB_POLICY, "san_ip_cidrs": ["10.0.0.0/8"]}, allowed_ca_ids=[root_a.pk])
    refused = robot_client.post(renew_url, {})

    _refused(refused, "IP SAN 'fd00::5'")
    assert Certificate.objects.count() == 2
