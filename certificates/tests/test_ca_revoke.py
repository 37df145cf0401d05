"""Revoking an intermediate CA, and deleting one (SPEC §6): the parent's CRL and OCSP say so,
openssl refuses what the revoked CA signed, and the revoked CA and those below it issue nothing."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography import x509
from django.test import Client

from audit.models import AuditLog
from certificates import services
from certificates.models import Certificate, CertificateAuthority
from certificates.services import issuance
from certificates.tests.conftest import FAST_KEY, REQUEST_BASE, cert_of, create_ca, issue_by_api, issue_certificate
from tests.factories import UserFactory

CAS = "/api/v1/cas/"

needs_openssl = pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")


def openssl(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["openssl", *map(str, args)], capture_output=True, text=True, timeout=30, check=False)


def revoke_ca(client, ca: CertificateAuthority, body: dict | None = None):
    return client.post(f"{CAS}{ca.pk}/revoke", {} if body is None else body, format="json")


def crl_der(public: Client, ca: CertificateAuthority) -> bytes:
    response = public.get(f"/crl/{ca.slug}")
    assert response.status_code == 200
    return response.content


def crl_entry(
    public: Client, parent: CertificateAuthority, child: CertificateAuthority
) -> x509.RevokedCertificate | None:
    crl = x509.load_der_x509_crl(crl_der(public, parent))
    return crl.get_revoked_certificate_by_serial_number(int(child.serial_number, 16))


def entry_reason(entry: x509.RevokedCertificate) -> x509.ReasonFlags | None:
    try:
        return entry.extensions.get_extension_for_class(x509.CRLReason).value.reason
    except x509.ExtensionNotFound:
        return None


@pytest.fixture
def hierarchy(admin_a):
    """Organization A's root, an intermediate under it, a CA under that, and a leaf of each."""
    root = create_ca(admin_a, "Rev Root", allow_leaf_certs=True)
    inter = create_ca(admin_a, "Rev Inter", parent=root, allow_leaf_certs=True)
    below = create_ca(admin_a, "Rev Below", parent=inter, allow_leaf_certs=True)
    inter.refresh_from_db()
    return root, inter, below


# --- the API -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("reason", "flag"),
    [
        ("key_compromise", x509.ReasonFlags.key_compromise),
        ("ca_compromise", x509.ReasonFlags.ca_compromise),
        ("cACompromise", x509.ReasonFlags.ca_compromise),
        ("superseded", x509.ReasonFlags.superseded),
        ("cessation_of_operation", x509.ReasonFlags.cessation_of_operation),
        ("the HSM was lost", None),
    ],
)
def test_revoke_lists_the_intermediate_in_its_parents_crl(client_for, admin_a, hierarchy, reason, flag):
    root, inter, _ = hierarchy
    public = Client()
    assert crl_entry(public, root, inter) is None

    response = revoke_ca(client_for(admin_a), inter, {"reason": reason})

    assert response.status_code == 200, response.json()
    body = response.json()
    assert body["id"] == inter.pk
    assert body["revoked_at"] is not None
    assert body["revocation_reason"] == reason
    entry = crl_entry(public, root, inter)
    assert entry is not None
    assert entry_reason(entry) is flag
    audit = AuditLog.objects.get(action="ca_revoke", resource_id=inter.pk)
    assert audit.resource_type == "ca"
    assert audit.organization_id == inter.organization_id
    assert "Rev Inter" in audit.detail and "Rev Root" in audit.detail


def test_revoked_intermediate_shows_in_reads(client_for, admin_a, hierarchy):
    _, inter, below = hierarchy
    api = client_for(admin_a)
    revoke_ca(api, inter, {"reason": "key_compromise"})

    assert api.get(f"{CAS}{inter.pk}").json()["revocation_reason"] == "key_compromise"
    assert api.get(f"{CAS}{below.pk}").json()["revoked_at"] is None
    listed = {ca["id"]: ca for ca in api.get(CAS).json()}
    assert listed[inter.pk]["revoked_at"] is not None


