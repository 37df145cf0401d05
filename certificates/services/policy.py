"""The issuance-policy gate: what a service account's policy lets it have issued (SPEC §5)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from django.db import transaction

from audit.models import AuditAction
from audit.services import audit_record
from certificates import x509 as pki
from certificates.models import CertificateAuthority
from pkiserver.errors import PolicyDenied
from serviceaccounts import issuance
from serviceaccounts.models import IssuancePolicy
from serviceaccounts.services import rules_of

if TYPE_CHECKING:
    from accounts.actors import Actor


def enforce_issuance_policy(
    *, actor: Actor, ca: CertificateAuthority, certificate_type: str, subject: Any, sans: Any, valid_days: int
) -> None:
    """Refuse (403, naming the rule) an issue, sign-csr or renew by a service account that its
    policy does not allow; people are not subject to policies and pass at once.

    The refusal is audited in a transaction of its own: call this outside the transaction
    that would issue, so the entry stays when the request fails.
    """
    if not actor.is_service_account:
        return
    policy = IssuancePolicy.objects.filter(service_account_id=actor.pk).first()
    violation: issuance.Violation | None
    if policy is None:
        name = actor.username.removeprefix("sa:")
        violation = issuance.Violation(
            "policy", f"service account '{name}' has no issuance policy, so it may issue nothing"
        )
    else:
        request = issuance.IssuanceRequest(
            ca_id=ca.pk,
            certificate_type=str(certificate_type),
            valid_days=valid_days,
            common_names=pki.common_names_of(subject),
            dns_names=tuple(sans.dns_names) if sans else (),
            ip_addresses=tuple(sans.ip_strings()) if sans else (),
            emails=tuple(sans.emails) if sans else (),
        )
        violation = issuance.evaluate(rules_of(policy), request)
    if violation is None:
        return
    with transaction.atomic():
        audit_record(
            action=AuditAction.CERT_POLICY_DENIED, actor=actor, target=ca, organization_id=actor.organization_id,
            detail=f"refused a {certificate_type} certificate from CA {ca.name}: {violation.message}",
        )  # fmt: skip
    raise PolicyDenied(f"Issuance policy: {violation.message}", code="issuance_policy_denied", field=violation.rule)
