"""ASGI entry point."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pkiserver.settings")
application = get_asgi_application()

from pkiserver.startup import on_start  # noqa: E402  (needs Django set up)

on_start()
