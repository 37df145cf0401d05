"""Distinguished names (RFC 4514 strings) and the public URL slugs of CAs."""

from __future__ import annotations

import re
import unicodedata

from cryptography import x509
from cryptography.x509.oid import NameOID, ObjectIdentifier

from .errors import InvalidSubject

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

# RFC 5280 Appendix A upper bounds.
_MAX_LENGTH = {
    NameOID.COMMON_NAME: 64,
    NameOID.ORGANIZATION_NAME: 64,
    NameOID.ORGANIZATIONAL_UNIT_NAME: 64,
    NameOID.LOCALITY_NAME: 128,
    NameOID.STATE_OR_PROVINCE_NAME: 128,
    NameOID.TITLE: 64,
    NameOID.SERIAL_NUMBER: 64,
    NameOID.EMAIL_ADDRESS: 255,
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


def common_name_of(name: x509.Name) -> str | None:
    """The most specific common name (the first CN of the RFC 4514 string), or None."""
    values = name.get_attributes_for_oid(NameOID.COMMON_NAME)
    if not values:
        return None
    value = values[-1].value
    return value if isinstance(value, str) else value.decode("utf-8", "replace")


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
    limit = _MAX_LENGTH.get(oid)
    if limit is not None and len(value) > limit:
        raise InvalidSubject(f"The value of {type_text} is longer than {limit} characters.")
    if oid in (NameOID.EMAIL_ADDRESS, NameOID.DOMAIN_COMPONENT) and not value.isascii():
        raise InvalidSubject(f"The value of {type_text} must be ASCII.")
    if oid == NameOID.SERIAL_NUMBER and not _PRINTABLE_RE.fullmatch(value):
        raise InvalidSubject(f"The value of {type_text} may only contain letters, digits, spaces and '()+,-./:=?.")
    if any(unicodedata.category(char) == "Cc" for char in value):
        raise InvalidSubject(f"The value of {type_text} contains control characters.")
    return value
