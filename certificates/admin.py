"""CAs and certificates in the admin console: writes through certificates.services, never a key shown."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any, ClassVar, TypeAlias, TypedDict

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseNotAllowed, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html, format_html_join

from accounts.actors import acting
from accounts.policy import Action, can, visible_q
from certificates import services
from certificates.downloads import pem_download
from certificates.models import Certificate, CertificateAuthority, CertificateStatus, KeyAlgorithm
from certificates.x509 import X509Error, serial_from_hex, serial_to_hex
from certificates.x509.urls import MAX_LENGTH as MAX_BASE_URL
from certificates.x509.urls import InvalidURL, normalize_crl_base_url
from orgs.admin import count_of
from pkiserver.admin import PolicyAdmin, ServiceForm, for_actor
from pkiserver.errors import Conflict, DomainError, Invalid, NotFound, PolicyDenied

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec
    from django_stubs_ext import WithAnnotations

    class _CAColumns(TypedDict):
        child_count: int  # CertificateAuthorityAdmin.get_queryset's annotations
        cert_count: int
        lineage: list[str]  # set by get_changelist_instance, or by _lineage on first use

    # A CA as CertificateAuthorityAdmin lists and shows it.
    ListedCA: TypeAlias = WithAnnotations[CertificateAuthority, _CAColumns]

EXPIRING_DAYS = 30


def lineage_names(ids: list[int]) -> dict[int, list[str]]:
    """Each CA's names from its root down to itself: one query for a whole page of CAs."""
    return {start: [name for _, name, _ in reversed(chain)] for start, chain in services.lineages(ids).items()}


def request_base(request: HttpRequest) -> str:
    return request.build_absolute_uri("/").rstrip("/")


