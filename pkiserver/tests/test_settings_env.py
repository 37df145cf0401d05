"""Configuration from the environment (SPEC §12): defaults, secrets kept in DATA_DIR, bad values stop start-up."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from pkiserver.env import ConfigError, env_origins, read_dotenv

REPO = Path(__file__).resolve().parents[2]

# Variables that would change what settings do; none of the test run's own may leak into the child.
SETTINGS_VARIABLES = (
    "SECRET_KEY DATABASE_URL DATA_DIR DEBUG ALLOWED_HOSTS CA_KEY_SIZE CA_CERT_DAYS CERT_KEY_SIZE CERT_DAYS "
    "ACCESS_TOKEN_EXPIRE_MINUTES REFRESH_TOKEN_EXPIRE_MINUTES ALGORITHM PRIVATE_KEY_ENCRYPTION_KEY "
    "ALLOW_UNAUTHENTICATED_REGISTRATION BACKEND_CORS_ORIGINS LOG_LEVEL CRL_VALIDITY_HOURS PUBLIC_BASE_URL "
    "AUTH_RATE_LIMIT CACHE_URL CONN_MAX_AGE NUM_PROXIES BEHIND_HTTPS_PROXY DJANGO_SETTINGS_MODULE"
).split()

# Loads the settings module (as start-up does first) and prints what the tests look at.
SHOW_SETTINGS = """
import json
import pkiserver.settings as settings
db = settings.DATABASES["default"]
print(json.dumps({"engine": db["ENGINE"], "name": str(db["NAME"]), "secret_key": settings.SECRET_KEY,
                  "debug": settings.DEBUG, "ca_key_size": settings.CA_KEY_SIZE}))
"""


def child_env(data_dir: Path, **variables: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in SETTINGS_VARIABLES and not k.endswith("_FILE")}
    return {**env, "DJANGO_SETTINGS_MODULE": "pkiserver.settings", "DATA_DIR": str(data_dir), **variables}


def run(data_dir: Path, code: str = SHOW_SETTINGS, **variables: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=REPO,
        env=child_env(data_dir, **variables),
        capture_output=True,
        text=True,
        timeout=60,
    )


def shown(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


# --- defaults -----------------------------------------------------------------------------


def test_defaults_keep_the_database_and_a_secret_key_in_data_dir(tmp_path):
    data_dir = tmp_path / "data"

    first = shown(run(data_dir))
    second = shown(run(data_dir))

    assert first["engine"] == "django.db.backends.sqlite3"
    assert Path(first["name"]).parent == data_dir
    assert first["debug"] is False
    key_file = data_dir / "secret_key"
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key_file.read_text().strip() == first["secret_key"]
    assert len(first["secret_key"]) >= 32
    assert second["secret_key"] == first["secret_key"]


def test_manage_py_check_starts_with_no_variables_set(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO,
        env=child_env(tmp_path),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode == 0, result.stderr
    assert "no issues" in result.stdout


# --- bad values stop start-up, naming the variable ----------------------------------------

BAD = [
    ("SECRET_KEY", "too-short-for-a-jwt-key"),
    ("SECRET_KEY", ""),
    ("DEBUG", "maybe"),
    ("CA_KEY_SIZE", "abc"),
    ("CA_KEY_SIZE", "512"),
    ("CERT_KEY_SIZE", "1024"),
    ("CA_CERT_DAYS", "0"),
    ("ACCESS_TOKEN_EXPIRE_MINUTES", "soon"),
    ("ACCESS_TOKEN_EXPIRE_MINUTES", "0"),
    ("REFRESH_TOKEN_EXPIRE_MINUTES", "-1"),
    ("ALGORITHM", "none"),
    ("ALGORITHM", "RS256"),
    ("DATABASE_URL", "foo://bar"),
    ("DATABASE_URL", "not a url"),
    ("AUTH_RATE_LIMIT", "lots"),
    ("AUTH_RATE_LIMIT", "5/fortnight"),
    ("LOG_LEVEL", "VERBOSE"),
    ("BACKEND_CORS_ORIGINS", '["http://localhost:3000",'),
    ("BACKEND_CORS_ORIGINS", "localhost:3000"),
    ("ALLOW_UNAUTHENTICATED_REGISTRATION", "sometimes"),
    ("CRL_VALIDITY_HOURS", "x"),
]


@pytest.mark.parametrize(("name", "value"), BAD, ids=[f"{n}={v}" for n, v in BAD])
def test_a_bad_value_stops_start_up_naming_it(tmp_path, name, value):
    result = run(tmp_path, "import pkiserver.settings", **{name: value})

    assert result.returncode != 0
    message = result.stderr.strip().splitlines()[-1]
    assert name in message
    assert "Traceback" in result.stderr or "Error" in message


def test_a_bad_value_fails_manage_py_too(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=REPO,
        env=child_env(tmp_path, CA_KEY_SIZE="512"),
        capture_output=True,
        text=True,
        timeout=60,
    )

    assert result.returncode != 0
    assert "CA_KEY_SIZE" in result.stderr.strip().splitlines()[-1]


def test_a_database_url_with_a_password_is_not_echoed(tmp_path):
    result = run(tmp_path, "import pkiserver.settings", DATABASE_URL="mysql://app:hunter2secret@db/pki")

    assert result.returncode != 0
    assert "DATABASE_URL" in result.stderr
    assert "hunter2secret" not in result.stderr


# --- chosen values ------------------------------------------------------------------------


def test_a_postgres_url_selects_postgresql(tmp_path):
    settings = shown(run(tmp_path, DATABASE_URL="postgres://postgres@127.0.0.1:5432/test"))

    assert settings["engine"] == "django.db.backends.postgresql"
    assert settings["name"] == "test"


def test_secret_key_file_is_read_without_its_newline(tmp_path):
    key = "k" * 48
    (tmp_path / "secret").write_text(key + "\n")

    settings = shown(run(tmp_path / "data", SECRET_KEY_FILE=str(tmp_path / "secret"), CA_KEY_SIZE="2048"))

    assert settings["secret_key"] == key
    assert settings["ca_key_size"] == 2048
    assert not (tmp_path / "data" / "secret_key").exists()


def test_a_missing_secret_key_file_names_the_variable(tmp_path):
    result = run(tmp_path, "import pkiserver.settings", SECRET_KEY_FILE=str(tmp_path / "nope"))

    assert result.returncode != 0
    assert "SECRET_KEY_FILE" in result.stderr.strip().splitlines()[-1]


def test_settings_read_the_dotenv_file_beside_the_project(tmp_path):
    """Settings load BASE_DIR/.env; the child swaps that path for a temporary file to prove it."""
    dotenv = tmp_path / "dotenv"
    dotenv.write_text("CA_KEY_SIZE=2048\nDEBUG=true\n")
    code = f"""
