"""DNS names follow IDNA 2008 with UTS #46 non-transitional mapping (SPEC §7), never IDNA 2003."""

from __future__ import annotations

import ipaddress
import re

import idna
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from certificates.x509 import CertificateType, InvalidSAN, build_sans
from certificates.x509.san import normalize_dns_name, normalize_email

SERVER, CLIENT, DUAL, CA = (
    CertificateType.SERVER,
    CertificateType.CLIENT,
    CertificateType.DUAL_PURPOSE,
    CertificateType.CA,
)


@pytest.mark.parametrize(
    ("value", "stored"),
    [
        ("straße.example", "xn--strae-oqa.example"),  # IDNA 2003 made it strasse.example, another domain
        ("STRASSE.example", "strasse.example"),
        ("ß.de", "xn--zca.de"),
        ("ς.example", "xn--3xa.example"),  # final sigma is kept (non-transitional)
        ("BÜCHER.Example", "xn--bcher-kva.example"),
        ("xn--bcher-kva.example", "xn--bcher-kva.example"),
        ("XN--BCHER-KVA.EXAMPLE", "xn--bcher-kva.example"),
        ("*.straße.example", "*.xn--strae-oqa.example"),
        ("\uff45\uff58\uff41\uff4d\uff50\uff4c\uff45.com", "example.com"),  # UTS #46 maps full-width forms
        ("bücher。example", "xn--bcher-kva.example"),  # and ideographic full stops
        ("r3---sn-abc.googlevideo.com", "r3---sn-abc.googlevideo.com"),  # plain ASCII labels keep RFC 1123
        ("नमस्ते.example", "xn--h2bhs4b8d8a.example"),  # a virama: no joiner needed
        ("क्\u200dष.example", "xn--11b2ezcw70k.example"),  # a zero-width joiner after a virama is allowed (CONTEXTJ)
    ],
)
def test_dns_names_become_idna_2008_a_labels(value: str, stored: str) -> None:
    assert normalize_dns_name(value) == stored


@pytest.mark.parametrize(
    ("value", "reason"),
    [
        ("xn--zz.example", "'xn--zz' is not a valid IDNA 2008 label"),
        ("XN--ZZ.example", "is not a valid IDNA 2008 label"),
        ("xn--.example", "is not a valid IDNA 2008 label"),
        ("xn--abc-.example", "is not a valid IDNA 2008 label"),
        ("xn--ab--c.example", "is not a valid IDNA 2008 label"),
        ("xn---bbk.example", "is not a valid IDNA 2008 label"),  # a non-canonical spelling of xn--bbk
        ("xn--ls8h.example", "is not a valid IDNA 2008 label"),  # the A-label of a disallowed emoji
        ("a\u200db.example", "Joiner U+200D not allowed"),  # IDNA 2003 dropped the joiner: ab.example
        ("a\u200cb.example", "Joiner U+200C not allowed"),
        ("💩.example", "not allowed"),
        ("\u0663.example", "directionality"),  # an Arabic-Indic digit alone breaks the Bidi rule
        ("\u0300a.example", "is not a valid IDNA 2008 label"),  # a label may not start with a combining mark
        ("a\u2488.example", "U+2488 not allowed"),  # ⒈ maps to "1." under IDNA 2003
        ("exa mple.com", "labels are 1-63 letters"),
        ("under_score.example", "labels are 1-63 letters"),
    ],
)
def test_names_idna_2008_refuses_are_invalid(value: str, reason: str) -> None:
    with pytest.raises(InvalidSAN) as caught:
        normalize_dns_name(value)

    assert reason in caught.value.message
    assert caught.value.field == "san_dns_names"


def test_email_domains_follow_idna_2008() -> None:
    assert normalize_email("Ops@Straße.example") == "Ops@xn--strae-oqa.example"
    with pytest.raises(InvalidSAN, match="bad domain: 'xn--zz' is not a valid IDNA 2008 label"):
        normalize_email("ops@xn--zz.example")
    with pytest.raises(InvalidSAN, match="Joiner"):
        normalize_email("ops@a\u200db.example")
    with pytest.raises(InvalidSAN, match="longer than 254"):
        normalize_email("o" * 64 + "@" + ".".join(["d" * 63] * 3))


