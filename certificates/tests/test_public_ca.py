"""Public CA certificate downloads and the slug rule (SPEC §9): `/ca/{slug}.crt` and `.pem`."""

from __future__ import annotations

import pytest
from cryptography import x509
from django.test import Client

from certificates.models import CertificateAuthority
from certificates.tests.conftest import BAD_SLUGS, cert_of, create_ca, public_path


@pytest.mark.parametrize(
    ("name", "pk", "slug"),
    [
        ("My Root CA", 3, "my-root-ca-3"),
        ("  Acme  Issuing CA 2 ", 17, "acme-issuing-ca-2-17"),
        ("Ünïcödé CA", 5, "unicode-ca-5"),
        ("root_ca.example", 8, "root_caexample-8"),
        ("!!!", 9, "ca-9"),
    ],
    ids=["spec-example", "spaces", "accents", "punctuation", "nothing-sluggable"],
)
def test_slug_is_slugified_name_then_id(name: str, pk: int, slug: str) -> None:
    assert CertificateAuthority(name=name, pk=pk).slug == slug


def test_slug_of_a_saved_ca_uses_its_id(root: CertificateAuthority) -> None:
    assert root.slug == f"my-root-ca-{root.pk}"


def test_der_certificate(public: Client, root: CertificateAuthority) -> None:
    response = public.get(f"/ca/my-root-ca-{root.pk}.crt")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pkix-cert"
    cert = x509.load_der_x509_certificate(response.content)
    assert cert == cert_of(root)


def test_pem_certificate(public: Client, root: CertificateAuthority) -> None:
    response = public.get(f"/ca/{root.slug}.pem")

    assert response.status_code == 200
    assert response.content.decode().startswith("-----BEGIN CERTIFICATE-----")
    assert x509.load_pem_x509_certificate(response.content) == cert_of(root)


def test_intermediate_has_its_own_certificate(public: Client, admin_a, root: CertificateAuthority) -> None:
    inter = create_ca(admin_a, "Issuing CA", parent=root)

    response = public.get(f"/ca/{inter.slug}.crt")

    assert response.status_code == 200
    cert = x509.load_der_x509_certificate(response.content)
    assert cert.serial_number == int(inter.serial_number, 16)
    assert cert.issuer == cert_of(root).subject


def test_no_authentication_needed_and_a_bad_token_is_ignored(root: CertificateAuthority) -> None:
    response = Client(HTTP_AUTHORIZATION="Bearer not-a-token").get(f"/ca/{root.slug}.pem")

    assert response.status_code == 200


NOT_FOUND = [
    *((f"/ca/{slug}.crt", case) for slug, case in BAD_SLUGS),
    ("/ca/other-ca-{id}.pem", "name of another CA, id of this one"),
    ("/ca/my-root-ca-{id}", "no extension"),
    ("/ca/my-root-ca-{id}.der", "unknown extension"),
    ("/ca/my-root-ca-{id}.crt/", "trailing slash"),
    ("/ca/my-root-ca-{id}.crt.pem", "two extensions"),
]


@pytest.mark.parametrize(("template", "case"), NOT_FOUND, ids=[case for _, case in NOT_FOUND])
def test_slug_must_match_exactly(public: Client, admin_a, root: CertificateAuthority, template: str, case: str) -> None:
    path = public_path(template, root, create_ca(admin_a, "Other CA"))

    response = public.get(path)

    assert response.status_code == 404, case
    assert b"CERTIFICATE" not in response.content


@pytest.mark.parametrize("method", ["post", "put", "delete"])
def test_read_only(public: Client, root: CertificateAuthority, method: str) -> None:
    response = getattr(public, method)(f"/ca/{root.slug}.crt")

    assert response.status_code == 405


def test_head_answers_without_body(public: Client, root: CertificateAuthority) -> None:
    response = public.head(f"/ca/{root.slug}.crt")

    assert response.status_code == 200
    assert response["Content-Type"] == "application/pkix-cert"
