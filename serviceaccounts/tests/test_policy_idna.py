"""Policy patterns and name matching follow IDNA 2008 with UTS #46 non-transitional mapping (SPEC §7, §13)."""

from __future__ import annotations

import pytest

from serviceaccounts.issuance import PolicyInvalid, email_allowed, pattern_matches, validate_rules
from serviceaccounts.tests.conftest import API, make_account, set_policy, token_client

TYPES = ("server", "client", "dual_purpose", "ca")


def rules(**fields):
    return validate_rules(max_validity_days=30, certificate_types=TYPES, max_days=36500, **fields)


def test_patterns_are_stored_as_idna_2008_a_labels():
    stored = rules(
        cn_patterns=["*.Straße.example", "My Service", "ops@example.com"],
        san_dns_patterns=["*.straße.example", "ß.de", "XN--BCHER-KVA.example"],
        san_email_domains=["Straße.example"],
    )

    assert stored.cn_patterns == ("*.xn--strae-oqa.example", "my service", "ops@example.com")
    assert stored.san_dns_patterns == ("*.xn--strae-oqa.example", "xn--zca.de", "xn--bcher-kva.example")
    assert stored.san_email_domains == ("xn--strae-oqa.example",)


INVALID = [
    ("san_dns_patterns", "xn--zz.example"),
    ("san_dns_patterns", "*.XN--ZZ.example"),
    ("san_dns_patterns", "*.a\u200db.example"),
    ("san_dns_patterns", "💩.example"),
    ("san_dns_patterns", "xn---bbk.example"),
    ("cn_patterns", "xn--zz.example"),
    ("cn_patterns", "*.xn--ls8h.example"),
    ("cn_patterns", "a\u200db.example"),
    ("san_email_domains", "xn--zz.example"),
    ("san_email_domains", "a\u200cb.example"),
]


@pytest.mark.parametrize(("field", "pattern"), INVALID, ids=[f"{f}={p!r}" for f, p in INVALID])
def test_patterns_idna_2008_refuses_are_invalid(field, pattern):
    with pytest.raises(PolicyInvalid) as caught:
        rules(**{field: [pattern]})

    assert caught.value.field == field
    assert "IDNA 2008" in caught.value.message or "Joiner" in caught.value.message


# (stored pattern, name in a request, matches)
MATCHES = [
    ("*.xn--strae-oqa.example", "www.straße.example", True),
    ("*.xn--strae-oqa.example", "WWW.STRASSE.example", False),  # IDNA 2003 made these the same domain
    ("strasse.example", "straße.example", False),
    ("xn--strae-oqa.example", "XN--STRAE-OQA.example", True),
    ("bücher.example", "xn--bcher-kva.example", True),  # a pattern stored before A-labels still matches
    ("*.svc.example.com", "xn--zz.svc.example.com", False),  # a broken A-label matches nothing
    ("*.svc.example.com", "a\u200db.svc.example.com", False),
    ("*.svc.example.com", "ab.svc.example.com", True),
    ("my service", "MY SERVICE", True),
]


@pytest.mark.parametrize(("pattern", "name", "expected"), MATCHES, ids=[f"{p}~{n}" for p, n, _ in MATCHES])
def test_names_match_in_idna_2008_form(pattern, name, expected):
    assert pattern_matches(pattern, name) is expected


@pytest.mark.parametrize(
    ("domains", "email", "expected"),
    [
        (["xn--strae-oqa.example"], "ops@Straße.example", True),
        (["strasse.example"], "ops@straße.example", False),
        (["example.com"], "ops@xn--zz.example", False),
        (["bücher.example"], "ops@xn--bcher-kva.example", True),
    ],
)
def test_email_domains_match_in_idna_2008_form(domains, email, expected):
    assert email_allowed(domains, email) is expected


# --- over HTTP ---------------------------------------------------------------------------------


@pytest.fixture
def account(org_a):
    return make_account(org_a, can_create_cert=True)


def test_put_policy_stores_a_labels_and_refuses_bad_ones(client_for, admin_a, account, root_a):
    client = client_for(admin_a)
    url = f"{API}/service-accounts/{account.pk}/policy"

    stored = client.put(url, {"san_dns_patterns": ["*.straße.example"], "max_validity_days": 30}, format="json")
    refused = client.put(url, {"san_dns_patterns": ["xn--zz.example"], "max_validity_days": 30}, format="json")
    joiner = client.put(url, {"cn_patterns": ["a\u200db.example"], "max_validity_days": 30}, format="json")

    assert stored.status_code == 200, stored.content
    assert stored.json()["san_dns_patterns"] == ["*.xn--strae-oqa.example"]
    assert refused.status_code == 400 and "san_dns_patterns" in refused.json()["errors"], refused.content
    assert joiner.status_code == 400 and "cn_patterns" in joiner.json()["errors"], joiner.content
    assert client.get(url).json()["san_dns_patterns"] == ["*.xn--strae-oqa.example"]  # refusals changed nothing


@pytest.mark.parametrize(
    ("patterns", "status"),
    [(["*.strasse.example"], 403), (["*.straße.example"], 201)],
    ids=["ss-pattern-refuses-sharp-s", "sharp-s-pattern-allows-it"],
)
def test_a_service_account_issues_sharp_s_names_only_under_a_sharp_s_pattern(account, root_a, patterns, status):
    set_policy(
        account, cn_patterns=["*.straße.example"], san_dns_patterns=patterns, allowed_ca_ids=[root_a.pk],
        allowed_certificate_types=["server"], max_validity_days=30,
    )  # fmt: skip
    body = {
        "common_name": "www.straße.example", "subject_dn": "CN=www.straße.example", "certificate_type": "server",
        "key_algorithm": "ecdsa", "key_size": 256, "valid_days": 30,
    }  # fmt: skip

    response = token_client(account).post(f"{API}/certificates/?ca_id={root_a.pk}", body, format="json")

    assert response.status_code == status, response.content
    if status == 201:
        assert response.json()["san_dns_names"] == ["www.xn--strae-oqa.example"]
    else:
        # IDNA 2003 wrote the SAN as www.strasse.example, which this pattern let through
        assert "DNS SAN 'www.xn--strae-oqa.example' matches no san_dns_patterns" in response.json()["detail"]