class PemDownloadsMixin:
    """`<id>/certificate.pem` and `<id>/chain.pem` for the objects the user may see, and the
    matching bulk actions. Subclasses say what the chain of one object is."""

    file_prefix: str

    def chain_pem(self, obj: Any) -> str:
        raise NotImplementedError

    def url_name(self, kind: str) -> str:
        return f"{self.opts.app_label}_{self.opts.model_name}_{kind}"  # type: ignore[attr-defined]

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view  # type: ignore[attr-defined]
        return [
            path("<path:object_id>/certificate.pem", wrap(self.certificate_view), name=self.url_name("certificate")),
            path("<path:object_id>/chain.pem", wrap(self.chain_view), name=self.url_name("chain")),
            *super().get_urls(),  # type: ignore[misc]
        ]

    def visible_object(self, request: HttpRequest, object_id: str) -> Any:
        obj = self.get_object(request, unquote(object_id))  # type: ignore[attr-defined]
        if obj is None or not self.has_view_permission(request, obj):  # type: ignore[attr-defined]
            raise Http404("Not found.")
        return obj

    def certificate_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self.visible_object(request, object_id)
        return pem_download(obj.certificate, f"{self.file_prefix}_{obj.pk}_certificate.pem")

    def chain_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        obj = self.visible_object(request, object_id)
        return pem_download(self.chain_pem(obj), f"{self.file_prefix}_{obj.pk}_chain.pem")

    def _bundle(self, queryset: QuerySet[Any], name: str, content: str) -> HttpResponse:
        ids = [obj.pk for obj in queryset]
        filename = f"{self.file_prefix}_{ids[0]}_{name}.pem" if len(ids) == 1 else f"{self.file_prefix}s_{name}.pem"
        return pem_download(content, filename)

    @admin.action(description="Download certificates (PEM)")
    def download_pem(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse:
        return self._bundle(queryset, "certificate", "".join(obj.certificate.strip() + "\n" for obj in queryset))

    @admin.action(description="Download certificates with their chains (PEM)")
    def download_chain(self, request: HttpRequest, queryset: QuerySet[Any]) -> HttpResponse:
        return self._bundle(queryset, "chain", "".join(self.chain_pem(obj) for obj in queryset))

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        """The organization column only for those who see more than one (superusers)."""
        columns = list(super().get_list_display(request))  # type: ignore[misc]
        return columns if can(request.user, Action.ORG_LIST_ALL) else [c for c in columns if c != "organization"]

    @admin.display(description="valid until", ordering="not_after")
    def valid_until(self, obj: Any) -> str:
        return f"{obj.not_after:%Y-%m-%d}"

    @admin.display(description="downloads")
    def downloads(self, obj: Any) -> str:
        return format_html(
            '<a class="button" href="{}" download>Certificate (PEM)</a> '
            '<a class="button" href="{}" download>Chain (PEM)</a>',
            reverse(f"admin:{self.url_name('certificate')}", args=[obj.pk]),
            reverse(f"admin:{self.url_name('chain')}", args=[obj.pk]),
        )


# ---------------------------------------------------------------------------------------------
# Certificate authorities


class CACreateForm(ServiceForm, forms.Form):
    """What `POST /api/v1/cas` takes, saved by `services.ca_create` (which makes a whole CA or none)."""

    error_fields: ClassVar[dict[str, str]] = {"parent_ca_id": "parent"}

    LEAF_CHOICES = [("", "Default: yes, until it gets a child CA"), ("yes", "Yes"), ("no", "No")]

    name = forms.CharField(max_length=255)
    subject_dn = forms.CharField(
        max_length=2048, label="Subject DN", help_text="RFC 4514, for example CN=Example Root CA,O=Example,C=US"
    )
    description = forms.CharField(required=False, max_length=10000, widget=forms.Textarea(attrs={"rows": 2}))
    parent = forms.ModelChoiceField(
        queryset=CertificateAuthority.objects.none(),
        required=False,
        empty_label="None: a self-signed root CA",
        label="Parent CA",
        help_text="Choose one to make an intermediate CA, signed by it.",
    )
    path_length = forms.IntegerField(
        required=False,
        min_value=0,
        max_value=32,
        help_text="Default: unlimited for a root; the parent's minus one for an intermediate.",
    )
    allow_leaf_certs = forms.TypedChoiceField(
        choices=LEAF_CHOICES, coerce=lambda value: value == "yes", empty_value=None, required=False
    )
    key_algorithm = forms.ChoiceField(choices=KeyAlgorithm.choices, initial=KeyAlgorithm.RSA)
    key_size = forms.IntegerField(required=False)
    valid_days = forms.IntegerField(required=False, min_value=1, max_value=36500)
    crl_base_url = forms.CharField(
        required=False,
        max_length=MAX_BASE_URL,
        label="CRL base URL",
        help_text="Base of the CRL, CA and OCSP addresses written into the certificates it signs: an http:// "
        "or https:// URL (an internationalized host is stored in its xn-- form).",
    )

    def __init__(self, *args: Any, parents: QuerySet[CertificateAuthority], request_base: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.request_base = request_base
        parent = self.fields["parent"]
        assert isinstance(parent, forms.ModelChoiceField)
        parent.queryset = parents
        self.fields[
            "key_size"
        ].help_text = (
            f"RSA: bits (default {settings.CA_KEY_SIZE}). ECDSA: the curve, 256, 384 or 521. Ed25519: leave empty."
        )
        self.fields[
            "valid_days"
        ].help_text = f"Default {settings.CA_CERT_DAYS}. An intermediate never outlives its parent: longer is capped."

    def clean_crl_base_url(self) -> str | None:
        try:
            return normalize_crl_base_url(self.cleaned_data["crl_base_url"])
        except InvalidURL as exc:
            raise forms.ValidationError(exc.message) from None

    def run_service(self) -> services.Issued:
        try:
            return services.ca_create(actor=self.actor, data=self.ca_request(), request_base=self.request_base)
        except X509Error as exc:  # a parent's crl_base_url stored before it was checked
            raise Invalid(f"{exc.field}: {exc.message}" if exc.field else exc.message) from None

    def ca_request(self) -> services.CARequest:
        data = self.cleaned_data
        return services.CARequest(
            name=data["name"],
            subject_dn=data["subject_dn"],
            description=data["description"] or None,
            key_algorithm=data["key_algorithm"],
            key_size=data["key_size"],
            valid_days=data["valid_days"],
            parent_ca_id=data["parent"].pk if data["parent"] else None,
            path_length=data["path_length"],
            allow_leaf_certs=data["allow_leaf_certs"],
            crl_base_url=data["crl_base_url"] or None,
        )


CA_FORM_FIELDSETS = [
    (None, {"fields": ["name", "subject_dn", "description"]}),
    ("Hierarchy", {"fields": ["parent", "path_length", "allow_leaf_certs"]}),
    ("Key and validity", {"fields": ["key_algorithm", "key_size", "valid_days"]}),
    ("Publication", {"fields": ["crl_base_url"]}),
]


@admin.register(CertificateAuthority)
class CertificateAuthorityAdmin(PemDownloadsMixin, PolicyAdmin):
    scope = "ca"
    view_action = Action.CA_VIEW
    add_action = Action.CA_CREATE
    delete_action = Action.CA_DELETE  # no change: a CA is made whole and kept as made
    file_prefix = "ca"

    list_display = [
        "tree_name", "parent", "depth", "children_count", "certificates_count", "allow_leaf_certs", "valid_until",
        "key", "organization",
    ]  # fmt: skip
    list_filter = [("organization", admin.RelatedOnlyFieldListFilter), "key_algorithm", "allow_leaf_certs"]
    list_select_related = ["parent", "organization"]
    search_fields = ["name", "subject_dn", "serial_number"]
    ordering = ["id"]
    actions = ["revoke_at_parent", "acme_on", "acme_off", "download_pem", "download_chain"]
    fieldsets = [
        ("Certificate authority", {"fields": ["name", "description", "subject_dn", "organization", "created_by_user"]}),
        ("Revocation", {"fields": ["revoked_at", "revocation_reason"]}),
        ("Hierarchy", {"fields": ["chain", "parent", "depth", "children", "path_length", "allow_leaf_certs"]}),
        ("Key and validity", {"fields": ["key", "serial_number", "not_before", "not_after", "validity"]}),
        ("Issued", {"fields": ["issued"]}),
        ("Publication", {"fields": ["crl_base_url", "public_urls"]}),
        (
            "ACME (turned on and off by the list's actions, or PATCH /api/v1/cas/{id})",
            {"fields": ["acme_enabled", "acme_eab_required", "acme_max_validity_days"]},
        ),
        ("Certificate", {"fields": ["downloads", "certificate", "created_at", "updated_at"]}),
    ]
    readonly_fields = [
        "name", "description", "subject_dn", "organization", "created_by_user", "chain", "parent", "depth",
        "children", "path_length", "allow_leaf_certs", "key", "serial_number", "not_before", "not_after",
        "validity", "issued", "crl_base_url", "public_urls", "downloads", "certificate", "created_at", "updated_at",
        "revoked_at", "revocation_reason", "acme_enabled", "acme_eab_required", "acme_max_validity_days",
    ]  # fmt: skip

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return self.allowed(request, Action.CA_REVOKE)

    @admin.action(description="Revoke at the parent CA…", permissions=["revoke"])
    def revoke_at_parent(self, request: HttpRequest, queryset: QuerySet[CertificateAuthority]) -> HttpResponse | None:
        def revoke(ca: CertificateAuthority, reason: str, comment: str) -> None:
            services.ca_revoke(actor=acting(request.user), ca=ca, reason=reason, comment=comment)

        return revoke_page(
            self, request, queryset, action="revoke_at_parent", noun="certificate authority", revoke=revoke
        )

    def has_acme_permission(self, request: HttpRequest) -> bool:
        return self.allowed(request, Action.CA_UPDATE)

    @admin.action(description="Turn ACME on", permissions=["acme"])
    def acme_on(self, request: HttpRequest, queryset: QuerySet[CertificateAuthority]) -> None:
        self._set_acme(request, queryset, on=True)

    @admin.action(description="Turn ACME off", permissions=["acme"])
    def acme_off(self, request: HttpRequest, queryset: QuerySet[CertificateAuthority]) -> None:
        self._set_acme(request, queryset, on=False)

    def _set_acme(self, request: HttpRequest, queryset: QuerySet[CertificateAuthority], *, on: bool) -> None:
        """`ca_update` on each CA (the policy and the audit log apply); refusals are named."""
        done = 0
        for ca in queryset:
            try:
                services.ca_update(actor=acting(request.user), ca=ca, changes={"acme_enabled": on})
            except DomainError as exc:
                self.message_user(request, f"{ca.name}: {exc.detail}", messages.ERROR)
            else:
                done += 1
        if done:
            self.message_user(request, f"ACME is {'on' if on else 'off'} for {done} CA(s).", messages.SUCCESS)

    def get_queryset(self, request: HttpRequest) -> QuerySet[CertificateAuthority]:
        return (
            super()
            .get_queryset(request)
            .annotate(child_count=count_of(CertificateAuthority, "parent"), cert_count=count_of(Certificate, "issuer"))
        )

    def get_changelist_instance(self, request: HttpRequest) -> Any:
        changelist = super().get_changelist_instance(request)
        found = lineage_names([ca.pk for ca in changelist.result_list])
        for ca in changelist.result_list:  # the same cached rows the page then shows
            ca.lineage = found.get(ca.pk, [ca.name])
        return changelist

    def chain_pem(self, obj: CertificateAuthority) -> str:
        return "".join(ca.certificate.strip() + "\n" for ca in services.ca_chain(obj))

    # --- columns and fields -------------------------------------------------------------------

    def _lineage(self, obj: ListedCA) -> list[str]:
        if not hasattr(obj, "lineage"):
            obj.lineage = lineage_names([obj.pk]).get(obj.pk, [obj.name])
        return obj.lineage

    @admin.display(description="name", ordering="name")
    def tree_name(self, obj: ListedCA) -> str:
        depth = len(self._lineage(obj)) - 1
        return format_html('<span style="padding-left: {}em">{}{}</span>', depth * 1.2, "↳ " if depth else "", obj.name)

    @admin.display(description="depth")
    def depth(self, obj: ListedCA) -> int:
        return len(self._lineage(obj)) - 1

    @admin.display(description="chain")
    def chain(self, obj: ListedCA) -> str:
        return " → ".join(self._lineage(obj))

    @admin.display(description="child CAs", ordering="child_count")
    def children_count(self, obj: ListedCA) -> int:
        return obj.child_count

    @admin.display(description="certificates", ordering="cert_count")
    def certificates_count(self, obj: ListedCA) -> int:
        return obj.cert_count

    @admin.display(description="child CAs")
    def children(self, obj: CertificateAuthority) -> str:
        rows = obj.children.order_by("name").values_list("pk", "name")
        if not rows:
            return "none"
        url = "admin:certificates_certificateauthority_change"
        return format_html_join(", ", '<a href="{}">{}</a>', ((reverse(url, args=[pk]), name) for pk, name in rows))

    @admin.display(description="key")
    def key(self, obj: CertificateAuthority) -> str:
        return f"{obj.get_key_algorithm_display()} {obj.key_size}"

    @admin.display(description="validity")
    def validity(self, obj: CertificateAuthority) -> str:
        now = timezone.now()
        if obj.not_after <= now:
            return "expired"
        return f"valid, {(obj.not_after - now).days} days left"

    @admin.display(description="certificates issued")
    def issued(self, obj: ListedCA) -> str:
        url = reverse("admin:certificates_certificate_changelist") + f"?issuer__id__exact={obj.pk}"
        return format_html('<a href="{}">{} certificate(s)</a>', url, obj.cert_count)

    @admin.display(description="public URLs")
    def public_urls(self, obj: CertificateAuthority) -> str:
        links = [
            ("CRL", reverse("crl-der", args=[obj.slug])),
            ("CRL (PEM)", reverse("crl-pem", args=[obj.slug])),
            ("CA certificate", reverse("ca-der", args=[obj.slug])),
            ("OCSP", reverse("ocsp", args=[obj.slug])),
        ]
        return format_html_join(" · ", '<a href="{1}">{0}</a>', links)

    # --- add: a plain form and the API's service ----------------------------------------------

    def add_view(self, request: HttpRequest, form_url: str = "", extra_context: Any = None) -> HttpResponse:
        if not self.has_add_permission(request):
            raise PermissionDenied
        parents = CertificateAuthority.objects.filter(visible_q(request.user, self.scope)).order_by("name")
        form = for_actor(CACreateForm, request)(
            request.POST if request.method == "POST" else None, parents=parents, request_base=request_base(request)
        )
        if request.method == "POST" and form.is_valid():
            return self._created(request, form.result)
        # Any form will do, as in Django's own password page; django-stubs asks for a ModelForm.
        adminform = helpers.AdminForm(form, CA_FORM_FIELDSETS, {})  # type: ignore[arg-type]
        context = {
            **self.admin_site.each_context(request),
            "title": "Add certificate authority",
            "subtitle": None,
            "adminform": adminform,
            "object_id": None,
            "original": None,
            "is_popup": False,
            "to_field": None,
            "media": self.media + adminform.media,
            "inline_admin_formsets": [],
            "errors": helpers.AdminErrorList(form, []),  # type: ignore[arg-type]  # as AdminForm above
            "preserved_filters": self.get_preserved_filters(request),
            **(extra_context or {}),
        }
        return self.render_change_form(request, context, add=True, form_url=form_url)

    def _created(self, request: HttpRequest, issued: services.Issued) -> HttpResponse:
        ca = issued.obj
        self.log_addition(request, ca, [{"added": {}}])
        kind = "root" if ca.parent_id is None else "intermediate"
        self.message_user(request, f"The {kind} CA “{ca.name}” was created.", messages.SUCCESS)
        for warning in issued.warnings:
            self.message_user(request, warning, messages.WARNING)
        if "_addanother" in request.POST:
            return HttpResponseRedirect(request.path)
        return HttpResponseRedirect(self.change_url(ca.pk))

    # --- delete: through ca_delete, which refuses while children exist --------------------------

    def get_deleted_objects(self, objs: Any, request: HttpRequest) -> tuple[list[Any], dict[str, int], set[str], list]:
        items: list[Any] = []
        certificates = 0
        for ca in objs:
            count = ca.certificates.count()
            certificates += count
            items += [f"Certificate authority: {ca}", f"{count} certificate(s) it issued"]
            if children := ca.children.count():
                items.append(f"It still has {children} child CA(s): those must be deleted first.")
        return items, {"certificate authorities": len(objs), "certificates": certificates}, set(), []

    def delete_model(self, request: HttpRequest, obj: CertificateAuthority) -> None:
        services.ca_delete(actor=acting(request.user), ca=obj)


# ---------------------------------------------------------------------------------------------
# Certificates


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("valid", "Valid"),
            ("expiring", f"Expiring within {EXPIRING_DAYS} days"),
            ("expired", "Expired"),
            ("revoked", "Revoked"),
        ]

    def queryset(self, request: HttpRequest, queryset: Any) -> QuerySet[Certificate]:
        if self.value() == "expiring":
            return queryset.expiring_within(EXPIRING_DAYS)
        if self.value() in CertificateStatus.values:
            return queryset.with_status(self.value())
        return queryset


class RevokeForm(forms.Form):
    REASONS = [
        ("unspecified", "Unspecified"),
        ("key_compromise", "Key compromise"),
        ("ca_compromise", "CA compromise"),
        ("affiliation_changed", "Affiliation changed"),
        ("superseded", "Superseded"),
        ("cessation_of_operation", "Cessation of operation"),
        ("privilege_withdrawn", "Privilege withdrawn"),
        ("aa_compromise", "AA compromise"),
    ]  # RFC 5280 §5.3.1, but removeFromCRL (delta CRLs only) and certificateHold (no un-revoke here)

    reason = forms.ChoiceField(choices=REASONS, help_text="RFC 5280 reason code, written into the CRL.")
    comment = forms.CharField(
        required=False, max_length=200, help_text="Free text kept with the revocation and in the audit log."
    )


def revoke_page(
    model_admin: Any,
    request: HttpRequest,
    queryset: QuerySet[Any],
    *,
    action: str,
    noun: str,
    revoke: Callable[[Any, str, str], None],
) -> HttpResponse | None:
    """The "revoke with reason" admin action: a page asking why, then `revoke` on each object."""
    form = RevokeForm(request.POST if "confirm" in request.POST else None)
    if form.is_valid():
        revoked = 0
        for obj in queryset:
            try:
                revoke(obj, form.cleaned_data["reason"], form.cleaned_data["comment"])
            except Conflict as exc:
                model_admin.message_user(request, f"{obj}: {exc.detail}", messages.WARNING)
            except DomainError as exc:
                model_admin.message_user(request, f"{obj}: {exc.detail}", messages.ERROR)
            else:
                revoked += 1
        if revoked:
            model_admin.message_user(
                request,
                f"Revoked {revoked} {noun}(s); OCSP says so now, the CRLs from their next fetch.",
                messages.SUCCESS,
            )
        return None  # back to the list
    context = {
        **model_admin.admin_site.each_context(request),
        "title": f"Revoke {noun}s",
        "noun": noun,
        "opts": model_admin.opts,
        "queryset": queryset,
        "form": form,
        "action": action,
        "action_checkbox_name": helpers.ACTION_CHECKBOX_NAME,
        "media": model_admin.media,
    }
    request.current_app = model_admin.admin_site.name
    return TemplateResponse(request, "admin/certificates/revoke_with_reason.html", context)


STATUS_COLOURS = {"valid": "#2e7d32", "revoked": "#c62828", "expired": "#757575"}


@admin.register(Certificate)
class CertificateAdmin(PemDownloadsMixin, PolicyAdmin):
    scope = "certificate"
    view_action = Action.CERT_VIEW  # issued through the API; revoked by the action below
    file_prefix = "certificate"

    list_display = [
        "common_name", "status_label", "certificate_type", "issuer", "valid_until", "serial", "organization",
    ]  # fmt: skip
    list_filter = [
        StatusFilter, "certificate_type", ("issuer", admin.RelatedOnlyFieldListFilter),
        ("organization", admin.RelatedOnlyFieldListFilter),
    ]  # fmt: skip
    list_select_related = ["issuer", "organization"]
    search_fields = [
        "common_name", "subject_dn", "serial_number", "san_dns_names", "san_ip_addresses", "san_email_addresses",
    ]  # fmt: skip
    ordering = ["-id"]
    actions = ["revoke_with_reason", "download_pem", "download_chain"]
    fieldsets = [
        (None, {"fields": ["common_name", "subject_dn", "certificate_type", "status_label", "organization"]}),
        ("Issuer", {"fields": ["issuer", "created_by_user", "renewed_from", "from_csr"]}),
        ("Subject alternative names", {"fields": ["san_dns_names", "san_ip_addresses", "san_email_addresses"]}),
        ("Key and validity", {"fields": ["key", "serial_number", "not_before", "not_after"]}),
        ("Revocation", {"fields": ["revoked_at", "revocation_reason", "revocation_reason_code"]}),
        ("Certificate", {"fields": ["downloads", "key_download", "certificate", "created_at"]}),
    ]
    readonly_fields = [
        "common_name", "subject_dn", "certificate_type", "status_label", "organization", "issuer",
        "created_by_user", "renewed_from", "from_csr", "san_dns_names", "san_ip_addresses", "san_email_addresses",
        "key", "serial_number", "not_before", "not_after", "revoked_at", "revocation_reason",
        "revocation_reason_code", "downloads", "key_download", "certificate", "created_at",
    ]  # fmt: skip

    def chain_pem(self, obj: Certificate) -> str:
        return services.certificate_chain_pem(obj)

    def has_revoke_permission(self, request: HttpRequest) -> bool:
        return self.allowed(request, Action.CERT_REVOKE)

    def get_urls(self) -> list[Any]:
        wrap = self.admin_site.admin_view
        return [
            path(
                "<path:object_id>/private-key/",
                wrap(self.private_key_view),
                name="certificates_certificate_private_key",
            ),
            *super().get_urls(),
        ]

    def get_search_results(
        self, request: HttpRequest, queryset: QuerySet[Certificate], search_term: str
    ) -> tuple[QuerySet[Certificate], bool]:
        """Names, SANs and serials; a serial also matches typed with colons, capitals or zeros."""
        results, may_have_duplicates = super().get_search_results(request, queryset, search_term)
        serial = serial_from_hex(search_term.strip().replace(":", "").lstrip("0"))  # openssl prints "00:…"
        if serial is not None:
            results |= queryset.filter(serial_number=serial_to_hex(serial))
        return results, may_have_duplicates

    # --- columns and fields -------------------------------------------------------------------

    @admin.display(description="status")
    def status_label(self, obj: Certificate) -> str:
        status = obj.status
        return format_html('<strong style="color: {}">{}</strong>', STATUS_COLOURS[status], status)

    @admin.display(description="serial number", ordering="serial_number")
    def serial(self, obj: Certificate) -> str:
        short = obj.serial_number if len(obj.serial_number) <= 16 else obj.serial_number[:16] + "…"
        return format_html('<code title="{}">{}</code>', obj.serial_number, short)

    @admin.display(description="key")
    def key(self, obj: Certificate) -> str:
        return f"{obj.get_key_algorithm_display()} {obj.key_size}"

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> _FieldsetSpec:
        """The private-key button only for those the policy lets download it."""
        fieldsets = super().get_fieldsets(request, obj)
        if obj is not None and can(request.user, Action.CERT_EXPORT_KEY, obj):
            return fieldsets
        return [
            (name, {**opts, "fields": [f for f in opts["fields"] if f != "key_download"]}) for name, opts in fieldsets
        ]

    @admin.display(description="private key")
    def key_download(self, obj: Certificate) -> str:
        """A button (a POST, since each download is audited); the key itself is never on a page."""
        if not obj.private_key:
            return "not stored (issued from a CSR, or not kept)"
        return format_html(
            '<button type="submit" class="button" formaction="{}" formmethod="post" formnovalidate>'
            "Download private key (PEM, audited)</button>",
            reverse("admin:certificates_certificate_private_key", args=[obj.pk]),
        )

    # --- actions and the private key ----------------------------------------------------------

    @admin.action(description="Revoke with reason…", permissions=["revoke"])
    def revoke_with_reason(self, request: HttpRequest, queryset: QuerySet[Certificate]) -> HttpResponse | None:
        def revoke(cert: Certificate, reason: str, comment: str) -> None:
            services.certificate_revoke(actor=acting(request.user), cert=cert, reason=reason, comment=comment)

        return revoke_page(
            self, request, queryset.select_related("issuer"), action="revoke_with_reason",
            noun="certificate", revoke=revoke,
        )  # fmt: skip

    def private_key_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if request.method != "POST":
            return HttpResponseNotAllowed(["POST"])
        cert = self.visible_object(request, object_id)
        try:
            key_pem = services.certificate_private_key(
                actor=acting(request.user), cert=cert, purpose="PEM, admin console"
            )
        except PolicyDenied:
            raise PermissionDenied from None
        except NotFound as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            return HttpResponseRedirect(self.change_url(cert.pk))
        return pem_download(key_pem, f"certificate_{cert.pk}_private_key.pem")
