"""RFC 5280's rules for every subject that reaches a certificate (check_subject), checked with pkilint."""

from __future__ import annotations

import string
import warnings
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID, ObjectIdentifier
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from certificates.x509 import (
    CertificateType,
    InvalidCSR,
    InvalidSubject,
    build_leaf,
    build_sans,
    certificate_to_pem,
    check_attribute,
    check_subject,
    csr_subject,
    parse_subject,
    random_serial,
    subject_emails,
)

from .conftest import KeyPool
from .helpers import BIT_STRING, BMP, UTF8, Issued, csr_with_subject, lint_certificate, urls

T = _ASN1Type
UID = ObjectIdentifier("2.5.4.45")
PRIVATE = ObjectIdentifier("1.3.6.1.4.1.55555.1")  # an attribute type RFC 5280 does not define
GENDER = ObjectIdentifier("1.3.6.1.5.5.7.9.3")


def attribute(oid: ObjectIdentifier, value: str | bytes, kind: _ASN1Type | None = None) -> x509.NameAttribute:
    """An attribute as a parsed CSR may hold it: any value, any string type, lengths unchecked."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return x509.NameAttribute(oid, value, kind, _validate=False)  # type: ignore[arg-type]


def name(*attributes: x509.NameAttribute) -> x509.Name:
    return x509.Name([x509.RelativeDistinguishedName([a]) for a in attributes])


def types(subject: x509.Name) -> list[tuple[str, str, _ASN1Type]]:
    return [(a.oid.dotted_string, str(a.value), a._type) for a in subject]


# (attribute, what the message must name) -> InvalidSubject
REFUSED = [
    (attribute(NameOID.COMMON_NAME, "x" * 65), "CN is longer than 64 characters"),
    (attribute(NameOID.COMMON_NAME, "x" * 100), "CN is longer than 64 characters"),
    (attribute(NameOID.COMMON_NAME, "x" * 300), "CN is longer than 64 characters"),
    (attribute(NameOID.COMMON_NAME, "é" * 33), "CN is longer than 64 bytes"),
    (attribute(NameOID.COMMON_NAME, "a\x00b"), "CN contains control characters"),
    (attribute(NameOID.COMMON_NAME, "a\x1b[31mb"), "CN contains control characters"),
    (attribute(NameOID.COMMON_NAME, "a\x7fb"), "CN contains control characters"),
    (attribute(NameOID.COMMON_NAME, "a\x85b"), "CN contains control characters"),
    (attribute(NameOID.COMMON_NAME, "a\nb"), "CN contains control characters"),
    (attribute(NameOID.ORGANIZATION_NAME, "a\ud800b"), "O contains control characters or lone surrogates"),
    (attribute(NameOID.COMMON_NAME, ""), "CN has an empty value"),
    (attribute(NameOID.COMMON_NAME, "abc", T.OctetString), "CN is not a character string"),
    (attribute(NameOID.ORGANIZATION_NAME, "o" * 65), "O is longer than 64"),
    (attribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "u" * 65), "OU is longer than 64"),
    (attribute(NameOID.LOCALITY_NAME, "l" * 129), "L is longer than 128"),
    (attribute(NameOID.STATE_OR_PROVINCE_NAME, "s" * 129), "ST is longer than 128"),
    (attribute(NameOID.STREET_ADDRESS, "s" * 129), "STREET is longer than 128"),
    (attribute(NameOID.TITLE, "t" * 65), "title is longer than 64"),
    (attribute(NameOID.POSTAL_CODE, "1" * 41), "postalCode is longer than 40"),
    (attribute(NameOID.PSEUDONYM, "p" * 129), "pseudonym is longer than 128"),
    (attribute(NameOID.USER_ID, "u" * 257), "UID is longer than 256"),
    (attribute(NameOID.SERIAL_NUMBER, "1" * 65), "serialNumber is longer than 64"),
    (attribute(NameOID.SERIAL_NUMBER, "a_b", T.UTF8String), "serialNumber may only contain"),
    (attribute(NameOID.COUNTRY_NAME, "USA", T.UTF8String), "C must be a two-letter code such as US, not 'USA'"),
    (attribute(NameOID.COUNTRY_NAME, "U"), "C must be a two-letter code"),
    (attribute(NameOID.COUNTRY_NAME, "U1"), "C must be a two-letter code"),
    (attribute(NameOID.JURISDICTION_COUNTRY_NAME, "USA"), "jurisdictionC must be a two-letter code"),
    (attribute(GENDER, "X"), "gender must be M or F"),
    (attribute(NameOID.EMAIL_ADDRESS, "a" * 244 + "@example.com"), "emailAddress is longer than 255"),
    (attribute(NameOID.EMAIL_ADDRESS, "not-an-email"), "emailAddress: 'not-an-email' is not a valid email"),
    (attribute(NameOID.EMAIL_ADDRESS, "café@example.com", T.UTF8String), "emailAddress must be ASCII"),
    (attribute(NameOID.EMAIL_ADDRESS, "ops@bücher.example", T.UTF8String), "emailAddress must be ASCII"),
    (attribute(NameOID.EMAIL_ADDRESS, "ops@localhost"), "emailAddress: 'ops@localhost' needs a domain of two"),
    (attribute(NameOID.EMAIL_ADDRESS, "ops@xn--zz.example"), "'xn--zz' is not a valid IDNA 2008 label"),
    (attribute(NameOID.DOMAIN_COMPONENT, "bücher", T.UTF8String), "DC must be ASCII (IA5String) (write an"),
    (attribute(UID, b"\x00\x01", T.BitString), "x500UniqueIdentifier cannot be part of a certificate subject"),
    (attribute(ObjectIdentifier("1.2.840.113549.1.9.7"), "s3cret"), "challengePassword cannot be part"),
    (attribute(ObjectIdentifier("1.2.840.113549.1.9.14"), "x"), "extensionRequest cannot be part"),
    (attribute(ObjectIdentifier("1.3.6.1.5.5.7.9.1"), "19700101000000Z"), "dateOfBirth cannot be part"),
    (attribute(PRIVATE, "a\x00"), "1.3.6.1.4.1.55555.1 contains control characters"),
]


@pytest.mark.parametrize(
    ("bad", "message"), REFUSED, ids=[f"{a.oid.dotted_string}={a.value!r:.24}" for a, _ in REFUSED]
)
def test_a_subject_breaking_rfc_5280_is_refused_naming_the_attribute(bad: x509.NameAttribute, message: str) -> None:
    subject = name(attribute(NameOID.ORGANIZATION_NAME, "Acme"), bad)

    with pytest.raises(InvalidSubject) as caught:
        check_subject(subject, field="csr")

    assert message in caught.value.message
    assert caught.value.field == "csr"


@pytest.mark.parametrize(
    ("components", "message"),
    [
        (["example"], "two labels or more"),
        (["c1", "example"], "two labels or more"),  # pkilint wants a top-level label ending in a letter
        (["com", "a b"], "do not spell a valid domain name"),
        (["com", "-a"], "do not spell a valid domain name"),
        (["com", "a" * 64], "DC is longer than 63"),
        (["com", "xn--zz"], "'xn--zz' is not a valid IDNA 2008 label"),
        (["example.com"], "Each DC holds one label"),
    ],
    ids=["one-label", "numeric-tld", "space", "hyphen", "long-label", "bad-a-label", "dotted"],
)
def test_domain_components_must_spell_a_domain_name(components: list[str], message: str) -> None:
    subject = name(*(attribute(NameOID.DOMAIN_COMPONENT, dc) for dc in components), attribute(NameOID.COMMON_NAME, "x"))

    with pytest.raises(InvalidSubject, match="DC") as caught:
        check_subject(subject)

    assert message in caught.value.message


def test_a_multi_valued_rdn_may_not_repeat_a_type() -> None:
    rdn = x509.RelativeDistinguishedName([attribute(NameOID.COMMON_NAME, "a"), attribute(NameOID.COMMON_NAME, "b")])

    with pytest.raises(InvalidSubject, match="multi-valued RDN repeats CN"):
        check_subject(x509.Name([rdn]))


def test_a_whole_subject_past_4096_characters_is_refused() -> None:
    subject = name(*(attribute(NameOID.ORGANIZATIONAL_UNIT_NAME, f"{i:02d}" + "u" * 62) for i in range(70)))

    with pytest.raises(InvalidSubject, match="longer than 4096"):
        check_subject(subject)


def test_a_ca_subject_may_be_refused_an_email_address() -> None:
    subject = parse_subject("CN=Root,E=pki@example.com")

    with pytest.raises(InvalidSubject, match="emailAddress cannot be part of this subject"):
        check_subject(subject, email_allowed=False)
    assert check_subject(subject) == subject


# (attribute as sent, the value and string type it is written with)
RE_ENCODED = [
    (attribute(NameOID.EMAIL_ADDRESS, "ops@example.com", T.UTF8String), "ops@example.com", T.IA5String),
    (attribute(NameOID.EMAIL_ADDRESS, "Ops@Example.COM", T.IA5String), "Ops@example.com", T.IA5String),
    (attribute(NameOID.COUNTRY_NAME, "US", T.UTF8String), "US", T.PrintableString),
    (attribute(NameOID.COUNTRY_NAME, "de", T.PrintableString), "DE", T.PrintableString),
    (attribute(NameOID.SERIAL_NUMBER, "A-1", T.UTF8String), "A-1", T.PrintableString),
    (attribute(NameOID.DN_QUALIFIER, "q1", T.UTF8String), "q1", T.PrintableString),
    (attribute(NameOID.COMMON_NAME, "héllo", T.BMPString), "héllo", T.UTF8String),
    (attribute(NameOID.COMMON_NAME, "héllo😀", T.UniversalString), "héllo😀", T.UTF8String),
    (attribute(NameOID.COMMON_NAME, "abc", T.T61String), "abc", T.UTF8String),
    (attribute(NameOID.COMMON_NAME, "abc", T.IA5String), "abc", T.UTF8String),
    (attribute(NameOID.COMMON_NAME, "abc", T.VisibleString), "abc", T.UTF8String),
    (attribute(NameOID.COMMON_NAME, "123", T.NumericString), "123", T.UTF8String),
    (attribute(NameOID.COMMON_NAME, "Plain", T.PrintableString), "Plain", T.PrintableString),
    (attribute(NameOID.ORGANIZATION_NAME, "Acme", T.PrintableString), "Acme", T.PrintableString),
    (attribute(PRIVATE, "abc", T.BMPString), "abc", T.UTF8String),
    (attribute(PRIVATE, "abc", T.IA5String), "abc", T.UTF8String),
    (attribute(PRIVATE, "abc", T.PrintableString), "abc", T.PrintableString),
]


@pytest.mark.parametrize(
    ("given", "value", "kind"), RE_ENCODED, ids=[f"{a.oid.dotted_string}:{a._type.name}" for a, _, _ in RE_ENCODED]
)
def test_a_fine_value_in_the_wrong_string_type_is_re_encoded(
    given: x509.NameAttribute, value: str, kind: _ASN1Type
) -> None:
    checked = check_subject(name(given))

    assert types(checked) == [(given.oid.dotted_string, value, kind)]


def test_dc_and_email_given_as_utf8_string_are_written_as_ia5_string() -> None:
    subject = name(
        attribute(NameOID.DOMAIN_COMPONENT, "com", T.UTF8String),
        attribute(NameOID.DOMAIN_COMPONENT, "Example", T.UTF8String),
        attribute(NameOID.EMAIL_ADDRESS, "ops@example.com", T.UTF8String),
    )

    assert [a._type for a in check_subject(subject)] == [T.IA5String, T.IA5String, T.IA5String]


def test_a_good_subject_passes_unchanged() -> None:
    subject = parse_subject(
        "CN=" + "é" * 32 + ",OU=" + "u" * 64 + ",O=" + "o" * 64 + ",L=" + "l" * 128 + ",ST=" + "s" * 128
        + ",C=US,DC=example,DC=com,E=" + "o" * 64 + "@example.com,serialNumber=" + "9" * 64
        + ",UID=jdoe,GN=Ada,SN=Lovelace,1.3.6.1.4.1.55555.1=anything at all"
    )  # fmt: skip

    checked = check_subject(subject)

    assert checked == subject
    assert types(checked) == types(subject)


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("x" * 65, "longer than 64 characters"),
        ("é" * 40, "64 bytes"),
        ("a\ud800", "lone surrogates"),
        ("\x00", "control"),
    ],
)
def test_check_attribute_checks_one_value(value: str, message: str) -> None:
    assert check_attribute(NameOID.COMMON_NAME, "web.example.com", field="common_name").value == "web.example.com"
    with pytest.raises(InvalidSubject, match=message) as caught:
        check_attribute(NameOID.COMMON_NAME, value, field="common_name")
    assert caught.value.field == "common_name"


def test_subject_emails() -> None:
    assert subject_emails(parse_subject("CN=a,E=b@example.com,E=c@example.com")) == ["c@example.com", "b@example.com"]
    assert subject_emails(parse_subject("CN=a")) == []


# --- reading a CSR's subject -----------------------------------------------------------------


def test_csr_subject_reads_over_long_values_without_a_warning(keys: KeyPool) -> None:
    # pytest turns warnings into errors: cryptography warns of a 300-character CN as it reads it.
    csr = csr_with_subject(keys.get("csr"), [[("2.5.4.3", UTF8, b"x" * 300)], [("2.5.4.6", UTF8, b"USA")]])

    subject = csr_subject(csr)

    with pytest.raises(InvalidSubject, match="longer than 64"):
        check_subject(subject, field="csr")


def test_csr_subject_refuses_a_bit_string_where_text_belongs(keys: KeyPool) -> None:
    csr = csr_with_subject(keys.get("csr"), [[("2.5.4.3", BIT_STRING, b"\x00\x01")]])

    with pytest.raises(InvalidCSR, match="subject cannot be parsed"):
        csr_subject(csr)


def test_csr_subject_keeps_the_string_types(keys: KeyPool) -> None:
    csr = csr_with_subject(keys.get("csr"), [[("2.5.4.3", BMP, "héllo".encode("utf-16-be"))]])

    assert types(csr_subject(csr)) == [("2.5.4.3", "héllo", T.BMPString)]


# --- what comes out lints clean --------------------------------------------------------------


def _leaf(issuer: Issued, keys: KeyPool, now: datetime, subject: x509.Name) -> x509.Certificate:
    kind = CertificateType.CLIENT
    return build_leaf(
        certificate_type=kind,
        subject=subject,
        public_key=keys.get("leaf").public_key(),
        issuer_cert=issuer.cert,
        issuer_key=issuer.key,
        serial=random_serial(),
        not_before=now - timedelta(minutes=1),
        not_after=now + timedelta(days=1),
        sans=build_sans(kind, None, emails=["client@example.com"], subject_emails=subject_emails(subject)),
        **urls(issuer),
    )


EDGE_CASES = {
    "bounds": name(
        attribute(NameOID.COUNTRY_NAME, "us", T.UTF8String),
        attribute(NameOID.STATE_OR_PROVINCE_NAME, "s" * 128),
        attribute(NameOID.LOCALITY_NAME, "l" * 128),
        attribute(NameOID.ORGANIZATION_NAME, "o" * 64),
        attribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "ü" * 64),
        attribute(NameOID.COMMON_NAME, "x" * 64),
    ),
    "string-types": name(
        attribute(NameOID.DOMAIN_COMPONENT, "com", T.UTF8String),
        attribute(NameOID.DOMAIN_COMPONENT, "xn--bcher-kva", T.UTF8String),
        attribute(NameOID.COMMON_NAME, "BMP 😀", T.UniversalString),
        attribute(NameOID.EMAIL_ADDRESS, "Ops@Example.COM", T.UTF8String),
        attribute(NameOID.SERIAL_NUMBER, "ABC-123", T.UTF8String),
        attribute(NameOID.POSTAL_CODE, "75001", T.T61String),
        attribute(PRIVATE, "private", T.BMPString),
    ),
    "unicode": name(
        attribute(NameOID.COMMON_NAME, "日本語 " + "é" * 20),
        attribute(NameOID.GIVEN_NAME, "Åsa"),
        attribute(NameOID.SURNAME, "Ørsted-Müller"),
        attribute(NameOID.TITLE, "Directrice générale"),
        attribute(NameOID.USER_ID, "ü" * 256),
        attribute(GENDER, "f"),
    ),
}


@pytest.mark.parametrize("case", EDGE_CASES)
def test_edge_case_subjects_lint_clean(tmp_path: Path, keys: KeyPool, now: datetime, intermediate: Issued, case: str):
    pytest.importorskip("pkilint")
    subject = check_subject(EDGE_CASES[case], field="csr")

    found = lint_certificate(certificate_to_pem(_leaf(intermediate, keys, now, subject)), tmp_path)

    assert found == []


# Attribute types and values as a hostile CSR may carry them: every type the rules know, one
# they do not, any string type, any text (control characters and surrogates included).
OIDS = [
    NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME, NameOID.COUNTRY_NAME,
    NameOID.LOCALITY_NAME, NameOID.STATE_OR_PROVINCE_NAME, NameOID.STREET_ADDRESS, NameOID.DOMAIN_COMPONENT,
    NameOID.EMAIL_ADDRESS, NameOID.SERIAL_NUMBER, NameOID.TITLE, NameOID.GIVEN_NAME, NameOID.USER_ID,
    NameOID.POSTAL_CODE, NameOID.PSEUDONYM, NameOID.DN_QUALIFIER, NameOID.JURISDICTION_COUNTRY_NAME, GENDER, PRIVATE,
]  # fmt: skip
STRING_TYPES = [T.UTF8String, T.PrintableString, T.IA5String, T.BMPString, T.UniversalString, T.T61String]
VALUES = (
    st.text(max_size=70)
    | st.text(string.ascii_letters + string.digits + "-.@", min_size=1, max_size=20)
    | st.sampled_from(["US", "us", "USA", "M", "example", "com", "ops@example.com", "xn--zz", "a" * 64, "é" * 40])
)


@st.composite
def hostile_names(draw: st.DrawFn) -> x509.Name:
    rdns = []
    for _ in range(draw(st.integers(1, 4))):
        oids = draw(st.lists(st.sampled_from(OIDS), min_size=1, max_size=2, unique=True))
        rdns.append(
            x509.RelativeDistinguishedName(
                [attribute(oid, draw(VALUES), draw(st.sampled_from(STRING_TYPES))) for oid in oids]
            )
        )
    return x509.Name(rdns)


PROPERTY = settings(max_examples=150, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@PROPERTY
@given(hostile_names())
@example(name(attribute(NameOID.COMMON_NAME, "x" * 100)))
@example(name(attribute(NameOID.COUNTRY_NAME, "USA", T.UTF8String)))
@example(name(attribute(NameOID.EMAIL_ADDRESS, "a@example.com", T.UTF8String)))
@example(name(attribute(NameOID.DOMAIN_COMPONENT, "bücher", T.UTF8String)))
def test_check_subject_refuses_or_returns_an_encodable_fixed_point(subject: x509.Name) -> None:
    try:
        checked = check_subject(subject)
    except InvalidSubject:
        return
    checked.public_bytes()  # cryptography can write every value in its string type
    assert types(check_subject(checked)) == types(checked)


# Values each attribute type accepts, in any string type: what check_subject lets through must lint clean.
TEXT = st.characters(codec="utf-8", exclude_categories=("Cc", "Cs"))
PRINTABLE_TEXT = st.sampled_from(string.ascii_letters + string.digits + " '()+,-./:=?")
LABEL = st.from_regex(r"[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?", fullmatch=True)
PLAUSIBLE = {
    NameOID.COMMON_NAME: st.text(TEXT, min_size=1, max_size=64),
    NameOID.ORGANIZATION_NAME: st.text(TEXT, min_size=1, max_size=64),
    NameOID.ORGANIZATIONAL_UNIT_NAME: st.text(TEXT, min_size=1, max_size=64),
    NameOID.LOCALITY_NAME: st.text(TEXT, min_size=1, max_size=128),
    NameOID.STREET_ADDRESS: st.text(TEXT, min_size=1, max_size=128),
    NameOID.POSTAL_CODE: st.text(TEXT, min_size=1, max_size=40),
    NameOID.USER_ID: st.text(TEXT, min_size=1, max_size=256),
    NameOID.COUNTRY_NAME: st.text(string.ascii_letters, min_size=2, max_size=2),
    NameOID.JURISDICTION_COUNTRY_NAME: st.text(string.ascii_letters, min_size=2, max_size=2),
    NameOID.SERIAL_NUMBER: st.text(PRINTABLE_TEXT, min_size=1, max_size=64),
    NameOID.DN_QUALIFIER: st.text(PRINTABLE_TEXT, min_size=1, max_size=20),
    NameOID.EMAIL_ADDRESS: st.builds("{}@{}.{}".format, LABEL, LABEL, st.sampled_from(["com", "Example", "xn--p1ai"])),
    GENDER: st.sampled_from("MFmf"),
    PRIVATE: st.text(TEXT, min_size=1, max_size=30),
}


@st.composite
def plausible_names(draw: st.DrawFn) -> x509.Name:
    rdns = []
    for oid in draw(st.lists(st.sampled_from(list(PLAUSIBLE)), min_size=1, max_size=6, unique=True)):
        rdns.append(
            x509.RelativeDistinguishedName([attribute(oid, draw(PLAUSIBLE[oid]), draw(st.sampled_from(STRING_TYPES)))])
        )
    domain = ["com", *draw(st.lists(LABEL, min_size=1, max_size=3))] if draw(st.booleans()) else []
    # DCs first in DER order (least specific first), each in any string type
    dcs = [attribute(NameOID.DOMAIN_COMPONENT, label, draw(st.sampled_from(STRING_TYPES))) for label in domain]
    return x509.Name([x509.RelativeDistinguishedName([dc]) for dc in dcs] + rdns)


LINTED = settings(max_examples=60, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])


@LINTED
@given(plausible_names() | hostile_names())
def test_whatever_check_subject_lets_through_lints_clean(
    tmp_path_factory: pytest.TempPathFactory, keys: KeyPool, now: datetime, intermediate: Issued, subject: x509.Name
) -> None:
    pytest.importorskip("pkilint")
    try:
        checked = check_subject(subject)
    except InvalidSubject:
        return
    pem = certificate_to_pem(_leaf(intermediate, keys, now, checked))

    assert lint_certificate(pem, tmp_path_factory.mktemp("lint")) == []
