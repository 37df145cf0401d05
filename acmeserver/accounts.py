"""ACME accounts (RFC 8555 §7.3): registration with its external account binding, update and
deactivation."""

from __future__ import annotations

import base64
from collections.abc import Callable
from typing import Any

import josepy as jose
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.policy import Action, can
from acmeserver import protocol
from acmeserver.models import AcmeAccount, EabCredential
from acmeserver.problems import AcmeProblem, malformed, unauthorized
from audit.models import AuditAction
from audit.services import audit_record
from certificates import keystore
from certificates.models import CertificateAuthority

MAX_CONTACTS = 10


def thumbprint(jwk: jose.JWK) -> str:
    return jose.encode_b64jose(jwk.thumbprint())


def contacts(value: Any) -> list[str]:
    """`mailto:` addresses only (RFC 8555 §7.3: a server may refuse other schemes)."""
    if value is None:
        return []
    if not isinstance(value, list) or len(value) > MAX_CONTACTS:
        raise malformed(f"contact is a list of at most {MAX_CONTACTS} URLs.")
    for item in value:
        if not isinstance(item, str) or not item.startswith("mailto:"):
            raise AcmeProblem("unsupportedContact", f"Only mailto: contacts are supported, not {item!r}.")
        address = item.removeprefix("mailto:")
        if address.count("@") != 1 or "," in address or "?" in address or len(address) > 254:
            raise AcmeProblem("invalidContact", f"{item!r} is not one mailto: address.")
    return list(value)


def usable(account: AcmeAccount) -> AcmeAccount:
    """`account`, unless it was deactivated or its service account is disabled (unauthorized)."""
    if account.status != AcmeAccount.Status.VALID:
        raise unauthorized("This account has been deactivated.")
    if account.service_account is not None and not account.service_account.is_active:
        raise unauthorized("This account's service account is disabled.")
    return account


def register(
    *, ca: CertificateAuthority, jwk: jose.JWK, payload: dict[str, Any], new_account_url: str,
    account_url: Callable[[AcmeAccount], str],
) -> tuple[AcmeAccount, bool]:  # fmt: skip
    """The account of `jwk` under `ca`, and whether it was made now (RFC 8555 §7.3, §7.3.1)."""
    existing = AcmeAccount.objects.select_related("service_account").filter(ca=ca, thumbprint=thumbprint(jwk)).first()
    if existing is not None:
        return usable(existing), False
    if payload.get("onlyReturnExisting") is True:
        raise AcmeProblem("accountDoesNotExist", "No account has this key.")
    try:
        return _create(ca, jwk, payload, new_account_url, account_url), True
    except IntegrityError:  # the same key registered by a concurrent request: that account
        return AcmeAccount.objects.get(ca=ca, thumbprint=thumbprint(jwk)), False


@transaction.atomic
def _create(
    ca: CertificateAuthority, jwk: jose.JWK, payload: dict[str, Any], new_account_url: str,
    account_url: Callable[[AcmeAccount], str],
) -> AcmeAccount:  # fmt: skip
    contact = contacts(payload.get("contact"))
    binding = payload.get("externalAccountBinding")
    credential = None
    if binding is not None:
        found: list[EabCredential] = []

        def hmac_key(kid: str) -> bytes:
            found.append(_usable_credential(ca, kid))
            key = keystore.decrypt(found[0].hmac_key)
            return base64.urlsafe_b64decode(key + "=" * (-len(key) % 4))

        protocol.check_binding(binding, url=new_account_url, account_jwk=jwk, hmac_key=hmac_key)
        credential = found[0]
    elif ca.acme_eab_required:
        raise AcmeProblem("externalAccountRequired", "This CA needs an external account binding (ask its admin).")
    account = AcmeAccount.objects.create(
        ca=ca, thumbprint=thumbprint(jwk), jwk=jwk.to_partial_json(), contact=contact,
        service_account=credential.service_account if credential else None,
    )  # fmt: skip
    if credential is not None:
        credential.used_at, credential.account_url = timezone.now(), account_url(account)
        credential.save(update_fields=["used_at", "account_url"])
    audit_record(
        action=AuditAction.ACME_ACCOUNT_CREATE, actor=account.service_account, target=account,
        detail=f"registered ACME account {account_url(account)} at CA {ca.name}"
        + (f" with binding {credential.kid}" if credential else " without a binding"),
    )  # fmt: skip
    return account


def _usable_credential(ca: CertificateAuthority, kid: str) -> EabCredential:
    credential = EabCredential.objects.select_for_update().select_related("service_account").filter(kid=kid).first()
    if credential is None or credential.revoked_at is not None or credential.used_at is not None:
        raise unauthorized("The external account binding is unknown, revoked or used already.")
    # A member of the CA's organization, not disabled: what the policy calls seeing the CA.
    if not can(credential.service_account, Action.CA_VIEW, ca):
        raise unauthorized("The external account binding's service account may not use this CA.")
    return credential


@transaction.atomic
def change_key(*, account: AcmeAccount, new_key: jose.JWK, account_url: Callable[[AcmeAccount], str]) -> AcmeAccount:
    """Roll the account over to `new_key`; 409 (naming that account) when another account of the
    CA has it already."""
    taken = AcmeAccount.objects.filter(ca_id=account.ca_id, thumbprint=thumbprint(new_key)).exclude(pk=account.pk)
    other = taken.first()
    if other is not None:
        raise AcmeProblem("malformed", "Another account has this key.", 409, location=account_url(other))
    account.jwk, account.thumbprint = new_key.to_partial_json(), thumbprint(new_key)
    account.save(update_fields=["jwk", "thumbprint"])
    return account


@transaction.atomic
def update(*, account: AcmeAccount, payload: dict[str, Any], url: str) -> AcmeAccount:
    """A POST to the account URL: its contacts, or its deactivation (RFC 8555 §7.3.2, §7.3.6)."""
    if "contact" in payload:
        account.contact = contacts(payload["contact"])
        account.save(update_fields=["contact"])
    status = payload.get("status")
    if status is not None:
        if status != AcmeAccount.Status.DEACTIVATED:
            raise malformed("An account's status can only be set to deactivated.")
        account.status = AcmeAccount.Status.DEACTIVATED
        account.save(update_fields=["status"])
        audit_record(
            action=AuditAction.ACME_ACCOUNT_DEACTIVATE, actor=account.service_account, target=account,
            detail=f"deactivated ACME account {url}",
        )  # fmt: skip
    return account
