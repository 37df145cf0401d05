"""FastPKI's published CLI (`pip install fastpki`) drives a live pkiserver unchanged (SPEC preamble)."""

from __future__ import annotations

import re
import subprocess

import pytest

from tests.conftest import Cli

pytestmark = pytest.mark.live

ADMIN_PASSWORD = "quiet-harbour-compass"
ALICE_PASSWORD = "alicepassword"


@pytest.fixture
def admin_cli(fastpki_exe, tmp_path) -> Cli:
    return Cli(fastpki_exe, tmp_path / "admin-config")


@pytest.fixture
def alice_cli(fastpki_exe, tmp_path) -> Cli:
    return Cli(fastpki_exe, tmp_path / "alice-config")


def bootstrap(server, username: str) -> subprocess.CompletedProcess[str]:
    return server.manage(
        "bootstrap",
        "--username",
        username,
        "--email",
        f"{username}@example.com",
        PKI_BOOTSTRAP_PASSWORD=ADMIN_PASSWORD,
    )


def test_fastpki_cli_against_a_live_server(live_pkiserver, admin_cli, alice_cli):
    # The first superuser, from the server's console; re-running it changes nothing.
    done = bootstrap(live_pkiserver, "admin")
    assert done.returncode == 0, done.stderr
    assert "Created superuser 'admin' (id 1)" in done.stdout
    again = bootstrap(live_pkiserver, "admin")
    assert (again.returncode, again.stdout.strip()) == (0, "Superuser 'admin' already exists; nothing to do.")
    refused = bootstrap(live_pkiserver, "intruder")
    assert refused.returncode == 1
    assert "1 user(s) already exist" in refused.stderr

    cli = admin_cli
    assert "Not authenticated." in cli.ok("auth", "status")
    cli.ok("config", "set", "server.url", live_pkiserver.url)
    assert cli.ok("config", "get", "server.url").strip() == live_pkiserver.url

    assert "Error 401: Incorrect username or password" in cli.fails(
        "auth", "login", "-u", "admin", "-p", "wrong-password"
    )
    assert f"Logged in as admin at {live_pkiserver.url}" in cli.ok("auth", "login", "-u", "admin", "-p", ADMIN_PASSWORD)
    status = cli.ok("auth", "status")
    assert re.search(r"User:\s+admin\b", status)
    assert re.search(r"Role:\s+superuser\b", status)
    assert "Token is valid." in status

    acme = cli.json("org", "create", "--name", "Acme", "--description", "Acme Corp")
    assert (acme["name"], acme["description"]) == ("Acme", "Acme Corp")
    globex = cli.json("org", "create", "--name", "Globex")
    assert [(o["id"], o["name"]) for o in cli.json("org", "list")] == [(acme["id"], "Acme"), (globex["id"], "Globex")]
    assert "Acme Corp" in cli.ok("org", "list")  # the default table output renders too

    alice = cli.json(
        "user",
        "create",
        *("-u", "alice", "-e", "alice@example.com", "-p", ALICE_PASSWORD),
        *("--org", str(acme["id"]), "--can-create-cert"),
    )
    assert (alice["username"], alice["role"], alice["organization_id"]) == ("alice", "user", acme["id"])
    assert (alice["can_create_cert"], alice["can_revoke_cert"], alice["can_create_ca"]) == (True, False, False)
    assert "password" not in alice
    alice_id = str(alice["id"])

    assert [(u["username"], u["role"]) for u in cli.json("user", "list")] == [("admin", "superuser"), ("alice", "user")]
    me = cli.json("user", "me")
    assert (me["id"], me["username"], me["role"]) == (1, "admin", "superuser")
    assert cli.json("user", "show", alice_id) == alice

    updated = cli.json("user", "update", alice_id, "--can-revoke-cert")
    assert (updated["can_create_cert"], updated["can_revoke_cert"]) == (True, True)

    # Alice logs in with her own configuration and sees herself with her new flag.
    alice_cli.ok("auth", "login", "-u", "alice", "-p", ALICE_PASSWORD, "--server", live_pkiserver.url)
    alice_me = alice_cli.json("user", "me")
    assert (alice_me["username"], alice_me["organization_id"], alice_me["can_revoke_cert"]) == (
        "alice",
        acme["id"],
        True,
    )
    assert "Error 403" in alice_cli.fails("user", "list")

    # Membership: move alice to Globex, then take her out.
    assert f"User alice added to organization #{globex['id']}." in cli.ok(
        "org", "add-user", str(globex["id"]), alice_id
    )
    assert [u["username"] for u in cli.json("org", "users", str(globex["id"]))] == ["alice"]
    assert cli.json("org", "users", str(acme["id"])) == []
    assert f"User alice removed from organization #{globex['id']}." in cli.ok(
        "org", "remove-user", str(globex["id"]), alice_id
    )
    assert cli.json("user", "show", alice_id)["organization_id"] is None

    assert f"User #{alice_id} deleted." in cli.ok("user", "delete", alice_id, "--force")
    assert "Error 404" in cli.fails("user", "show", alice_id)

    entries = cli.json("audit", "list")
    assert entries[0]["action"] == "user_delete"
    assert (entries[0]["username"], entries[0]["resource_id"]) == ("admin", int(alice_id))
    assert {
        "user_create",
        "login_failure",
        "login_success",
        "org_create",
        "user_update",
        "org_add_user",
        "org_remove_user",
        "user_delete",
    } <= {entry["action"] for entry in entries}
    failures = cli.json("audit", "list", "--action", "login_failure")
    assert [(e["username"], e["action"]) for e in failures] == [("admin", "login_failure")]

    cli.ok("auth", "logout")
    assert "Not authenticated" in cli.fails("user", "me")
