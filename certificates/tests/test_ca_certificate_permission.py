"""A certificate with CA:TRUE is a subordinate CA (SPEC §5): issuing, signing or renewing one needs
the CA-creation permission as well as the certificate one, whatever the route."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from audit.models import AuditLog
from certificates.models import Certificate
from certificates.tests.conftest import FAST_KEY, create_ca
from serviceaccounts.tests.conftest import make_account, set_policy, token_client
from tests.factories import UserFactory

API = "/api/v1/certificates/"
SUB_CA = {"common_name": "Sub CA", "subject_dn": "CN=Sub CA,O=Acme", "certificate_type": "ca", **FAST_KEY}


def csr_pem(common_name: str = "Sub CA") -> str:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)]))
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.PEM).decode()


@pytest.fixture
def root(admin_a):
    return create_ca(admin_a, "Perm Root")


@pytest.fixture
def cert_only(org_a):
    return UserFactory(username="certonly", organization=org_a, can_create_cert=True)


@pytest.fixture
def ca_only(org_a):
    return UserFactory(username="caonly", organization=org_a, can_create_ca=True)


@pytest.fixture
def both(org_a):
    return UserFactory(username="both", organization=org_a, can_create_cert=True, can_create_ca=True)


def issue(client, root, body):
    return client.post(f"{API}?ca_id={root.pk}", body, format="json")


def sign(client, root, **extra):
    return client.post(
        f"{API}sign-csr", {"csr": csr_pem(), "certificate_type": "ca", "ca_id": root.pk, **extra}, format="json"
    )


def sign_by_name(client, root):
    return client.post(
        f"{API}sign-csr", {"csr": csr_pem(), "certificate_type": "ca", "ca_name": root.name}, format="json"
    )


def renew(client, cert_id):
    return client.post(f"{API}{cert_id}/renew", {}, format="json")


ROUTES = ["issue", "sign-csr", "sign-csr by name", "renew"]


def attempt(client, route, root, ca_cert_id):
    if route == "issue":
        return issue(client, root, SUB_CA)
    if route == "sign-csr":
        return sign(client, root)
    if route == "sign-csr by name":
        return sign_by_name(client, root)
    return renew(client, ca_cert_id)


@pytest.fixture
def existing_ca_cert(client_for, admin_a, root):
    response = issue(client_for(admin_a), root, SUB_CA)
    assert response.status_code == 201, response.json()
    return response.json()["id"]


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("who", ["cert_only", "ca_only", "user_a", "admin_b", "user_b"])
def test_ca_true_needs_both_permissions(request, client_for, root, existing_ca_cert, route, who):
    actor = request.getfixturevalue(who)
    count = Certificate.objects.count()

    response = attempt(client_for(actor), route, root, existing_ca_cert)

    # A name is looked up in the caller's own organization: another organization's CA is not found.
    expected = 404 if route == "sign-csr by name" and who in ("admin_b", "user_b") else 403
    assert response.status_code == expected, response.json()
    assert Certificate.objects.count() == count


@pytest.mark.parametrize("route", ROUTES)
@pytest.mark.parametrize("who", ["both", "admin_a", "superuser"])
def test_ca_true_with_both_permissions(request, client_for, root, existing_ca_cert, route, who, tmp_path):
    actor = request.getfixturevalue(who)

    response = attempt(client_for(actor), route, root, existing_ca_cert)

    assert response.status_code == 201, response.json()
    made = x509.load_pem_x509_certificate(response.json()["certificate"].encode())
    assert made.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is True
    entry = AuditLog.objects.filter(resource_type="certificate", resource_id=response.json()["id"]).get()
    assert "CA certificate (CA:TRUE" in entry.detail


@pytest.mark.parametrize("certificate_type", ["server", "client", "dual_purpose"])
def test_leaves_need_only_the_certificate_permission(client_for, cert_only, root, certificate_type):
    cn = "someone@example.com" if certificate_type == "client" else "leaf.example.com"
    body = {"common_name": cn, "subject_dn": f"CN={cn}", "certificate_type": certificate_type, **FAST_KEY}

    response = issue(client_for(cert_only), root, body)

    assert response.status_code == 201, response.json()
    made = x509.load_pem_x509_certificate(response.json()["certificate"].encode())
    assert made.extensions.get_extension_for_class(x509.BasicConstraints).value.ca is False


def test_cert_only_cannot_renew_a_leaf_into_a_ca(client_for, cert_only, root, existing_ca_cert):
    # The original is a CA certificate: renewing it makes another, so it needs both permissions.
    response = renew(client_for(cert_only), existing_ca_cert)

    assert response.status_code == 403


# --- service accounts: `ca` in the policy's types and the account's own can_create_ca ---------------


SA_CA_POLICY = {
    "cn_patterns": ["Sub CA"],
    "san_dns_patterns": [],
    "san_ip_cidrs": [],
    "san_email_domains": [],
    "max_validity_days": 365,
}


@pytest.mark.parametrize(
    ("types", "can_create_ca", "status"),
    [
        (["server"], False, 403),
        (["server"], True, 403),
        (["server", "ca"], False, 403),
        (["server", "ca"], True, 201),
    ],
    ids=["no-type-no-flag", "flag-only", "type-only", "type-and-flag"],
)
@pytest.mark.parametrize("route", ["issue", "sign-csr"])
def test_service_account_needs_ca_in_its_policy_and_its_flag(org_a, root, types, can_create_ca, status, route):
    account = make_account(org_a, "robot", can_create_cert=True, can_create_ca=can_create_ca)
    set_policy(account, **SA_CA_POLICY, allowed_ca_ids=[root.pk], allowed_certificate_types=types)
    client = token_client(account)
    count = Certificate.objects.count()

    response = issue(client, root, {**SUB_CA, "valid_days": 30}) if route == "issue" else sign(client, root)

    assert response.status_code == status, response.json()
    assert Certificate.objects.count() == count + (status == 201)
