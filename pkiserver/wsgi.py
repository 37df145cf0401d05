"""WSGI entry point (gunicorn pkiserver.wsgi; runserver loads it too)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pkiserver.settings")
application = get_wsgi_application()

from pkiserver.startup import on_start  # noqa: E402  (needs Django set up)

on_start()
