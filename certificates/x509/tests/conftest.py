"""Session-wide keys and CA hierarchies: key generation dominates the run time."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from certificates.x509 import KeySpec, generate_private_key
from certificates.x509.keys import PrivateKey

from .helpers import Issued, make_intermediate, make_root

SPECS = {
    "rsa": KeySpec("rsa", 2048),
    "ecdsa": KeySpec("ecdsa", 256),
    "ed25519": KeySpec("ed25519", None),
}


class KeyPool:
    """Keys generated on first use and shared for the session, by label."""

    def __init__(self) -> None:
        self._keys: dict[tuple[str, str], PrivateKey] = {}

    def get(self, label: str, algorithm: str = "ecdsa") -> PrivateKey:
        if (label, algorithm) not in self._keys:
            self._keys[label, algorithm] = generate_private_key(SPECS[algorithm])
        return self._keys[label, algorithm]


@pytest.fixture(scope="session")
def keys() -> KeyPool:
    return KeyPool()


@pytest.fixture(scope="session")
def now() -> datetime:
    # The tests read the clock once, since openssl and TLS check validity against it;
    # the x509 layer itself never does.
    return datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="session")
def root(keys: KeyPool, now: datetime) -> Issued:
    return make_root(keys.get("root"), now)


@pytest.fixture(scope="session")
def intermediate(keys: KeyPool, now: datetime, root: Issued) -> Issued:
    return make_intermediate(root, keys.get("intermediate"), now)
