"""Issuance policies as plain data: validating them and matching a request against them.

No Django here: a policy is a `PolicyRules`, a request an `IssuanceRequest`, and `evaluate`
answers the first rule the request breaks (or None). Deny by default: an empty list allows
nothing of its kind.

Patterns (`cn_patterns`, `san_dns_patterns`) are dot-separated labels compared without regard
to case. `*` may only be the whole leftmost label and stands for exactly one label made of
letters, digits, `-` and `_` (or a literal `*`, so `*.svc.example.com` may be issued under
the pattern `*.svc.example.com`): it matches `a.svc.example.com`, never
`a.b.svc.example.com` nor `svc.example.com`.

DNS names, in patterns and in requests, compare in IDNA 2008 form (UTS #46, non-transitional):
`*.bücher.example` is stored as `*.xn--bcher-kva.example` and matches `WWW.BÜCHER.example`,
while `straße.example` never matches `strasse.example`. A name or pattern shaped like an
internationalized DNS name that IDNA 2008 refuses (`xn--zz.example`) is refused or matches nothing.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from certificates.x509.san import IDNAError, idna_labels, looks_like_idn

MAX_ENTRIES = 1000
MAX_PATTERN_LENGTH = 253

_WILDCARD_LABEL_RE = re.compile(r"\*|[a-z0-9_-]{1,63}", re.ASCII)
_CONTROL_RE = re.compile(r"[\x00-\x1f\x7f]")

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class PolicyInvalid(ValueError):
    """A policy field that cannot be stored; `field` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


@dataclass(frozen=True)
class PolicyRules:
    cn_patterns: tuple[str, ...] = ()
    san_dns_patterns: tuple[str, ...] = ()
    san_ip_cidrs: tuple[str, ...] = ()
    san_email_domains: tuple[str, ...] = ()
    allowed_ca_ids: tuple[int, ...] = ()
    allowed_certificate_types: tuple[str, ...] = ()
    max_validity_days: int = 0


@dataclass(frozen=True)
class IssuanceRequest:
    ca_id: int
    certificate_type: str
    valid_days: int
    common_names: tuple[str, ...] = ()  # every CN of the subject
    dns_names: tuple[str, ...] = ()
    ip_addresses: tuple[str, ...] = ()
    emails: tuple[str, ...] = ()


@dataclass(frozen=True)
class Violation:
    rule: str  # the policy field that refused the request
    message: str


# ---------------------------------------------------------------------------------------------
# Validation (what PUT /service-accounts/{id}/policy accepts)


def _strings(field: str, values: object) -> list[str]:
    if not isinstance(values, (list, tuple)):
        raise PolicyInvalid(field, "must be a list.")
    if len(values) > MAX_ENTRIES:
        raise PolicyInvalid(field, f"at most {MAX_ENTRIES} entries.")
    if not all(isinstance(value, str) for value in values):
        raise PolicyInvalid(field, "every entry must be a string.")
    return [value.strip() for value in values]


def _unique(values: Iterable[object]) -> list:
    return list(dict.fromkeys(values))


def normalize_pattern(pattern: str, *, field: str, dns: bool) -> str:
    """A pattern in its stored form (lower case, DNS labels as IDNA 2008 A-labels), or PolicyInvalid.

    A `cn_patterns` entry is plain text unless shaped like an internationalized DNS name."""
    error = f"{pattern!r} is not a valid pattern"
    if not pattern:
        raise PolicyInvalid(field, "patterns must not be empty.")
    if len(pattern) > MAX_PATTERN_LENGTH or _CONTROL_RE.search(pattern):
        raise PolicyInvalid(field, f"{error}.")
    if dns or looks_like_idn(pattern):
        try:
            labels = idna_labels(pattern)
        except IDNAError as exc:
            raise PolicyInvalid(field, f"{error}: {exc}.") from None
    else:
        labels = pattern.lower().split(".")
    for index, label in enumerate(labels):
        if not label:
            raise PolicyInvalid(field, f"{error}: empty label.")
        if "*" in label and (label != "*" or index != 0):
            raise PolicyInvalid(field, f"{error}: '*' may only be the whole leftmost label.")
    normalized = ".".join(labels)
    if len(normalized) > MAX_PATTERN_LENGTH:
        raise PolicyInvalid(field, f"{error}: longer than {MAX_PATTERN_LENGTH} characters as A-labels.")
    return normalized


def normalize_domain(domain: str, *, field: str) -> str:
    normalized = normalize_pattern(domain, field=field, dns=True)
    if "*" in normalized:
        raise PolicyInvalid(field, f"{domain!r} is not a domain: no wildcards here.")
    return normalized


def normalize_cidr(cidr: str, *, field: str) -> str:
    try:
        return str(ipaddress.ip_network(cidr, strict=True))
    except ValueError as exc:
        raise PolicyInvalid(field, f"{cidr!r} is not a valid CIDR ({exc}).") from None


