"""Validation of subjectAltName inputs and the SAN rules of each certificate type (SPEC §7)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

import idna
from cryptography import x509

from .errors import InvalidSAN
from .issue import CertificateType

IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

DNS_FIELD = "san_dns_names"
IP_FIELD = "san_ip_addresses"
EMAIL_FIELD = "san_email_addresses"

_LABEL_RE = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", re.ASCII)
_LOCAL_PART_RE = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")
_MAX_DNS_LENGTH = 253
_MAX_LOCAL_PART = 64
_MAX_EMAIL_LENGTH = 254  # RFC 5321's 256-octet path less its angle brackets
_MAX_NAME_INPUT = 1024  # longer input cannot be a DNS name: refused before IDNA processing
_MAX_SANS = 1000
_ACE_PREFIX = "xn--"

_T = TypeVar("_T")


@dataclass(frozen=True)
class SanSet:
    """Validated, normalised and de-duplicated subjectAltName values."""

    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[IPAddress, ...] = ()
    emails: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.dns_names or self.ip_addresses or self.emails)

    def general_names(self) -> list[x509.GeneralName]:
        names: list[x509.GeneralName] = [x509.DNSName(name) for name in self.dns_names]
        names += [x509.IPAddress(address) for address in self.ip_addresses]
        names += [x509.RFC822Name(email) for email in self.emails]
        return names

    def ip_strings(self) -> list[str]:
        return [str(address) for address in self.ip_addresses]


class IDNAError(ValueError):
    """A name or label that IDNA 2008 (UTS #46, non-transitional) refuses; the message says why."""


def idna_labels(name: str) -> list[str]:
    """The labels of `name` as IDNA 2008 stores them: UTS #46 mapping (non-transitional, as
    browsers do: `straße` stays `straße`, upper case folds), then each label as an A-label.

    Plain ASCII labels keep the hostname rules (RFC 1123), so `r3---sn-x` passes; a label that
    is or becomes non-ASCII, and any `xn--` label, must be valid IDNA 2008. Empty and `*` labels
    pass through for the caller to judge; so does the name's length.
    """
    if len(name) > _MAX_NAME_INPUT:
        raise IDNAError(f"longer than {_MAX_DNS_LENGTH} characters")
    try:
        # idna 3.x maps non-transitionally only; test_idna pins `straße` -> `xn--strae-oqa`.
        mapped = idna.uts46_remap(name, std3_rules=False)
    except idna.IDNAError as exc:
        raise IDNAError(str(exc)) from None
    return [_a_label(label) for label in mapped.split(".")]


def _a_label(label: str) -> str:
    if label in ("", "*"):
        return label
    if label.isascii() and not label.startswith(_ACE_PREFIX):
        if not _LABEL_RE.fullmatch(label):
            raise IDNAError("labels are 1-63 letters, digits or hyphens, not starting or ending with a hyphen")
        return label
    try:
        if label.startswith(_ACE_PREFIX):
            # An A-label must decode to a valid U-label that encodes back to exactly itself.
            if idna.alabel(idna.ulabel(label)).decode("ascii") != label:
                raise idna.IDNAError("not the canonical A-label of its U-label")
            return label
        return idna.alabel(label).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise IDNAError(f"{label!r} is not a valid IDNA 2008 label ({exc})") from None


def dns_name(name: str, *, wildcard: bool = True) -> str:
    """`name` in the form certificates carry (A-labels, lower case, optional `*.`), or IDNAError."""
    labels = idna_labels(name.strip())
    prefix = ""
    if wildcard and len(labels) > 1 and labels[0] == "*":
        prefix, labels = "*.", labels[1:]
    if len(labels) > 1 and labels[-1] == "":
        raise IDNAError("remove the trailing dot")
    if "" in labels:
        raise IDNAError("empty label")
    if "*" in labels:
        raise IDNAError("'*' may only be the whole leftmost label" if wildcard else "no wildcards here")
    ascii_name = ".".join(labels)
    if len(prefix) + len(ascii_name) > _MAX_DNS_LENGTH:
        raise IDNAError(f"longer than {_MAX_DNS_LENGTH} characters")
    if prefix and len(labels) < 2:
        raise IDNAError("a wildcard needs at least two labels after '*.'")
    if _is_ip(ascii_name):
        raise IDNAError("an IP address, not a DNS name")
    return prefix + ascii_name


def normalize_dns_name(value: str, *, field: str = DNS_FIELD, wildcard: bool = True) -> str:
    """A DNS name as stored in a certificate: IDNA 2008 A-labels, lower case, optional `*.` prefix."""
    error = f"{value!r} is not a valid DNS name"
    if not isinstance(value, str):
        raise InvalidSAN(f"{error}.", field=field)
    if not value.strip():
        raise InvalidSAN("DNS names must not be empty.", field=field)
    try:
        return dns_name(value, wildcard=wildcard)
    except IDNAError as exc:
        hint = " (IP addresses go in san_ip_addresses)" if field == DNS_FIELD and _is_ip(value.strip()) else ""
        raise InvalidSAN(f"{error}: {exc}{hint}.", field=field) from None


def normalize_ip_address(value: str, *, field: str = IP_FIELD) -> IPAddress:
    try:
        if not isinstance(value, str):
            raise ValueError(value)
        return ipaddress.ip_address(value.strip())
    except ValueError as exc:
        raise InvalidSAN(f"{value!r} is not a valid IP address.", field=field) from exc


def normalize_email(value: str, *, field: str = EMAIL_FIELD) -> str:
    """`local@domain`: a plain ASCII local part and a valid DNS domain (lower-cased)."""
    error = f"{value!r} is not a valid email address"
    if not isinstance(value, str):
        raise InvalidSAN(f"{error}.", field=field)
    local, at, domain = value.strip().rpartition("@")
    if not at or not local or not domain:
        raise InvalidSAN(f"{error}.", field=field)
    if len(local) > _MAX_LOCAL_PART or not _LOCAL_PART_RE.fullmatch(local):
        raise InvalidSAN(f"{error}: bad local part.", field=field)
    try:
        domain = dns_name(domain, wildcard=False)
    except IDNAError as exc:
        raise InvalidSAN(f"{error}: bad domain: {exc}.", field=field) from None
    email = f"{local}@{domain}"
    if len(email) > _MAX_EMAIL_LENGTH:
        raise InvalidSAN(f"{error}: longer than {_MAX_EMAIL_LENGTH} characters.", field=field)
    return email


def is_dns_name(value: str) -> bool:
    try:
        normalize_dns_name(value)
    except InvalidSAN:
        return False
    return True


def is_email(value: str) -> bool:
    try:
        normalize_email(value)
    except InvalidSAN:
        return False
    return True


def build_sans(
    certificate_type: CertificateType | str,
    common_name: str | None,
    dns: Iterable[str] = (),
    ips: Iterable[str] = (),
    emails: Iterable[str] = (),
    *,
    subject_emails: Iterable[str] = (),
) -> SanSet:
    """Validate SAN inputs and apply the per-type rules of SPEC §7.

    server, dual_purpose: without DNS SANs a common name that is a DNS name becomes one (and
    one that is an IP address becomes an IP SAN when none was given). client: without email
    SANs a common name that is an email address becomes one. server refuses email SANs, client
    refuses DNS and IP SANs. ca: any SAN, nothing added. A common name shaped like an
    internationalized DNS name (or an email address with one) must be valid IDNA 2008.

    `subject_emails`, the subject's emailAddress values, are added to the email SANs: RFC 5280
    (4.1.2.6) wants every subject email repeated there, so a server certificate refuses them.
    """
    kind = CertificateType(certificate_type)
    dns_names = _unique((normalize_dns_name(value) for value in dns), DNS_FIELD)
    ip_addresses = _unique((normalize_ip_address(value) for value in ips), IP_FIELD)
    email_list = _unique((normalize_email(value) for value in emails), EMAIL_FIELD)
    in_subject = _unique((normalize_email(value, field="subject_dn") for value in subject_emails), "subject_dn")
    cn = (common_name or "").strip()

    if kind is CertificateType.SERVER and email_list:
        raise InvalidSAN("Server certificates cannot have email SANs.", field=EMAIL_FIELD)
    if kind is CertificateType.SERVER and in_subject:
        raise InvalidSAN(
            "Server certificates cannot have an emailAddress in the subject: RFC 5280 wants it repeated "
            "as an email SAN, which server certificates do not take.",
            field="subject_dn",
        )
    if kind is CertificateType.CLIENT and dns_names:
        raise InvalidSAN("Client certificates cannot have DNS SANs.", field=DNS_FIELD)
    if kind is CertificateType.CLIENT and ip_addresses:
        raise InvalidSAN("Client certificates cannot have IP SANs.", field=IP_FIELD)

    if cn:
        _refuse_broken_idn(cn, cn.rpartition("@")[2] if cn.count("@") == 1 else cn)
    if kind in (CertificateType.SERVER, CertificateType.DUAL_PURPOSE) and cn:
        if not dns_names and is_dns_name(cn):
            dns_names = (normalize_dns_name(cn),)
        elif not dns_names and not ip_addresses and _is_ip(cn):
            ip_addresses = (normalize_ip_address(cn),)
    if kind is CertificateType.CLIENT and cn and not email_list and is_email(cn):
        email_list = (normalize_email(cn),)
    email_list = _unique((*email_list, *in_subject), EMAIL_FIELD)
    return SanSet(dns_names, ip_addresses, email_list)


def looks_like_idn(value: str) -> bool:
    """Shaped like a DNS name (a dot, no spaces, no '@') with a non-ASCII or `xn--` label."""
    if not value or "@" in value or any(char.isspace() for char in value):
        return False
    labels = value.lower().split(".")
    return (len(labels) > 1 and not value.isascii()) or any(label.startswith(_ACE_PREFIX) for label in labels)


def _refuse_broken_idn(cn: str, name: str) -> None:
    """A CN meant as an internationalized name that IDNA 2008 refuses must not pass as plain text."""
    if not looks_like_idn(name):
        return
    try:
        dns_name(name)
    except IDNAError as exc:
        raise InvalidSAN(
            f"The common name {cn!r} is not a valid internationalized name: {exc}.", field="common_name"
        ) from None


def _unique(values: Iterable[_T], field: str) -> tuple[_T, ...]:
    unique = tuple(dict.fromkeys(values))
    if len(unique) > _MAX_SANS:
        raise InvalidSAN(f"At most {_MAX_SANS} values are allowed.", field=field)
    return unique


def _is_ip(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True
