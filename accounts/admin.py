"""People in the admin console: scoped and permitted by the policy, saved through accounts.services."""

from __future__ import annotations

from types import MethodType
from typing import TYPE_CHECKING, Any

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.options import IS_POPUP_VAR
from django.contrib.admin.utils import unquote
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.admin import UserAdmin as DjangoUserAdmin
from django.contrib.auth.models import Group
from django.contrib.auth.views import PasswordChangeView
from django.core.exceptions import PermissionDenied
from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseBase, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.views.decorators.debug import sensitive_post_parameters

from accounts.actors import acting
from accounts.forms import (
    ConsoleLoginForm,
    OwnPasswordChangeForm,
    PasswordForm,
    UserChangeForm,
    UserCreateForm,
    UserFlagsForm,
)
from accounts.models import CAPABILITY_FLAGS, User
from accounts.policy import Action, can
from accounts.services import user_delete
from pkiserver.admin import PolicyAdmin, for_actor

if TYPE_CHECKING:
    from django.contrib.admin.options import _FieldsetSpec

admin.site.login_form = ConsoleLoginForm


def _password_change(site: admin.AdminSite, request: HttpRequest, extra_context: Any = None) -> HttpResponseBase:
    """The header's "Change password", saved by user_update (audited; the user's API sessions end).
    Django 5.2's AdminSite has no `password_change_form` setting yet, hence this view."""
    view = PasswordChangeView.as_view(
        form_class=OwnPasswordChangeForm,
        success_url=reverse("admin:password_change_done", current_app=site.name),
        extra_context={**site.each_context(request), **(extra_context or {})},
    )
    request.current_app = site.name
    return view(request)


# Replaces the one view on the site itself (mypy refuses any assignment to a method).
admin.site.password_change = MethodType(_password_change, admin.site)  # type: ignore[method-assign]
if admin.site.is_registered(Group):
    admin.site.unregister(Group)  # our users have roles and flags, not Django groups

USER_WRITES = (Action.USER_EDIT_PROFILE, Action.USER_SET_FLAGS, Action.USER_SET_ROLE)


