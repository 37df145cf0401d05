"""Property-based tests (hypothesis): hostile text reaches the parsers and only their own errors come out."""

from __future__ import annotations

import ipaddress
import os
import string

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from certificates.x509 import (
    CertificateType,
    InvalidSAN,
    InvalidSubject,
    SanSet,
    X509Error,
    build_sans,
    name_to_rfc4514,
    parse_slug,
    parse_subject,
    slugify_ca,
)
from certificates.x509.names import slugify
from certificates.x509.san import normalize_dns_name, normalize_email, normalize_ip_address
from serviceaccounts import issuance

pytestmark = pytest.mark.security

# Bounded so that the whole file runs in seconds (PKISERVER_PROPERTY_EXAMPLES raises it for a long
# hunt); no example database, since CI starts from scratch.
BOUNDED = settings(
    max_examples=int(os.environ.get("PKISERVER_PROPERTY_EXAMPLES", "200")),
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)

# --- subject DNs ---------------------------------------------------------------------------------

ATTRIBUTE_NAMES = ["CN", "cn", "O", "OU", "C", "L", "ST", "STREET", "DC", "UID", "emailAddress", "E",
                   "serialNumber", "title", "GN", "SN", "givenName", "surname", "commonName"]  # fmt: skip
HOSTILE_TYPES = ["", " ", "X", "0.40", "1.2.840.113549.1.9.1", "oid.2.5.4.3", "2.5.4.6", "9.9", "1.2.3.",
                 "2.999999999999999999999999", "1.39", "C N", "=", "+", ","]  # fmt: skip
DN_ALPHABET = st.characters(codec="utf-8") | st.sampled_from([*'\\,+=#;<>" \x00\n', "\\2C", "\\C3\\A9", "\\ff"])


@st.composite
def dn_like(draw: st.DrawFn) -> str:
    """Text shaped like an RFC 4514 string: known, hostile and dotted types, escapes, separators."""
    rdns = []
    for _ in range(draw(st.integers(1, 5))):
        avas = []
        for _ in range(draw(st.integers(1, 3))):
            kind = draw(st.sampled_from(ATTRIBUTE_NAMES + HOSTILE_TYPES))
            value = "".join(draw(st.lists(DN_ALPHABET, max_size=20)))
            avas.append(f"{kind}={value}")
        rdns.append("+".join(avas))
    return draw(st.sampled_from([",", ", ", ";"])).join(rdns)


@BOUNDED
@given(st.text(max_size=300) | dn_like())
@example("0.40=x")  # an OID cryptography refuses (the second arc of 0 or 1 must be below 40)
@example("1.2.3.=x")
@example("CN=a,")
@example("CN=" + "a" * 5000)
@example("CN=a\\")
def test_parse_subject_raises_only_invalid_subject(text):
    try:
        name = parse_subject(text)
    except InvalidSubject:
        return
    assert isinstance(name, x509.Name)
    assert len(name.rdns) >= 1


# Attributes a subject may carry, each with values that satisfy its rules (RFC 5280 bounds,
# two-letter countries, ASCII for email and DC, PrintableString for serialNumber).
def _value(alphabet: st.SearchStrategy[str], max_size: int) -> st.SearchStrategy[str]:
    return st.text(alphabet, min_size=1, max_size=max_size)


