"""Published CRLs (SPEC §9): `/crl/{slug}` and `.pem`, their contents, caching and rebuilds."""

from __future__ import annotations

import shutil
import subprocess
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import time_machine
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from django.db import connection, connections, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

import certificates.x509 as pki
from certificates import services
from certificates.models import Certificate, CertificateAuthority, RevocationList
from certificates.tests.conftest import BAD_SLUGS, cert_of, create_ca, issue_certificate, public_path


def openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    binary = shutil.which("openssl")
    if binary is None:
        pytest.skip("the openssl binary is not installed")
    return subprocess.run([binary, *map(str, args)], capture_output=True, text=True, timeout=60, check=False)


@pytest.fixture
def sign_count(monkeypatch) -> list[int]:
    """Counts the CRLs the x509 layer signs: built whole, or extended from the stored one."""
    calls: list[int] = []

    def counting(real: Any) -> Any:
        def signer(**kwargs: Any) -> Any:
            calls.append(kwargs["crl_number"])
            return real(**kwargs)

        return signer

    monkeypatch.setattr(pki, "build_crl_der", counting(pki.build_crl_der))
    monkeypatch.setattr(pki, "extend_crl", counting(pki.extend_crl))
    return calls


def fetch(public: Client, ca: CertificateAuthority) -> x509.CertificateRevocationList:
    response = public.get(f"/crl/{ca.slug}")
    assert response.status_code == 200
    return x509.load_der_x509_crl(response.content)


def crl_number(crl: x509.CertificateRevocationList) -> int:
    return crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number


def revoke(actor: Any, cert: Certificate, reason: str | None = None) -> Certificate:
    return services.certificate_revoke(actor=actor, cert=cert, reason=reason)


# --- serving ---------------------------------------------------------------------------------


def test_der_crl(public: Client, root: CertificateAuthority) -> None:
    response = public.get(f"/crl/my-root-ca-{root.pk}")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(response.content)
    assert crl.issuer == cert_of(root).subject
    assert crl.is_signature_valid(cert_of(root).public_key())


def test_pem_crl_is_the_same_list(public: Client, root: CertificateAuthority) -> None:
    der = public.get(f"/crl/{root.slug}").content
    response = public.get(f"/crl/{root.slug}.pem")

    assert response.status_code == 200
    assert response.content.startswith(b"-----BEGIN X509 CRL-----\n")
    assert x509.load_pem_x509_crl(response.content).public_bytes(serialization.Encoding.DER) == der


def test_no_authentication_needed_and_a_bad_token_is_ignored(root: CertificateAuthority) -> None:
    response = Client(HTTP_AUTHORIZATION="Bearer not-a-token").get(f"/crl/{root.slug}")

    assert response.status_code == 200


NOT_FOUND = [
    *((f"/crl/{slug}", case) for slug, case in BAD_SLUGS),
    ("/crl/other-ca-{id}.pem", "name of another CA, id of this one"),
    ("/crl/my-root-ca-{id}.der", "unknown extension"),
    ("/crl/my-root-ca-{id}/", "trailing slash"),
    ("/crl/", "no slug"),
]


@pytest.mark.parametrize(("template", "case"), NOT_FOUND, ids=[case for _, case in NOT_FOUND])
def test_slug_must_match_exactly(public: Client, admin_a, root: CertificateAuthority, template: str, case: str) -> None:
    response = public.get(public_path(template, root, create_ca(admin_a, "Other CA")))

    assert response.status_code == 404, case
    assert not RevocationList.objects.exists()  # a miss never builds a CRL


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_read_only(public: Client, root: CertificateAuthority, method: str) -> None:
    assert getattr(public, method)(f"/crl/{root.slug}").status_code == 405


# --- contents ----------------------------------------------------------------------------------


def test_openssl_parses_an_empty_crl(public: Client, root: CertificateAuthority, tmp_path: Path) -> None:
    path = tmp_path / "empty.crl"
    path.write_bytes(public.get(f"/crl/{root.slug}").content)

    result = openssl("crl", "-inform", "DER", "-in", path, "-noout", "-text")

    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "No Revoked Certificates." in text
    assert "X509v3 CRL Number" in text


