"""revokeCert (RFC 8555 §7.6): by the certificate's own key (`jwk`), or by an account acting as a
service account that may revoke it (`kid`). The same revocation as the API's: OCSP says so at once,
the CRL from its next fetch."""

from __future__ import annotations

from typing import Any

import josepy as jose

from acmeserver.models import AcmeAccount
from acmeserver.problems import AcmeProblem, malformed, unauthorized
from certificates import services
from certificates import x509 as pki
from certificates.models import Certificate, CertificateAuthority
from pkiserver.errors import Conflict, Invalid, PolicyDenied

# RFC 5280 reason codes by name; which of them may revoke what is the revocation service's rule.
REASONS = {pki.REASON_CODES[flag]: name for name, flag in pki.REASON_NAMES.items()}


def _certificate(ca: CertificateAuthority, body: dict[str, Any]) -> tuple[Certificate, Any]:
    raw = body.get("certificate")
    try:
        der = jose.b64.b64decode(raw) if isinstance(raw, str) else b""
        parsed = pki.load_certificate_der(der)
    except (ValueError, pki.X509Error):
        raise malformed("certificate is the base64url DER of a certificate.") from None
    stored = Certificate.objects.filter(issuer=ca, serial_number=pki.serial_to_hex(parsed.serial_number)).first()
    if stored is None or pki.certificate_to_der(pki.load_certificate_pem(stored.certificate)) != der:
        raise AcmeProblem("malformed", "This CA did not issue that certificate.", 404)
    return stored, parsed


def revoke(
    *, ca: CertificateAuthority, body: dict[str, Any], jwk: jose.JWK | None, account: AcmeAccount | None
) -> None:
    cert, parsed = _certificate(ca, body)
    code = body.get("reason", 0)
    if not isinstance(code, int) or isinstance(code, bool) or code not in REASONS:
        raise AcmeProblem("badRevocationReason", f"reason {code!r} is not an RFC 5280 reason code.")
    reason = REASONS[code] if code else None  # 0, unspecified: no reason in the CRL
    try:
        if jwk is not None:
            if pki.public_key_fingerprint(jwk.key) != pki.public_key_fingerprint(parsed.public_key()):
                raise unauthorized("The request is not signed with the certificate's key.")
            services.certificate_revoke_by_key_holder(cert=cert, reason=reason, via="ACME revokeCert")
        else:
            if account is None or account.service_account is None:
                raise unauthorized("This account may not revoke that certificate.")
            services.certificate_revoke(actor=account.service_account, cert=cert, reason=reason, via="ACME revokeCert")
    except Conflict:
        raise AcmeProblem("alreadyRevoked", "The certificate is revoked already.") from None
    except Invalid as exc:
        raise AcmeProblem("badRevocationReason", exc.detail) from None
    except PolicyDenied:
        raise unauthorized("This account's service account may not revoke that certificate.") from None
