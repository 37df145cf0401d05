"""The admin's CSS and JavaScript come from WhiteNoise after `collectstatic`, with DEBUG off (SPEC §14)."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from django.test import Client


@pytest.fixture
def collected(settings, tmp_path):
    settings.DEBUG = False
    settings.STATIC_ROOT = tmp_path / "static"
    call_command("collectstatic", interactive=False, verbosity=0)
    return settings.STATIC_ROOT


def test_collectstatic_gathers_the_admin_compressed(collected) -> None:
    css = collected / "admin" / "css" / "base.css"

    assert css.is_file()
    assert (collected / "admin" / "css" / "base.css.gz").is_file()  # CompressedStaticFilesStorage


@pytest.mark.parametrize(
    ("path", "content_type"),
    [("/static/admin/css/base.css", "text/css"), ("/static/admin/js/core.js", "text/javascript")],
)
def test_whitenoise_serves_the_admins_files_without_debug(collected, path: str, content_type: str) -> None:
    response = Client().get(path, headers={"accept-encoding": "gzip"})  # a new client: middleware built now

    assert response.status_code == 200
    assert response["Content-Type"].startswith(content_type)
    assert response["Content-Encoding"] == "gzip"
    body = b"".join(response.streaming_content)
    assert len(body) > 100


def test_a_missing_file_is_a_404(collected) -> None:
    assert Client().get("/static/admin/css/no-such-file.css").status_code == 404
