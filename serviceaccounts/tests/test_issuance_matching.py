"""Issuance-policy matching as a table: wildcards, CIDRs, email domains, CAs, types, validity."""

from __future__ import annotations

import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from serviceaccounts.issuance import IssuanceRequest, PolicyRules, evaluate, pattern_matches

# (pattern, name, matches)
PATTERNS = [
    ("*.svc.example.com", "a.svc.example.com", True),
    ("*.svc.example.com", "a.b.svc.example.com", False),
    ("*.svc.example.com", "svc.example.com", False),
    ("*.svc.example.com", ".svc.example.com", False),
    ("*.svc.example.com", "A.SVC.Example.COM", True),
    ("*.SVC.example.com", "a.svc.example.com", True),
    ("*.svc.example.com", "*.svc.example.com", True),  # a wildcard certificate inside the pattern
    ("*.svc.example.com", "a.svc.example.com.evil.com", False),
    ("*.svc.example.com", "a-svc.example.com", False),
    ("*.svc.example.com", "evil@a.svc.example.com", False),  # `*` is one DNS label, not any text
    ("*.svc.example.com", "a b.svc.example.com", False),
    ("*.svc.example.com", "xsvc.example.com", False),
    ("api.example.com", "api.example.com", True),
    ("api.example.com", "API.EXAMPLE.COM", True),
    ("api.example.com", "www.api.example.com", False),
    ("api.example.com", "api.example.co", False),
    ("*", "localhost", True),
    ("*", "a.b", False),
    ("my service", "My Service", True),
    ("my service", "My Service 2", False),
]


@pytest.mark.parametrize(("pattern", "name", "expected"), PATTERNS, ids=[f"{p}~{n}" for p, n, _ in PATTERNS])
def test_pattern_matching(pattern, name, expected):
    assert pattern_matches(pattern, name) is expected


POLICY = PolicyRules(
    cn_patterns=("*.svc.example.com", "billing-client"),
    san_dns_patterns=("*.svc.example.com", "api.example.com"),
    san_ip_cidrs=("10.0.0.0/8", "192.168.1.0/24", "fd00::/8"),
    san_email_domains=("example.com",),
    allowed_ca_ids=(3, 7),
    allowed_certificate_types=("server", "client"),
    max_validity_days=90,
)
ALLOWED = IssuanceRequest(
    ca_id=3,
    certificate_type="server",
    valid_days=90,
    common_names=("web.svc.example.com",),
    dns_names=("web.svc.example.com", "api.example.com"),
    ip_addresses=("10.1.2.3", "fd00::1"),
)

# (change to the allowed request, the rule that refuses it, or None when still allowed)
REQUESTS = [
    ({}, None),
    ({"ca_id": 7}, None),
    ({"ca_id": 4}, "allowed_ca_ids"),
    ({"certificate_type": "client", "dns_names": (), "ip_addresses": ()}, None),
    ({"certificate_type": "dual_purpose"}, "allowed_certificate_types"),
    ({"certificate_type": "ca"}, "allowed_certificate_types"),
    ({"valid_days": 1}, None),
    ({"valid_days": 91}, "max_validity_days"),
    ({"common_names": ("WEB.SVC.EXAMPLE.COM",)}, None),
    ({"common_names": ("billing-client",)}, None),
    ({"common_names": ("a.b.svc.example.com",)}, "cn_patterns"),
    ({"common_names": ("svc.example.com",)}, "cn_patterns"),
    ({"common_names": ("web.svc.example.com", "evil.com")}, "cn_patterns"),  # every CN is checked
    ({"common_names": ()}, None),
    ({"dns_names": ("x.evil.com",)}, "san_dns_patterns"),
    ({"dns_names": ("a.b.svc.example.com",)}, "san_dns_patterns"),
    ({"dns_names": ("svc.example.com",)}, "san_dns_patterns"),
    ({"dns_names": ("Api.Example.Com",)}, None),
    ({"dns_names": ("*.svc.example.com",)}, None),
    ({"dns_names": ("*.example.com",)}, "san_dns_patterns"),
    ({"ip_addresses": ("10.255.255.255",)}, None),
    ({"ip_addresses": ("11.0.0.1",)}, "san_ip_cidrs"),
    ({"ip_addresses": ("192.168.1.200",)}, None),
    ({"ip_addresses": ("192.168.2.1",)}, "san_ip_cidrs"),
    ({"ip_addresses": ("fd12:3456::1",)}, None),
    ({"ip_addresses": ("fe80::1",)}, "san_ip_cidrs"),
    ({"ip_addresses": ("::ffff:10.0.0.1",)}, "san_ip_cidrs"),  # IPv4-mapped is IPv6, not in 10/8
    ({"ip_addresses": ("not-an-ip",)}, "san_ip_cidrs"),
    ({"emails": ("ops@example.com",)}, None),
    ({"emails": ("ops@EXAMPLE.COM",)}, None),
    ({"emails": ("ops@mail.example.com",)}, "san_email_domains"),
    ({"emails": ("ops@example.com.evil.org",)}, "san_email_domains"),
    ({"emails": ("ops@evil.org",)}, "san_email_domains"),
]


def _id(change: dict, rule: str | None) -> str:
    return (",".join(f"{k}={v}" for k, v in change.items()) or "as-is") + f"->{rule or 'allowed'}"


@pytest.mark.parametrize(("change", "rule"), REQUESTS, ids=[_id(c, r) for c, r in REQUESTS])
def test_evaluate(change, rule):
    violation = evaluate(POLICY, replace(ALLOWED, **change))

    assert (violation.rule if violation else None) == rule


@pytest.mark.parametrize(
    "field",
    ["cn_patterns", "san_dns_patterns", "san_ip_cidrs", "allowed_ca_ids", "allowed_certificate_types"],
)
def test_an_empty_list_allows_nothing_of_its_kind(field):
    violation = evaluate(replace(POLICY, **{field: ()}), ALLOWED)

    assert violation is not None and violation.rule == field


def test_an_empty_email_domain_list_refuses_any_email_san():
    request = replace(ALLOWED, certificate_type="client", dns_names=(), ip_addresses=(), emails=("a@example.com",))

    assert evaluate(replace(POLICY, san_email_domains=()), request).rule == "san_email_domains"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"dns_names": ("x.evil.com",)}, "DNS SAN 'x.evil.com' matches no san_dns_patterns"),
        ({"common_names": ("evil.com",)}, "CN 'evil.com' matches no cn_patterns"),
        ({"ip_addresses": ("11.0.0.1",)}, "IP SAN '11.0.0.1' is in none of san_ip_cidrs"),
        ({"valid_days": 365}, "valid_days 365 exceeds max_validity_days 90"),
        ({"ca_id": 9}, "CA 9 is not in allowed_ca_ids"),
    ],
)
def test_the_violation_names_the_value_and_the_rule(change, message):
    assert evaluate(POLICY, replace(ALLOWED, **change)).message == message


def test_the_matching_module_needs_no_django():
    code = "import sys, serviceaccounts.issuance; print(sorted(m for m in sys.modules if m.startswith('django')))"
    done = subprocess.run(
        [sys.executable, "-c", code],
        cwd=Path(__file__).resolve().parents[2],
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert (done.returncode, done.stdout.strip()) == (0, "[]"), done.stderr
