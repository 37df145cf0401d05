"""The API's content negotiation: JSON for any Accept that allows it, 406 for one that does not."""

from __future__ import annotations

import pytest

ME = "/api/v1/users/me"


@pytest.mark.parametrize(
    "accept",
    [
        None,
        "*/*",
        "application/json",
        "application/*",
        "text/html, application/json;q=0.5",
        "application/json; indent=2",
    ],
)
def test_json_for_any_accept_that_allows_it(client_for, admin_a, accept):
    client = client_for(admin_a)
    headers = {} if accept is None else {"HTTP_ACCEPT": accept}

    response = client.get(ME, **headers)

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/json")
    assert response.json()["username"] == admin_a.username


@pytest.mark.parametrize("accept", ["text/html", "application/xml", "image/png"])
def test_an_accept_without_json_is_refused(client_for, admin_a, accept):
    response = client_for(admin_a).get(ME, HTTP_ACCEPT=accept)

    assert response.status_code == 406
    assert "detail" in response.json()


def test_an_unknown_format_override_is_refused(client_for, admin_a):
    assert client_for(admin_a).get(f"{ME}?format=xml").status_code == 404
