"""Certificate downloads: `/api/v1/export/certificate/{id}` and its chain, key and PKCS#12 (SPEC §8)."""

from __future__ import annotations

import itertools
import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding, pkcs12

from audit.models import AuditLog
from certificates.models import CertificateAuthority
from certificates.x509 import load_private_key_pem

EXPORT = "/api/v1/export/certificate"

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


def issue(client, ca: CertificateAuthority, key_algorithm: str = "ecdsa", **extra) -> dict:
    body = {
        "common_name": "app.example.com",
        "subject_dn": "CN=app.example.com,O=Acme",
        "certificate_type": "server",
        "key_algorithm": key_algorithm,
        **({"key_size": 2048} if key_algorithm == "rsa" else {}),
        **extra,
    }
    response = client.post(f"/api/v1/certificates/?ca_id={ca.pk}", body, format="json")
    assert response.status_code == 201, response.json()
    return response.json()


def openssl(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *args], capture_output=True, text=True, timeout=30, check=False)


def key_exports() -> int:
    return AuditLog.objects.filter(action="cert_export_private_key").count()


@pytest.fixture
def hierarchy(make_ca, admin_a) -> dict[str, CertificateAuthority]:
    root = make_ca(admin_a, "Export Root")
    intermediate = make_ca(admin_a, "Export Intermediate", parent=root)
    issuing = make_ca(admin_a, "Export Issuing", parent=intermediate)
    return {"root": root, "intermediate": intermediate, "issuing": issuing}


@pytest.fixture
def cert(api, hierarchy) -> dict:
    return issue(api, hierarchy["issuing"])


@pytest.mark.parametrize("slash", ["", "/"])
def test_certificate_download(api, cert, slash):
    response = api.get(f"{EXPORT}/{cert['id']}{slash}")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/x-pem-file"
    assert response["Content-Disposition"] == f'attachment; filename="certificate_{cert["id"]}.pem"'
    assert response.content.decode() == cert["certificate"]
    assert b"PRIVATE KEY" not in response.content


def test_chain_is_leaf_then_each_ca_up_to_the_root(api, cert, hierarchy):
    response = api.get(f"{EXPORT}/{cert['id']}/chain")

    assert response.status_code == 200
    assert response["Content-Disposition"].startswith("attachment; filename=")
    chain = x509.load_pem_x509_certificates(response.content)
    expected = [cert["certificate"]] + [hierarchy[n].certificate for n in ("issuing", "intermediate", "root")]
    assert [c.public_bytes(Encoding.PEM).decode() for c in chain] == expected
    for child, parent in itertools.pairwise(chain):
        assert child.issuer == parent.subject
        child.verify_directly_issued_by(parent)
    assert chain[-1].issuer == chain[-1].subject


@needs_openssl
def test_openssl_verifies_the_exported_chain(api, anon, cert, hierarchy, tmp_path):
    chain = api.get(f"{EXPORT}/{cert['id']}/chain").content
    (tmp_path / "chain.pem").write_bytes(chain)
    (tmp_path / "leaf.pem").write_bytes(api.get(f"{EXPORT}/{cert['id']}").content)
    root_pem = api.get(f"/api/v1/export/ca/{hierarchy['root'].pk}/certificate").content
    (tmp_path / "root.pem").write_bytes(root_pem)

    result = openssl(
        "verify", "-CAfile", str(tmp_path / "root.pem"), "-untrusted", str(tmp_path / "chain.pem"),
        "-purpose", "sslserver", str(tmp_path / "leaf.pem"),
    )  # fmt: skip
    # Without the intermediates openssl cannot build the path: the chain is what makes it work.
    alone = openssl("verify", "-CAfile", str(tmp_path / "root.pem"), str(tmp_path / "leaf.pem"))

    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip().endswith("OK")
    assert alone.returncode != 0


@pytest.mark.parametrize("route", ["/api/v1/certificates/{id}/private-key", f"{EXPORT}/{{id}}/private-key"])
def test_private_key_download_is_audited(api, admin_a, cert, route):
    response = api.get(route.format(id=cert["id"]))

    assert response.status_code == 200
    if route.startswith(EXPORT):
        assert response["Content-Disposition"] == f'attachment; filename="certificate_{cert["id"]}_private_key.pem"'
        assert response["Cache-Control"] == "no-store"
        pem = response.content.decode()
    else:
        pem = response.json()["private_key"]
    key = load_private_key_pem(pem)
    assert key.public_key() == x509.load_pem_x509_certificate(cert["certificate"].encode()).public_key()
    entry = AuditLog.objects.get(action="cert_export_private_key")
    assert (entry.resource_type, entry.resource_id) == ("certificate", cert["id"])
    assert (entry.user_id, entry.organization_id) == (admin_a.pk, admin_a.organization_id)


@pytest.mark.parametrize("suffix", ["/private-key", "/pkcs12?password=secret", "/pkcs12"])
def test_key_routes_are_404_without_a_stored_key(api, hierarchy, suffix):
    keyless = issue(api, hierarchy["issuing"], include_private_key=False)

    response = api.get(f"{EXPORT}/{keyless['id']}{suffix}")

    assert response.status_code == 404
    assert key_exports() == 0


