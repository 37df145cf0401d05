"""`POST /api/v1/export/certificate/{id}/pkcs12`: the PKCS#12 password in the body, not the URL (SPEC §8)."""

from __future__ import annotations

import json

import pytest
from cryptography.hazmat.primitives.serialization import pkcs12

from audit.models import AuditLog
from certificates.tests.conftest import cert_of, issue_certificate
from tests.factories import UserFactory

EXPORT = "/api/v1/export/certificate"
PASSWORD = "correct horse, battery staple"


def key_exports() -> int:
    return AuditLog.objects.filter(action="cert_export_private_key").count()


def post_pkcs12(client, cert_id: int, body: object, *, slash: str = ""):
    return client.post(f"{EXPORT}/{cert_id}/pkcs12{slash}", body, format="json")


@pytest.mark.parametrize("slash", ["", "/"])
def test_the_bundle_opens_with_the_password_from_the_body(api, admin_a, cert_a, root_a, slash):
    response = post_pkcs12(api, cert_a.pk, {"password": PASSWORD}, slash=slash)

    assert response.status_code == 200, response.content
    assert response["Content-Type"] == "application/x-pkcs12"
    assert response["Content-Disposition"] == f'attachment; filename="certificate_{cert_a.pk}.p12"'
    assert response["Cache-Control"] == "no-store"
    bundle = pkcs12.load_pkcs12(response.content, PASSWORD.encode())
    assert bundle.cert is not None and bundle.key is not None
    assert bundle.cert.certificate == cert_of(cert_a)
    assert bundle.key.public_key() == cert_of(cert_a).public_key()
    assert [c.certificate for c in bundle.additional_certs] == [cert_of(root_a)]
    entry = AuditLog.objects.get(action="cert_export_private_key")
    assert (entry.resource_type, entry.resource_id) == ("certificate", cert_a.pk)
    assert (entry.user_id, entry.organization_id) == (admin_a.pk, admin_a.organization_id)
    assert "PKCS#12" in entry.detail


@pytest.mark.parametrize("wrong", [b"wrong", PASSWORD.upper().encode(), PASSWORD[:-1].encode(), None])
def test_the_bundle_does_not_open_without_the_password(api, cert_a, wrong):
    response = post_pkcs12(api, cert_a.pk, {"password": PASSWORD})

    assert response.status_code == 200, response.content
    with pytest.raises(ValueError):
        pkcs12.load_pkcs12(response.content, wrong)


def test_spaces_around_the_password_are_part_of_it(api, cert_a):
    response = post_pkcs12(api, cert_a.pk, {"password": "  padded  "})

    assert pkcs12.load_pkcs12(response.content, b"  padded  ").key is not None
    with pytest.raises(ValueError):
        pkcs12.load_pkcs12(response.content, b"padded")


@pytest.mark.parametrize("body", [{}, {"password": ""}, {"password": None}], ids=["absent", "empty", "null"])
def test_no_password_gives_an_unencrypted_bundle_as_get_does(api, cert_a, body):
    response = post_pkcs12(api, cert_a.pk, body)

    assert response.status_code == 200, response.content
    assert pkcs12.load_pkcs12(response.content, None).key is not None
    assert key_exports() == 1


# persona, status: the key permission, in the certificate's organization (as the GET form).
WHO_MAY = [
    ("superuser", 200),
    ("admin_a", 200),
    ("user_a_capable", 200),
    ("user_a", 403),  # same organization, no can_export_private_key
    ("admin_b", 403),  # another organization's admin
    ("user_b", 403),
]


@pytest.mark.parametrize(("persona", "expected"), WHO_MAY, ids=[p for p, _ in WHO_MAY])
def test_who_may_post(request, client_for, cert_a, persona, expected):
    client = client_for(request.getfixturevalue(persona))

    response = post_pkcs12(client, cert_a.pk, {"password": PASSWORD})
    by_get = client.get(f"{EXPORT}/{cert_a.pk}/pkcs12", {"password": PASSWORD})

    assert (response.status_code, by_get.status_code) == (expected, expected)
    assert key_exports() == (2 if expected == 200 else 0)
    if expected == 200:
        assert pkcs12.load_pkcs12(response.content, PASSWORD.encode()).key is not None
    else:
        assert response.json()["detail"]
        assert b"PRIVATE KEY" not in response.content


def test_a_capable_user_of_another_organization_is_refused(client_for, cert_a, org_b):
    outsider = UserFactory(username="outsider", organization=org_b, can_export_private_key=True)

    response = post_pkcs12(client_for(outsider), cert_a.pk, {"password": PASSWORD})

    assert response.status_code == 403
    assert key_exports() == 0


def test_anonymous_is_401(anon, cert_a):
    response = post_pkcs12(anon, cert_a.pk, {"password": PASSWORD})

    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")


def test_missing_certificate_is_404(api, db):
    assert post_pkcs12(api, 999999, {"password": PASSWORD}).status_code == 404


def test_certificate_without_a_stored_key_is_404(api, admin_a, root_a):
    keyless = issue_certificate(admin_a, root_a, "keyless.example.com", include_private_key=False)

    assert post_pkcs12(api, keyless.pk, {"password": PASSWORD}).status_code == 404
    assert key_exports() == 0


def test_a_password_of_1024_characters_is_accepted(api, cert_a):
    response = post_pkcs12(api, cert_a.pk, {"password": "p" * 1024})

    assert response.status_code == 200
    assert pkcs12.load_pkcs12(response.content, b"p" * 1024).key is not None


BAD_BODIES = {
    "too-long": json.dumps({"password": "p" * 1025}),
    "number-list": json.dumps({"password": ["secret"]}),
    "object": json.dumps({"password": {"value": "secret"}}),
    "nul-byte": json.dumps({"password": "se\u0000cret"}),
    "lone-surrogate": '{"password": "se\\ud800cret"}',
    "array-body": json.dumps(["secret"]),
    "string-body": json.dumps("secret"),
    "not-json": "password=secret",
}


@pytest.mark.parametrize("body", BAD_BODIES.values(), ids=BAD_BODIES.keys())
def test_bad_bodies_are_400_and_export_nothing(api, cert_a, body):
    response = api.post(f"{EXPORT}/{cert_a.pk}/pkcs12", body, content_type="application/json")

    assert response.status_code == 400, response.content
    assert response.json()["detail"]
    assert key_exports() == 0


def test_too_long_password_names_the_field(api, cert_a):
    response = post_pkcs12(api, cert_a.pk, {"password": "p" * 1025})

    assert response.status_code == 400
    assert "password" in response.json()["errors"]


def test_the_openapi_schema_documents_the_post_form(api):
    schema = api.get("/api/v1/openapi.json").json()

    operation = schema["paths"]["/api/v1/export/certificate/{id}/pkcs12/"]["post"]
    body = operation["requestBody"]["content"]["application/json"]["schema"]
    ref = body["$ref"].rsplit("/", 1)[-1]
    assert schema["components"]["schemas"][ref]["properties"]["password"]["maxLength"] == 1024
    assert "application/x-pkcs12" in operation["responses"]["200"]["content"]
