"""WSGI entry point (gunicorn pkiserver.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "pkiserver.settings")
application = get_wsgi_application()
