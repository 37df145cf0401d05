"""Several server processes on one database: what one process does, the other serves at once.

Checked against a naive version: with a per-process cache (CACHE_URL=locmemcache://) the
throttling test saw five 401s and no 429.
"""

from __future__ import annotations

import secrets

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp

from tests.reliability.conftest import ON_POSTGRES, Database, Server, http, login, random_address

pytestmark = [
    pytest.mark.reliability,
    pytest.mark.postgres,
    pytest.mark.live,
    pytest.mark.skipif(not ON_POSTGRES, reason="several processes on one database need PostgreSQL"),
]

FAST_KEY = {"key_algorithm": "ecdsa", "key_size": 256}
REVOCATIONS = 4


def _ocsp_status(server: Server, slug: str, cert: x509.Certificate, issuer: x509.Certificate) -> ocsp.OCSPResponse:
    request = ocsp.OCSPRequestBuilder().add_certificate(cert, issuer, hashes.SHA1()).build()
    answer = http("POST", f"{server.url}/ocsp/{slug}", body=request.public_bytes(serialization.Encoding.DER),
                  content_type="application/ocsp-request")  # fmt: skip
    assert answer.status == 200 and answer.content_type == "application/ocsp-response", answer
    response = ocsp.load_der_ocsp_response(answer.body)
    assert response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.serial_number == cert.serial_number
    signed_with = ec.ECDSA(response.signature_hash_algorithm)  # signed by the CA itself (an EC key here)
    issuer.public_key().verify(response.signature, response.tbs_response_bytes, signed_with)
    return response


def _crl(server: Server, slug: str, issuer: x509.Certificate) -> x509.CertificateRevocationList:
    answer = http("GET", f"{server.url}/crl/{slug}")
    assert answer.status == 200 and answer.content_type == "application/pkix-crl", answer
    crl = x509.load_der_x509_crl(answer.body)
    assert crl.is_signature_valid(issuer.public_key())
    return crl


def test_a_revocation_through_one_process_is_served_by_the_other_at_once(server_a, server_b, root_token):
    ca = http(
        "POST",
        f"{server_a.url}/api/v1/cas/",
        token=root_token,
        body={"name": f"Shared Root {secrets.token_hex(3)}", "subject_dn": "CN=Shared Root,O=Rel", **FAST_KEY},
    )
    assert ca.status == 201, ca.body
    slug, issuer = ca.json()["slug"], x509.load_pem_x509_certificate(ca.json()["certificate"].encode())
    certs = []
    for n in range(REVOCATIONS):
        made = http("POST", f"{server_a.url}/api/v1/certificates/?ca_id={ca.json()['id']}", token=root_token,
                    body={"common_name": f"svc{n}.rel.example.com", "subject_dn": f"CN=svc{n}.rel.example.com",
                          "certificate_type": "server", **FAST_KEY})  # fmt: skip
        assert made.status == 201, made.body
        certs.append((made.json()["id"], x509.load_pem_x509_certificate(made.json()["certificate"].encode())))
    first = _crl(server_b, slug, issuer)
    number = first.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    assert list(first) == []
    for _, cert in certs:
        assert _ocsp_status(server_b, slug, cert, issuer).certificate_status is ocsp.OCSPCertStatus.GOOD

    for done, (cert_id, cert) in enumerate(certs, start=1):
        revoked = http("POST", f"{server_a.url}/api/v1/certificates/{cert_id}/revoke", token=root_token,
                       body={"reason": "key_compromise"})  # fmt: skip
        assert revoked.status == 200, revoked.body

        # At once, with no wait, from the other process (and from each of them for the CRL).
        for server in (server_b, server_a):
            crl = _crl(server, slug, issuer)
            assert crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == number + done
            entry = crl.get_revoked_certificate_by_serial_number(cert.serial_number)
            assert entry is not None, f"revocation {done} missing from the CRL served by {server.url}"
            assert entry.extensions.get_extension_for_class(x509.CRLReason).value.reason is (
                x509.ReasonFlags.key_compromise
            )
        assert {e.serial_number for e in crl} == {c.serial_number for _, c in certs[:done]}
        answer = _ocsp_status(server_b, slug, cert, issuer)
        assert answer.certificate_status is ocsp.OCSPCertStatus.REVOKED
        assert answer.revocation_reason is x509.ReasonFlags.key_compromise
    for _, cert in certs:  # and the other process agrees about every one of them
        assert _ocsp_status(server_a, slug, cert, issuer).certificate_status is ocsp.OCSPCertStatus.REVOKED


@pytest.fixture(scope="module")
def redis_url() -> str:
    url = "redis://127.0.0.1:6379/0"
    try:
        import redis
    except ImportError:
        pytest.fail("the redis package (requirements.txt) is not installed")
    try:
        redis.Redis.from_url(url, socket_connect_timeout=2).ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("Redis does not answer at 127.0.0.1:6379 (.ci/run starts it)")
    return url


CACHES = {
    "database-cache": None,  # server_env's CACHE_URL: dbcache://pkiserver_cache, made by a migration
    "redis": "redis_url",
}


@pytest.mark.parametrize("cache", CACHES.values(), ids=CACHES.keys())
def test_login_throttling_counts_across_processes(cache, request, launch, rel_database: Database):
    env = {"AUTH_RATE_LIMIT": "3/minute"}
    if cache is not None:
        env["CACHE_URL"] = request.getfixturevalue(cache)
    a, b = launch(rel_database, workers=3, **env), launch(rel_database, workers=1, **env)
    username, address = f"intruder-{secrets.token_hex(4)}", random_address()

    answers = [login(server, username, "wrong password", **{"X-Forwarded-For": address}) for server in (a, b, a, b, a)]

    assert [answer.status for answer in answers] == [401, 401, 401, 429, 429]
    for answer in answers[3:]:
        assert answer.content_type == "application/json"
        assert "throttled" in answer.json()["detail"]
        assert 0 < int(answer.headers["retry-after"]) <= 60
    # The count is per username too: another address gets no further with this name ...
    assert login(b, username, "wrong password", **{"X-Forwarded-For": random_address()}).status == 429
    # ... and per address: another name from the throttled address neither.
    assert login(a, f"other-{secrets.token_hex(4)}", "x", **{"X-Forwarded-For": address}).status == 429