def test_revoking_twice_is_a_conflict(client_for, admin_a, hierarchy):
    root, inter, _ = hierarchy
    api = client_for(admin_a)
    assert revoke_ca(api, inter, {"reason": "superseded"}).status_code == 200
    crl_before = crl_der(Client(), root)

    again = revoke_ca(api, inter, {"reason": "key_compromise"})

    assert again.status_code == 409, again.json()
    assert again.json()["code"] == "already_revoked"
    assert crl_der(Client(), root) == crl_before
    assert AuditLog.objects.filter(action="ca_revoke", resource_id=inter.pk).count() == 1


def test_a_root_cannot_be_revoked(client_for, admin_a, hierarchy):
    root, _, _ = hierarchy

    response = revoke_ca(client_for(admin_a), root, {"reason": "key_compromise"})

    assert response.status_code == 400, response.json()
    root.refresh_from_db()
    assert root.revoked_at is None


@pytest.mark.parametrize("reason", ["certificate_hold", "certificateHold", "remove_from_crl"])
def test_hold_and_remove_are_refused(client_for, admin_a, hierarchy, reason):
    _, inter, _ = hierarchy

    response = revoke_ca(client_for(admin_a), inter, {"reason": reason})

    assert response.status_code == 400, response.json()
    assert "reason" in response.json()["errors"]
    inter.refresh_from_db()
    assert inter.revoked_at is None


@pytest.mark.parametrize(
    ("who", "status"),
    [
        ("superuser", 200),
        ("admin_a", 200),
        ("deleter_a", 200),
        ("user_a", 403),
        ("creator_cert_only", 403),
        ("admin_b", 403),
        ("user_b", 403),
    ],
)
def test_who_may_revoke_an_intermediate(request, client_for, org_a, hierarchy, who, status):
    _, inter, _ = hierarchy
    if who == "deleter_a":
        actor = UserFactory(username="deleter", organization=org_a, can_delete_ca=True)
    elif who == "creator_cert_only":
        actor = UserFactory(username="certonly", organization=org_a, can_create_cert=True, can_create_ca=True)
    else:
        actor = request.getfixturevalue(who)

    response = revoke_ca(client_for(actor), inter, {"reason": "superseded"})

    assert response.status_code == status, response.json()
    inter.refresh_from_db()
    assert (inter.revoked_at is not None) == (status == 200)


def test_an_unknown_id_is_404(client_for, admin_a):
    assert revoke_ca(client_for(admin_a), CertificateAuthority(pk=987654)).status_code == 404


# --- nothing is issued under a revoked CA, nor below it ---------------------------------------------


def _csr() -> str:
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "csr.example.com")]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


@pytest.mark.parametrize("target", ["inter", "below"])
def test_a_revoked_ca_and_those_below_it_issue_nothing(client_for, admin_a, hierarchy, target):
    root, inter, below = hierarchy
    api = client_for(admin_a)
    ca = inter if target == "inter" else below
    old = issue_by_api(api, ca, "before.example.com")
    count = Certificate.objects.count()
    revoke_ca(api, inter, {"reason": "key_compromise"})
    count_after_revoke = Certificate.objects.count()

    issued = api.post(
        f"/api/v1/certificates/?ca_id={ca.pk}",
        {
            "common_name": "after.example.com",
            "subject_dn": "CN=after.example.com",
            "certificate_type": "server",
            **FAST_KEY,
        },
        format="json",
    )
    signed = api.post(
        "/api/v1/certificates/sign-csr",
        {"csr": _csr(), "ca_id": ca.pk, "certificate_type": "server"},
        format="json",
    )
    renewed = api.post(f"/api/v1/certificates/{old['id']}/renew", {}, format="json")
    child = api.post(
        CAS, {"name": "Too Late", "subject_dn": "CN=Too Late", "parent_ca_id": ca.pk, **FAST_KEY}, format="json"
    )

    for response in (issued, signed, renewed, child):
        assert response.status_code == 409, response.json()
        assert response.json()["code"] == "ca_revoked"
    assert count_after_revoke == count + 1  # the revocation's own record under the parent, nothing else
    assert Certificate.objects.count() == count_after_revoke
    assert not CertificateAuthority.objects.filter(name="Too Late").exists()
    # The root still issues, and so does a sibling intermediate.
    assert issue_by_api(api, root, "root-leaf.example.com")["issuer_id"] == root.pk