def validate_rules(
    *,
    cn_patterns: object = (),
    san_dns_patterns: object = (),
    san_ip_cidrs: object = (),
    san_email_domains: object = (),
    allowed_ca_ids: object = (),
    allowed_certificate_types: object = (),
    max_validity_days: object,
    certificate_types: Sequence[str],
    max_days: int,
) -> PolicyRules:
    """Check and normalise every field; the first bad one raises PolicyInvalid naming it."""
    cns = [normalize_pattern(p, field="cn_patterns", dns=False) for p in _strings("cn_patterns", cn_patterns)]
    dns = [
        normalize_pattern(p, field="san_dns_patterns", dns=True) for p in _strings("san_dns_patterns", san_dns_patterns)
    ]
    cidrs = [normalize_cidr(c, field="san_ip_cidrs") for c in _strings("san_ip_cidrs", san_ip_cidrs)]
    domains = [normalize_domain(d, field="san_email_domains") for d in _strings("san_email_domains", san_email_domains)]

    if not isinstance(allowed_ca_ids, (list, tuple)) or len(allowed_ca_ids) > MAX_ENTRIES:
        raise PolicyInvalid("allowed_ca_ids", f"must be a list of at most {MAX_ENTRIES} CA ids.")
    if not all(isinstance(i, int) and not isinstance(i, bool) and i > 0 for i in allowed_ca_ids):
        raise PolicyInvalid("allowed_ca_ids", "every entry must be a positive integer CA id.")

    types = _strings("allowed_certificate_types", allowed_certificate_types)
    unknown = [t for t in types if t not in certificate_types]
    if unknown:
        raise PolicyInvalid(
            "allowed_certificate_types",
            f"unknown certificate type {unknown[0]!r} (expected {', '.join(certificate_types)}).",
        )

    if isinstance(max_validity_days, bool) or not isinstance(max_validity_days, int):
        raise PolicyInvalid("max_validity_days", "must be an integer.")
    if not 1 <= max_validity_days <= max_days:
        raise PolicyInvalid("max_validity_days", f"must be between 1 and {max_days}.")

    return PolicyRules(
        cn_patterns=tuple(_unique(cns)),
        san_dns_patterns=tuple(_unique(dns)),
        san_ip_cidrs=tuple(_unique(cidrs)),
        san_email_domains=tuple(_unique(domains)),
        allowed_ca_ids=tuple(_unique(allowed_ca_ids)),
        allowed_certificate_types=tuple(_unique(types)),
        max_validity_days=max_validity_days,
    )


# ---------------------------------------------------------------------------------------------
# Matching


def pattern_matches(pattern: str, name: str) -> bool:
    """Whether `name` fits `pattern` (a stored, normalised pattern); case does not matter."""
    wanted, given = _comparable(pattern), _comparable(name)
    if wanted is None or given is None:
        return False
    labels = given.split(".")
    wanted_labels = wanted.split(".")
    if len(wanted_labels) != len(labels):
        return False
    for want, label in zip(wanted_labels, labels, strict=True):
        if want == "*":
            if not _WILDCARD_LABEL_RE.fullmatch(label):
                return False
        elif want != label:
            return False
    return True


@lru_cache(maxsize=4096)  # a policy's patterns are compared with every name of every request
def _comparable(text: str) -> str | None:
    """A DNS name in IDNA 2008 form, other text lower-cased; None for a broken internationalized name."""
    text = text.strip()
    try:
        return ".".join(idna_labels(text))
    except IDNAError:
        return None if looks_like_idn(text) else text.lower()


def matches_any(patterns: Iterable[str], name: str) -> bool:
    return any(pattern_matches(pattern, name) for pattern in patterns)


def ip_allowed(cidrs: Iterable[str], address: str) -> bool:
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        return False
    for cidr in cidrs:
        network: Network = ipaddress.ip_network(cidr, strict=False)
        if ip.version == network.version and ip in network:
            return True
    return False


def email_allowed(domains: Iterable[str], email: str) -> bool:
    local, at, domain = email.strip().rpartition("@")
    wanted = _comparable(domain)
    if not at or not local or wanted is None:
        return False
    return wanted in {_comparable(d) for d in domains}


def evaluate(rules: PolicyRules, request: IssuanceRequest) -> Violation | None:
    """The first rule `request` breaks, or None when the policy allows it."""
    if request.ca_id not in rules.allowed_ca_ids:
        return Violation("allowed_ca_ids", f"CA {request.ca_id} is not in allowed_ca_ids")
    if request.certificate_type not in rules.allowed_certificate_types:
        return Violation(
            "allowed_certificate_types",
            f"certificate type '{request.certificate_type}' is not in allowed_certificate_types",
        )
    if request.valid_days > rules.max_validity_days:
        return Violation(
            "max_validity_days",
            f"valid_days {request.valid_days} exceeds max_validity_days {rules.max_validity_days}",
        )
    for cn in request.common_names:
        if not matches_any(rules.cn_patterns, cn):
            return Violation("cn_patterns", f"CN '{cn}' matches no cn_patterns")
    for name in request.dns_names:
        if not matches_any(rules.san_dns_patterns, name):
            return Violation("san_dns_patterns", f"DNS SAN '{name}' matches no san_dns_patterns")
    for address in request.ip_addresses:
        if not ip_allowed(rules.san_ip_cidrs, address):
            return Violation("san_ip_cidrs", f"IP SAN '{address}' is in none of san_ip_cidrs")
    for email in request.emails:
        if not email_allowed(rules.san_email_domains, email):
            return Violation("san_email_domains", f"email SAN '{email}' has a domain not in san_email_domains")
    return None
