"""A CA's crl_base_url: http(s) with a host a certificate can carry, internationalized hosts as A-labels."""

from __future__ import annotations

import pytest
from cryptography import x509
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from certificates.x509.errors import X509Error
from certificates.x509.urls import MAX_LENGTH, InvalidURL, normalize_crl_base_url

ACCEPTED = {
    "https": ("https://pki.example.com/pki/", "https://pki.example.com/pki/"),
    "http-with-port": ("http://pki.example.com:8080", "http://pki.example.com:8080"),
    "case": ("HTTPS://PKI.Example.COM/Pki", "https://pki.example.com/Pki"),
    "idn-as-a-label": ("https://bücher.example/pki", "https://xn--bcher-kva.example/pki"),
    "idna-2008-sharp-s": ("https://straße.example", "https://xn--strae-oqa.example"),  # never strasse.example
    "a-label-kept": ("https://xn--bcher-kva.example", "https://xn--bcher-kva.example"),
    "single-label": ("http://pki-internal/crl", "http://pki-internal/crl"),
    "ipv4": ("http://192.0.2.7/pki", "http://192.0.2.7/pki"),
    "ipv6": ("http://[2001:DB8:0::1]:8080/pki", "http://[2001:db8::1]:8080/pki"),
    "percent-escapes": ("https://pki.example.com/a%20b/", "https://pki.example.com/a%20b/"),
    "surrounding-space": ("  https://pki.example.com  ", "https://pki.example.com"),
}


@pytest.mark.parametrize(("given_url", "stored"), ACCEPTED.values(), ids=ACCEPTED.keys())
def test_accepted_urls_are_stored_normalised(given_url, stored):
    assert normalize_crl_base_url(given_url) == stored


@pytest.mark.parametrize("empty", [None, "", "   "])
def test_no_url_is_none(empty):
    assert normalize_crl_base_url(empty) is None


REFUSED = {
    "ftp": "ftp://example.com/x",
    "no-scheme": "example.com/pki",
    "javascript": "javascript:alert(1)",
    "ldap": "ldap://example.com/cn=crl",
    "no-host": "https:///pki",
    "emoji-host": "https://😀.example/pki",  # IDNA 2008 disallows the code point
    "bad-a-label": "https://xn--zz.example",
    "zero-width-joiner": "https://a\u200db.example",
    "underscore": "https://a_b.example",
    "leading-hyphen": "https://-pki.example.com",
    "long-label": "https://" + "a" * 64 + ".example",
    "bad-ipv4": "http://999.1.1.1/pki",
    "bad-ipv6": "http://[2001:db8::g]/pki",
    "ipv6-zone": "http://[fe80::1%25eth0]/pki",
    "port-range": "https://example.com:99999",
    "port-zero": "https://example.com:0",
    "userinfo": "https://user:secret@example.com/pki",
    "backslash-userinfo": "https://example.com\\@evil.example/",
    "query": "https://example.com/pki?x=1",
    "empty-query": "https://example.com/pki?",
    "fragment": "https://example.com/pki#x",
    "space": "https://example.com/a b",
    "newline": "https://exa\nmple.com/pki",  # urlsplit would drop it and read example.com
    "tab": "https://example.com/\tpki",
    "nul": "https://example.com/\x00",
    "non-ascii-path": "https://example.com/prüfung",
    "bad-escape": "https://example.com/%zz",
    "lone-surrogate": "https://\ud800.example",
}


@pytest.mark.parametrize("url", REFUSED.values(), ids=REFUSED.keys())
def test_anything_else_is_refused_naming_the_field(url):
    with pytest.raises(InvalidURL) as refused:
        normalize_crl_base_url(url)

    assert refused.value.field == "crl_base_url"
    assert isinstance(refused.value, X509Error)


def test_the_length_is_counted_after_the_host_is_encoded():
    # 500 characters as typed, 680 once each "ü" label is an A-label: more than the column holds.
    url = "https://" + "ü." * 30 + "de/" + "a" * 429
    assert len(url) == MAX_LENGTH

    with pytest.raises(InvalidURL, match="at most 500"):
        normalize_crl_base_url(url)


URL_ALPHABET = st.sampled_from("abcxyzABC019-._~:/?#[]@!$&'()*+,;=% \t\n\x00üß😀\u200d\ud800") | st.characters()
URL_LIKE = st.text(URL_ALPHABET, max_size=60) | st.builds(
    lambda scheme, host, port, path: f"{scheme}://{host}{port}{path}",
    st.sampled_from(["http", "https", "HTTP", "ftp", "", "file"]),
    st.text(URL_ALPHABET, max_size=25) | st.sampled_from(["bücher.example", "[::1]", "10.0.0.1", "xn--zz"]),
    st.sampled_from(["", ":80", ":0", ":65536", ":x", ":"]),
    st.text(URL_ALPHABET, max_size=25),
)


@settings(max_examples=300, deadline=None, database=None, suppress_health_check=[HealthCheck.too_slow])
@given(URL_LIKE)
@example("https://bücher.example/pki/")
@example("http://[::1]:8080")
@example("http://\u00b2/")  # UTS #46 maps "²" to "2": a host that reads as a number, checked as one
def test_any_text_is_refused_or_becomes_a_url_a_certificate_can_carry(text):
    try:
        url = normalize_crl_base_url(text)
    except InvalidURL:
        return
    if url is None:
        assert not text.strip()
        return
    assert url.isascii() and url.isprintable() and " " not in url
    assert url.startswith(("http://", "https://")) and len(url) <= MAX_LENGTH
    assert normalize_crl_base_url(url) == url  # idempotent: what is stored passes again
    x509.UniformResourceIdentifier(f"{url.rstrip('/')}/crl/root-1")  # what ca_create embeds
