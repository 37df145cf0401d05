"""`manage.py rotate_encryption_key`: everything under the newest key, resumable, loud on failure."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.management import CommandError, call_command

from certificates import keystore
from certificates.models import Certificate, CertificateAuthority
from certificates.tests.conftest import create_ca, issue_certificate


def new_key() -> str:
    return Fernet.generate_key().decode()


def stored() -> dict[tuple[str, int], str]:
    rows: dict[tuple[str, int], str] = {}
    for model in (CertificateAuthority, Certificate):
        for pk, value in model.objects.exclude(private_key=None).values_list("pk", "private_key"):
            rows[model.__name__, pk] = value
    return rows


def rotate(*args: str) -> tuple[str, str]:
    out, err = StringIO(), StringIO()
    call_command("rotate_encryption_key", *args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def keys(settings, admin_a) -> dict[str, Any]:
    """Two CAs and three certificates (one without a key) written under `old`; then [new, old]."""
    old, new = new_key(), new_key()
    settings.PRIVATE_KEY_ENCRYPTION_KEYS = [old]
    root = create_ca(admin_a, "Rotate Root")
    inter = create_ca(admin_a, "Rotate Issuing", parent=root)
    for name in ("a.example.com", "b.example.com"):
        issue_certificate(admin_a, inter, name)
    issue_certificate(admin_a, inter, "nokey.example.com", include_private_key=False)
    settings.PRIVATE_KEY_ENCRYPTION_KEYS = [new, old]
    return {
        "old": old,
        "new": new,
        "plaintext": {k: Fernet(old.encode()).decrypt(v.encode()) for k, v in stored().items()},
    }


def test_rotation_re_encrypts_every_key_under_the_newest(settings, keys: dict[str, Any]) -> None:
    out, _ = rotate("--no-progress")

    assert "Rotated 4 key(s)" in out
    after = stored()
    assert after.keys() == keys["plaintext"].keys()
    settings.PRIVATE_KEY_ENCRYPTION_KEYS = [keys["new"]]  # the old key can now be dropped
    for row, value in after.items():
        assert keystore.decrypt(value).encode() == keys["plaintext"][row]
        with pytest.raises(InvalidToken):
            Fernet(keys["old"].encode()).decrypt(value.encode())
    keystore.startup()  # and the server would start with the new key alone


def test_running_it_again_rotates_nothing(keys: dict[str, Any]) -> None:
    rotate("--no-progress")
    once = stored()

    out, _ = rotate("--no-progress")

    assert "Rotated 0 key(s); 4 were already under the newest key." in out
    assert stored() == once


def test_an_interrupted_run_resumes(settings, keys: dict[str, Any]) -> None:
    # A first run that got through some rows only: rotate two of them by hand.
    rows = stored()
    done = list(rows)[:2]
    for model, pk in done:
        model_class = CertificateAuthority if model == "CertificateAuthority" else Certificate
        model_class.objects.filter(pk=pk).update(private_key=keystore.rotate(rows[model, pk]))
    half = stored()

    out, _ = rotate("--no-progress", "--batch-size", "2")

    assert "Rotated 2 key(s); 2 were already under the newest key." in out
    after = stored()
    assert all(after[row] == half[row] for row in done)  # finished rows are not touched again
    assert all(keystore.is_current(value) for value in after.values())


def test_a_row_no_listed_key_reads_stops_the_command_naming_it(settings, admin_a, keys: dict[str, Any]) -> None:
    stranger = Fernet(new_key().encode()).encrypt(b"-----BEGIN PRIVATE KEY-----\n...").decode()
    cert = Certificate.objects.exclude(private_key=None).order_by("pk").last()
    Certificate.objects.filter(pk=cert.pk).update(private_key=stranger)

    with pytest.raises(CommandError) as caught:
        rotate("--no-progress")

    assert f"certificate id={cert.pk}" in str(caught.value)
    assert "PRIVATE_KEY_ENCRYPTION_KEY" in str(caught.value)
    assert Certificate.objects.get(pk=cert.pk).private_key == stranger  # left as it was


def test_without_the_old_key_the_command_names_the_first_unreadable_ca(settings, keys: dict[str, Any]) -> None:
    settings.PRIVATE_KEY_ENCRYPTION_KEYS = [keys["new"]]
    first_ca = CertificateAuthority.objects.order_by("pk").first()
    before = stored()

    with pytest.raises(CommandError) as caught:
        rotate("--no-progress")

    assert f"CA id={first_ca.pk}" in str(caught.value)
    assert stored() == before  # nothing half-written


def test_plaintext_rows_are_encrypted_too(keys: dict[str, Any]) -> None:
    ca = CertificateAuthority.objects.order_by("pk").first()
    pem = keystore.decrypt(ca.private_key)
    CertificateAuthority.objects.filter(pk=ca.pk).update(private_key=pem)

    rotate("--no-progress")

    value = CertificateAuthority.objects.get(pk=ca.pk).private_key
    assert "PRIVATE KEY" not in value
    assert Fernet(keys["new"].encode()).decrypt(value.encode()).decode() == pem


def test_progress_bar_on_stderr(keys: dict[str, Any]) -> None:
    out, err = rotate()

    assert "Rotating CAs" in err
    assert "Rotating certificates" in err
    assert "2/2" in err
    assert "Rotating" not in out


def test_no_progress_draws_no_bar(keys: dict[str, Any]) -> None:
    _, err = rotate("--no-progress")

    assert err == ""