NO_CONTROLS = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))
PRINTABLE = st.sampled_from(string.ascii_letters + string.digits + " '()+,-./:=?")
ASCII = st.characters(min_codepoint=0x20, max_codepoint=0x7E)
ATTRIBUTE_VALUES = {
    NameOID.COMMON_NAME: _value(NO_CONTROLS, 16),  # cryptography counts its 64 in UTF-8 bytes
    NameOID.ORGANIZATION_NAME: _value(NO_CONTROLS, 64),
    NameOID.ORGANIZATIONAL_UNIT_NAME: _value(NO_CONTROLS, 64),
    NameOID.LOCALITY_NAME: _value(NO_CONTROLS, 128),
    NameOID.STATE_OR_PROVINCE_NAME: _value(NO_CONTROLS, 128),
    NameOID.STREET_ADDRESS: _value(NO_CONTROLS, 100),
    NameOID.COUNTRY_NAME: st.text(string.ascii_uppercase, min_size=2, max_size=2),
    NameOID.DOMAIN_COMPONENT: _value(ASCII, 30),
    NameOID.USER_ID: _value(NO_CONTROLS, 30),
    NameOID.EMAIL_ADDRESS: _value(ASCII, 60),
    NameOID.SERIAL_NUMBER: _value(PRINTABLE, 64),
    NameOID.TITLE: _value(NO_CONTROLS, 64),
    NameOID.GIVEN_NAME: _value(NO_CONTROLS, 30),
    NameOID.SURNAME: _value(NO_CONTROLS, 30),
    ObjectIdentifier("1.3.6.1.4.1.55555.1"): _value(NO_CONTROLS, 30),  # a private OID, written dotted
}


@st.composite
def names(draw: st.DrawFn) -> x509.Name:
    rdns = []
    for _ in range(draw(st.integers(1, 5))):
        oids = draw(st.lists(st.sampled_from(list(ATTRIBUTE_VALUES)), min_size=1, max_size=3, unique=True))
        rdns.append(x509.RelativeDistinguishedName([x509.NameAttribute(o, draw(ATTRIBUTE_VALUES[o])) for o in oids]))
    return x509.Name(rdns)


@BOUNDED
@given(names())
def test_parse_subject_reads_back_what_name_to_rfc4514_writes(name):
    text = name_to_rfc4514(name)

    assert parse_subject(text) == name


@BOUNDED
@given(
    subject_dn=st.none() | st.text(max_size=80) | dn_like(),
    common_name=st.none() | st.text(max_size=70) | st.text(st.sampled_from("éß€😀a"), max_size=64),
)
@example(subject_dn="O=Example", common_name="é" * 40)  # 40 characters, 80 bytes: was a 500
def test_issued_subjects_raise_only_invalid(subject_dn, common_name):
    # How an issue or sign-csr request's subject_dn and common_name become the certificate's subject.
    from certificates.services import _subject
    from pkiserver.errors import Invalid

    try:
        name = _subject(subject_dn, common_name)
    except Invalid as exc:
        assert exc.field in {"subject_dn", "common_name"}
        return
    assert isinstance(name, x509.Name)


# --- subjectAltNames -----------------------------------------------------------------------------

DNS_ALPHABET = st.sampled_from(string.ascii_letters + string.digits + "-._*") | st.characters(codec="utf-8")
DNS_LIKE = st.text(DNS_ALPHABET, max_size=80) | st.from_regex(
    r"(\*\.)?([a-zA-Z0-9-]{1,20}\.){0,4}[a-zA-Z0-9-]{1,20}", fullmatch=True
)
IP_LIKE = st.text(st.sampled_from("0123456789abcdef.:/%[] "), max_size=45) | st.ip_addresses().map(str)
EMAIL_LIKE = (
    st.text(max_size=60)
    | st.emails()
    | st.builds(lambda local, domain: f"{local}@{domain}", st.text(max_size=20), DNS_LIKE)
)
NOT_TEXT = st.none() | st.integers() | st.lists(st.text(), max_size=2) | st.binary(max_size=10)


@BOUNDED
@given(DNS_LIKE | NOT_TEXT)
@example("xn--")  # an ACE prefix with nothing after it
@example("a..b")
@example("*.")
@example("1.2.3.4")
def test_dns_names_normalise_or_raise_invalid_san(value):
    try:
        normalised = normalize_dns_name(value)
    except InvalidSAN:
        return
    assert normalised.isascii() and normalised == normalised.lower()
    assert normalize_dns_name(normalised) == normalised  # idempotent
    x509.DNSName(normalised)  # cryptography takes it as it is


@BOUNDED
@given(IP_LIKE | NOT_TEXT)
def test_ip_addresses_normalise_or_raise_invalid_san(value):
    try:
        address = normalize_ip_address(value)
    except InvalidSAN:
        return
    assert normalize_ip_address(str(address)) == address
    assert ipaddress.ip_address(str(address)) == address


