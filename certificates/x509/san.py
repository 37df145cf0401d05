"""Validation of subjectAltName inputs and the SAN rules of each certificate type (SPEC §7)."""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

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
_MAX_SANS = 1000

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


def normalize_dns_name(value: str, *, field: str = DNS_FIELD, wildcard: bool = True) -> str:
    """A DNS name as stored in a certificate: IDNA A-labels, lower case, optional `*.` prefix."""
    error = f"{value!r} is not a valid DNS name"
    if not isinstance(value, str):
        raise InvalidSAN(f"{error}.", field=field)
    name = value.strip()
    if not name:
        raise InvalidSAN("DNS names must not be empty.", field=field)
    prefix = ""
    if wildcard and name.startswith("*."):
        prefix, name = "*.", name[2:]
    if name.endswith("."):
        raise InvalidSAN(f"{error}: remove the trailing dot.", field=field)
    try:
        ascii_name = name.encode("idna").decode("ascii").lower()
    except UnicodeError as exc:
        raise InvalidSAN(f"{error}.", field=field) from exc
    labels = ascii_name.split(".")
    if not all(_LABEL_RE.fullmatch(label) for label in labels):
        raise InvalidSAN(
            f"{error}: labels are 1-63 letters, digits or hyphens, not starting or ending with a hyphen.",
            field=field,
        )
    if len(prefix) + len(ascii_name) > _MAX_DNS_LENGTH:
        raise InvalidSAN(f"{error}: longer than {_MAX_DNS_LENGTH} characters.", field=field)
    if prefix and len(labels) < 2:
        raise InvalidSAN(f"{error}: a wildcard needs at least two labels after '*.'.", field=field)
    if _is_ip(ascii_name):
        raise InvalidSAN(f"{error}: IP addresses go in san_ip_addresses.", field=field)
    return prefix + ascii_name


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
        domain = normalize_dns_name(domain, field=field, wildcard=False)
    except InvalidSAN as exc:
        raise InvalidSAN(f"{error}: bad domain.", field=field) from exc
    return f"{local}@{domain}"


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
) -> SanSet:
    """Validate SAN inputs and apply the per-type rules of SPEC §7.

    server, dual_purpose: without DNS SANs a common name that is a DNS name becomes one (and
    one that is an IP address becomes an IP SAN when none was given). client: without email
    SANs a common name that is an email address becomes one. server refuses email SANs, client
    refuses DNS and IP SANs. ca: any SAN, nothing added.
    """
    kind = CertificateType(certificate_type)
    dns_names = _unique((normalize_dns_name(value) for value in dns), DNS_FIELD)
    ip_addresses = _unique((normalize_ip_address(value) for value in ips), IP_FIELD)
    email_list = _unique((normalize_email(value) for value in emails), EMAIL_FIELD)
    cn = (common_name or "").strip()

    if kind is CertificateType.SERVER and email_list:
        raise InvalidSAN("Server certificates cannot have email SANs.", field=EMAIL_FIELD)
    if kind is CertificateType.CLIENT and dns_names:
        raise InvalidSAN("Client certificates cannot have DNS SANs.", field=DNS_FIELD)
    if kind is CertificateType.CLIENT and ip_addresses:
        raise InvalidSAN("Client certificates cannot have IP SANs.", field=IP_FIELD)

    if kind in (CertificateType.SERVER, CertificateType.DUAL_PURPOSE) and cn:
        if not dns_names and is_dns_name(cn):
            dns_names = (normalize_dns_name(cn),)
        elif not dns_names and not ip_addresses and _is_ip(cn):
            ip_addresses = (normalize_ip_address(cn),)
    if kind is CertificateType.CLIENT and cn and not email_list and is_email(cn):
        email_list = (normalize_email(cn),)
    return SanSet(dns_names, ip_addresses, email_list)


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
