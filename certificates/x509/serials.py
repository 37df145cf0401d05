"""Certificate serial numbers: random generation and the hex form the API shows."""

from __future__ import annotations

import secrets
from typing import Protocol

SERIAL_MIN = 1 << 63
SERIAL_LIMIT = 1 << 159


class RandomBits(Protocol):
    """A source of random bits: secrets.SystemRandom, or a seeded random.Random in tests."""

    def getrandbits(self, k: int, /) -> int: ...


_SYSTEM_RANDOM = secrets.SystemRandom()


def random_serial(rng: RandomBits = _SYSTEM_RANDOM) -> int:
    """A random serial in [2**63, 2**159): positive, at most 159 bits, never short."""
    while True:
        serial = rng.getrandbits(159)
        if serial >= SERIAL_MIN:
            return serial


def serial_to_hex(serial: int) -> str:
    """Lowercase hex without leading zeros or colons: the format the API shows."""
    return format(serial, "x")


def serial_from_hex(text: str) -> int | None:
    """Read a serial typed as hex, with or without colons; None when it is not one."""
    digits = text.strip().replace(":", "").lower()
    if not digits or len(digits) > 40 or any(c not in "0123456789abcdef" for c in digits):
        return None
    return int(digits, 16)
