"""`manage.py bootstrap`: create the first superuser without the API (SPEC §14)."""

from __future__ import annotations

import getpass
import os
import sys
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import models

from accounts.models import Role, User
from accounts.services import user_create
from pkiserver.errors import DomainError

PASSWORD_ENV = "PKI_BOOTSTRAP_PASSWORD"


class Command(BaseCommand):
    help = (
        "Create the first superuser. The password comes from --password, else from the "
        f"{PASSWORD_ENV} environment variable, else from a prompt. Does nothing when that "
        "superuser already exists; refuses when other users exist unless --force."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", required=True)
        parser.add_argument("--email", required=True)
        parser.add_argument(
            "--password",
            help=f"Visible to other local users in `ps`; prefer {PASSWORD_ENV}.",
        )
        parser.add_argument(
            "--force",
            action="store_true",
            help="Create the superuser even though other users already exist.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        username: str = options["username"]
        existing = User.objects.filter(username=username).first()
        if existing is not None and existing.role == Role.SUPERUSER:
            self.stdout.write(f"Superuser '{username}' already exists; nothing to do.")
            return
        if User.objects.exists() and not options["force"]:
            raise CommandError(
                f"{User.objects.count()} user(s) already exist, so this is not a first "
                f"start. Log in as a superuser to create '{username}', or pass --force "
                "to create this superuser anyway."
            )
        for name in ("username", "email"):
            if not options[name].strip():
                raise CommandError(f"Invalid {name}: it cannot be empty.")
            try:
                column = User._meta.get_field(name)
                assert isinstance(column, models.Field)  # username and email are columns, not relations
                column.run_validators(options[name])
            except ValidationError as exc:
                raise CommandError(f"Invalid {name}: {' '.join(exc.messages)}") from None
        password = self._password(options["password"])
        try:
            user = user_create(
                actor=None,
                username=username,
                email=options["email"],
                password=password,
                role=Role.SUPERUSER,
                console=options["force"],
            )
        except DomainError as exc:
            field = f"{exc.field}: " if exc.field else ""
            raise CommandError(f"Cannot create superuser: {field}{exc.detail}") from None
        self.stdout.write(self.style.SUCCESS(f"Created superuser '{user.username}' (id {user.pk})."))

    def _password(self, given: str | None) -> str:
        if given:
            return given
        from_env = os.environ.get(PASSWORD_ENV)
        if from_env:
            return from_env
        if not sys.stdin.isatty():
            raise CommandError(
                f"No password given and no terminal to ask for one: pass --password or set {PASSWORD_ENV}."
            )
        password = getpass.getpass("Password: ")
        if password != getpass.getpass("Password (again): "):
            raise CommandError("The two passwords do not match.")
        if not password:
            raise CommandError("The password cannot be empty.")
        return password