import pathlib, pkiserver.env as env
real_read = env.read_dotenv
def read_elsewhere(path):
    assert path == pathlib.Path({str(REPO)!r}) / ".env", path
    real_read(pathlib.Path({str(dotenv)!r}))
env.read_dotenv = read_elsewhere
{SHOW_SETTINGS}
"""
    settings = shown(run(tmp_path, code, DEBUG="false"))

    assert settings["ca_key_size"] == 2048  # from the file
    assert settings["debug"] is False  # the real environment wins


# --- read_dotenv and env_origins in process -----------------------------------------------


@pytest.fixture
def scratch_env(monkeypatch):
    """Names under PKITEST_ are removed again after the test, whoever set them."""
    yield monkeypatch
    for name in [n for n in os.environ if n.startswith("PKITEST_")]:
        del os.environ[name]


def test_read_dotenv_loads_values_and_real_variables_win(tmp_path, scratch_env):
    dotenv = tmp_path / ".env"
    dotenv.write_text('# a comment\nPKITEST_PLAIN=from-file\nPKITEST_REAL=from-file\nPKITEST_QUOTED="two words"\n\n')
    scratch_env.setenv("PKITEST_REAL", "from-environment")

    read_dotenv(dotenv)

    assert os.environ["PKITEST_PLAIN"] == "from-file"
    assert os.environ["PKITEST_QUOTED"] == "two words"
    assert os.environ["PKITEST_REAL"] == "from-environment"


def test_read_dotenv_without_a_file_changes_nothing(tmp_path, scratch_env):
    before = dict(os.environ)

    read_dotenv(tmp_path / "missing.env")

    assert dict(os.environ) == before


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ('["http://localhost:3000/", "https://app.example.com"]', ["http://localhost:3000", "https://app.example.com"]),
        ("http://a.example:8080, https://b.example", ["http://a.example:8080", "https://b.example"]),
        ("", []),
    ],
    ids=["json-with-fastpki-slash", "comma-separated", "empty"],
)
def test_cors_origins_accept_fastpki_forms(scratch_env, raw, expected):
    scratch_env.setenv("PKITEST_ORIGINS", raw)

    assert env_origins("PKITEST_ORIGINS") == expected


@pytest.mark.parametrize("raw", ['{"a": 1}', "localhost:3000", '["ftp://x.example"]', "https://x.example/app"])
def test_cors_origins_refuse_what_is_not_an_origin(scratch_env, raw):
    scratch_env.setenv("PKITEST_ORIGINS", raw)

    with pytest.raises(ConfigError, match="PKITEST_ORIGINS"):
        env_origins("PKITEST_ORIGINS")