def test_openssl_parses_and_verifies_a_crl_with_entries(
    public: Client, admin_a, root: CertificateAuthority, tmp_path: Path
) -> None:
    certs = [issue_certificate(admin_a, root, f"host{i}.example.com") for i in range(3)]
    for cert, reason in zip(certs, ["key_compromise", "superseded", "laptop lost"], strict=True):
        revoke(admin_a, cert, reason)
    (tmp_path / "list.crl").write_bytes(public.get(f"/crl/{root.slug}").content)
    (tmp_path / "ca.pem").write_text(root.certificate)

    result = openssl(
        "crl", "-inform", "DER", "-in", tmp_path / "list.crl", "-CAfile", tmp_path / "ca.pem", "-noout", "-text"
    )

    assert result.returncode == 0, result.stderr
    text = result.stdout
    assert "verify OK" in result.stderr + text
    for cert in certs:
        assert f"Serial Number: {_openssl_serial(cert)}" in text
    assert "Key Compromise" in text
    assert "Superseded" in text


def _openssl_serial(cert: Certificate) -> str:
    """How `openssl crl -text` prints a serial: upper-case hex, an even number of digits."""
    digits = cert.serial_number.upper()
    return digits.zfill(len(digits) + len(digits) % 2)


def test_number_validity_and_authority_key_identifier(public: Client, root: CertificateAuthority, settings) -> None:
    settings.CRL_VALIDITY_HOURS = 7
    before = timezone.now().replace(microsecond=0)

    crl = fetch(public, root)

    assert crl_number(crl) >= 1
    assert before <= crl.last_update_utc <= timezone.now()
    assert crl.next_update_utc - crl.last_update_utc == timedelta(hours=7)
    aki = crl.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ski = cert_of(root).extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ski.digest


REASONS = [
    ("key_compromise", x509.ReasonFlags.key_compromise),
    ("keyCompromise", x509.ReasonFlags.key_compromise),
    ("affiliation_changed", x509.ReasonFlags.affiliation_changed),
    ("superseded", x509.ReasonFlags.superseded),
    ("cessation_of_operation", x509.ReasonFlags.cessation_of_operation),
    ("privilege_withdrawn", x509.ReasonFlags.privilege_withdrawn),
    ("unspecified", None),  # RFC 5280 §5.3.1: leave unspecified out
    ("the laptop was stolen", None),  # free text: kept on the row, no code in the CRL
    (None, None),
]


@pytest.mark.parametrize(("reason", "flag"), REASONS, ids=[str(r) for r, _ in REASONS])
def test_reason_codes(
    public: Client, admin_a, root: CertificateAuthority, reason: str | None, flag: x509.ReasonFlags | None
) -> None:
    cert = issue_certificate(admin_a, root)
    revoked = revoke(admin_a, cert, reason)

    entry = fetch(public, root).get_revoked_certificate_by_serial_number(int(cert.serial_number, 16))

    assert entry is not None
    assert entry.revocation_date_utc == revoked.revoked_at.replace(microsecond=0)
    try:
        found = entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except x509.ExtensionNotFound:
        found = None
    assert found == flag


def test_only_this_cas_revocations_are_listed(public: Client, admin_a, root: CertificateAuthority) -> None:
    other = create_ca(admin_a, "Other CA")
    mine, theirs, kept = (
        issue_certificate(admin_a, root),
        issue_certificate(admin_a, other),
        issue_certificate(admin_a, root),
    )
    revoke(admin_a, mine)
    revoke(admin_a, theirs)

    serials = {entry.serial_number for entry in fetch(public, root)}

    assert serials == {int(mine.serial_number, 16)}
    assert int(kept.serial_number, 16) not in serials


def test_intermediate_crl_is_signed_by_the_intermediate(public: Client, admin_a, root: CertificateAuthority) -> None:
    inter = create_ca(admin_a, "Issuing CA", parent=root)
    cert = issue_certificate(admin_a, inter)
    revoke(admin_a, cert, "superseded")

    crl = fetch(public, inter)

    assert crl.issuer == cert_of(inter).subject
    assert crl.is_signature_valid(cert_of(inter).public_key())
    assert not crl.is_signature_valid(cert_of(root).public_key())
    assert [e.serial_number for e in crl] == [int(cert.serial_number, 16)]
    assert len(fetch(public, root)) == 0


# --- cache headers -----------------------------------------------------------------------------


@pytest.mark.parametrize("suffix", ["", ".pem"])
def test_cache_headers(public: Client, root: CertificateAuthority, suffix: str) -> None:
    response = public.get(f"/crl/{root.slug}{suffix}")
    stored = RevocationList.objects.get(ca=root)

    assert "public" in response["Cache-Control"]
    assert "max-age=" in response["Cache-Control"]
    assert response["ETag"].startswith('"') and response["ETag"].endswith('"')
    assert response["Last-Modified"] == _http_date(stored.this_update)
    assert response["Expires"] == _http_date(stored.next_update)


