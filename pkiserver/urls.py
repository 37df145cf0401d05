"""URL map: the REST API under /api/v1, its schema and docs, the admin console."""

from __future__ import annotations

from django.contrib import admin
from django.urls import include, path, re_path
from drf_spectacular.views import SpectacularJSONAPIView, SpectacularRedocView, SpectacularSwaggerView

from accounts.api.views import InvalidateView, LogoutView, RefreshView, TokenView, UserViewSet
from audit.api.views import AuditLogViewSet
from certificates import public_views
from certificates.api.views import CAExportViewSet, CAViewSet, CertificateExportViewSet, CertificateViewSet
from orgs.api.views import OrganizationViewSet
from pkiserver import health
from pkiserver.api.errors import json_error_view
from pkiserver.api.routers import OptionalSlashRouter
from pkiserver.middleware import CONSOLE_PREFIX
from serviceaccounts.api.views import ServiceAccountViewSet

router = OptionalSlashRouter()
router.register("users", UserViewSet, basename="user")
router.register("organizations", OrganizationViewSet, basename="organization")
router.register("audit-logs", AuditLogViewSet, basename="audit-log")
router.register("cas", CAViewSet, basename="ca")
router.register("certificates", CertificateViewSet, basename="certificate")
router.register("export/ca", CAExportViewSet, basename="export-ca")
router.register("export/certificate", CertificateExportViewSet, basename="export-certificate")
router.register("service-accounts", ServiceAccountViewSet, basename="service-account")

api_v1 = [
    re_path(r"^auth/token/?$", TokenView.as_view(), name="auth-token"),
    re_path(r"^auth/refresh/?$", RefreshView.as_view(), name="auth-refresh"),
    re_path(r"^auth/logout/?$", LogoutView.as_view(), name="auth-logout"),
    re_path(r"^auth/invalidate/?$", InvalidateView.as_view(), name="auth-invalidate"),
    re_path(r"^openapi\.json$", SpectacularJSONAPIView.as_view(), name="openapi"),
    re_path(r"^docs/?$", SpectacularSwaggerView.as_view(url_name="openapi"), name="swagger-ui"),
    re_path(r"^redoc/?$", SpectacularRedocView.as_view(url_name="openapi"), name="redoc"),
    *router.urls,
]

SLUG = r"(?P<slug>[A-Za-z0-9_-]+)"
public = [
    re_path(rf"^crl/{SLUG}\.pem$", public_views.crl, {"pem": True}, name="crl-pem"),
    re_path(rf"^crl/{SLUG}(?:\.crl)?$", public_views.crl, name="crl-der"),
    re_path(rf"^ca/{SLUG}\.pem$", public_views.ca_certificate, {"pem": True}, name="ca-pem"),
    re_path(rf"^ca/{SLUG}\.crt$", public_views.ca_certificate, name="ca-der"),
    re_path(rf"^ocsp/{SLUG}/?$", public_views.ocsp, name="ocsp"),
    re_path(rf"^ocsp/{SLUG}/(?P<encoded>.+)$", public_views.ocsp, name="ocsp-get"),
    re_path(rf"^acme/{SLUG}/", include("acmeserver.urls")),
]

urlpatterns = [
    path("healthz", health.healthz, name="healthz"),
    path("readyz", health.readyz, name="readyz"),
    path("api/v1/", include(api_v1)),
    *public,
    path(CONSOLE_PREFIX.removeprefix("/"), admin.site.urls),
]

handler400 = json_error_view(400, "Bad request.", "bad_request")
handler403 = json_error_view(403, "Not enough permissions", "permission_denied")
handler404 = json_error_view(404, "Not found.", "not_found")
handler500 = json_error_view(500, "Internal server error.", "server_error")
