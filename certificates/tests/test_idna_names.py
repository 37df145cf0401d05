"""DNS names in certificates follow IDNA 2008 with UTS #46 non-transitional mapping (SPEC §7), on every path."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certificates.models import Certificate
from certificates.tests.conftest import CERTIFICATES_API, certificate_action, issue_by_api
from certificates.x509.tests.helpers import UTF8, csr_with_subject

SIGN = "/api/v1/certificates/sign-csr"


@pytest.fixture(scope="module")
def key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def issue(client, ca, **fields):
    body = {"certificate_type": "server", "key_algorithm": "ecdsa", **fields}
    return client.post(f"{CERTIFICATES_API}?ca_id={ca.pk}", body, format="json")


def sans(response) -> tuple[list[str], list[str]]:
    cert = x509.load_pem_x509_certificate(response.json()["certificate"].encode())
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    return san.get_values_for_type(x509.DNSName), san.get_values_for_type(x509.RFC822Name)


@pytest.mark.parametrize(
    ("fields", "dns", "emails"),
    [
        ({"san_dns_names": ["straße.example"]}, ["xn--strae-oqa.example"], []),  # not strasse.example
        ({"san_dns_names": ["*.BÜCHER.example", "ß.de"]}, ["*.xn--bcher-kva.example", "xn--zca.de"], []),
        ({"common_name": "straße.example"}, ["xn--strae-oqa.example"], []),  # a CN that is a DNS name
        (
            {"certificate_type": "client", "common_name": "ops", "san_email_addresses": ["ops@straße.example"]},
            [],
            ["ops@xn--strae-oqa.example"],
        ),
        ({"certificate_type": "client", "common_name": "ops@Bücher.example"}, [], ["ops@xn--bcher-kva.example"]),
    ],
    ids=["dns-san", "wildcard-and-sharp-s", "common-name", "email-san", "email-common-name"],
)
def test_issue_writes_idna_2008_a_labels(api, ca, fields, dns, emails):
    body = {"common_name": "node", "subject_dn": "O=Acme", **fields}

    response = issue(api, ca, **body)

    assert response.status_code == 201, response.content
    assert sans(response) == (dns, emails)
    assert (response.json()["san_dns_names"], response.json()["san_email_addresses"]) == (dns, emails)


# (request fields, the field the 400 names)
REFUSED = [
    ({"san_dns_names": ["xn--zz.example"]}, "san_dns_names"),  # accepted under IDNA 2003
    ({"san_dns_names": ["a\u200db.example"]}, "san_dns_names"),  # IDNA 2003 dropped the joiner
    ({"san_dns_names": ["💩.example"]}, "san_dns_names"),
    ({"san_dns_names": ["xn--ls8h.example"]}, "san_dns_names"),
    ({"san_dns_names": ["ok.example", "xn---bbk.example"]}, "san_dns_names"),
    ({"common_name": "xn--zz.example"}, "common_name"),
    ({"common_name": "www.a\u200cb.example"}, "common_name"),
    ({"certificate_type": "client", "san_email_addresses": ["ops@xn--zz.example"]}, "san_email_addresses"),
    ({"certificate_type": "client", "common_name": "ops@a\u200db.example"}, "common_name"),
]


@pytest.mark.parametrize(("fields", "field"), REFUSED, ids=[f"{f}-{list(v.values())[-1]!r}" for v, f in REFUSED])
def test_issue_refuses_names_idna_2008_refuses(api, ca, fields, field):
    body = {"common_name": "node", "subject_dn": "O=Acme", **fields}

    response = issue(api, ca, **body)

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    assert not Certificate.objects.exists()


@pytest.mark.parametrize(
    ("csr_names", "overrides", "field"),
    [
        ({"dns": ["xn--zz.example"]}, {}, "san_dns_names"),
        ({"dns": ["ok.example"]}, {"san_dns_names": ["a\u200db.example"]}, "san_dns_names"),
        ({"emails": ["ops@xn--zz.example"]}, {"certificate_type": "client"}, "san_email_addresses"),
        ({}, {"common_name": "xn--zz.example"}, "common_name"),
    ],
    ids=["csr-dns-san", "dns-override", "csr-email-san", "cn-override"],
)
def test_sign_csr_refuses_names_idna_2008_refuses(api, ca, key, csr_names, overrides, field):
    csr = csr_with_subject(key, [[("2.5.4.3", UTF8, b"node")]], **csr_names)
    pem = csr.public_bytes(serialization.Encoding.PEM).decode()

    response = api.post(SIGN, {"csr": pem, "ca_id": ca.pk, **overrides}, format="json")

    assert response.status_code == 400, response.content
    assert field in response.json()["errors"], response.json()
    assert not Certificate.objects.exists()


def test_sign_csr_keeps_a_csr_a_label_and_maps_a_u_label(api, ca, key):
    csr = csr_with_subject(key, [[("2.5.4.3", UTF8, "straße.example".encode())]], dns=["xn--strae-oqa.example"])
    pem = csr.public_bytes(serialization.Encoding.PEM).decode()

    kept = api.post(SIGN, {"csr": pem, "ca_id": ca.pk}, format="json")
    mapped = api.post(SIGN, {"csr": pem, "ca_id": ca.pk, "san_dns_names": ["WWW.Straße.example"]}, format="json")

    assert kept.status_code == mapped.status_code == 201
    assert sans(kept) == (["xn--strae-oqa.example"], [])
    assert sans(mapped) == (["www.xn--strae-oqa.example"], [])


def test_renew_refuses_a_stored_name_idna_2008_refuses(api, ca):
    # A certificate issued while IDNA 2003 was in force may hold such a name: renewing it must not repeat it.
    original = issue_by_api(api, ca, "node.example.com", subject_dn="CN=node.example.com")
    Certificate.objects.filter(pk=original["id"]).update(san_dns_names=["xn--zz.example"])

    response = certificate_action(api, original["id"], "renew")

    assert response.status_code == 400, response.content
    assert "san_dns_names" in response.json()["errors"]
    assert Certificate.objects.count() == 1


def test_renew_keeps_international_names(api, ca):
    original = issue_by_api(api, ca, "straße.example", subject_dn="CN=straße.example")

    response = certificate_action(api, original["id"], "renew")

    assert response.status_code == 201, response.content
    assert sans(response) == (["xn--strae-oqa.example"], [])
