"""Secrets sealed at rest (`x509.sealing`): the newest key seals, every key opens, a stranger's fails."""

from __future__ import annotations

import pytest

from certificates.x509 import sealing

OLD, NEW = sealing.new_sealing_key(), sealing.new_sealing_key()


def test_the_newest_key_seals_and_any_key_opens() -> None:
    token = sealing.seal((NEW, OLD), "secret")

    assert sealing.unseal((NEW, OLD), token) == "secret"
    assert sealing.unseal((NEW,), token) == "secret"
    assert sealing.sealed_by_newest((NEW, OLD), token)


def test_resealing_moves_a_token_to_the_newest_key() -> None:
    old_token = sealing.seal((OLD,), "secret")
    assert not sealing.sealed_by_newest((NEW, OLD), old_token)

    token = sealing.reseal((NEW, OLD), old_token)

    assert sealing.sealed_by_newest((NEW, OLD), token) and sealing.unseal((NEW,), token) == "secret"


def test_a_token_no_key_opens_is_refused() -> None:
    token = sealing.seal((OLD,), "secret")

    with pytest.raises(sealing.SealError):
        sealing.unseal((NEW,), token)
    with pytest.raises(sealing.SealError):
        sealing.reseal((NEW,), token)


def test_a_sealing_key_is_recognised() -> None:
    assert sealing.is_sealing_key(NEW)
    assert not sealing.is_sealing_key("not a key") and not sealing.is_sealing_key(NEW[:-4])
