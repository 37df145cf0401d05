"""A CA's crl_base_url (SPEC §6): http(s) with an ASCII or IDNA-encodable host, refused with 400
when the CA is created (API, console and service alike), never later when a child is signed."""

from __future__ import annotations

import re

import pytest
from cryptography import x509
from django.test import Client
from django.urls import reverse

from certificates import services
from certificates import x509 as pki
from certificates.models import CertificateAuthority
from certificates.tests.conftest import FAST_KEY, REQUEST_BASE, create_ca
from pkiserver.errors import Invalid

URL = "/api/v1/cas/"
ADD = reverse("admin:certificates_certificateauthority_add")

REFUSED = {
    "ftp": "ftp://example.com/x",
    "no-scheme": "example.com/pki",
    "non-ascii-host-not-idna": "https://😀.example/pki",
    "bad-a-label": "https://xn--zz.example/pki",
    "underscore-host": "https://crl_1.example.com",
    "userinfo": "https://user:secret@example.com/pki",
    "query": "https://example.com/pki?x=1",
    "non-ascii-path": "https://example.com/prüfung",
    "newline": "https://exa\nmple.com/pki",
}


@pytest.fixture
def no_key_generation(monkeypatch):
    """A refusal comes before the slow part: no key is made for a request that will fail."""

    def forbidden(spec):
        raise AssertionError("a key was generated for a refused request")

    monkeypatch.setattr(pki, "generate_private_key", forbidden)


def _crl_urls(pem: str) -> list[str]:
    cert = x509.load_pem_x509_certificate(pem.encode())
    points = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    return [name.value for point in points for name in point.full_name]


@pytest.mark.parametrize("url", REFUSED.values(), ids=REFUSED.keys())
def test_the_api_refuses_it_at_creation(client_for, admin_a, no_key_generation, url):
    response = client_for(admin_a).post(
        URL, {"name": "Root", "subject_dn": "CN=Root", "crl_base_url": url, **FAST_KEY}, format="json"
    )

    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == ["crl_base_url"]
    assert not CertificateAuthority.objects.exists()


@pytest.mark.parametrize("url", REFUSED.values(), ids=REFUSED.keys())
def test_the_service_refuses_it_before_making_a_key(admin_a, no_key_generation, url):
    # The seam every entry point shares (API, console, management commands).
    data = services.CARequest(name="Root", subject_dn="CN=Root", crl_base_url=url, **FAST_KEY)

    with pytest.raises(Invalid) as refused:
        services.ca_create(actor=admin_a, data=data, request_base=REQUEST_BASE)

    assert refused.value.field == "crl_base_url"
    assert not CertificateAuthority.objects.exists()


def test_an_internationalised_host_is_stored_as_its_a_label_and_children_are_signed(client_for, admin_a):
    client = client_for(admin_a)

    root = client.post(
        URL,
        {"name": "Root", "subject_dn": "CN=Root", "crl_base_url": "https://Bücher.example/pki/", **FAST_KEY},
        format="json",
    )
    child = client.post(
        URL,
        {"name": "Issuing", "subject_dn": "CN=Issuing", "parent_ca_id": root.json()["id"], **FAST_KEY},
        format="json",
    )

    assert root.status_code == 201, root.content
    assert root.json()["crl_base_url"] == "https://xn--bcher-kva.example/pki/"
    assert child.status_code == 201, child.content
    assert _crl_urls(child.json()["certificate"]) == [f"https://xn--bcher-kva.example/pki/crl/{root.json()['slug']}"]


def test_a_parent_stored_with_a_bad_url_before_the_check_answers_400_not_500(client_for, admin_a):
    # Rows written before this check existed: signing under them is refused as bad input, not a crash.
    root = create_ca(admin_a, "Old Root")
    CertificateAuthority.objects.filter(pk=root.pk).update(crl_base_url="ftp://old.example.com/x")

    response = client_for(admin_a).post(
        URL, {"name": "Issuing", "subject_dn": "CN=Issuing", "parent_ca_id": root.pk, **FAST_KEY}, format="json"
    )

    assert response.status_code == 400, response.content
    assert list(response.json()["errors"]) == ["crl_base_url"]
    assert not CertificateAuthority.objects.filter(name="Issuing").exists()


# --- the admin console's add form, through the same check ---------------------------------------


def console(user) -> Client:
    client = Client()
    client.force_login(user)
    return client


def new_ca(**fields: str) -> dict[str, str]:
    return {
        "name": "Console Root",
        "subject_dn": "CN=Console Root",
        "key_algorithm": "ecdsa",
        "key_size": "256",
    } | fields


@pytest.mark.parametrize("url", REFUSED.values(), ids=REFUSED.keys())
def test_the_console_refuses_it_as_a_form_error(admin_a, no_key_generation, url):
    response = console(admin_a).post(ADD, new_ca(crl_base_url=url))

    body = response.content.decode()
    assert response.status_code == 200
    assert re.search(r'field-crl_base_url[^"]*">.*?<ul class="errorlist', body, re.S), body[:2000]
    assert not CertificateAuthority.objects.exists()


def test_the_console_stores_the_a_label_and_signs_children_under_it(admin_a):
    client = console(admin_a)

    made = client.post(ADD, new_ca(crl_base_url="https://bücher.example/pki"))
    root = CertificateAuthority.objects.get(name="Console Root")
    child = client.post(ADD, new_ca(name="Console Issuing", subject_dn="CN=Console Issuing", parent=str(root.pk)))

    assert made.status_code == 302 and child.status_code == 302, child.content.decode()[:2000]
    assert root.crl_base_url == "https://xn--bcher-kva.example/pki"
    issuing = CertificateAuthority.objects.get(name="Console Issuing")
    assert _crl_urls(issuing.certificate) == [f"https://xn--bcher-kva.example/pki/crl/{root.slug}"]


def test_the_console_refuses_a_child_of_a_parent_stored_with_a_bad_url(admin_a):
    root = create_ca(admin_a, "Old Root")
    CertificateAuthority.objects.filter(pk=root.pk).update(crl_base_url="ftp://old.example.com/x")

    response = console(admin_a).post(ADD, new_ca(name="Console Issuing", subject_dn="CN=I", parent=str(root.pk)))

    assert response.status_code == 200
    assert "crl_base_url: " in response.content.decode()
    assert not CertificateAuthority.objects.filter(name="Console Issuing").exists()