def _http_date(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%a, %d %b %Y %H:%M:%S GMT")


def test_if_none_match_answers_304(public: Client, root: CertificateAuthority) -> None:
    etag = public.get(f"/crl/{root.slug}")["ETag"]

    response = public.get(f"/crl/{root.slug}", HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 304
    assert response.content == b""
    assert response["ETag"] == etag


@pytest.mark.parametrize(
    "header",
    ['"something-else"', 'W/"{etag}"', '"other", {etag}', "*"],
    ids=["other-etag", "weak-form", "in-a-list", "star"],
)
def test_if_none_match_forms(public: Client, root: CertificateAuthority, header: str) -> None:
    etag = public.get(f"/crl/{root.slug}")["ETag"]
    header = header.replace('"{etag}"', etag).replace("{etag}", etag)

    response = public.get(f"/crl/{root.slug}", HTTP_IF_NONE_MATCH=header)

    assert response.status_code == (200 if header == '"something-else"' else 304)


def test_a_revocation_in_the_same_second_is_never_answered_not_modified(
    public: Client, admin_a, root: CertificateAuthority
) -> None:
    cert = issue_certificate(admin_a, root)
    with time_machine.travel(timezone.now(), tick=False):
        first = public.get(f"/crl/{root.slug}")
        revoke(admin_a, cert)
        response = public.get(f"/crl/{root.slug}", HTTP_IF_MODIFIED_SINCE=first["Last-Modified"])

    assert response["Last-Modified"] == first["Last-Modified"]  # same second: the date cannot tell
    assert response.status_code == 200
    assert len(x509.load_der_x509_crl(response.content)) == 1


def test_revocation_changes_the_etag(public: Client, admin_a, root: CertificateAuthority) -> None:
    cert = issue_certificate(admin_a, root)
    etag = public.get(f"/crl/{root.slug}")["ETag"]
    revoke(admin_a, cert)

    response = public.get(f"/crl/{root.slug}", HTTP_IF_NONE_MATCH=etag)

    assert response.status_code == 200
    assert response["ETag"] != etag
    assert x509.load_der_x509_crl(response.content).get_revoked_certificate_by_serial_number(
        int(cert.serial_number, 16)
    )


# --- stored, rebuilt on revocation or when stale --------------------------------------------------


def test_repeated_fetches_do_not_sign_again(public: Client, root: CertificateAuthority, sign_count: list[int]) -> None:
    first = public.get(f"/crl/{root.slug}").content
    second = public.get(f"/crl/{root.slug}").content
    pem = public.get(f"/crl/{root.slug}.pem")

    assert first == second
    assert crl_number(x509.load_der_x509_crl(first)) == crl_number(x509.load_der_x509_crl(second))
    assert x509.load_pem_x509_crl(pem.content).public_bytes(serialization.Encoding.DER) == first
    assert len(sign_count) == 1  # the first fetch built the missing CRL, the others read it
    assert RevocationList.objects.filter(ca=root).count() == 1


def test_the_read_after_a_revocation_publishes_a_new_crl_with_a_higher_number(
    public: Client, admin_a, root: CertificateAuthority, sign_count: list[int]
) -> None:
    cert = issue_certificate(admin_a, root)
    before = crl_number(fetch(public, root))

    revoke(admin_a, cert, "key_compromise")
    signed_by_revoke = len(sign_count)
    after = fetch(public, root)
    again = fetch(public, root)

    assert signed_by_revoke == 1  # the first fetch; the revocation itself signs nothing
    assert len(sign_count) == 2  # the fetch after it signed the revocation in, the next one read it
    assert crl_number(again) == crl_number(after)
    assert crl_number(after) > before
    assert after.get_revoked_certificate_by_serial_number(int(cert.serial_number, 16)) is not None


def test_crl_numbers_strictly_increase(admin_a, public: Client, root: CertificateAuthority) -> None:
    certs = [issue_certificate(admin_a, root, f"h{i}.example.com") for i in range(3)]
    numbers = [crl_number(fetch(public, root))]
    for cert in certs:
        revoke(admin_a, cert)
        numbers.append(crl_number(fetch(public, root)))

    assert numbers == sorted(set(numbers))
    assert len(fetch(public, root)) == 3


def test_a_crl_past_half_its_validity_is_rebuilt(
    public: Client, root: CertificateAuthority, sign_count: list[int]
) -> None:
    first = fetch(public, root)
    stored = RevocationList.objects.get(ca=root)
    half = (stored.next_update - stored.this_update) / 2
    RevocationList.objects.filter(ca=root).update(
        this_update=stored.this_update - half - timedelta(seconds=1),
        next_update=stored.next_update - half - timedelta(seconds=1),
    )

    backdated_next_update = RevocationList.objects.get(ca=root).next_update

    second = fetch(public, root)
    third = fetch(public, root)

    assert crl_number(second) > crl_number(first)
    assert second.next_update_utc > backdated_next_update
    assert second.next_update_utc - second.last_update_utc == stored.next_update - stored.this_update
    assert third == second
    assert len(sign_count) == 2


def test_a_fresh_crl_is_kept_until_half_its_validity(
    public: Client, root: CertificateAuthority, sign_count: list[int], settings
) -> None:
    settings.CRL_VALIDITY_HOURS = 24
    start = timezone.now()
    with time_machine.travel(start, tick=False) as traveller:
        first = fetch(public, root)
        traveller.shift(timedelta(hours=11, minutes=59))
        assert crl_number(fetch(public, root)) == crl_number(first)
        traveller.shift(timedelta(minutes=2))
        rebuilt = fetch(public, root)

    assert crl_number(rebuilt) == crl_number(first) + 1
    assert rebuilt.next_update_utc - rebuilt.last_update_utc == timedelta(hours=24)
    assert len(sign_count) == 2


def _bulk_revoke(ca: CertificateAuthority, count: int) -> None:
    now = timezone.now().replace(microsecond=0)
    Certificate.objects.bulk_create(
        Certificate(
            common_name=f"bulk{i}.example.com",
            subject_dn=f"CN=bulk{i}.example.com",
            certificate_type="server",
            key_algorithm="ecdsa",
            key_size=256,
            valid_days=30,
            certificate="(not used by the CRL)",
            serial_number=format(0x10000 + i, "x"),
            not_before=now - timedelta(days=1),
            not_after=now + timedelta(days=29),
            revoked_at=now,
            revocation_reason_code=1,
            issuer=ca,
            organization_id=ca.organization_id,
        )
        for i in range(count)
    )
    with transaction.atomic():
        services.crl_publish(ca=CertificateAuthority.objects.select_for_update().get(pk=ca.pk))


def test_fetch_cost_does_not_grow_with_the_number_of_entries(public: Client, admin_a) -> None:
    small, large = create_ca(admin_a, "Small CA"), create_ca(admin_a, "Large CA")
    _bulk_revoke(small, 2)
    _bulk_revoke(large, 2000)

    costs = {}
    for ca, size in ((small, 2), (large, 2000)):
        with CaptureQueriesContext(connection) as queries:
            crl = fetch(public, ca)
        assert len(crl) == size
        costs[size] = len(queries)
        # Serving reads the stored list: the certificate table is not read at all.
        assert not [q["sql"] for q in queries if 'certificates_certificate"' in q["sql"]]

    assert costs[2] == costs[2000], costs


@pytest.mark.parametrize("suffix", ["", ".pem"])
def test_a_crl_served_before_costs_one_query(public: Client, root: CertificateAuthority, suffix: str) -> None:
    url = f"/crl/{root.slug}{suffix}"
    for _ in range(2):  # publish the CRL (the cache fills on commit, never here), read its DER
        assert public.get(url).status_code == 200

    with CaptureQueriesContext(connection) as queries:
        answer = public.get(url)

    assert answer.status_code == 200
    (query,) = [q["sql"] for q in queries]  # the CA of the slug and its CRL's number and dates, joined
    assert '"certificates_certificateauthority"' in query and '"certificates_revocationlist"' in query
    assert '"der"' not in query


THREADS = 8


@pytest.mark.postgres
@pytest.mark.skipif(connection.vendor != "postgresql", reason="thread races need PostgreSQL")
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("state", ["missing", "stale"])
def test_concurrent_fetches_build_the_crl_once(admin_a, sign_count: list[int], state: str) -> None:
    root = create_ca(admin_a, "Race Root")
    if state == "stale":
        services.crl_current(ca=root)
        RevocationList.objects.filter(ca=root).update(
            this_update=timezone.now() - timedelta(days=2), next_update=timezone.now() - timedelta(days=1)
        )
    signed_before = len(sign_count)
    barrier = threading.Barrier(THREADS)

    def fetch_at_once(_: int) -> bytes:
        try:
            client = Client()
            barrier.wait(timeout=30)
            response = client.get(f"/crl/{root.slug}")
            assert response.status_code == 200
            return response.content
        finally:
            connections.close_all()  # this thread's connections only

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        bodies = list(pool.map(fetch_at_once, range(THREADS)))

    assert len(set(bodies)) == 1
    assert len(sign_count) - signed_before == 1
