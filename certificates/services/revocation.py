"""Revoking certificates, and the CRLs that say so: publish, current, PEM (SPEC §7, §9)."""

from __future__ import annotations

import base64
from collections.abc import Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.core.cache import caches
from django.db import transaction
from django.db.models import Exists, OuterRef, QuerySet
from django.utils import timezone

from accounts.policy import Action, require
from audit.models import AuditAction
from audit.services import audit_record
from certificates import x509 as pki
from certificates.models import Certificate, CertificateAuthority, CertificateType, PendingCrlEntry, RevocationList
from certificates.services.common import ca_material, hold_ca
from pkiserver.errors import Conflict, Invalid, NotFound

if TYPE_CHECKING:
    from accounts.actors import Actor

CESSATION = pki.REASON_NAMES["cessation_of_operation"]
_CA_ONLY_REASONS = ("ca_compromise", "aa_compromise")
_REASON_FLAGS: dict[int | None, Any] = {None: None, **{code: flag for flag, code in pki.REASON_CODES.items()}}


def certificate_revoke(
    *, actor: Actor, cert: Certificate, reason: str | None, comment: str | None = None, via: str = ""
) -> Certificate:
    """`reason` names an RFC 5280 reason (its code goes into the CRL) or is free text; `comment` is
    free text kept after a named reason (the admin console asks for both). `via` names the route
    in the audit entry when it is not the API's or the console's (ACME)."""
    require(actor, Action.CERT_REVOKE, cert)
    return _revoke(cert, reason, comment, actor=actor, via=via)


def certificate_revoke_by_key_holder(*, cert: Certificate, reason: str | None, via: str) -> Certificate:
    """Revoke for whoever proved they hold the certificate's private key (ACME revokeCert signed
    with it, RFC 8555 §7.6): no account and no policy, since the key is what a revocation protects."""
    return _revoke(cert, reason, None, actor=None, via=f"{via}, signed with the certificate's own key")


def _revoke(
    cert: Certificate, reason: str | None, comment: str | None, *, actor: Actor | None, via: str
) -> Certificate:
    flag = revocation_flag(reason, for_ca=cert.certificate_type == CertificateType.CA)
    reason = with_comment(reason, comment)
    with transaction.atomic():
        # The revocation, its audit entry and its pending CRL entry commit together; the CRL is
        # signed by the next read of it (`crl_current`), so a revocation costs no signature.
        if hold_ca(cert.issuer_id) is None:  # deleted, with its certificates, while this request was on its way
            raise NotFound(f"Certificate {cert.pk} no longer exists.")
        now = timezone.now()
        changes = {
            "revoked_at": now, "revocation_reason": reason or None, "revocation_reason_code": reason_code(flag),
            "updated_at": now,
        }  # fmt: skip
        won = Certificate.objects.filter(pk=cert.pk, revoked_at__isnull=True).update(**changes)
        if not won:
            raise Conflict(f"Certificate {cert.pk} is already revoked.", code="already_revoked")
        PendingCrlEntry.objects.create(certificate_id=cert.pk, ca_id=cert.issuer_id)
        audit_record(
            action=AuditAction.CERT_REVOKE, actor=actor, target=cert,
            detail=f"revoked certificate {cert.common_name} serial {cert.serial_number}"
            + (f" ({reason})" if reason else "") + (f" via {via}" if via else ""),
        )  # fmt: skip
    for field, value in changes.items():  # what the UPDATE wrote, without reading the row back
        setattr(cert, field, value)
    return cert


def with_comment(reason: str | None, comment: str | None) -> str | None:
    """The stored reason: `reason`, then `comment` after it; at most 255 characters."""
    if comment and comment.strip():
        reason = f"{reason}: {comment.strip()}" if reason else comment.strip()
    if reason is not None and len(reason) > 255:
        raise Invalid("reason must be at most 255 characters.", field="reason")
    return reason


def revocation_flag(reason: str | None, *, for_ca: bool) -> Any:
    """The RFC 5280 reason that `reason` names (None for free text), refusing those that cannot
    revoke this certificate (SPEC §7)."""
    flag = pki.parse_reason(reason)
    if flag is pki.REASON_NAMES["remove_from_crl"]:
        # RFC 5280 §5.3.1: removeFromCRL only appears in delta CRLs; it never revokes anything.
        raise Invalid("remove_from_crl is only used in delta CRLs and cannot revoke a certificate.", field="reason")
    if flag is pki.REASON_NAMES["certificate_hold"]:
        raise Invalid(
            "certificate_hold is refused: a hold could never be released (there is no un-revoke).", field="reason"
        )
    if not for_ca and flag in {pki.REASON_NAMES[name] for name in _CA_ONLY_REASONS}:
        raise Invalid(
            f"{reason} only applies to CA certificates; use key_compromise for an end-entity certificate.",
            field="reason",
        )
    return flag


