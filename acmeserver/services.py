"""External account bindings: made, listed and revoked by those who manage the service account."""

from __future__ import annotations

import base64
import secrets
from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from accounts.policy import Action, require
from acmeserver.models import EabCredential
from audit.models import AuditAction
from audit.services import audit_record
from certificates import keystore
from pkiserver.errors import NotFound

if TYPE_CHECKING:
    from accounts.actors import Actor
    from serviceaccounts.models import ServiceAccount

HMAC_KEY_BYTES = 32  # RFC 8555 leaves the size open; 256 bits, as for HS256


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def random_b64url(nbytes: int) -> str:
    """base64url of `nbytes` random bytes, drawn again when it would start with "-": a command
    line (certbot's `--eab-hmac-key KEY`) takes such a value for an option."""
    while True:
        text = _b64url(secrets.token_bytes(nbytes))
        if not text.startswith("-"):
            return text


@transaction.atomic
def eab_create(*, actor: Actor, account: ServiceAccount) -> tuple[EabCredential, str]:
    """A new binding of `account` and its HMAC key (base64url, shown once; stored encrypted)."""
    require(actor, Action.SA_MANAGE, account)
    key = random_b64url(HMAC_KEY_BYTES)
    credential = EabCredential.objects.create(
        kid=random_b64url(18),
        service_account=account,
        hmac_key=keystore.encrypt(key),
        created_by_id=None if actor.is_service_account else actor.pk,
    )
    audit_record(
        action=AuditAction.ACME_EAB_CREATE, actor=actor, target=account,
        detail=f"created ACME external account binding {credential.kid} for service account {account.name}",
    )  # fmt: skip
    return credential, key


def eab_list(*, actor: Actor, account: ServiceAccount) -> QuerySet[EabCredential]:
    require(actor, Action.SA_MANAGE, account)
    return EabCredential.objects.filter(service_account=account).order_by("id")


@transaction.atomic
def eab_revoke(*, actor: Actor, account: ServiceAccount, kid: str) -> EabCredential:
    """Revoke one binding of `account`: it binds no account from now on. Revoking it again
    changes nothing."""
    require(actor, Action.SA_MANAGE, account)
    credential = EabCredential.objects.select_for_update().filter(kid=kid, service_account=account).first()
    if credential is None:
        raise NotFound(f"Service account {account.pk} has no ACME external account binding {kid}.")
    if credential.revoked_at is None:
        credential.revoked_at = timezone.now()
        credential.save(update_fields=["revoked_at"])
        audit_record(
            action=AuditAction.ACME_EAB_REVOKE, actor=actor, target=account,
            detail=f"revoked ACME external account binding {kid} of service account {account.name}",
        )  # fmt: skip
    return credential