@needs_openssl
@pytest.mark.parametrize("key_algorithm", ["ecdsa", "rsa", "ed25519"])
def test_pkcs12_with_a_password(api, cert, hierarchy, tmp_path, key_algorithm):
    leaf = issue(api, hierarchy["issuing"], key_algorithm) if key_algorithm != "ecdsa" else cert

    response = api.get(f"{EXPORT}/{leaf['id']}/pkcs12", {"password": "secret"})

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/x-pkcs12"
    assert response["Content-Disposition"] == f'attachment; filename="certificate_{leaf["id"]}.p12"'
    bundle = pkcs12.load_pkcs12(response.content, b"secret")
    leaf_cert = x509.load_pem_x509_certificate(leaf["certificate"].encode())
    assert bundle.cert.certificate == leaf_cert
    assert bundle.key.public_key() == leaf_cert.public_key()
    assert [c.certificate for c in bundle.additional_certs] == [
        x509.load_pem_x509_certificate(hierarchy[n].certificate.encode()) for n in ("issuing", "intermediate", "root")
    ]
    with pytest.raises(ValueError):
        pkcs12.load_pkcs12(response.content, b"wrong")
    path = tmp_path / "bundle.p12"
    path.write_bytes(response.content)
    info = openssl("pkcs12", "-info", "-nokeys", "-in", str(path), "-passin", "pass:secret")
    assert info.returncode == 0, info.stderr
    assert info.stdout.count("-----BEGIN CERTIFICATE-----") == 4
    subjects = [line for line in info.stdout.splitlines() if line.startswith("subject=")]
    assert [s.rsplit("CN = ", 1)[1] for s in subjects] == [
        "app.example.com", "Export Issuing", "Export Intermediate", "Export Root",
    ]  # fmt: skip
    assert openssl("pkcs12", "-info", "-nokeys", "-in", str(path), "-passin", "pass:wrong").returncode != 0
    assert AuditLog.objects.filter(action="cert_export_private_key", resource_id=leaf["id"]).count() == 1


@needs_openssl
@pytest.mark.parametrize("query", ["", "?password="], ids=["no-password", "empty-password"])
def test_pkcs12_without_a_password(api, cert, tmp_path, query):
    response = api.get(f"{EXPORT}/{cert['id']}/pkcs12{query}")

    assert response.status_code == 200, response.content
    bundle = pkcs12.load_pkcs12(response.content, None)
    assert bundle.key is not None and len(bundle.additional_certs) == 3
    path = tmp_path / "bundle.p12"
    path.write_bytes(response.content)
    info = openssl("pkcs12", "-info", "-nokeys", "-in", str(path), "-passin", "pass:")
    assert info.returncode == 0, info.stderr
    assert info.stdout.count("-----BEGIN CERTIFICATE-----") == 4
    assert key_exports() == 1


def test_pkcs12_password_too_long_is_refused(api, cert):
    response = api.get(f"{EXPORT}/{cert['id']}/pkcs12", {"password": "p" * 1025})

    assert response.status_code == 400
    assert "password" in response.json()["errors"]
    assert key_exports() == 0


EXPORT_MATRIX = [
    # persona, certificate, chain, private-key, pkcs12
    ("superuser", 200, 200, 200, 200),
    ("admin_a", 200, 200, 200, 200),
    ("user_a_capable", 200, 200, 200, 200),
    ("user_a", 200, 200, 403, 403),
    ("admin_b", 403, 403, 403, 403),
    ("user_b", 403, 403, 403, 403),
]


@pytest.mark.parametrize(("persona", "plain", "chain", "key", "p12"), EXPORT_MATRIX, ids=[r[0] for r in EXPORT_MATRIX])
def test_who_may_download_what(request, client_for, cert, persona, plain, chain, key, p12):
    client = client_for(request.getfixturevalue(persona))

    answers = [
        client.get(f"{EXPORT}/{cert['id']}{suffix}").status_code
        for suffix in ("", "/chain", "/private-key", "/pkcs12?password=secret")
    ]

    assert answers == [plain, chain, key, p12]
    assert key_exports() == (key == 200) + (p12 == 200)


@pytest.mark.parametrize("missing", ["999999", "9" * 30], ids=["unknown", "beyond-bigint"])
@pytest.mark.parametrize("suffix", ["", "/chain", "/private-key", "/pkcs12"])
def test_missing_certificate_is_404(api, suffix, missing):
    assert api.get(f"{EXPORT}/{missing}{suffix}").status_code == 404


@pytest.mark.parametrize("suffix", ["", "/chain", "/private-key", "/pkcs12"])
def test_anonymous_is_401(anon, cert, suffix):
    assert anon.get(f"{EXPORT}/{cert['id']}{suffix}").status_code == 401


def test_files_hold_exactly_one_pem_block(api, cert, tmp_path: Path):
    body = api.get(f"{EXPORT}/{cert['id']}/private-key").content.decode()

    assert body.count("-----BEGIN") == 1 and body.strip().endswith("-----END PRIVATE KEY-----")
    assert api.get(f"{EXPORT}/{cert['id']}").content.decode().count("-----BEGIN CERTIFICATE-----") == 1