def test_a_revoked_ca_still_publishes_its_crl_and_answers_ocsp(client_for, admin_a, hierarchy):
    _, inter, _ = hierarchy
    api = client_for(admin_a)
    leaf = issue_by_api(api, inter, "leaf.example.com")
    revoke_ca(api, inter, {"reason": "key_compromise"})

    # Its own leaves can still be revoked, and its CRL says so.
    assert (
        api.post(f"/api/v1/certificates/{leaf['id']}/revoke", {"reason": "superseded"}, format="json").status_code
        == 200
    )
    crl = x509.load_der_x509_crl(crl_der(Client(), inter))
    assert crl.get_revoked_certificate_by_serial_number(int(leaf["serial_number"], 16)) is not None
    assert Client().get(f"/ca/{inter.slug}.pem").status_code == 200


def test_the_write_refuses_when_the_ca_was_revoked_after_the_checks(admin_a, hierarchy, monkeypatch):
    # The issuance reads the CA, then the revocation commits, then the write runs: it must not land.
    _, inter, _ = hierarchy
    stale = CertificateAuthority.objects.get(pk=inter.pk)
    services.ca_revoke(actor=admin_a, ca=inter, reason="key_compromise")
    monkeypatch.setattr(issuance, "check_not_revoked", lambda ca: None)
    count = Certificate.objects.count()

    with pytest.raises(services.Conflict):
        services.certificate_issue(
            actor=admin_a, ca=stale, request_base=REQUEST_BASE,
            data=services.CertRequest(certificate_type="server", common_name="race.example.com", **FAST_KEY),
        )  # fmt: skip
    assert Certificate.objects.count() == count


# --- deleting an intermediate revokes it at its parent ------------------------------------------------


def test_deleting_an_intermediate_revokes_it_at_its_parent(client_for, admin_a, hierarchy):
    root, _, _ = hierarchy
    lone = create_ca(admin_a, "Lone Inter", parent=root)
    api = client_for(admin_a)

    assert api.delete(f"{CAS}{lone.pk}").status_code == 204

    entry = crl_entry(Client(), root, lone)
    assert entry is not None
    assert entry_reason(entry) is x509.ReasonFlags.cessation_of_operation
    record = Certificate.objects.get(issuer=root, serial_number=lone.serial_number)
    assert record.certificate_type == "ca"
    assert record.private_key is None
    assert record.revocation_reason == "cessation_of_operation"
    assert "revoked at its parent" in AuditLog.objects.get(action="ca_delete", resource_id=lone.pk).detail


def test_deleting_a_revoked_intermediate_keeps_its_reason(client_for, admin_a, hierarchy):
    root, _, _ = hierarchy
    lone = create_ca(admin_a, "Lone Inter", parent=root)
    api = client_for(admin_a)
    revoke_ca(api, lone, {"reason": "key_compromise"})

    assert api.delete(f"{CAS}{lone.pk}").status_code == 204

    entry = crl_entry(Client(), root, lone)
    assert entry is not None
    assert entry_reason(entry) is x509.ReasonFlags.key_compromise
    assert Certificate.objects.filter(issuer=root, serial_number=lone.serial_number).count() == 1


def test_deleting_a_root_revokes_nothing(client_for, admin_a):
    root = create_ca(admin_a, "Alone")
    count = Certificate.objects.count()

    assert client_for(admin_a).delete(f"{CAS}{root.pk}").status_code == 204

    assert Certificate.objects.count() == count


# --- openssl's view ------------------------------------------------------------------------------------


def _files(tmp_path: Path, **pems: str | bytes) -> dict[str, Path]:
    paths = {}
    for name, content in pems.items():
        paths[name] = tmp_path / name
        paths[name].write_bytes(content if isinstance(content, bytes) else content.encode())
    return paths


