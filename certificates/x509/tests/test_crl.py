"""CRLs: reason names, contents, openssl's view of them, and a 100,000-entry list."""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import CRLEntryExtensionOID

from certificates.x509 import (
    REASON_NAMES,
    RevokedEntry,
    build_crl,
    build_crl_der,
    certificate_to_pem,
    crl_to_der,
    crl_to_pem,
    extend_crl,
    parse_reason,
)

from .conftest import KeyPool
from .helpers import Issued, make_intermediate, make_leaf, make_root, openssl, write

Reason = x509.ReasonFlags


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("key_compromise", Reason.key_compromise),
        ("keyCompromise", Reason.key_compromise),
        ("Key Compromise", Reason.key_compromise),
        ("key-compromise", Reason.key_compromise),
        ("  SUPERSEDED ", Reason.superseded),
        ("cessationOfOperation", Reason.cessation_of_operation),
        ("CA compromise", Reason.ca_compromise),
        ("aACompromise", Reason.aa_compromise),
        ("unspecified", Reason.unspecified),
        ("certificate_hold", Reason.certificate_hold),
        ("Laptop stolen at the airport", None),
        ("", None),
        (None, None),
    ],
)
def test_parse_reason(text: str | None, reason: Reason | None) -> None:
    assert parse_reason(text) is reason


def test_reason_names_cover_rfc_5280() -> None:
    assert set(REASON_NAMES.values()) == set(Reason)
    assert all(parse_reason(name) is flag for name, flag in REASON_NAMES.items())


def crl_for(
    issuer: Issued, now: datetime, entries: list[RevokedEntry], number: int = 7
) -> x509.CertificateRevocationList:
    return build_crl(
        issuer_cert=issuer.cert,
        issuer_key=issuer.key,
        entries=entries,
        crl_number=number,
        this_update=now - timedelta(minutes=1),
        next_update=now + timedelta(hours=24),
    )


def test_crl_contents(now: datetime, intermediate: Issued) -> None:
    revoked_at = now - timedelta(hours=2)
    crl = crl_for(
        intermediate,
        now,
        [
            RevokedEntry(0x1111, revoked_at, Reason.key_compromise),
            RevokedEntry(0x2222, revoked_at, Reason.unspecified),
            RevokedEntry(0x3333, revoked_at, None),
        ],
    )
    assert crl.is_signature_valid(intermediate.cert.public_key())  # type: ignore[arg-type]
    assert crl.issuer == intermediate.cert.subject
    assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == 7
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = intermediate.cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest
    assert crl.next_update_utc == now + timedelta(hours=24)
    entry = crl.get_revoked_certificate_by_serial_number(0x1111)
    assert entry is not None and entry.revocation_date_utc == revoked_at
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is Reason.key_compromise
    for serial in (0x2222, 0x3333):  # RFC 5280 §5.3.1: no reasonCode for unspecified
        entry = crl.get_revoked_certificate_by_serial_number(serial)
        assert entry is not None
        with pytest.raises(x509.ExtensionNotFound):
            entry.extensions.get_extension_for_oid(CRLEntryExtensionOID.CRL_REASON)
    assert x509.load_der_x509_crl(crl_to_der(crl)) == crl
    assert x509.load_pem_x509_crl(crl_to_pem(crl).encode()) == crl


def test_empty_crl(now: datetime, root: Issued) -> None:
    crl = crl_for(root, now, [], number=1)
    assert len(crl) == 0
    assert crl.is_signature_valid(root.cert.public_key())  # type: ignore[arg-type]


def test_openssl_reads_the_crl(tmp_path: Path, now: datetime, intermediate: Issued) -> None:
    crl = crl_for(intermediate, now, [RevokedEntry(0xABCDEF, now, Reason.key_compromise)], number=42)
    result = openssl("crl", "-inform", "DER", "-noout", "-text", "-in", write(tmp_path / "crl.der", crl_to_der(crl)))
    assert result.returncode == 0, result.stderr
    assert "X509v3 CRL Number: \n                42" in result.stdout
    assert "Serial Number: ABCDEF" in result.stdout
    assert "X509v3 CRL Reason Code: \n                Key Compromise" in result.stdout
    assert "X509v3 Authority Key Identifier" in result.stdout


