"""CA and certificate writes and reads, by concern: CAs, issuance, revocation and CRLs, public look-ups.

Each service checks the policy and the payload, calls the x509 layer, saves, and records its
audit entry in the same transaction. Slow work (key generation) happens before any write, so no
lock is held while a key is made. Callers import from here.
"""

from __future__ import annotations

from certificates import x509 as pki
from certificates.services.cas import (
    CARequest,
    ca_by_name,
    ca_by_pk,
    ca_create,
    ca_delete,
    ca_private_key,
    ca_revoke,
    ca_update,
)
from certificates.services.common import Issued, ca_chain, lineages, public_base, public_urls
from certificates.services.issuance import (
    CertRequest,
    _subject,
    certificate_chain_pem,
    certificate_issue,
    certificate_pkcs12,
    certificate_private_key,
    certificate_renew,
    certificate_sign_csr,
)
from certificates.services.public import ca_by_slug, crl_by_slug, ocsp_respond
from certificates.services.revocation import (
    certificate_revoke,
    certificate_revoke_by_key_holder,
    crl_current,
    crl_from_rows,
    crl_header,
    crl_pem,
    crl_publish,
)
from pkiserver.errors import Conflict, Invalid, NotFound

__all__ = [
    "CARequest",
    "CertRequest",
    "Conflict",
    "Invalid",
    "Issued",
    "NotFound",
    "_subject",
    "ca_by_name",
    "ca_by_pk",
    "ca_by_slug",
    "ca_chain",
    "ca_create",
    "ca_delete",
    "ca_private_key",
    "ca_revoke",
    "ca_update",
    "certificate_chain_pem",
    "certificate_issue",
    "certificate_pkcs12",
    "certificate_private_key",
    "certificate_renew",
    "certificate_revoke",
    "certificate_revoke_by_key_holder",
    "certificate_sign_csr",
    "crl_by_slug",
    "crl_current",
    "crl_from_rows",
    "crl_header",
    "crl_pem",
    "crl_publish",
    "lineages",
    "ocsp_respond",
    "pki",
    "public_base",
    "public_urls",
]
