"""Organizations in the admin console: members, CA and certificate counts, saved through orgs.services."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeAlias, TypedDict

from django import forms
from django.contrib import admin
from django.db.models import Count, IntegerField, Model, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.http import HttpRequest

from accounts.actors import acting
from accounts.models import User
from accounts.policy import Action, can
from certificates.models import Certificate, CertificateAuthority
from orgs.models import Organization
from orgs.services import organization_create, organization_delete, organization_update
from pkiserver.admin import PolicyAdmin, ServiceForm, for_actor

if TYPE_CHECKING:
    from django.contrib.admin.options import InlineModelAdmin
    from django_stubs_ext import WithAnnotations

    class _Counts(TypedDict):
        member_count: int
        ca_count: int
        certificate_count: int

    # An organization as OrganizationAdmin.get_queryset gives it.
    CountedOrganization: TypeAlias = WithAnnotations[Organization, _Counts]


def count_of(model: type[Model], field: str = "organization") -> Coalesce:
    """How many `model` rows point at the outer row: a subquery, so counts never multiply."""
    rows = model._default_manager.filter(**{field: OuterRef("pk")}).order_by().values(field)
    return Coalesce(Subquery(rows.annotate(n=Count("pk")).values("n"), output_field=IntegerField()), 0)


class OrganizationForm(ServiceForm, forms.ModelForm):
    class Meta:
        model = Organization
        fields = ["name", "description"]

    def run_service(self) -> Organization:
        data = {name: self.cleaned_data[name] for name in self.changed_data}
        if self.instance.pk is None:
            return organization_create(actor=self.actor, name=data["name"], description=data.get("description"))
        current = Organization.objects.get(pk=self.instance.pk)
        return organization_update(actor=self.actor, org=current, data=data)


class MembersInline(admin.TabularInline):
    """The organization's people, read-only: roles and flags are changed on each user's page."""

    model = User
    fk_name = "organization"
    fields = readonly_fields = ("username", "email", "role", "is_active")
    extra = 0
    can_delete = False
    show_change_link = True
    verbose_name_plural = "members"

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        """`obj` is the organization (None: the user's own, as Django asks when it builds the rows)."""
        target = obj if obj is not None else Organization(pk=acting(request.user).organization_id)
        return can(request.user, Action.ORG_VIEW_MEMBERS, target)

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Organization)
class OrganizationAdmin(PolicyAdmin):
    scope = "organization"
    view_action = Action.ORG_VIEW
    add_action = Action.ORG_CREATE
    change_action = Action.ORG_UPDATE
    delete_action = Action.ORG_DELETE

    form = OrganizationForm
    inlines = [MembersInline]
    list_display = ["name", "description", "members", "cas", "certificates", "created_at"]
    search_fields = ["name", "description"]
    ordering = ["id"]
    readonly_fields = ["members", "cas", "certificates", "created_at", "updated_at"]
    fields = ["name", "description", "members", "cas", "certificates", "created_at", "updated_at"]

    def own_target(self, request: HttpRequest) -> Organization:
        return Organization(pk=acting(request.user).organization_id)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Organization]:
        return (
            super()
            .get_queryset(request)
            .annotate(
                member_count=count_of(User),
                ca_count=count_of(CertificateAuthority),
                certificate_count=count_of(Certificate),
            )
        )

    def get_inlines(self, request: HttpRequest, obj: Any) -> list[type[InlineModelAdmin[Any, Any]]]:
        return list(self.inlines) if obj is not None else []

    def get_fields(self, request: HttpRequest, obj: Any = None) -> list[Any]:
        return list(self.fields) if obj is not None else ["name", "description"]

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        return for_actor(super().get_form(request, obj, change=change, **kwargs), request)

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Already saved: the form called organization_create or organization_update."""

    def delete_model(self, request: HttpRequest, obj: Organization) -> None:
        organization_delete(actor=acting(request.user), org=obj)

    @admin.display(description="members", ordering="member_count")
    def members(self, obj: CountedOrganization) -> int:
        return obj.member_count

    @admin.display(description="CAs", ordering="ca_count")
    def cas(self, obj: CountedOrganization) -> int:
        return obj.ca_count

    @admin.display(description="certificates", ordering="certificate_count")
    def certificates(self, obj: CountedOrganization) -> int:
        return obj.certificate_count
