"""Certificate authorities, certificates and their published CRLs. No crypto here."""

from __future__ import annotations

from datetime import datetime

from django.conf import settings
from django.db import models
from django.db.models.functions import Upper
from django.utils import timezone

from certificates.querysets import CertificateQuerySet


class KeyAlgorithm(models.TextChoices):
    RSA = "rsa", "RSA"
    ECDSA = "ecdsa", "ECDSA"
    ED25519 = "ed25519", "Ed25519"


class CertificateType(models.TextChoices):
    SERVER = "server", "Server"
    CLIENT = "client", "Client"
    DUAL_PURPOSE = "dual_purpose", "Dual purpose"
    CA = "ca", "CA"


class CertificateStatus(models.TextChoices):
    VALID = "valid", "Valid"
    REVOKED = "revoked", "Revoked"
    EXPIRED = "expired", "Expired"


class CertificateAuthority(models.Model):
    name = models.CharField(max_length=255)
    description = models.TextField(null=True, blank=True)
    subject_dn = models.TextField()
    key_algorithm = models.CharField(max_length=16, choices=KeyAlgorithm.choices, default=KeyAlgorithm.RSA)
    key_size = models.PositiveIntegerField()
    valid_days = models.PositiveIntegerField()
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="children")
    path_length = models.PositiveSmallIntegerField(null=True, blank=True)
    allow_leaf_certs = models.BooleanField(default=True)
    # Set when a caller chose allow_leaf_certs: then creating a child leaves it alone.
    allow_leaf_certs_explicit = models.BooleanField(default=False)
    crl_base_url = models.URLField(max_length=500, null=True, blank=True)
    certificate = models.TextField()
    private_key = models.TextField(editable=False)  # Fernet token, never plaintext
    # Set when the parent revoked this intermediate: then it, and every CA below it, issues nothing.
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=255, null=True, blank=True)
    serial_number = models.CharField(max_length=40)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField()
    # ACME (SPEC §15), off until an admin turns it on with PATCH /cas/{id}.
    acme_enabled = models.BooleanField(default=False)
    acme_eab_required = models.BooleanField(default=True)
    acme_max_validity_days = models.PositiveIntegerField(null=True, blank=True)  # None: no ACME-specific cap
    organization = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="cas"
    )
    created_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["id"]
        verbose_name = "certificate authority"
        verbose_name_plural = "certificate authorities"
        indexes = [models.Index(fields=["organization", "name"])]

    def __str__(self) -> str:
        return self.name

    @property
    def is_root(self) -> bool:
        return self.parent_id is None

    @property
    def slug(self) -> str:
        from certificates.x509.names import slugify_ca

        return slugify_ca(self.name, self.pk)