@admin.register(User)
class UserAdmin(PolicyAdmin, DjangoUserAdmin):
    scope = "member"
    view_action = Action.ADMIN_VIEW_USER
    add_action = Action.USER_CREATE_IN_ORG
    delete_action = Action.USER_DELETE
    secret_fields = ("password",)

    form = UserChangeForm
    add_form = UserCreateForm
    change_user_password_template = "admin/accounts/user/change_password.html"
    list_display = ["username", "email", "role", "organization", "is_active", *CAPABILITY_FLAGS]
    list_editable = list(CAPABILITY_FLAGS)
    list_filter = ["role", "is_active", ("organization", admin.RelatedOnlyFieldListFilter), *CAPABILITY_FLAGS]
    list_select_related = ["organization"]
    search_fields = ["username", "email"]
    ordering = ["id"]
    filter_horizontal = ()

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return any(self.allowed(request, action, obj) for action in USER_WRITES)

    def get_list_display(self, request: HttpRequest) -> list[Any]:
        """The organization column and filter only for those who see more than one (superusers)."""
        return self._without_organization(request, self.list_display)

    def get_list_filter(self, request: HttpRequest) -> list[Any]:
        return self._without_organization(request, self.list_filter)

    def _without_organization(self, request: HttpRequest, columns: Any) -> list[Any]:
        if can(request.user, Action.ORG_LIST_ALL):
            return list(columns)
        return [c for c in columns if c != "organization" and not (isinstance(c, tuple) and c[0] == "organization")]

    def get_fieldsets(self, request: HttpRequest, obj: Any = None) -> _FieldsetSpec:
        actor = request.user
        if obj is None:  # an admin's new users join the admin's organization (user_create)
            fields = ["username", "email", "password1", "password2"]
            fields += ["role"] if can(actor, Action.USER_CREATE_PRIVILEGED) else []
            fields += ["organization"] if can(actor, Action.USER_SET_ROLE) else []
            return [
                (None, {"classes": ["wide"], "fields": tuple(fields)}),
                ("Capabilities", {"fields": CAPABILITY_FLAGS}),
            ]
        # The password hash is shown (masked) only beside the link that changes it.
        password = ["password"] if can(actor, Action.USER_EDIT_PROFILE, obj) else []
        return [
            (None, {"fields": ["username", "email", *password]}),
            ("Role and organization", {"fields": ["role", "is_active", "organization"]}),
            ("Capabilities", {"fields": CAPABILITY_FLAGS}),
            ("Dates", {"fields": ["last_login", "created_at", "updated_at"]}),
        ]

    def get_readonly_fields(self, request: HttpRequest, obj: Any = None) -> list[str]:
        """Fields the actor could not change through the API are shown, never offered."""
        if obj is None:
            return []
        readonly = ["username", "last_login", "created_at", "updated_at"]
        if not can(request.user, Action.USER_EDIT_PROFILE, obj):
            readonly.append("email")
        if not can(request.user, Action.USER_SET_ROLE, obj):
            readonly += ["role", "is_active", "organization"]
        if not can(request.user, Action.USER_SET_FLAGS, obj):
            readonly += CAPABILITY_FLAGS
        return readonly

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any) -> Any:
        return for_actor(super().get_form(request, obj, change=change, **kwargs), request)

    def get_changelist_form(self, request: HttpRequest, **kwargs: Any) -> Any:
        return for_actor(UserFlagsForm, request)

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        """Rows are saved while the list is validated (UserFlagsForm): when one is refused, keep none."""
        if request.method != "POST" or "_save" not in request.POST:
            return super().changelist_view(request, extra_context)
        with transaction.atomic():
            response = super().changelist_view(request, extra_context)
            if response.status_code == 200:  # the list came back with errors instead of a redirect
                transaction.set_rollback(True)
        return response

    def save_model(self, request: HttpRequest, obj: Any, form: Any, change: bool) -> None:
        """Already saved: the form called user_create or user_update."""

    def delete_model(self, request: HttpRequest, obj: Any) -> None:
        user_delete(actor=acting(request.user), user=obj)

    @method_decorator(sensitive_post_parameters())
    def user_change_password(self, request: HttpRequest, id: str, form_url: str = "") -> HttpResponse:
        """Django's password form and page, saved by user_update."""
        user = self.get_object(request, unquote(id))
        if user is None:
            # Django's own helper for a missing object, left out of django-stubs.
            return self._get_obj_does_not_exist_redirect(request, self.opts, id)  # type: ignore[attr-defined]
        if not can(request.user, Action.USER_EDIT_PROFILE, user):
            raise PermissionDenied
        form = for_actor(PasswordForm, request)(user, request.POST if request.method == "POST" else None)
        if request.method == "POST":
            with transaction.atomic():
                if form.is_valid():
                    self.log_change(request, user, [{"changed": {"fields": ["password"]}}])
                    messages.success(request, "Password changed successfully; the user's API sessions have ended.")
                    update_session_auth_hash(request, form.result)  # changing one's own: stay signed in
                    return HttpResponseRedirect(self.change_url(user.pk))
        context = {
            **self.admin_site.each_context(request),
            "title": f"Change password: {user.get_username()}",
            # Any form will do, as in Django's own password page; django-stubs asks for a ModelForm.
            "adminForm": helpers.AdminForm(form, [(None, {"fields": list(form.fields)})], {}),  # type: ignore[arg-type]
            "form_url": form_url,
            "form": form,
            "is_popup": IS_POPUP_VAR in request.POST or IS_POPUP_VAR in request.GET,
            "is_popup_var": IS_POPUP_VAR,
            "add": True,
            "change": False,
            "has_delete_permission": False,
            "has_change_permission": True,
            "has_absolute_url": False,
            "opts": self.opts,
            "original": user,
            "save_as": False,
            "show_save": True,
        }
        request.current_app = self.admin_site.name
        return TemplateResponse(request, self.change_user_password_template, context)