def _crl_pem(public: Client, ca: CertificateAuthority) -> bytes:
    response = public.get(f"/crl/{ca.slug}.pem")
    assert response.status_code == 200
    return response.content


@needs_openssl
@pytest.mark.parametrize("how", ["revoke", "delete"])
def test_openssl_verify_refuses_leaves_under_a_revoked_intermediate(client_for, admin_a, tmp_path, how):
    public = Client()
    root = create_ca(admin_a, "Verify Root")
    inter = create_ca(admin_a, "Verify Inter", parent=root)
    leaf = issue_certificate(admin_a, inter, "verify.example.com")
    root.refresh_from_db()
    inter_crl = _crl_pem(public, inter)

    def verify() -> subprocess.CompletedProcess[str]:
        files = _files(
            tmp_path, root=root.certificate, inter=inter.certificate, leaf=leaf.certificate,
            crls=_crl_pem(public, root) + inter_crl,
        )  # fmt: skip
        return openssl(
            "verify", "-crl_check_all", "-CAfile", files["root"], "-untrusted", files["inter"],
            "-CRLfile", files["crls"], files["leaf"],
        )  # fmt: skip

    before = verify()
    assert before.returncode == 0, before.stdout + before.stderr
    api = client_for(admin_a)
    if how == "revoke":
        assert revoke_ca(api, inter, {"reason": "key_compromise"}).status_code == 200
    else:
        assert api.delete(f"{CAS}{inter.pk}").status_code == 204

    after = verify()

    assert after.returncode != 0
    assert "certificate revoked" in after.stdout + after.stderr


def _ocsp_text(public: Client, tmp_path: Path, root: CertificateAuthority, subject_pem: str) -> str:
    files = _files(tmp_path, root=root.certificate, subject=subject_pem)
    made = openssl(
        "ocsp", "-issuer", files["root"], "-cert", files["subject"], "-no_nonce", "-reqout", tmp_path / "req.der"
    )
    assert made.returncode == 0, made.stderr
    answer = public.post(
        f"/ocsp/{root.slug}", (tmp_path / "req.der").read_bytes(), content_type="application/ocsp-request"
    )
    assert answer.status_code == 200
    (tmp_path / "resp.der").write_bytes(answer.content)
    read = openssl(
        "ocsp", "-respin", tmp_path / "resp.der", "-issuer", files["root"], "-cert", files["subject"],
        "-CAfile", files["root"], "-resp_text",
    )  # fmt: skip
    assert read.returncode == 0, read.stdout + read.stderr
    assert "Response verify OK" in read.stdout + read.stderr
    return read.stdout


@needs_openssl
@pytest.mark.parametrize(("how", "reason_text"), [("revoke", "keyCompromise"), ("delete", "cessationOfOperation")])
def test_openssl_ocsp_at_the_parent_says_revoked(client_for, admin_a, tmp_path, how, reason_text):
    public = Client()
    root = create_ca(admin_a, "Ocsp Root")
    inter = create_ca(admin_a, "Ocsp Inter", parent=root)
    assert ": good" in _ocsp_text(public, tmp_path, root, inter.certificate)
    api = client_for(admin_a)
    if how == "revoke":
        revoke_ca(api, inter, {"reason": "key_compromise"})
    else:
        api.delete(f"{CAS}{inter.pk}")

    text = _ocsp_text(public, tmp_path, root, inter.certificate)

    assert ": revoked" in text
    assert f"Reason: {reason_text}" in text


def test_the_revocation_record_is_the_intermediates_own_certificate(admin_a, hierarchy):
    root, inter, _ = hierarchy
    services.ca_revoke(actor=admin_a, ca=inter, reason="superseded")

    record = Certificate.objects.get(issuer=root, serial_number=inter.serial_number)

    assert cert_of(record) == cert_of(inter)
    assert record.organization_id == inter.organization_id
    assert record.status == "revoked"
