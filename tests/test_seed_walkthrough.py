"""The customer's Users API page (seed/users-api.txt), run verbatim with curl against a live server."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

pytestmark = pytest.mark.live

SEED_HOST = "http://localhost:8000"
PYTHON_DIR = str(Path(sys.executable).parent)  # so that `python -m json.tool` is ours

# The page's commands, as printed (only the host is swapped for the live server's).
BOOTSTRAP = """curl -s -X POST http://localhost:8000/api/v1/users/ \\
-H "Content-Type: application/json" \\
-d '{
"username": "admin",
"email": "admin@example.com",
"password": "securepassword",
"role": "superuser"
}' | python -m json.tool"""

CREATE_ALICE = """curl -s -X POST http://localhost:8000/api/v1/users/ \\
-H "Authorization: Bearer $TOKEN" \\
-H "Content-Type: application/json" \\
-d '{
"username": "alice",
"email": "alice@example.com",
"password": "alicepassword",
"role": "user",
"organization_id": 1,
"can_create_cert": true,
"can_revoke_cert": true
}' | python -m json.tool"""

LIST_USERS = """curl -s http://localhost:8000/api/v1/users/ \\
-H "Authorization: Bearer $TOKEN" | python -m json.tool"""

ME = """curl -s http://localhost:8000/api/v1/users/me \\
-H "Authorization: Bearer $TOKEN" | python -m json.tool"""

GET_2 = """curl -s http://localhost:8000/api/v1/users/2 \\
-H "Authorization: Bearer $TOKEN" | python -m json.tool"""

PATCH_2 = """curl -s -X PATCH http://localhost:8000/api/v1/users/2 \\
-H "Authorization: Bearer $TOKEN" \\
-H "Content-Type: application/json" \\
-d '{
"can_create_cert": true,
"can_export_private_key": true
}' | python -m json.tool"""

# Not on the page, written the same way (and shown in the README).
LOGIN = """curl -s -X POST http://localhost:8000/api/v1/auth/token \\
-d username=admin -d password=securepassword | python -m json.tool"""

CREATE_ORG = """curl -s -X POST http://localhost:8000/api/v1/organizations/ \\
-H "Authorization: Bearer $TOKEN" \\
-H "Content-Type: application/json" \\
-d '{"name": "Acme", "description": "Acme Corp"}' | python -m json.tool"""

DELETE_2 = """curl -s -o /dev/null -w '%{http_code}' -X DELETE http://localhost:8000/api/v1/users/2 \\
-H "Authorization: Bearer $TOKEN\""""

GET_2_STATUS = """curl -s -o /dev/null -w '%{http_code}' http://localhost:8000/api/v1/users/2 \\
-H "Authorization: Bearer $TOKEN\""""

FLAGS = (
    "can_create_ca",
    "can_create_cert",
    "can_revoke_cert",
    "can_export_private_key",
    "can_delete_ca",
)


@pytest.fixture
def shell(live_pkiserver):
    def run(command: str, token: str = "") -> str:
        done = subprocess.run(
            ["bash", "-c", f"set -o pipefail\n{command}"],
            env={
                **os.environ,
                "PATH": f"{PYTHON_DIR}:{os.environ['PATH']}",
                "TOKEN": token,
            },
            input="",
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, f"{command}\n{done.stdout}\n{done.stderr}"
        return done.stdout

    def as_json(command: str, token: str = "") -> Any:
        return json.loads(run(command.replace(SEED_HOST, live_pkiserver.url), token))

    run.json = as_json  # type: ignore[attr-defined]
    run.url = live_pkiserver.url  # type: ignore[attr-defined]
    return run


def test_users_page_walkthrough(shell):
    admin = shell.json(BOOTSTRAP)
    assert {k: admin[k] for k in ("id", "username", "email", "role", "is_active")} == {
        "id": 1,
        "username": "admin",
        "email": "admin@example.com",
        "role": "superuser",
        "is_active": True,
    }
    assert "password" not in admin

    # Only the very first user may bootstrap itself into a superuser.
    assert shell.json(BOOTSTRAP.replace('"admin', '"mallory')) == {
        "detail": "Only a superuser can create admin or superuser accounts",
        "code": "permission_denied",
    }

    tokens = shell.json(LOGIN)
    assert tokens["token_type"] == "bearer"
    token = tokens["access_token"]

    org = shell.json(CREATE_ORG, token)
    assert (org["id"], org["name"], org["description"]) == (1, "Acme", "Acme Corp")

    alice = shell.json(CREATE_ALICE, token)
    assert alice["id"] == 2
    assert (alice["username"], alice["email"], alice["role"]) == (
        "alice",
        "alice@example.com",
        "user",
    )
    assert alice["organization_id"] == 1
    assert {flag: alice[flag] for flag in FLAGS} == {
        "can_create_ca": False,
        "can_create_cert": True,
        "can_revoke_cert": True,
        "can_export_private_key": False,
        "can_delete_ca": False,
    }
    assert "password" not in alice

    listed = shell.json(LIST_USERS, token)
    assert [(u["id"], u["username"]) for u in listed] == [(1, "admin"), (2, "alice")]

    assert shell.json(ME, token)["username"] == "admin"
    assert shell.json(GET_2, token) == alice

    patched = shell.json(PATCH_2, token)
    assert {flag: patched[flag] for flag in FLAGS} == {
        "can_create_ca": False,
        "can_create_cert": True,
        "can_revoke_cert": True,
        "can_export_private_key": True,
        "can_delete_ca": False,
    }

    assert shell(DELETE_2.replace(SEED_HOST, shell.url), token) == "204"
    assert shell(GET_2_STATUS.replace(SEED_HOST, shell.url), token) == "404"


def test_a_command_run_before_login_gets_a_readable_401(shell):
    """With `$TOKEN` unset curl sends a bare `Bearer`: the answer says what is wrong."""
    assert shell.json(LIST_USERS) == {
        "detail": "Authorization header must contain two space-delimited values",
        "code": "bad_authorization_header",
    }
