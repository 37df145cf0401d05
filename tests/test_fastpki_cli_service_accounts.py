"""FastPKI's published CLI manages service accounts, tokens and policies on a live pkiserver (SPEC §13)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.conftest import Cli

pytestmark = pytest.mark.live

ADMIN_PASSWORD = "quiet-harbour-compass"


class ServiceAccountCli(Cli):
    """The shared CLI wrapper, with `fastpki service-account ... --output json` at hand."""

    def fails(self, *args: str) -> str:
        return " ".join(super().fails(*args).split())  # rich may wrap long errors

    def sa(self, *args: str) -> Any:
        return self.json("service-account", *args)


def _csr(tmp_path: Path, common_name: str, dns: list[str]) -> Path:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(d) for d in dns]), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / f"{common_name}.csr"
    path.write_bytes(csr.public_bytes(serialization.Encoding.PEM))
    return path


def test_service_accounts_tokens_and_policies_through_the_cli(live_pkiserver, fastpki_exe, tmp_path):
    done = live_pkiserver.manage(
        "bootstrap", "--username", "admin", "--email", "admin@example.com", PKI_BOOTSTRAP_PASSWORD=ADMIN_PASSWORD
    )
    assert done.returncode == 0, done.stderr
    admin = ServiceAccountCli(fastpki_exe, tmp_path / "admin")
    admin.ok("auth", "login", "-u", "admin", "-p", ADMIN_PASSWORD, "--server", live_pkiserver.url)
    acme = admin.json("org", "create", "--name", "Acme")
    admin.ok("org", "add-user", str(acme["id"]), "1")  # so that the CA below belongs to Acme
    # Moving a user between organizations ends every session of that user (SPEC §5), this one too.
    assert "Error 401" in admin.fails("org", "list")
    admin.ok("auth", "login", "-u", "admin", "-p", ADMIN_PASSWORD, "--server", live_pkiserver.url)
    ca = admin.json("ca", "create", "--name", "Acme Root", "--subject-dn", "CN=Acme Root,O=Acme", "--key-size", "2048")

    # A superuser must name the organization.
    assert "Error 400" in admin.fails("service-account", "create", "--name", "ci-deploy")
    created = admin.sa(
        "create", "--name", "ci-deploy", "-d", "GitLab CI", "--organization-id", str(acme["id"]), "--can-create-cert"
    )
    assert (created["name"], created["description"], created["organization_id"]) == (
        "ci-deploy",
        "GitLab CI",
        acme["id"],
    )
    assert (created["can_create_cert"], created["can_revoke_cert"], created["disabled_at"]) == (True, False, None)
    sa_id = str(created["id"])
    assert [a["name"] for a in admin.sa("list")] == ["ci-deploy"]
    assert admin.sa("show", sa_id) == created
    assert "ci-deploy" in admin.ok("service-account", "list")  # the default table renders too

    updated = admin.sa("update", sa_id, "--can-revoke-cert", "-d", "GitLab CI runner")
    assert (updated["can_revoke_cert"], updated["description"]) == (True, "GitLab CI runner")
    assert admin.sa("update", sa_id, "--disable")["disabled_at"] is not None
    assert admin.sa("update", sa_id, "--enable")["disabled_at"] is None

    # Tokens: the plaintext is printed once, after the metadata.
    minted = admin.ok(
        "service-account", "token", "create", sa_id, "--name", "pipeline", "--expires-at", "2099-01-01T00:00:00Z"
    )
    token = minted.strip().splitlines()[-1].strip()
    assert re.fullmatch(r"pkisa_[0-9a-f]{16}_[A-Za-z0-9_-]{43}", token), minted
    spare = admin.ok("service-account", "token", "create", sa_id).strip().splitlines()[-1].strip()
    listed = admin.sa("token", "list", sa_id)
    assert [(t["name"], t["revoked"], t["expires_at"]) for t in listed] == [
        ("pipeline", False, "2099-01-01T00:00:00Z"),
        (None, False, None),
    ]
    assert token not in json.dumps(listed)
    assert "pipeline" in admin.ok("service-account", "token", "list", sa_id)

    # Policies: none yet (deny by default), then set, shown, and later cleared.
    assert "Error 404" in admin.fails("service-account", "policy", "show", sa_id)
    assert "Error 400" in admin.fails(
        "service-account", "policy", "set", sa_id, "--max-validity-days", "30", "--san-dns-pattern", "a.*.b"
    )
    policy = admin.sa(
        "policy", "set", sa_id, "--max-validity-days", "30",
        "--cn-pattern", "*.svc.example.com", "--san-dns-pattern", "*.svc.example.com",
        "--san-ip-cidr", "10.0.0.0/8", "--allowed-ca-id", str(ca["id"]), "--cert-type", "server",
    )  # fmt: skip
    assert policy["service_account_id"] == int(sa_id)
    assert (policy["san_dns_patterns"], policy["allowed_ca_ids"], policy["max_validity_days"]) == (
        ["*.svc.example.com"], [ca["id"]], 30,
    )  # fmt: skip
    assert admin.sa("policy", "show", sa_id) == policy
    assert "*.svc.example.com" in admin.ok("service-account", "policy", "show", sa_id)

    # The CI job: the same CLI holding the token signs a CSR within the policy, and no more.
    robot = ServiceAccountCli(fastpki_exe, tmp_path / "robot")
    robot.ok("config", "set", "server.url", live_pkiserver.url)
    robot.ok("config", "set", "auth.token", token)
    good = _csr(tmp_path, "web.svc.example.com", ["web.svc.example.com"])
    signed = robot.json("cert", "sign-csr", str(good), "--ca", str(ca["id"]), "--valid-days", "30")
    assert (signed["common_name"], signed["created_by_user_id"]) == ("web.svc.example.com", None)
    evil = _csr(tmp_path, "web2.svc.example.com", ["web2.svc.example.com", "x.evil.com"])
    refused = robot.fails("cert", "sign-csr", str(evil), "--ca", str(ca["id"]), "--valid-days", "30")
    assert "Error 403: Issuance policy: DNS SAN 'x.evil.com' matches no san_dns_patterns" in refused
    assert "Error 403" in robot.fails("cert", "sign-csr", str(good), "--ca", str(ca["id"]), "--valid-days", "31")
    assert "Error 403" in robot.fails("service-account", "list")
    assert "Error 403" in robot.fails("user", "list")
    assert [c["common_name"] for c in admin.json("cert", "list")] == ["web.svc.example.com"]

    denied = admin.json("audit", "list", "--action", "cert_policy_denied")
    assert [(e["username"], e["user_id"]) for e in denied] == [("sa:ci-deploy", None), ("sa:ci-deploy", None)]
    assert admin.json("audit", "list", "--action", "cert_sign_csr")[0]["username"] == "sa:ci-deploy"

    assert "Policy for service account" in admin.ok("service-account", "policy", "clear", sa_id, "--force")
    assert "Error 404" in admin.fails("service-account", "policy", "show", sa_id)
    assert "no issuance policy" in robot.fails(
        "cert", "sign-csr", str(good), "--ca", str(ca["id"]), "--valid-days", "5"
    )

    # Revoking one token stops it at once; the other still works until the account is deleted.
    token_id = str(listed[0]["id"])
    assert f"Token #{token_id} revoked." in admin.ok("service-account", "token", "revoke", sa_id, token_id, "--force")
    assert [t["revoked"] for t in admin.sa("token", "list", sa_id)] == [True, False]
    assert "Error 401" in robot.fails("cert", "list")
    robot.ok("config", "set", "auth.token", spare)
    assert robot.json("cert", "list")[0]["common_name"] == "web.svc.example.com"

    assert f"Service account #{sa_id} deleted." in admin.ok("service-account", "delete", sa_id, "--force")
    assert "Error 404" in admin.fails("service-account", "show", sa_id)
    assert admin.sa("list") == []
    assert "Error 401" in robot.fails("cert", "list")
