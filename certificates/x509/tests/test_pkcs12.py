"""PKCS#12 export, read back by cryptography and by openssl."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from certificates.x509 import to_pkcs12

from .conftest import KeyPool
from .helpers import Issued, make_leaf, openssl, write


@pytest.mark.parametrize("algorithm", ["rsa", "ecdsa", "ed25519"])
def test_pkcs12_with_password(
    tmp_path: Path, keys: KeyPool, now: datetime, root: Issued, intermediate: Issued, algorithm: str
) -> None:
    key = keys.get("leaf", algorithm)
    cert = make_leaf(intermediate, key, now, cn="p12.example")
    data = to_pkcs12(name="p12.example", key=key, cert=cert, chain=[intermediate.cert, root.cert], password=b"pa55")

    bundle = pkcs12.load_pkcs12(data, b"pa55")
    assert bundle.key is not None and bundle.key.public_key() == key.public_key()
    assert bundle.cert is not None and bundle.cert.certificate == cert
    assert bundle.cert.friendly_name == b"p12.example"
    assert [extra.certificate for extra in bundle.additional_certs] == [intermediate.cert, root.cert]
    with pytest.raises(ValueError):
        pkcs12.load_pkcs12(data, b"wrong")

    path = write(tmp_path / "bundle.p12", data)
    info = openssl("pkcs12", "-info", "-nokeys", "-in", path, "-passin", "pass:pa55")
    assert info.returncode == 0, info.stderr
    assert "friendlyName: p12.example" in info.stdout
    assert info.stdout.count("BEGIN CERTIFICATE") == 3
    assert "PBES2, PBKDF2, AES-256-CBC, Iteration 50000, PRF hmacWithSHA256" in info.stderr
    assert "MAC: sha256" in info.stderr
    refused = openssl("pkcs12", "-info", "-nokeys", "-in", path, "-passin", "pass:wrong")
    assert refused.returncode != 0


@pytest.mark.parametrize("password", [None, b""])
def test_pkcs12_without_password(keys: KeyPool, now: datetime, intermediate: Issued, password: bytes | None) -> None:
    key = keys.get("leaf")
    cert = make_leaf(intermediate, key, now)
    bundle = pkcs12.load_pkcs12(to_pkcs12(name=None, key=key, cert=cert, chain=[], password=password), None)
    assert bundle.cert is not None and bundle.cert.certificate == cert
    assert bundle.additional_certs == []