@pytest.mark.parametrize("algorithm", ["rsa", "ecdsa", "ed25519"])
def test_openssl_checks_revocation_against_the_crl(
    tmp_path: Path, keys: KeyPool, now: datetime, algorithm: str
) -> None:
    root = make_root(keys.get("crl-root", algorithm), now)
    issuer = make_intermediate(root, keys.get("crl-issuer", algorithm), now)
    good = make_leaf(issuer, keys.get("leaf"), now, cn="good.example")
    bad = make_leaf(issuer, keys.get("leaf"), now, cn="bad.example")
    crl = crl_for(issuer, now, [RevokedEntry(bad.serial_number, now - timedelta(minutes=5), Reason.superseded)])
    common: list[str | Path] = [
        "verify",
        "-x509_strict",
        "-crl_check",
        "-CRLfile",
        write(tmp_path / "crl.pem", crl_to_pem(crl)),
        "-CAfile",
        write(tmp_path / "root.pem", root.pem),
        "-untrusted",
        write(tmp_path / "inter.pem", issuer.pem),
    ]
    accepted = openssl(*common, write(tmp_path / "good.pem", certificate_to_pem(good)))
    assert accepted.returncode == 0, accepted.stdout + accepted.stderr
    refused = openssl(*common, write(tmp_path / "bad.pem", certificate_to_pem(bad)))
    assert refused.returncode != 0
    assert "certificate revoked" in refused.stdout + refused.stderr


def test_a_crl_with_100000_entries(now: datetime, intermediate: Issued) -> None:
    reasons = [None, *REASON_NAMES.values()]
    entries = [
        RevokedEntry((1 << 64) + index, now - timedelta(seconds=index), reasons[index % len(reasons)])
        for index in range(100_000)
    ]
    started = time.perf_counter()
    der = crl_to_der(crl_for(intermediate, now, entries))
    elapsed = time.perf_counter() - started
    crl = x509.load_der_x509_crl(der)
    assert len(crl) == 100_000
    assert crl.get_revoked_certificate_by_serial_number((1 << 64) + 99_999) is not None
    # Generous: a quadratic builder takes minutes here, the linear one about a second.
    assert elapsed < 60


# --- extending a CRL without re-encoding its entries ------------------------------------------


def _entries(start: int, count: int, now: datetime) -> list[RevokedEntry]:
    reasons = [None, Reason.key_compromise, Reason.unspecified, Reason.superseded]
    return [
        RevokedEntry((1 << 70) + index, now - timedelta(seconds=index), reasons[index % len(reasons)])
        for index in range(start, start + count)
    ]


def _extended(issuer: Issued, now: datetime, previous: list[RevokedEntry], added: list[RevokedEntry]) -> bytes:
    return extend_crl(
        previous_der=crl_to_der(crl_for(issuer, now - timedelta(hours=1), previous, number=3)),
        issuer_cert=issuer.cert,
        issuer_key=issuer.key,
        added=added,
        crl_number=4,
        this_update=now - timedelta(minutes=1),
        next_update=now + timedelta(hours=24),
    )


@pytest.mark.parametrize("algorithm", ["rsa", "ecdsa", "ed25519"])
@pytest.mark.parametrize(("before", "after"), [(300, 1), (0, 1), (5, 0), (0, 0), (1, 40)])
def test_an_extended_crl_is_the_full_rebuild(keys: KeyPool, now: datetime, algorithm: str, before: int, after: int):
    issuer = make_root(keys.get("extend-root", algorithm), now)
    previous, added = _entries(0, before, now), _entries(before, after, now)

    der = _extended(issuer, now, previous, added)

    crl = x509.load_der_x509_crl(der)
    rebuilt = crl_for(issuer, now, previous + added, number=4)
    assert crl.is_signature_valid(issuer.cert.public_key())  # type: ignore[arg-type]
    assert crl.tbs_certlist_bytes == rebuilt.tbs_certlist_bytes  # same header and entries, in order
    assert [entry.serial_number for entry in crl] == [entry.serial for entry in previous + added]
    if algorithm != "ecdsa":  # deterministic signatures: the very same bytes
        assert der == crl_to_der(rebuilt)


def test_openssl_verifies_an_extended_crl(tmp_path: Path, keys: KeyPool, now: datetime):
    issuer = make_root(keys.get("extend-openssl", "rsa"), now)
    der = _extended(issuer, now, _entries(0, 1000, now), [RevokedEntry(0xC0FFEE, now, Reason.ca_compromise)])
    crl_file, ca_file = write(tmp_path / "crl.der", der), write(tmp_path / "ca.pem", issuer.pem)

    result = openssl("crl", "-inform", "DER", "-in", crl_file, "-CAfile", ca_file, "-noout", "-text")

    assert result.returncode == 0, result.stderr
    assert "verify OK" in result.stdout + result.stderr
    assert "X509v3 CRL Number: \n                4" in result.stdout
    assert "Serial Number: C0FFEE" in result.stdout
    assert result.stdout.count("Serial Number:") == 1001


def test_a_large_crl_is_extended_without_rebuilding_it(now: datetime, intermediate: Issued) -> None:
    previous = crl_to_der(crl_for(intermediate, now, _entries(0, 100_000, now)))
    started = time.perf_counter()
    der = extend_crl(
        previous_der=previous, issuer_cert=intermediate.cert, issuer_key=intermediate.key,
        added=_entries(100_000, 1, now), crl_number=8, this_update=now, next_update=now + timedelta(hours=1),
    )  # fmt: skip
    elapsed = time.perf_counter() - started
    crl = x509.load_der_x509_crl(der)
    assert len(crl) == 100_001
    assert crl.get_revoked_certificate_by_serial_number((1 << 70) + 100_000) is not None
    assert crl.is_signature_valid(intermediate.cert.public_key())  # type: ignore[arg-type]
    assert elapsed < 30  # generous: hashing 5 MB and one signature, not 100,000 entries


