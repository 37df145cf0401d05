"""Private keys at rest (SPEC §11): Fernet tokens only, key lists, start-up encryption and refusal."""

from __future__ import annotations

import base64
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.conf import settings as django_settings
from django.db import OperationalError, connection

from certificates import keystore, services
from certificates.models import Certificate, CertificateAuthority
from certificates.tests.conftest import REQUEST_BASE, create_ca, issue_certificate
from certificates.x509 import KeySpec, build_csr, csr_to_pem, generate_private_key, parse_subject, private_key_to_pem
from pkiserver.startup import on_start

REPO = Path(django_settings.BASE_DIR)
ENV_NAME = "PRIVATE_KEY_ENCRYPTION_KEY"


def new_key() -> str:
    return Fernet.generate_key().decode()


def fresh_pem() -> str:
    return private_key_to_pem(generate_private_key(KeySpec("ecdsa", 256)))


def raw_keys() -> list[tuple[str, int, Any]]:
    """(table, id, private_key) as stored, read past the ORM."""
    rows = []
    for table in ("certificates_certificateauthority", "certificates_certificate"):
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT id, private_key FROM {table} ORDER BY id")
            rows += [(table, pk, value) for pk, value in cursor.fetchall()]
    return rows


def is_fernet_token(value: str) -> bool:
    try:
        raw = base64.urlsafe_b64decode(value.encode())
    except ValueError:
        return False
    return raw[:1] == b"\x80" and len(raw) >= 57  # version, timestamp, IV, HMAC around the ciphertext


@pytest.fixture
def pki_objects(admin_a) -> dict[str, Any]:
    """A root, an intermediate, a certificate with a stored key, one without, one from a CSR."""
    root = create_ca(admin_a, "Keystore Root")
    inter = create_ca(admin_a, "Keystore Issuing", parent=root)
    with_key = issue_certificate(admin_a, inter, "stored.example.com")
    without_key = issue_certificate(admin_a, inter, "notstored.example.com", include_private_key=False)
    csr = build_csr(key=generate_private_key(KeySpec("ecdsa", 256)), subject=parse_subject("CN=csr.example.com"))
    from_csr = services.certificate_sign_csr(
        actor=admin_a, ca=inter, csr_pem=csr_to_pem(csr),
        data=services.CertRequest(certificate_type="server"), request_base=REQUEST_BASE,
    ).obj  # fmt: skip
    return {"root": root, "inter": inter, "with_key": with_key, "without_key": without_key, "from_csr": from_csr}


# --- what is stored ------------------------------------------------------------------------------


def test_no_private_key_in_clear_anywhere_in_the_database(pki_objects: dict[str, Any]) -> None:
    leaks = []
    for table in connection.introspection.table_names():
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT * FROM {connection.ops.quote_name(table)}")
            for row in cursor.fetchall():
                for value in row:
                    text = bytes(value).decode("latin-1") if isinstance(value, bytes | memoryview) else str(value)
                    if "PRIVATE KEY" in text:
                        leaks.append(table)
    assert leaks == []


def test_every_stored_key_is_a_fernet_token_under_the_configured_key(pki_objects: dict[str, Any]) -> None:
    rows = raw_keys()
    stored = {(table, pk): value for table, pk, value in rows if value is not None}

    assert len(stored) == 3  # two CAs and the one certificate whose key was kept
    fernet = Fernet(django_settings.PRIVATE_KEY_ENCRYPTION_KEYS[0].encode())
    for value in stored.values():
        assert is_fernet_token(value)
        assert fernet.decrypt(value.encode()).decode().startswith("-----BEGIN PRIVATE KEY-----")
    nulls = {pk for table, pk, value in rows if table == "certificates_certificate" and value is None}
    assert nulls == {pki_objects["without_key"].pk, pki_objects["from_csr"].pk}


