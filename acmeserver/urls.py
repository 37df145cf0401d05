"""`/acme/{slug}/…`, included by pkiserver/urls.py."""

from __future__ import annotations

from django.urls import path

from acmeserver import views

urlpatterns = [
    path("directory", views.directory, name="acme-directory"),
    path("new-nonce", views.new_nonce, name="acme-new-nonce"),
    path("new-account", views.new_account, name="acme-new-account"),
    path("account/<int:pk>", views.account, name="acme-account"),
    path("key-change", views.key_change, name="acme-key-change"),
    path("revoke-cert", views.revoke_cert, name="acme-revoke-cert"),
]