@pytest.mark.parametrize("garbage", [b"", b"\x30\x03\x02\x01\x01", b"\x04\x00", b"\x30\x84\xff\xff\xff\xff"])
def test_extending_something_that_is_not_a_crl_fails(now: datetime, root: Issued, garbage: bytes):
    with pytest.raises(ValueError):
        extend_crl(
            previous_der=garbage, issuer_cert=root.cert, issuer_key=root.key, added=[], crl_number=2,
            this_update=now, next_update=now + timedelta(hours=1),
        )  # fmt: skip


# --- encoding a CRL's entries without an object per entry ---------------------------------------


def _edge_entries(now: datetime) -> list[RevokedEntry]:
    """Entries at the edges of the encoding: serials around byte and sign boundaries up to 159
    bits, dates with microseconds, on both sides of the UTCTime/GeneralizedTime switch (2050) and
    in another time zone, and every reason (unspecified among them, which is left out)."""
    serials = [1, 0x7F, 0x80, 0xFF, 0x100, 0x7FFF, 0x8000, (1 << 64) + 5, (1 << 159) - 1, 0xC0FFEE]
    moments = [
        now,
        now.replace(microsecond=999_999),
        datetime(1950, 1, 1, tzinfo=UTC),
        datetime(2049, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC),
        datetime(2050, 1, 1, tzinfo=UTC),
        datetime(2123, 6, 7, 8, 9, 10, tzinfo=UTC),
        now.astimezone(timezone(timedelta(hours=-5))),
    ]
    reasons = [None, *REASON_NAMES.values()]
    return [
        RevokedEntry(serial + index * 0x10001, moments[index % len(moments)], reasons[index % len(reasons)])
        for index in range(77)
        for serial in [serials[index % len(serials)]]
        if serial + index * 0x10001 < (1 << 159)  # 70 entries
    ]


@pytest.mark.parametrize("algorithm", ["rsa", "ecdsa", "ed25519"])
@pytest.mark.parametrize("count", [0, 1, 70])
def test_build_crl_der_is_build_crl(keys: KeyPool, now: datetime, algorithm: str, count: int):
    issuer = make_root(keys.get("der-root", algorithm), now)
    entries = _edge_entries(now)[:count]
    assert len(entries) == count

    der = build_crl_der(
        issuer_cert=issuer.cert, issuer_key=issuer.key, entries=iter(entries), crl_number=7,
        this_update=now - timedelta(minutes=1), next_update=now + timedelta(hours=24),
    )  # fmt: skip

    crl = x509.load_der_x509_crl(der)
    built = crl_for(issuer, now, entries)
    assert crl.is_signature_valid(issuer.cert.public_key())  # type: ignore[arg-type]
    assert crl.tbs_certlist_bytes == built.tbs_certlist_bytes  # same header and entries, in order
    if algorithm != "ecdsa":  # deterministic signatures: the very same bytes
        assert der == crl_to_der(built)


def test_openssl_reads_a_crl_built_from_der_entries(tmp_path: Path, keys: KeyPool, now: datetime):
    issuer = make_root(keys.get("der-openssl", "rsa"), now)
    entries = [*_edge_entries(now), RevokedEntry(0xC0FFEE0000, now, Reason.ca_compromise)]
    der = build_crl_der(
        issuer_cert=issuer.cert, issuer_key=issuer.key, entries=entries, crl_number=9,
        this_update=now, next_update=now + timedelta(hours=1),
    )  # fmt: skip
    crl_file, ca_file = write(tmp_path / "crl.der", der), write(tmp_path / "ca.pem", issuer.pem)

    result = openssl("crl", "-inform", "DER", "-in", crl_file, "-CAfile", ca_file, "-noout", "-text")

    assert result.returncode == 0, result.stderr
    assert "verify OK" in result.stdout + result.stderr
    assert "Serial Number: C0FFEE0000" in result.stdout
    assert result.stdout.count("Serial Number:") == len(entries)
    assert "CA Compromise" in result.stdout and "Jan  1 00:00:00 2050 GMT" in result.stdout


def test_a_100000_entry_crl_from_der_entries(keys: KeyPool, now: datetime) -> None:
    issuer = make_root(keys.get("der-large", "rsa"), now)
    entries = _entries(0, 100_000, now)
    der = build_crl_der(
        issuer_cert=issuer.cert, issuer_key=issuer.key, entries=iter(entries), crl_number=7,
        this_update=now - timedelta(minutes=1), next_update=now + timedelta(hours=24),
    )  # fmt: skip
    assert der == crl_to_der(crl_for(issuer, now, entries))  # RSA: the very bytes of build_crl