@pytest.mark.parametrize(
    ("kind", "cn", "sans"),
    [
        (SERVER, "straße.example", (("xn--strae-oqa.example",), ())),
        (DUAL, "*.BÜCHER.example", (("*.xn--bcher-kva.example",), ())),
        (CLIENT, "alice@straße.example", ((), ("alice@xn--strae-oqa.example",))),
        (SERVER, "Web Server", ((), ())),  # not shaped like a DNS name: plain text, no SAN
        (CLIENT, "Jürgen Müller", ((), ())),
    ],
)
def test_a_common_name_that_is_a_dns_name_follows_idna_2008(
    kind: CertificateType, cn: str, sans: tuple[tuple[str, ...], tuple[str, ...]]
) -> None:
    result = build_sans(kind, cn)

    assert (result.dns_names, result.emails) == sans


@pytest.mark.parametrize(
    ("kind", "cn"),
    [
        (SERVER, "xn--zz.example"),
        (SERVER, "a\u200db.example"),
        (DUAL, "*.xn--zz.example"),
        (CLIENT, "xn--zz.example"),
        (CLIENT, "alice@xn--zz.example"),
        (CLIENT, "alice@a\u200db.example"),
        (CA, "ca.xn--zz.example"),
    ],
)
def test_a_common_name_shaped_like_a_broken_idn_is_refused(kind: CertificateType, cn: str) -> None:
    # Before, such a CN stayed as text without a SAN; it names a domain no one can own.
    with pytest.raises(InvalidSAN) as caught:
        build_sans(kind, cn, dns=["ok.example"] if kind is not CLIENT else ())

    assert caught.value.field == "common_name"


def test_subject_emails_are_repeated_as_email_sans() -> None:
    sans = build_sans(CLIENT, "Alice", emails=["a@example.com"], subject_emails=["b@Example.com", "a@example.com"])

    assert sans.emails == ("a@example.com", "b@example.com")
    assert build_sans(CA, "Sub CA", subject_emails=["pki@example.com"]).emails == ("pki@example.com",)
    with pytest.raises(InvalidSAN, match="Server certificates cannot have an emailAddress") as caught:
        build_sans(SERVER, "www.example.com", subject_emails=["ops@example.com"])
    assert caught.value.field == "subject_dn"


# --- against the idna package's own IDNA 2008 / UTS #46 encoder -------------------------------

LETTERS = st.sampled_from(
    list("abcxyz019-") + list("ßüéçøςσΣİıÅﬁⅷ") + ["\u200d", "\u200c", "\u00ad", "\u0300", "ー", "ा", "्"]
)
LABELS = st.text(LETTERS, min_size=1, max_size=12) | st.sampled_from(["xn--zz", "xn--bcher-kva", "xn--zca", "XN--ZCA"])
NAMES = st.lists(LABELS, min_size=1, max_size=4).map(".".join)
R_LDH = re.compile(r"^..--", re.ASCII)  # plain ASCII labels with hyphens at 3-4, which we keep (RFC 1123)


@settings(max_examples=400, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(NAMES)
@example("straße.example")
@example("xn--zz.example")
@example("a\u200db.example")
@example("0.\u00ad")
def test_dns_names_agree_with_the_idna_package(name: str) -> None:
    try:
        expected = idna.encode(name, uts46=True, transitional=False).decode("ascii")
    except idna.IDNAError:
        expected = None
    try:
        stored = normalize_dns_name(name)
    except InvalidSAN:
        stored = None
    if expected is not None and "" in expected.split("."):
        assert stored is None  # a label mapped away (soft hyphen, joiner) leaves an empty one: refused
        return
    if expected is not None and _is_ip(expected):
        assert stored is None  # an IP address goes in san_ip_addresses
        return
    if expected is None and stored is not None:
        assert any(R_LDH.match(label) and not label.startswith("xn--") for label in stored.split("."))
        return
    assert stored == expected
    if stored is not None:
        assert idna.encode(idna.decode(stored), uts46=True) == stored.encode("ascii")  # every A-label is canonical


def _is_ip(text: str) -> bool:
    try:
        ipaddress.ip_address(text)
    except ValueError:
        return False
    return True
