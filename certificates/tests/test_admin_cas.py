"""CAs in the admin console: the add form over ca_create, hierarchy, downloads, refused deletes (SPEC §6, §14)."""

from __future__ import annotations

import re
from typing import Any

import pytest
from cryptography import x509
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import User
from audit.models import AuditAction, AuditLog
from certificates.models import Certificate, CertificateAuthority
from certificates.tests.conftest import create_ca, issue_certificate

ADD = reverse("admin:certificates_certificateauthority_add")
CHANGELIST = reverse("admin:certificates_certificateauthority_changelist")


def console(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def url(view: str, ca: CertificateAuthority) -> str:
    return reverse(f"admin:certificates_certificateauthority_{view}", args=[ca.pk])


def new_ca(**fields: Any) -> dict[str, Any]:
    return {"name": "Console Root", "subject_dn": "CN=Console Root,O=Test,C=US", "key_algorithm": "ecdsa"} | {
        "key_size": "256",
        **fields,
    }


def assert_no_private_key(*responses: Any) -> None:
    for response in responses:
        body = b"".join(response) if response.streaming else response.content
        assert b"PRIVATE KEY" not in body


# --- adding -----------------------------------------------------------------------------------


def test_a_root_ca_is_made_by_ca_create(admin_a) -> None:
    client = console(admin_a)

    page = client.get(ADD)
    response = client.post(ADD, new_ca())

    ca = CertificateAuthority.objects.get(name="Console Root")
    assert page.status_code == 200
    assert response.status_code == 302 and response["Location"] == url("change", ca)
    assert (ca.parent, ca.organization_id, ca.created_by_user_id, ca.key_algorithm) == (
        None, admin_a.organization_id, admin_a.pk, "ecdsa",
    )  # fmt: skip
    assert (
        x509.load_pem_x509_certificate(ca.certificate.encode()).subject.rfc4514_string()
        == "CN=Console Root,O=Test,C=US"
    )
    assert AuditLog.objects.get(action=AuditAction.CA_CREATE).username == "alice_admin"
    followed = client.get(response["Location"])
    assert "The root CA “Console Root” was created." in followed.content.decode()
    assert_no_private_key(page, response, followed)


def test_an_intermediate_takes_the_parents_leaf_certificates_away(admin_a) -> None:
    root = create_ca(admin_a, "Root A")

    response = console(admin_a).post(ADD, new_ca(name="Issuing A", subject_dn="CN=Issuing A", parent=root.pk))

    inter = CertificateAuthority.objects.get(name="Issuing A")
    assert response.status_code == 302
    assert inter.parent_id == root.pk and inter.path_length is None
    assert CertificateAuthority.objects.get(pk=root.pk).allow_leaf_certs is False
    cert = x509.load_pem_x509_certificate(inter.certificate.encode())
    assert cert.issuer.rfc4514_string() == "CN=Root A,O=Test,C=US"


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"subject_dn": "not a DN"}, "subject_dn", ""),
        ({"name": "Root A"}, "name", "already exists"),
        ({"key_algorithm": "ecdsa", "key_size": "255"}, "key_size", ""),
        ({"valid_days": "0"}, "valid_days", "greater than or equal to 1"),
        ({"parent": "zero"}, "parent", "path length 0"),
    ],
    ids=["bad-dn", "duplicate-name", "bad-curve", "no-days", "parent-path-length-0"],
)
def test_refusals_are_form_errors_and_nothing_is_made(
    admin_a, fields: dict[str, str], field: str, message: str
) -> None:
    create_ca(admin_a, "Root A")
    zero = create_ca(admin_a, "Zero", path_length=0)
    fields = {name: str(zero.pk) if value == "zero" else value for name, value in fields.items()}
    count = CertificateAuthority.objects.count()

    response = console(admin_a).post(ADD, new_ca(**fields))

    body = response.content.decode()
    assert response.status_code == 200
    errors = re.search(
        rf'<div class="[^"]*field-{field}[^"]*">.*?<ul class="errorlist[^"]*"[^>]*>(.*?)</ul>', body, re.S
    )
    assert errors, body[body.find("errornote") : body.find("errornote") + 500]
    assert message in errors.group(1)
    assert CertificateAuthority.objects.count() == count