def test_stored_key_matches_the_certificate(pki_objects: dict[str, Any]) -> None:
    from cryptography import x509

    for obj in (pki_objects["root"], pki_objects["inter"], pki_objects["with_key"]):
        key = keystore.load_key(obj.private_key)
        cert = x509.load_pem_x509_certificate(obj.certificate.encode())
        assert key.public_key() == cert.public_key()


# --- encrypt / decrypt / key lists -----------------------------------------------------------------


def test_round_trip() -> None:
    pem = fresh_pem()

    token = keystore.encrypt(pem)

    assert "PRIVATE KEY" not in token
    assert is_fernet_token(token)
    assert keystore.decrypt(token) == pem
    assert keystore.encrypt(pem) != token  # a fresh IV every time


def test_newest_key_encrypts_and_older_keys_still_decrypt(settings) -> None:
    old, new = new_key(), new_key()
    pem = fresh_pem()
    settings.PRIVATE_KEY_ENCRYPTION_KEYS = [old]
    under_old = keystore.encrypt(pem)

    settings.PRIVATE_KEY_ENCRYPTION_KEYS = [new, old]

    assert keystore.decrypt(under_old) == pem
    assert not keystore.is_current(under_old)
    fresh = keystore.encrypt(pem)
    assert keystore.is_current(fresh)
    assert Fernet(new.encode()).decrypt(fresh.encode()).decode() == pem
    rotated = keystore.rotate(under_old)
    settings.PRIVATE_KEY_ENCRYPTION_KEYS = [new]
    assert keystore.decrypt(rotated) == pem


def test_services_sign_with_a_ca_stored_under_the_old_key(settings, admin_a) -> None:
    old, new = new_key(), new_key()
    settings.PRIVATE_KEY_ENCRYPTION_KEYS = [old]
    ca = create_ca(admin_a, "Old Key CA")

    settings.PRIVATE_KEY_ENCRYPTION_KEYS = [new, old]
    cert = issue_certificate(admin_a, ca)

    assert keystore.is_current(Certificate.objects.get(pk=cert.pk).private_key)
    assert not keystore.is_current(CertificateAuthority.objects.get(pk=ca.pk).private_key)


def test_wrong_key_cannot_decrypt(settings) -> None:
    token = keystore.encrypt(fresh_pem())
    settings.PRIVATE_KEY_ENCRYPTION_KEYS = [new_key()]

    with pytest.raises(keystore.KeyDecryptionError):
        keystore.decrypt(token)


# --- start-up: plaintext keys are encrypted, a wrong key stops the process -------------------------


@pytest.mark.parametrize("runner", [keystore.startup, on_start], ids=["keystore.startup", "on_start"])
@pytest.mark.parametrize("prefix", ["", "\n", "  \r\n"], ids=["pem", "leading-newline", "leading-blanks"])
def test_plaintext_keys_are_encrypted_at_startup(admin_a, runner: Any, prefix: str) -> None:
    ca = create_ca(admin_a, "Plain CA")
    cert = issue_certificate(admin_a, ca)
    ca_pem, cert_pem = prefix + keystore.decrypt(ca.private_key), prefix + keystore.decrypt(cert.private_key)
    # As an older version, or an operator with SQL, would have left them.
    CertificateAuthority.objects.filter(pk=ca.pk).update(private_key=ca_pem)
    Certificate.objects.filter(pk=cert.pk).update(private_key=cert_pem)
    assert {value for _, _, value in raw_keys()} == {ca_pem, cert_pem}

    runner()

    stored = {value for _, _, value in raw_keys()}
    assert all(is_fernet_token(value) and "PRIVATE KEY" not in value for value in stored)
    assert {keystore.decrypt(value) for value in stored} == {ca_pem, cert_pem}
    # The CA still signs after the change.
    issue_certificate(admin_a, CertificateAuthority.objects.get(pk=ca.pk), "after.example.com")


def test_startup_leaves_encrypted_keys_alone(admin_a) -> None:
    create_ca(admin_a, "Encrypted CA")
    before = raw_keys()

    keystore.startup()

    assert raw_keys() == before


