"""Hostile JWTs not covered by accounts/tests/test_auth_jwt.py: key confusion, other algorithms,
not-yet-valid tokens and header tricks. Each is refused with 401 and a Bearer challenge."""

from __future__ import annotations

import base64
import json
import time
import warnings
from collections.abc import Callable

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from django.conf import settings
from rest_framework.test import APIClient

from accounts.tokens import TokenPair, session_start

pytestmark = pytest.mark.security

ME_URL = "/api/v1/users/me"
RSA_KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)
RSA_PUBLIC_PEM = RSA_KEY.public_key().public_bytes(
    serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
)
EC_KEY = ec.generate_private_key(ec.SECP256R1())


def _claims(pair: TokenPair) -> dict:
    return jwt.decode(pair.access_token, options={"verify_signature": False})


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _sign(claims: dict, key: object, algorithm: str, headers: dict | None = None) -> str:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", jwt.InsecureKeyLengthWarning)
        return jwt.encode(claims, key, algorithm=algorithm, headers=headers)


def _hmac_with_public_key(claims: dict) -> str:
    """The classic confusion: HS256 keyed with the RSA public key, as if it were the shared secret.
    PyJWT refuses to do that, so the token is assembled by hand."""
    import hashlib
    import hmac

    signing_input = f"{_b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{_b64(json.dumps(claims).encode())}"
    signature = hmac.new(RSA_PUBLIC_PEM, signing_input.encode(), hashlib.sha256).digest()
    return f"{signing_input}.{_b64(signature)}"


def _unsigned(claims: dict, alg: str) -> str:
    return f"{_b64(json.dumps({'alg': alg, 'typ': 'JWT'}).encode())}.{_b64(json.dumps(claims).encode())}."


def _future(seconds: int) -> int:
    return int(time.time()) + seconds


HOSTILE: dict[str, Callable[[dict], str]] = {
    "rs256-own-key": lambda c: _sign(c, RSA_KEY, "RS256"),
    "hs256-keyed-with-rsa-public-pem": _hmac_with_public_key,
    "es256-own-key": lambda c: _sign(c, EC_KEY, "ES256"),
    "ps256-own-key": lambda c: _sign(c, RSA_KEY, "PS256"),
    "alg-None": lambda c: _unsigned(c, "None"),
    "alg-NONE": lambda c: _unsigned(c, "NONE"),
    "alg-empty": lambda c: _unsigned(c, ""),
    "hs256-empty-signature": lambda c: _sign(c, settings.SECRET_KEY, "HS256").rsplit(".", 1)[0] + ".",
    "nbf-in-the-future": lambda c: _sign({**c, "nbf": _future(3600)}, settings.SECRET_KEY, "HS256"),
    "iat-in-the-future": lambda c: _sign({**c, "iat": _future(3600)}, settings.SECRET_KEY, "HS256"),
    "exp-not-a-number": lambda c: _sign({**c, "exp": "tomorrow"}, settings.SECRET_KEY, "HS256"),
    "no-exp": lambda c: _sign({k: v for k, v in c.items() if k != "exp"}, settings.SECRET_KEY, "HS256"),
    "no-token-type": lambda c: _sign({k: v for k, v in c.items() if k != "token_type"}, settings.SECRET_KEY, "HS256"),
    "kid-header-pointing-elsewhere": lambda c: _sign(
        c, RSA_KEY, "RS256", headers={"kid": "attacker", "jku": "https://evil.example/jwks"}
    ),
    "embedded-jwk-header": lambda c: _sign(
        c, RSA_KEY, "RS256", headers={"jwk": json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(RSA_KEY.public_key()))}
    ),
    "secret-key-of-another-install": lambda c: _sign(c, "x" * 64, "HS256"),
}


@pytest.fixture
def claims(user_a) -> dict:
    return _claims(session_start(user=user_a))


def get_me(token: str):
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {token}")
    return client.get(ME_URL)


def test_the_controls_are_accepted(claims):
    # Our own signing path with the real key: 200, so every 401 below is the hostility's doing.
    assert get_me(_sign(claims, settings.SECRET_KEY, "HS256")).status_code == 200
    assert get_me(_sign({**claims, "nbf": _future(-60)}, settings.SECRET_KEY, "HS256")).status_code == 200


@pytest.mark.parametrize("make_token", HOSTILE.values(), ids=HOSTILE.keys())
def test_hostile_token_is_401_with_bearer_challenge(claims, make_token):
    response = get_me(make_token(claims))

    assert response.status_code == 401, response.content
    assert response["WWW-Authenticate"] == "Bearer"
    assert response.json()["detail"]


def test_issuer_and_audience_are_not_used(claims):
    # SPEC §2's claims name no issuer or audience, so there is none to get wrong: a token we
    # issue carries neither, and the verifier expects neither (the signing key is the boundary).
    from rest_framework_simplejwt.settings import api_settings

    assert "iss" not in claims and "aud" not in claims
    assert api_settings.ISSUER is None and api_settings.AUDIENCE is None
