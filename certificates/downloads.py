"""File downloads of PEM, key and PKCS#12 bodies, shared by the API and the admin console."""

from __future__ import annotations

from django.http import HttpResponse


def pem_download(content: str | bytes, filename: str, content_type: str = "application/x-pem-file") -> HttpResponse:
    """An attachment named `filename` that no cache keeps (it may hold a private key)."""
    response = HttpResponse(content, content_type=content_type)
    response["Content-Disposition"] = f'attachment; filename="{filename}"'
    response["Cache-Control"] = "no-store"
    return response