def test_an_admin_cannot_pick_another_organizations_parent(admin_a, admin_b) -> None:
    theirs = create_ca(admin_b, "Root B")

    page = console(admin_a).get(ADD).content.decode()
    response = console(admin_a).post(ADD, new_ca(parent=theirs.pk))

    assert "Root B" not in page
    assert "Select a valid choice" in response.content.decode()
    assert not CertificateAuthority.objects.filter(name="Console Root").exists()


def test_a_capped_validity_is_reported(admin_a) -> None:
    root = create_ca(admin_a, "Short Root", valid_days=10)
    client = console(admin_a)

    response = client.post(ADD, new_ca(name="Long", subject_dn="CN=Long", parent=root.pk, valid_days="365"))

    assert "capped: the CA would outlive its issuing CA" in client.get(response["Location"]).content.decode()


# --- the list and the page --------------------------------------------------------------------


@pytest.fixture
def hierarchy(admin_a) -> dict[str, CertificateAuthority]:
    root = create_ca(admin_a, "Root A")
    inter = create_ca(admin_a, "Issuing A", parent=root)
    leaf_ca = create_ca(admin_a, "Team A", parent=inter)
    for name in ("one.example.com", "two.example.com"):
        issue_certificate(admin_a, leaf_ca, name)
    return {"root": root, "inter": inter, "team": leaf_ca}


def row_of(body: str, name: str) -> list[str]:
    table = body[body.index('id="result_list"') :]
    row = re.search(rf"<tr>(?:(?!</tr>).)*?{re.escape(name)}</span></a>.*?</tr>", table, re.S)
    assert row, name
    return [
        re.sub(r"<[^>]+>", "", cell).strip() for cell in re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row.group(0), re.S)
    ]


@pytest.mark.parametrize(
    ("name", "parent", "depth", "children", "certificates"),
    [("Root A", "-", "0", "1", "0"), ("Issuing A", "Root A", "1", "1", "0"), ("Team A", "Issuing A", "2", "0", "2")],
)
def test_the_list_shows_the_hierarchy(superuser, hierarchy, name, parent, depth, children, certificates) -> None:
    cells = row_of(console(superuser).get(CHANGELIST).content.decode(), name)

    assert cells[1].endswith(name)
    assert cells[2:6] == [parent, depth, children, certificates]


def test_the_list_costs_the_same_queries_however_many_cas(superuser, admin_a, hierarchy) -> None:
    client = console(superuser)
    client.get(CHANGELIST)

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert client.get(CHANGELIST).status_code == 200
        return len(captured)

    few = queries()
    parent = hierarchy["team"]
    for i in range(4):
        parent = create_ca(admin_a, f"Deeper {i}", parent=parent)
        issue_certificate(admin_a, parent, f"deep{i}.example.com")
    assert queries() == few


def test_the_page_shows_chain_children_validity_and_links(admin_a, hierarchy) -> None:
    inter = hierarchy["inter"]

    body = console(admin_a).get(url("change", inter)).content.decode()

    assert "Root A → Issuing A" in body
    assert url("change", hierarchy["team"]) in body  # its child
    assert "days left" in body
    assert f"/crl/{inter.slug}" in body and url("certificate", inter) in body and url("chain", inter) in body
    assert "PRIVATE KEY" not in body


def test_the_page_shows_the_acme_settings(admin_a, hierarchy) -> None:
    inter = hierarchy["inter"]
    CertificateAuthority.objects.filter(pk=inter.pk).update(acme_enabled=True, acme_max_validity_days=47)

    body = console(admin_a).get(url("change", inter)).content.decode()

    assert "ACME (turned on and off by the list" in body
    assert "Acme max validity days" in body and "47" in body


# --- downloads --------------------------------------------------------------------------------


def pem_certificates(response: Any) -> list[x509.Certificate]:
    assert response["Content-Disposition"].startswith("attachment; filename=")
    return x509.load_pem_x509_certificates(response.content)


def test_certificate_and_chain_downloads(admin_a, hierarchy) -> None:
    client = console(admin_a)
    team = hierarchy["team"]

    certificate = client.get(url("certificate", team))
    chain = client.get(url("chain", team))

    assert [c.subject.rfc4514_string() for c in pem_certificates(certificate)] == ["CN=Team A,O=Test,C=US"]
    assert [c.subject.rfc4514_string().split(",")[0] for c in pem_certificates(chain)] == [
        "CN=Team A", "CN=Issuing A", "CN=Root A",
    ]  # fmt: skip
    assert_no_private_key(certificate, chain)