@BOUNDED
@given(EMAIL_LIKE | NOT_TEXT)
def test_emails_normalise_or_raise_invalid_san(value):
    try:
        normalised = normalize_email(value)
    except InvalidSAN:
        return
    assert normalised.isascii()
    assert normalize_email(normalised) == normalised
    x509.RFC822Name(normalised)


@BOUNDED
@given(
    kind=st.sampled_from(list(CertificateType)),
    common_name=st.none() | st.text(max_size=70) | DNS_LIKE | st.ip_addresses().map(str) | st.emails(),
    dns=st.lists(DNS_LIKE, max_size=4),
    ips=st.lists(IP_LIKE, max_size=4),
    emails=st.lists(EMAIL_LIKE, max_size=4),
)
def test_build_sans_raises_only_invalid_san_and_keeps_the_type_rules(kind, common_name, dns, ips, emails):
    try:
        sans = build_sans(kind, common_name, dns, ips, emails)
    except InvalidSAN:
        return
    assert isinstance(sans, SanSet)
    if kind is CertificateType.SERVER:
        assert not sans.emails
    if kind is CertificateType.CLIENT:
        assert not sans.dns_names and not sans.ip_addresses
    if sans:
        x509.SubjectAlternativeName(sans.general_names())  # cryptography takes the values as they are
    assert len(set(sans.dns_names)) == len(sans.dns_names)  # de-duplicated


# --- public slugs --------------------------------------------------------------------------------

MAX_ID = 10**18 - 1  # parse_slug reads ids of up to 18 digits (always a valid 64-bit key)


@BOUNDED
@given(st.text(max_size=60) | st.from_regex(r"[a-z0-9-]{0,20}-[0-9]{1,22}", fullmatch=True))
@example("ca-0")
@example("ca-01")
@example("ca-١٢")  # Arabic-Indic digits: str.isdigit() says yes, the id must still be ASCII
@example("-5")
def test_parse_slug_answers_none_or_a_positive_id(text):
    parsed = parse_slug(text)

    if parsed is not None:
        name, ca_id = parsed
        assert name and 1 <= ca_id <= MAX_ID
        assert text == f"{name}-{ca_id}"


@BOUNDED
@given(name=st.text(max_size=80), ca_id=st.integers(1, MAX_ID))
@example(name="My Root CA", ca_id=3)
@example(name="***", ca_id=1)
@example(name="Root", ca_id=MAX_ID)
@example(name="Ünïcödé ✓ 42", ca_id=7)
def test_slugify_ca_and_parse_slug_round_trip(name, ca_id):
    slug = slugify_ca(name, ca_id)

    assert slug.isascii()
    assert parse_slug(slug) == (slugify(name) or "ca", ca_id)


# --- issuance-policy patterns --------------------------------------------------------------------

LABEL = st.from_regex(r"[a-z0-9_-]{1,12}", fullmatch=True)
PATTERN_LIKE = st.text(max_size=60) | st.from_regex(
    r"(\*\.)?([a-zA-Z0-9*-]{1,10}\.){0,3}[a-zA-Z0-9-]{1,10}", fullmatch=True
)


def _containers(inner: st.SearchStrategy) -> st.SearchStrategy:
    return st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=5), inner, max_size=3)


JSONISH = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    _containers,
    max_leaves=12,
)


def _normalised(pattern: str, *, dns: bool) -> str | None:
    try:
        return issuance.normalize_pattern(pattern, field="cn_patterns", dns=dns)
    except issuance.PolicyInvalid:
        return None


@BOUNDED
@given(pattern=PATTERN_LIKE, name=st.text(max_size=60) | DNS_LIKE, dns=st.booleans())
@example(pattern="*.svc.example.com", name="a.b.svc.example.com", dns=True)
@example(pattern="xn--", name="xn--", dns=True)
def test_patterns_normalise_or_raise_policy_invalid_and_matching_never_raises(pattern, name, dns):
    stored = _normalised(pattern, dns=dns)
    if stored is None:
        return
    assert stored == stored.lower()
    assert _normalised(stored, dns=dns) == stored  # idempotent
    assert isinstance(issuance.pattern_matches(stored, name), bool)