def reason_code(flag: Any) -> int | None:
    return None if flag is None else pki.REASON_CODES[flag]


def reason_flag(code: int | None) -> Any:
    return _REASON_FLAGS[code]


def crl_publish(*, ca: CertificateAuthority, now: datetime | None = None) -> RevocationList:
    """Build, sign and store a new CRL for `ca`, listing its pending entries. Call in a transaction
    with the CA row locked: that lock orders the CAs' CRLs, so their numbers strictly increase.

    The stored CRL is extended when it is known to hold every other revoked certificate of the CA
    (its entry count plus the pending ones is the CA's count): its entries are copied as DER and
    the whole is signed again (`x509.extend_crl`). Otherwise (the first CRL, or anything
    unexpected) it is built from all the revoked rows. The pending entries it read are deleted in
    the same transaction; one committed meanwhile stays pending for the next build. Once committed
    the new DER goes into the cache, so it is served without being read back.
    """
    now = (now or timezone.now()).replace(microsecond=0)
    pending = list(PendingCrlEntry.objects.filter(ca_id=ca.pk).values_list("certificate_id", flat=True))
    previous = RevocationList.objects.filter(ca_id=ca.pk).defer("der").first()
    number = (previous.number if previous else 0) + 1
    header = crl_header(ca, number=number, now=now)
    der = _crl_extended(ca, previous, pending, header) if previous is not None else None
    if der is not None:
        count = previous.entries + len(pending)  # type: ignore[union-attr]
    else:
        der, count = crl_from_rows(ca, header)
    next_update = header["next_update"]
    fields = {"number": number, "der": der, "this_update": now, "next_update": next_update, "entries": count}
    if not RevocationList.objects.filter(ca_id=ca.pk).update(**fields):
        RevocationList.objects.create(ca_id=ca.pk, **fields)
    for start in range(0, len(pending), _EXTEND_AT_MOST):
        PendingCrlEntry.objects.filter(pk__in=pending[start : start + _EXTEND_AT_MOST]).delete()
    published = RevocationList(ca_id=ca.pk, **fields)
    # Cached once committed: a CRL rolled back must never be served.
    transaction.on_commit(lambda: _crl_keep(ca, published, "der", der))
    return published


def crl_header(ca: CertificateAuthority, *, number: int, now: datetime) -> dict[str, Any]:
    """The arguments of a CRL of `ca` but its entries: issuer, number, thisUpdate and nextUpdate."""
    ca_cert, ca_key = ca_material(ca)
    return {
        "issuer_cert": ca_cert, "issuer_key": ca_key, "crl_number": number, "this_update": now,
        "next_update": now + timedelta(hours=settings.CRL_VALIDITY_HOURS),
    }  # fmt: skip


def crl_from_rows(ca: CertificateAuthority, header: dict[str, Any]) -> tuple[bytes, int]:
    """A CRL of every revoked certificate of `ca`, built from the rows (streamed as plain tuples,
    each entry written as DER as it is read) and signed: its DER and its entry count. Not stored."""
    count = 0

    def entries() -> Iterator[pki.RevokedEntry]:
        nonlocal count
        for row in Certificate.objects.crl_rows(ca.pk):
            count += 1
            yield _crl_entry(row)

    return pki.build_crl_der(entries=entries(), **header), count


def _crl_entry(row: tuple[str, int, int | None]) -> pki.RevokedEntry:
    serial, seconds, code = row
    return pki.RevokedEntry(int(serial, 16), datetime.fromtimestamp(seconds, UTC), _REASON_FLAGS[code])


_EXTEND_AT_MOST = 1000  # pending entries looked up by id; also the batch in which they are deleted


def _crl_extended(
    ca: CertificateAuthority, previous: RevocationList, added: Sequence[int], header: dict[str, Any]
) -> bytes | None:
    """The stored CRL extended by the `added` certificates, or None when it cannot be (see
    `crl_publish`)."""
    if len(added) > _EXTEND_AT_MOST:  # a mass revocation: one pass over the rows costs less
        return None
    revoked = Certificate.objects.filter(issuer_id=ca.pk, revoked_at__isnull=False)
    if previous.entries + len(added) != revoked.count():
        return None
    rows = list(Certificate.objects.filter(pk__in=added).crl_rows(ca.pk)) if added else []
    if len(rows) != len(added):
        return None
    previous_der = _crl_cached(ca, previous, "der")
    if previous_der is None:
        previous_der = bytes(RevocationList.objects.filter(ca_id=ca.pk).values_list("der", flat=True).get())
    try:
        return pki.extend_crl(previous_der=previous_der, added=[_crl_entry(row) for row in rows], **header)
    except ValueError:  # not a CRL we can extend: build it from the rows
        return None


