"""The user model (role, capability flags, organization) and login sessions."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

from django.conf import settings
from django.contrib.auth.base_user import AbstractBaseUser, BaseUserManager
from django.contrib.auth.validators import UnicodeUsernameValidator
from django.db import models
from django.utils.crypto import salted_hmac

SESSION_HASH_SALT = "pkiserver.accounts.User.session_auth_hash"


class Role(models.TextChoices):
    SUPERUSER = "superuser", "Superuser"
    ADMIN = "admin", "Admin"
    USER = "user", "User"


CAPABILITY_FLAGS = (
    "can_create_ca",
    "can_create_cert",
    "can_revoke_cert",
    "can_export_private_key",
    "can_delete_ca",
)


class UserQuerySet(models.QuerySet["User"]):
    def active_superusers(self) -> UserQuerySet:
        return self.filter(role=Role.SUPERUSER, is_active=True)


class UserManager(BaseUserManager.from_queryset(UserQuerySet)):  # type: ignore[misc]
    use_in_migrations = True

    def create_user(self, username: str, email: str, password: str | None = None, **fields: object) -> User:
        user = self.model(username=username, email=self.normalize_email(email), **fields)
        user.set_password(password)
        user.save(using=self._db)
        return user

    def create_superuser(self, username: str, email: str, password: str | None = None, **fields: object) -> User:
        fields["role"] = Role.SUPERUSER
        return self.create_user(username, email, password, **fields)


class User(AbstractBaseUser):
    username = models.CharField(max_length=150, unique=True, validators=[UnicodeUsernameValidator()])
    email = models.EmailField(unique=True)
    role = models.CharField(max_length=16, choices=Role.choices, default=Role.USER)
    is_active = models.BooleanField(default=True)
    organization = models.ForeignKey(
        "orgs.Organization", null=True, blank=True, on_delete=models.PROTECT, related_name="users"
    )
    can_create_ca = models.BooleanField(default=False)
    can_create_cert = models.BooleanField(default=False)
    can_revoke_cert = models.BooleanField(default=False)
    can_export_private_key = models.BooleanField(default=False)
    can_delete_ca = models.BooleanField(default=False)
    # Part of the console's session hash: raising it ends every console session of the user for
    # good (re-activation or the old password coming back does not revive them).
    session_epoch = models.PositiveIntegerField(default=0, editable=False)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    objects = UserManager()

    USERNAME_FIELD = "username"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["email"]

    is_service_account = False
    # The login session of the request's bearer token, set by accounts.authentication (not a column).
    auth_session_sid: uuid.UUID

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.username

    def get_session_auth_hash(self) -> str:
        return self._session_hash(settings.SECRET_KEY)

    def get_session_auth_fallback_hash(self) -> Iterator[str]:
        for secret in settings.SECRET_KEY_FALLBACKS:
            yield self._session_hash(secret)

    def _session_hash(self, secret: str | bytes) -> str:
        return salted_hmac(
            SESSION_HASH_SALT, f"{self.password}:{self.session_epoch}", secret=secret, algorithm="sha256"
        ).hexdigest()

    @property
    def is_superuser(self) -> bool:
        return self.role == Role.SUPERUSER

    @property
    def is_staff(self) -> bool:
        """Whether the Django admin lets this user in: the policy decides."""
        from accounts.policy import Action, can

        return can(self, Action.ADMIN_CONSOLE)

    # The admin console's pages ask the policy module (pkiserver/admin.py), not permission
    # strings: those grant everything to superusers and nothing to anyone else (fail closed).
    def has_perm(self, perm: str, obj: object = None) -> bool:
        return self.is_active and self.is_superuser

    def has_perms(self, perm_list: object, obj: object = None) -> bool:
        return self.is_active and self.is_superuser

    def has_module_perms(self, app_label: str) -> bool:
        return self.is_active and self.is_staff


class SystemState(models.Model):
    """A single row, inserted by whoever creates the first user, so that only one can."""

    id = models.PositiveSmallIntegerField(primary_key=True, default=1)
    bootstrapped_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"bootstrapped at {self.bootstrapped_at}"


class AuthSession(models.Model):
    """One login: its refresh-token family. Access tokens name it in their `sid` claim."""

    sid = models.UUIDField(default=uuid.uuid4, unique=True, editable=False)
    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="auth_sessions")
    # SHA-256 of the jti of the one refresh token of this family that may still be used.
    refresh_jti_hash = models.CharField(max_length=64)
    refresh_expires_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)
    rotated_at = models.DateTimeField(null=True, blank=True)
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_reason = models.CharField(max_length=32, blank=True, default="")

    class Meta:
        indexes = [models.Index(fields=["user", "revoked_at"])]

    def __str__(self) -> str:
        return f"session {self.sid} of {self.user_id}"
