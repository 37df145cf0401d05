"""CA hierarchies: intermediates, path lengths, validity caps, public URLs, chain and children (SPEC §6, §9)."""

from __future__ import annotations

import subprocess
import threading
from datetime import datetime

import pytest
from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID
from django.db import connection

from certificates.models import CertificateAuthority

URL = "/api/v1/cas/"
FAST = {"key_algorithm": "ecdsa", "key_size": 256}


def create(client, name, parent=None, extra=None, **fields):
    payload = {"name": name, "subject_dn": f"CN={name},O=Acme,C=US", **FAST, **fields}
    if parent is not None:
        payload["parent_ca_id"] = parent["id"]
    return client.post(URL, payload, format="json", **(extra or {}))


def created(client, name, parent=None, **fields):
    response = create(client, name, parent, **fields)
    assert response.status_code == 201, response.json()
    return response.json()


def load(body) -> x509.Certificate:
    return x509.load_pem_x509_certificate(body["certificate"].encode())


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def public_urls(cert: x509.Certificate) -> tuple[str, str, str]:
    cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    by_method = {d.access_method: d.access_location.value for d in aia}
    return (
        cdp[0].full_name[0].value,
        by_method[AuthorityInformationAccessOID.CA_ISSUERS],
        by_method[AuthorityInformationAccessOID.OCSP],
    )


@pytest.fixture
def admin(client_for, admin_a):
    return client_for(admin_a)