def _is_stale(crl: RevocationList | None, now: datetime) -> bool:
    """Refresh once half the validity has passed, so a served CRL never runs out."""
    return crl is None or now >= crl.this_update + (crl.next_update - crl.this_update) / 2


# Signed CRLs in each process's own cache (settings.CACHES["crl"]), one entry per CA and form: the
# CA's id and serial (which tells apart CAs that reuse an id) name it, and a value counts only for
# the CRL whose number and thisUpdate it carries, which every read checks against the database, so
# a process never serves an older CRL than the stored one. Not the shared cache: fetching a 5 MB CRL
# from Redis costs several times what reading it from the process's memory does (bench/README.md).
CRL_CACHE_MAX_BYTES = 16 * 1024 * 1024


def _crl_cache_key(ca: CertificateAuthority, form: str) -> str:
    return f"certificates:crl:{ca.pk}:{ca.serial_number}:{form}"


def _crl_identity(crl: RevocationList) -> tuple[int, str]:
    return crl.number, crl.this_update.isoformat()


def _crl_cached(ca: CertificateAuthority, crl: RevocationList, form: str) -> bytes | None:
    found = caches["crl"].get(_crl_cache_key(ca, form))
    if found is None or tuple(found[0]) != _crl_identity(crl):
        return None
    return bytes(found[1])


def _crl_keep(ca: CertificateAuthority, crl: RevocationList, form: str, value: bytes) -> None:
    if len(value) <= CRL_CACHE_MAX_BYTES:
        timeout = max(1, int((crl.next_update - timezone.now()).total_seconds()))
        caches["crl"].set(_crl_cache_key(ca, form), (_crl_identity(crl), value), timeout)


_UNREAD: Any = object()


def crl_current(*, ca: CertificateAuthority, header: RevocationList | None = _UNREAD) -> RevocationList:
    """The stored CRL, signed again only when a revocation is pending or it is stale (not on every
    request).

    One small query says which CRL is current and whether a revocation waits for it (or the
    caller read that: `header`, the CRL's row without its DER and with `has_pending`, or None when
    the CA has none); its DER comes from the cache when it holds that CRL, so a 100,000-entry CRL
    costs about what a 10-entry one does.
    """
    now = timezone.now()
    crl = crl_headers().filter(ca_id=ca.pk).first() if header is _UNREAD else header
    if _needs_publishing(crl, now):
        with transaction.atomic():
            locked = CertificateAuthority.objects.select_for_update(no_key=True).filter(pk=ca.pk).first()
            if locked is None:  # deleted since the caller looked it up
                raise NotFound("CA not found")
            crl = crl_headers().filter(ca_id=ca.pk).first()
            if _needs_publishing(crl, now):  # another request may have published it while we waited
                return crl_publish(ca=locked, now=now)  # cached once committed, not before
    assert crl is not None
    der = _crl_cached(ca, crl, "der")
    if der is None:
        # Number and DER in one read, in case a newer CRL was published in between.
        crl = RevocationList.objects.filter(ca_id=ca.pk).first()
        if crl is None:  # the CA was deleted in between
            raise NotFound("CA not found")
        der = bytes(crl.der)
        _crl_keep(ca, crl, "der", der)
    crl.der = der
    crl.cache_ca = ca  # type: ignore[attr-defined]
    return crl


def crl_headers() -> QuerySet[RevocationList]:
    """Stored CRLs without their DER, each with `has_pending`: whether a revocation waits for it."""
    pending = PendingCrlEntry.objects.filter(ca_id=OuterRef("ca_id"))
    return RevocationList.objects.defer("der").annotate(has_pending=Exists(pending))


def _needs_publishing(crl: RevocationList | None, now: datetime) -> bool:
    return crl is None or getattr(crl, "has_pending", True) or _is_stale(crl, now)


def crl_pem(crl: RevocationList) -> bytes:
    """The PEM form of a CRL from `crl_current`, encoded once and then taken from the cache."""
    ca = getattr(crl, "cache_ca", None)
    pem = _crl_cached(ca, crl, "pem") if ca is not None else None
    if pem is None:
        body = base64.b64encode(bytes(crl.der))
        lines = b"\n".join(body[i : i + 64] for i in range(0, len(body), 64))
        pem = b"-----BEGIN X509 CRL-----\n" + lines + b"\n-----END X509 CRL-----\n"
        if ca is not None:
            _crl_keep(ca, crl, "pem", pem)
    return pem
