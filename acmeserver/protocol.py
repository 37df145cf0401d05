"""Reading a signed ACME request (RFC 8555 §6.2 to §6.5) with josepy and the `acme` library's JWS."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

import josepy as jose
from acme import jws as acme_jws

from acmeserver.problems import AcmeProblem, malformed

# What account keys may sign with (josepy has no EdDSA: such a request is badSignatureAlgorithm).
ALGORITHMS = {"RS256": jose.RS256, "ES256": jose.ES256, "ES384": jose.ES384}
# What an external account binding's MAC may use.
MAC_ALGORITHMS = {"HS256": jose.HS256, "HS384": jose.HS384, "HS512": jose.HS512}


@dataclass(frozen=True)
class SignedRequest:
    header: acme_jws.Header  # the protected header
    payload: bytes  # b"" for a POST-as-GET
    key: jose.JWK  # the key that signed it: the header's jwk, or the account's

    def body(self) -> dict[str, Any]:
        """The payload as a JSON object ({} for a POST-as-GET)."""
        if not self.payload:
            return {}
        try:
            data = json.loads(self.payload)
        except ValueError:
            raise malformed("The payload is not JSON.") from None
        if not isinstance(data, dict):
            raise malformed("The payload is not a JSON object.")
        return data


def load_jws(raw: bytes | dict[str, Any]) -> acme_jws.JWS:
    """A flattened JWS (RFC 7515 §7.2.2) with one signature and every header protected."""
    try:
        data = json.loads(raw) if isinstance(raw, bytes) else raw
        if not isinstance(data, dict) or not {"protected", "payload", "signature"} <= set(data):
            raise ValueError("expected the members protected, payload and signature")
        parsed = cast(acme_jws.JWS, acme_jws.JWS.from_json(data))
    except (ValueError, TypeError, jose.DeserializationError) as exc:
        raise malformed(f"The body is not a flattened JWS: {exc}") from None
    if len(parsed.signatures) != 1 or parsed.signature.header != acme_jws.Header():
        raise malformed("A request has one signature and no unprotected header.")
    return parsed


def verify(
    raw: bytes,
    *,
    url: str,
    consume_nonce: Callable[[str], bool],
    account_key: Callable[[str], jose.JWK],
    signed_by: str = "kid",
) -> SignedRequest:
    """The request, once its nonce, URL, key and signature are checked. `account_key` gives the
    key of the account a `kid` names (or raises); `signed_by`: "jwk" (newAccount), "kid" (the
    rest), or "either" (revokeCert)."""
    parsed = load_jws(raw)
    header = cast(acme_jws.Header, parsed.signature.combined)
    if header.alg is None or header.alg.name not in ALGORITHMS:
        raise AcmeProblem(
            "badSignatureAlgorithm", f"Sign with one of {', '.join(ALGORITHMS)}.", 400
        )  # fmt: skip
    nonce = jose.encode_b64jose(header.nonce) if header.nonce else ""
    if not consume_nonce(nonce):
        raise AcmeProblem("badNonce", "The nonce is unknown or was used already; take the new one.")
    if header.url != url:
        raise unauthorized_url(header.url, url)
    if (header.jwk is None) == (header.kid is None):
        raise malformed("The protected header carries exactly one of jwk and kid.")
    if header.jwk is not None and signed_by == "kid":
        raise malformed("Sign this request with the account's kid, not a jwk.")
    if header.kid is not None and signed_by == "jwk":
        raise malformed("A new account is signed with its jwk, not a kid.")
    key = header.jwk if header.jwk is not None else account_key(cast(str, header.kid))
    if not parsed.verify(key):
        raise malformed("The signature does not verify.")
    return SignedRequest(header=header, payload=parsed.payload, key=key)


def unauthorized_url(sent: str | None, expected: str) -> AcmeProblem:
    return AcmeProblem("unauthorized", f"The JWS url {sent!r} is not the URL requested ({expected}).", 401)


def check_key_change(inner: Any, *, url: str, account_url: str, old_key: jose.JWK) -> jose.JWK:
    """The new key of a key change (RFC 8555 §7.3.5): the inner JWS, signed by that key (its
    `jwk`, no nonce), for the same URL, naming the account and its current key."""
    parsed = load_jws(inner if isinstance(inner, dict) else {})
    header = cast(acme_jws.Header, parsed.signature.combined)
    if header.alg is None or header.alg.name not in ALGORITHMS:
        raise AcmeProblem("badSignatureAlgorithm", f"Sign with one of {', '.join(ALGORITHMS)}.")
    if header.jwk is None or header.kid is not None or header.nonce is not None:
        raise malformed("The inner JWS of a key change carries the new jwk, and no kid or nonce.")
    if header.url != url:
        raise malformed("The inner JWS's url is not the keyChange URL.")
    if not parsed.verify(header.jwk):
        raise malformed("The inner JWS's signature does not verify with its jwk.")
    try:
        payload = json.loads(parsed.payload)
        named_old = cast(jose.JWK, jose.JWK.from_json(payload["oldKey"]))
        account = payload["account"]
    except (ValueError, TypeError, KeyError, jose.DeserializationError):
        raise malformed("The inner payload is {account, oldKey}.") from None
    if account != account_url:
        raise malformed("The inner payload names another account.")
    if named_old.thumbprint() != old_key.thumbprint():
        raise malformed("The inner payload's oldKey is not the account's key.")
    return header.jwk


def check_binding(binding: Any, *, url: str, account_jwk: jose.JWK, hmac_key: Callable[[str], bytes]) -> str:
    """The `kid` of an external account binding (RFC 8555 §7.3.4) whose MAC, URL and payload (the
    account's key) check out; `hmac_key` gives the key of a `kid` (or raises)."""
    parsed = load_jws(binding if isinstance(binding, dict) else {})
    header = cast(acme_jws.Header, parsed.signature.combined)
    if header.alg is None or header.alg.name not in MAC_ALGORITHMS:
        raise malformed(f"An external account binding is a MAC with one of {', '.join(MAC_ALGORITHMS)}.")
    if header.nonce is not None or header.jwk is not None or not header.kid:
        raise malformed("An external account binding has a kid, no nonce and no jwk.")
    if header.url != url:
        raise malformed("The external account binding's url is not the newAccount URL.")
    if not parsed.verify(jose.JWKOct(key=hmac_key(header.kid))):
        raise AcmeProblem("unauthorized", "The external account binding's MAC does not verify.", 403)
    try:
        bound = cast(jose.JWK, jose.JWK.from_json(json.loads(parsed.payload)))
    except (ValueError, jose.DeserializationError):
        raise malformed("The external account binding's payload is not a JWK.") from None
    if bound.thumbprint() != account_jwk.thumbprint():
        raise AcmeProblem("unauthorized", "The external account binding is for another account key.", 403)
    return header.kid
