"""SAN validation and the per-type SAN rules of SPEC §7."""

from __future__ import annotations

import ipaddress

import pytest

from certificates.x509 import CertificateType, InvalidSAN, SanSet, build_sans
from certificates.x509.san import normalize_dns_name, normalize_email, normalize_ip_address

SERVER, CLIENT, DUAL, CA = (
    CertificateType.SERVER,
    CertificateType.CLIENT,
    CertificateType.DUAL_PURPOSE,
    CertificateType.CA,
)


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("example.com", "example.com"),
        ("WWW.Example.COM", "www.example.com"),
        (" api.example.com ", "api.example.com"),
        ("localhost", "localhost"),
        ("*.example.com", "*.example.com"),
        ("bücher.example", "xn--bcher-kva.example"),
        ("a-b.c1.example", "a-b.c1.example"),
        ("a" * 63 + ".example", "a" * 63 + ".example"),
    ],
)
def test_dns_names_accepted(value: str, normalised: str) -> None:
    assert normalize_dns_name(value) == normalised


@pytest.mark.parametrize(
    "value",
    [
        "",
        "example.com.",
        "-bad.example",
        "bad-.example",
        "under_score.example",
        "sp ace.example",
        "a..b",
        "a" * 64 + ".example",
        ".".join(["a" * 63] * 4),
        "*.com",
        "*",
        "foo.*.example.com",
        "*foo.example.com",
        "10.0.0.1",
        "exa$mple.com",
    ],
)
def test_dns_names_refused(value: str) -> None:
    with pytest.raises(InvalidSAN) as info:
        normalize_dns_name(value)
    assert info.value.field == "san_dns_names"
    assert repr(value) in info.value.message or "empty" in info.value.message


@pytest.mark.parametrize(
    ("value", "normalised"),
    [("10.0.0.1", "10.0.0.1"), (" ::1 ", "::1"), ("2001:DB8::0:1", "2001:db8::1")],
)
def test_ip_addresses_accepted(value: str, normalised: str) -> None:
    assert str(normalize_ip_address(value)) == normalised


@pytest.mark.parametrize("value", ["", "10.0.0.256", "10.0.0", "example.com", "::g", "10.0.0.0/8"])
def test_ip_addresses_refused(value: str) -> None:
    with pytest.raises(InvalidSAN) as info:
        normalize_ip_address(value)
    assert info.value.field == "san_ip_addresses"
    assert repr(value) in info.value.message


@pytest.mark.parametrize(
    ("value", "normalised"),
    [
        ("alice@example.com", "alice@example.com"),
        ("Alice.Smith+tag@Example.COM", "Alice.Smith+tag@example.com"),
        ("ops@bücher.example", "ops@xn--bcher-kva.example"),
    ],
)
def test_emails_accepted(value: str, normalised: str) -> None:
    assert normalize_email(value) == normalised


@pytest.mark.parametrize(
    "value",
    [
        "",
        "alice",
        "@example.com",
        "alice@",
        "a b@example.com",
        "alice@exa mple.com",
        ".alice@example.com",
        "al..ice@example.com",
        "alice@*.example.com",
        "x" * 65 + "@example.com",
        "alicé@example.com",
    ],
)
def test_emails_refused(value: str) -> None:
    with pytest.raises(InvalidSAN) as info:
        normalize_email(value)
    assert info.value.field == "san_email_addresses"
    assert repr(value) in info.value.message


IP1 = ipaddress.ip_address("10.0.0.1")


@pytest.mark.parametrize(
    ("kind", "cn", "dns", "ips", "emails", "expected"),
    [
        # server and dual_purpose: the common name becomes the DNS SAN when none is given
        (SERVER, "www.example.com", [], [], [], SanSet(("www.example.com",))),
        (SERVER, "WWW.Example.com", [], ["10.0.0.1"], [], SanSet(("www.example.com",), (IP1,))),
        (SERVER, "*.example.com", [], [], [], SanSet(("*.example.com",))),
        (SERVER, "www.example.com", ["api.example.com"], [], [], SanSet(("api.example.com",))),
        (SERVER, "My Web Server", [], [], [], SanSet()),
        (SERVER, "10.0.0.1", [], [], [], SanSet((), (IP1,))),
        (SERVER, None, ["a.example", "A.example"], ["10.0.0.1", "10.0.0.1"], [], SanSet(("a.example",), (IP1,))),
        (DUAL, "node.example", [], [], [], SanSet(("node.example",))),
        (DUAL, "node.example", [], [], ["ops@example.com"], SanSet(("node.example",), (), ("ops@example.com",))),
        # client: an email-looking common name becomes the email SAN when none is given
        (CLIENT, "alice@example.com", [], [], [], SanSet((), (), ("alice@example.com",))),
        (CLIENT, "alice@example.com", [], [], ["bob@example.com"], SanSet((), (), ("bob@example.com",))),
        (CLIENT, "alice", [], [], [], SanSet()),
        (CLIENT, "www.example.com", [], [], [], SanSet()),
        # ca: anything given, nothing added
        (CA, "sub.example.com", [], [], [], SanSet()),
        (
            CA,
            "Sub CA",
            ["ca.example"],
            ["10.0.0.1"],
            ["pki@example.com"],
            SanSet(("ca.example",), (IP1,), ("pki@example.com",)),
        ),
        ("server", "str.example", [], [], [], SanSet(("str.example",))),
    ],
)
def test_build_sans(
    kind: CertificateType, cn: str | None, dns: list[str], ips: list[str], emails: list[str], expected: SanSet
) -> None:
    assert build_sans(kind, cn, dns, ips, emails) == expected


@pytest.mark.parametrize(
    ("kind", "dns", "ips", "emails", "field", "message"),
    [
        (SERVER, [], [], ["alice@example.com"], "san_email_addresses", "Server certificates cannot have email"),
        (CLIENT, ["www.example.com"], [], [], "san_dns_names", "Client certificates cannot have DNS"),
        (CLIENT, [], ["10.0.0.1"], [], "san_ip_addresses", "Client certificates cannot have IP"),
        (SERVER, ["bad_name"], [], [], "san_dns_names", "'bad_name'"),
        (DUAL, [], ["300.1.1.1"], [], "san_ip_addresses", "'300.1.1.1'"),
        (CLIENT, [], [], ["not-an-email"], "san_email_addresses", "'not-an-email'"),
    ],
)
def test_build_sans_refuses(
    kind: CertificateType, dns: list[str], ips: list[str], emails: list[str], field: str, message: str
) -> None:
    with pytest.raises(InvalidSAN) as info:
        build_sans(kind, "cn.example", dns, ips, emails)
    assert info.value.field == field
    assert message in info.value.message


def test_build_sans_refuses_an_unknown_type() -> None:
    with pytest.raises(ValueError, match="'robot'"):
        build_sans("robot", "x.example")


def test_san_set_general_names() -> None:
    sans = build_sans(DUAL, None, ["a.example"], ["::1"], ["ops@example.com"])
    assert [type(name).__name__ for name in sans.general_names()] == ["DNSName", "IPAddress", "RFC822Name"]
    assert sans.ip_strings() == ["::1"]
    assert not SanSet()
