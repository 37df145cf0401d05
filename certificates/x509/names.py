"""Distinguished names: RFC 4514 strings, RFC 5280's rules for a subject, and the public URL slugs of CAs."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from cryptography import x509
from cryptography.x509.name import _ASN1Type
from cryptography.x509.oid import NameOID, ObjectIdentifier

from .errors import InvalidSAN, InvalidSubject
from .san import IDNAError, dns_name, normalize_email

_ATTRIBUTES: dict[str, ObjectIdentifier] = {
    "cn": NameOID.COMMON_NAME,
    "commonname": NameOID.COMMON_NAME,
    "o": NameOID.ORGANIZATION_NAME,
    "organizationname": NameOID.ORGANIZATION_NAME,
    "ou": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "organizationalunitname": NameOID.ORGANIZATIONAL_UNIT_NAME,
    "c": NameOID.COUNTRY_NAME,
    "countryname": NameOID.COUNTRY_NAME,
    "l": NameOID.LOCALITY_NAME,
    "localityname": NameOID.LOCALITY_NAME,
    "st": NameOID.STATE_OR_PROVINCE_NAME,
    "stateorprovincename": NameOID.STATE_OR_PROVINCE_NAME,
    "street": NameOID.STREET_ADDRESS,
    "streetaddress": NameOID.STREET_ADDRESS,
    "dc": NameOID.DOMAIN_COMPONENT,
    "domaincomponent": NameOID.DOMAIN_COMPONENT,
    "uid": NameOID.USER_ID,
    "userid": NameOID.USER_ID,
    "emailaddress": NameOID.EMAIL_ADDRESS,
    "e": NameOID.EMAIL_ADDRESS,
    "serialnumber": NameOID.SERIAL_NUMBER,
    "title": NameOID.TITLE,
    "gn": NameOID.GIVEN_NAME,
    "givenname": NameOID.GIVEN_NAME,
    "sn": NameOID.SURNAME,
    "surname": NameOID.SURNAME,
}
ALLOWED_ATTRIBUTES = (
    "CN, O, OU, C, L, ST, STREET, DC, UID, emailAddress (E), serialNumber, title, "
    "GN (givenName), SN (surname), or a dotted OID"
)

# Names rendered back by name_to_rfc4514 for attributes cryptography prints as dotted OIDs.
_RFC4514_NAMES = {
    NameOID.EMAIL_ADDRESS: "emailAddress",
    NameOID.SERIAL_NUMBER: "serialNumber",
    NameOID.TITLE: "title",
    NameOID.GIVEN_NAME: "GN",
    NameOID.SURNAME: "SN",
}

_MAX_DN_LENGTH = 4096

_OID_RE = re.compile(r"(?:oid\.)?([0-2](?:\.(?:0|[1-9][0-9]*))+)", re.IGNORECASE)
_HEX = frozenset("0123456789abcdefABCDEF")
_ESCAPABLE = frozenset('\\ #=",+;<>')
_PRINTABLE_RE = re.compile(r"[A-Za-z0-9 '()+,\-./:=?]*")
_COUNTRY_RE = re.compile(r"[A-Za-z]{2}")

# A value as (character, was_escaped) pairs, so that only unescaped spaces are trimmed.
_Chars = list[tuple[str, bool]]


def parse_subject(dn: str) -> x509.Name:
    """Parse an RFC 4514 string such as `CN=Root,O=Acme\\, Inc.,C=US` into a Name.

    As RFC 4514 prescribes, the string lists the most specific RDN first, so `CN=Root,C=US`
    becomes the DER sequence C, CN. Attribute names are case-insensitive; values may use
    backslash escapes (`\\,`, `\\2C`); `+` joins attributes into a multi-valued RDN.
    """
    if not dn or not dn.strip():
        raise InvalidSubject("The subject DN must not be empty.")
    if len(dn) > _MAX_DN_LENGTH:
        raise InvalidSubject(f"The subject DN is longer than {_MAX_DN_LENGTH} characters.")
    rdns = []
    for rdn_text in _split_unescaped(dn, ","):
        attributes = [_parse_attribute(ava) for ava in _split_unescaped(rdn_text, "+")]
        try:
            rdns.append(x509.RelativeDistinguishedName(attributes))
        except ValueError as exc:
            raise InvalidSubject(f"Invalid RDN {rdn_text.strip()!r}: {exc}") from exc
    return x509.Name(list(reversed(rdns)))


def name_to_rfc4514(name: x509.Name) -> str:
    """The RFC 4514 string of a Name; parse_subject reads it back to the same Name."""
    return name.rfc4514_string(_RFC4514_NAMES)


def common_names_of(name: x509.Name | None) -> tuple[str, ...]:
    """Every CN of `name`, in order (none for no name)."""
    values = [a.value for a in name.get_attributes_for_oid(NameOID.COMMON_NAME)] if name is not None else []
    return tuple(v if isinstance(v, str) else v.decode("utf-8", "replace") for v in values)


def common_name_of(name: x509.Name) -> str | None:
    """The most specific common name (the first CN of the RFC 4514 string), or None."""
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not values:
        return None
    value = values[-1].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


# --- RFC 5280's rules for every subject that reaches a certificate ---------------------------


@dataclass(frozen=True)
class _Rule:
    label: str  # how messages name the attribute
    syntax: _ASN1Type  # UTF8String stands for DirectoryString (UTF8String or PrintableString)
    max_length: int | None  # RFC 5280 Appendix A (and X.520, PKCS #9, RFC 3739) upper bounds
    pattern: re.Pattern[str] | None = None
    expected: str = ""  # what `pattern` wants, for the message


_DIRECTORY, _PRINTABLE, _IA5 = _ASN1Type.UTF8String, _ASN1Type.PrintableString, _ASN1Type.IA5String
_UB_NAME = 32768
_COUNTRY = re.compile(r"[A-Za-z]{2}")
_TWO_LETTERS = "a two-letter code such as US"
_RULES: dict[ObjectIdentifier, _Rule] = {
    NameOID.COMMON_NAME: _Rule("CN", _DIRECTORY, 64),
    NameOID.ORGANIZATION_NAME: _Rule("O", _DIRECTORY, 64),
    NameOID.ORGANIZATIONAL_UNIT_NAME: _Rule("OU", _DIRECTORY, 64),
    NameOID.LOCALITY_NAME: _Rule("L", _DIRECTORY, 128),
    NameOID.STATE_OR_PROVINCE_NAME: _Rule("ST", _DIRECTORY, 128),
    NameOID.STREET_ADDRESS: _Rule("STREET", _DIRECTORY, 128),
    NameOID.TITLE: _Rule("title", _DIRECTORY, 64),
    NameOID.GIVEN_NAME: _Rule("GN", _DIRECTORY, _UB_NAME),
    NameOID.SURNAME: _Rule("SN", _DIRECTORY, _UB_NAME),
    NameOID.INITIALS: _Rule("initials", _DIRECTORY, _UB_NAME),
    NameOID.GENERATION_QUALIFIER: _Rule("generationQualifier", _DIRECTORY, _UB_NAME),
    ObjectIdentifier("2.5.4.41"): _Rule("name", _DIRECTORY, _UB_NAME),
    NameOID.PSEUDONYM: _Rule("pseudonym", _DIRECTORY, 128),
    NameOID.BUSINESS_CATEGORY: _Rule("businessCategory", _DIRECTORY, 128),
    NameOID.POSTAL_CODE: _Rule("postalCode", _DIRECTORY, 40),
    NameOID.ORGANIZATION_IDENTIFIER: _Rule("organizationIdentifier", _DIRECTORY, None),
    NameOID.USER_ID: _Rule("UID", _DIRECTORY, 256),
    NameOID.JURISDICTION_LOCALITY_NAME: _Rule("jurisdictionL", _DIRECTORY, 128),
    NameOID.JURISDICTION_STATE_OR_PROVINCE_NAME: _Rule("jurisdictionST", _DIRECTORY, 128),
    NameOID.UNSTRUCTURED_NAME: _Rule("unstructuredName", _DIRECTORY, 255),
    ObjectIdentifier("1.2.840.113549.1.9.8"): _Rule("unstructuredAddress", _DIRECTORY, 255),
    ObjectIdentifier("1.3.6.1.5.5.7.9.2"): _Rule("placeOfBirth", _DIRECTORY, _UB_NAME),
    NameOID.COUNTRY_NAME: _Rule("C", _PRINTABLE, 2, _COUNTRY, _TWO_LETTERS),
    NameOID.JURISDICTION_COUNTRY_NAME: _Rule("jurisdictionC", _PRINTABLE, 2, _COUNTRY, _TWO_LETTERS),
    ObjectIdentifier("1.3.6.1.5.5.7.9.4"): _Rule("countryOfCitizenship", _PRINTABLE, 2, _COUNTRY, _TWO_LETTERS),
    ObjectIdentifier("1.3.6.1.5.5.7.9.5"): _Rule("countryOfResidence", _PRINTABLE, 2, _COUNTRY, _TWO_LETTERS),
    ObjectIdentifier("1.3.6.1.5.5.7.9.3"): _Rule("gender", _PRINTABLE, 1, re.compile("[MFmf]"), "M or F"),
    NameOID.SERIAL_NUMBER: _Rule("serialNumber", _PRINTABLE, 64),
    NameOID.DN_QUALIFIER: _Rule("dnQualifier", _PRINTABLE, None),
    NameOID.EMAIL_ADDRESS: _Rule("emailAddress", _IA5, 255),
    NameOID.DOMAIN_COMPONENT: _Rule("DC", _IA5, 63),
}
# Attribute types whose values are not text (or are secrets) have no place in a subject.
_REFUSED = {
    NameOID.X500_UNIQUE_IDENTIFIER: "x500UniqueIdentifier",
    NameOID.POSTAL_ADDRESS: "postalAddress",
    ObjectIdentifier("1.3.6.1.5.5.7.9.1"): "dateOfBirth",
    ObjectIdentifier("1.2.840.113549.1.9.7"): "challengePassword",
    ObjectIdentifier("1.2.840.113549.1.9.9"): "extendedCertificateAttributes",
    ObjectIdentifier("1.2.840.113549.1.9.14"): "extensionRequest",
    ObjectIdentifier("1.2.840.113549.1.9.25.2"): "pkcs15Token",
    ObjectIdentifier("1.2.840.113549.1.9.25.5"): "encryptedPrivateKeyInfo",
    ObjectIdentifier("2.16.840.1.113730.3.1.216"): "userPKCS12",
}
_TEXT_TYPES = frozenset(
    {
        _ASN1Type.UTF8String, _ASN1Type.PrintableString, _ASN1Type.IA5String, _ASN1Type.T61String,
        _ASN1Type.BMPString, _ASN1Type.UniversalString, _ASN1Type.VisibleString, _ASN1Type.NumericString,
    }
)  # fmt: skip
_CN_MAX_UTF8_BYTES = 64  # cryptography writes no CN past 64 bytes of UTF-8


def check_subject(name: x509.Name, *, field: str = "subject_dn", email_allowed: bool = True) -> x509.Name:
    """`name` as a certificate may carry it, or InvalidSubject naming the attribute that breaks
    RFC 5280's rules (and what pkilint checks of them).

    Each value is text, not empty, free of control characters and lone surrogates, and within its
    attribute's upper bound; C is two letters, serialNumber printable, emailAddress a mailbox
    address, and the DCs together spell a domain name; no RDN repeats a type. A value in the
    wrong string type is re-encoded when its content allows the right one: emailAddress and DC
    as IA5String, C and serialNumber as PrintableString, the others as UTF8String (PrintableString
    kept). C is upper-cased and an emailAddress's domain lower-cased (as its email SAN is written).
    `email_allowed=False` refuses emailAddress: RFC 5280 wants it repeated as an email SAN.
    """
    rdns = []
    for rdn in name.rdns:
        attributes = [_checked_attribute(a.oid, a.value, a._type, field, email_allowed) for a in rdn]
        oids = [attribute.oid for attribute in attributes]
        if len(set(oids)) != len(oids):
            label = _label(next(oid for oid in oids if oids.count(oid) > 1))
            raise InvalidSubject(f"A multi-valued RDN repeats {label}: give each value its own RDN.", field=field)
        rdns.append(x509.RelativeDistinguishedName(attributes))
    checked = x509.Name(rdns)
    _check_domain_components(checked, field)
    if len(name_to_rfc4514(checked)) > _MAX_DN_LENGTH:
        raise InvalidSubject(f"The subject DN is longer than {_MAX_DN_LENGTH} characters.", field=field)
    return checked


def check_attribute(oid: ObjectIdentifier, value: str, *, field: str) -> x509.NameAttribute[str]:
    """One attribute (such as a request's `common_name`) checked as `check_subject` checks it."""
    return _checked_attribute(oid, value, None, field, email_allowed=True)


def subject_for(subject_dn: str | None, common_name: str | None, fallback: x509.Name | None = None) -> x509.Name:
    """The subject of a request: `subject_dn` (or `fallback`, a CSR's subject) with `common_name`
    as its CN, checked by `check_subject` (which may re-encode a value); InvalidSubject otherwise."""
    cn = check_attribute(NameOID.COMMON_NAME, common_name, field="common_name") if common_name else None
    name = parse_subject(subject_dn) if subject_dn else fallback
    if name is None:
        if cn is None:
            raise InvalidSubject("Give subject_dn or common_name.", field="subject_dn")
        name = x509.Name([x509.RelativeDistinguishedName([cn])])
    elif cn is not None:
        existing = common_name_of(name)
        if existing is None:
            name = x509.Name([*name.rdns, x509.RelativeDistinguishedName([cn])])
        elif existing != common_name:
            if subject_dn:
                raise InvalidSubject(
                    f"common_name '{common_name}' does not match the CN '{existing}' of subject_dn.",
                    field="common_name",
                )
            name = x509.Name(
                [
                    x509.RelativeDistinguishedName([cn if a.oid == NameOID.COMMON_NAME else a for a in rdn])
                    for rdn in name.rdns
                ]
            )
    field = "subject_dn" if subject_dn else "csr" if fallback is not None else "common_name"
    return check_subject(name, field=field)


def subject_emails(name: x509.Name) -> list[str]:
    """The subject's emailAddress values (RFC 5280 wants each repeated as an email SAN)."""
    return [str(a.value) for a in name.get_attributes_for_oid(NameOID.EMAIL_ADDRESS)]


def _label(oid: ObjectIdentifier) -> str:
    rule = _RULES.get(oid)
    return rule.label if rule is not None else _REFUSED.get(oid, oid.dotted_string)


def _checked_attribute(
    oid: ObjectIdentifier, value: object, asn1_type: _ASN1Type | None, field: str, email_allowed: bool
) -> x509.NameAttribute[str]:
    label = _label(oid)
    if oid in _REFUSED:
        raise InvalidSubject(f"{label} cannot be part of a certificate subject.", field=field)
    if not isinstance(value, str) or (asn1_type is not None and asn1_type not in _TEXT_TYPES):
        raise InvalidSubject(f"The value of {label} is not a character string.", field=field)
    if not value:
        raise InvalidSubject(f"The attribute {label} has an empty value.", field=field)
    if any(unicodedata.category(char) in ("Cc", "Cs") for char in value):
        raise InvalidSubject(f"The value of {label} contains control characters or lone surrogates.", field=field)
    rule = _RULES.get(oid)
    if rule is None:  # a type RFC 5280 does not define: any text, as a DirectoryString (as pkilint reads it)
        rule = _Rule(oid.dotted_string, _DIRECTORY, None)
    if rule.pattern is not None and not rule.pattern.fullmatch(value):
        raise InvalidSubject(f"{label} must be {rule.expected}, not {value[:8]!r}.", field=field)
    if rule.max_length is not None and len(value) > rule.max_length:
        raise InvalidSubject(f"The value of {label} is longer than {rule.max_length} characters.", field=field)
    if oid == NameOID.COMMON_NAME and len(value.encode("utf-8")) > _CN_MAX_UTF8_BYTES:
        raise InvalidSubject(f"The value of {label} is longer than {_CN_MAX_UTF8_BYTES} bytes in UTF-8.", field=field)
    if rule.syntax is _PRINTABLE and not _PRINTABLE_RE.fullmatch(value):
        raise InvalidSubject(
            f"The value of {label} may only contain letters, digits, spaces and '()+,-./:=? (PrintableString).",
            field=field,
        )
    if rule.syntax is _IA5 and not value.isascii():
        hint = " (write an internationalized label as its xn-- A-label)" if oid == NameOID.DOMAIN_COMPONENT else ""
        raise InvalidSubject(f"The value of {label} must be ASCII (IA5String){hint}.", field=field)
    if oid == NameOID.EMAIL_ADDRESS:
        value = _checked_email(value, field, email_allowed)
    if rule.pattern is _COUNTRY:
        value = value.upper()
    if rule.syntax is _DIRECTORY:
        kept = asn1_type is _ASN1Type.PrintableString and _PRINTABLE_RE.fullmatch(value)
        return x509.NameAttribute(oid, value, _ASN1Type.PrintableString if kept else _ASN1Type.UTF8String)
    return x509.NameAttribute(oid, value, rule.syntax)


def _checked_email(value: str, field: str, email_allowed: bool) -> str:
    if not email_allowed:
        raise InvalidSubject(
            "emailAddress cannot be part of this subject: RFC 5280 wants it repeated as an email SAN, "
            "and this certificate carries none.",
            field=field,
        )
    try:
        email = normalize_email(value, field=field)
    except InvalidSAN as exc:
        raise InvalidSubject(f"emailAddress: {exc.message}", field=field) from None
    if not _has_top_level_domain(email.rpartition("@")[2]):
        raise InvalidSubject(f"emailAddress: {value!r} needs a domain of two labels or more.", field=field)
    return email


def _check_domain_components(name: x509.Name, field: str) -> None:
    """The DCs, most specific first, must spell a domain name (one label each), as pkilint reads them."""
    labels = [str(a.value) for a in reversed(list(name)) if a.oid == NameOID.DOMAIN_COMPONENT]
    if not labels:
        return
    if any("." in label for label in labels):
        raise InvalidSubject("Each DC holds one label: write DC=example,DC=com, not DC=example.com.", field=field)
    domain = ".".join(labels)
    try:
        ascii_domain = dns_name(domain, wildcard=False)
    except IDNAError as exc:
        message = f"The DC attributes do not spell a valid domain name ({domain!r}): {exc}."
        raise InvalidSubject(message, field=field) from None
    if not _has_top_level_domain(ascii_domain):
        raise InvalidSubject(
            f"The DC attributes must spell a domain of two labels or more, such as DC=example,DC=com, not {domain!r}.",
            field=field,
        )


def _has_top_level_domain(domain: str) -> bool:
    """Two labels or more, the last of two characters or more ending in a letter (pkilint's domain test)."""
    labels = domain.split(".")
    return len(labels) >= 2 and len(labels[-1]) >= 2 and labels[-1][-1].isalpha()


def slugify(value: str) -> str:
    """Django's slugify: ASCII-fold, lowercase, keep word chars, spaces and hyphens, join with '-'."""
    value = unicodedata.normalize("NFKD", value).encode("ascii", "ignore").decode("ascii")
    value = re.sub(r"[^\w\s-]", "", value.lower())
    return re.sub(r"[-\s]+", "-", value).strip("-_")


def slugify_ca(name: str, ca_id: int) -> str:
    """`My Root CA`, 3 → `my-root-ca-3`; a name with nothing sluggable becomes `ca`."""
    return f"{slugify(name) or 'ca'}-{ca_id}"


_SLUG_RE = re.compile(r"(?P<name>.+)-(?P<id>[1-9][0-9]{0,17})", re.ASCII)


def parse_slug(slug: str) -> tuple[str, int] | None:
    """Split `my-root-ca-3` into (`my-root-ca`, 3); None when malformed.

    The id must be a positive decimal without sign or leading zeros, small enough for a 64-bit
    database key. The caller loads the CA by id and checks `slugify_ca(ca.name, ca.id) == slug`.
    """
    match = _SLUG_RE.fullmatch(slug)
    if match is None:
        return None
    return match["name"], int(match["id"])


def _split_unescaped(text: str, separator: str) -> list[str]:
    parts: list[str] = []
    start = index = 0
    while index < len(text):
        char = text[index]
        if char == "\\":
            index += 2
            continue
        if char == separator:
            parts.append(text[start:index])
            start = index + 1
        index += 1
    parts.append(text[start:])
    return parts


def _parse_attribute(ava: str) -> x509.NameAttribute[str]:
    parts = _split_unescaped(ava, "=")
    if len(parts) < 2:
        raise InvalidSubject(f"Expected TYPE=value, got {ava.strip()!r}.")
    type_text = parts[0].strip()
    oid = _attribute_oid(type_text)
    raw_value = ava[len(parts[0]) + 1 :]
    value = _checked_value(oid, type_text, _unescape(raw_value, type_text))
    try:
        return x509.NameAttribute(oid, value)
    except ValueError as exc:
        raise InvalidSubject(f"Invalid value for {type_text}: {exc}") from exc


def _attribute_oid(type_text: str) -> ObjectIdentifier:
    if not type_text:
        raise InvalidSubject("An attribute type is missing before '='.")
    oid = _ATTRIBUTES.get(type_text.lower())
    if oid is not None:
        return oid
    match = _OID_RE.fullmatch(type_text)
    if match is not None:
        try:
            return ObjectIdentifier(match[1])
        except ValueError:  # e.g. 0.40: cryptography refuses a second arc of 40 or more under 0 and 1
            raise InvalidSubject(f"Invalid OID {type_text!r} in the subject DN.") from None
    raise InvalidSubject(f"Unknown attribute type {type_text!r} in the subject DN; allowed: {ALLOWED_ATTRIBUTES}.")


def _unescape(raw: str, type_text: str) -> str:
    if raw.lstrip().startswith("#"):
        raise InvalidSubject(f"Hex-encoded (#...) values are not supported ({type_text}).")
    chars: _Chars = []
    index = 0
    while index < len(raw):
        char = raw[index]
        if char != "\\":
            if char in '"+;<>':
                raise InvalidSubject(f"The character {char!r} in the value of {type_text} must be escaped.")
            chars.append((char, False))
            index += 1
            continue
        pair = raw[index + 1 : index + 3]
        if len(pair) == 2 and pair[0] in _HEX and pair[1] in _HEX:
            decoded, index = _decode_hex_run(raw, index, type_text)
            chars.extend((c, True) for c in decoded)
        elif pair[:1] and pair[0] in _ESCAPABLE:
            chars.append((pair[0], True))
            index += 2
        else:
            raise InvalidSubject(f"Invalid escape sequence in the value of {type_text}.")
    while chars and chars[0] == (" ", False):
        chars.pop(0)
    while chars and chars[-1] == (" ", False):
        chars.pop()
    return "".join(char for char, _ in chars)


def _decode_hex_run(raw: str, index: int, type_text: str) -> tuple[str, int]:
    """Decode consecutive `\\XX` escapes together: they may form one UTF-8 character."""
    data = bytearray()
    while index + 2 < len(raw) and raw[index] == "\\" and raw[index + 1] in _HEX and raw[index + 2] in _HEX:
        data.append(int(raw[index + 1 : index + 3], 16))
        index += 3
    try:
        return data.decode("utf-8"), index
    except UnicodeDecodeError as exc:
        raise InvalidSubject(f"Hex escapes in the value of {type_text} are not UTF-8.") from exc


def _checked_value(oid: ObjectIdentifier, type_text: str, value: str) -> str:
    if not value:
        raise InvalidSubject(f"The attribute {type_text} has an empty value.")
    if oid == NameOID.COUNTRY_NAME:
        if not _COUNTRY_RE.fullmatch(value):
            raise InvalidSubject(f"The country (C) must be a two-letter code such as US, not {value!r}.")
        value = value.upper()
    limit = _RULES[oid].max_length if oid in _RULES else None
    if limit is not None and len(value) > limit:
        raise InvalidSubject(f"The value of {type_text} is longer than {limit} characters.")
    if oid in (NameOID.EMAIL_ADDRESS, NameOID.DOMAIN_COMPONENT) and not value.isascii():
        raise InvalidSubject(f"The value of {type_text} must be ASCII.")
    if oid == NameOID.SERIAL_NUMBER and not _PRINTABLE_RE.fullmatch(value):
        raise InvalidSubject(f"The value of {type_text} may only contain letters, digits, spaces and '()+,-./:=?.")
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise InvalidSubject(f"The value of {type_text} contains control characters.")
    return value