@pytest.fixture
def under_old_key(settings, admin_a) -> dict[str, Any]:
    """A CA and a certificate written under a key that is then replaced by another."""
    settings.PRIVATE_KEY_ENCRYPTION_KEYS = [new_key()]
    ca = create_ca(admin_a, "Vault CA")
    cert = issue_certificate(admin_a, ca, "vault.example.com")
    settings.PRIVATE_KEY_ENCRYPTION_KEYS = [new_key()]
    return {"ca": ca, "cert": cert}


def test_wrong_key_stops_startup_naming_the_ca(under_old_key: dict[str, Any]) -> None:
    ca = under_old_key["ca"]

    with pytest.raises(keystore.KeyDecryptionError) as caught:
        keystore.startup()

    message = str(caught.value)
    assert f"CA 'Vault CA' (id={ca.pk})" in message
    assert ENV_NAME in message


def test_wrong_key_stops_startup_naming_the_certificate(settings, under_old_key: dict[str, Any]) -> None:
    # The CA itself is readable again; only the certificate's key is not.
    ca, cert = under_old_key["ca"], under_old_key["cert"]
    ca_pem = fresh_pem()
    CertificateAuthority.objects.filter(pk=ca.pk).update(private_key=keystore.encrypt(ca_pem))

    with pytest.raises(keystore.KeyDecryptionError) as caught:
        keystore.startup()

    assert f"certificate 'vault.example.com' (id={cert.pk})" in str(caught.value)


def test_on_start_exits_non_zero_with_the_message(under_old_key: dict[str, Any], capsys) -> None:
    ca = under_old_key["ca"]

    with pytest.raises(SystemExit) as caught:
        on_start()

    assert caught.value.code not in (0, None)
    err = capsys.readouterr().err
    assert f"'Vault CA' (id={ca.pk})" in err
    assert "cannot start" in err


def test_on_start_waits_for_an_unavailable_database(monkeypatch, capsys) -> None:
    def down() -> None:
        raise OperationalError("connection refused")

    monkeypatch.setattr(keystore, "startup", down)

    on_start()  # does not exit: /readyz reports the database instead

    assert "database unavailable" in capsys.readouterr().err


# --- real processes: `import pkiserver.wsgi` as gunicorn does ---------------------------------------

PREPARE = """
import django
django.setup()
from django.core.management import call_command
from django.utils import timezone
from certificates import keystore
from certificates.models import Certificate, CertificateAuthority
from certificates.x509 import KeySpec, generate_private_key, private_key_to_pem

call_command("migrate", verbosity=0)
now = timezone.now()
pem = lambda: private_key_to_pem(generate_private_key(KeySpec("ecdsa", 256)))
ca = CertificateAuthority.objects.create(
    name="Prod Root", subject_dn="CN=Prod Root", key_algorithm="ecdsa", key_size=256, valid_days=1,
    certificate="-", private_key=keystore.encrypt(pem()), serial_number="1", not_before=now, not_after=now,
)
Certificate.objects.create(
    common_name="prod.example.com", subject_dn="CN=prod.example.com", certificate_type="server",
    key_algorithm="ecdsa", key_size=256, valid_days=1, certificate="-", private_key=keystore.encrypt(pem()),
    serial_number="2", not_before=now, not_after=now, issuer=ca,
)
print(ca.pk)
"""

START = "import pkiserver.wsgi"


