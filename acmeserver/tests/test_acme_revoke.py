"""revokeCert (RFC 8555 §7.6): with the certificate's own key, or by an account acting as a
service account that may revoke; OCSP says revoked at once (SPEC §15)."""

from __future__ import annotations

import josepy as jose
import pytest
from acme import client, errors
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from acmeserver.services import eab_create
from acmeserver.tests.conftest import account_key, problem, signed_post
from acmeserver.tests.test_acme_accounts import register
from audit.models import AuditLog
from certificates import keystore
from certificates.models import Certificate
from certificates.tests.conftest import create_ca, issue_certificate
from serviceaccounts.tests.conftest import make_account

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def issued(admin_a, acme_ca) -> Certificate:
    return issue_certificate(admin_a, acme_ca, "revoke-me.example.com", include_private_key=True)


def _der_b64(cert: Certificate) -> str:
    der = x509.load_pem_x509_certificate(cert.certificate.encode()).public_bytes(serialization.Encoding.DER)
    return jose.b64.b64encode(der).decode()


def _own_key(cert: Certificate) -> jose.JWK:
    return jose.JWKEC(key=serialization.load_pem_private_key(keystore.decrypt(cert.private_key).encode(), None))


def _revoke_with_jwk(client_, ca, key: jose.JWK, body: dict):
    return signed_post(client_, f"/acme/{ca.slug}/revoke-cert", body, key, alg=jose.ES256)


def test_the_certificates_own_key_revokes_it(client, acme_ca, issued):
    response = _revoke_with_jwk(client, acme_ca, _own_key(issued), {"certificate": _der_b64(issued), "reason": 1})

    assert response.status_code == 200, response.content
    stored = Certificate.objects.get(pk=issued.pk)
    assert stored.revoked_at is not None and stored.revocation_reason == "key_compromise"
    entry = AuditLog.objects.get(action="cert_revoke")
    assert "ACME revokeCert, signed with the certificate's own key" in entry.detail and entry.user_id is None


def test_another_key_cannot_revoke_it(client, acme_ca, issued):
    other = jose.JWKRSA(key=account_key().key)

    response = signed_post(client, f"/acme/{acme_ca.slug}/revoke-cert", {"certificate": _der_b64(issued)}, other)

    assert response.status_code == 403 and problem(response) == "unauthorized"
    assert Certificate.objects.get(pk=issued.pk).revoked_at is None


@pytest.mark.parametrize(
    ("body", "kind"),
    [
        ({"reason": 6}, "badRevocationReason"),  # certificateHold
        ({"reason": 2}, "badRevocationReason"),  # cACompromise, for a leaf
        ({"reason": "keyCompromise"}, "badRevocationReason"),
        ({"certificate": "not base64 der"}, "malformed"),
    ],
)
def test_bad_requests_change_nothing(client, acme_ca, issued, body, kind):
    response = _revoke_with_jwk(client, acme_ca, _own_key(issued), {"certificate": _der_b64(issued), **body})

    assert response.status_code == 400 and problem(response) == kind
    assert Certificate.objects.get(pk=issued.pk).revoked_at is None


def test_twice_is_already_revoked(client, acme_ca, issued):
    body = {"certificate": _der_b64(issued)}
    assert _revoke_with_jwk(client, acme_ca, _own_key(issued), body).status_code == 200

    again = _revoke_with_jwk(client, acme_ca, _own_key(issued), body)

    assert again.status_code == 400 and problem(again) == "alreadyRevoked"


def test_a_certificate_of_another_ca_is_not_found_here(client, admin_a, acme_ca):
    other = issue_certificate(admin_a, create_ca(admin_a, "Other CA", key_algorithm="ecdsa", key_size=256),
                              "elsewhere.example.com", include_private_key=True)  # fmt: skip

    response = _revoke_with_jwk(client, acme_ca, _own_key(other), {"certificate": _der_b64(other)})

    assert response.status_code == 404 and problem(response) == "malformed"


@pytest.mark.parametrize(("flag", "revoked"), [(True, True), (False, False)])
def test_an_account_revokes_as_its_service_account(live_server, admin_a, org_a, acme_ca, issued, flag, revoked):
    robot = make_account(org_a, "revoker", can_revoke_cert=flag)
    credential, hmac_key = eab_create(actor=admin_a, account=robot)
    key = account_key()
    net = client.ClientNetwork(key, user_agent="pkiserver-tests")
    acme = client.ClientV2(client.ClientV2.get_directory(f"{live_server.url}/acme/{acme_ca.slug}/directory", net), net)
    register(acme, key, credential.kid, hmac_key)
    cert = x509.load_pem_x509_certificate(issued.certificate.encode())

    if revoked:
        acme.revoke(cert, 4)  # superseded
        assert Certificate.objects.get(pk=issued.pk).revocation_reason == "superseded"
        assert AuditLog.objects.get(action="cert_revoke").username == robot.username
    else:
        with pytest.raises(errors.Error) as refused:
            acme.revoke(cert, 4)
        assert refused.value.typ == "urn:ietf:params:acme:error:unauthorized"
        assert Certificate.objects.get(pk=issued.pk).revoked_at is None


def test_ocsp_and_the_crl_say_revoked(client, acme_ca, issued):
    _revoke_with_jwk(client, acme_ca, _own_key(issued), {"certificate": _der_b64(issued), "reason": 1})
    leaf = x509.load_pem_x509_certificate(issued.certificate.encode())
    issuer = x509.load_pem_x509_certificate(acme_ca.certificate.encode())
    request = ocsp.OCSPRequestBuilder().add_certificate(leaf, issuer, hashes.SHA1()).build()

    answered = client.post(
        f"/ocsp/{acme_ca.slug}",
        request.public_bytes(serialization.Encoding.DER),
        content_type="application/ocsp-request",
    )
    crl = x509.load_der_x509_crl(client.get(f"/crl/{acme_ca.slug}").content)

    status = ocsp.load_der_ocsp_response(answered.content)
    assert status.certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert status.revocation_reason is x509.ReasonFlags.key_compromise
    entry = crl.get_revoked_certificate_by_serial_number(leaf.serial_number)
    assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is x509.ReasonFlags.key_compromise
