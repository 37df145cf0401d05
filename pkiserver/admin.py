"""The admin console's base classes: every row, page and form asks accounts.policy (SPEC §14)."""

from __future__ import annotations

from typing import Any, ClassVar, TypeVar, cast

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.db import transaction
from django.db.models import Model, QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from accounts.actors import acting
from accounts.policy import Action, can, visible_q
from pkiserver.errors import DomainError

admin.site.site_header = "pkiserver console"
admin.site.site_title = "pkiserver console"
admin.site.index_title = "Certificate authorities, certificates and the people who run them"
admin.site.site_url = None  # no public site to link to: the API lives under /api/v1
# Deletions go one object at a time through the services, which refuse what must not go.
admin.site.disable_action("delete_selected")


class PolicyAdmin(admin.ModelAdmin):
    """Rows come from `visible_q(user, scope)`; each permission is `can(user, action, obj)`.

    An action left at None is refused to everyone. Without an object, a permission means "on an
    object of the user's own organization" (`own_target`), which is what the list pages ask.
    Objects outside the scope are never fetched, so their pages answer Django's "does not exist".
    """

    scope: ClassVar[str]
    view_action: ClassVar[Action | None] = None
    add_action: ClassVar[Action | None] = None
    change_action: ClassVar[Action | None] = None
    delete_action: ClassVar[Action | None] = None
    # Lookups a URL may not filter on: a query string must not become an oracle for a secret.
    secret_fields: ClassVar[tuple[str, ...]] = ("private_key",)

    def get_queryset(self, request: HttpRequest) -> QuerySet[Any]:
        return super().get_queryset(request).filter(visible_q(request.user, self.scope))

    def own_target(self, request: HttpRequest) -> Model:
        return self.model(organization_id=acting(request.user).organization_id)

    def allowed(self, request: HttpRequest, action: Action | None, obj: Any = None) -> bool:
        if action is None or not can(request.user, Action.ADMIN_CONSOLE):
            return False
        return can(request.user, action, self.own_target(request) if obj is None else obj)

    def has_module_permission(self, request: HttpRequest) -> bool:
        return can(request.user, Action.ADMIN_CONSOLE)

    def has_view_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allowed(request, self.view_action, obj)

    def has_add_permission(self, request: HttpRequest, *args: Any) -> bool:
        return self.allowed(request, self.add_action)

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allowed(request, self.change_action, obj)

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return self.allowed(request, self.delete_action, obj)

    def lookup_allowed(self, lookup: str, value: str, request: HttpRequest) -> bool:
        if lookup.split("__")[0] in self.secret_fields:
            return False
        return super().lookup_allowed(lookup, value, request)

    def delete_view(self, request: HttpRequest, object_id: str, extra_context: Any = None) -> HttpResponse:
        """The service refuses what may not go (a CA with children, the last superuser…): say why."""
        try:
            return super().delete_view(request, object_id, extra_context)
        except DomainError as exc:
            self.message_user(request, exc.detail, messages.ERROR)
            return HttpResponseRedirect(self.change_url(unquote(object_id)))

    def response_delete(self, request: HttpRequest, obj_display: str, obj_id: Any) -> HttpResponse:
        """Back to the list (Django goes to the index when the model has no change permission)."""
        response = super().response_delete(request, obj_display, obj_id)
        if response.get("Location") == reverse("admin:index") and self.has_view_permission(request):
            response["Location"] = reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_changelist")
        return response

    def change_url(self, pk: Any) -> str:
        return reverse(f"admin:{self.opts.app_label}_{self.opts.model_name}_change", args=[pk])


class ServiceForm(forms.BaseForm):
    """A form whose last validation step is the service call that saves it.

    The service checks the policy and the invariants (and audits), so its refusals become form
    errors; the admin view's transaction makes the save atomic with the admin's log entry.
    Subclasses implement `run_service`; the admin sets `actor` on a per-request subclass.
    """

    actor: Any = None
    result: Any = None
    error_fields: ClassVar[dict[str, str]] = {}  # service field name -> form field name

    def run_service(self) -> Any:
        raise NotImplementedError

    def _post_clean(self) -> None:
        super()._post_clean()  # type: ignore[misc]
        if self.errors or not self.has_changed():
            return
        try:
            with transaction.atomic():
                self.result = self.run_service()
        except DomainError as exc:
            name = self.error_fields.get(exc.field or "", exc.field)
            self.add_error(name if name in self.fields else None, exc.detail)

    def save(self, commit: bool = True) -> Any:
        return self.result if self.result is not None else getattr(self, "instance", None)

    def save_m2m(self) -> None:
        """Nothing to do: the service saved everything."""


_Form = TypeVar("_Form", bound=forms.BaseForm)


def for_actor(form_class: type[_Form], request: HttpRequest) -> type[_Form]:
    """A subclass of `form_class` acting for this request's user (a class per request: no sharing)."""
    return cast("type[_Form]", type(form_class.__name__, (form_class,), {"actor": request.user}))