def run_python(
    code: str, data_dir: Path, key: str | None, database: Path | None = None
) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"DATA_DIR", "DATABASE_URL", ENV_NAME, "SECRET_KEY", "CACHE_URL", "DEBUG", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(DATA_DIR=str(data_dir), DJANGO_SETTINGS_MODULE="pkiserver.settings", PYTHONWARNINGS="ignore")
    if database is not None:
        env["DATABASE_URL"] = f"sqlite:///{database}"
    if key is not None:
        env[ENV_NAME] = key
    return subprocess.run(
        [sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True, timeout=120, check=False
    )


@pytest.fixture(scope="module")
def old_key() -> str:
    return new_key()


@pytest.fixture(scope="module")
def template(tmp_path_factory, old_key: str) -> tuple[Path, int]:
    """A migrated SQLite database holding a CA and a certificate whose keys are under `old_key`."""
    directory = tmp_path_factory.mktemp("keystore-template")
    database = directory / "pkiserver.sqlite3"
    prepared = run_python(PREPARE, directory, old_key, database)
    assert prepared.returncode == 0, prepared.stderr
    return database, int(prepared.stdout.split()[-1])


@pytest.fixture
def server_files(tmp_path: Path, template: tuple[Path, int]) -> tuple[Path, Path]:
    """A data directory and a copy of the template database, per test."""
    data_dir = tmp_path / "data"
    data_dir.mkdir()
    database = data_dir / "pkiserver.sqlite3"
    shutil.copyfile(template[0], database)
    return data_dir, database


def stored_keys(database: Path) -> list[str]:
    with sqlite3.connect(database) as db:
        rows = db.execute(
            "SELECT private_key FROM certificates_certificateauthority "
            "UNION ALL SELECT private_key FROM certificates_certificate"
        ).fetchall()
    return [value for (value,) in rows]


def test_process_refuses_to_start_with_a_wrong_key(server_files: tuple[Path, Path], template: tuple[Path, int]) -> None:
    data_dir, database = server_files

    result = run_python(START, data_dir, new_key(), database)

    assert result.returncode != 0
    assert f"CA 'Prod Root' (id={template[1]})" in result.stderr
    assert ENV_NAME in result.stderr
    assert "Traceback" not in result.stderr  # a message for an operator, not a crash


@pytest.mark.parametrize("keys", ["old", "new,old"], ids=["same-key", "new-key-listed-before-the-old"])
def test_process_starts_when_a_listed_key_reads_the_data(
    server_files: tuple[Path, Path], old_key: str, keys: str
) -> None:
    data_dir, database = server_files
    value = keys.replace("new", new_key()).replace("old", old_key)

    result = run_python(START, data_dir, value, database)

    assert result.returncode == 0, result.stderr


def test_process_encrypts_plaintext_keys_at_start(server_files: tuple[Path, Path], old_key: str) -> None:
    data_dir, database = server_files
    pem = fresh_pem()
    with sqlite3.connect(database) as db:
        db.execute("UPDATE certificates_certificateauthority SET private_key = ?", (pem,))

    result = run_python(START, data_dir, old_key, database)

    assert result.returncode == 0, result.stderr
    stored = stored_keys(database)
    assert not [value for value in stored if "PRIVATE KEY" in value]
    assert Fernet(old_key.encode()).decrypt(stored[0].encode()).decode() == pem


def test_without_a_configured_key_one_is_created_in_the_data_directory(tmp_path: Path) -> None:
    data_dir = tmp_path / "fresh"
    key_file = data_dir / "private_key_encryption.key"

    first = run_python(START, data_dir, None)
    created = key_file.read_text()
    second = run_python(START, data_dir, None)

    assert first.returncode == 0, first.stderr
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    Fernet(created.strip().encode())  # a usable key
    assert ENV_NAME in first.stderr
    assert str(key_file) in first.stderr
    assert second.returncode == 0, second.stderr
    assert key_file.read_text() == created  # kept, not replaced
    assert ENV_NAME not in second.stderr  # said once, when it was created


@pytest.mark.parametrize(
    "value",
    ["not-a-fernet-key", "c2hvcnQ=", " , ", "{good},broken"],
    ids=["garbage", "too-short", "empty-list", "second-key-broken"],
)
def test_invalid_key_stops_startup_naming_the_variable(tmp_path: Path, value: str) -> None:
    result = run_python(START, tmp_path, value.replace("{good}", new_key()))

    assert result.returncode != 0
    assert ENV_NAME in result.stderr
    assert not (tmp_path / "private_key_encryption.key").exists()