def test_bulk_download_actions(admin_a, hierarchy) -> None:
    ids = [str(hierarchy["root"].pk), str(hierarchy["team"].pk)]
    client = console(admin_a)

    pem = client.post(CHANGELIST, {"action": "download_pem", "_selected_action": ids})
    chains = client.post(CHANGELIST, {"action": "download_chain", "_selected_action": ids})

    assert len(pem_certificates(pem)) == 2
    assert len(pem_certificates(chains)) == 1 + 3
    assert_no_private_key(pem, chains)


def test_another_organizations_downloads_are_not_found(admin_b, hierarchy) -> None:
    client = console(admin_b)

    for view in ("certificate", "chain"):
        assert client.get(url(view, hierarchy["root"])).status_code == 404


# --- deleting ---------------------------------------------------------------------------------


def test_a_ca_with_children_is_not_deleted(admin_a, hierarchy) -> None:
    client = console(admin_a)
    inter = hierarchy["inter"]

    page = client.get(url("delete", inter))
    response = client.post(url("delete", inter), {"post": "yes"})

    assert "1 child CA(s): those must be deleted first" in page.content.decode()
    assert response["Location"] == url("change", inter)
    assert "has 1 child CA(s); delete them first." in client.get(response["Location"]).content.decode()
    assert CertificateAuthority.objects.filter(pk=inter.pk).exists()
    assert not AuditLog.objects.filter(action=AuditAction.CA_DELETE).exists()


def test_a_ca_without_children_goes_with_its_certificates(admin_a, hierarchy) -> None:
    team = hierarchy["team"]

    page = console(admin_a).get(url("delete", team))
    response = console(admin_a).post(url("delete", team), {"post": "yes"})

    assert "2 certificate(s) it issued" in page.content.decode()
    assert response["Location"] == CHANGELIST
    assert not CertificateAuthority.objects.filter(pk=team.pk).exists()
    assert not Certificate.objects.filter(issuer_id=team.pk).exists()
    assert AuditLog.objects.get(action=AuditAction.CA_DELETE).resource_id == team.pk


def test_a_ca_is_never_edited(superuser, hierarchy) -> None:
    response = console(superuser).post(url("change", hierarchy["root"]), {"name": "renamed"})

    assert response.status_code == 403
    assert CertificateAuthority.objects.get(pk=hierarchy["root"].pk).name == "Root A"


# --- revoking an intermediate from the console (SPEC §6, §14) -------------------------------------


def _revoke_form(*cas: CertificateAuthority, **fields: str) -> dict[str, Any]:
    return {"action": "revoke_at_parent", "_selected_action": [str(ca.pk) for ca in cas], **fields}


def test_the_console_revokes_an_intermediate_at_its_parent(admin_a) -> None:
    root = create_ca(admin_a, "Console Root")
    inter = create_ca(admin_a, "Console Inter", parent=root)
    client = console(admin_a)

    asked = client.post(CHANGELIST, _revoke_form(inter))
    done = client.post(CHANGELIST, _revoke_form(inter, confirm="yes", reason="ca_compromise", comment="HSM lost"))

    assert asked.status_code == 200 and "Console Inter" in asked.content.decode()
    assert 'value="certificate_hold"' not in asked.content.decode()
    assert done.status_code == 302
    inter.refresh_from_db()
    assert inter.revocation_reason == "ca_compromise: HSM lost"
    record = Certificate.objects.get(issuer=root, serial_number=inter.serial_number)
    assert record.revocation_reason_code == 2
    assert AuditLog.objects.filter(action=AuditAction.CA_REVOKE, resource_id=inter.pk).exists()


def test_the_console_reports_a_root_it_cannot_revoke(admin_a) -> None:
    root = create_ca(admin_a, "Console Root")
    client = console(admin_a)

    client.post(CHANGELIST, _revoke_form(root, confirm="yes", reason="superseded"))

    root.refresh_from_db()
    assert root.revoked_at is None
    assert "has no issuer to revoke it" in client.get(CHANGELIST).content.decode()


def test_another_organizations_admin_cannot_revoke_through_the_console(admin_a, admin_b) -> None:
    root = create_ca(admin_a, "Console Root")
    inter = create_ca(admin_a, "Console Inter", parent=root)

    console(admin_b).post(CHANGELIST, _revoke_form(inter, confirm="yes", reason="superseded"))

    inter.refresh_from_db()
    assert inter.revoked_at is None
    assert not AuditLog.objects.filter(action=AuditAction.CA_REVOKE).exists()
