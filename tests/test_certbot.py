"""certbot (PyPI, pinned) registers ACME accounts with a pkiserver CA under gunicorn with two
workers: refused without an external account binding, registered with one, and deactivated by
`certbot unregister` (SPEC §15). Nonces travel between the workers through the shared cache."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.live

# An organization with an ACME-enabled CA and a service account with one binding, made through the
# services (their API routes have their own tests); prints what certbot needs.
SET_UP = """
import json
from accounts.models import Role, User
from acmeserver.services import eab_create
from certificates import services
from orgs.models import Organization
from serviceaccounts import services as sa
org = Organization.objects.create(name="Certbot Org")
admin = User.objects.create_user(username="cb-admin", email="cb@example.com", password="x" * 20, role=Role.ADMIN,
                                 organization=org)
data = services.CARequest(name="Certbot CA", subject_dn="CN=Certbot CA", key_algorithm="ecdsa", key_size=256)
ca = services.ca_create(actor=admin, data=data, request_base="http://unused").obj
services.ca_update(actor=admin, ca=ca, changes={"acme_enabled": True})
flags = dict.fromkeys(["can_create_ca", "can_revoke_cert", "can_export_private_key", "can_delete_ca"], False)
bot = sa.service_account_create(actor=admin, name="certbot", description=None, flags={**flags, "can_create_cert": True})
credential, key = eab_create(actor=admin, account=bot)
leaf = services.certificate_issue(actor=admin, ca=ca, request_base="http://unused", data=services.CertRequest(
    certificate_type="server", common_name="leaf.example.com", subject_dn="CN=leaf.example.com",
    key_algorithm="ecdsa", key_size=256)).private_key
issued = ca.certificates.get()
print(json.dumps({"slug": ca.slug, "kid": credential.kid, "key": key, "ca_pem": ca.certificate,
                  "leaf_pem": issued.certificate, "leaf_key": leaf}))
"""

STATE = """
import json
from acmeserver.models import AcmeAccount, EabCredential
credential = EabCredential.objects.get(kid={kid!r})
print(json.dumps({{"used": credential.used_at is not None, "account_url": credential.account_url,
                  "accounts": list(AcmeAccount.objects.values_list("status", "service_account__name"))}}))
"""


def _shell(server, code: str) -> dict:
    done = server.manage("shell", "-c", code)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.strip().splitlines()[-1])


def test_certbot_registers_with_a_binding_and_unregisters(live_pkiserver, certbot_exe: Path, tmp_path: Path):
    made = _shell(live_pkiserver, SET_UP)
    directory = f"{live_pkiserver.url}/acme/{made['slug']}/directory"

    def certbot(*args: str, config: str = "c") -> subprocess.CompletedProcess[str]:
        dirs = [
            "--config-dir",
            str(tmp_path / config),
            "--work-dir",
            str(tmp_path / "w"),
            "--logs-dir",
            str(tmp_path / "l"),
        ]
        return subprocess.run(
            [str(certbot_exe), *args, "--server", directory, "--non-interactive", *dirs],
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip

    refused = certbot("register", "--email", "ops@example.com", "--agree-tos", "--no-eff-email")
    assert refused.returncode != 0
    assert "requires external account binding" in refused.stdout + refused.stderr

    registered = certbot(
        "register", "--email", "ops@example.com", "--agree-tos", "--no-eff-email",
        "--eab-kid", made["kid"], "--eab-hmac-key", made["key"],
    )  # fmt: skip
    assert registered.returncode == 0, registered.stdout + registered.stderr
    assert "Account registered" in registered.stdout + registered.stderr
    state = _shell(live_pkiserver, STATE.format(kid=made["kid"]))
    assert state["used"] and state["account_url"].startswith(f"{live_pkiserver.url}/acme/{made['slug']}/account/")
    assert state["accounts"] == [["valid", "certbot"]]

    again = certbot(
        "register", "--email", "ops@example.com", "--agree-tos", "--no-eff-email",
        "--eab-kid", made["kid"], "--eab-hmac-key", made["key"], config="c2",
    )  # fmt: skip
    assert again.returncode != 0  # a binding registers one account only (a new key here)
    assert "unknown, revoked or used already" in again.stdout + again.stderr

    gone = certbot("unregister")
    assert gone.returncode == 0, gone.stdout + gone.stderr
    assert "Account deactivated" in gone.stdout + gone.stderr
    assert _shell(live_pkiserver, STATE.format(kid=made["kid"]))["accounts"] == [["deactivated", "certbot"]]


def test_certbot_revokes_with_the_certificates_key_and_openssl_sees_it(
    live_pkiserver, certbot_exe: Path, tmp_path: Path
):
    made = _shell(live_pkiserver, SET_UP.replace("Certbot", "Revoking").replace("cb", "rv"))
    for name in ("ca_pem", "leaf_pem", "leaf_key"):
        (tmp_path / f"{name}.pem").write_text(made[name])
    directory = f"{live_pkiserver.url}/acme/{made['slug']}/directory"
    dirs = ["--config-dir", str(tmp_path / "c"), "--work-dir", str(tmp_path / "w"), "--logs-dir", str(tmp_path / "l")]

    revoked = subprocess.run(
        [str(certbot_exe), "revoke", "--server", directory, "--non-interactive", *dirs,
         "--cert-path", str(tmp_path / "leaf_pem.pem"), "--key-path", str(tmp_path / "leaf_key.pem"),
         "--reason", "keycompromise", "--no-delete-after-revoke"],
        capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert revoked.returncode == 0, revoked.stdout + revoked.stderr
    assert "Congratulations! You have successfully revoked the certificate" in revoked.stdout + revoked.stderr

    ocsp_answer = subprocess.run(
        ["openssl", "ocsp", "-issuer", str(tmp_path / "ca_pem.pem"), "-cert", str(tmp_path / "leaf_pem.pem"),
         "-CAfile", str(tmp_path / "ca_pem.pem"), "-url", f"{live_pkiserver.url}/ocsp/{made['slug']}", "-no_nonce"],
        capture_output=True, text=True, timeout=60,
    )  # fmt: skip
    assert ocsp_answer.returncode == 0, ocsp_answer.stderr
    assert ": revoked" in ocsp_answer.stdout and "Reason: keyCompromise" in ocsp_answer.stdout
    crl_path = tmp_path / "ca.crl"
    subprocess.run(["curl", "-sf", "-o", str(crl_path), f"{live_pkiserver.url}/crl/{made['slug']}"], check=True)
    crl_text = subprocess.run(
        ["openssl", "crl", "-inform", "DER", "-in", str(crl_path), "-noout", "-text"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    serial = subprocess.run(
        ["openssl", "x509", "-in", str(tmp_path / "leaf_pem.pem"), "-noout", "-serial"],
        capture_output=True, text=True, check=True,
    ).stdout.strip().split("=")[1]  # fmt: skip
    assert serial.upper().lstrip("0") in crl_text.replace(":", "").upper() and "Key Compromise" in crl_text
