"""A CA's `crl_base_url`: an http(s) URL whose host certificates can carry (SPEC §6).

The CRL, CA-certificate and OCSP addresses are this base plus `/crl/<slug>` and so on, written
into certificates as URIs (IA5String, so ASCII only; RFC 5280 §7.4 has an internationalized host
in its A-label form). An IDNA-encodable host is therefore stored as its A-label
(`https://bücher.example` becomes `https://xn--bcher-kva.example`); anything else is refused.
"""

from __future__ import annotations

import ipaddress
import re
from urllib.parse import urlsplit

import idna

from .errors import X509Error

MAX_LENGTH = 500  # what the column holds, counted after the host's A-label encoding
SCHEMES = ("http", "https")
# An RFC 3986 path: unreserved, sub-delims, ":", "@", "/" and percent-escapes; ASCII only.
_PATH = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/]|%[0-9A-Fa-f]{2})*")
_DOTTED_NUMBERS = re.compile(r"[0-9.]+")


class InvalidURL(X509Error):
    code = "invalid_url"
    default_field = "crl_base_url"


def normalize_crl_base_url(url: str | None) -> str | None:
    """The URL with a lowercase scheme and an ASCII host, or None for none; InvalidURL otherwise."""
    if url is None or not url.strip():
        return None
    url = url.strip()
    # urlsplit silently drops tabs and newlines, so controls are refused before it sees them.
    if any(c.isspace() or not c.isprintable() for c in url):
        raise InvalidURL("crl_base_url must not contain spaces or control characters.")
    if "?" in url or "#" in url:
        raise InvalidURL("crl_base_url is a base for paths: it takes no query or fragment.")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError as exc:
        raise InvalidURL(f"crl_base_url is not a valid URL: {exc}.") from None
    if parts.scheme.lower() not in SCHEMES:
        raise InvalidURL("crl_base_url must be an http:// or https:// URL.")
    if parts.username is not None or parts.password is not None:
        raise InvalidURL("crl_base_url must not carry a user name or password.")
    if not parts.hostname:
        raise InvalidURL("crl_base_url must name a host.")
    if port == 0:
        raise InvalidURL("crl_base_url has no valid port.")
    if not _PATH.fullmatch(parts.path):
        raise InvalidURL("crl_base_url's path must be ASCII, with anything else percent-encoded.")
    netloc = _host(parts.hostname) + (f":{port}" if port is not None else "")
    normalized = f"{parts.scheme.lower()}://{netloc}{parts.path}"
    if len(normalized) > MAX_LENGTH:
        raise InvalidURL(f"crl_base_url must be at most {MAX_LENGTH} characters (its host in A-label form).")
    return normalized


def _host(host: str) -> str:
    """An IP address as itself (IPv6 in brackets), a DNS name in A-label form (IDNA 2008, UTS #46)."""
    if ":" in host:  # urlsplit only leaves a colon in a bracketed IPv6 literal
        try:
            address = ipaddress.IPv6Address(host)
        except ValueError:
            raise InvalidURL(f"crl_base_url's host {host!r} is not an IPv6 address.") from None
        if address.scope_id:  # a zone (fe80::1%eth0) means nothing to a relying party elsewhere
            raise InvalidURL("crl_base_url's IPv6 address must not name a zone.")
        return f"[{address.compressed}]"
    try:
        encoded = idna.encode(host, uts46=True, transitional=False, std3_rules=True).decode("ascii")
    except (idna.IDNAError, UnicodeError) as exc:
        raise InvalidURL(f"crl_base_url's host is not a valid domain name: {exc}.") from None
    # Checked after the mapping, which turns fullwidth and superscript digits into ASCII ones.
    if _DOTTED_NUMBERS.fullmatch(encoded):
        try:
            return str(ipaddress.IPv4Address(encoded))
        except ValueError:
            raise InvalidURL(f"crl_base_url's host {encoded!r} is not an IPv4 address.") from None
    return encoded
