"""`manage.py check --deploy` with production settings finds nothing to warn about."""

from __future__ import annotations

import os
import secrets
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.security

REPO = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "0",
    "SECRET_KEY": secrets.token_urlsafe(50),
    "ALLOWED_HOSTS": "pki.example.com",
    "PUBLIC_BASE_URL": "https://pki.example.com",
    "BEHIND_HTTPS_PROXY": "1",  # TLS ends at the proxy, which sends X-Forwarded-Proto
    "SECURE_SSL_REDIRECT": "1",
}
# Inherited variables that would change what the settings say (the test run's own among them).
_OURS = {"DEBUG", "SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "DATA_DIR", "CACHE_URL", "PUBLIC_BASE_URL",
         "BEHIND_HTTPS_PROXY", "BACKEND_CORS_ORIGINS", "PRIVATE_KEY_ENCRYPTION_KEY"}  # fmt: skip


def check_deploy(tmp_path: Path, **variables: str) -> subprocess.CompletedProcess[str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in _OURS and not k.startswith("SECURE_") and not k.endswith("_FILE")
    }
    env.update(DATA_DIR=str(tmp_path), DJANGO_SETTINGS_MODULE="pkiserver.settings", **variables)
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def issues(result: subprocess.CompletedProcess[str]) -> set[str]:
    """The check ids (`security.W004`, ...) in the output."""
    import re

    return set(re.findall(r"\(([a-z_]+\.[EW][0-9]+)\)", result.stdout + result.stderr))


def test_production_settings_pass_check_deploy(tmp_path):
    # Including the two domain-wide HSTS commitments an operator makes for the whole domain.
    result = check_deploy(tmp_path, **PRODUCTION, SECURE_HSTS_INCLUDE_SUBDOMAINS="1", SECURE_HSTS_PRELOAD="1")

    assert result.returncode == 0, result.stdout + result.stderr
    assert issues(result) == set()
    assert "System check identified no issues" in result.stdout


def test_the_defaults_leave_only_the_domain_wide_hsts_choices(tmp_path):
    # includeSubDomains and preload bind every host of the domain, not just this server, so they
    # stay off by default; everything else is right out of the box once DEBUG is off.
    result = check_deploy(tmp_path, **PRODUCTION)

    assert issues(result) == {"security.W005", "security.W021"}


def test_plain_http_without_a_redirect_is_reported(tmp_path):
    # The control: without TLS at a proxy and without the redirect, the check does complain.
    result = check_deploy(
        tmp_path, **{**PRODUCTION, "BEHIND_HTTPS_PROXY": "0", "SECURE_SSL_REDIRECT": "0", "DEBUG": "1"}
    )

    assert result.returncode != 0
    assert {"security.W008", "security.W018", "security.W004"} <= issues(result)