@BOUNDED
@given(
    suffix=st.lists(LABEL, min_size=1, max_size=3),
    label=LABEL,
    extra=st.lists(LABEL, min_size=1, max_size=2),
)
def test_a_wildcard_stands_for_exactly_one_label(suffix, label, extra):
    rest = ".".join(suffix)
    pattern = _normalised(f"*.{rest}", dns=True)
    if pattern is None:  # e.g. a label with "_" or a leading hyphen is not a DNS label
        return

    assert issuance.pattern_matches(pattern, f"{label}.{rest}")
    assert issuance.pattern_matches(pattern, f"{label}.{rest}".upper())  # case does not matter
    assert not issuance.pattern_matches(pattern, rest)  # zero labels
    assert not issuance.pattern_matches(pattern, ".".join([*extra, label, rest]))  # two or more
    assert not issuance.pattern_matches(pattern, f"{label}.{rest}.evil.example")


@BOUNDED
@given(
    cn_patterns=JSONISH,
    san_dns_patterns=JSONISH,
    san_ip_cidrs=JSONISH
    | st.lists(
        st.builds(lambda ip, bits: f"{ip}/{bits}", st.ip_addresses(), st.integers(0, 128)) | IP_LIKE, max_size=3
    ),
    san_email_domains=JSONISH,
    allowed_ca_ids=JSONISH,
    allowed_certificate_types=JSONISH | st.lists(st.sampled_from(["server", "client", "ca", "x"]), max_size=3),
    max_validity_days=JSONISH,
)
def test_validate_rules_raises_only_policy_invalid(**fields):
    try:
        rules = issuance.validate_rules(
            **fields, certificate_types=["server", "client", "dual_purpose", "ca"], max_days=36500
        )
    except issuance.PolicyInvalid as exc:
        assert exc.field in fields
        return
    assert isinstance(rules, issuance.PolicyRules)


RULES = issuance.validate_rules(
    cn_patterns=["*.svc.example.com", "api.example.com"],
    san_dns_patterns=["*.svc.example.com"],
    san_ip_cidrs=["10.0.0.0/8", "fd00::/8"],
    san_email_domains=["example.com"],
    allowed_ca_ids=[1],
    allowed_certificate_types=["server"],
    max_validity_days=90,
    certificate_types=["server", "client", "dual_purpose", "ca"],
    max_days=36500,
)


@BOUNDED
@given(
    ca_id=st.integers(),
    certificate_type=st.text(max_size=12) | st.sampled_from(["server", "client"]),
    valid_days=st.integers(),
    common_names=st.lists(st.text(max_size=30) | DNS_LIKE, max_size=3).map(tuple),
    dns_names=st.lists(DNS_LIKE, max_size=3).map(tuple),
    ip_addresses=st.lists(IP_LIKE, max_size=3).map(tuple),
    emails=st.lists(EMAIL_LIKE, max_size=3).map(tuple),
)
def test_evaluate_answers_a_named_rule_or_none_for_any_request(**request):
    violation = issuance.evaluate(RULES, issuance.IssuanceRequest(**request))

    if violation is None:
        assert request["ca_id"] == 1 and request["certificate_type"] == "server" and request["valid_days"] <= 90
    else:
        assert violation.rule in {
            "allowed_ca_ids", "allowed_certificate_types", "max_validity_days", "cn_patterns",
            "san_dns_patterns", "san_ip_cidrs", "san_email_domains",
        }  # fmt: skip


def test_x509_errors_are_value_errors_with_a_field():
    # What the API layer relies on when it turns a domain error into a 400 naming the field.
    assert issubclass(InvalidSubject, X509Error) and issubclass(X509Error, ValueError)
    assert InvalidSubject("x").field == "subject_dn"
