"""No answer carries a private key except the create answers and the private-key routes."""

from __future__ import annotations

from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp
from rest_framework.test import APIClient

from certificates.models import Certificate, CertificateAuthority
from certificates.x509 import KeySpec, build_csr, csr_to_pem, generate_private_key, parse_subject

KEY = "PRIVATE KEY"
FAST = {"key_algorithm": "ecdsa", "key_size": 256}


def body(response: Any) -> str:
    content = b"".join(response.streaming_content) if response.streaming else response.content
    return content.decode("latin-1")


def stored_tokens() -> list[str]:
    tokens = list(CertificateAuthority.objects.values_list("private_key", flat=True))
    return tokens + list(Certificate.objects.exclude(private_key=None).values_list("private_key", flat=True))


@pytest.fixture
def world(client_for, admin_a, user_a, superuser) -> dict[str, Any]:
    """A hierarchy made through the API by org A's admin, and every create answer along the way."""
    api = client_for(admin_a)
    created: dict[str, Any] = {}

    def create(label: str, path: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = api.post(path, payload, format="json")
        assert response.status_code == 201, response.content
        created[label] = response
        return response.json()

    root = create("root", "/api/v1/cas/", {"name": "Leak Root", "subject_dn": "CN=Leak Root,O=A", **FAST})
    inter = create(
        "intermediate", "/api/v1/cas/",
        {"name": "Leak Issuing", "subject_dn": "CN=Leak Issuing,O=A", "parent_ca_id": root["id"], **FAST},
    )  # fmt: skip
    leaf = create(
        "certificate", f"/api/v1/certificates/?ca_id={inter['id']}",
        {"common_name": "leak.example.com", "subject_dn": "CN=leak.example.com", "certificate_type": "server", **FAST},
    )  # fmt: skip
    keyless = create(
        "certificate-without-key", f"/api/v1/certificates/?ca_id={inter['id']}",
        {"common_name": "nokey.example.com", "subject_dn": "CN=nokey.example.com", "certificate_type": "client",
         "include_private_key": False, **FAST},
    )  # fmt: skip
    csr = build_csr(key=generate_private_key(KeySpec("ecdsa", 256)), subject=parse_subject("CN=csr.example.com"))
    signed = create(
        "signed-csr", "/api/v1/certificates/sign-csr",
        {"csr": csr_to_pem(csr), "ca_id": inter["id"], "certificate_type": "server"},
    )  # fmt: skip
    renewed = create("renewed", f"/api/v1/certificates/{leaf['id']}/renew", {})
    revoked = api.post(f"/api/v1/certificates/{leaf['id']}/revoke", {"reason": "superseded"}, format="json")
    assert revoked.status_code == 200
    return {
        "root": root, "inter": inter, "leaf": leaf, "keyless": keyless, "signed": signed, "renewed": renewed,
        "created": created, "revoke_answer": revoked, "org_id": admin_a.organization_id, "user_id": user_a.pk,
        "superuser": superuser,
    }  # fmt: skip


def test_create_answers_carry_the_key_only_when_one_was_made(world: dict[str, Any]) -> None:
    with_key = {"root", "intermediate", "certificate", "renewed"}
    for label, response in world["created"].items():
        assert (KEY in body(response)) == (label in with_key), label


def test_revoke_answer_has_no_key(world: dict[str, Any]) -> None:
    answer = world["revoke_answer"]

    assert answer.json()["status"] == "revoked"
    assert KEY not in body(answer)


def read_routes(world: dict[str, Any]) -> list[str]:
    root, inter, leaf, signed = world["root"], world["inter"], world["leaf"], world["signed"]
    org, user = world["org_id"], world["user_id"]
    slug = inter["slug"]
    return [
        "/api/v1/cas/",
        "/api/v1/cas",
        f"/api/v1/cas/{root['id']}",
        f"/api/v1/cas/{inter['id']}/",
        f"/api/v1/cas/{inter['id']}/chain",
        f"/api/v1/cas/{root['id']}/children",
        "/api/v1/certificates/",
        f"/api/v1/certificates/?ca_id={inter['id']}",
        "/api/v1/certificates/?status=revoked",
        f"/api/v1/certificates/{leaf['id']}",
        f"/api/v1/certificates/{signed['id']}/",
        f"/api/v1/certificates/{world['renewed']['id']}",
        "/api/v1/audit-logs/",
        "/api/v1/users/",
        "/api/v1/users/me",
        f"/api/v1/users/{user}",
        "/api/v1/organizations/",
        f"/api/v1/organizations/{org}",
        f"/api/v1/organizations/{org}/users",
        f"/api/v1/export/ca/{root['id']}/certificate",
        f"/api/v1/export/ca/{inter['id']}/certificate",
        f"/api/v1/export/certificate/{leaf['id']}",
        f"/api/v1/export/certificate/{leaf['id']}/chain",
        f"/api/v1/export/certificate/{signed['id']}/chain",
        f"/crl/{slug}",
        f"/crl/{slug}.pem",
        f"/crl/{root['slug']}",
        f"/ca/{slug}.crt",
        f"/ca/{slug}.pem",
        f"/ca/{root['slug']}.pem",
    ]


KEY_ROUTES = [
    "/api/v1/cas/{root}/private-key",
    "/api/v1/cas/{inter}/private-key",
    "/api/v1/certificates/{leaf}/private-key",
    "/api/v1/certificates/{renewed}/private-key",
    "/api/v1/export/ca/{root}/private-key",
    "/api/v1/export/certificate/{leaf}/private-key",
]


def key_routes(world: dict[str, Any]) -> list[str]:
    ids = {name: world[name]["id"] for name in ("root", "inter", "leaf", "renewed")}
    return [route.format(**ids) for route in KEY_ROUTES]


def test_superuser_reads_every_route_and_sees_no_key(world: dict[str, Any], client_for) -> None:
    api = client_for(world["superuser"])
    tokens = stored_tokens()

    for route in read_routes(world):
        response = api.get(route)
        assert response.status_code == 200, route
        text = body(response)
        assert KEY not in text, route
        assert not [token for token in tokens if token in text], route


@pytest.mark.parametrize("persona", ["admin_a", "user_a", "user_a_capable", "user_b"])
def test_no_reader_sees_a_key(request, world: dict[str, Any], client_for, persona: str) -> None:
    api = client_for(request.getfixturevalue(persona))
    answered = 0

    for route in read_routes(world):
        response = api.get(route)
        assert response.status_code in (200, 403, 404), route
        answered += response.status_code == 200
        assert KEY not in body(response), route

    assert answered >= 8  # the public routes and the caller's own user and organization, at least


def test_only_the_private_key_routes_answer_a_key(world: dict[str, Any], client_for) -> None:
    api = client_for(world["superuser"])
    tokens = stored_tokens()

    for route in key_routes(world):
        response = api.get(route)
        assert response.status_code == 200, route
        text = body(response)
        assert KEY in text, route
        assert not [token for token in tokens if token in text], route  # decrypted, never the token


def test_a_certificate_without_a_key_has_no_key_route(world: dict[str, Any], client_for) -> None:
    api = client_for(world["superuser"])

    for cert in (world["keyless"], world["signed"]):
        for route in (
            f"/api/v1/certificates/{cert['id']}/private-key",
            f"/api/v1/export/certificate/{cert['id']}/private-key",
        ):
            response = api.get(route)
            assert response.status_code == 404, route
            assert KEY not in body(response)


def test_key_routes_refuse_readers_without_the_permission(world: dict[str, Any], client_for, user_a, user_b) -> None:
    for persona in (user_a, user_b):
        api = client_for(persona)
        for route in key_routes(world):
            response = api.get(route)
            assert response.status_code == 403, (persona.username, route)
            assert KEY not in body(response)


def test_ocsp_answer_has_no_key(world: dict[str, Any], client_for) -> None:
    leaf_cert = x509.load_pem_x509_certificate(world["signed"]["certificate"].encode())
    issuer = x509.load_pem_x509_certificate(world["inter"]["certificate"].encode())
    request_der = ocsp.OCSPRequestBuilder().add_certificate(leaf_cert, issuer, hashes.SHA1()).build()

    response = APIClient().post(
        f"/ocsp/{world['inter']['slug']}",
        data=request_der.public_bytes(Encoding.DER),
        content_type="application/ocsp-request",
    )

    assert response.status_code == 200
    assert ocsp.load_der_ocsp_response(response.content).certificate_status == ocsp.OCSPCertStatus.GOOD
    assert KEY.encode() not in response.content
