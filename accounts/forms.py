"""Admin console forms: sign-in, and user forms that save through accounts.services."""

from __future__ import annotations

from types import SimpleNamespace
from typing import TYPE_CHECKING, Any, cast

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.admin.forms import AdminPasswordChangeForm as OwnPasswordForm
from django.contrib.auth.forms import AdminPasswordChangeForm, AuthenticationForm, UserCreationForm
from django.contrib.auth.forms import UserChangeForm as DjangoUserChangeForm
from django.core.exceptions import ValidationError

from accounts.models import CAPABILITY_FLAGS, Role, User
from accounts.policy import Action, can
from accounts.services import user_create, user_update
from accounts.throttling import LoginAddressThrottle, LoginUsernameThrottle
from audit.models import AuditAction
from audit.services import audit_record
from pkiserver.admin import ServiceForm

if TYPE_CHECKING:
    from rest_framework.request import Request
    from rest_framework.views import APIView


class ConsoleLoginForm(AdminAuthenticationForm):
    """The admin's sign-in: the API's login throttles and audit entries, and a plain refusal
    for accounts the console is not for (the API already tells them their password is right)."""

    error_messages = {
        **AdminAuthenticationForm.error_messages,
        "not_console_user": (
            "The account “%(username)s” cannot sign in to the admin console: it is for administrators "
            "and superusers. Use the API with this account instead."
        ),
        "throttled": "Too many sign-in attempts. Wait a minute and try again.",
    }

    def clean(self) -> dict[str, Any]:
        username = self.cleaned_data.get("username") or ""
        if self._throttled(username):
            raise ValidationError(self.error_messages["throttled"], code="throttled")
        try:
            cleaned = super().clean()
        except ValidationError as exc:
            self._audit_failure(username, refused=exc.code == "not_console_user")
            raise
        if self.user_cache is not None:
            user = self.user_cache
            audit_record(
                action=AuditAction.LOGIN_SUCCESS, actor=user, organization_id=user.organization_id,
                resource_type="user", resource_id=user.pk, detail="admin console login",
            )  # fmt: skip
        return cleaned

    def confirm_login_allowed(self, user: Any) -> None:
        AuthenticationForm.confirm_login_allowed(self, user)  # inactive accounts
        if not user.is_staff:
            raise ValidationError(
                self.error_messages["not_console_user"], code="not_console_user", params={"username": user.username}
            )

    def _throttled(self, username: str) -> bool:
        """The API's per-username and per-address budgets, shared with `POST /auth/token`."""
        request = self.request or SimpleNamespace(headers={}, META={})
        attempt = SimpleNamespace(data={"username": username}, headers=request.headers, META=request.META)
        # A stand-in for the API's request: the login throttles read only its data, headers and META.
        stand_in, no_view = cast("Request", attempt), cast("APIView", None)
        return not all(
            throttle().allow_request(stand_in, no_view) for throttle in (LoginAddressThrottle, LoginUsernameThrottle)
        )

    def _audit_failure(self, username: str, *, refused: bool) -> None:
        known = User.objects.filter(username=username).only("pk", "organization_id").first()
        audit_record(
            action=AuditAction.LOGIN_FAILURE, username=username[:150],
            organization_id=known.organization_id if known else None, resource_type="user",
            resource_id=known.pk if known else None,
            detail="admin console login refused: not an administrator" if refused else "admin console login failed",
        )  # fmt: skip


class UserCreateForm(ServiceForm, UserCreationForm):
    """A new person, made by `user_create` (the admin's fieldsets decide which fields exist)."""

    error_fields = {"organization_id": "organization"}

    class Meta(UserCreationForm.Meta):
        model = User
        fields = ("username", "email", "role", "organization", *CAPABILITY_FLAGS)

    def run_service(self) -> User:
        data = self.cleaned_data
        organization = data.get("organization")
        return user_create(
            actor=self.actor,
            username=data["username"],
            email=data["email"],
            password=data["password1"],
            role=data.get("role") or Role.USER,
            organization_id=organization.pk if organization else None,
            flags={name: data[name] for name in CAPABILITY_FLAGS if name in data},
        )


def _changes(form: forms.ModelForm) -> dict[str, Any]:
    """The changed fields, named as `user_update` names them."""
    data: dict[str, Any] = {}
    for name in form.changed_data:
        value = form.cleaned_data[name]
        if name == "organization":
            name, value = "organization_id", value.pk if value else None
        data[name] = value
    return data


class UserChangeForm(ServiceForm, DjangoUserChangeForm):
    """Saves through `user_update`: its field rules, audit entry and session revocation apply."""

    error_fields = {"organization_id": "organization"}

    class Meta(DjangoUserChangeForm.Meta):
        model = User
        fields = "__all__"

    def run_service(self) -> User:
        data = {name: value for name, value in _changes(self).items() if name != "password"}
        return user_update(actor=self.actor, user=User.objects.get(pk=self.instance.pk), data=data)


class UserFlagsForm(ServiceForm, forms.ModelForm):
    """A row of the user list: the capability flags, editable only where the policy allows."""

    class Meta:
        model = User
        fields = list(CAPABILITY_FLAGS)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if not can(self.actor, Action.USER_SET_FLAGS, self.instance):
            for field in self.fields.values():
                field.disabled = True

    def run_service(self) -> User:
        return user_update(actor=self.actor, user=User.objects.get(pk=self.instance.pk), data=_changes(self))


class PasswordForm(ServiceForm, AdminPasswordChangeForm):
    """Django's admin password form, saving through `user_update` (which ends the user's sessions).
    Every account signs in with a password, so the form cannot switch password login off."""

    error_fields = {"password": "password2"}

    def __init__(self, user: User, *args: Any, **kwargs: Any) -> None:
        super().__init__(user, *args, **kwargs)
        self.fields.pop("usable_password", None)
        self.fields["password1"].required = self.fields["password2"].required = True

    def run_service(self) -> User:
        return user_update(actor=self.actor, user=self.user, data={"password": self.cleaned_data["password1"]})


class OwnPasswordChangeForm(ServiceForm, OwnPasswordForm):
    """The console header's "Change password" (old password first), saved by `user_update`."""

    error_fields = {"password": "new_password2"}

    def run_service(self) -> User:
        # The view then refreshes the session's hash from `self.user`: give it the new password's.
        self.user = user_update(actor=self.user, user=self.user, data={"password": self.cleaned_data["new_password1"]})
        return self.user