def test_three_levels_verify_with_openssl(admin, tmp_path):
    root = created(admin, "Root", path_length=3)
    inter1 = created(admin, "Issuing One", root)
    inter2 = created(admin, "Issuing Two", inter1)

    for name, body in {"root": root, "inter1": inter1, "inter2": inter2}.items():
        (tmp_path / f"{name}.pem").write_text(body["certificate"])
    result = subprocess.run(
        ["openssl", "verify", "-CAfile", "root.pem", "-untrusted", "inter1.pem", "inter2.pem"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode == 0, result.stdout + result.stderr
    assert "inter2.pem: OK" in result.stdout


def test_openssl_refuses_a_chain_without_the_intermediate(admin, tmp_path):
    # The check above can fail: without inter1 there is no path from inter2 to the root.
    root = created(admin, "Root")
    inter1 = created(admin, "Issuing One", root)
    inter2 = created(admin, "Issuing Two", inter1)
    (tmp_path / "root.pem").write_text(root["certificate"])
    (tmp_path / "inter2.pem").write_text(inter2["certificate"])

    result = subprocess.run(
        ["openssl", "verify", "-CAfile", "root.pem", "inter2.pem"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=30,
    )

    assert result.returncode != 0


def test_intermediate_fields_and_signature(admin, admin_a, org_a):
    root = created(admin, "Root")
    inter = created(admin, "Issuing", root)

    assert inter["parent_ca_id"] == root["id"]
    assert inter["is_root"] is False
    assert inter["organization_id"] == org_a.pk
    assert inter["created_by_user_id"] == admin_a.pk
    assert inter["private_key"].startswith("-----BEGIN PRIVATE KEY-----")
    root_cert, cert = load(root), load(inter)
    assert cert.issuer == root_cert.subject
    cert.verify_directly_issued_by(root_cert)
    aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    root_ski = root_cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == root_ski.digest
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    assert ski.value == x509.SubjectKeyIdentifier.from_public_key(cert.public_key())
    basic = cert.extensions.get_extension_for_class(x509.BasicConstraints)
    assert basic.critical and basic.value.ca
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.key_cert_sign and usage.value.crl_sign and usage.value.digital_signature


def test_path_length_counts_down_from_the_parent(admin):
    root = created(admin, "Root", path_length=2)
    inter1 = created(admin, "Issuing One", root)
    inter2 = created(admin, "Issuing Two", inter1)

    assert (root["path_length"], inter1["path_length"], inter2["path_length"]) == (2, 1, 0)
    assert load(inter1).extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 1
    assert load(inter2).extensions.get_extension_for_class(x509.BasicConstraints).value.path_length == 0

    response = create(admin, "Too Deep", inter2)

    assert response.status_code == 400
    assert "parent_ca_id" in response.json()["errors"]
    assert "path length 0" in response.json()["detail"]
    assert not CertificateAuthority.objects.filter(name="Too Deep").exists()


def test_unlimited_parent_gives_unlimited_child_unless_asked(admin):
    root = created(admin, "Root")

    assert created(admin, "Free", root)["path_length"] is None
    assert created(admin, "Bounded", root, path_length=5)["path_length"] == 5


@pytest.mark.parametrize("path_length", [2, 3], ids=["equal", "greater"])
def test_explicit_path_length_must_be_below_the_parent(admin, path_length):
    root = created(admin, "Root", path_length=2)

    response = create(admin, "Issuing", root, path_length=path_length)

    assert response.status_code == 400
    assert "path_length" in response.json()["errors"]
    assert CertificateAuthority.objects.count() == 1


def test_explicit_path_length_below_the_parent_is_kept(admin):
    root = created(admin, "Root", path_length=3)

    assert created(admin, "Issuing", root, path_length=1)["path_length"] == 1


def test_nonexistent_parent_is_refused(admin):
    response = admin.post(
        URL, {"name": "Orphan", "subject_dn": "CN=Orphan", "parent_ca_id": 987654, **FAST}, format="json"
    )

    assert response.status_code == 400
    assert "parent_ca_id" in response.json()["errors"]
    assert not CertificateAuthority.objects.exists()


def test_child_never_outlives_its_parent(admin):
    root = created(admin, "Root", valid_days=30)

    inter = created(admin, "Issuing", root, valid_days=365)

    assert inter["not_after"] == root["not_after"]
    assert load(inter).not_valid_after_utc == load(root).not_valid_after_utc
    assert inter["valid_days"] <= 30
    assert len(inter["warnings"]) == 1
    assert "capped" in inter["warnings"][0]


def test_child_within_its_parent_keeps_its_days_and_has_no_warning(admin):
    root = created(admin, "Root", valid_days=30)

    inter = created(admin, "Issuing", root, valid_days=10)

    assert inter["warnings"] == []
    assert inter["valid_days"] == 10
    assert (parse_time(inter["not_after"]) - parse_time(inter["not_before"])).days == 10


def test_same_default_validity_as_the_parent_is_not_reported_as_capped(admin):
    """Made seconds after its parent with the same days, the child loses seconds, not a day."""
    root = created(admin, "Root", valid_days=30)

    inter = created(admin, "Issuing", root, valid_days=30)

    assert inter["warnings"] == []
    assert inter["valid_days"] == 30
    assert parse_time(inter["not_after"]) <= parse_time(root["not_after"])


def test_the_root_answer_has_no_warnings(admin):
    assert created(admin, "Root")["warnings"] == []


# --- Public URLs embedded in intermediates: parent's crl_base_url, else PUBLIC_BASE_URL, else the request.


def test_urls_use_the_parents_crl_base_url_first(admin, settings):
    settings.PUBLIC_BASE_URL = "https://public.example.com"
    root = created(admin, "Root", crl_base_url="https://crl.acme.test/pki/")

    inter = created(admin, "Issuing", root)

    slug = root["slug"]
    assert public_urls(load(inter)) == (
        f"https://crl.acme.test/pki/crl/{slug}",
        f"https://crl.acme.test/pki/ca/{slug}.crt",
        f"https://crl.acme.test/pki/ocsp/{slug}",
    )


def test_urls_use_the_public_base_url_setting_next(admin, settings):
    settings.PUBLIC_BASE_URL = "https://public.example.com"
    root = created(admin, "Root")
    # The child's own crl_base_url is for its own children, not for its certificate.
    inter = created(admin, "Issuing", root, crl_base_url="https://child.example.com")

    slug = root["slug"]
    assert public_urls(load(inter)) == (
        f"https://public.example.com/crl/{slug}",
        f"https://public.example.com/ca/{slug}.crt",
        f"https://public.example.com/ocsp/{slug}",
    )
    assert inter["crl_base_url"] == "https://child.example.com"


def test_urls_fall_back_to_the_request_scheme_and_host(admin, settings):
    settings.PUBLIC_BASE_URL = ""
    settings.ALLOWED_HOSTS = ["pki.internal.test"]
    root = created(admin, "Root", extra={"HTTP_HOST": "pki.internal.test", "secure": True})

    inter = created(admin, "Issuing", root, extra={"HTTP_HOST": "pki.internal.test", "secure": True})

    slug = root["slug"]
    assert public_urls(load(inter)) == (
        f"https://pki.internal.test/crl/{slug}",
        f"https://pki.internal.test/ca/{slug}.crt",
        f"https://pki.internal.test/ocsp/{slug}",
    )


def test_a_forged_host_never_ends_up_in_a_certificate(admin, settings):
    settings.PUBLIC_BASE_URL = ""
    settings.ALLOWED_HOSTS = ["pki.internal.test"]
    root = created(admin, "Root", extra={"HTTP_HOST": "pki.internal.test"})

    response = create(admin, "Issuing", root, extra={"HTTP_HOST": "evil.example.com"})

    assert response.status_code == 400
    assert not CertificateAuthority.objects.filter(name="Issuing").exists()


def test_the_slug_in_the_urls_serves_the_parent(admin, anon, settings):
    settings.PUBLIC_BASE_URL = ""
    root = created(admin, "Root")
    inter = created(admin, "Issuing", root)

    crl_url, issuer_url, _ = public_urls(load(inter))

    issuer = anon.get(issuer_url.removeprefix("http://testserver"))
    assert issuer.status_code == 200
    assert x509.load_der_x509_certificate(issuer.content) == load(root)
    crl = anon.get(crl_url.removeprefix("http://testserver"))
    assert crl.status_code == 200
    assert x509.load_der_x509_crl(crl.content).issuer == load(root).subject


# --- allow_leaf_certs of the parent


def test_a_child_closes_the_parent_to_leaf_certificates(admin):
    root = created(admin, "Root")
    assert root["allow_leaf_certs"] is True

    created(admin, "Issuing", root)

    assert admin.get(f"{URL}{root['id']}").json()["allow_leaf_certs"] is False


@pytest.mark.parametrize("explicit", [True, False])
def test_an_explicit_allow_leaf_certs_is_left_alone(admin, explicit):
    root = created(admin, "Root", allow_leaf_certs=explicit)

    inter = created(admin, "Issuing", root)

    assert admin.get(f"{URL}{root['id']}").json()["allow_leaf_certs"] is explicit
    assert inter["allow_leaf_certs"] is True


def test_the_child_inherits_the_parents_organization(client_for, superuser, admin_a, org_a, org_b):
    superuser.organization = org_b  # a superuser who happens to belong to another organization
    superuser.save()
    root = created(client_for(admin_a), "Root")

    inter = created(client_for(superuser), "Issuing", root)

    assert inter["organization_id"] == org_a.pk
    assert inter["created_by_user_id"] == superuser.pk
    # ... so the organization's people see the whole chain.
    assert client_for(admin_a).get(f"{URL}{inter['id']}/chain").status_code == 200


# --- chain and children


def test_chain_runs_from_this_ca_up_to_the_root(admin):
    root = created(admin, "Root")
    inter1 = created(admin, "Issuing One", root)
    inter2 = created(admin, "Issuing Two", inter1)

    response = admin.get(f"{URL}{inter2['id']}/chain")

    assert response.status_code == 200
    assert [ca["id"] for ca in response.json()] == [inter2["id"], inter1["id"], root["id"]]
    assert [ca["certificate"] for ca in response.json()] == [
        inter2["certificate"],
        inter1["certificate"],
        root["certificate"],
    ]
    assert b"PRIVATE KEY" not in response.content
    assert [ca["id"] for ca in admin.get(f"{URL}{root['id']}/chain/").json()] == [root["id"]]


def test_children_are_the_direct_children_only(admin):
    root = created(admin, "Root")
    first = created(admin, "First", root)
    second = created(admin, "Second", root)
    created(admin, "Grandchild", first)

    response = admin.get(f"{URL}{root['id']}/children")

    assert response.status_code == 200
    assert [ca["id"] for ca in response.json()] == [first["id"], second["id"]]
    assert b"PRIVATE KEY" not in response.content
    assert [ca["name"] for ca in admin.get(f"{URL}{first['id']}/children/").json()] == ["Grandchild"]
    assert admin.get(f"{URL}{second['id']}/children").json() == []


@pytest.mark.parametrize("route", ["chain", "children"])
def test_chain_and_children_of_another_organization_or_a_missing_ca(client_for, admin_a, admin_b, route):
    root = created(client_for(admin_a), "Root")

    assert client_for(admin_b).get(f"{URL}{root['id']}/{route}").status_code == 403
    assert client_for(admin_a).get(f"{URL}{root['id'] + 1000}/{route}").status_code == 404


@pytest.mark.postgres
@pytest.mark.django_db(transaction=True)
def test_deleting_a_parent_while_a_child_is_made(client_for, admin_a, user_a_capable, on_postgres):
    if not on_postgres:
        pytest.skip("needs PostgreSQL: SQLite serialises writers")
    creator, deleter = client_for(admin_a), client_for(user_a_capable)

    for round_ in range(5):
        parent = created(creator, f"Parent {round_}")
        barrier = threading.Barrier(2)
        statuses: dict[str, int] = {}

        def run(label, call):
            try:
                barrier.wait(timeout=10)
                statuses[label] = call().status_code
            finally:
                connection.close()

        calls = {
            "create": lambda parent=parent: create(creator, f"Child {round_}", parent),
            "delete": lambda parent=parent: deleter.delete(f"{URL}{parent['id']}"),
        }
        threads = [threading.Thread(target=run, args=item) for item in calls.items()]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)

        # Either the child came first (and blocks the delete) or the parent was gone: never a 500.
        assert statuses in ({"create": 201, "delete": 409}, {"create": 400, "delete": 204}), statuses
        parent_left = CertificateAuthority.objects.filter(pk=parent["id"]).exists()
        child = CertificateAuthority.objects.filter(name=f"Child {round_}").first()
        assert parent_left is (child is not None)
        assert child is None or child.parent_id == parent["id"]
