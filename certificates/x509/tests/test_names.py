"""RFC 4514 subject parsing and CA slugs."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier

from certificates.x509 import (
    InvalidSubject,
    common_name_of,
    common_names_of,
    name_to_rfc4514,
    parse_slug,
    parse_subject,
    slugify_ca,
    subject_for,
)

CN, ORG, OU, C = (
    NameOID.COMMON_NAME,
    NameOID.ORGANIZATION_NAME,
    NameOID.ORGANIZATIONAL_UNIT_NAME,
    NameOID.COUNTRY_NAME,
)


def rdns(name: x509.Name) -> list[list[tuple[ObjectIdentifier, str | bytes]]]:
    """The name as RDNs in DER order, each a list of (oid, value)."""
    return [[(attr.oid, attr.value) for attr in rdn] for rdn in name.rdns]


@pytest.mark.parametrize(
    ("dn", "expected"),
    [
        ("CN=Root,O=Acme,C=US", [[(C, "US")], [(ORG, "Acme")], [(CN, "Root")]]),
        (r"CN=Web,O=Acme\, Inc.", [[(ORG, "Acme, Inc.")], [(CN, "Web")]]),
        (r"CN=Web,O=Acme\2C Inc.", [[(ORG, "Acme, Inc.")], [(CN, "Web")]]),
        (r"CN=caf\C3\A9", [[(CN, "café")]]),
        ("CN=a+OU=b,O=c", [[(ORG, "c")], [(CN, "a"), (OU, "b")]]),
        ("  cn = Web  ,  o = Acme  ", [[(ORG, "Acme")], [(CN, "Web")]]),
        (r"CN=\ padded\ ", [[(CN, " padded ")]]),
        (r"CN=a\+b\=c\\d\;e\"f\<g\>h\#", [[(CN, 'a+b=c\\d;e"f<g>h#')]]),
        ("CN=x=y", [[(CN, "x=y")]]),
        ("c=us", [[(C, "US")]]),
        ("commonName=Long,organizationName=Form", [[(ORG, "Form")], [(CN, "Long")]]),
        ("E=ops@example.com", [[(NameOID.EMAIL_ADDRESS, "ops@example.com")]]),
        ("emailAddress=ops@example.com", [[(NameOID.EMAIL_ADDRESS, "ops@example.com")]]),
        ("serialNumber=A-1,title=Boss", [[(NameOID.TITLE, "Boss")], [(NameOID.SERIAL_NUMBER, "A-1")]]),
        ("GN=Ada,SN=Lovelace", [[(NameOID.SURNAME, "Lovelace")], [(NameOID.GIVEN_NAME, "Ada")]]),
        ("givenName=Ada,surname=Lovelace", [[(NameOID.SURNAME, "Lovelace")], [(NameOID.GIVEN_NAME, "Ada")]]),
        (
            "L=Paris,ST=IDF,STREET=1 Rue",
            [
                [(NameOID.STREET_ADDRESS, "1 Rue")],
                [(NameOID.STATE_OR_PROVINCE_NAME, "IDF")],
                [(NameOID.LOCALITY_NAME, "Paris")],
            ],
        ),
        (
            "DC=example,DC=com,UID=jdoe",
            [[(NameOID.USER_ID, "jdoe")], [(NameOID.DOMAIN_COMPONENT, "com")], [(NameOID.DOMAIN_COMPONENT, "example")]],
        ),
        ("2.5.4.3=By OID", [[(CN, "By OID")]]),
        ("OID.2.5.4.10=Acme", [[(ORG, "Acme")]]),
    ],
)
def test_parse_subject(dn: str, expected: list[list[tuple[ObjectIdentifier, str]]]) -> None:
    name = parse_subject(dn)
    assert rdns(name) == expected
    assert parse_subject(name_to_rfc4514(name)) == name


@pytest.mark.parametrize(
    ("dn", "message"),
    [
        ("", "must not be empty"),
        ("   ", "must not be empty"),
        ("CN=", "CN has an empty value"),
        ("CN=  ", "CN has an empty value"),
        ("CN=a,O=", "O has an empty value"),
        ("FOO=bar", "Unknown attribute type 'FOO'"),
        ("CN=a,Colour=blue", "Unknown attribute type 'Colour'"),
        ("C=USA", "two-letter"),
        ("C=U1", "two-letter"),
        ("CN", "Expected TYPE=value"),
        ("=x", "attribute type is missing"),
        ("CN=a,,O=b", "Expected TYPE=value"),
        ("CN=a;O=b", "must be escaped"),
        ("CN=a\\", "Invalid escape"),
        (r"CN=a\zz", "Invalid escape"),
        (r"CN=\FF", "not UTF-8"),
        ("CN=#0403414243", "Hex-encoded"),
        ("CN=a+CN=a", "duplicate attributes"),
        ("CN=" + "x" * 65, "longer than 64"),
        ("E=caf\u00e9@example.com", "ASCII"),
        ("serialNumber=a_b", "serialNumber may only contain"),
        ("CN=a\x00b", "control characters"),
    ],
)
def test_parse_subject_refuses(dn: str, message: str) -> None:
    with pytest.raises(InvalidSubject) as info:
        parse_subject(dn)
    assert message in info.value.message
    assert info.value.field == "subject_dn"


def test_unknown_attribute_message_lists_the_allowed_ones() -> None:
    with pytest.raises(InvalidSubject, match="allowed: CN, O, OU, C"):
        parse_subject("XX=1")


@pytest.mark.parametrize(
    ("dn", "rfc4514"),
    [
        ("CN=Root,O=Acme,C=US", "CN=Root,O=Acme,C=US"),
        (r"cn=Web, o=Acme\2C Inc.", r"CN=Web,O=Acme\, Inc."),
        ("CN=a+OU=b,O=c", "CN=a+OU=b,O=c"),
        ("E=a@example.com,CN=x", "emailAddress=a@example.com,CN=x"),
    ],
)
def test_name_to_rfc4514(dn: str, rfc4514: str) -> None:
    assert name_to_rfc4514(parse_subject(dn)) == rfc4514


@pytest.mark.parametrize(
    ("dn", "common_name"),
    [("CN=Root,O=Acme", "Root"), ("O=Acme", None), ("CN=leaf,CN=outer", "leaf")],
)
def test_common_name_of(dn: str, common_name: str | None) -> None:
    assert common_name_of(parse_subject(dn)) == common_name


@pytest.mark.parametrize(
    ("name", "ca_id", "slug"),
    [
        ("My Root CA", 3, "my-root-ca-3"),
        ("  Acme -- Issuing_CA  ", 12, "acme-issuing_ca-12"),
        ("Ünïcödé Root", 4, "unicode-root-4"),
        ("Acme, Inc. (prod)", 5, "acme-inc-prod-5"),
        ("日本", 6, "ca-6"),
        ("ca-7", 7, "ca-7-7"),
    ],
)
def test_slugify_ca(name: str, ca_id: int, slug: str) -> None:
    assert slugify_ca(name, ca_id) == slug
    assert parse_slug(slug) == (slug.rsplit("-", 1)[0], ca_id)


@pytest.mark.parametrize(
    "slug",
    [
        "",
        "3",
        "-3",
        "root",
        "root-",
        "root-0",
        "root-03",
        "root-+3",
        "root--3x",
        "root-3 ",
        "root-\u0663",
        "root-1" + "0" * 18,
    ],
)
def test_parse_slug_refuses(slug: str) -> None:
    assert parse_slug(slug) is None


# --- the subject of a request (subject_for) --------------------------------------------------------


def test_subject_for_puts_the_common_name_into_a_dn_without_one() -> None:
    name = subject_for("O=Example,C=US", "www.example.com")

    assert common_name_of(name) == "www.example.com" and common_names_of(name) == ("www.example.com",)


def test_subject_for_refuses_a_common_name_the_dn_contradicts() -> None:
    with pytest.raises(InvalidSubject) as caught:
        subject_for("CN=a.example.com", "b.example.com")
    assert caught.value.field == "common_name"


def test_subject_for_replaces_a_csr_subject_s_common_name() -> None:
    name = subject_for(None, "new.example.com", fallback=parse_subject("CN=old.example.com,O=Example"))

    assert common_names_of(name) == ("new.example.com",)


def test_subject_for_needs_a_dn_or_a_common_name() -> None:
    with pytest.raises(InvalidSubject) as caught:
        subject_for(None, None)
    assert caught.value.field == "subject_dn"