class Certificate(models.Model):
    common_name = models.CharField(max_length=255)
    subject_dn = models.TextField()
    certificate_type = models.CharField(max_length=16, choices=CertificateType.choices)
    key_algorithm = models.CharField(max_length=16, choices=KeyAlgorithm.choices, default=KeyAlgorithm.RSA)
    key_size = models.PositiveIntegerField()
    valid_days = models.PositiveIntegerField()
    certificate = models.TextField()
    private_key = models.TextField(null=True, blank=True, editable=False)  # Fernet token or null
    serial_number = models.CharField(max_length=40)
    not_before = models.DateTimeField()
    not_after = models.DateTimeField(db_index=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revocation_reason = models.CharField(max_length=255, null=True, blank=True)
    revocation_reason_code = models.PositiveSmallIntegerField(null=True, blank=True)
    # No index of their own: cert_issuer_id_idx and (organization, id) lead with these columns.
    issuer = models.ForeignKey(
        CertificateAuthority, on_delete=models.CASCADE, related_name="certificates", db_index=False
    )
    organization = models.ForeignKey(
        "orgs.Organization",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="certificates",
        db_index=False,
    )
    created_by_user = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    san_dns_names = models.JSONField(default=list, blank=True)
    san_ip_addresses = models.JSONField(default=list, blank=True)
    san_email_addresses = models.JSONField(default=list, blank=True)
    from_csr = models.BooleanField(default=False)
    renewed_from = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL, related_name="renewals")
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = CertificateQuerySet.as_manager()

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["issuer", "serial_number"], name="unique_serial_per_issuer"),
        ]
        indexes = [
            models.Index(fields=["organization", "id"]),
            # A CA's CRL is read from this index alone: about 100 bytes per revoked certificate
            # instead of its 1.7 KB table row (an index-only scan of 10 MB for 100,000 entries).
            models.Index(
                fields=["issuer", "serial_number", "revoked_at", "revocation_reason_code"],
                condition=models.Q(revoked_at__isnull=False),
                name="cert_crl_entries_idx",
            ),
            # Status filters and their counts, read from the index alone (ids, then rows by primary
            # key: CertificateQuerySet): unrevoked rows by expiry (expired, expiring, and their
            # counts), unrevoked rows in id order with their expiry (valid), revoked rows in id order.
            # Key columns rather than INCLUDE: SQLite has no INCLUDE, and PostgreSQL checks a key
            # column's condition inside the index scan, before it considers the entry a match.
            models.Index(
                fields=["organization", "not_after", "id"],
                condition=models.Q(revoked_at__isnull=True),
                name="cert_unrevoked_expiry_idx",
            ),
            models.Index(
                fields=["organization", "id", "not_after"],
                condition=models.Q(revoked_at__isnull=True),
                name="cert_unrevoked_org_idx",
            ),
            models.Index(
                fields=["organization", "id"], condition=models.Q(revoked_at__isnull=False), name="cert_revoked_org_idx"
            ),
            # List filters stay index scans at 1,000,000 rows: by CA in id order, by serial across
            # CAs, and by common name, which the API matches case-insensitively (UPPER on PostgreSQL).
            # The CA's index carries the organization (PostgreSQL), so an organization's count of
            # a CA's certificates is read from the index alone.
            models.Index(fields=["issuer", "id"], include=["organization"], name="cert_issuer_id_idx"),
            models.Index(fields=["serial_number"], name="cert_serial_idx"),
            models.Index(Upper("common_name"), name="cert_upper_cn_idx"),
        ]

    def __str__(self) -> str:
        return f"{self.common_name} ({self.serial_number})"

    def status_at(self, now: datetime) -> str:
        if self.revoked_at is not None:
            return CertificateStatus.REVOKED
        if self.not_after <= now:
            return CertificateStatus.EXPIRED
        return CertificateStatus.VALID

    @property
    def status(self) -> str:
        return self.status_at(timezone.now())


class RevocationList(models.Model):
    """The current signed CRL of a CA, rebuilt when it is read after a revocation (`PendingCrlEntry`)
    or once it goes stale."""

    ca = models.OneToOneField(CertificateAuthority, on_delete=models.CASCADE, related_name="crl", primary_key=True)
    number = models.PositiveBigIntegerField(default=0)
    this_update = models.DateTimeField()
    next_update = models.DateTimeField()
    entries = models.PositiveIntegerField(default=0)
    # Last column of the table (migration 0004): SQLite stores a row's columns in order, so a
    # column after a 5 MB blob is only reached through the blob's overflow pages; before it, the
    # number and dates a request reads (`defer("der")`) cost the same for 10 entries or 100,000.
    der = models.BinaryField()

    def __str__(self) -> str:
        return f"CRL #{self.number} of {self.ca_id}"


class PendingCrlEntry(models.Model):
    """A committed revocation that the CA's stored CRL does not list yet.

    Written in the revocation's own transaction and deleted only by the transaction that stores a
    CRL listing it, so a revocation is always either in the stored CRL or here: the next CRL read
    signs it in, and no entry is ever lost between the two.
    """

    certificate = models.OneToOneField(Certificate, on_delete=models.CASCADE, primary_key=True, related_name="+")
    ca = models.ForeignKey(CertificateAuthority, on_delete=models.CASCADE, related_name="pending_crl_entries")

    def __str__(self) -> str:
        return f"certificate {self.certificate_id} pending in the CRL of {self.ca_id}"
