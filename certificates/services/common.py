"""What the CA, issuance and revocation services share: answers, public URLs, validity, lineage."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.db import connection

from certificates import keystore
from certificates import x509 as pki
from certificates.models import CertificateAuthority
from pkiserver.errors import Conflict, Invalid

if TYPE_CHECKING:
    from accounts.actors import Actor

MAX_VALID_DAYS = 36500


@dataclass
class Issued:
    """What a create/issue/sign/renew answers: the object, the key shown once, and notes."""

    obj: Any
    private_key: str | None = None
    warnings: list[str] = field(default_factory=list)


# Public URLs embedded in certificates (SPEC §9)


def public_base(ca: CertificateAuthority, request_base: str) -> str:
    return (ca.crl_base_url or settings.PUBLIC_BASE_URL or request_base).rstrip("/")


def public_urls(ca: CertificateAuthority, request_base: str) -> dict[str, str]:
    base, slug = public_base(ca, request_base), ca.slug
    return {"crl": f"{base}/crl/{slug}", "ca_issuers": f"{base}/ca/{slug}.crt", "ocsp": f"{base}/ocsp/{slug}"}


def x509_invalid(exc: pki.X509Error) -> Invalid:
    return Invalid(str(exc), field=exc.field)


def valid_days_of(requested: int | None, default: int) -> int:
    days = default if requested is None else requested
    if days < 1 or days > MAX_VALID_DAYS:
        raise Invalid(f"valid_days must be between 1 and {MAX_VALID_DAYS}.", field="valid_days")
    return days


def ca_material(ca: CertificateAuthority) -> tuple[Any, Any]:
    return ca_certificate(ca.certificate), keystore.load_key(ca.private_key)


# Per process and keyed by the immutable PEM: a CA's certificate is parsed once, not shared state.
@lru_cache(maxsize=256)
def ca_certificate(pem: str) -> Any:
    """A CA's parsed certificate: every signature, CRL and OCSP answer needs it."""
    return pki.load_certificate_pem(pem)


def validity_under(
    issuer: CertificateAuthority, kind: str, now: datetime, valid_days: int, warnings: list[str]
) -> datetime:
    """The end of a `kind` that `issuer` signs: `valid_days` from `now`, cut to the issuer's own end
    (with a note in `warnings`, see `_capped_warning`)."""
    try:
        not_after, capped = pki.clamp_validity(now, valid_days, issuer.not_after)
    except pki.X509Error as exc:
        raise x509_invalid(exc) from None
    note = _capped_warning(kind, now, valid_days, not_after) if capped else None
    if note:
        warnings.append(note)
    return not_after


def _capped_warning(kind: str, now: datetime, valid_days: int, not_after: datetime) -> str | None:
    """The note for a validity cut to the issuer's end, unless the cut is under a day: a child
    made with the same default right after its parent would otherwise always be 'capped'."""
    if now + timedelta(days=valid_days) - not_after < timedelta(days=1):
        return None
    return (
        f"valid_days capped: the {kind} would outlive its issuing CA, so it expires with it on {not_after.isoformat()}."
    )


def creator(actor: Actor) -> Any:
    """The user recorded as an object's creator: none for a service account."""
    return None if actor.is_service_account else actor


def refuse_if_revoked(ca: CertificateAuthority) -> None:
    """409 when `ca` itself has been revoked."""
    if ca.revoked_at is not None:
        raise Conflict(f"CA '{ca.name}' has been revoked and issues nothing more.", code="ca_revoked")


def check_not_revoked(ca: CertificateAuthority) -> None:
    """409 when `ca`, or a CA above it, has been revoked: nothing issued under it could be trusted."""
    refuse_if_revoked(ca)
    if ca.parent_id is not None:
        revoked = [pk for pk, is_revoked in lineage(ca.parent_id) if is_revoked]
        if revoked:
            above = CertificateAuthority.objects.only("name").get(pk=revoked[0])
            raise Conflict(
                f"CA '{above.name}' above CA '{ca.name}' has been revoked: '{ca.name}' issues nothing more.",
                code="ca_revoked",
            )


def ca_chain(ca: CertificateAuthority) -> list[CertificateAuthority]:
    """This CA, then each parent up to the root: two queries, however deep the hierarchy."""
    if ca.parent_id is None:
        return [ca]
    ids = [pk for pk, _ in lineage(ca.parent_id)]
    parents = CertificateAuthority.objects.in_bulk(ids)
    return [ca, *(parents[pk] for pk in ids)]


def lineage(ca_id: int) -> list[tuple[int, bool]]:
    """(id, revoked) of the CA `ca_id` and each CA above it up to the root, in one query."""
    return [(pk, revoked) for pk, _, revoked in lineages([ca_id]).get(ca_id, [])]


def lineages(ids: list[int]) -> dict[int, list[tuple[int, str, bool]]]:
    """For each CA of `ids`: (id, name, revoked) of it and of each CA above it up to the root, in
    one query for them all."""
    if not ids:
        return {}
    # Hand-written: a recursive CTE is the one thing here the ORM cannot say.
    table = connection.ops.quote_name(CertificateAuthority._meta.db_table)  # a model's name, not input
    marks = ", ".join(["%s"] * len(ids))
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH RECURSIVE up(start, id, parent_id, name, revoked, depth) AS ("  # noqa: S608
            f"SELECT id, id, parent_id, name, revoked_at IS NOT NULL, 0 FROM {table} WHERE id IN ({marks}) "
            "UNION ALL SELECT up.start, c.id, c.parent_id, c.name, c.revoked_at IS NOT NULL, up.depth + 1 "
            f"FROM {table} c JOIN up ON c.id = up.parent_id) "
            "SELECT start, id, name, revoked FROM up ORDER BY start, depth",
            ids,
        )
        found: dict[int, list[tuple[int, str, bool]]] = {}
        for start, pk, name, revoked in cursor.fetchall():
            found.setdefault(start, []).append((pk, name, bool(revoked)))
    return found


def hold_ca(ca_id: int) -> tuple[bool, bool] | None:
    """Keep the CA `ca_id` from being deleted, revoked or closed to leaves until the transaction
    ends; its (allow_leaf_certs, revoked) as of then, or None when it is gone.

    On PostgreSQL a FOR KEY SHARE row lock, which the ORM cannot ask for (`select_for_update` has
    no such mode): a delete, a revocation of the CA or a child CA's creation (FOR UPDATE) waits for
    this transaction, while issuances, revocations and CRL publication (NO KEY UPDATE) under the
    CA go on. Taken before any row under the CA is written, in the order a delete locks them (the
    CA, then its certificates), so the two cannot deadlock. SQLite runs one writing transaction at
    a time."""
    if connection.vendor != "postgresql":
        row = CertificateAuthority.objects.filter(pk=ca_id).values_list("allow_leaf_certs", "revoked_at").first()
    else:
        table = connection.ops.quote_name(CertificateAuthority._meta.db_table)  # a model's name, not input
        with connection.cursor() as cursor:
            cursor.execute(
                f"SELECT allow_leaf_certs, revoked_at FROM {table} WHERE id = %s FOR KEY SHARE",  # noqa: S608
                [ca_id],
            )
            row = cursor.fetchone()
    return None if row is None else (bool(row[0]), row[1] is not None)
